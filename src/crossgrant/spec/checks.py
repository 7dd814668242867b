"""Rules that span fields: the source's form, cross-account, mode and role, role chaining,
the access entries (`spec.entries`: levels or actions, the KMS key's owner, duplicates).
Checked on the validated models, each failure naming the field to change.
"""

from __future__ import annotations

from typing import Any

from crossgrant.iam.facts import CHAINED_SESSION_MAX_SECONDS
from crossgrant.spec import model
from crossgrant.spec.entries import partition_of, s3_entries, table_entries
from crossgrant.spec.schema import GrantIn
from crossgrant.spec.source import Document, Loc
from crossgrant.spec.sources import source_accounts

__all__ = ["build_grant"]

_MAX_TAGS = 50


def build_grant(doc: Document, checked: GrantIn) -> model.Grant:
    """The `Grant` the validated model declares, once every cross-field rule holds."""
    return _Checker(doc, checked).grant()


class _Checker:
    """Rules that need more than one field; each failure names the field to change."""

    def __init__(self, doc: Document, checked: GrantIn) -> None:
        self.doc = doc
        self.m = checked

    def grant(self) -> model.Grant:
        m = self.m
        mode = model.Mode(m.mode)
        declared = source_accounts(self.doc, m)
        self._partitions()
        role = self._role(mode)
        s3 = s3_entries(self.doc, (m.target.account, m.target.region), m.access.s3)
        tables = table_entries(self.doc, m.access.dynamodb)
        if not s3 and not tables:
            self.doc.fail(("access",), "no access entries: list at least one bucket under "
                                       "access.s3 or table under access.dynamodb")
        if len(m.options.tags) > _MAX_TAGS:
            self.doc.fail(("options", "tags"),
                          f"{len(m.options.tags)} tags; AWS allows at most {_MAX_TAGS}")
        return model.Grant(
            name=m.name,
            source=self._source(declared),
            target=model.Target(account=m.target.account, region=m.target.region, **role),
            mode=mode,
            s3=s3,
            dynamodb=tables,
            options=model.Options(tls_only=m.options.tls_only,
                                  organization_id=m.options.organization_id,
                                  trust_whole_account=m.options.trust_whole_account,
                                  tags=tuple(m.options.tags.items())),
            path=self.doc.path,
        )

    def _source(self, declared: tuple[str, ...] | model.OrgSource) -> model.Source:
        src = self.m.source
        if isinstance(declared, model.OrgSource):
            return model.Source.of_organization(
                declared.id, declared.units, src.region, src.function, self._execution_role(),
                target=self.m.target.account, existing_role=src.existing_role)
        return model.Source(declared[0], src.region, src.function, self._execution_role(),
                            src.existing_role, accounts=declared)

    def _partitions(self) -> None:
        src, dst = self.m.source, self.m.target
        for field_name, region in (("source", src.region), ("target", dst.region)):
            if partition_of(region) != "aws":
                self.doc.fail((field_name, "region"),
                              f"{region} is in partition {partition_of(region)}; crossgrant "
                              f"renders ARNs for the aws partition only so far")
        if partition_of(src.region) != partition_of(dst.region):
            self.doc.fail(("target", "region"),
                          f"{dst.region} is in partition {partition_of(dst.region)} but "
                          f"source.region {src.region} is in {partition_of(src.region)}; "
                          f"access cannot cross partitions")

    def _execution_role(self) -> str:
        src = self.m.source
        if src.execution_role is not None:
            return src.execution_role
        default = f"{src.function}-exec"
        if len(default) > 64:
            self.doc.fail(("source", "function"),
                          f"the default execution_role {default!r} is longer than 64 "
                          f"characters; set source.execution_role")
        return default

    def _role(self, mode: model.Mode) -> dict[str, Any]:
        role = self.m.role
        if mode is model.Mode.RESOURCE_POLICY:
            if role is not None:
                self.doc.fail(("role",), "resource-policy mode assumes no role: remove "
                                         "'role' (or set mode: assume-role)")
            return {}
        if role is None or role.name is None:
            loc: Loc = ("role", "name") if role is not None else ("role",)
            self.doc.fail(loc, f"assume-role mode needs role.name, the role to create in "
                               f"the target account (e.g. {self.m.name}-target)",
                          line_of=loc if role is not None else ("mode",))
        out: dict[str, Any] = {"role_name": role.name, "external_id": role.external_id}
        cap = CHAINED_SESSION_MAX_SECONDS
        if role.session_duration is not None:
            if role.session_duration > cap:
                self.doc.fail(("role", "session_duration"),
                              f"{role.session_duration} exceeds {cap}: a Lambda "
                              f"function already runs as a role session, so assuming the "
                              f"target role is role chaining, which AWS caps at one hour")
            out["session_duration"] = role.session_duration
        return out

"""Rules that span fields: cross-account, mode and role, role chaining, the KMS key's owner,
duplicates. Checked on the validated models, each failure naming the field to change.
"""

from __future__ import annotations

import re
from typing import Any

from crossgrant.errors import ArnError
from crossgrant.iam.arn import key_arn, parse_arn
from crossgrant.iam.facts import CHAINED_SESSION_MAX_SECONDS
from crossgrant.spec import model
from crossgrant.spec.schema import GrantIn, S3In, TableIn
from crossgrant.spec.source import Document, Loc, format_loc, short

__all__ = ["build_grant"]

_MAX_TAGS = 50


def build_grant(doc: Document, checked: GrantIn) -> model.Grant:
    """The `Grant` the validated model declares, once every cross-field rule holds."""
    return _Checker(doc, checked).grant()

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY_ID = re.compile(rf"{_UUID}|mrk-[0-9a-f]{{32}}")


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if "-gov-" in region:
        return "aws-us-gov"
    iso = re.match(r"[a-z]{2}-(iso[a-z]?)-", region)
    if iso:
        return {"iso": "aws-iso", "isob": "aws-iso-b", "isoe": "aws-iso-e",
                "isof": "aws-iso-f"}.get(iso.group(1), "aws-" + iso.group(1))
    return "aws"


class _Checker:
    """Rules that need more than one field; each failure names the field to change."""

    def __init__(self, doc: Document, checked: GrantIn) -> None:
        self.doc = doc
        self.m = checked

    def grant(self) -> model.Grant:
        m = self.m
        mode = model.Mode(m.mode)
        self._accounts()
        role = self._role(mode)
        s3 = tuple(self._s3(i, entry) for i, entry in enumerate(m.access.s3))
        tables = tuple(self._table(i, entry) for i, entry in enumerate(m.access.dynamodb))
        if not s3 and not tables:
            self.doc.fail(("access",), "no access entries: list at least one bucket under "
                                       "access.s3 or table under access.dynamodb")
        self._duplicates("s3", "bucket", [e.bucket for e in s3])
        self._duplicates("dynamodb", "table", [e.table for e in tables])
        if len(m.options.tags) > _MAX_TAGS:
            self.doc.fail(("options", "tags"),
                          f"{len(m.options.tags)} tags; AWS allows at most {_MAX_TAGS}")
        return model.Grant(
            name=m.name,
            source=model.Source(account=m.source.account, region=m.source.region,
                                function=m.source.function,
                                execution_role=self._execution_role(),
                                existing_role=m.source.existing_role),
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

    def _accounts(self) -> None:
        src, dst = self.m.source, self.m.target
        if src.account == dst.account:
            self.doc.fail(("target", "account"),
                          f"same account as source.account ({src.account}): not "
                          f"cross-account; a same-account grant needs no crossgrant")
        for field_name, region in (("source", src.region), ("target", dst.region)):
            if _partition(region) != "aws":
                self.doc.fail((field_name, "region"),
                              f"{region} is in partition {_partition(region)}; crossgrant "
                              f"renders ARNs for the aws partition only so far")
        if _partition(src.region) != _partition(dst.region):
            self.doc.fail(("target", "region"),
                          f"{dst.region} is in partition {_partition(dst.region)} but "
                          f"source.region {src.region} is in {_partition(src.region)}; "
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

    def _s3(self, i: int, e: S3In) -> model.S3Access:
        loc: Loc = ("access", "s3", i)
        if not e.prefixes:
            self.doc.fail((*loc, "prefixes"), 'empty list; write [""] for the whole bucket '
                                              "or leave prefixes out")
        for j, prefix in enumerate(e.prefixes):
            for k, other in enumerate(e.prefixes[:j]):
                if prefix.startswith(other):
                    self.doc.fail((*loc, "prefixes", j),
                                  f"{prefix!r} is already covered by {other!r} "
                                  f"(prefixes[{k}])")
                if other.startswith(prefix):
                    self.doc.fail((*loc, "prefixes", j),
                                  f"{prefix!r} covers {other!r} (prefixes[{k}]); keep one")
        levels = self._levels(loc, e.levels)
        kms = self._kms(loc, e.kms_key) if e.kms_key is not None else None
        return model.S3Access(bucket=e.bucket, prefixes=tuple(e.prefixes),
                              levels=frozenset(model.S3Level(v) for v in levels),
                              kms_key_arn=kms)

    def _table(self, i: int, e: TableIn) -> model.TableAccess:
        loc: Loc = ("access", "dynamodb", i)
        levels = self._levels(loc, e.levels)
        for j, index in enumerate(e.indexes):
            if index in e.indexes[:j]:
                self.doc.fail((*loc, "indexes", j), f"index {index!r} is listed twice")
            if index == "*" and len(e.indexes) > 1:
                self.doc.fail((*loc, "indexes", j),
                              "'*' already means every index; list it alone")
        if e.indexes and model.TableLevel.READ.value not in levels:
            self.doc.fail((*loc, "indexes"),
                          "indexes can only be read (Query, Scan); add level 'read' or "
                          "remove indexes")
        return model.TableAccess(table=e.table,
                                 levels=frozenset(model.TableLevel(v) for v in levels),
                                 indexes=tuple(e.indexes), streams=e.streams)

    def _levels(self, loc: Loc, levels: list[str]) -> list[str]:
        if not levels:
            self.doc.fail((*loc, "levels"), "empty list; name at least one level")
        for j, level in enumerate(levels):
            if level in levels[:j]:
                self.doc.fail((*loc, "levels", j), f"level {level!r} is listed twice")
        return levels

    def _kms(self, loc: Loc, key: str) -> str:
        where = (*loc, "kms_key")
        region, account = self.m.target.region, self.m.target.account
        partition = _partition(region)
        shape = key_arn(region, account, "<key-id>", partition)
        if key.startswith("alias/aws/") or re.fullmatch(r"arn:[\w-]+:kms:[^:]*:[^:]*:alias/aws/.*",
                                                       key):
            self.doc.fail(where, f"{key!r} is an AWS managed key; AWS managed keys cannot be "
                                 f"shared cross-account (their key policy cannot be changed). "
                                 f"Encrypt the bucket with a customer managed key and give "
                                 f"its ARN ({shape})")
        if key.startswith("alias/") or ":alias/" in key:
            self.doc.fail(where, f"{key!r} is an alias; policies match the key itself, so "
                                 f"give the key ARN ({shape})")
        if _KEY_ID.fullmatch(key):
            full = key_arn(region, account, key, partition)
            self.doc.fail(where, f"give the full key ARN: {full}")
        try:
            arn = parse_arn(key)
        except ArnError:
            self.doc.fail(where, f"{short(key)} is not a KMS key ARN ({shape})")
        if arn.service != "kms" or not arn.resource.startswith("key/") \
                or not _KEY_ID.fullmatch(arn.resource.removeprefix("key/")):
            self.doc.fail(where, f"{short(key)} is not a KMS key ARN ({shape})")
        if arn.partition != partition:
            self.doc.fail(where, f"the key's partition {arn.partition!r} is not the target's "
                                 f"({partition})")
        if arn.account != account:
            self.doc.fail(where, f"the key is in account {arn.account!r}; it must be the "
                                 f"target account's key ({account}), the one the bucket uses")
        if arn.region != region:
            self.doc.fail(where, f"the key is in region {arn.region!r}; an SSE-KMS key is in "
                                 f"the bucket's region, target.region ({region})")
        return key

    def _duplicates(self, kind: str, what: str, names: list[str]) -> None:
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                first = ("access", kind, seen[name])
                self.doc.fail(("access", kind, i, what),
                              f"{what} {name!r} is already listed at {format_loc(first)} "
                              f"(line {self.doc.line_of(first)}); merge the two entries")
            seen[name] = i

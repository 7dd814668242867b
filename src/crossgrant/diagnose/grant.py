"""A diagnosis in grant.yaml terms: which entry, level, prefix or action to add.

When the failing request is one a crossgrant grant is about, the fix a diagnosis names (a
statement in the target role's inline policy, say) is in a document crossgrant itself
deploys, and the next `crossgrant deploy` puts back what the grant renders: the lasting
fix is a change to the grant. Given the grant (`diagnose --grant`), this says which one,
with the line to edit, and warns about every fix that edits a document crossgrant owns.

Reading only the grant and its rendered documents, it needs no state; the lines come from
the caller (the grant file's `spec.source.Document` lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossgrant.diagnose.messages import Form
from crossgrant.diagnose.model import Diagnosis, Fix, FixKind
from crossgrant.errors import CrossgrantError
from crossgrant.findings.lines import line_of
from crossgrant.iam import parse_principal
from crossgrant.iam.arn import Arn, parse_arn
from crossgrant.iam.facts import CHAINED_SESSION_MAX_SECONDS
from crossgrant.render.artifacts import Artifacts
from crossgrant.spec.levels import (
    INDEX_ACTIONS,
    KMS_ACTIONS,
    S3_BUCKET_ACTIONS,
    S3_OBJECT_ACTIONS,
    STREAM_ACTIONS,
    TABLE_ACTIONS,
)
from crossgrant.spec.model import Grant, S3Access, TableAccess

__all__ = ["GrantAdvice", "GrantChange", "Loc", "entry_of", "grant_advice"]

Loc = tuple[str | int, ...]
_TRUST_ACTIONS = ("sts:assumerole", "sts:setsourceidentity", "sts:tagsession")
_DURATION_FORMS = (Form.STS_CHAINED_DURATION, Form.STS_MAX_DURATION)


@dataclass(frozen=True)
class GrantChange:
    """One edit of the grant file: the field, its line (None: not in the file), what to do,
    and for a new entry the YAML to add."""

    field: str
    line: int | None
    summary: str
    yaml: str = ""


@dataclass(frozen=True)
class GrantAdvice:
    grant: str  # the grant file
    changes: tuple[GrantChange, ...] = ()
    notes: tuple[str, ...] = ()


def field_name(loc: Loc) -> str:
    """`("access", "s3", 0, "levels")` as grant.yaml readers write it: access.s3[0].levels."""
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def _arn(resource: str | None) -> Arn | None:
    try:
        return parse_arn(resource) if resource else None
    except CrossgrantError:
        return None


def _s3_entry(grant: Grant, bucket: str, key: str | None) -> int | None:
    found = [i for i, a in enumerate(grant.s3) if a.bucket == bucket]
    for i in found:
        if key is not None and any(key.startswith(p) for p in grant.s3[i].prefixes):
            return i
    return found[0] if found else None


def _table_entry(grant: Grant, table: str) -> int | None:
    return next((i for i, t in enumerate(grant.dynamodb) if t.table == table), None)


def entry_of(grant: Grant, resource: str) -> Loc | None:
    """The place in the grant file that declares access to `resource` (an ARN): an s3 or
    dynamodb entry, the key of an s3 entry, the target role, or the execution role."""
    arn = _arn(resource)
    if arn is None:
        return None
    if arn.service == "s3":
        bucket, _, key = arn.resource.partition("/")
        i = _s3_entry(grant, bucket, key)
        return None if i is None else ("access", "s3", i)
    if arn.service == "kms":
        i = next((i for i, a in enumerate(grant.s3) if a.kms_key_arn == resource), None)
        return None if i is None else ("access", "s3", i, "kms_key")
    if arn.service == "dynamodb" and arn.resource.startswith("table/"):
        j = _table_entry(grant, arn.resource.split("/")[1])
        return None if j is None else ("access", "dynamodb", j)
    if resource == grant.target_role_arn:
        return ("role",)
    if arn.service == "iam" and arn.resource.endswith("/" + grant.source.execution_role):
        return ("source", "execution_role")
    return None


class _Advisor:
    def __init__(self, artifacts: Artifacts, lines: Mapping[Loc, int]) -> None:
        self.artifacts = artifacts
        self.grant = artifacts.grant
        self.lines = lines
        self.changes: list[GrantChange] = []
        self.notes: list[str] = []

    def change(self, loc: Loc, summary: str, yaml: str = "") -> None:
        self.changes.append(GrantChange(field_name(loc), line_of(self.lines, loc),
                                        summary, yaml))

    def declared(self, loc: Loc, what: str) -> None:
        self.notes.append(f"{field_name(loc)} already declares {what}: deploy the grant again "
                          f"(`crossgrant plan {self.grant.path}` shows what differs in the "
                          f"accounts); if it is deployed, the cause above is outside the grant")

    # -- S3 ------------------------------------------------------------------------------

    def s3(self, action: str, arn: Arn) -> None:
        bucket, slash, key = arn.resource.partition("/")
        level = next((lv for lv, acts in (*S3_OBJECT_ACTIONS.items(),
                                           *S3_BUCKET_ACTIONS.items()) if action in acts), None)
        prefix = (key.rsplit("/", 1)[0] + "/" if "/" in key else "") if slash else ""
        i = _s3_entry(self.grant, bucket, key if slash else None)
        if i is None:
            levels = f"[{level.value}]" if level else "[]"
            self.change(("access", "s3"), f"add an entry for bucket {bucket} under access.s3",
                        f"- bucket: {bucket}\n  prefixes: [\"{prefix}\"]\n  levels: {levels}")
            return
        entry = self.grant.s3[i]
        loc: Loc = ("access", "s3", i)
        if level is None:
            self._exact(loc, entry, action)
            return
        covered = not slash or any(key.startswith(p) for p in entry.prefixes)
        if not covered:
            self.change((*loc, "prefixes"), f"add \"{prefix}\" to {field_name(loc)}.prefixes"
                        + ("" if prefix else " (the key is at the top of the bucket: \"\" is "
                                             "the whole bucket)"))
        if level not in entry.levels and not entry.actions:
            self.change((*loc, "levels"), f"add {level.value} to {field_name(loc)}.levels")
        elif entry.actions and action not in entry.actions:
            self.change((*loc, "actions"), f"add {action} to {field_name(loc)}.actions")
        elif covered:
            self.declared(loc, f"{action} on {arn.resource}")

    def _exact(self, loc: Loc, entry: S3Access | TableAccess, action: str) -> None:
        if entry.actions:
            self.change((*loc, "actions"), f"add {action} to {field_name(loc)}.actions")
            return
        self.change((*loc, "levels"), f"no access level grants {action}: replace "
                    f"{field_name(loc)}.levels with the exact actions the code calls "
                    f"(`actions: [..., {action}]`, docs/grants.md)")

    def kms(self, action: str, resource: str) -> None:
        level_of = [lv for lv, acts in KMS_ACTIONS.items() if action in acts]
        i = next((i for i, a in enumerate(self.grant.s3) if a.kms_key_arn == resource), None)
        if i is None:
            plain = [i for i, a in enumerate(self.grant.s3) if a.kms_key_arn is None]
            where = field_name(("access", "s3", plain[0])) if len(plain) == 1 \
                else "the access.s3 entry of the bucket encrypted with it"
            loc: Loc = ("access", "s3", plain[0]) if len(plain) == 1 else ("access", "s3")
            self.change((*loc, "kms_key") if len(plain) == 1 else loc,
                        f"set kms_key: {resource} on {where}")
            return
        entry = self.grant.s3[i]
        if level_of and not any(lv in entry.levels for lv in level_of):
            self.change(("access", "s3", i, "levels"), f"add {level_of[0].value} to "
                        f"{field_name(('access', 's3', i))}.levels ({action} comes with it)")
        else:
            self.declared(("access", "s3", i, "kms_key"), f"{action} on {resource}")

    # -- DynamoDB ------------------------------------------------------------------------

    def dynamodb(self, action: str, arn: Arn) -> None:
        parts = arn.resource.split("/")
        table = parts[1] if len(parts) > 1 else ""
        j = _table_entry(self.grant, table)
        level = next((lv for lv, acts in TABLE_ACTIONS.items() if action in acts), None)
        if j is None:
            self.change(("access", "dynamodb"), f"add an entry for table {table} under "
                        f"access.dynamodb", f"- table: {table}\n  levels: "
                        f"[{level.value if level else ''}]")
            return
        entry = self.grant.dynamodb[j]
        loc: Loc = ("access", "dynamodb", j)
        sub = parts[2] if len(parts) > 3 else ""
        if sub == "index" and action in INDEX_ACTIONS and parts[3] not in entry.indexes \
                and "*" not in entry.indexes:
            self.change((*loc, "indexes"), f"add {parts[3]} to {field_name(loc)}.indexes")
            return
        if sub == "stream" and action in STREAM_ACTIONS:
            if not entry.streams:
                self.change((*loc, "streams"), f"set streams: true on {field_name(loc)}")
            else:
                self.declared(loc, f"{action} on the table's stream")
            return
        if level is None:
            self._exact(loc, entry, action)
        elif entry.actions and action not in entry.actions:
            self.change((*loc, "actions"), f"add {action} to {field_name(loc)}.actions")
        elif level not in entry.levels and not entry.actions:
            self.change((*loc, "levels"), f"add {level.value} to {field_name(loc)}.levels")
        else:
            self.declared(loc, f"{action} on {table}")

    # -- the target role -----------------------------------------------------------------

    def assume(self, form: Form, caller_role: str | None) -> None:
        g = self.grant
        if form in _DURATION_FORMS:
            asked = g.target.session_duration
            self.change(("role", "session_duration"),
                        f"keep role.session_duration at most {CHAINED_SESSION_MAX_SECONDS} "
                        f"(it is {asked}): the function's session assuming the target role "
                        f"is role chaining, capped at one hour by STS")
            return
        if caller_role is not None and caller_role not in g.execution_role_arns:
            self.notes.append(f"the target role trusts the function's execution role only "
                              f"({', '.join(g.execution_role_arns)}); {caller_role} is "
                              f"another role: call from the function, or set "
                              f"source.execution_role if the function's role changed")
            return
        self.declared(("role",), "this AssumeRole (trust policy and the execution role's "
                                 "sts:AssumeRole)")

    # -- documents crossgrant owns -------------------------------------------------------

    def owned(self, fix: Fix) -> str | None:
        """The label of the crossgrant-owned document `fix` edits, if it edits one."""
        ref = fix.document
        if ref is None or fix.kind in (FixKind.ADVICE, FixKind.CHANGE_REQUEST):
            return None
        if ref.kind == "message":  # a fix from the message alone names the role in words
            hit = any(f"{role.arn} " in f"{ref.label} " for role in self.artifacts.roles)
            return ref.label if hit else None
        for role in self.artifacts.roles:
            same = ref.account == role.account and ref.name == role.name
            if same and ref.kind == "inline" and ref.policy_name in dict(role.inline_policies):
                return ref.label
            if same and ref.kind in ("trust", "role") and role.create:
                return ref.label
        old: Any = (fix.old_statement or {}).get("Sid")
        if ref.kind in ("bucket", "table", "stream", "key") and self.artifacts.owns(old):
            return ref.label
        return None


def _caller_role(principal: str | None) -> str | None:
    if not principal:
        return None
    try:
        return parse_principal(principal).role_arn
    except CrossgrantError:
        return None


def grant_advice(d: Diagnosis, artifacts: Artifacts, lines: Mapping[Loc, int], *,
                 principal: str | None = None, resource: str | None = None) -> GrantAdvice:
    """What to change in the grant for the request `d` diagnosed, with a warning for each
    fix of `d` that edits a document the grant's deploy owns; `principal` and `resource`
    fill in what the message leaves out (as `diagnose` takes them)."""
    a = _Advisor(artifacts, lines)
    m = d.message
    principal = d.request.principal if d.request else (principal or m.principal)
    action = d.request.action if d.request else m.action
    resource = d.request.resource if d.request else (resource or m.resource)
    caller = _caller_role(principal)
    g = artifacts.grant
    ours = {*g.execution_role_arns, *((g.target_role_arn,) if g.target_role_arn else ())}
    arn = _arn(resource)
    if action is None:
        a.notes.append("the message names no action: nothing in the grant to change")
    elif action.lower() in _TRUST_ACTIONS and resource == g.target_role_arn:
        a.assume(m.form, caller)
    elif caller is not None and caller not in ours:
        a.notes.append(f"the caller {principal} is neither the function's execution role nor "
                       f"the grant's target role: no change to {g.path} lets it in")
    elif arn is not None and arn.service == "s3":
        a.s3(action, arn)
    elif arn is not None and arn.service == "kms" and resource is not None:
        a.kms(action, resource)
    elif arn is not None and arn.service == "dynamodb":
        a.dynamodb(action, arn)
    else:
        a.notes.append(f"{action} on {resource or 'that resource'} is nothing a grant "
                       f"declares (buckets, tables, their keys, the target role)")
    for fix in d.fixes:
        label = a.owned(fix)
        if label is not None:
            a.notes.append(f"the fix above edits {label}, which `crossgrant deploy` of "
                           f"{g.path} writes: a hand edit there is reverted by the next "
                           f"deploy; change the grant instead")
    return GrantAdvice(g.path, tuple(a.changes), tuple(dict.fromkeys(a.notes)))

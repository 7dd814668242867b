"""Resource rules: actions paired with resources they cannot act on (CG102, CG114, CG115),
`Resource "*"` where ARNs could be named (CG104), and ARNs that can match nothing (CG116).

IAM silently skips an action on a resource of a type the action does not take, so such a
statement reads as granting more than it does; the resource types and their ARN patterns
come from the catalog (`arns`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from crossgrant.findings import Severity
from crossgrant.iam.actions import NO_RESOURCE_TYPE, ActionInfo
from crossgrant.iam.arn import bucket_arn, object_arn
from crossgrant.verify.lint.arns import (
    account_ok,
    action_infos,
    applies,
    arn_fields,
    classify,
    describe,
    example_arn,
    partition_ok,
    plainest_type,
    region_ok,
    resource_types_text,
)
from crossgrant.verify.lint.document import Document, Stmt
from crossgrant.verify.lint.registry import Hit, statement_rule, value_rule


@dataclass(slots=True)
class Pairing:
    """Which of a statement's actions apply to which of its resources."""

    actions: list[tuple[str, str, tuple[ActionInfo, ...]]]  # known actions only
    resources: list[tuple[str, str]]
    matrix: list[list[bool]]
    complete: bool  # every action is known, so a resource no action uses is truly dead


PairingCheck = Callable[[Stmt, Pairing], Iterable[Hit]]


def pairing(st: Stmt) -> Pairing | None:
    """The statement's action x resource matrix, computed once per statement."""
    if st.paired:
        return st.pairing
    st.paired = True
    if not st.has("Action") or not st.has("Resource"):
        return None
    actions = []
    complete = True
    for value, path in st.values("Action"):
        infos = action_infos(value)
        if infos:
            actions.append((value, path, infos))
        else:
            complete = False
    resources = st.values("Resource")
    matrix = [[any(applies(i, r) for i in infos) for r, _ in resources]
              for _, _, infos in actions]
    st.pairing = Pairing(actions, resources, matrix, complete)
    return st.pairing


def _suggest_resource(infos: Sequence[ActionInfo], resources: Sequence[str]) -> str:
    """An ARN the action would apply to, derived from the statement's own ARNs if possible."""
    types = resource_types_text(infos)
    service = infos[0].service
    if service == "s3":
        for r in resources:
            m = re.fullmatch(r"arn:([^:]+):s3:::([^/]+)(/.*)?", r)
            if not m:
                continue
            partition, bucket, key = m.groups()
            if "bucket" in types and key:
                return bucket_arn(bucket, partition)
            if "object" in types and not key:
                return object_arn(bucket, "*", partition)
    if service == "dynamodb":
        for r in resources:
            m = re.fullmatch(r"(arn:[^:]+:dynamodb:[^:]*:[^:]*:table/[^/]+)(/.*)?", r)
            if m and "table" in types and m.group(2):
                return m.group(1)
            if m and "index" in types and not m.group(2):
                return f"{m.group(1)}/index/*"
    typed = next((i for i in infos if resource_types_text([i])), None)
    return example_arn(typed.service, plainest_type(typed)) if typed else "*"


def _pairing_rule(code: str, name: str, severity: Severity, summary: str, *,
                  complete: bool = False) -> Callable[[PairingCheck], PairingCheck]:
    """Register a check of a statement's action x resource pairing (statements with both
    Action and Resource; with `complete`, only those whose every action is known)."""
    def register(fn: PairingCheck) -> PairingCheck:
        def check(doc: Document, st: Stmt) -> Iterator[Hit]:
            paired = pairing(st)
            if paired is not None and (paired.complete or not complete):
                yield from fn(st, paired)
        statement_rule(code, name, severity, summary)(check)
        return fn
    return register


@_pairing_rule(
    "CG102", "action-resource-mismatch", Severity.ERROR,
    "An action none of whose resource types matches any Resource of its statement: the "
    "statement grants (or denies) it on nothing.")
def check_mismatch(st: Stmt, paired: Pairing) -> Iterator[Hit]:
    names = [r for r, _ in paired.resources]
    for (value, path, infos), row in zip(paired.actions, paired.matrix, strict=True):
        if any(row):
            continue
        types = resource_types_text(infos)
        if not types:
            yield st.hit(path, f"{value} does not support resource-level permissions: "
                               f"it matches only \"Resource\": \"*\", so this statement "
                               f"{st.verb} it on nothing",
                         f"move {value} to a statement with \"Resource\": \"*\"")
            continue
        listed = "; ".join(f"{r} is {describe(r)}" for r in names[:3])
        more = f"; and {len(names) - 3} more" if len(names) > 3 else ""
        yield st.hit(path, f"{value} applies to {' or '.join(types)} ARNs and none of "
                           f"this statement's resources is one ({listed}{more}): the "
                           f"statement {st.verb} it on nothing",
                     f"add {_suggest_resource(infos, names)} to Resource, or move {value} "
                     f"to a statement that names such an ARN")


@statement_rule(
    "CG104", "wildcard-resource", Severity.WARNING,
    'Resource "*" in an identity policy Allow for actions that support resource-level '
    "permissions.", kinds=("identity",), allow_only=True)
def check_wildcard_resource(doc: Document, st: Stmt) -> Iterator[Hit]:
    stars = [path for value, path in st.values("Resource") if value == "*"]
    if not stars:
        return
    scoped: list[ActionInfo] = []
    global_only: list[str] = []
    for value, _ in st.values("Action"):
        for info in action_infos(value):
            if info.resource_types == (NO_RESOURCE_TYPE,):
                if info.qualified_name not in global_only:
                    global_only.append(info.qualified_name)
            elif info not in scoped:
                scoped.append(info)
    if not scoped:
        return
    names = ", ".join(i.qualified_name for i in scoped[:3])
    more = f" and {len(scoped) - 3} more" if len(scoped) > 3 else ""
    first = scoped[0]
    example = example_arn(first.service, plainest_type(first))
    fix = f"name the ARNs instead ({first.qualified_name} applies to {example})"
    if global_only:
        fix += (f'; keep "*" only for {", ".join(global_only[:3])}, in a statement of '
                f"its own")
    yield st.hit(stars[0], f'Resource "*" for {len(scoped)} action(s) that support '
                           f"resource-level permissions ({names}{more})", fix)


@_pairing_rule(
    "CG114", "unused-resource", Severity.WARNING,
    "A Resource no action of its statement applies to: usually a missing action, such "
    "as s3:ListBucket for a bucket ARN.", complete=True)
def check_unused_resource(st: Stmt, paired: Pairing) -> Iterator[Hit]:
    actions = [a for a, _, _ in paired.actions]
    for j, (value, path) in enumerate(paired.resources):
        if value == "*" or any(row[j] for row in paired.matrix):
            continue
        types = classify(value)
        if "bucket" in types and value.startswith("arn:") and ":s3:::" in value:
            fix = (f"remove {value} from Resource, or grant the bucket-level action it "
                   f"was meant for (s3:ListBucket) in a statement of its own")
        else:
            fix = f"remove {value} from Resource, or add the action meant for it"
        yield st.hit(path, f"{value} is {describe(value)} and none of this statement's "
                           f"actions ({', '.join(actions[:4])}) applies to it: it has no "
                           f"effect here", fix)


@_pairing_rule(
    "CG115", "mixed-resource-types", Severity.INFO,
    "A statement pairing actions with resource types they do not take: IAM skips those "
    "pairs, so it reads as granting more than it does.", complete=True)
def check_mixed(st: Stmt, paired: Pairing) -> Iterator[Hit]:
    if not all(any(row) for row in paired.matrix) or not all(
            any(row[j] for row in paired.matrix) for j in range(len(paired.resources))):
        return  # CG102 / CG114 report these
    if any(all(row) for row in paired.matrix):
        return  # one action spans them all (Query on a table and its indexes): by design
    misses = [f"{a} does not apply to {r}"
              for (a, _, _), row in zip(paired.actions, paired.matrix, strict=True)
              if "*" not in a and "?" not in a
              for (r, _), ok in zip(paired.resources, row, strict=True) if not ok]
    if not misses:
        return
    groups: dict[tuple[str, ...], list[str]] = {}
    for j, (r, _) in enumerate(paired.resources):
        acts = tuple(a for (a, _, _), row in zip(paired.actions, paired.matrix,
                                                 strict=True) if row[j])
        groups.setdefault(acts, []).append(r)
    plan = "; ".join(f"{', '.join(acts)} on {', '.join(rs)}" for acts, rs in groups.items())
    more = f" (and {len(misses) - 2} more)" if len(misses) > 2 else ""
    yield st.hit(st.at(), f"statement mixes resource types: {'; '.join(misses[:2])}{more}",
                 f"split it into one statement per resource type: {plan}")


@value_rule(
    "CG116", "unmatchable-arn", Severity.ERROR,
    "A Resource ARN whose partition, region or account field can name no real resource "
    "(a placeholder left in).", elements=("Resource", "NotResource"))
def check_unmatchable(value: str) -> tuple[str, str] | None:
    parts = arn_fields(value)
    if len(parts) < 6:
        return None
    _, partition, _, region, account, _ = parts
    if not partition_ok(partition):
        return (f"{value}: partition {partition!r} is not an AWS partition, so the ARN "
                f"matches no resource", "use aws (or aws-cn, aws-us-gov) as the partition")
    if not region_ok(region):
        return (f"{value}: region {region!r} is not an AWS region code, so the ARN matches "
                f"no resource", f"replace {region!r} with the region code (e.g. us-east-1), "
                                f"or * for every region")
    if not account_ok(account):
        return (f"{value}: account {account!r} is not a 12-digit account id, so the ARN "
                f"matches no resource",
                f"replace {account!r} with the owning account's 12-digit id")
    return None

"""The statements a fix adds, written least-privilege, and the diff that shows each one.

Every cause family drafts its statements here so that they all read alike: a Sid derived
from the action and unique in the document, the caller named by its role ARN (real path
included), `"Resource": "*"` only where AWS requires it (key policies, actions that take no
resource), no `Resource` in trust policies.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from crossgrant.errors import CrossgrantError
from crossgrant.iam import TRUST_ACTIONS, Policy, Principal, PrincipalKind
from crossgrant.iam.actions import NO_RESOURCE_TYPE, canonical_action_name, lookup_action
from crossgrant.iam.arn import account_root_arn
from crossgrant.iam.policy import VERSIONS

__all__ = [
    "add_diff",
    "canonical",
    "identity_statement",
    "principal_element",
    "replace_diff",
    "resource_kind",
    "resource_statement",
    "sids",
    "statements",
]

VERSION = VERSIONS[0]  # the current policy language


def canonical(action: str) -> str:
    """The action as the catalog spells it, or as written when the catalog does not know it."""
    try:
        return canonical_action_name(action)
    except CrossgrantError:
        return action


def principal_element(p: Principal, entity_arn: str | None) -> dict[str, Any] | str | None:
    """How a resource policy names `p`; `entity_arn` is the role or user ARN with its real
    path when the state knows it (a session ARN does not show the path)."""
    if p.kind is PrincipalKind.ANONYMOUS:
        return None
    if p.kind is PrincipalKind.SERVICE:
        return {"Service": p.arn}
    if p.kind is PrincipalKind.WEB_IDENTITY:
        return {"Federated": p.arn}
    if p.kind is PrincipalKind.ROOT:
        assert p.account is not None  # a root principal is its account
        return {"AWS": account_root_arn(p.account, p.partition)}
    if p.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE):
        return {"AWS": entity_arn or p.role_arn or p.arn}
    return {"AWS": entity_arn or p.arn}


def _sid(action: str, taken: set[str]) -> str:
    base = "Allow" + "".join(part[:1].upper() + part[1:]
                             for part in re.split(r"[^A-Za-z0-9]+", action) if part)
    sid, n = base, 2
    while sid in taken:
        sid, n = f"{base}{n}", n + 1
    return sid


def sids(policy: Policy | None) -> set[str]:
    """The Sids a document already uses, so a new statement's Sid does not collide."""
    return {st.sid for st in policy.statements if st.sid} if policy is not None else set()


def statements(doc: Mapping[str, Any] | None) -> list[Any]:
    """The document's statements as a list (AWS accepts a single object too)."""
    if not doc:
        return []
    raw = doc.get("Statement", [])
    return [raw] if isinstance(raw, Mapping) else list(raw)


def _takes_no_resource(action: str) -> bool:
    info = lookup_action(action)
    return info is not None and info.resource_types == (NO_RESOURCE_TYPE,)


def identity_statement(action: str, resource: str, taken: set[str],
                       condition: dict[str, Any] | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Sid": _sid(action, taken), "Effect": "Allow", "Action": action,
                            "Resource": "*" if _takes_no_resource(action) else resource}
    if condition:
        stmt["Condition"] = condition
    return stmt


def resource_statement(action: str, resource: str, principal: dict[str, Any] | str | None,
                       kind: str, taken: set[str],
                       condition: dict[str, Any] | None) -> dict[str, Any] | None:
    """`kind` is the resource's document kind ("key", "trust", ...); None without a
    principal to name (an anonymous caller cannot be granted by name)."""
    if principal is None:
        return None
    stmt: dict[str, Any] = {"Sid": _sid(action, taken), "Effect": "Allow",
                            "Principal": principal, "Action": action}
    if kind == "key":
        stmt["Resource"] = "*"  # a key policy governs its own key only
    elif kind != "trust":
        stmt["Resource"] = resource
    if condition:
        stmt["Condition"] = condition
    return stmt


def add_diff(label: str, before: Mapping[str, Any] | None, stmt: dict[str, Any]) -> str:
    old = dict(before) if before is not None else None
    new: dict[str, Any] = copy.deepcopy(old) if old is not None else {
        "Version": VERSION, "Statement": []}
    new["Statement"] = [*statements(old), stmt]
    return _unified(label, old, new)


def replace_diff(label: str, before: Mapping[str, Any], index: int,
                 new_stmt: dict[str, Any] | None) -> str:
    """The diff of replacing statement `index` with `new_stmt` (None: removing it)."""
    new = copy.deepcopy(dict(before))
    stmts = statements(new)
    if new_stmt is None:
        del stmts[index]
    else:
        stmts[index] = new_stmt
    new["Statement"] = stmts
    return _unified(label, dict(before), new)


def _dump(doc: Any) -> list[str]:
    return json.dumps(doc, indent=2).splitlines()


def _unified(label: str, old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    a = _dump(old) if old is not None else []
    lines = difflib.unified_diff(a, _dump(new), fromfile=label if old is not None
                                 else "/dev/null", tofile=label, lineterm="", n=2)
    return "\n".join(lines)


def resource_kind(resource: str, action: str) -> str:
    """Which kind of document governs `resource` for `action`: bucket, table, stream, key,
    trust (a role, for sts:AssumeRole*), or other."""
    parts = resource.split(":", 5)
    if len(parts) != 6:
        return "other"
    service, rest = parts[2], parts[5]
    if service == "s3" and not parts[4]:
        return "bucket"
    if service == "dynamodb" and rest.startswith("table/"):
        return "stream" if "/stream/" in rest else "table"
    if service == "kms" and rest.startswith(("key/", "alias/")):
        return "key"
    if service == "iam" and rest.startswith("role/") and action.lower() in TRUST_ACTIONS:
        return "trust"
    return "other"

"""One document as the checks see it: its kind, the engine's parse, and each statement
with the JSON path of every element as written.

Documents are parsed by the engine first: a document the engine rejects keeps the error
(CG100 reports it) and no statements, because the other checks read the statements the
engine validated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from crossgrant.errors import PolicyError
from crossgrant.findings import Severity
from crossgrant.iam.policy import Policy, parse_policy
from crossgrant.iam.statement import PolicyType, Statement
from crossgrant.verify.lint.registry import Hit

if TYPE_CHECKING:
    from crossgrant.verify.lint.resources import Pairing

__all__ = ["KINDS", "Document", "Kind", "Stmt", "infer_kind", "prepare", "raw_statements"]

Kind = Literal["identity", "resource", "trust", "boundary", "scp"]
KINDS: Final[tuple[Kind, ...]] = ("identity", "resource", "trust", "boundary", "scp")

_POLICY_TYPES: Final[dict[str, PolicyType]] = {
    "identity": PolicyType.IDENTITY,
    "resource": PolicyType.RESOURCE,
    "trust": PolicyType.RESOURCE,  # a trust policy is the role's resource-based policy
    "boundary": PolicyType.BOUNDARY,
    "scp": PolicyType.SCP,
}


@dataclass(slots=True)
class Stmt:
    index: int
    raw: Mapping[str, Any]
    compiled: Statement
    prefix: str  # JSON path of the statement: "Statement[1]", "Statement" or "" (bare)
    pairing: Pairing | None = None  # memo of resources.pairing
    paired: bool = False

    @property
    def label(self) -> str:
        sid = self.raw.get("Sid")
        return sid if isinstance(sid, str) and sid else f"#{self.index}"

    @property
    def allow(self) -> bool:
        return self.raw.get("Effect") == "Allow"

    @property
    def verb(self) -> str:
        return "grants" if self.allow else "denies"

    def at(self, *parts: str) -> str:
        out = self.prefix
        for part in parts:
            if part.startswith("["):
                out += part
            else:
                out = f"{out}.{part}" if out else part
        return out

    def values(self, *keys: str) -> list[tuple[str, str]]:
        """(value, JSON path) of each string of Action, Resource, ... (validated by parse),
        the keys' in turn (`values("Resource", "NotResource")`)."""
        out: list[tuple[str, str]] = []
        for key in keys:
            raw = self.raw.get(key)
            if isinstance(raw, str):
                out.append((raw, self.at(key)))
            elif isinstance(raw, list):
                out.extend((str(v), self.at(key, f"[{i}]")) for i, v in enumerate(raw))
        return out

    def principals(self, key: str = "Principal") -> list[tuple[str, str, str]]:
        """(type, value, path) of each entry; Principal "*" is ("AWS", "*", path)."""
        raw = self.raw.get(key)
        if raw == "*":
            return [("AWS", "*", self.at(key))]
        out: list[tuple[str, str, str]] = []
        if isinstance(raw, Mapping):
            for ptype, value in raw.items():
                if isinstance(value, str):
                    out.append((str(ptype), value, self.at(key, str(ptype))))
                elif isinstance(value, list):
                    out.extend((str(ptype), str(v), self.at(key, str(ptype), f"[{i}]"))
                               for i, v in enumerate(value))
        return out

    def conditions(self) -> list[tuple[str, str, list[str], str]]:
        """(operator, lower-cased key, values as strings, path) of each condition."""
        raw = self.raw.get("Condition")
        out: list[tuple[str, str, list[str], str]] = []
        if not isinstance(raw, Mapping):
            return out
        for op, block in raw.items():
            if not isinstance(block, Mapping):
                continue
            for key, value in block.items():
                values = value if isinstance(value, list) else [value]
                out.append((str(op), str(key).lower(), [_condition_text(v) for v in values],
                            self.at("Condition", str(op), str(key))))
        return out

    def hit(self, path: str, message: str, fix: str, severity: Severity | None = None) -> Hit:
        return Hit(self.index, self.label, path, message, fix, severity)


@dataclass(slots=True)
class Document:
    name: str
    kind: Kind
    owner_account: str | None
    raw: dict[str, Any]  # as linted: a bare statement is wrapped in a document
    bare: bool
    error: PolicyError | None = None
    policy: Policy | None = None
    statements: list[Stmt] = field(default_factory=list)


def raw_statements(doc: Mapping[str, Any]) -> list[Any]:
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        return [raw]
    return list(raw) if isinstance(raw, list) else []


def infer_kind(doc: Mapping[str, Any]) -> Kind:
    """Principal with sts:AssumeRole* is a trust policy, other Principal a resource policy,
    no Principal an identity policy: what a document's own shape says about where it goes."""
    raws = raw_statements(doc)
    if not any(isinstance(s, Mapping) and ("Principal" in s or "NotPrincipal" in s)
               for s in raws):
        return "identity"
    for s in raws:
        if not isinstance(s, Mapping):
            continue
        actions = s.get("Action")
        names = [actions] if isinstance(actions, str) else \
            actions if isinstance(actions, list) else []
        if any(isinstance(a, str) and a.lower().startswith("sts:assumerole") for a in names):
            return "trust"
    return "resource"


def prepare(doc: Mapping[str, Any] | str, name: str, kind: Kind | None,
            owner_account: str | None) -> Document:
    value: Any = doc
    if isinstance(doc, str):
        try:
            value = json.loads(doc)
        except (json.JSONDecodeError, RecursionError):
            value = None
    if not isinstance(value, Mapping):
        # The engine words the error: invalid JSON, or not an object.
        ctx = Document(name, kind or "identity", owner_account, {}, False)
        try:
            parse_policy(doc if isinstance(doc, str) else cast(Any, value), name=name)
        except PolicyError as exc:
            ctx.error = exc
        else:  # pragma: no cover - parse_policy rejects every non-object
            ctx.error = PolicyError(f"{name}: a policy document must be a JSON object")
        return ctx
    bare = "Statement" not in value and "Effect" in value
    raw: dict[str, Any] = ({"Version": "2012-10-17", "Statement": [dict(value)]} if bare
                           else dict(value))
    ctx = Document(name, kind or infer_kind(raw), owner_account, raw, bare)
    try:
        ctx.policy = parse_policy(raw, name=name, policy_type=_POLICY_TYPES[ctx.kind])
    except PolicyError as exc:
        ctx.error = exc
        return ctx
    single = isinstance(raw.get("Statement"), Mapping)
    for st, raw_st in zip(ctx.policy.statements, raw_statements(raw), strict=True):
        i = st.ref.index
        prefix = "" if bare else "Statement" if single else f"Statement[{i}]"
        ctx.statements.append(Stmt(i, raw_st, st, prefix))
    return ctx


def _condition_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

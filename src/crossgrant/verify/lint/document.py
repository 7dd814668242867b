"""One document as the checks see it: its kind, the engine's parse, and its statements.

Documents are parsed by the engine first, and the checks read only what the engine's
compiled statements keep of what was written (elements, conditions and their JSON paths):
one parse, no second reading of the raw JSON. A document the engine rejects keeps the
error (CG100 reports it) and no statements.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from crossgrant.errors import PolicyError
from crossgrant.findings import Severity
from crossgrant.iam.conditions import Condition
from crossgrant.iam.elements import join_path
from crossgrant.iam.policy import Policy, parse_bare_statement, parse_policy
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
    """One statement as the checks read it: `iam`'s compiled statement, which keeps what
    was written (elements, conditions, JSON paths), and what the checks memoise."""

    compiled: Statement
    pairing: Pairing | None = None  # memo of resources.pairing
    paired: bool = False

    @property
    def index(self) -> int:
        return self.compiled.ref.index

    @property
    def label(self) -> str:
        return self.compiled.ref.label

    @property
    def allow(self) -> bool:
        return self.compiled.allow

    @property
    def verb(self) -> str:
        return "grants" if self.allow else "denies"

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.compiled.conditions

    def at(self, *parts: str) -> str:
        """The JSON path of `parts` inside this statement ("Statement[1].NotPrincipal")."""
        return join_path(self.compiled.path, *parts)

    def has(self, name: str) -> bool:
        """Was the element `name` ("NotAction", "Resource", "NotPrincipal"...) written?"""
        c = self.compiled
        return any(e is not None and e.name == name
                   for e in (c.action_element, c.resource_element, c.principal_element))

    def values(self, *names: str) -> list[tuple[str, str]]:
        """(value, JSON path) of each value of the elements `names`, in turn
        (`values("Resource", "NotResource")`); an element not written gives none."""
        elements = (self.compiled.action_element, self.compiled.resource_element)
        return [located for name in names for e in elements if e is not None and e.name == name
                for located in e.located()]

    def principals(self) -> tuple[tuple[str, str, str], ...]:
        """(type, value, path) of each Principal entry (none for NotPrincipal); Principal
        "*" is ("AWS", "*", path)."""
        element = self.compiled.principal_element
        return () if element is None or element.negated else element.located()

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
    policy_type = _POLICY_TYPES[ctx.kind]
    try:
        ctx.policy = (parse_bare_statement(value, name=name, policy_type=policy_type) if bare
                      else parse_policy(raw, name=name, policy_type=policy_type))
    except PolicyError as exc:
        ctx.error = exc
        return ctx
    ctx.statements = [Stmt(st) for st in ctx.policy.statements]
    return ctx

"""The evaluation case format of `shared/eval-cases.md`: the engine's outside contract."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crossgrant.errors import CaseError, CrossgrantError
from crossgrant.iam.evaluate import Decision, Effect, PolicySet, evaluate
from crossgrant.iam.jsontext import loads
from crossgrant.iam.policy import Policy, parse_policy
from crossgrant.iam.principal import parse_principal
from crossgrant.iam.request import Request
from crossgrant.iam.statement import PolicyType

_POLICY_KEYS = frozenset({"identity", "resource", "permission_boundaries", "session", "scps",
                          "rcps", "vpc_endpoint"})
_EXPECTS = frozenset(e.value for e in Effect)


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    request: Request
    policies: PolicySet
    expect: Effect | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One case's result: a decision, or the error that kept it from being evaluated."""

    name: str
    expect: Effect | None
    decision: Decision | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.decision is not None and self.expect is not None \
            and self.decision.effect is self.expect

    def __json__(self) -> dict[str, Any]:
        # The line format of `crossgrant eval` (docs/eval.md): the decision flattened into
        # the outcome, and keys that do not apply left out rather than null.
        out: dict[str, Any] = {
            "name": self.name,
            "decision": self.decision.effect if self.decision else "Error",
            "expect": self.expect,
            "ok": self.ok,
        }
        if self.decision is not None:
            out["because"] = self.decision.because
            if self.decision.missing is not None:
                out["missing"] = self.decision.missing
            if self.decision.rule is not None:
                out["rule"] = self.decision.rule
        if self.error is not None:
            out["error"] = self.error
        return out


def _expect(raw: object) -> Effect | None:
    """The case's `expect` when it is one of the three effects (any JSON value may come)."""
    return Effect(raw) if isinstance(raw, str) and raw in _EXPECTS else None


def parse_case(obj: object, where: str) -> Case:
    if not isinstance(obj, Mapping):
        raise CaseError(f"{where}: a case must be a JSON object")
    name = obj.get("name", where)
    if not isinstance(name, str):
        raise CaseError(f"{where}: name must be a string")
    label = f"case {name!r}"
    req = obj.get("request")
    if not isinstance(req, Mapping):
        raise CaseError(f"{label}: missing request object")
    for field_name in ("action", "resource"):
        if not isinstance(req.get(field_name), str) or not req.get(field_name):
            raise CaseError(f"{label}: request.{field_name} must be a non-empty string")
    if "principal" not in req:
        raise CaseError(f"{label}: missing request.principal")
    try:
        principal = parse_principal(req["principal"])
    except CrossgrantError as exc:
        raise CaseError(f"{label}: request.principal: {exc}") from None
    owner = req.get("resource_account")
    if owner is not None and not isinstance(owner, str):
        raise CaseError(f"{label}: request.resource_account must be a string")
    context = req.get("context") or {}
    if not isinstance(context, Mapping):
        raise CaseError(f"{label}: request.context must be an object")
    request = Request.build(principal, req["action"], req["resource"], resource_account=owner,
                            context=context)
    policies = _policy_set(obj.get("policies") or {}, label)
    expect_raw = obj.get("expect")
    expect = _expect(expect_raw)
    if expect_raw is not None and expect is None:
        raise CaseError(f"{label}: expect must be one of {sorted(_EXPECTS)}")
    return Case(name, request, policies, expect)


def _policy_set(raw: object, label: str) -> PolicySet:
    if not isinstance(raw, Mapping):
        raise CaseError(f"{label}: policies must be an object")
    unknown = set(raw) - _POLICY_KEYS
    if unknown:
        raise CaseError(f"{label}: unknown policies field {sorted(unknown)[0]!r}")

    def one(key: str, kind: PolicyType) -> Policy | None:
        doc = raw.get(key)
        return None if doc is None else parse_policy(doc, name=key, policy_type=kind)

    def many(key: str, kind: PolicyType) -> tuple[Policy, ...]:
        docs = raw.get(key) or []
        if not isinstance(docs, list):
            raise CaseError(f"{label}: policies.{key} must be a list")
        return tuple(parse_policy(d, name=f"{key}[{i}]", policy_type=kind)
                     for i, d in enumerate(docs))

    def levels(key: str, kind: PolicyType) -> tuple[tuple[Policy, ...], ...]:
        lv = raw.get(key) or []
        if not isinstance(lv, list) or not all(isinstance(x, list) for x in lv):
            raise CaseError(f"{label}: policies.{key} must be a list of levels (lists)")
        return tuple(tuple(parse_policy(d, name=f"{key}[{i}][{j}]", policy_type=kind)
                           for j, d in enumerate(level)) for i, level in enumerate(lv))

    boundaries = raw.get("permission_boundaries")
    return PolicySet(
        identity=many("identity", PolicyType.IDENTITY),
        resource=one("resource", PolicyType.RESOURCE),
        boundaries=None if boundaries is None else many("permission_boundaries",
                                                         PolicyType.BOUNDARY),
        session=one("session", PolicyType.SESSION),
        scps=levels("scps", PolicyType.SCP),
        rcps=levels("rcps", PolicyType.RCP),
        vpc_endpoint=one("vpc_endpoint", PolicyType.VPC_ENDPOINT),
    )


def read_cases(text: str, source: str) -> Iterator[tuple[str, object]]:
    """Yield (where, decoded object or the decode error) for one object or JSON Lines."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            whole = json.loads(stripped)
        except (ValueError, RecursionError):  # then it is JSON Lines, or each line says why
            pass
        else:
            yield source, whole
            return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            obj = loads(line, where, CaseError, line=False)
        except CaseError as exc:
            yield where, exc
        else:
            yield where, obj


def run_case(where: str, obj: object) -> Outcome:
    """Evaluate one decoded case; errors become an Error outcome, never an exception."""
    if isinstance(obj, CaseError):
        return Outcome(where, None, None, str(obj))
    name = obj.get("name", where) if isinstance(obj, Mapping) else where
    expect = _expect(obj.get("expect")) if isinstance(obj, Mapping) else None
    try:
        case = parse_case(obj, where)
    except CrossgrantError as exc:
        return Outcome(name if isinstance(name, str) else where, expect, None, str(exc))
    return Outcome(case.name, case.expect, evaluate(case.request, case.policies))

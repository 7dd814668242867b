"""One policy statement, validated strictly and compiled for matching.

Everything that does not depend on the request (action and resource patterns, principal
entries, condition operators) is compiled here, once. Match results that depend only on a
string (an action, a resource ARN, a principal ARN) are memoised per statement.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crossgrant.errors import PolicyError
from crossgrant.iam.conditions import Condition, compile_condition_block
from crossgrant.iam.elements import Element, PrincipalElement, string_values
from crossgrant.iam.patterns import Matcher, compile_glob, compile_tokens
from crossgrant.iam.principal import Principal, PrincipalSet, Strength, parse_principal_element
from crossgrant.iam.variables import (
    Context,
    as_tokens,
    compile_resolved,
    has_variables,
    parse_template,
    resolve,
)

_ACTION_RE = re.compile(r"\*|[A-Za-z0-9-]+:[A-Za-z0-9*?_.-]+")
_CACHE_LIMIT = 4096

STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition"})


class PolicyType(enum.StrEnum):
    """Where a document sits in the evaluation; the value is AWS's name for it."""

    IDENTITY = "identity-based policy"
    RESOURCE = "resource-based policy"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"
    SCP = "service control policy"
    RCP = "resource control policy"
    VPC_ENDPOINT = "VPC endpoint policy"

    @property
    def takes_principal(self) -> bool:
        return self in (PolicyType.RESOURCE, PolicyType.RCP, PolicyType.VPC_ENDPOINT)


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Which statement of which document decided something, for explanations."""

    document: str
    policy_type: PolicyType
    index: int
    sid: str | None
    effect: str

    @property
    def label(self) -> str:
        return self.sid if self.sid else f"#{self.index}"

    def __json__(self) -> dict[str, str]:
        # What a reader needs to find the statement: its document and its Sid (or #index).
        return {"document": self.document, "statement": self.label, "effect": self.effect}

    def as_json(self) -> dict[str, str]:
        return self.__json__()


class _PatternSet:
    """Resource (or NotResource) patterns; memoises results for patterns without variables."""

    __slots__ = ("_cache", "_dynamic", "_static", "has_variables", "negated")

    def __init__(self, patterns: list[str], *, negated: bool, variables: bool) -> None:
        self.negated = negated
        self._static: list[Matcher] = []
        self._dynamic = []
        for p in patterns:
            pieces = parse_template(p, wildcards=True, variables=variables)
            if has_variables(pieces):
                self._dynamic.append(pieces)
            else:
                self._static.append(compile_tokens(as_tokens(pieces), arn=True))
        self._cache: dict[str, bool] = {}
        self.has_variables = bool(self._dynamic)

    def static_verdict(self, resource: str) -> bool | None:
        """The answer without a context, or None when a variable pattern must decide."""
        if self._dynamic:
            return None
        return self.matches(resource, {})

    def matches(self, resource: str, ctx: Context) -> bool:
        hit = self._cache.get(resource)
        if hit is None:
            hit = any(m(resource) for m in self._static)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[resource] = hit
        if not hit and self._dynamic:
            for pieces in self._dynamic:
                toks = resolve(pieces, ctx)
                if toks is not None and compile_resolved(toks, False, True)(resource):
                    hit = True
                    break
        return hit != self.negated


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """One compiled statement: matchers for the engine, elements as written for the rest.

    The matchers are all the engine touches; the elements and paths are built once here so
    that lint, analyze and diagnose never re-read the raw JSON.
    """

    ref: StatementRef
    allow: bool
    action_matcher: Callable[[str], bool]  # takes a lower-cased action
    resources: _PatternSet | None  # None: applies to the resource it is attached to
    principals: PrincipalSet | None
    conditions: tuple[Condition, ...]
    source: dict[str, Any] = field(repr=False)
    path: str  # "Statement[1]", "Statement" (a single-object Statement) or "" (bare)
    action_element: Element
    resource_element: Element | None
    principal_element: PrincipalElement | None

    def __json__(self) -> dict[str, Any]:
        return self.source

    @property
    def sid(self) -> str | None:
        return self.ref.sid

    @property
    def effect(self) -> str:
        return self.ref.effect

    def covers_action(self, action_key: str) -> bool:
        return self.action_matcher(action_key)

    def covers_resource(self, resource: str, ctx: Context) -> bool:
        return self.resources is None or self.resources.matches(resource, ctx)

    def principal_strength(self, p: Principal) -> Strength:
        return Strength.DIRECT if self.principals is None else self.principals.strength(p)

    def conditions_hold(self, ctx: Context) -> bool:
        # A plain loop: measurably faster than all() over a generator on this hot path.
        for c in self.conditions:  # noqa: SIM110
            if not c.test(ctx):
                return False
        return True

    @property
    def negated_principal(self) -> bool:
        return self.principals is not None and self.principals.negated


def compile_statement(raw: object, index: int, *, document: str, policy_type: PolicyType,
                      variables: bool, path: str | None = None) -> Statement:
    """`path` is the statement's JSON path in its document: by default "Statement[index]"."""
    where = f"{document}: Statement[{index}]"
    if path is None:
        path = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: a statement must be an object")
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise PolicyError(f"{where}: Sid must be a string")
        where = f"{document}: Statement[{index}] (Sid {sid!r})"
    unknown = set(raw) - STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be \"Allow\" or \"Deny\", got {effect!r}")

    action_element, action_matcher = _compile_actions(raw, where, path)
    resource_element, resources = _compile_resources(raw, where, path, policy_type, variables)
    principal_element, principals = _compile_principals(raw, where, path, policy_type,
                                                        effect == "Allow")
    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        conditions = compile_condition_block(raw["Condition"], f"{where}.Condition",
                                             variables=variables,
                                             path=f"{path}.Condition" if path else "Condition")
    ref = StatementRef(document, policy_type, index, sid, effect)
    return Statement(ref, effect == "Allow", action_matcher, resources, principals, conditions,
                     dict(raw), path, action_element, resource_element, principal_element)


def _exactly_one(raw: Mapping[str, object], a: str, b: str, where: str,
                 required: bool) -> tuple[str, object] | None:
    has_a, has_b = a in raw, b in raw
    if has_a and has_b:
        raise PolicyError(f"{where}: has both {a} and {b}; use one")
    if not has_a and not has_b:
        if required:
            raise PolicyError(f"{where}: missing {a} (or {b})")
        return None
    return (a, raw[a]) if has_a else (b, raw[b])


def _element(raw: Mapping[str, object], a: str, b: str, where: str, path: str,
             required: bool) -> Element | None:
    """Action/Resource (or its Not form) as written: one string or a non-empty string list."""
    found = _exactly_one(raw, a, b, where, required)
    if found is None:
        return None
    name, value = found
    return Element(name, string_values(value, f"{where}.{name}"),
                   f"{path}.{name}" if path else name, name == b, isinstance(value, list))


def _compile_actions(raw: Mapping[str, object], where: str,
                     path: str) -> tuple[Element, Callable[[str], bool]]:
    element = _element(raw, "Action", "NotAction", where, path, required=True)
    assert element is not None
    actions = element.values
    for a in actions:
        if not _ACTION_RE.fullmatch(a):
            raise PolicyError(f"{where}.{element.name}: {a!r} is not an action (service:Name, "
                              f"wildcards * and ? allowed)")
    exact = frozenset(a.lower() for a in actions if "*" not in a and "?" not in a)
    globs = [compile_glob(a.lower()) for a in actions if "*" in a or "?" in a]
    negated = element.negated
    cache: dict[str, bool] = {}

    def matcher(action_key: str) -> bool:
        hit = cache.get(action_key)
        if hit is None:
            hit = (action_key in exact or any(g(action_key) for g in globs)) != negated
            if len(cache) < _CACHE_LIMIT:
                cache[action_key] = hit
        return hit

    return element, matcher


def _compile_resources(raw: Mapping[str, object], where: str, path: str,
                       policy_type: PolicyType,
                       variables: bool) -> tuple[Element | None, _PatternSet | None]:
    required = policy_type is not PolicyType.RESOURCE
    element = _element(raw, "Resource", "NotResource", where, path, required=required)
    if element is None:
        return None, None
    for p in element.values:
        if p != "*" and not (p.startswith("arn:") and (p.count(":") >= 5 or p.endswith("*"))):
            raise PolicyError(f"{where}.{element.name}: {p!r} is not \"*\" or an ARN "
                              f"(arn:partition:service:region:account:resource)")
    return element, _PatternSet(list(element.values), negated=element.negated,
                                variables=variables)


def _compile_principals(raw: Mapping[str, object], where: str, path: str,
                        policy_type: PolicyType,
                        allow: bool) -> tuple[PrincipalElement | None, PrincipalSet | None]:
    if not policy_type.takes_principal:
        for key in ("Principal", "NotPrincipal"):
            if key in raw:
                raise PolicyError(f"{where}: a {policy_type.value} cannot have {key}")
        return None, None
    found = _exactly_one(raw, "Principal", "NotPrincipal", where,
                         required=policy_type is PolicyType.RESOURCE)
    if found is None:
        return None, None
    name, value = found
    principals = parse_principal_element(value, f"{where}.{name}",
                                         negated=name == "NotPrincipal", allow=allow)
    return PrincipalElement.read(name, value, f"{path}.{name}" if path else name), principals

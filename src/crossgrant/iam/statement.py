"""One policy statement, validated strictly and compiled for matching.

Everything that does not depend on the request (action and resource patterns, principal
entries, condition operators) is compiled here, once. Equal Action lists, Resource lists,
Principal elements and Condition blocks compile to one shared matcher each, wherever
they are written, so a role whose twenty statements repeat one Resource list matches a
request's ARN once, not twenty times. Match results that depend only on a string are
remembered in bounded memos (`iam.memo`); answers for the request being decided (its
resource, its context) are remembered for the last request only.
"""

from __future__ import annotations

import enum
import json
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crossgrant.errors import PolicyError
from crossgrant.iam.conditions import (
    NO_CONDITIONS,
    Condition,
    ConditionSet,
    compile_conditions,
)
from crossgrant.iam.elements import Element, PrincipalElement, string_values
from crossgrant.iam.jsontext import shown
from crossgrant.iam.memo import Memo
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
# What IAM checks of an action in an identity-type policy: the vendor prefix and its colon.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_understand-service-summary.html
# ("If the policy includes an action that IAM does not recognize, then the action is
# included in the Uncategorized actions section"): the name after the colon is stored as
# written, and an odd one (`s3:GetObject,PutObject`, `s3:`, `s3:  GetBucket`) matches nothing.
_VENDOR_RE = re.compile(r"[A-Za-z0-9-]+:.*", re.DOTALL)

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


class ActionSet:
    """A compiled Action (or NotAction) list, shared by every statement that wrote it."""

    __slots__ = ("__weakref__", "_exact", "_globs", "_memo", "negated")

    def __init__(self, actions: frozenset[str], negated: bool) -> None:
        self.negated = negated
        self._exact = frozenset(a for a in actions if "*" not in a and "?" not in a)
        self._globs = [compile_glob(a) for a in actions if "*" in a or "?" in a]
        self._memo: Memo[str, bool] = Memo()

    def __call__(self, action_key: str) -> bool:
        """Does the element cover a lower-cased action?"""
        hit = self._memo.get(action_key)
        if hit is None:
            hit = (action_key in self._exact
                   or any(g(action_key) for g in self._globs)) != self.negated
            self._memo.put(action_key, hit)
        return hit


class PatternSet:
    """Resource (or NotResource) patterns, shared by every statement that wrote them.

    Remembers its verdict for the last resource asked (a policy's statements repeat their
    Resource list, and the engine asks about one request's resource at a time).
    """

    __slots__ = ("__weakref__", "_dynamic", "_last", "_static", "has_variables", "negated")

    def __init__(self, patterns: tuple[str, ...], *, negated: bool, variables: bool) -> None:
        self.negated = negated
        self._static: list[Matcher] = []
        self._dynamic = []
        for p in patterns:
            pieces = parse_template(p, wildcards=True, variables=variables)
            if has_variables(pieces):
                self._dynamic.append(pieces)
            else:
                self._static.append(compile_tokens(as_tokens(pieces), arn=True))
        self._last: tuple[str | None, bool] = (None, False)  # one tuple: atomic
        self.has_variables = bool(self._dynamic)

    def _static_hit(self, resource: str) -> bool:
        last = self._last
        if last[0] == resource:
            return last[1]
        hit = False
        for m in self._static:
            if m(resource):
                hit = True
                break
        self._last = (resource, hit)
        return hit

    def static_verdict(self, resource: str) -> bool | None:
        """The answer without a context, or None when a variable pattern must decide."""
        if self._dynamic:
            return None
        return self._static_hit(resource) != self.negated

    def matches(self, resource: str, ctx: Context) -> bool:
        hit = self._static_hit(resource)
        if not hit and self._dynamic:
            for pieces in self._dynamic:
                toks = resolve(pieces, ctx)
                if toks is not None and compile_resolved(toks, False, True)(resource):
                    hit = True
                    break
        return hit != self.negated


# Compiled elements by what was written; an entry lives as long as a statement uses it.
_action_sets: weakref.WeakValueDictionary[tuple[frozenset[str], bool], ActionSet] = \
    weakref.WeakValueDictionary()
_pattern_sets: weakref.WeakValueDictionary[tuple[tuple[str, ...], bool, bool], PatternSet] = \
    weakref.WeakValueDictionary()
_principal_sets: weakref.WeakValueDictionary[tuple[str, bool, bool], PrincipalSet] = \
    weakref.WeakValueDictionary()


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """One compiled statement: matchers for the engine, elements as written for the rest.

    The matchers are all the engine touches; the elements and paths are built once here so
    that lint, analyze and diagnose never re-read the raw JSON.
    """

    ref: StatementRef
    allow: bool
    action_matcher: Callable[[str], bool]  # takes a lower-cased action (an ActionSet)
    resources: PatternSet | None  # None: applies to the resource it is attached to
    principals: PrincipalSet | None
    conditions: tuple[Condition, ...]
    source: dict[str, Any] = field(repr=False)
    path: str  # "Statement[1]", "Statement" (a single-object Statement) or "" (bare)
    action_element: Element
    resource_element: Element | None
    principal_element: PrincipalElement | None
    # The Condition block's tests, shared with every statement that wrote the same block.
    condition_set: ConditionSet = field(default=NO_CONDITIONS, repr=False)
    # Action values whose vendor prefix IAM accepts but whose name is odd
    # ("s3:GetObject,PutObject", "s3:", "s3:  GetBucket"): stored, matching nothing.
    malformed_actions: tuple[str, ...] = ()

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
                      variables: bool, path: str | None = None,
                      source: dict[str, Any] | None = None) -> Statement:
    """`path` is the statement's JSON path in its document: by default "Statement[index]".

    `source` is the statement as plain JSON, kept as written (default: a copy of `raw`).
    """
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
        raise PolicyError(f"{where}: Effect must be \"Allow\" or \"Deny\", got {shown(effect)}")

    action_element, action_matcher, malformed = _compile_actions(raw, where, path,
                                                                 policy_type)
    resource_element, resources = _compile_resources(raw, where, path, policy_type, variables)
    principal_element, principals = _compile_principals(raw, where, path, policy_type,
                                                        effect == "Allow")
    conditions: tuple[Condition, ...] = ()
    condition_set = NO_CONDITIONS
    if "Condition" in raw:
        conditions, condition_set = compile_conditions(
            raw["Condition"], f"{where}.Condition", variables=variables,
            path=f"{path}.Condition" if path else "Condition")
    ref = StatementRef(document, policy_type, index, sid, effect)
    return Statement(ref, effect == "Allow", action_matcher, resources, principals, conditions,
                     dict(raw) if source is None else source, path, action_element,
                     resource_element, principal_element, condition_set, malformed)


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


# Policy types whose documents IAM stores, checking only an action's vendor prefix.
# Resource policies (S3: "Policy has invalid action"), SCPs, RCPs and endpoint policies
# are validated by their own services; there an odd action stays an error.
_LENIENT_ACTIONS = frozenset({PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION})


def _compile_actions(raw: Mapping[str, object], where: str, path: str, policy_type: PolicyType,
                     ) -> tuple[Element, Callable[[str], bool], tuple[str, ...]]:
    element = _element(raw, "Action", "NotAction", where, path, required=True)
    assert element is not None
    malformed: list[str] = []
    for a in element.values:
        if not _ACTION_RE.fullmatch(a):
            if policy_type in _LENIENT_ACTIONS and _VENDOR_RE.fullmatch(a):
                malformed.append(a)
                continue
            raise PolicyError(f"{where}.{element.name}: {a!r} is not an action (service:Name, "
                              f"wildcards * and ? allowed)")
    odd = frozenset(malformed)
    actions = frozenset(a.lower() for a in element.values if a not in odd)
    key = (actions, element.negated)
    matcher = _action_sets.get(key)
    if matcher is None:
        matcher = _action_sets[key] = ActionSet(actions, element.negated)
    return element, matcher, tuple(malformed)


def _compile_resources(raw: Mapping[str, object], where: str, path: str,
                       policy_type: PolicyType,
                       variables: bool) -> tuple[Element | None, PatternSet | None]:
    required = policy_type is not PolicyType.RESOURCE
    element = _element(raw, "Resource", "NotResource", where, path, required=required)
    if element is None:
        return None, None
    for p in element.values:
        if p != "*" and not (p.startswith("arn:") and (p.count(":") >= 5 or p.endswith("*"))):
            raise PolicyError(f"{where}.{element.name}: {p!r} is not \"*\" or an ARN "
                              f"(arn:partition:service:region:account:resource)")
    key = (element.values, element.negated, variables)
    patterns = _pattern_sets.get(key)
    if patterns is None:
        patterns = _pattern_sets[key] = PatternSet(element.values, negated=element.negated,
                                                    variables=variables)
    return element, patterns


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
    negated = name == "NotPrincipal"
    try:
        written: tuple[str, bool, bool] | None = (json.dumps(value), negated, allow)
    except (TypeError, ValueError, RecursionError):
        written = None  # not plain JSON: parsing says what is wrong with it
    principals = None if written is None else _principal_sets.get(written)
    if principals is None:
        principals = parse_principal_element(value, f"{where}.{name}", negated=negated,
                                             allow=allow)
        if written is not None:
            _principal_sets[written] = principals
    return PrincipalElement.read(name, value, f"{path}.{name}" if path else name), principals

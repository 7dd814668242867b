"""Condition operators, compiled once per statement into closures over the context.

Semantics follow the IAM reference: a positive operator on an absent key is false and a
negated one (`StringNotEquals`, `ArnNotLike`, ...) is true; `...IfExists` makes an absent
key true; `ForAllValues:` is true for an absent key and `ForAnyValue:` false; without a
qualifier a multi-valued key matches when any of its values does (negated: when none
does). A value whose policy variable cannot be resolved makes the condition false.

A key whose value is an empty list (what an empty `x-amz-tagging` header gives) is absent
to every operator alike: AWS's set operators treat "a null data set" as no key
(`ForAllValues:` true, `ForAnyValue:` false), `Null` calls it null, so `...IfExists` must
too; otherwise an upload with an empty tagging header would slip past a Deny that stops
an untagged one.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from crossgrant.errors import PolicyError
from crossgrant.iam.jsontext import number_text
from crossgrant.iam.memo import counted
from crossgrant.iam.patterns import Matcher, compile_tokens
from crossgrant.iam.variables import (
    Context,
    Piece,
    as_text,
    as_tokens,
    compile_resolved,
    has_variables,
    parse_template,
    resolve,
)
from crossgrant.serial import OMIT

Pred = Callable[[str], bool]
PredFactory = Callable[[Context], Pred | None]
Test = Callable[[Context], bool]

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,  # negated afterwards
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}

# base operator -> (family, suffix, negated)
_OPERATORS: dict[str, tuple[str, str, bool]] = {
    "StringEquals": ("string", "Equals", False),
    "StringNotEquals": ("string", "Equals", True),
    "StringEqualsIgnoreCase": ("string", "EqualsIgnoreCase", False),
    "StringNotEqualsIgnoreCase": ("string", "EqualsIgnoreCase", True),
    "StringLike": ("string", "Like", False),
    "StringNotLike": ("string", "Like", True),
    "Bool": ("bool", "Equals", False),
    "BinaryEquals": ("binary", "Equals", False),
    "IpAddress": ("ip", "In", False),
    "NotIpAddress": ("ip", "In", True),
    "ArnEquals": ("arn", "Like", False),
    "ArnLike": ("arn", "Like", False),
    "ArnNotEquals": ("arn", "Like", True),
    "ArnNotLike": ("arn", "Like", True),
    "Null": ("null", "", False),
}
for _fam in ("Numeric", "Date"):
    for _suffix in _COMPARATORS:
        _OPERATORS[_fam + _suffix] = (_fam.lower(), _suffix, _suffix == "NotEquals")

OPERATOR_NAMES = frozenset(_OPERATORS)
_QUALIFIERS = ("ForAllValues", "ForAnyValue")
_IF_EXISTS = "IfExists"


@dataclass(frozen=True, slots=True)
class Condition:
    """One key under one operator, compiled, and as written (so no consumer re-reads JSON)."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # lower-cased context key
    values: tuple[str, ...]  # as strings: JSON true/false become "true"/"false"
    test: Test = field(repr=False, metadata=OMIT)
    base: str  # the operator without qualifier and IfExists, e.g. "StringLike"
    qualifier: str | None  # "ForAllValues" or "ForAnyValue"
    if_exists: bool
    negated: bool  # StringNotEquals, ArnNotLike, NotIpAddress, NumericNotEquals...
    key_written: str  # the key in the case it was written
    path: str  # JSON path, e.g. "Statement[1].Condition.StringLike.s3:prefix"

    def __call__(self, context: Context) -> bool:
        return self.test(context)


def split_operator(op: str) -> tuple[str | None, str, bool]:
    """(qualifier, base, if_exists) of an operator as written: the one place that reads it.

    `"ForAllValues:StringLikeIfExists"` gives `("ForAllValues", "StringLike", True)`; the
    base is not checked here (`compile_condition` rejects unknown ones), so any text splits.
    """
    qualifier: str | None = None
    name = op
    for q in _QUALIFIERS:
        if name.startswith(q) and name[len(q):len(q) + 1] == ":":
            qualifier, name = q, name[len(q) + 1:]
            break
    if_exists = name.endswith(_IF_EXISTS)
    if if_exists:
        name = name[: -len(_IF_EXISTS)]
    return qualifier, name, if_exists


def is_negated(base: str) -> bool:
    """Does a base operator test that the value does NOT match (true for an absent key)?"""
    known = _OPERATORS.get(base)
    return known is not None and known[2]


class ConditionSet:
    """The tests of one Condition block, shared by every statement that wrote the same
    block, remembering its answer for the last request context.

    A role's policies repeat the same block in statement after statement; within one
    request it is decided once. The context is remembered by identity: the engine hands
    each request's context (a new mapping, never changed afterwards) to every statement.
    """

    __slots__ = ("_last", "tests")

    def __init__(self, tests: tuple[Test, ...]) -> None:
        self.tests = tests
        self._last: tuple[object, bool] = (None, False)  # one tuple: atomic across threads

    def holds(self, ctx: Context) -> bool:
        last = self._last
        if last[0] is ctx:
            return last[1]
        hit = True
        for t in self.tests:
            if not t(ctx):
                hit = False
                break
        self._last = (ctx, hit)
        return hit


NO_CONDITIONS = ConditionSet(())
_BLOCK_CACHE_SIZE = 4096
# (block as written, variables) -> its conditions without paths, and their shared tests
_blocks: dict[tuple[str, bool], tuple[tuple[Condition, ...], ConditionSet]] = {}
counted(_blocks.__len__, _BLOCK_CACHE_SIZE)


def compile_conditions(block: object, where: str, *, variables: bool,
                       path: str = "Condition") -> tuple[tuple[Condition, ...], ConditionSet]:
    """The block's conditions (with their JSON paths under `path`) and its shared tests.

    Equal blocks (the same text, keys in the same order) compile once: the conditions of
    a repeated block are the cached ones with this statement's paths.
    """
    try:
        text = json.dumps(block, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = None  # not plain JSON: compiling says what is wrong with it
    hit = None if text is None else _blocks.get((text, variables))
    if hit is None:
        conditions = compile_condition_block(block, where, variables=variables, path="")
        hit = (conditions, ConditionSet(tuple(c.test for c in conditions)))
        if text is not None:
            if len(_blocks) >= _BLOCK_CACHE_SIZE:
                _blocks.clear()
            _blocks[(text, variables)] = hit
    conditions, tests = hit
    placed = tuple(Condition(c.operator, c.key, c.values, c.test, c.base, c.qualifier,
                             c.if_exists, c.negated, c.key_written, f"{path}{c.path}")
                   for c in conditions)
    return placed, tests


def compile_condition_block(block: object, where: str, *, variables: bool,
                            path: str = "Condition") -> tuple[Condition, ...]:
    """`where` names the block in errors; `path` is its JSON path in the document."""
    if not isinstance(block, Mapping):
        raise PolicyError(f"{where}: Condition must be an object of operators")
    out: list[Condition] = []
    for op_name, keys in block.items():
        if not isinstance(keys, Mapping) or not keys:
            raise PolicyError(f"{where}.{op_name}: must be a non-empty object of condition keys")
        for key, raw in keys.items():
            out.append(compile_condition(str(op_name), str(key), raw,
                                         f"{where}.{op_name}.{key}", variables=variables,
                                         path=f"{path}.{op_name}.{key}"))
    return tuple(out)


def compile_condition(op_name: str, key: str, raw: object, where: str, *,
                      variables: bool, path: str = "") -> Condition:
    qualifier, base, if_exists = split_operator(op_name)
    if base not in _OPERATORS:
        raise PolicyError(f"{where}: unknown condition operator {op_name!r}")
    family, suffix, negated = _OPERATORS[base]
    values = _values(raw, where)
    key_lc = key.lower()
    if not key_lc:
        raise PolicyError(f"{where}: empty condition key")
    if family == "null":
        if qualifier or if_exists:
            raise PolicyError(f"{where}: Null takes no qualifier and no IfExists")
        test = _null_test(key_lc, values, where)
    else:
        factory = _pred_factory(family, suffix, values, where, variables=variables)
        test = _quantified(key_lc, factory, negated=negated, qualifier=qualifier,
                           if_exists=if_exists)
    return Condition(op_name, key_lc, tuple(values), test, base, qualifier, if_exists, negated,
                     key, path)


def _values(raw: object, where: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise PolicyError(f"{where}: condition values must not be empty")
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, int | float) and not (isinstance(v, float) and not math.isfinite(v)):
            out.append(number_text(v, where))
        else:
            what = repr(v) if isinstance(v, float) or v is None else \
                "a list" if isinstance(v, list) else "an object" if isinstance(v, Mapping) \
                else f"a {type(v).__name__}"
            raise PolicyError(f"{where}: a condition value must be a string, number or "
                              f"bool, not {what}")
    return out


# -- per-family positive predicates -------------------------------------------------------


def _pred_factory(family: str, suffix: str, values: list[str], where: str, *,
                  variables: bool) -> PredFactory:
    if family == "string":
        return _string_factory(suffix, values, variables=variables)
    if family == "arn":
        return _template_factory(values, wildcards=True, ignore_case=False, arn=True,
                                 variables=variables, strict=True)
    if family == "numeric":
        nums = [_policy_value(_try_number, v, where, "a number") for v in values]
        cmp = _COMPARATORS[suffix]
        return _static(_typed_pred(nums, cmp, _try_number))
    if family == "date":
        dates = [_policy_value(_try_date, v, where, "an ISO 8601 date or epoch seconds")
                 for v in values]
        cmp = _COMPARATORS[suffix]
        return _static(_typed_pred(dates, cmp, _try_date))
    if family == "bool":
        lowered = {v.lower() for v in values}
        if not lowered <= {"true", "false"}:
            raise PolicyError(f"{where}: Bool values must be \"true\" or \"false\"")
        return _static(lambda s: s.lower() in lowered)
    if family == "binary":
        blobs = {_policy_value(_try_base64, v, where, "base64") for v in values}
        return _static(lambda s: _try_base64(s) in blobs)
    if family == "ip":
        nets = [_parse_network(v, where) for v in values]
        return _static(lambda s: _ip_in(s, nets))
    raise AssertionError(family)


class _Static:
    """A predicate factory that ignores the context: no policy variables to resolve."""

    __slots__ = ("pred",)

    def __init__(self, pred: Pred) -> None:
        self.pred = pred

    def __call__(self, _ctx: Context) -> Pred:
        return self.pred


def _static(pred: Pred) -> PredFactory:
    return _Static(pred)


def _string_factory(suffix: str, values: list[str], *, variables: bool) -> PredFactory:
    if suffix == "Like":
        return _template_factory(values, wildcards=True, ignore_case=False, arn=False,
                                 variables=variables)
    templates = [parse_template(v, wildcards=False, variables=variables) for v in values]
    fold = suffix == "EqualsIgnoreCase"
    if not any(has_variables(t) for t in templates):
        texts = {as_text(as_tokens(t)) for t in templates}
        if fold:
            folded = {t.casefold() for t in texts}
            return _static(lambda s: s.casefold() in folded)
        return _static(texts.__contains__)

    def factory(ctx: Context) -> Pred | None:
        texts: set[str] = set()
        for t in templates:
            toks = resolve(t, ctx)
            if toks is None:
                return None
            texts.add(as_text(toks).casefold() if fold else as_text(toks))
        if fold:
            return lambda s: s.casefold() in texts
        return texts.__contains__

    return factory


def _template_factory(values: list[str], *, wildcards: bool, ignore_case: bool, arn: bool,
                      variables: bool, strict: bool = False) -> PredFactory:
    templates = [parse_template(v, wildcards=wildcards, variables=variables) for v in values]
    if not any(has_variables(t) for t in templates):
        matchers = [compile_tokens(as_tokens(t), ignore_case=ignore_case, arn=arn, strict=strict)
                    for t in templates]
        return _static(_any_of(matchers))

    def factory(ctx: Context) -> Pred | None:
        matchers: list[Matcher] = []
        for t in templates:
            toks = resolve(t, ctx)
            if toks is None:
                return None
            matchers.append(compile_resolved(toks, ignore_case, arn, strict))
        return _any_of(matchers)

    return factory


def _any_of(matchers: list[Matcher]) -> Pred:
    if len(matchers) == 1:
        return matchers[0]
    return lambda s: any(m(s) for m in matchers)


def _typed_pred(policy_values: Sequence[Any], cmp: Callable[[Any, Any], bool],
                parse: Callable[[str], Any]) -> Pred:
    def pred(s: str) -> bool:
        v = parse(s)
        return v is not None and any(cmp(v, pv) for pv in policy_values)

    return pred


# -- quantifiers ---------------------------------------------------------------------------


def _quantified(key: str, factory: PredFactory, *, negated: bool, qualifier: str | None,
                if_exists: bool) -> Test:
    absent = True if if_exists else (
        qualifier == "ForAllValues" or (not qualifier and negated))
    static = factory({}) if isinstance(factory, _Static) else None

    def test(ctx: Context) -> bool:
        vals = ctx.get(key)
        if not vals:  # absent, or an empty list: a null data set
            return absent
        pred = static if static is not None else factory(ctx)
        if pred is None:
            return False
        if qualifier == "ForAllValues":
            return all(pred(v) != negated for v in vals)
        if qualifier == "ForAnyValue":
            return any(pred(v) != negated for v in vals)
        for v in vals:
            if pred(v):
                return not negated
        return negated

    return test


def _null_test(key: str, values: list[str], where: str) -> Test:
    wanted = {v.lower() for v in values}
    if not wanted <= {"true", "false"}:
        raise PolicyError(f"{where}: Null values must be \"true\" or \"false\"")

    def test(ctx: Context) -> bool:
        present = bool(ctx.get(key))
        return ("false" in wanted and present) or ("true" in wanted and not present)

    return test


# -- typed value parsing --------------------------------------------------------------------
# Each type has one reader, `_try_*`, returning None for text it cannot read: a context
# value it cannot read just fails to match, a policy value is an error in the document.

_T = TypeVar("_T")


def _policy_value(read: Callable[[str], _T | None], s: str, where: str, what: str) -> _T:
    v = read(s)
    if v is None:
        raise PolicyError(f"{where}: {s!r} is not {what}")
    return v



_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EPOCH_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _try_number(s: str) -> float | None:
    """A plain ASCII decimal; float() alone would also take '1_000', 'nan' or Unicode digits."""
    if not _NUMBER_RE.fullmatch(s):
        return None
    v = float(s)
    return v if math.isfinite(v) else None


def _try_date(s: str) -> datetime | None:
    try:
        if _EPOCH_RE.fullmatch(s):
            return datetime.fromtimestamp(float(s), UTC)
        d = datetime.fromisoformat(s)
    except (ValueError, OverflowError, OSError):
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _try_base64(s: str) -> bytes | None:
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_network(s: str, where: str) -> Network:
    try:
        return ipaddress.ip_network(s.strip(), strict=False)
    except ValueError:
        raise PolicyError(f"{where}: {s!r} is not an IP address or CIDR block") from None


@lru_cache(maxsize=4096)
def _parse_ip(s: str) -> Network | ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A context IP (or CIDR, which matches if it lies inside), parsed once per string."""
    text = s.strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


counted(lambda: _parse_ip.cache_info().currsize, 4096)


def _ip_in(s: str, nets: list[Network]) -> bool:
    ip = _parse_ip(s)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return any(ip.version == n.version and ip.subnet_of(n) for n in nets)  # type: ignore[arg-type]
    return any(ip.version == n.version and ip in n for n in nets)


__all__ = ["NO_CONDITIONS", "OPERATOR_NAMES", "Condition", "ConditionSet", "Piece",
           "compile_condition", "compile_condition_block", "compile_conditions", "is_negated",
           "split_operator"]

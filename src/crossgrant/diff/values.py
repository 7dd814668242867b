"""Condition-key values that stand for every value a request could carry.

For the conditions on one key that can apply together, the values AWS could send fall
into classes that every one of those conditions treats alike; one value per class is
enough. Each operator family has its exact classes:

- strings and ARNs (`String*`, `Arn*`, `Bool`): the regions of the patterns, found by
  the automaton in `diff.automaton` (which also covers every overlap of two `Like`
  patterns and the case variants of the `IgnoreCase` operators);
- numbers and dates: each literal, a value between each two, one below and one above;
- IP addresses: the first address of each CIDR block and the one after its end (every
  interval between those points is inside the same blocks), plus the lowest address;
- base64 blobs: each literal and one other blob;
- and, for every family, a value of the wrong type, the key absent and, for keys that
  carry several values, every set of the classes up to a bound.

A key compared by two families at once (say as a string and as a number), or a value
holding a policy variable, has no exact classes here: that is `Unprovable`.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from crossgrant.diff.automaton import Automaton, Glob
from crossgrant.diff.model import Unprovable
from crossgrant.iam import Condition
from crossgrant.iam.variables import as_tokens, has_variables, parse_template

__all__ = ["MULTI_VALUED_KEYS", "OTHER_VALUE", "CondRef", "Value", "key_values"]

# Global keys AWS documents as multivalued; any key used with ForAllValues/ForAnyValue
# is treated as multivalued too.
MULTI_VALUED_KEYS = frozenset({"aws:tagkeys", "aws:principalorgpaths", "aws:resourceorgpaths",
                               "aws:calledvia"})
MAX_SUBSET_CLASSES = 10  # a multivalued key with more classes: 2**n sets is too many

Value = tuple[str, ...] | None  # the values of one key in a request; None: absent

_FAMILY = {"String": "string", "Arn": "string", "Bool": "string", "Numeric": "numeric",
           "Date": "date", "IpAddress": "ip", "NotIpAddress": "ip", "BinaryEquals": "binary",
           "Null": "null"}
OTHER_VALUE = "crossgrant-other"  # a value no condition names
_EPOCH_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class CondRef:
    """A compiled condition and whether its document reads policy variables."""

    condition: Condition
    variables: bool


def family(base: str) -> str:
    for prefix, fam in _FAMILY.items():
        if base.startswith(prefix):
            return fam
    raise Unprovable(f"condition operator {base} is not modelled")


def key_values(key: str, conds: Sequence[CondRef]) -> tuple[Value, ...]:
    """Representative values of `key` for the conditions `conds` (all on `key`)."""
    return _key_values(key, tuple(conds))


@lru_cache(maxsize=8192)
def _key_values(key: str, conds: tuple[CondRef, ...]) -> tuple[Value, ...]:
    families = {family(c.condition.base) for c in conds} - {"null"}
    if len(families) > 1:
        raise Unprovable(f"condition key {key} is compared as {' and as '.join(sorted(families))}"
                         f"; values that are both have no exact classes here")
    fam = families.pop() if families else "null"
    real = [c for c in conds if family(c.condition.base) == fam]
    singles = _singles(key, fam, real)
    multi = key in MULTI_VALUED_KEYS or any(c.condition.qualifier for c in conds)
    out: list[Value] = [None]
    if not multi:
        out.extend((v,) for v in singles)
    else:
        classes = _distinct(key, [c.condition for c in conds], singles)
        if len(classes) > MAX_SUBSET_CLASSES:
            raise Unprovable(f"multivalued condition key {key} has {len(classes)} classes of "
                             f"values, over the bound of {MAX_SUBSET_CLASSES} (2**n sets)")
        out.append(())
        for n in range(1, len(classes) + 1):
            out.extend(itertools.combinations(classes, n))
    return _dedupe(key, [c.condition for c in conds], out)


def _distinct(key: str, conds: list[Condition], singles: Iterable[str]) -> list[str]:
    """One value per class of single values, as the conditions see them."""
    seen: dict[tuple[bool, ...], str] = {}
    for v in singles:
        ctx = {key: (v,)}
        seen.setdefault(tuple(c.test(ctx) for c in conds), v)
    return list(seen.values())


def _dedupe(key: str, conds: list[Condition], values: list[Value]) -> tuple[Value, ...]:
    """Drop values every condition treats like an earlier one. Absence is kept apart from
    every value: keys the engine derives (aws:PrincipalAccount...) are absent only in the
    request as written, and the derived value belongs to the principal."""
    seen: dict[tuple[object, ...], Value] = {}
    for v in values:
        ctx = {} if v is None else {key: v}
        sig = (v is None, v == (), *(c.test(ctx) for c in conds))
        seen.setdefault(sig, v)
    return tuple(seen.values())


def _singles(key: str, fam: str, conds: list[CondRef]) -> list[str]:
    for c in conds:
        if c.variables and any("${" in v for v in c.condition.values):
            raise Unprovable(f"condition {c.condition.operator} on {key} reads a policy "
                             f"variable ({c.condition.path or key})")
    values = [v for c in conds for v in c.condition.values]
    if fam == "string":
        return _strings(conds)
    if fam == "numeric":
        return _numbers(values)
    if fam == "date":
        return _dates(values)
    if fam == "ip":
        return _ips(values)
    if fam == "binary":
        return _blobs(values)
    return [OTHER_VALUE]  # Null only: any present value


def _strings(conds: list[CondRef]) -> list[str]:
    globs: list[Glob] = []
    for c in conds:
        base = c.condition.base
        like = base in ("StringLike", "StringNotLike") or base.startswith("Arn")
        for v in c.condition.values:
            pieces = parse_template(v, wildcards=like, variables=c.variables)
            if has_variables(pieces):
                raise Unprovable(f"condition {c.condition.operator} on {c.condition.key} "
                                 f"reads a policy variable")
            tokens = tuple(as_tokens(pieces))
            globs.append(Glob(tokens, arn=base.startswith("Arn"), strict=base.startswith("Arn"),
                              ignore_case=base.endswith("IgnoreCase") or base == "Bool"))
    seeds = [OTHER_VALUE, "true", "false"]
    for g in globs:
        seeds.extend(g.examples())
        if g.ignore_case:
            seeds.extend(s.swapcase() for s in g.examples())
    return list(Automaton(globs, max_states=20_000).regions(seeds).values())


def _number_text(x: float) -> str:
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _numbers(values: list[str]) -> list[str]:
    nums = sorted({float(v) for v in values})
    points = [nums[0] - 1, *nums, nums[-1] + 1]
    points += [(a + b) / 2 for a, b in itertools.pairwise(nums)]
    return [_number_text(x) for x in points if math.isfinite(x)] + ["not-a-number"]


def _date(text: str) -> datetime:
    if _EPOCH_RE.fullmatch(text):
        return datetime.fromtimestamp(float(text), UTC)
    d = datetime.fromisoformat(text)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _dates(values: list[str]) -> list[str]:
    dates = sorted({_date(v) for v in values})
    second = timedelta(seconds=1)
    points = [dates[0] - second, *dates, dates[-1] + second]
    points += [a + (b - a) / 2 for a, b in itertools.pairwise(dates)]
    return [d.isoformat() for d in points] + ["not-a-date"]


def _ips(values: list[str]) -> list[str]:
    nets = [ipaddress.ip_network(v.strip(), strict=False) for v in values]
    points: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for net in nets:
        points.add(net.network_address)
        after = int(net.broadcast_address) + 1
        kind = type(net.network_address)
        if after < 2 ** net.max_prefixlen:
            points.add(kind(after))
        points.add(kind(0))
    return [str(p) for p in sorted(points, key=lambda a: (a.version, int(a)))] + ["not-an-ip"]


def _blobs(values: list[str]) -> list[str]:
    known = {base64.b64decode(v, validate=True) for v in values}
    other = next(bytes([n]) * 3 for n in range(256) if bytes([n]) * 3 not in known)
    return [*values, base64.b64encode(other).decode(), "!not-base64!"]

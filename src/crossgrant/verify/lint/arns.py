"""Which resource types a Resource pattern can name, read off the action catalog.

Resource types, ARN patterns and wildcard expansions come from the catalog
(`crossgrant.iam.actions`), never from lists kept here, so the checks follow AWS's Service
Authorization Reference as the catalog does.

Matching a Resource pattern against a resource type's ARN template is the emptiness test
of the intersection of two patterns: a small product automaton over pattern positions.
Items: a literal character, one character outside a set, or any run outside a set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, cast

from crossgrant.iam.actions import (
    NO_RESOURCE_TYPE,
    ActionInfo,
    expand_action_pattern,
    known_services,
    lookup_action,
    service_resource_types,
)
from crossgrant.iam.facts import ACCOUNT_ID_RE, PARTITION_RE, REGION_RE

__all__ = [
    "account_ok",
    "action_infos",
    "applies",
    "arn_fields",
    "article",
    "classify",
    "describe",
    "example_arn",
    "partition_ok",
    "plainest_type",
    "region_ok",
    "resource_types_text",
    "wild",
]


_Item = tuple[str, str | frozenset[str]]
_NO_CHARS: Final[frozenset[str]] = frozenset()
_NOT_COLON: Final = frozenset(":")
_NOT_COLON_SLASH: Final = frozenset(":/")

# CloudWatch Logs checks log-group actions against the group ARN with ":*" appended, which
# is how the console and most policies write it.
_ALTERNATE_TEMPLATES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("logs", "log-group"): (
        "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:*",),
}


def wild(text: str) -> bool:
    return "*" in text or "?" in text or "${" in text


# What an ARN's fields may hold and still name a resource: AWS's rules (`iam.facts`), a
# pattern, or nothing where a service leaves the field empty (S3 has no region or account,
# IAM no region); "aws" is the account of AWS-owned resources (managed policies).
def partition_ok(field: str) -> bool:
    return wild(field) or bool(PARTITION_RE.fullmatch(field))


def region_ok(field: str) -> bool:
    return wild(field) or not field or bool(REGION_RE.fullmatch(field))


def account_ok(field: str) -> bool:
    return wild(field) or field in ("", "aws") or bool(ACCOUNT_ID_RE.fullmatch(field))


def _glob_items(pattern: str) -> tuple[_Item, ...]:
    """A policy Resource pattern: `*` and `?` are wildcards, `${...}` a policy variable."""
    out: list[_Item] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "$" and pattern.startswith("${", i) and "}" in pattern[i:]:
            end = pattern.index("}", i)
            inner = pattern[i + 2:end]
            if inner in ("*", "?", "$"):
                out.append(("c", inner))
            else:
                out.append(("star", _NO_CHARS))
            i = end + 1
            continue
        if c == "*":
            out.append(("star", _NO_CHARS))
        elif c == "?":
            out.append(("any", _NO_CHARS))
        else:
            out.append(("c", c))
        i += 1
    return tuple(out)


def _template_items(template: str) -> tuple[_Item, ...]:
    """A catalog ARN template: `${Var}` is one or more characters of the variable's kind."""
    out: list[_Item] = []
    for piece in re.split(r"(\$\{[^}]+\})", template):
        if piece.startswith("${") and piece.endswith("}"):
            var = piece[2:-1]
            if var in ("Region", "Account"):
                out.append(("star", _NOT_COLON))  # lenient: CG116 judges these fields
            elif var == "Partition":
                out += [("any", _NOT_COLON), ("star", _NOT_COLON)]
            elif "Path" in var or var == "ObjectName" or var.startswith(("LogGroup",
                                                                            "LogStream")):
                excl = _NOT_COLON if var.startswith("Log") else _NO_CHARS
                out += [("any", excl), ("star", excl)]
            else:
                out += [("any", _NOT_COLON_SLASH), ("star", _NOT_COLON_SLASH)]
        elif piece == "*":
            out.append(("star", _NO_CHARS))
        else:
            out.extend(("c", c) for c in piece)
    return tuple(out)


def _compatible(a: _Item, b: _Item) -> bool:
    if a[0] == "c" and b[0] == "c":
        return a[1] == b[1]
    if a[0] == "c":
        return a[1] not in cast(frozenset[str], b[1])
    if b[0] == "c":
        return b[1] not in cast(frozenset[str], a[1])
    return True  # two character classes always share a character


@lru_cache(maxsize=8192)
def _may_match(pattern: str, template: str) -> bool:
    """Could one ARN be matched both by a policy pattern and by a resource type's template?"""
    a, b = _glob_items(pattern), _template_items(template)
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i][0] == "star":
            todo.append((i + 1, j))
        if j < len(b) and b[j][0] == "star":
            todo.append((i, j + 1))
        if i < len(a) and j < len(b) and _compatible(a[i], b[j]):
            todo.append((i if a[i][0] == "star" else i + 1,
                         j if b[j][0] == "star" else j + 1))
    return False


def _templates(service: str, rtype: str) -> tuple[str, ...]:
    base = service_resource_types(service).get(rtype)
    extra = _ALTERNATE_TEMPLATES.get((service.lower(), rtype), ())
    return ((base,) if base else ()) + extra


@lru_cache(maxsize=8192)
def applies(info: ActionInfo, resource: str) -> bool:
    """Does `resource` (a Resource pattern) name something `info` can act on?"""
    if resource == "*":
        return True
    return any(_may_match(resource, t) for rtype in info.resource_types
               if rtype != NO_RESOURCE_TYPE for t in _templates(info.service, rtype))


def arn_fields(value: str) -> list[str]:
    """An ARN split into at most six fields, never inside `${...}` (a policy variable such
    as ${aws:PrincipalAccount}, or CloudFormation's ${AWS::Region}, holds colons)."""
    fields: list[str] = []
    start = depth = 0
    i = 0
    while i < len(value) and len(fields) < 5:
        if value.startswith("${", i):
            depth += 1
            i += 2
            continue
        c = value[i]
        if c == "}" and depth:
            depth -= 1
        elif c == ":" and not depth:
            fields.append(value[start:i])
            start = i + 1
        i += 1
    fields.append(value[start:])
    return fields


@lru_cache(maxsize=4096)
def classify(resource: str) -> tuple[str, ...]:
    """The catalog resource types a pattern may name, as "type" (service in the ARN)."""
    parts = arn_fields(resource)
    service = parts[2] if len(parts) > 2 else ""
    out: list[str] = []
    for prefix in known_services():
        for rtype in service_resource_types(prefix):
            ts = _templates(prefix, rtype)
            if ts and ts[0].split(":")[2] not in (service, "*") and "*" not in service:
                continue
            if any(_may_match(resource, t) for t in ts) and rtype not in out:
                out.append(rtype)
    return tuple(out)


def describe(resource: str) -> str:
    types = classify(resource)
    if not types:
        return "an ARN of no resource type crossgrant knows"
    return f"{article(types[0])} {' or '.join(types)} ARN"


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


def action_infos(value: str) -> tuple[ActionInfo, ...]:
    """The catalog's actions an Action value names (a pattern's expansion); () if unknown."""
    if "*" in value or "?" in value:
        return expand_action_pattern(value)
    info = lookup_action(value)
    return (info,) if info is not None else ()


def resource_types_text(found: Sequence[ActionInfo]) -> list[str]:
    out: list[str] = []
    for info in found:
        for t in info.resource_types:
            if t != NO_RESOURCE_TYPE and t not in out:
                out.append(t)
    return out


def example_arn(service: str, rtype: str) -> str:
    template = service_resource_types(service).get(rtype, "")
    return template.replace("${Partition}", "aws")


def plainest_type(info: ActionInfo) -> str:
    """The resource type with the simplest ARN (object over access-point object): the one
    an example should show."""
    types = resource_types_text([info])
    templates = service_resource_types(info.service)
    return min(types, key=lambda t: (templates.get(t, "").count("${"), types.index(t)),
               default=NO_RESOURCE_TYPE)

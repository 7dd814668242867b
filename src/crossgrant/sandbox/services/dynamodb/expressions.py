"""The attribute names a DynamoDB request reads or writes, for `dynamodb:Attributes`.

"Represents a list of the attribute names in a request, or the attributes that are
returned from a request" (DynamoDB developer guide, "Using IAM policy conditions for
fine-grained access control"), named as the API's parameters name them: `Item`,
`AttributesToGet`, `AttributeUpdates`, `Expected`, `QueryFilter`, `ScanFilter`, and the
attributes the expressions name, `ProjectionExpression`, `UpdateExpression`,
`ConditionExpression` and `FilterExpression`, each placeholder (`#name`) resolved through
`ExpressionAttributeNames`. A document path (`a.b[2].c`) names its top-level attribute
`a`. The key that locates an item (`Key`, a Query's key condition) is not among them: the
policy's list must hold the key attributes anyway ("you must specify the names of all of
the primary key and index key attributes").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

EXPRESSIONS = ("ProjectionExpression", "UpdateExpression", "ConditionExpression",
               "FilterExpression")
_LISTED = ("Item", "AttributeUpdates", "Expected", "QueryFilter", "ScanFilter")
# Tokens of DynamoDB's expression grammar: values are never literal (:placeholders).
_TOKEN = re.compile(r"#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\S")
_CLAUSES = frozenset({"set", "remove", "add", "delete", "and", "or", "not", "between", "in"})
_FUNCTIONS = frozenset({"size", "attribute_exists", "attribute_not_exists", "attribute_type",
                        "begins_with", "contains", "if_not_exists", "list_append"})


def expression_names(expression: str, aliases: Mapping[str, object]) -> list[str]:
    """Top-level attribute names an expression refers to, in order of appearance."""
    tokens = _TOKEN.findall(expression)
    names: list[str] = []
    nested = False  # after a ".": the next name is inside a document path
    for i, token in enumerate(tokens):
        if not (token[0] == "#" or token[0].isalpha() or token[0] == "_"):
            nested = token == "."
            continue
        if nested:
            nested = False
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        lowered = token.lower()
        if token[0] != "#" and (lowered in _CLAUSES
                                or (lowered in _FUNCTIONS and following == "(")):
            continue
        resolved = aliases.get(token) if token[0] == "#" else token
        names.append(resolved if isinstance(resolved, str) else token)
    return names


def request_attributes(spec: Mapping[str, object]) -> tuple[str, ...] | None:
    """Every attribute name the request names; None when it names none (a read of whole
    items, where the key is absent from the request context)."""
    aliases = spec.get("ExpressionAttributeNames")
    alias_map: Mapping[str, object] = aliases if isinstance(aliases, Mapping) else {}
    names: list[str] = []
    for field in _LISTED:
        value = spec.get(field)
        if isinstance(value, Mapping):
            names += [k for k in value if isinstance(k, str)]
    to_get = spec.get("AttributesToGet")
    if isinstance(to_get, list):
        names += [a for a in to_get if isinstance(a, str)]
    for field in EXPRESSIONS:
        value = spec.get(field)
        if isinstance(value, str):
            names += expression_names(value, alias_map)
    return tuple(dict.fromkeys(names)) if names else None

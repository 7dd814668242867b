"""dynamodb:LeadingKeys: the partition key value of every item a request touches.

"Represents the first key attribute of a table, in other words, the partition key" (DynamoDB
developer guide, "Using IAM policy conditions for fine-grained access control"): the
`Key` of GetItem, UpdateItem, DeleteItem and ConditionCheck, the `Item` of PutItem, every
key and item of BatchGetItem and BatchWriteItem, and the partition key equality of a
Query (on an index: the index's partition key). A Scan names no partition, so its request
has no LeadingKeys at all; AWS's tenant-isolation example leaves dynamodb:Scan out for
that reason ("Scan returns all items regardless of the leading keys").

With the table's key schema the value is always known. Without it (a table the sandbox
does not hold, which the request will not find either) only the request itself can tell:
a key with one attribute, a Query with one equality.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_EQUALITY = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")


def attribute_string(value: object) -> str | None:
    """The value of an S, N or B attribute as IAM compares it (B: its base64 text)."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in {"S", "N", "B"} and isinstance(inner, str):
            return inner
    return None


def partition_values(items: Iterable[object], attribute: str) -> tuple[str, ...] | None:
    """The partition key values of `items` (keys or whole items), in order and once each;
    None when one of them has none."""
    values: list[str] = []
    for item in items:
        value = attribute_string(item.get(attribute)) if isinstance(item, dict) else None
        if value is None:
            return None
        values.append(value)
    return tuple(dict.fromkeys(values))


def query_partition(body: Mapping[str, object], attribute: str) -> str | None:
    """The value a Query's key condition sets the partition key `attribute` to."""
    expression = body.get("KeyConditionExpression")
    if isinstance(expression, str):
        names = body.get("ExpressionAttributeNames")
        aliases = names if isinstance(names, dict) else {}
        values = body.get("ExpressionAttributeValues")
        for name, placeholder in _EQUALITY.findall(expression):
            if aliases.get(name, name) == attribute and isinstance(values, dict):
                return attribute_string(values.get(placeholder))
        return None
    conditions = body.get("KeyConditions")
    if isinstance(conditions, dict):
        condition = conditions.get(attribute)
        if isinstance(condition, dict) and condition.get("ComparisonOperator") == "EQ" \
                and isinstance(operands := condition.get("AttributeValueList"), list) \
                and len(operands) == 1:
            return attribute_string(operands[0])
    return None


# --- without the key schema: only what the request alone settles ------------------------


def single_key_value(key: object) -> str | None:
    """The partition key value of a key that has only a partition key."""
    if isinstance(key, dict) and len(key) == 1:
        return attribute_string(next(iter(key.values())))
    return None


def guessed_query_partition(body: Mapping[str, object]) -> str | None:
    """A Query's partition key value when its key condition has exactly one equality (the
    partition key must be compared with "=", the sort key may be: two leave it open)."""
    expression = body.get("KeyConditionExpression")
    if isinstance(expression, str):
        equalities = _EQUALITY.findall(expression)
        values = body.get("ExpressionAttributeValues")
        if len(equalities) == 1 and isinstance(values, dict):
            return attribute_string(values.get(equalities[0][1]))
        return None
    conditions = body.get("KeyConditions")
    if isinstance(conditions, dict):
        equal = [name for name, c in conditions.items()
                 if isinstance(c, dict) and c.get("ComparisonOperator") == "EQ"]
        if len(equal) == 1:
            return query_partition(body, equal[0])
    return None

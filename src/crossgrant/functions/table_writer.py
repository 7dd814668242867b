"""Seed 002: items written to B's table, with conditions that make retries harmless.

Every write is one conditional request, so a retried invocation or a duplicate event can
never apply a change twice nor let an old change overwrite a newer one:

- first write of an item: `attribute_not_exists(<partition key>)`;
- with a `version` (the producer's counter for that item): applied only over a lower
  stored version; the same version again is a duplicate, a lower one is stale;
- without one: applied unless the item's `last_event_id` is this write's id. The id
  defaults to the invocation's request id (which Lambda keeps across its own retries)
  and the write's position in the event.

A write whose condition fails is reported as skipped, not raised. All writes are checked
before the first is sent, so a malformed event writes nothing.

Event: {"writes": [{"key": {...}, "attributes": {...}, "op": "put"|"update",
"version": N, "event_id": "..."}], "event_id": "..."}. "put" (the default) replaces the
item; "update" sets the given attributes and keeps the others.

Environment: TARGET_TABLE (name or ARN), TARGET_ROLE_ARN and EXTERNAL_ID (assume-role
grants).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from crossgrant.functions.clients import setting, target_client

log = logging.getLogger("crossgrant.functions.table_writer")

VERSION = "version"
LAST_EVENT_ID = "last_event_id"
_OPS = ("put", "update")
_serializer = TypeSerializer()


@dataclass(frozen=True, slots=True)
class Write:
    key: dict[str, Any]
    attributes: dict[str, Any]
    op: str
    version: int | None
    event_id: str


def _numbers(value: Any) -> Any:
    """JSON floats as Decimals: DynamoDB numbers are decimal, and boto3 refuses floats."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def parse(event: dict[str, Any], request_id: str) -> list[Write]:
    writes = event.get("writes")
    if not isinstance(writes, list) or not writes:
        raise ValueError("expected {'writes': [...]} with at least one write")
    base_id = str(event.get("event_id") or request_id)
    parsed = []
    for i, raw in enumerate(writes):
        where = f"writes[{i}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: not an object")
        key, attributes = raw.get("key"), raw.get("attributes", {})
        if not isinstance(key, dict) or not 1 <= len(key) <= 2:
            raise ValueError(f"{where}.key: the item's partition (and sort) key attributes")
        if not isinstance(attributes, dict):
            raise ValueError(f"{where}.attributes: not an object")
        clash = set(attributes) & {*key, VERSION, LAST_EVENT_ID}
        if clash:
            raise ValueError(f"{where}.attributes: {sorted(clash)} are set by the writer")
        op = raw.get("op", "put")
        if op not in _OPS:
            raise ValueError(f"{where}.op: 'put' or 'update', not {op!r}")
        version = raw.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                    or version < 0):
            raise ValueError(f"{where}.version: a non-negative integer")
        parsed.append(Write(_numbers(key), _numbers(attributes), op, version,
                            str(raw.get("event_id") or f"{base_id}#{i}")))
    return parsed


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = setting("TARGET_TABLE")
    writes = parse(event, str(getattr(context, "aws_request_id", "") or "no-request-id"))
    applied: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for write in writes:
        outcome = apply(table, write)
        shown = {"key": json.loads(json.dumps(write.key, default=str)), "op": write.op}
        if outcome == "applied":
            applied.append(shown)
        else:
            skipped.append({**shown, "reason": outcome})
    return {"applied": applied, "skipped": skipped}


def _request(table: str, write: Write) -> tuple[str, dict[str, Any]]:
    first_key = next(iter(write.key))
    names = {"#pk": first_key}
    values: dict[str, Any] = {}
    guard: dict[str, Any]
    if write.version is not None:
        guard = {VERSION: write.version}
        condition = "attribute_not_exists(#pk) OR #ver < :ver"
        names["#ver"] = VERSION
        values[":ver"] = _serializer.serialize(write.version)
    else:
        guard = {LAST_EVENT_ID: write.event_id}
        condition = "attribute_not_exists(#pk) OR #eid <> :eid"
        names["#eid"] = LAST_EVENT_ID
        values[":eid"] = _serializer.serialize(write.event_id)
    key = {k: _serializer.serialize(v) for k, v in write.key.items()}
    common = {"TableName": table, "ConditionExpression": condition,
              "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    if write.op == "put":
        item = {**key, **{k: _serializer.serialize(v)
                          for k, v in {**write.attributes, **guard}.items()}}
        return "put_item", {**common, "Item": item, "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values}
    sets = []
    for i, (name, value) in enumerate({**write.attributes, **guard}.items()):
        names[f"#a{i}"] = name
        values[f":a{i}"] = _serializer.serialize(value)
        sets.append(f"#a{i} = :a{i}")
    return "update_item", {**common, "Key": key, "UpdateExpression": "SET " + ", ".join(sets),
                           "ExpressionAttributeNames": names,
                           "ExpressionAttributeValues": values}


def apply(table: str, write: Write) -> str:
    """'applied', or why not: 'duplicate' (this change is already there) or 'stale' (a
    newer one is)."""
    method, args = _request(table, write)
    try:
        getattr(target_client("dynamodb"), method)(**args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        old = exc.response.get("Item") or {}
        if write.version is not None and VERSION in old:
            stored = int(old[VERSION].get("N", "0"))
            return "duplicate" if stored == write.version else "stale"
        return "duplicate"
    return "applied"

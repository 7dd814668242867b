"""The table writer in the sandbox: conditional writes make a retried invocation, a
duplicate event and a late, older change all harmless."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from crossgrant.functions import table_writer

B = "222222222222"


@pytest.fixture
def writer(world: Any, as_function: Callable[..., None]) -> Callable[..., None]:
    def become(**env: str) -> None:
        as_function("table-writer", {"TARGET_ROLE_ARN": world.table_role,
                                     "TARGET_TABLE": world.orders, **env})
    return become


def stored(world: Any, pk: str) -> dict[str, Any] | None:
    raw = world.admin(B, "dynamodb").get_item(TableName=world.orders,
                                              Key={"pk": {"S": pk}}).get("Item")
    if raw is None:
        return None
    return {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}


def test_versions_make_retries_and_late_events_harmless(
        world: Any, writer: Any, context: Any) -> None:
    writer()
    v1 = {"writes": [{"key": {"pk": "order#1"}, "version": 1,
                      "attributes": {"status": "placed", "total": 12.5}}]}
    v2 = {"writes": [{"key": {"pk": "order#1"}, "version": 2,
                      "attributes": {"status": "shipped", "total": 12.5}}]}
    assert table_writer.handler(v1, context("table-writer"))["applied"] == [
        {"key": {"pk": "order#1"}, "op": "put"}]
    retried = table_writer.handler(v1, context("table-writer"))
    assert retried["skipped"] == [{"key": {"pk": "order#1"}, "op": "put",
                                   "reason": "duplicate"}]
    assert table_writer.handler(v2, context("table-writer"))["applied"]
    late = table_writer.handler(v1, context("table-writer"))
    assert late["skipped"][0]["reason"] == "stale"
    assert stored(world, "order#1") == {"pk": "order#1", "version": 2, "status": "shipped",
                                        "total": Decimal("12.5")}


def test_without_versions_a_lambda_retry_is_applied_once(
        world: Any, writer: Any, context: Any) -> None:
    writer()
    event = {"writes": [
        {"key": {"pk": "counter#1"}, "attributes": {"note": "first"}},
        {"key": {"pk": "counter#2"}, "op": "update", "attributes": {"note": "second"}}]}
    first = table_writer.handler(event, context("table-writer", request_id="req-7"))
    again = table_writer.handler(event, context("table-writer", request_id="req-7"))
    assert len(first["applied"]) == 2 and first["skipped"] == []
    assert again["applied"] == [] and {s["reason"] for s in again["skipped"]} == {"duplicate"}
    assert stored(world, "counter#1") == {"pk": "counter#1", "note": "first",
                                          "last_event_id": "req-7#0"}
    later = table_writer.handler(
        {"writes": [{"key": {"pk": "counter#2"}, "op": "update",
                     "attributes": {"extra": True}}]},
        context("table-writer", request_id="req-8"))
    assert later["applied"]
    assert stored(world, "counter#2") == {"pk": "counter#2", "note": "second", "extra": True,
                                          "last_event_id": "req-8#0"}


def test_a_malformed_event_writes_nothing(world: Any, writer: Any, context: Any) -> None:
    writer()
    event = {"writes": [{"key": {"pk": "never#1"}, "attributes": {"a": 1}},
                        {"key": {"pk": "never#2"}, "attributes": {"version": 3}}]}
    with pytest.raises(ValueError, match=r"writes\[1\]\.attributes"):
        table_writer.handler(event, context("table-writer"))
    assert stored(world, "never#1") is None


@pytest.mark.parametrize(("write", "message"), [
    ({"attributes": {}}, "key"),
    ({"key": {"pk": "x"}, "op": "delete"}, "op"),
    ({"key": {"pk": "x"}, "version": -1}, "version"),
    ({"key": {"pk": "x"}, "version": True}, "version"),
    ({"key": {"pk": "x"}, "attributes": {"pk": "y"}}, "set by the writer"),
])
def test_bad_writes_are_refused(write: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        table_writer.parse({"writes": [write]}, "req")


def test_a_table_outside_the_grant_is_denied(world: Any, writer: Any, context: Any) -> None:
    writer(TARGET_TABLE=world.metadata)
    with pytest.raises(ClientError) as denied:
        table_writer.handler({"writes": [{"key": {"pk": "x"}, "attributes": {"a": 1}}]},
                             context("table-writer"))
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "dynamodb:PutItem" in error["Message"]

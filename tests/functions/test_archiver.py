"""The archiver in the sandbox: content-addressed keys, a SHA-256 checksum S3 checks and
keeps, and a conditional write that turns a retry into "already archived"."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from crossgrant.functions import archiver

B = "222222222222"
RECORDS = [{"order": 1, "total": 12.5, "items": ["a", "b"]}, {"order": 2, "total": 3}]


@pytest.fixture
def archive(world: Any, as_function: Callable[..., None]) -> Callable[..., None]:
    def become(**env: str) -> None:
        as_function("archive-writer", {"TARGET_ROLE_ARN": world.archive_role,
                                       "TARGET_BUCKET": world.archive, **env})
    return become


def listing(world: Any, prefix: str = "processed/") -> list[str]:
    found = world.admin(B, "s3").list_objects_v2(Bucket=world.archive, Prefix=prefix)
    return sorted(o["Key"] for o in found.get("Contents", []))


def test_a_retry_writes_once_and_reports_it(world: Any, archive: Any, context: Any) -> None:
    archive()
    before = set(listing(world))
    first = archiver.handler({"records": RECORDS}, context("archive-writer"))
    retry = archiver.handler({"records": RECORDS}, context("archive-writer"))
    (written,), (again,) = first["archived"], retry["archived"]
    assert (written["status"], again["status"]) == ("written", "exists")
    assert written["key"] == again["key"]
    assert set(listing(world)) - before == {written["key"]}

    body = archiver.encode(RECORDS)
    digest = hashlib.sha256(body)
    assert written["key"] == f"processed/{digest.hexdigest()}.jsonl"
    assert written["checksum_sha256"] == base64.b64encode(digest.digest()).decode()
    got = world.admin(B, "s3").get_object(Bucket=world.archive, Key=written["key"],
                                          ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumSHA256"] == written["checksum_sha256"]
    assert got["ContentType"] == "application/x-ndjson"
    assert [json.loads(line) for line in body.splitlines()] == RECORDS


def test_same_records_in_another_key_order_are_the_same_archive(
        world: Any, archive: Any, context: Any) -> None:
    archive()
    reordered = [{"items": ["a", "b"], "total": 12.5, "order": 1}, {"total": 3, "order": 2}]
    assert archiver.encode(reordered) == archiver.encode(RECORDS)
    result = archiver.handler({"records": reordered}, context("archive-writer"))
    assert result["archived"][0]["key"] == archiver.archive_key("processed/",
                                                               archiver.encode(RECORDS))


def test_sqs_batch_archives_each_message_and_reports_failures(
        world: Any, archive: Any, context: Any) -> None:
    archive()
    messages = [{"eventSource": "aws:sqs", "messageId": f"m{i}", "body": body}
                for i, body in enumerate(['{"sensor": 1}', "not json", '{"sensor": 2}'])]
    result = archiver.handler({"Records": messages}, context("archive-writer"))
    assert [a["status"] for a in result["archived"]] == ["written", "written"]
    assert result["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    redelivered = archiver.handler({"Records": messages[:1]}, context("archive-writer"))
    assert redelivered["archived"][0]["status"] == "exists"


def test_writing_outside_the_granted_prefix_is_denied(world: Any, archive: Any,
                                                      context: Any) -> None:
    archive(ARCHIVE_PREFIX="raw/")
    with pytest.raises(ClientError) as denied:
        archiver.handler({"records": RECORDS}, context("archive-writer"))
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:PutObject" in denied.value.response["Error"]["Message"]
    assert listing(world, "raw/") == []


@pytest.mark.parametrize("event", [{}, {"records": []}, {"records": "x"}])
def test_malformed_events_are_errors(archive: Any, context: Any,
                                     event: dict[str, Any]) -> None:
    archive()
    with pytest.raises(ValueError):
        archiver.handler(event, context("archive-writer"))

"""DynamoDB and DynamoDB Streams requests exactly as boto3 sends them -> the checks the
sandbox makes, including cross-account table ARNs that must be forwarded as the owner."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from crossgrant.iam.actions import lookup_action
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.services import MAPPERS
from crossgrant.sandbox.services.dynamodb import operation

ME, OTHER = "111111111111", "222222222222"
REGION = "us-east-1"
CTX = MapContext(caller_account=ME, region=REGION, bucket_owner=lambda _: None)
T = f"arn:aws:dynamodb:{REGION}:{ME}:table/Orders"
U = f"arn:aws:dynamodb:{REGION}:{ME}:table/Users"
FOREIGN = f"arn:aws:dynamodb:{REGION}:{OTHER}:table/Shared"
STREAM = f"{T}/stream/2026-01-01T00:00:00.000"
KEY = {"pk": {"S": "u1"}}


Mapped = Callable[..., Operation]


@pytest.fixture(scope="module")
def mapped(mapper: Callable[..., Mapped]) -> Mapped:
    return mapper("dynamodb", operation, CTX)


@pytest.fixture(scope="module")
def streams(mapper: Callable[..., Mapped]) -> Mapped:
    return mapper("dynamodbstreams", operation, CTX)


def pairs(op: Operation) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in op.checks]


def ctx_of(check: Check) -> dict[str, object]:
    return dict(check.context)


CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]], bool]] = [
    ("get_item", {"TableName": "Orders", "Key": KEY}, [("dynamodb:GetItem", T)], False),
    ("put_item", {"TableName": "Orders", "Item": KEY}, [("dynamodb:PutItem", T)], False),
    ("update_item", {"TableName": "Orders", "Key": KEY, "UpdateExpression": "SET a = :a",
                     "ExpressionAttributeValues": {":a": {"N": "1"}}},
     [("dynamodb:UpdateItem", T)], False),
    ("delete_item", {"TableName": "Orders", "Key": KEY}, [("dynamodb:DeleteItem", T)], False),
    ("query", {"TableName": "Orders", "KeyConditionExpression": "pk = :p",
               "ExpressionAttributeValues": {":p": {"S": "u1"}}},
     [("dynamodb:Query", T)], False),
    ("scan", {"TableName": "Orders"}, [("dynamodb:Scan", T)], False),
    ("scan", {"TableName": "Orders", "IndexName": "byDate"},
     [("dynamodb:Scan", f"{T}/index/byDate")], False),
    ("create_table", {"TableName": "Orders",
                      "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                      "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                      "BillingMode": "PAY_PER_REQUEST"},
     [("dynamodb:CreateTable", T)], True),
    ("delete_table", {"TableName": "Orders"}, [("dynamodb:DeleteTable", T)], True),
    ("describe_table", {"TableName": "Orders"}, [("dynamodb:DescribeTable", T)], False),
    ("update_table", {"TableName": "Orders", "BillingMode": "PAY_PER_REQUEST"},
     [("dynamodb:UpdateTable", T)], True),
    ("list_tables", {}, [("dynamodb:ListTables", "*")], False),
    ("describe_time_to_live", {"TableName": "Orders"}, [("dynamodb:DescribeTimeToLive", T)],
     False),
    ("update_time_to_live", {"TableName": "Orders", "TimeToLiveSpecification": {
        "Enabled": True, "AttributeName": "ttl"}}, [("dynamodb:UpdateTimeToLive", T)], False),
    ("describe_continuous_backups", {"TableName": "Orders"},
     [("dynamodb:DescribeContinuousBackups", T)], False),
    ("update_continuous_backups", {"TableName": "Orders", "PointInTimeRecoverySpecification": {
        "PointInTimeRecoveryEnabled": True}}, [("dynamodb:UpdateContinuousBackups", T)], False),
    ("create_backup", {"TableName": "Orders", "BackupName": "bak"},
     [("dynamodb:CreateBackup", T)], False),
    ("describe_backup", {"BackupArn": f"{T}/backup/01"},
     [("dynamodb:DescribeBackup", f"{T}/backup/01")], False),
    ("list_backups", {}, [("dynamodb:ListBackups", "*")], False),
    ("describe_limits", {}, [("dynamodb:DescribeLimits", "*")], False),
    ("tag_resource", {"ResourceArn": T, "Tags": [{"Key": "team", "Value": "blue"}]},
     [("dynamodb:TagResource", T)], True),
    ("untag_resource", {"ResourceArn": T, "TagKeys": ["team"]},
     [("dynamodb:UntagResource", T)], True),
    ("list_tags_of_resource", {"ResourceArn": T}, [("dynamodb:ListTagsOfResource", T)], False),
    ("put_resource_policy", {"ResourceArn": T, "Policy": "{}"},
     [("dynamodb:PutResourcePolicy", T)], True),
    ("get_resource_policy", {"ResourceArn": STREAM}, [("dynamodb:GetResourcePolicy", STREAM)],
     False),
    ("delete_resource_policy", {"ResourceArn": T}, [("dynamodb:DeleteResourcePolicy", T)],
     True),
    ("describe_contributor_insights", {"TableName": "Orders", "IndexName": "byDate"},
     [("dynamodb:DescribeContributorInsights", f"{T}/index/byDate")], False),
    ("describe_kinesis_streaming_destination", {"TableName": "Orders"},
     [("dynamodb:DescribeKinesisStreamingDestination", T)], False),
    ("export_table_to_point_in_time", {"TableArn": T, "S3Bucket": "b"},
     [("dynamodb:ExportTableToPointInTime", T)], False),
    ("restore_table_from_backup", {"TargetTableName": "Users", "BackupArn": f"{T}/backup/01"},
     [("dynamodb:RestoreTableFromBackup", f"{T}/backup/01"),
      ("dynamodb:RestoreTableFromBackup", U)], True),
    ("restore_table_to_point_in_time", {"SourceTableName": "Orders", "TargetTableName": "Users"},
     [("dynamodb:RestoreTableToPointInTime", T), ("dynamodb:RestoreTableToPointInTime", U)],
     True),
]


@pytest.mark.parametrize(("method", "kwargs", "expected", "changes"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_operation_maps_to_documented_actions(mapped: Mapped, method: str, kwargs: dict[str, Any],
                                              expected: list[tuple[str, str]],
                                              changes: bool) -> None:
    op = mapped(method, **kwargs)
    assert (op.service, op.error_style) == ("dynamodb", ErrorStyle.JSON)
    assert pairs(op) == expected
    assert op.changes_state is changes
    assert op.forward_as_account is None and op.forward_body is None
    for check in op.checks:
        assert lookup_action(check.action) is not None, check.action
        assert ctx_of(check)["aws:SecureTransport"] == "false"
        assert ctx_of(check)["aws:SourceIp"] == "127.0.0.1"
        assert check.resource_account in {ME, None}


def test_item_context_leading_keys_attributes_and_return_values(mapped: Mapped) -> None:
    get = mapped("get_item", TableName="Orders", Key=KEY, ProjectionExpression="#n, a.b, c[1]",
                 ExpressionAttributeNames={"#n": "name"}, ReturnConsumedCapacity="TOTAL")
    assert ctx_of(get.checks[0])["dynamodb:LeadingKeys"] == ("u1",)
    assert ctx_of(get.checks[0])["dynamodb:Attributes"] == ("name", "a", "c")
    assert ctx_of(get.checks[0])["dynamodb:ReturnConsumedCapacity"] == "TOTAL"
    put = mapped("put_item", TableName="Orders", Item={"pk": {"S": "u1"}, "v": {"N": "2"}},
                 ReturnValues="ALL_OLD")
    assert ctx_of(put.checks[0])["dynamodb:Attributes"] == ("pk", "v")
    assert ctx_of(put.checks[0])["dynamodb:ReturnValues"] == "ALL_OLD"
    assert "dynamodb:LeadingKeys" not in ctx_of(put.checks[0])
    assert any("LeadingKeys" in note for note in put.notes)


def test_leading_keys_are_left_out_when_the_key_schema_would_be_needed(mapped: Mapped) -> None:
    composite = mapped("get_item", TableName="Orders",
                       Key={"pk": {"S": "u1"}, "sk": {"S": "2026"}})
    assert "dynamodb:LeadingKeys" not in ctx_of(composite.checks[0])
    assert any("LeadingKeys" in note for note in composite.notes)


def test_query_partition_key_comes_from_the_single_equality(mapped: Mapped) -> None:
    op = mapped("query", TableName="Orders", IndexName="byDate", Select="SPECIFIC_ATTRIBUTES",
                KeyConditionExpression="#pk = :p AND sk BETWEEN :a AND :b",
                ProjectionExpression="pk, total", ExpressionAttributeNames={"#pk": "pk"},
                ExpressionAttributeValues={":p": {"S": "u1"}, ":a": {"S": "1"},
                                           ":b": {"S": "2"}})
    check = op.checks[0]
    assert check.resource == f"{T}/index/byDate"
    context = ctx_of(check)
    assert context["dynamodb:LeadingKeys"] == ("u1",)
    assert context["dynamodb:Select"] == "SPECIFIC_ATTRIBUTES"
    assert context["dynamodb:Attributes"] == ("pk", "total")
    both = mapped("query", TableName="Orders", KeyConditionExpression="pk = :p AND sk = :s",
                  ExpressionAttributeValues={":p": {"S": "u1"}, ":s": {"S": "x"}})
    assert "dynamodb:LeadingKeys" not in ctx_of(both.checks[0])


def test_batch_operations_check_once_per_table(mapped: Mapped) -> None:
    get = mapped("batch_get_item", RequestItems={
        "Orders": {"Keys": [KEY, {"pk": {"S": "u2"}}]},
        "Users": {"Keys": [{"pk": {"S": "a"}, "sk": {"S": "b"}}]}})
    assert pairs(get) == [("dynamodb:BatchGetItem", T), ("dynamodb:BatchGetItem", U)]
    assert ctx_of(get.checks[0])["dynamodb:LeadingKeys"] == ("u1", "u2")
    assert "dynamodb:LeadingKeys" not in ctx_of(get.checks[1])
    write = mapped("batch_write_item", RequestItems={
        "Orders": [{"PutRequest": {"Item": {"pk": {"S": "u1"}, "x": {"S": "1"}}}}],
        "Users": [{"DeleteRequest": {"Key": KEY}}]})
    assert pairs(write) == [("dynamodb:BatchWriteItem", T), ("dynamodb:BatchWriteItem", U)]
    assert ctx_of(write.checks[0])["dynamodb:Attributes"] == ("pk", "x")
    assert ctx_of(write.checks[1])["dynamodb:LeadingKeys"] == ("u1",)


def test_transactions_are_authorized_item_by_item(mapped: Mapped) -> None:
    get = mapped("transact_get_items", TransactItems=[
        {"Get": {"TableName": "Orders", "Key": KEY}},
        {"Get": {"TableName": "Users", "Key": KEY}}])
    assert pairs(get) == [("dynamodb:GetItem", T), ("dynamodb:GetItem", U)]
    assert {ctx_of(c)["dynamodb:EnclosingOperation"] for c in get.checks} == {
        "TransactGetItems"}
    write = mapped("transact_write_items", TransactItems=[
        {"Put": {"TableName": "Orders", "Item": KEY}},
        {"Update": {"TableName": "Orders", "Key": KEY, "UpdateExpression": "SET a = :a",
                    "ExpressionAttributeValues": {":a": {"N": "1"}}}},
        {"Delete": {"TableName": "Users", "Key": KEY}},
        {"ConditionCheck": {"TableName": "Users", "Key": KEY,
                            "ConditionExpression": "attribute_exists(pk)"}}])
    assert pairs(write) == [("dynamodb:PutItem", T), ("dynamodb:UpdateItem", T),
                            ("dynamodb:DeleteItem", U), ("dynamodb:ConditionCheckItem", U)]
    assert {ctx_of(c)["dynamodb:EnclosingOperation"] for c in write.checks} == {
        "TransactWriteItems"}


@pytest.mark.parametrize(("statement", "action", "resource", "full_scan"), [
    ('SELECT * FROM "Orders"', "PartiQLSelect", T, True),
    ('SELECT pk FROM Orders WHERE pk = ?', "PartiQLSelect", T, False),
    ('select * from "Orders"."byDate" where pk = \'a\'', "PartiQLSelect",
     f"{T}/index/byDate", False),
    ('SELECT "FROM Users" FROM "Orders"', "PartiQLSelect", T, True),
    ("INSERT INTO \"Orders\" VALUE {'pk': 'u1'}", "PartiQLInsert", T, False),
    ("UPDATE Orders SET total = 5 WHERE pk = 'u1'", "PartiQLUpdate", T, False),
    ("DELETE FROM \"Orders\" WHERE pk = 'u1'", "PartiQLDelete", T, False),
])
def test_partiql_verb_and_table_come_from_the_statement(mapped: Mapped, statement: str, action: str,
                                                        resource: str,
                                                        full_scan: bool) -> None:
    op = mapped("execute_statement", Statement=statement)
    assert pairs(op) == [(f"dynamodb:{action}", resource)]
    assert ("dynamodb:FullTableScan" in ctx_of(op.checks[0])) is full_scan


def test_partiql_batches_and_transactions(mapped: Mapped) -> None:
    batch = mapped("batch_execute_statement", Statements=[
        {"Statement": "SELECT * FROM Orders WHERE pk = 'a'"},
        {"Statement": "DELETE FROM Users WHERE pk = 'b'"}])
    assert pairs(batch) == [("dynamodb:PartiQLSelect", T), ("dynamodb:PartiQLDelete", U)]
    assert "dynamodb:EnclosingOperation" not in ctx_of(batch.checks[0])
    transaction = mapped("execute_transaction", TransactStatements=[
        {"Statement": "UPDATE Orders SET a = 1 WHERE pk = 'a'"}])
    assert pairs(transaction) == [("dynamodb:PartiQLUpdate", T)]
    assert ctx_of(transaction.checks[0])["dynamodb:EnclosingOperation"] == "ExecuteTransaction"


@pytest.mark.parametrize("statement", [
    "SELECT * FROM Orders WHERE pk = 'a'",
    'SELECT * FROM "Orders" WHERE pk = \'a\'',
    "UPDATE Orders SET total = '5' WHERE pk = 'u1'",
    "UPDATE \"Orders\" SET total = '5' WHERE pk = 'u1'",
    "DELETE FROM \"Orders\" WHERE pk = 'u1'",
    "INSERT INTO \"Orders\" VALUE {'pk': 'u1'}",
])
def test_partiql_table_agrees_with_the_parser_moto_executes(mapped: Mapped, statement: str) -> None:
    from py_partiql_parser import DynamoDBStatementParser  # noqa: PLC0415

    tables = DynamoDBStatementParser.get_query_metadata(statement).get_table_names()
    moto_table = tables[0].strip('"')
    assert mapped("execute_statement", Statement=statement).checks[0].resource == \
        f"arn:aws:dynamodb:{REGION}:{ME}:table/{moto_table}"


@pytest.mark.parametrize("statement", [
    "SELECT * FROM Orders, Users", "EXISTS(SELECT * FROM Orders)", "SELECT 1",
    'SELECT * FROM "arn:aws:dynamodb:us-east-1:222222222222:table/Shared"',
    "UPDATE Orders.byDate SET a = 1", "DELETE Orders",
])
def test_unreadable_partiql_is_refused(mapped: Mapped, statement: str) -> None:
    with pytest.raises(UnsupportedOperation, match="ExecuteStatement"):
        mapped("execute_statement", Statement=statement)


def test_foreign_table_arn_is_forwarded_as_its_owner_with_the_plain_name(mapped: Mapped) -> None:
    op = mapped("put_item", TableName=FOREIGN, Item=KEY)
    check = op.checks[0]
    assert (check.action, check.resource, check.resource_account) == (
        "dynamodb:PutItem", FOREIGN, OTHER)
    assert op.forward_as_account == OTHER
    assert op.forward_body is not None
    forwarded = json.loads(op.forward_body)
    assert forwarded["TableName"] == "Shared"
    assert forwarded["Item"] == KEY


def test_foreign_tables_in_batches_and_transactions_are_all_renamed(mapped: Mapped) -> None:
    batch = mapped("batch_write_item", RequestItems={
        FOREIGN: [{"PutRequest": {"Item": KEY}}]})
    assert batch.forward_as_account == OTHER
    assert batch.forward_body is not None
    assert list(json.loads(batch.forward_body)["RequestItems"]) == ["Shared"]
    other = f"arn:aws:dynamodb:{REGION}:{OTHER}:table/Other"
    transact = mapped("transact_write_items", TransactItems=[
        {"Put": {"TableName": FOREIGN, "Item": KEY}},
        {"Delete": {"TableName": other, "Key": KEY}}])
    assert transact.forward_body is not None
    body = json.loads(transact.forward_body)
    assert [next(iter(i.values()))["TableName"] for i in body["TransactItems"]] == [
        "Shared", "Other"]
    assert [c.resource for c in transact.checks] == [FOREIGN, other]


def test_own_table_arn_needs_no_forwarding(mapped: Mapped) -> None:
    op = mapped("get_item", TableName=T, Key=KEY)
    assert (op.checks[0].resource, op.forward_as_account, op.forward_body) == (T, None, None)


def test_foreign_resource_arn_is_forwarded_unchanged(mapped: Mapped) -> None:
    op = mapped("put_resource_policy", ResourceArn=FOREIGN, Policy="{}")
    assert (op.forward_as_account, op.forward_body) == (OTHER, None)


@pytest.mark.parametrize(("method", "kwargs"), [
    ("batch_get_item", {"RequestItems": {FOREIGN: {"Keys": [KEY]}, "Orders": {"Keys": [KEY]}}}),
    ("get_item", {"TableName": f"arn:aws:dynamodb:eu-west-1:{OTHER}:table/Shared",
                  "Key": KEY}),
    ("get_item", {"TableName": f"arn:aws:s3:::{OTHER}", "Key": KEY}),
    ("get_item", {"TableName": "bad/name", "Key": KEY}),
    ("get_item", {"TableName": f"{FOREIGN}/index/x", "Key": KEY}),
    ("query", {"TableName": "Orders", "IndexName": "a/b"}),
    ("tag_resource", {"ResourceArn": "Orders", "Tags": [{"Key": "k", "Value": "v"}]}),
])
def test_requests_the_sandbox_cannot_serve_faithfully_are_refused(mapped: Mapped, method: str,
                                                                  kwargs: dict[str, Any]
                                                                  ) -> None:
    with pytest.raises(UnsupportedOperation, match="DynamoDB_20120810"):
        mapped(method, **kwargs)


def _raw(target: str, body: bytes, query: tuple[tuple[str, str], ...] = (),
         headers: dict[str, str] | None = None) -> HttpRequest:
    return HttpRequest("POST", "/", query, {"x-amz-target": target, **(headers or {})}, body,
                       "127.0.0.1:4566")


@pytest.mark.parametrize("req", [
    _raw("DynamoDB_20120810.GetItem",
         b'{"TableName": "Orders", "Key": {"pk": {"S": "&Action=DeleteTable&"}}}'),
    _raw("DynamoDB_20120810.GetItem", b'{"TableName": "Orders"}', (("Action", "DeleteTable"),)),
    _raw("DynamoDB_20120810.GetItem", b'{"TableName": "Orders"}', headers={"action": "X"}),
    _raw("DynamoDB_20120810.GetItem", b"not json"),
    _raw("DynamoDB_20120810.GetItem", b"[]"),
    _raw("DynamoDB_20120810.Frobnicate", b"{}"),
    _raw("DynamoDB_20111205.GetItem", b"{}"),
    _raw("DynamoDB_20120810.X.GetItem", b"{}"),
    _raw("", b"{}"),
])
def test_requests_moto_would_read_as_another_operation_are_refused(req: HttpRequest) -> None:
    with pytest.raises(UnsupportedOperation, match="POST /"):
        operation(req, CTX)


def test_streams_are_signed_as_dynamodb_and_checked_on_the_stream(
        capture: Callable[..., HttpRequest], streams: Mapped) -> None:
    req = capture("dynamodbstreams", lambda c: c.describe_stream(StreamArn=STREAM))
    assert "/dynamodb/aws4_request" in req.headers["authorization"]
    assert req.headers["x-amz-target"] == "DynamoDBStreams_20120810.DescribeStream"
    assert pairs(operation(req, CTX)) == [("dynamodb:DescribeStream", STREAM)]
    iterator = streams("get_shard_iterator", StreamArn=STREAM,
                       ShardId="shardId-00000001700000000000-00000000",
                       ShardIteratorType="TRIM_HORIZON")
    assert pairs(iterator) == [("dynamodb:GetShardIterator", STREAM)]
    listed = streams("list_streams", TableName="Orders")
    assert pairs(listed) == [("dynamodb:ListStreams", "*")]


def test_get_records_reads_the_stream_from_motos_shard_iterator(streams: Mapped) -> None:
    records = streams("get_records", ShardIterator=f"{STREAM}|1|QUJD")
    assert pairs(records) == [("dynamodb:GetRecords", STREAM)]
    foreign = f"{FOREIGN}/stream/2026-01-01T00:00:00.000"
    other = streams("get_records", ShardIterator=f"{foreign}|1|QUJD")
    assert (other.checks[0].resource, other.forward_as_account) == (foreign, OTHER)
    with pytest.raises(UnsupportedOperation):
        streams("get_records", ShardIterator="opaque-token-from-aws")


def test_create_table_with_tags_is_also_tagging(mapped: Mapped) -> None:
    op = mapped("create_table", TableName="Orders",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST", Tags=[{"Key": "team", "Value": "blue"}])
    assert pairs(op) == [("dynamodb:CreateTable", T), ("dynamodb:TagResource", T)]
    assert ctx_of(op.checks[0])["aws:RequestTag/team"] == "blue"
    assert ctx_of(op.checks[0])["aws:TagKeys"] == ("team",)


def test_every_emitted_action_is_a_known_iam_action(mapped: Mapped) -> None:
    for method, kwargs, *_ in CASES:
        for check in mapped(method, **kwargs).checks:
            assert lookup_action(check.action) is not None, check.action


def test_registered_under_the_sigv4_service_name() -> None:
    assert MAPPERS["dynamodb"] is operation

"""DynamoDB fine-grained access control as AWS enforces it: dynamodb:LeadingKeys carries
the partition key of every item a request touches, dynamodb:Attributes every attribute it
names (expressions included), and a Scan has no leading keys at all.

DynamoDB developer guide, "Using IAM policy conditions for fine-grained access control"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
the tenant-isolation policy (ForAllValues:StringEquals on dynamodb:LeadingKeys) whose
action list "does not include permissions for Scan because Scan returns all items
regardless of the leading keys", and the attribute-limiting policy on dynamodb:Attributes.
IAM User Guide, "Single-valued vs. multivalued context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
ForAllValues is true when the key is absent from the request.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

TAG = "fddb"
ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem"]


def _table(aws: Any, name: str) -> str:
    arn: str = aws.client(aws.B, "dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("tenant", "sk", "owner")],
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "byOwner", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}]}],
    )["TableDescription"]["TableArn"]
    return arn


def _s(value: str) -> dict[str, str]:
    return {"S": value}


@pytest.fixture(scope="module")
def tenants(aws: Any) -> tuple[Any, str]:
    """A role of tenant-a under AWS's tenant-isolation policy, and the table."""
    name = f"{TAG}-orders"
    arn = _table(aws, name)
    role = aws.role(aws.B, f"{TAG}-TenantA", aws.trusting(aws.B), aws.doc({
        "Sid": "FullAccessToUserItems", "Effect": "Allow", "Action": ITEM_ACTIONS,
        "Resource": [arn, f"{arn}/index/*"],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["tenant-a"]}}}))
    ddb_b = aws.client(aws.B, "dynamodb")
    ddb_b.put_item(TableName=name, Item={"tenant": _s("tenant-b"), "sk": _s("1"),
                                         "owner": _s("bob")})
    return aws.session(aws.assume(aws.B, role), "dynamodb"), name


def _denied(aws: Any, call: Any) -> None:
    with pytest.raises(ClientError) as denied:
        call()
    assert aws.error(denied)[0] == "AccessDeniedException"


def test_writes_to_another_tenants_partition_are_denied(aws: Any,
                                                        tenants: tuple[Any, str]) -> None:
    ddb, table = tenants
    mine = {"tenant": _s("tenant-a"), "sk": _s("1"), "owner": _s("alice")}
    theirs = {"tenant": _s("tenant-b"), "sk": _s("2"), "owner": _s("alice")}
    ddb.put_item(TableName=table, Item=mine)
    _denied(aws, lambda: ddb.put_item(TableName=table, Item=theirs))
    _denied(aws, lambda: ddb.update_item(
        TableName=table, Key={"tenant": _s("tenant-b"), "sk": _s("1")},
        UpdateExpression="SET #o = :o", ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": _s("eve")}))
    _denied(aws, lambda: ddb.delete_item(TableName=table,
                                         Key={"tenant": _s("tenant-b"), "sk": _s("1")}))
    _denied(aws, lambda: ddb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {**mine, "sk": _s("3")}}},
        {"PutRequest": {"Item": theirs}}]}))
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {**mine,
                                                                         "sk": _s("4")}}}]})
    _denied(aws, lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": theirs}}]))


def test_reads_of_another_tenants_partition_are_denied(aws: Any,
                                                       tenants: tuple[Any, str]) -> None:
    ddb, table = tenants
    ddb.put_item(TableName=table, Item={"tenant": _s("tenant-a"), "sk": _s("r"),
                                        "owner": _s("alice")})
    assert ddb.get_item(TableName=table, Key={"tenant": _s("tenant-a"), "sk": _s("r")})["Item"]
    _denied(aws, lambda: ddb.get_item(TableName=table,
                                      Key={"tenant": _s("tenant-b"), "sk": _s("1")}))
    _denied(aws, lambda: ddb.batch_get_item(RequestItems={table: {"Keys": [
        {"tenant": _s("tenant-a"), "sk": _s("r")}, {"tenant": _s("tenant-b"), "sk": _s("1")}]}}))
    mine = ddb.query(TableName=table, KeyConditionExpression="#t = :t AND sk > :s",
                     ExpressionAttributeNames={"#t": "tenant"},
                     ExpressionAttributeValues={":t": _s("tenant-a"), ":s": _s("0")})
    assert mine["Count"] >= 1
    _denied(aws, lambda: ddb.query(TableName=table, KeyConditionExpression="tenant = :t",
                                   ExpressionAttributeValues={":t": _s("tenant-b")}))
    # On an index the leading key is the index's own partition key.
    _denied(aws, lambda: ddb.query(TableName=table, IndexName="byOwner",
                                   KeyConditionExpression="#o = :o",
                                   ExpressionAttributeNames={"#o": "owner"},
                                   ExpressionAttributeValues={":o": _s("bob")}))
    _denied(aws, lambda: ddb.scan(TableName=table))  # not in the policy's actions


def test_a_scan_has_no_leading_keys(aws: Any, tenants: tuple[Any, str]) -> None:
    """What AWS's note warns of: a ForAllValues condition holds for a request without the
    key, so a policy that lists Scan lets it read every tenant; requiring the key with a
    Null condition closes that."""
    _, table = tenants
    arn = f"arn:aws:dynamodb:{aws.region}:{aws.B}:table/{table}"
    loose = aws.role(aws.B, f"{TAG}-LooseScan", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": "dynamodb:Scan", "Resource": arn,
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["tenant-a"]}}}))
    items = aws.session(aws.assume(aws.B, loose), "dynamodb").scan(TableName=table)["Items"]
    assert {i["tenant"]["S"] for i in items} >= {"tenant-b"}
    strict = aws.role(aws.B, f"{TAG}-StrictScan", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": "dynamodb:Scan", "Resource": arn,
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["tenant-a"]},
                      "Null": {"dynamodb:LeadingKeys": "false"}}}))
    scanner = aws.session(aws.assume(aws.B, strict), "dynamodb")
    _denied(aws, lambda: scanner.scan(TableName=table))


def test_attributes_come_from_every_expression(aws: Any) -> None:
    name = f"{TAG}-profiles"
    arn = _table(aws, name)
    aws.client(aws.B, "dynamodb").put_item(TableName=name, Item={
        "tenant": _s("t"), "sk": _s("1"), "owner": _s("o"), "public": _s("p"),
        "secret": _s("s")})
    role = aws.role(aws.B, f"{TAG}-Limited", aws.trusting(aws.B), aws.doc({
        "Sid": "LimitAccessToSpecificAttributes", "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query",
                   "dynamodb:PutItem"],
        "Resource": arn,
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": [
            "tenant", "sk", "owner", "public"]}}}))
    ddb = aws.session(aws.assume(aws.B, role), "dynamodb")
    key = {"tenant": _s("t"), "sk": _s("1")}
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET #p = :v",
                    ExpressionAttributeNames={"#p": "public"},
                    ExpressionAttributeValues={":v": _s("new")})
    values = {":v": _s("x")}
    for expression, names in (("SET secret = :v", {}),
                              ("SET #p = :v REMOVE secret", {"#p": "public"}),
                              ("SET #p = list_append(secret, :v)", {"#p": "public"})):
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        _denied(aws, lambda e=expression, k=extra: ddb.update_item(
            TableName=name, Key=key, UpdateExpression=e, ExpressionAttributeValues=values,
            **k))
    _denied(aws, lambda: ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET #p = :v",
        ConditionExpression="attribute_exists(#s)",
        ExpressionAttributeNames={"#p": "public", "#s": "secret"},
        ExpressionAttributeValues=values))
    _denied(aws, lambda: ddb.update_item(TableName=name, Key=key, AttributeUpdates={
        "secret": {"Value": _s("x"), "Action": "PUT"}}))
    got = ddb.get_item(TableName=name, Key=key, ProjectionExpression="#p, #o",
                       ExpressionAttributeNames={"#p": "public", "#o": "owner"})["Item"]
    assert set(got) == {"public", "owner"}
    _denied(aws, lambda: ddb.get_item(TableName=name, Key=key, ProjectionExpression="secret"))
    _denied(aws, lambda: ddb.put_item(TableName=name, Item={**key, "secret": _s("x")}))

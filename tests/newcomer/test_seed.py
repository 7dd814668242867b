"""`crossgrant.aws.seed` (issue 14, item 5): a grant's keys, buckets, tables and existing
execution role created in the sandbox through boto3, keys first, idempotently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crossgrant.aws.clients import Connection, from_sessions
from crossgrant.aws.seed import seed, seed_plan
from crossgrant.spec import load_grant

if TYPE_CHECKING:
    from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
TAG = "newcomer-seed"
MISSING_KEY = f"arn:aws:kms:eu-west-1:{B}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

GRANT = f"""\
name: {TAG}
source:
  account: "{A}"
  region: eu-west-1
  function: {TAG}-fn
  execution_role: {TAG}-exec
  existing_role: true
target:
  account: "{B}"
  region: eu-west-1
mode: assume-role
role:
  name: {TAG}-target
access:
  s3:
    - bucket: {TAG}-sealed
      prefixes: ["in/"]
      levels: [read, write]
      kms_key: {MISSING_KEY}
    - bucket: {TAG}-plain
      levels: [read]
  dynamodb:
    - table: {TAG}-table
      levels: [read]
      indexes: [by-date, by-user]
      streams: true
"""


@pytest.fixture(scope="module")
def grant_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp(TAG) / "grant.yaml"
    path.write_text(GRANT, encoding="utf-8")
    return path


def test_the_plan_puts_keys_first(grant_file: Path) -> None:
    assert seed_plan(load_grant(grant_file)) == [
        ("key", MISSING_KEY), ("bucket", f"{TAG}-sealed"), ("bucket", f"{TAG}-plain"),
        ("table", f"arn:aws:dynamodb:eu-west-1:{B}:table/{TAG}-table"),
        ("role", f"arn:aws:iam::{A}:role/{TAG}-exec")]


def test_seed_creates_what_the_grant_names(sandbox: Sandbox, grant_file: Path) -> None:
    grant = load_grant(grant_file)
    connection = Connection(endpoint_url=sandbox.endpoint, ca_bundle=str(sandbox.ca_bundle),
                            sandbox=True)
    accounts = from_sessions(grant, sandbox.session(A), sandbox.session(B), connection)
    done = seed(accounts)
    assert [(s.kind, s.status) for s in done] == [
        ("key", "created"), ("bucket", "created"), ("bucket", "created"),
        ("table", "created"), ("role", "created")]
    key = done[0]
    # AWS assigns key ids (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html
    # takes no KeyId): the grant's id cannot be recreated, and the note says what to do.
    assert key.name != MISSING_KEY and f"set kms_key: {key.name}" in key.note

    kms = sandbox.client(B, "kms")
    policy = json.loads(kms.get_key_policy(KeyId=key.name, PolicyName="default")["Policy"])
    # The default key policy: the account's root may administer and use the key, through
    # IAM policies. https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{B}:root"}
    assert statement["Action"] == "kms:*"

    s3 = sandbox.client(B, "s3")
    rule = s3.get_bucket_encryption(Bucket=f"{TAG}-sealed")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms" and rule["KMSMasterKeyID"] == key.name
    s3.head_bucket(Bucket=f"{TAG}-plain")

    table = sandbox.client(B, "dynamodb").describe_table(TableName=f"{TAG}-table")["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == [
        "by-date", "by-user"]
    assert table["StreamSpecification"]["StreamEnabled"] is True
    assert table.get("LatestStreamArn", "").startswith(table["TableArn"] + "/stream/")

    role = sandbox.client(A, "iam").get_role(RoleName=f"{TAG}-exec")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}

    # Again: everything is there now, the key found by its seeded-for tag.
    again = seed(accounts)
    assert [(s.kind, s.name, s.status) for s in again][:1] == [("key", key.name, "exists")]
    assert [(s.kind, s.status) for s in again][1:] == [
        ("bucket", "exists"), ("bucket", "exists"), ("table", "exists"), ("role", "exists")]

"""What a grant expects to exist before its deploy, created in a sandbox (`sandbox seed`).

crossgrant deploys access, never data stores: in real accounts the buckets, tables and keys
a grant names are someone's and exist already, and `deploy` refuses to invent them. A fresh
sandbox has none, so the first deploy of the README's flow would fail. `seed` creates them
in the grant's target account, the way their owners would have:

- each KMS key an s3 entry names, first (the buckets are encrypted with it), with the
  policy KMS gives a key by default, which lets the account (its IAM policies)
  administer and use it. AWS chooses key ids, so a key the grant names by an id that
  does not exist cannot be created under that id: a new key is created, and the report
  says to put its ARN in the grant;
- each bucket, with the grant's SSE-KMS default encryption when its entry names a key
  (S3's default, SSE-S3, otherwise) and Object Ownership BucketOwnerEnforced (S3's
  default for new buckets, and what grants require);
- each table, keyed by `pk` (a string), with the indexes its entry names (each keyed by
  `<index>-pk`) and a stream when the entry reads streams;
- an execution role declared `existing_role: true`, trusted by Lambda, in the (first)
  source account.

What exists already is left as it is (reported "exists"). Only the sandbox should be
seeded: the CLI offers it there alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.clients import Accounts, AwsError, Connection, answer, connect, error_code
from crossgrant.errors import CrossgrantError
from crossgrant.iam.arn import parse_arn, role_arn
from crossgrant.iam.facts import default_key_policy
from crossgrant.sandbox import protocol
from crossgrant.spec.model import Grant

__all__ = ["Seeded", "sandbox_accounts", "seed", "seed_plan"]

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
_SEEDED_FOR = "crossgrant:seeded-for"  # the tag naming the key ARN a seeded key stands for
_EXISTS = frozenset({"BucketAlreadyOwnedByYou", "ResourceInUseException", "EntityAlreadyExists",
                     "TableAlreadyExistsException"})


@dataclass(frozen=True, slots=True)
class Seeded:
    """One thing seeded: its kind (key, bucket, table, role), name (key ARN, bucket name,
    table ARN, role ARN), whether it was created or existed, and what to know about it."""

    kind: str
    name: str
    status: str  # "created" | "exists"
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    indexes: tuple[str, ...]
    stream: bool


def _tables(grant: Grant) -> Iterator[_Table]:
    """One table per name (two entries may name one table), indexes and stream merged."""
    merged: dict[str, _Table] = {}
    for t in grant.dynamodb:
        seen = merged.get(t.table, _Table(t.table, (), False))
        named = tuple(i for i in t.indexes if i != "*")
        merged[t.table] = _Table(t.table, tuple(dict.fromkeys((*seen.indexes, *named))),
                                 seen.stream or t.streams)
    return iter(merged.values())


def seed_plan(grant: Grant) -> list[tuple[str, str]]:
    """(kind, name) of everything `seed` makes sure of, in the order it does it."""
    out: list[tuple[str, str]] = [("key", k) for k in dict.fromkeys(
        a.kms_key_arn for a in grant.s3 if a.kms_key_arn)]
    out += [("bucket", b) for b in dict.fromkeys(a.bucket for a in grant.s3)]
    out += [("table", grant.table_arn(t.name)) for t in _tables(grant)]
    if grant.source.existing_role:
        out.append(("role", grant.execution_role_arn))
    return out


def _call(what: str, call: Any, **kwargs: Any) -> bool:
    """Make `call`; True if it created something, False if it existed already."""
    try:
        call(**kwargs)
    except ClientError as exc:
        if error_code(exc) in _EXISTS:
            return False
        raise AwsError(f"{what}: {answer(exc)}", code=error_code(exc)) from None
    return True


def _find_key(kms: Any, arn: str) -> tuple[str, bool] | None:
    """The key `arn` (True), else one an earlier seed made for it (False), else None.

    ListKeys, not DescribeKey: a key that does not exist has no key policy to allow a
    DescribeKey, and the answer would be AccessDenied rather than NotFound."""
    try:
        listed = [str(k["KeyArn"]) for page in kms.get_paginator("list_keys").paginate()
                  for k in page.get("Keys", [])]
        if arn in listed:
            return arn, True
        for key in listed:
            if {"TagKey": _SEEDED_FOR, "TagValue": arn} in _tags(kms, key):
                return key, False
    except ClientError as exc:
        raise AwsError(f"key {arn}: {answer(exc)}", code=error_code(exc)) from None
    return None


def _tags(kms: Any, key: str) -> list[dict[str, str]]:
    """A listed key's tags; none for a key deleted between the listing and this call."""
    try:
        return list(kms.list_resource_tags(KeyId=key).get("Tags", []))
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return []
        raise


def _key(accounts: Accounts, arn: str) -> Seeded:
    kms = accounts.target.client("kms", parse_arn(arn).region or None)
    found = _find_key(kms, arn)
    if found is not None and found[1]:
        return Seeded("key", arn, "exists")
    if found is not None:
        new, status = found[0], "exists"
    else:
        made = kms.create_key(Policy=json.dumps(default_key_policy(accounts.grant.target.account)),
                              Description=f"crossgrant sandbox seed for {accounts.grant.name}",
                              Tags=[{"TagKey": _SEEDED_FOR, "TagValue": arn}])
        new, status = str(made["KeyMetadata"]["Arn"]), "created"
    return Seeded("key", new, status,
                  f"AWS chooses key ids, so {arn} could not be created under its own id: "
                  f"set kms_key: {new} in {accounts.grant.path}")


def _bucket(accounts: Accounts, bucket: str, key: str | None) -> Seeded:
    grant = accounts.grant
    s3 = accounts.target.client("s3")
    region = grant.target.region
    config = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    created = _call(f"bucket {bucket}", s3.create_bucket, Bucket=bucket,
                    ObjectOwnership="BucketOwnerEnforced", **config)
    if key is not None:
        _call(f"bucket {bucket} encryption", s3.put_bucket_encryption, Bucket=bucket,
              ServerSideEncryptionConfiguration={"Rules": [{
                  "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                         "KMSMasterKeyID": key},
                  "BucketKeyEnabled": True}]})
    return Seeded("bucket", bucket, "created" if created else "exists",
                  f"SSE-KMS with {key}" if key else "")


def _table(accounts: Accounts, table: _Table) -> Seeded:
    arn = accounts.grant.table_arn(table.name)
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    spec: dict[str, Any] = {
        "TableName": table.name, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}
    if table.indexes:
        attributes += [{"AttributeName": f"{i}-pk", "AttributeType": "S"}
                       for i in table.indexes]
        spec["GlobalSecondaryIndexes"] = [
            {"IndexName": i, "KeySchema": [{"AttributeName": f"{i}-pk", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}} for i in table.indexes]
    if table.stream:
        spec["StreamSpecification"] = {"StreamEnabled": True,
                                       "StreamViewType": "NEW_AND_OLD_IMAGES"}
    created = _call(f"table {arn}", accounts.target.client("dynamodb").create_table,
                    AttributeDefinitions=attributes, **spec)
    parts = [f"indexes {', '.join(table.indexes)}" if table.indexes else "",
             "stream" if table.stream else ""]
    return Seeded("table", arn, "created" if created else "exists",
                  ", ".join(p for p in parts if p))


def _role(accounts: Accounts, account: str) -> Seeded:
    grant = accounts.grant
    name = grant.source.execution_role
    arn = role_arn(account, name)
    iam = accounts.session(account).client("iam")
    created = _call(f"role {arn}", iam.create_role, RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
                    Description=f"crossgrant sandbox seed: {grant.source.function}'s "
                                f"execution role")
    return Seeded("role", arn, "created" if created else "exists",
                  "existing_role: true, so deploy only adds the grant's policy to it")


def sandbox_accounts(grant: Grant, info: protocol.Info) -> Accounts:
    """Both accounts of `grant` as their administrators in the running sandbox `info`
    (its credentials file and CA), checked against the grant."""
    for side, account in (("source", grant.source.account), ("target", grant.target.account)):
        if account not in info.accounts:
            raise CrossgrantError(f"{grant.path}: the {side} account {account} is not one of "
                                  f"the sandbox's ({', '.join(info.accounts)})")
    connection = Connection(endpoint_url=info.endpoint, ca_bundle=str(info.ca_bundle),
                            credentials_file=str(info.credentials_file), region=info.region,
                            sandbox=True)
    return connect(grant, connection, source_profile=info.profile(grant.source.account),
                   target_profile=info.profile(grant.target.account))


def seed(accounts: Accounts) -> list[Seeded]:
    """Create what `accounts.grant` expects to exist, keys first (see the module)."""
    grant = accounts.grant
    out: list[Seeded] = []
    keys: dict[str, str] = {}  # the grant's key ARN -> the key to encrypt with
    for kind, name in seed_plan(grant):
        if kind == "key":
            done = _key(accounts, name)
            keys[name] = done.name
        elif kind == "bucket":
            named = next((a.kms_key_arn for a in grant.s3
                          if a.bucket == name and a.kms_key_arn), None)
            done = _bucket(accounts, name, keys.get(named) if named else None)
        elif kind == "table":
            table = next(t for t in _tables(grant) if grant.table_arn(t.name) == name)
            done = _table(accounts, table)
        else:
            done = _role(accounts, parse_arn(name).account)
        out.append(done)
    return out

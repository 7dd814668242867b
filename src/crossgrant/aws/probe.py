"""`crossgrant probe`: exercise the deployed access for real and report AWS's answers.

`verify` proves the documents offline; the probe asks AWS itself, as the function would:
it becomes the execution role (if the caller is not already it and the role's trust lets
the caller in; a Lambda execution role normally trusts only Lambda, and then, in the
sandbox, the sandbox's Lambda runner assumes it as `lambda.amazonaws.com` for the probe,
while in AWS the probe says it must run as that role), assumes the target role in
assume-role mode, and calls
HeadBucket and ListObjectsV2 under each prefix, DescribeTable, and DescribeStream. Writes
are probed without leaving anything behind where possible: a DynamoDB PutItem whose
condition can never hold is authorized first and then refused on its condition, so
`ConditionalCheckFailedException` proves the permission and writes nothing. An S3 write
cannot be probed that way, so it needs `--write` (a small object under the prefix,
deleted again if the grant allows deleting).

A probe that could not exercise any of the grant's access (every check skipped) has
proved nothing, and says so: it is not ok.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from crossgrant.aws.clients import (
    Accounts,
    AccountSession,
    AwsError,
    answer,
    error_code,
    is_access_denied,
)
from crossgrant.aws.functions import control
from crossgrant.aws.lambda_session import HANDLER
from crossgrant.aws.policies import Timing
from crossgrant.aws.propagation import execution_session
from crossgrant.iam.arn import parse_arn
from crossgrant.render.artifacts import Artifacts
from crossgrant.sandbox import protocol
from crossgrant.serial import OMIT
from crossgrant.spec.model import Mode, S3Level, TableLevel

SESSION_NAME = "crossgrant-probe"
PROBE_DIR = "crossgrant-probe/"
LAMBDA_SERVICE = "lambda.amazonaws.com"


@dataclass(frozen=True, slots=True)
class ProbeStep:
    call: str  # the API call: "AssumeRole", "HeadBucket", ...
    principal: str
    resource: str
    status: str  # "ok", "denied", "failed", "skipped"
    answer: str  # AWS's answer, or why the step was skipped
    # Does the step exercise the grant's access? Not so: who the caller is, and becoming
    # the execution role (what the function is given, not what the grant grants).
    check: bool = field(default=True, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class ProbeReport:
    grant: str
    steps: tuple[ProbeStep, ...]

    @property
    def ok(self) -> bool:
        """No step was denied or failed, and at least one check of the grant's access was
        made (skipped steps do not count either way)."""
        return all(s.status in ("ok", "skipped") for s in self.steps) and \
            self.nothing_exercised is None

    @property
    def exercised(self) -> int:
        return sum(1 for s in self.steps if s.status != "skipped")

    @property
    def nothing_exercised(self) -> str | None:
        """Why no check of the grant's access ran, when none did."""
        checks = [s for s in self.steps if s.check]
        if any(s.status != "skipped" for s in checks):
            return None
        skipped = [s for s in self.steps if s.status == "skipped"]
        reasons = [s.answer for s in skipped if not s.check][:1] or \
            list(dict.fromkeys(s.answer for s in skipped))
        return "nothing was exercised" + (f": {'; '.join(reasons)}" if reasons else "")

    def __json__(self) -> dict[str, Any]:
        """With the verdict and the count, so a script need not recompute them; when no
        check ran, the reason as `error`."""
        out: dict[str, Any] = {"grant": self.grant, "ok": self.ok,
                               "exercised": self.exercised, "steps": self.steps}
        if self.nothing_exercised is not None:
            out["error"] = self.nothing_exercised
        return out


class LambdaRefusedError(AwsError):
    """The sandbox's Lambda runner could not assume the execution role."""


def _control(accounts: Accounts, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = accounts.connection
    assert conn.control_url is not None and conn.control_token is not None
    return control(conn.control_url, conn.control_token, conn.ca_bundle, method, path, body)


def _refusal(got: Any) -> str:
    if not isinstance(got, dict):
        return str(got)
    text = f"{got.get('__type', '?')}: {got.get('message', '')}"
    return f"{text} ({got['Reason']})" if got.get("Reason") else text


def as_lambda(accounts: Accounts, role_arn: str) -> AccountSession:
    """A session of `role_arn` as Lambda gets one, from the sandbox's own Lambda runner:
    a function of this module's handler is registered under the role, invoked once
    through the control API and removed again. LambdaRefusedError when the runner
    could not assume the role (its trust policy does not let Lambda in)."""
    name = f"crossgrant-probe-{uuid.uuid4().hex[:12]}"
    spec = {"name": name, "handler": HANDLER, "role_arn": role_arn, "timeout": 30}
    status, got = _control(accounts, "POST", protocol.FUNCTIONS, spec)
    if status >= 400:
        raise AwsError(f"the sandbox did not register the probe's function: {_refusal(got)}")
    try:
        status, got = _control(accounts, "POST", f"{protocol.INVOKE}/{name}", {})
    finally:
        _control(accounts, "DELETE", f"{protocol.FUNCTIONS}/{name}")
    if status >= 400:
        raise LambdaRefusedError(_refusal(got), code=str(got.get("__type", ""))
                                 if isinstance(got, dict) else "")
    creds = got.get("Payload") if isinstance(got, dict) else None
    if not isinstance(creds, dict) or got.get("FunctionError") or \
            not creds.get("AWS_ACCESS_KEY_ID"):
        raise AwsError(f"the sandbox's Lambda runner gave the probe no session for "
                       f"{role_arn}")
    session = boto3.Session(aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=creds["AWS_SESSION_TOKEN"],
                            region_name=accounts.source.region)
    return AccountSession(session, label=f"role {role_arn} (assumed by Lambda)",
                          connection=accounts.connection, region=accounts.source.region,
                          expected_account=parse_arn(role_arn).account)


class _Prober:
    def __init__(self, artifacts: Artifacts, accounts: Accounts, write: bool) -> None:
        self.artifacts = artifacts
        self.grant = artifacts.grant
        self.accounts = accounts
        self.write = write
        self.steps: list[ProbeStep] = []

    def call(self, name: str, who: str, resource: str, fn: Callable[[], str],
             ok_codes: tuple[str, ...] = ()) -> bool:
        try:
            text = fn()
        except ClientError as exc:
            if error_code(exc) in ok_codes:
                self.steps.append(ProbeStep(name, who, resource, "ok", answer(exc)))
                return True
            status = "denied" if is_access_denied(exc) else "failed"
            self.steps.append(ProbeStep(name, who, resource, status, answer(exc)))
            return False
        except BotoCoreError as exc:
            self.steps.append(ProbeStep(name, who, resource, "failed", str(exc)))
            return False
        self.steps.append(ProbeStep(name, who, resource, "ok", text))
        return True

    def skip(self, name: str, who: str, resource: str, why: str, *, check: bool = True) -> None:
        self.steps.append(ProbeStep(name, who, resource, "skipped", why, check))

    def _as_lambda(self, how: str) -> AccountSession | None:
        """Where the caller may not become the execution role: in the sandbox, as the
        sandbox's Lambda runner gets it; elsewhere the probe must run as that role."""
        g = self.grant
        caller = self.accounts.source.identity().arn
        conn = self.accounts.connection
        if not (conn.sandbox and conn.control_url and conn.control_token):
            self.skip("AssumeRole", caller, g.execution_role_arn,
                      f"{how}; the probe needs to run as the execution role", check=False)
            self._skip_access("the probe needs to run as the execution role")
            return None
        try:
            session = as_lambda(self.accounts, g.execution_role_arn)
        except LambdaRefusedError as exc:
            denied = "AccessDenied" in str(exc) or exc.code == "InvalidParameterValueException"
            self.steps.append(ProbeStep("AssumeRole", LAMBDA_SERVICE, g.execution_role_arn,
                                        "denied" if denied else "failed", str(exc)))
            self._skip_access("Lambda could not assume the execution role")
            return None
        self.steps.append(ProbeStep(
            "AssumeRole", LAMBDA_SERVICE, g.execution_role_arn, "ok",
            f"assumed by the sandbox's Lambda runner, as Lambda would ({how})", check=False))
        return session

    def run(self, timing: Timing) -> ProbeReport:
        g = self.grant
        caller = self.accounts.source.identity()
        self.steps.append(ProbeStep("GetCallerIdentity", caller.arn, "", "ok",
                                    f"account {caller.account}", check=False))
        try:
            exec_session, how = execution_session(self.artifacts, self.accounts, timing,
                                                  SESSION_NAME)
        except ClientError as exc:
            self.steps.append(ProbeStep("AssumeRole", caller.arn, g.execution_role_arn,
                                        "denied" if is_access_denied(exc) else "failed",
                                        answer(exc), check=False))
            self._skip_access("the execution role could not be assumed")
            return self.report()
        if exec_session is None:
            exec_session = self._as_lambda(how)
            if exec_session is None:
                return self.report()
        elif exec_session is not self.accounts.source:
            self.steps.append(ProbeStep("AssumeRole", caller.arn, g.execution_role_arn, "ok",
                                        how, check=False))
        actor = exec_session
        if g.mode is Mode.ASSUME_ROLE:
            target_arn = g.target_role_arn
            assert target_arn is not None
            assumed: list[AccountSession] = []

            def assume() -> str:
                assumed.append(exec_session.assume(
                    target_arn, session_name=SESSION_NAME, external_id=g.target.external_id,
                    source_identity=g.source.function))
                return f"session {assumed[0].identity().arn}"
            if not self.call("AssumeRole", g.execution_role_arn, target_arn, assume):
                self._skip_access(f"{target_arn} could not be assumed")
                return self.report()
            actor = assumed[0]
        self._s3(actor)
        self._tables(actor)
        return self.report()

    def report(self) -> ProbeReport:
        return ProbeReport(self.grant.name, tuple(self.steps))

    def _skip_access(self, why: str) -> None:
        for access in self.grant.s3:
            self.skip("HeadBucket", "", access.bucket, why)
        for table in self.grant.dynamodb:
            self.skip("DescribeTable", "", self.grant.table_arn(table.table), why)

    def _s3(self, actor: AccountSession) -> None:
        who = actor.identity().arn
        s3 = actor.client("s3", self.grant.target.region)
        for access in self.grant.s3:
            bucket = access.bucket
            if S3Level.LIST in access.levels:
                if "" in access.prefixes:
                    self.call("HeadBucket", who, bucket, partial(_head_bucket, s3, bucket))
                else:  # s3:ListBucket is granted under the prefixes only (s3:prefix)
                    self.skip("HeadBucket", who, bucket, "not granted: the list level is "
                                                         "limited to prefixes, and HeadBucket "
                                                         "names none")
                for prefix in access.prefixes:
                    def listing(b: str = bucket, p: str = prefix) -> str:
                        got = s3.list_objects_v2(Bucket=b, Prefix=p, MaxKeys=100)
                        return f"{_status(got)}: {got.get('KeyCount', 0)} key(s) under " \
                               f"{p or '/'}"
                    self.call("ListObjectsV2", who, f"{bucket}/{prefix}", listing)
            else:
                self.skip("HeadBucket", who, bucket,
                          "not granted: HeadBucket and ListObjectsV2 need the list level")
            if S3Level.WRITE in access.levels:
                self._s3_write(s3, who, bucket, access.prefixes[0], access.levels)

    def _s3_write(self, s3: Any, who: str, bucket: str, prefix: str,
                  levels: frozenset[S3Level]) -> None:
        key = f"{prefix}{PROBE_DIR}{uuid.uuid4().hex}.txt"
        if not self.write:
            self.skip("PutObject", who, f"{bucket}/{prefix}",
                      "pass --write to put (and, where the grant allows, delete) a probe "
                      "object")
            return
        if not self.call("PutObject", who, f"{bucket}/{key}", lambda: _status(s3.put_object(
                Bucket=bucket, Key=key, Body=b"crossgrant probe\n",
                ContentType="text/plain"))):
            return
        if S3Level.READ in levels:
            def get() -> str:
                got = s3.get_object(Bucket=bucket, Key=key)
                return f"{_status(got)}: {len(got['Body'].read())} bytes"
            self.call("GetObject", who, f"{bucket}/{key}", get)
        if S3Level.DELETE in levels:
            self.call("DeleteObject", who, f"{bucket}/{key}",
                      lambda: _status(s3.delete_object(Bucket=bucket, Key=key)))
        else:
            self.skip("DeleteObject", who, f"{bucket}/{key}",
                      "not granted: the probe object stays (the grant has no delete level)")

    def _tables(self, actor: AccountSession) -> None:
        who = actor.identity().arn
        region = self.grant.target.region
        ddb = actor.client("dynamodb", region)
        admin = self.accounts.target.client("dynamodb", region)
        for access in self.grant.dynamodb:
            arn = self.grant.table_arn(access.table)
            if TableLevel.READ in access.levels:
                self.call("DescribeTable", who, arn, partial(_describe_table, ddb, arn))
            else:
                self.skip("DescribeTable", who, arn, "not granted: DescribeTable is part of "
                                                     "the read level")
            try:
                table = admin.describe_table(TableName=arn)["Table"]
            except (ClientError, BotoCoreError) as exc:
                self.skip("PutItem", who, arn, f"the table's key schema could not be read "
                                               f"with the target credentials: {answer(exc)}")
                continue
            if TableLevel.WRITE in access.levels:
                self._conditional_put(ddb, who, arn, table)
            if access.streams:
                stream = table.get("LatestStreamArn")
                if stream:
                    self.call("DescribeStream", who, stream, partial(
                        _describe_stream, actor.client("dynamodbstreams", region), stream))
                else:
                    self.skip("DescribeStream", who, arn, "the table has no stream")

    def _conditional_put(self, ddb: Any, who: str, arn: str, table: dict[str, Any]) -> None:
        types = {a["AttributeName"]: a["AttributeType"]
                 for a in table.get("AttributeDefinitions", [])}
        item: dict[str, Any] = {}
        for key in table.get("KeySchema", []):
            name = key["AttributeName"]
            kind = types.get(name, "S")
            value = {"S": "crossgrant-probe", "N": "0", "B": b"crossgrant-probe"}.get(kind)
            item[name] = {kind: value}
        hash_key = next((k["AttributeName"] for k in table.get("KeySchema", [])
                         if k["KeyType"] == "HASH"), None)
        if hash_key is None:
            self.skip("PutItem", who, arn, "the table has no hash key?")
            return

        def put() -> str:
            ddb.put_item(TableName=arn, Item=item,
                         ConditionExpression="attribute_exists(#k) AND attribute_not_exists(#k)",
                         ExpressionAttributeNames={"#k": hash_key})
            return "written?! the impossible condition held"
        self.call("PutItem", who, arn, put, ok_codes=("ConditionalCheckFailedException",))


def _head_bucket(s3: Any, bucket: str) -> str:
    return _status(s3.head_bucket(Bucket=bucket))


def _describe_table(ddb: Any, arn: str) -> str:
    return f"TableStatus {ddb.describe_table(TableName=arn)['Table'].get('TableStatus')}"


def _describe_stream(streams: Any, arn: str) -> str:
    got = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    return f"StreamStatus {got.get('StreamStatus')}"


def _status(response: dict[str, Any]) -> str:
    code = response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return f"{code} OK" if code in (200, 204) else f"HTTP {code}"


def probe(artifacts: Artifacts, accounts: Accounts, *, write: bool = False,
          timing: Timing | None = None) -> ProbeReport:
    """Run the live checks; raises only for credentials that do not work at all."""
    accounts.check()
    return _Prober(artifacts, accounts, write).run(timing or Timing(timeout=0))


__all__ = ["LambdaRefusedError", "ProbeReport", "ProbeStep", "as_lambda", "probe"]

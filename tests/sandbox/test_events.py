"""S3 event notifications in the sandbox: a bucket's LambdaFunctionConfigurations (set with
boto3 like in AWS) deliver one AWS-format record per matching write or delete to the
registered function, asynchronously; and 8 workers writing 1,000 objects lose and
duplicate nothing."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from crossgrant.sandbox.events import S3Events, event_key
from crossgrant.sandbox.lambdas import FunctionSpec, Runner
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
CFG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
TAG = "evt"  # names unique to this module: moto's backends are shared per process
HANDLERS = Path(__file__).parent / "handlers"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A sandbox of this module's own: the load test resizes its runner's pool to 8
    workers, which the session's sandbox should not keep for every later test."""
    sandbox = Sandbox(port=0, accounts=(A, B), region=REGION).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def events(sb: Sandbox) -> S3Events:
    return sb.control.events


def client(sb: Sandbox, account: str, service: str) -> Any:
    return sb.client(account, service, config=CFG)


def make_role(sb: Sandbox, account: str, name: str, actions: list[str] | None = None,
              resource: str = "*") -> str:
    iam = client(sb, account, "iam")
    arn: str = iam.create_role(RoleName=name,
                               AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    if actions:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}))
    return arn


def make_bucket(sb: Sandbox, account: str, name: str) -> None:
    client(sb, account, "s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


def notify(sb: Sandbox, account: str, bucket: str, *configs: dict[str, Any]) -> None:
    client(sb, account, "s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": list(configs)})


def fn_config(arn: str, events: list[str], *, prefix: str | None = None,
              suffix: str | None = None, id_: str = "cfg") -> dict[str, Any]:
    config: dict[str, Any] = {"Id": id_, "LambdaFunctionArn": arn, "Events": events}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    return config


@pytest.fixture(scope="module")
def recorder(sb: Sandbox, runner: Runner) -> FunctionSpec:
    """A's function that answers with the record it was given."""
    role = make_role(sb, A, f"{TAG}-recorder")
    return runner.register(FunctionSpec(f"{TAG}-recorder", "writer.record", role,
                                        code_dir=str(HANDLERS)))


def settle(events: S3Events, bucket: str, count: int) -> list[Any]:
    assert events.wait(30, count=None)
    deadline = time.monotonic() + 30
    while len(events.deliveries(bucket)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events.wait(30)
    return events.deliveries(bucket)


def test_event_key_encoding_is_s3s() -> None:
    assert event_key("in/red flower.jpg") == "in/red+flower.jpg"
    assert event_key("a+b=c&d~e*f(1).jpg") == "a%2Bb%3Dc%26d%7Ee*f%281%29.jpg"
    assert event_key("dt=2024-01-01/é.png") == "dt%3D2024-01-01/%C3%A9.png"


def test_put_object_delivers_one_aws_shaped_record(
        sb: Sandbox, events: S3Events, recorder: FunctionSpec) -> None:
    bucket = f"{TAG}-images"
    make_bucket(sb, A, bucket)
    notify(sb, A, bucket, fn_config(recorder.arn, ["s3:ObjectCreated:*"], id_="thumbs"))
    # moto keeps the configuration with our function's ARN as given.
    got = client(sb, A, "s3").get_bucket_notification_configuration(Bucket=bucket)
    assert got["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == recorder.arn

    key = "uploads/red flower+1~.jpg"
    put = client(sb, A, "s3").put_object(Bucket=bucket, Key=key, Body=b"x" * 1234)
    [delivery] = settle(events, bucket, 1)
    assert delivery.status == "succeeded" and len(delivery.invocation.attempts) == 1
    assert delivery.result == {"key": "uploads/red+flower%2B1%7E.jpg",
                               "event": "ObjectCreated:Put", "size": 1234,
                               "function": recorder.name}
    record = delivery.event["Records"][0]
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION and record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z")
    admin = client(sb, A, "iam").get_user(UserName="crossgrant-admin")["User"]
    assert record["userIdentity"]["principalId"] == f"AWS:{admin['UserId']}"
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0" and s3["configurationId"] == "thumbs"
    assert s3["bucket"]["name"] == bucket and s3["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert s3["bucket"]["ownerIdentity"]["principalId"]
    assert s3["object"]["key"] == "uploads/red+flower%2B1%7E.jpg"
    assert urllib.parse.unquote_plus(s3["object"]["key"]) == key
    assert s3["object"]["size"] == 1234
    assert s3["object"]["eTag"] == put["ETag"].strip('"')
    assert len(s3["object"]["sequencer"]) == 18
    # The delivery is in the audit log, as S3's call to Lambda would be in CloudTrail.
    delivered = [r for r in sb.audit.records if r.principal == "s3.amazonaws.com"
                 and r.resource == recorder.arn and key in (r.deciding or "")]
    assert len(delivered) == 1 and delivered[0].decision == "Delivered"


def test_prefix_and_suffix_filters_are_respected(
        sb: Sandbox, events: S3Events, recorder: FunctionSpec) -> None:
    bucket = f"{TAG}-filtered"
    make_bucket(sb, A, bucket)
    notify(sb, A, bucket, fn_config(recorder.arn, ["s3:ObjectCreated:Put"], prefix="in/",
                                    suffix=".jpg"))
    s3 = client(sb, A, "s3")
    for key in ("out/a.jpg", "in/b.png", "in/c.jpg", "in/d.JPG", "ina.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    s3.copy_object(Bucket=bucket, Key="in/copy.jpg", CopySource={"Bucket": bucket,
                                                                  "Key": "in/c.jpg"})
    s3.delete_object(Bucket=bucket, Key="in/c.jpg")  # ObjectRemoved: not configured
    deliveries = settle(events, bucket, 1)
    assert [(d.key, d.event_name) for d in deliveries] == [("in/c.jpg", "ObjectCreated:Put")]


def test_each_write_and_delete_kind_has_its_event_name(
        sb: Sandbox, events: S3Events, recorder: FunctionSpec) -> None:
    bucket = f"{TAG}-kinds"
    make_bucket(sb, A, bucket)
    notify(sb, A, bucket, fn_config(recorder.arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]))
    s3 = client(sb, A, "s3")
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="c")
    part = s3.upload_part(Bucket=bucket, Key="c", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"c" * 10)
    s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"}]})
    deliveries = settle(events, bucket, 6)
    assert sorted((d.key, d.event_name) for d in deliveries) == [
        ("a", "ObjectCreated:Put"), ("a", "ObjectRemoved:Delete"),
        ("b", "ObjectCreated:Copy"), ("b", "ObjectRemoved:Delete"),
        ("c", "ObjectCreated:CompleteMultipartUpload"), ("c", "ObjectRemoved:Delete")]
    assert all(d.status == "succeeded" for d in deliveries)
    removed = [d.event for d in deliveries if d.event_name.startswith("ObjectRemoved")]
    assert all("size" not in e["Records"][0]["s3"]["object"] for e in removed)


def test_versioned_bucket_events_carry_versions_and_delete_markers(
        sb: Sandbox, events: S3Events, recorder: FunctionSpec) -> None:
    bucket = f"{TAG}-versioned"
    make_bucket(sb, A, bucket)
    s3 = client(sb, A, "s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    notify(sb, A, bucket, fn_config(recorder.arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]))
    put = s3.put_object(Bucket=bucket, Key="v", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="v")  # a delete marker
    s3.delete_object(Bucket=bucket, Key="v", VersionId=put["VersionId"])  # a real delete
    deliveries = settle(events, bucket, 3)
    by_name = {d.event_name: d.event["Records"][0]["s3"]["object"] for d in deliveries}
    assert set(by_name) == {"ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated",
                            "ObjectRemoved:Delete"}
    assert by_name["ObjectCreated:Put"]["versionId"] == put["VersionId"]
    assert by_name["ObjectRemoved:Delete"]["versionId"] == put["VersionId"]
    sequencers = [d.event["Records"][0]["s3"]["object"]["sequencer"]
                  for d in sorted(deliveries, key=lambda d: d.id)]
    assert sequencers == sorted(sequencers)


def test_cross_account_and_unregistered_functions(
        sb: Sandbox, events: S3Events, recorder: FunctionSpec) -> None:
    bucket = f"{TAG}-b-drop"
    make_bucket(sb, B, bucket)
    ghost = f"arn:aws:lambda:{REGION}:{B}:function:{TAG}-not-registered"
    notify(sb, B, bucket, fn_config(recorder.arn, ["s3:ObjectCreated:*"], id_="to-a"),
           fn_config(ghost, ["s3:ObjectCreated:*"], id_="ghost"))
    client(sb, B, "s3").put_object(Bucket=bucket, Key="drop.txt", Body=b"1")
    deliveries = {d.configuration_id: d for d in settle(events, bucket, 2)}
    assert deliveries["to-a"].status == "succeeded" and deliveries["to-a"].cross_account
    assert deliveries["ghost"].status == "undeliverable"
    audit = {r.resource: r for r in sb.audit.records if r.principal == "s3.amazonaws.com"
             and f"arn:aws:s3:::{bucket}" in (r.deciding or "")}
    assert audit[recorder.arn].decision == "Delivered"
    assert "cross-account" in (audit[recorder.arn].deciding or "")
    assert audit[ghost].decision == "NoSuchFunction"


def test_failing_function_is_retried_twice_per_event(
        sb: Sandbox, events: S3Events, runner: Runner) -> None:
    role = make_role(sb, A, f"{TAG}-failing")
    spec = runner.register(FunctionSpec(f"{TAG}-failing", "probe.fail", role,
                                        code_dir=str(HANDLERS)))
    bucket = f"{TAG}-retried"
    make_bucket(sb, A, bucket)
    notify(sb, A, bucket, fn_config(spec.arn, ["s3:ObjectCreated:*"]))
    client(sb, A, "s3").put_object(Bucket=bucket, Key="k", Body=b"1")
    [delivery] = settle(events, bucket, 1)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.error is not None and delivery.error.startswith("ValueError: ")


def test_eight_workers_write_1000_objects_none_lost_none_duplicated(
        sb: Sandbox, events: S3Events, runner: Runner, recorder: FunctionSpec) -> None:
    """8 concurrent invocations × 125 PutObject each, through the authorizer as the
    writer's role; every put raises one event for the recorder."""
    runner.resize(8)
    bucket = f"{TAG}-landing"
    make_bucket(sb, A, bucket)
    notify(sb, A, bucket, fn_config(recorder.arn, ["s3:ObjectCreated:*"]))
    role = make_role(sb, A, f"{TAG}-writer", ["s3:PutObject"], f"arn:aws:s3:::{bucket}/*")
    writer = runner.register(FunctionSpec(f"{TAG}-writer", "writer.write_many", role,
                                          code_dir=str(HANDLERS), timeout=120))
    runner.invoke(writer.name, {"bucket": bucket, "prefix": "warmup/", "count": 0})
    results: list[Any] = []
    started = time.monotonic()

    def one(worker: int) -> None:
        results.append(runner.invoke(writer.name, {"bucket": bucket, "prefix": f"w{worker}/",
                                                   "count": 125}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    written = time.monotonic() - started
    assert [r.function_error for r in results] == [None] * 8, [r.logs for r in results]
    assert sum(r.value for r in results) == 1000
    assert len({r.logs.split("START RequestId: ")[1].split()[0] for r in results}) == 8

    deliveries = settle(events, bucket, 1000)
    delivered = time.monotonic() - started
    keys = []
    paginator = client(sb, A, "s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    expected = sorted(f"w{w}/{i:04d}.txt" for w in range(8) for i in range(125))
    assert sorted(keys) == expected
    puts = Counter(r.resource for r in sb.audit.records
                   if r.action == "s3:PutObject" and r.decision == "Allow"
                   and (r.resource or "").startswith(f"arn:aws:s3:::{bucket}/w")
                   and r.principal.endswith(f"assumed-role/{TAG}-writer/{writer.name}"))
    assert len(puts) == 1000 and set(puts.values()) == {1}
    assert len(deliveries) == 1000
    assert Counter(d.key for d in deliveries) == Counter(expected)
    assert all(d.status == "succeeded" and d.attempts == 1 for d in deliveries)
    assert sorted(d.result["key"] for d in deliveries) == [event_key(k) for k in expected]
    audited = [r for r in sb.audit.records if r.principal == "s3.amazonaws.com"
               and f"arn:aws:s3:::{bucket} " in (r.deciding or "")]
    assert len(audited) == 1000
    print(f"\n1,000 objects: written in {written:.1f} s, all events delivered after "
          f"{delivered:.1f} s, STS calls so far {runner.sts_calls}")

"""The sandbox's Lambda runner, through a real sandbox: the execution role is assumed as
lambda.amazonaws.com over HTTPS (so its trust policy is checked), handlers run in spawned
workers with Lambda's environment and context, and every AWS call they make is authorized
as that role."""

from __future__ import annotations

import base64
import json
import os
import ssl
import stat
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from typer.testing import CliRunner

from crossgrant.cli.main import app
from crossgrant.sandbox.lambdas import (
    FunctionRegistry,
    FunctionSpec,
    LambdaError,
    RoleCredentials,
    Runner,
    parse_function_arn,
)
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
CFG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
TAG = "lam"  # names unique to this module: moto's backends are shared per process
HANDLERS = Path(__file__).parent / "handlers"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def client(sb: Sandbox, account: str, service: str) -> Any:
    return sb.client(account, service, config=CFG)


@pytest.fixture(scope="module")
def exec_role(sb: Sandbox) -> str:
    """A's execution role: trusted by Lambda, may write and read A's data bucket only."""
    iam = client(sb, A, "iam")
    arn: str = iam.create_role(RoleName=f"{TAG}-exec",
                               AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{TAG}-exec", PolicyName="data", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"arn:aws:s3:::{TAG}-a-data/*"}]}))
    s3 = client(sb, A, "s3")
    for bucket in (f"{TAG}-a-data", f"{TAG}-a-secret"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=f"{TAG}-a-secret", Key="report.txt", Body=b"secret")
    return arn


def register(runner: Runner, name: str, handler: str, role: str, **kw: Any) -> FunctionSpec:
    return runner.register(FunctionSpec(name, f"probe.{handler}", role, code_dir=str(HANDLERS),
                                        **kw))


# -- the function runs as its role ----------------------------------------------------------


def test_function_sees_lambda_environment_context_and_its_role(
        sb: Sandbox, runner: Runner, exec_role: str) -> None:
    spec = register(runner, f"{TAG}-describe", "describe", exec_role, env=(("GREETING", "hi"),),
                    memory=256, timeout=20)
    result = runner.invoke(spec.name, {"hello": "world"})
    assert result.function_error is None, result.logs
    out = result.value
    env, ctx = out["env"], out["context"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == spec.name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{spec.name}"
    assert "/[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert env["_HANDLER"] == "probe.describe"
    assert env["AWS_ENDPOINT_URL"] == sb.endpoint
    assert env["GREETING"] == "hi"
    assert env["AWS_PROFILE"] is None  # nothing of the sandbox's own environment leaks
    assert out["has_credentials"]
    assert ctx["function_name"] == spec.name and ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:{REGION}:{A}:function:{spec.name}"
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["aws_request_id"] == result.request_id
    assert ctx["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 15_000 < ctx["remaining_ms"] <= 20_000
    # Lambda's session: the role, with the function's name as the session name.
    assert out["arn"] == f"arn:aws:sts::{A}:assumed-role/{TAG}-exec/{spec.name}"
    # Logs: the handler's output between START and REPORT, in the result and the log file.
    assert result.logs.startswith(f"START RequestId: {result.request_id} Version: $LATEST\n")
    assert "describe called with {'hello': 'world'}" in result.logs
    assert f"REPORT RequestId: {result.request_id}\tDuration: " in result.logs
    assert base64.b64decode(result.log_result).decode() == result.logs
    assert sb.state_dir is not None
    assert result.request_id in (sb.state_dir / "logs" / f"{spec.name}.log").read_text()
    # The role was assumed by the Lambda service, through the authorizer.
    assumed = [r for r in sb.audit.records
               if r.principal == "lambda.amazonaws.com" and r.action == "sts:AssumeRole"
               and r.resource == exec_role]
    assert assumed and assumed[-1].decision == "Allow"
    # No secret in the logs or the audit log.
    audit_text = (sb.state_dir / "audit.jsonl").read_text()
    for secret_var in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert secret_var not in result.logs
    assert "SecretAccessKey" not in audit_text


def test_warm_invocations_reuse_credentials_and_module_state(
        runner: Runner, exec_role: str) -> None:
    spec = register(runner, f"{TAG}-warm", "describe", exec_role)
    before = runner.sts_calls
    counts = [runner.invoke(spec.name, {}).value["warm_count"] for _ in range(6)]
    assert runner.sts_calls - before == 1  # one AssumeRole for six invocations
    assert max(counts) > 1  # some ran warm in a worker that had the module loaded
    register(runner, f"{TAG}-warm", "describe", exec_role)  # re-registered: cold again
    assert runner.invoke(spec.name, {}).value["warm_count"] == 1
    assert runner.sts_calls - before == 2


def test_function_calls_s3_with_its_role_and_gets_aws_denials(
        runner: Runner, exec_role: str) -> None:
    spec = register(runner, f"{TAG}-s3", "s3_access", exec_role)
    result = runner.invoke(spec.name, {"bucket": f"{TAG}-a-data", "key": "report.txt",
                                       "forbidden_bucket": f"{TAG}-a-secret"})
    assert result.function_error is None, result.logs
    assert result.value["read_back"] == "from the function"
    assert result.value["denied"] == {
        "code": "AccessDenied",
        "message": f"User: arn:aws:sts::{A}:assumed-role/{TAG}-exec/{spec.name} is not "
                   f"authorized to perform: s3:GetObject on resource: "
                   f"\"arn:aws:s3:::{TAG}-a-secret/report.txt\" because no identity-based "
                   f"policy allows the s3:GetObject action"}


def test_role_that_does_not_trust_lambda_cannot_start(sb: Sandbox, runner: Runner) -> None:
    iam = client(sb, A, "iam")
    arn = iam.create_role(RoleName=f"{TAG}-not-lambda", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    spec = register(runner, f"{TAG}-untrusted", "pid", arn)
    with pytest.raises(LambdaError) as caught:
        runner.invoke(spec.name, {})
    assert caught.value.code == "InvalidParameterValueException"
    assert caught.value.message == "The role defined for the function cannot be assumed by " \
                                   "Lambda."
    assert caught.value.reason is not None
    assert "AccessDenied" in caught.value.reason
    assert f"sts:AssumeRole on resource: {arn} because" in caught.value.reason
    denied = [r for r in sb.audit.records if r.principal == "lambda.amazonaws.com"
              and r.resource == arn]
    assert denied and denied[-1].decision != "Allow"


# -- failures, shaped like Lambda's ---------------------------------------------------------


def test_exception_returns_error_type_message_and_trace(
        runner: Runner, exec_role: str) -> None:
    spec = register(runner, f"{TAG}-fail", "fail", exec_role)
    result = runner.invoke(spec.name, {"what": "that"})
    assert result.function_error == "Unhandled"
    err = result.error
    assert err is not None
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "cannot handle that"
    assert err["requestId"] == result.request_id
    assert any('probe.py", line' in frame and "in fail" in frame for frame in err["stackTrace"])
    assert not any("/sandbox/lambdas/" in frame for frame in err["stackTrace"])
    assert "[ERROR] ValueError: cannot handle that" in result.logs


def test_runtime_errors_have_lambda_error_types(runner: Runner, exec_role: str) -> None:
    missing = runner.register(FunctionSpec(f"{TAG}-nomod", "no_such_module.handler", exec_role,
                                           code_dir=str(HANDLERS)))
    err = runner.invoke(missing.name, {}).error
    assert err is not None and err["errorType"] == "Runtime.ImportModuleError"
    assert err["errorMessage"].startswith("Unable to import module 'no_such_module'")
    nofn = register(runner, f"{TAG}-nofn", "nope", exec_role)
    err = runner.invoke(nofn.name, {}).error
    assert err == {"errorType": "Runtime.HandlerNotFound", "requestId": err["requestId"],
                   "errorMessage": "Handler 'nope' missing on module 'probe'",
                   "stackTrace": []}
    marshal = register(runner, f"{TAG}-marshal", "not_json", exec_role)
    err = runner.invoke(marshal.name, {}).error
    assert err is not None and err["errorType"] == "Runtime.MarshalError"


def test_timeout_kills_and_replaces_the_worker(runner: Runner, exec_role: str) -> None:
    spec = register(runner, f"{TAG}-sleepy", "sleepy", exec_role, timeout=1)
    started = time.monotonic()
    result = runner.invoke(spec.name, {"seconds": 30})
    assert time.monotonic() - started < 5
    assert result.function_error == "Unhandled"
    assert result.error is not None
    assert result.error["errorType"] == "Sandbox.Timedout"
    assert result.error["errorMessage"] == (f"RequestId: {result.request_id} Error: Task timed "
                                            f"out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in result.logs
    killed = int(result.logs.split("pid ", 1)[1].split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)
    deadline = time.monotonic() + 30
    while len(runner.worker_pids()) < runner.workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(runner.worker_pids()) == runner.workers
    assert killed not in runner.worker_pids()
    quick = runner.invoke(spec.name, {"seconds": 0})
    assert quick.function_error is None and quick.value != killed


def test_async_invocation_retries_twice_on_error(
        runner: Runner, exec_role: str, tmp_path: Path) -> None:
    spec = register(runner, f"{TAG}-retry", "fail_and_count", exec_role)
    counter = tmp_path / "attempts.txt"
    job = runner.invoke_async(spec.name, {"counter": str(counter)})
    assert job.wait(30)
    assert job.status == "failed"
    assert len(job.attempts) == 3
    assert all(a.error_type == "RuntimeError" for a in job.attempts)
    # The same request id on every attempt, as Lambda keeps it across retries.
    assert counter.read_text().split() == [job.request_id] * 3
    ok = runner.invoke_async(register(runner, f"{TAG}-once", "pid", exec_role).name, {})
    assert ok.wait(30) and ok.status == "succeeded" and len(ok.attempts) == 1


# -- the control API and the CLI ------------------------------------------------------------


def _control(sb: Sandbox, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None,
             token: str | None = "default") -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes)
                                      else json.dumps(body).encode())
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["X-Crossgrant-Control"] = sb.control.token if token == "default" else token
    req = urllib.request.Request(f"{sb.endpoint}/_crossgrant/{path}", data=data,
                                 method=method, headers=hdrs)
    ctx = ssl.create_default_context(cafile=str(sb.ca_bundle))
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def test_control_api_registers_and_invokes(sb: Sandbox, exec_role: str) -> None:
    assert sb.state_dir is not None
    token_file = sb.state_dir / "control-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == sb.control.token
    status, body = _control(sb, "GET", "functions", token=None)
    assert status == 403 and body["__type"] == "AccessDenied"
    assert _control(sb, "GET", "functions", token="wrong")[0] == 403

    status, fn = _control(sb, "POST", "functions", {
        "name": f"{TAG}-http", "handler": "probe.fail", "role_arn": exec_role,
        "code_dir": str(HANDLERS), "env": {"GREETING": "x"}, "timeout": 5})
    assert status == 201
    assert fn["arn"] == f"arn:aws:lambda:{REGION}:{A}:function:{TAG}-http"
    assert fn["account"] == A and fn["env"] == {"GREETING": "x"}
    names = [f["name"] for f in _control(sb, "GET", "functions")[1]["functions"]]
    assert f"{TAG}-http" in names

    status, out = _control(sb, "POST", f"invoke/{TAG}-http", {"what": "http"})
    assert status == 200
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert out["Payload"]["errorMessage"] == "cannot handle http"
    assert "START RequestId" in base64.b64decode(out["LogResult"]).decode()

    status, out = _control(sb, "POST", f"invoke/{TAG}-http", {"what": "later"},
                           {"X-Invocation-Type": "Event"})
    assert status == 202 and out["StatusCode"] == 202
    status, listing = _control(sb, "GET", "invocations?wait=20")
    mine = [j for j in listing["invocations"] if j["RequestId"] == out["RequestId"]]
    assert mine and mine[0]["Status"] == "failed" and len(mine[0]["Attempts"]) == 3

    status, err = _control(sb, "POST", "invoke/no-such-function", {})
    assert status == 404 and err["__type"] == "ResourceNotFoundException"
    assert err["message"].startswith("Function not found: ")
    status, err = _control(sb, "POST", f"invoke/{TAG}-http", b"{not json")
    assert status == 400 and err["__type"] == "InvalidRequestContentException"
    status, err = _control(sb, "POST", "functions", {
        "name": f"{TAG}-bad", "handler": "probe.fail", "role_arn": exec_role,
        "env": {"AWS_REGION": "us-east-1"}})
    assert status == 400 and "Reserved keys used in this request: AWS_REGION" in \
        err["message"]
    assert _control(sb, "DELETE", f"functions/{TAG}-http")[0] == 204
    assert _control(sb, "GET", f"functions/{TAG}-http")[0] == 404


def test_cli_register_and_invoke(sb: Sandbox, exec_role: str) -> None:
    cli = CliRunner()
    common = ["--port", str(sb.port), "--state-dir", str(sb.state_dir)]
    done = cli.invoke(app, ["sandbox", "register", f"{TAG}-cli", "--handler", "probe.describe",
                            "--role", exec_role, "--code", str(HANDLERS), "--env",
                            "GREETING=from-cli", "--timeout", "20", "--memory", "512",
                            "--json", *common])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["memory"] == 512
    done = cli.invoke(app, ["sandbox", "invoke", f"{TAG}-cli", "--payload", '{"a": 1}',
                            "--json", *common])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["Payload"]["env"]["GREETING"] == "from-cli"
    assert out["Payload"]["arn"].endswith(f"assumed-role/{TAG}-exec/{TAG}-cli")
    done = cli.invoke(app, ["sandbox", "invoke", f"{TAG}-cli", "--payload", "{}", *common])
    assert done.exit_code == 0, done.output
    assert "StatusCode 200" in done.output and "START RequestId" in done.output
    done = cli.invoke(app, ["sandbox", "invoke", f"{TAG}-cli", "--async", *common])
    assert done.exit_code == 0 and "queued" in done.output
    cli.invoke(app, ["sandbox", "register", f"{TAG}-cli-fail", "--handler", "probe.fail",
                     "--role", exec_role, "--code", str(HANDLERS), *common])
    done = cli.invoke(app, ["sandbox", "invoke", f"{TAG}-cli-fail", *common])
    assert done.exit_code == 1 and "FunctionError" in done.output


# -- specs, without a sandbox ---------------------------------------------------------------


def test_spec_validation_follows_lambda() -> None:
    role = f"arn:aws:iam::{A}:role/exec"
    spec = FunctionSpec("fn", "pkg.mod.handler", role, region=REGION)
    assert spec.account == A and spec.timeout == 30 and spec.memory == 128
    assert spec.arn == f"arn:aws:lambda:{REGION}:{A}:function:fn"
    for bad in ({"name": "has space"}, {"handler": "nodot"}, {"role_arn": "arn:aws:iam::1:x"},
                {"timeout": 901}, {"memory": 64}, {"account": B},
                {"env": (("AWS_SESSION_TOKEN", "x"),)}, {"env": (("1X", "y"),)}):
        fields: dict[str, Any] = {"name": "fn", "handler": "m.h", "role_arn": role, **bad}
        with pytest.raises(LambdaError):
            FunctionSpec(**fields)
    with pytest.raises(LambdaError, match="unknown function field"):
        FunctionSpec.from_json({"name": "fn", "handler": "m.h", "role": role, "timout": 3})
    assert parse_function_arn(f"arn:aws:lambda:{REGION}:{B}:function:fn:$LATEST") == (
        REGION, B, "fn")


def test_registry_keys_functions_by_arn() -> None:
    reg = FunctionRegistry(REGION)
    a = reg.put(FunctionSpec("same", "m.h", f"arn:aws:iam::{A}:role/r"))
    b = reg.put(FunctionSpec("same", "m.h", f"arn:aws:iam::{B}:role/r"))
    assert reg.get(a.arn) == a and reg.get(f"{b.arn}:$LATEST") == b
    with pytest.raises(LambdaError, match="several accounts"):
        reg.get("same")
    with pytest.raises(LambdaError) as caught:
        reg.get("other")
    assert caught.value.code == "ResourceNotFoundException" and caught.value.status == 404


def test_runner_without_a_sandbox_isolates_env_and_refreshes_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake credential source: sessions closer than five minutes to expiry are fetched
    again; the sandbox's own AWS variables never reach a function."""
    lifetimes = [timedelta(minutes=4), timedelta(minutes=4), timedelta(hours=1)]
    issued: list[str] = []

    def source(spec: FunctionSpec) -> RoleCredentials:
        key = f"ASIAFAKE{len(issued):08d}"
        issued.append(key)
        return RoleCredentials(key, "not-a-real-secret", "token",
                               datetime.now(UTC) + lifetimes[min(len(issued) - 1, 2)])

    monkeypatch.setenv("AWS_PROFILE", "leaky")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALEAKY")
    runner = Runner(endpoint=lambda: "https://127.0.0.1:9", credentials=source,
                    region=REGION, workers=1, ca_bundle="/tmp/ca.pem")
    try:
        spec = runner.register(FunctionSpec("iso", "probe.env_of", f"arn:aws:iam::{A}:role/r",
                                            code_dir=str(HANDLERS), env=(("MINE", "1"),)))
        names = ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_CA_BUNDLE", "AWS_CONFIG_FILE",
                 "MINE", "AWS_ENDPOINT_URL"]
        seen = [runner.invoke(spec.name, {"names": names}).value for _ in range(4)]
        assert issued == ["ASIAFAKE00000000", "ASIAFAKE00000001", "ASIAFAKE00000002"]
        assert [s["AWS_ACCESS_KEY_ID"] for s in seen] == [
            "ASIAFAKE00000000", "ASIAFAKE00000001", "ASIAFAKE00000002", "ASIAFAKE00000002"]
        assert seen[-1] == {"AWS_PROFILE": None, "AWS_ACCESS_KEY_ID": "ASIAFAKE00000002",
                            "AWS_CA_BUNDLE": "/tmp/ca.pem", "AWS_CONFIG_FILE": os.devnull,
                            "MINE": "1", "AWS_ENDPOINT_URL": "https://127.0.0.1:9"}
        assert "not-a-real-secret" not in repr(source(spec))
    finally:
        runner.close()
    with pytest.raises(LambdaError):
        runner.invoke(spec.name, {"names": []})

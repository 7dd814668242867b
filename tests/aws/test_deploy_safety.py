"""Deploy and destroy as a team can trust them, against the session's sandbox through the
real entry point (`crossgrant.cli.main.main`, so exit codes are the user's): confirmation
as Terraform asks for it, saved plans applied exactly or not at all, Terraform's detailed
exit codes, a key-policy statement of crossgrant's Sid that the journal did not create,
and a probe that says what it exercised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from crossgrant.aws.clients import Connection, from_sessions
from crossgrant.aws.probe import probe
from crossgrant.cli import deploy as deploy_cli
from crossgrant.cli import exits
from crossgrant.cli.main import main
from crossgrant.render import render
from crossgrant.sandbox.server import Sandbox
from crossgrant.spec import load_grant

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"


def grant_text(name: str, role: str, access: str, *extra: str) -> str:
    return "\n".join([
        f"name: {name}",
        f'source: {{account: "{A}", region: {REGION}, function: {name}-fn, '
        f"execution_role: {role}}}",
        f'target: {{account: "{B}", region: {REGION}}}',
        "mode: resource-policy", *extra, "access:", f"  s3: [{access}]", ""])


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the default journals go to tmp_path/.crossgrant
    return tmp_path


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A terminal on stdin whose user answers with the strings put in the list."""
    answers: list[str] = []
    monkeypatch.setattr(deploy_cli, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(deploy_cli.typer, "prompt", lambda *a, **k: answers.pop(0))
    yield answers


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy_cli, "_stdin_is_terminal", lambda: False)


def run(capsys: pytest.CaptureFixture[str], sb: Sandbox, *args: str) -> tuple[int, str, str]:
    """`crossgrant ARGS --sandbox-dir SB`: exit code, stdout, stderr."""
    assert sb.state_dir is not None
    try:
        main([*args, "--sandbox-dir", str(sb.state_dir)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def role_exists(sb: Sandbox, name: str) -> bool:
    try:
        sb.client(A, "iam").get_role(RoleName=name)
    except ClientError:
        return False
    return True


def bucket(sb: Sandbox, name: str) -> None:
    sb.client(B, "s3").create_bucket(Bucket=name,
                                     CreateBucketConfiguration={"LocationConstraint": REGION})


def drop_bucket(sb: Sandbox, name: str) -> None:
    s3 = sb.client(B, "s3")
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("crossgrant: error:")]
    assert len(lines) == 1, err
    return lines[0]


# --- confirmation ------------------------------------------------------------------------

def test_deploy_and_destroy_ask_for_yes(sandbox: Sandbox, cwd: Path, terminal: list[str],
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    grant = cwd / "confirm.yaml"
    grant.write_text(grant_text("safe-confirm", "SafeConfirmExec",
                                "{bucket: safe-confirm-bucket, levels: [list]}"))
    bucket(sandbox, "safe-confirm-bucket")
    try:
        # no terminal and no --yes: refused before any change, after showing the plan
        monkeypatch.setattr(deploy_cli, "_stdin_is_terminal", lambda: False)
        code, out, err = run(capsys, sandbox, "deploy", str(grant))
        assert code == 2
        assert "+ create" in out and "--yes" in error_line(err)
        assert "nothing was changed" in error_line(err)
        assert not role_exists(sandbox, "SafeConfirmExec")
        code, out, err = run(capsys, sandbox, "deploy", str(grant), "--json")
        assert code == 2 and "--json needs --yes" in error_line(err)

        # a terminal: anything but "yes" cancels
        monkeypatch.setattr(deploy_cli, "_stdin_is_terminal", lambda: True)
        terminal.append("y")
        code, out, err = run(capsys, sandbox, "deploy", str(grant))
        assert code == 2 and "cancelled" in error_line(err)
        assert "Only 'yes' will be accepted" in out
        assert not role_exists(sandbox, "SafeConfirmExec")
        terminal.append("yes")
        code, out, err = run(capsys, sandbox, "deploy", str(grant))
        assert code == 0, out + err
        assert "Apply complete" in out and role_exists(sandbox, "SafeConfirmExec")

        # nothing to change: nothing to ask, even without a terminal
        monkeypatch.setattr(deploy_cli, "_stdin_is_terminal", lambda: False)
        code, out, err = run(capsys, sandbox, "deploy", str(grant))
        assert code == 0 and "No changes" in out

        code, out, err = run(capsys, sandbox, "destroy", str(grant))
        assert code == 2 and "--yes" in error_line(err)
        assert role_exists(sandbox, "SafeConfirmExec")
        code, out, err = run(capsys, sandbox, "destroy", str(grant), "--auto-approve")
        assert code == 0, out + err
        assert "- delete" in out and not role_exists(sandbox, "SafeConfirmExec")
    finally:
        drop_bucket(sandbox, "safe-confirm-bucket")


# --- plan --detailed-exitcode --------------------------------------------------------------

def test_detailed_exitcode(sandbox: Sandbox, cwd: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    grant = cwd / "detailed.yaml"
    grant.write_text(grant_text("safe-detailed", "SafeDetailedExec",
                                "{bucket: safe-detailed-bucket, levels: [list]}"))
    bucket(sandbox, "safe-detailed-bucket")
    try:
        assert run(capsys, sandbox, "plan", str(grant), "--detailed-exitcode")[0] == 2
        assert run(capsys, sandbox, "deploy", str(grant), "--yes")[0] == 0
        code, out, _ = run(capsys, sandbox, "plan", str(grant), "--detailed-exitcode", "--json")
        assert code == 0 and json.loads(out)["pending"] == 0
        # errors are 1 here, as in Terraform: a problem in the plan, a bad grant file
        missing = cwd / "missing.yaml"
        missing.write_text(grant_text("safe-missing", "SafeMissingExec",
                                      "{bucket: safe-missing-bucket, levels: [list]}"))
        assert run(capsys, sandbox, "plan", str(missing), "--detailed-exitcode")[0] == 1
        broken = cwd / "broken.yaml"
        broken.write_text("name: [unclosed\n")
        code, _, err = run(capsys, sandbox, "plan", str(broken), "--detailed-exitcode")
        assert code == 1 and str(broken) in error_line(err)
        assert run(capsys, sandbox, "destroy", str(grant), "--yes")[0] == 0
    finally:
        drop_bucket(sandbox, "safe-detailed-bucket")


def test_detailed_exitcode_makes_a_crash_exit_1(sandbox: Sandbox, cwd: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Under --detailed-exitcode, 2 says "changes pending": a crash, whatever it is, must
    not look like that (Terraform: 1 for any error); without it a crash is 2, as for
    every command."""
    from crossgrant.aws import plan as plan_module  # noqa: PLC0415

    grant = cwd / "crash.yaml"
    grant.write_text(grant_text("safe-crash", "SafeCrashExec",
                                "{bucket: safe-crash-bucket, levels: [list]}"))

    def crash(*_a: Any, **_k: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(plan_module, "make_plan", crash)
    code, _, err = run(capsys, sandbox, "plan", str(grant), "--detailed-exitcode")
    assert code == 1
    assert "internal error: KeyError" in err
    monkeypatch.setattr(exits, "_error", [exits.ERROR])  # a new run of the command
    code, _, err = run(capsys, sandbox, "plan", str(grant))
    assert code == 2 and "internal error: KeyError" in err


# --- saved plans ---------------------------------------------------------------------------

FOREIGN = {"Sid": "Analytics", "Effect": "Allow",
           "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": "s3:GetObject",
           "Resource": "arn:aws:s3:::safe-saved-bucket/*"}


def test_saved_plan_is_applied_exactly_or_not_at_all(sandbox: Sandbox, cwd: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    grant = cwd / "saved.yaml"
    grant.write_text(grant_text("safe-saved", "SafeSavedExec",
                                "{bucket: safe-saved-bucket, levels: [list]}"))
    bucket(sandbox, "safe-saved-bucket")
    s3 = sandbox.client(B, "s3")
    try:
        code, out, err = run(capsys, sandbox, "plan", str(grant), "--out", "stale.plan")
        assert code == 0, out + err
        saved = json.loads((cwd / "stale.plan").read_text())
        assert (saved["format"], saved["version"]) == ("crossgrant-plan", 1)
        assert set(saved["fingerprints"]) == {A, B}
        assert len(saved["artifacts"]) == 64 and saved["plan"]["pending"] > 0

        # the target account changes after the plan: the saved plan is refused
        s3.put_bucket_policy(Bucket="safe-saved-bucket", Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [FOREIGN]}))
        code, out, err = run(capsys, sandbox, "deploy", "stale.plan")
        assert code == 2 and f"account {B} changed since the plan" in error_line(err)
        assert not role_exists(sandbox, "SafeSavedExec")

        # planned again, then the grant file edited: the saved plan still applies what
        # was planned (its own copy of the grant), without asking
        assert run(capsys, sandbox, "plan", str(grant), "--out", "good.plan")[0] == 0
        grant.write_text(grant.read_text().replace("levels: [list]", "levels: [list, read]"))
        code, out, err = run(capsys, sandbox, "deploy", "good.plan")
        assert code == 0, out + err
        assert role_exists(sandbox, "SafeSavedExec")
        policy = json.loads(s3.get_bucket_policy(Bucket="safe-saved-bucket")["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == [
            "Analytics", "CgSafeSavedS3List0", "CgSafeSavedDenyInsecureTransport"]

        # a malformed plan file is one line, and changes nothing
        (cwd / "bad.plan").write_text('{"format": "crossgrant-plan", "version": 1}')
        code, _, err = run(capsys, sandbox, "deploy", "bad.plan")
        assert code == 2 and "malformed saved plan" in error_line(err)
        (cwd / "cut.plan").write_text('{"format": "crossgrant-plan", "vers')
        code, _, err = run(capsys, sandbox, "deploy", "cut.plan")
        assert code == 2 and "not JSON" in error_line(err)

        assert run(capsys, sandbox, "destroy", str(grant), "--yes")[0] == 0
        policy = json.loads(s3.get_bucket_policy(Bucket="safe-saved-bucket")["Policy"])
        assert policy["Statement"] == [FOREIGN]
    finally:
        s3.delete_bucket_policy(Bucket="safe-saved-bucket")
        drop_bucket(sandbox, "safe-saved-bucket")


# --- a key-policy statement with crossgrant's Sid, made by hand ---------------------------

def test_a_hand_made_key_statement_is_adopted_only_when_asked(
        sandbox: Sandbox, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kms = sandbox.client(B, "kms")
    key_arn = kms.create_key(Description="safe-keyed")["KeyMetadata"]["Arn"]
    grant = cwd / "keyed.yaml"
    grant.write_text(grant_text("safe-keyed", "SafeKeyedExec",
                                f'{{bucket: safe-keyed-bucket, levels: [write], '
                                f'kms_key: "{key_arn}"}}'))
    bucket(sandbox, "safe-keyed-bucket")
    sid = "CgSafeKeyedKms0"
    original = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    hand = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
            "Action": "kms:Decrypt", "Resource": "*"}
    original["Statement"].append(hand)
    text = json.dumps(original)
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=text)
    try:
        code, out, err = run(capsys, sandbox, "deploy", str(grant), "--yes")
        assert code == 2
        assert f"statement {sid} in the key policy of {key_arn}" in error_line(err)
        assert "--adopt" in error_line(err)
        assert not role_exists(sandbox, "SafeKeyedExec")

        code, out, err = run(capsys, sandbox, "deploy", str(grant), "--yes", "--adopt")
        assert code == 0, out + err
        now = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
        assert next(s for s in now["Statement"] if s["Sid"] == sid) != hand

        code, out, err = run(capsys, sandbox, "destroy", str(grant), "--yes")
        assert code == 0, out + err
        # the adopted statement is given back, byte for byte with the rest: never deleted
        assert kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"] == text
        assert not role_exists(sandbox, "SafeKeyedExec")
    finally:
        drop_bucket(sandbox, "safe-keyed-bucket")


# --- probe: what it exercised ------------------------------------------------------------

def test_a_probe_that_exercised_nothing_is_not_ok(sandbox: Sandbox, cwd: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    grant = cwd / "probed.yaml"
    grant.write_text(grant_text("safe-probed", "SafeProbedExec",
                                "{bucket: safe-probed-bucket, levels: [write]}"))
    bucket(sandbox, "safe-probed-bucket")
    try:
        assert run(capsys, sandbox, "deploy", str(grant), "--yes")[0] == 0
        # in the sandbox the probe becomes the role as Lambda does, but without --write
        # there is nothing it may try on a write-only grant
        code, out, err = run(capsys, sandbox, "probe", str(grant), "--json")
        report = json.loads(out)
        assert code == 2 and report["ok"] is False
        assert report["error"].startswith("nothing was exercised")
        assert "nothing was exercised" in error_line(err)
        assert [s["call"] for s in report["steps"] if s["status"] == "ok"] == [
            "GetCallerIdentity", "AssumeRole"]
        code, out, err = run(capsys, sandbox, "probe", str(grant), "--write", "--json")
        assert code == 0, out + err
        assert json.loads(out)["ok"] is True

        # outside the sandbox (no control API) the caller cannot become a role that trusts
        # only Lambda: every check is skipped, and that is not ok
        parsed = load_grant(grant)
        accounts = from_sessions(parsed, sandbox.session(A), sandbox.session(B),
                                 Connection(endpoint_url=sandbox.endpoint,
                                            ca_bundle=str(sandbox.ca_bundle), region=REGION))
        result = probe(render(parsed), accounts, write=True)
        assert not result.ok
        assert result.nothing_exercised is not None
        assert "needs to run as the execution role" in result.nothing_exercised
        assert run(capsys, sandbox, "destroy", str(grant), "--yes")[0] == 0
    finally:
        drop_bucket(sandbox, "safe-probed-bucket")


def test_lambda_refused_by_the_execution_role_is_a_denial(
        sandbox: Sandbox, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An execution role whose trust does not name Lambda: the sandbox's runner is refused
    as AWS would refuse Lambda, and the probe reports it (a function could not run)."""
    iam = sandbox.client(A, "iam")
    iam.create_role(RoleName="SafeNoLambdaExec", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))
    grant = cwd / "nolambda.yaml"
    grant.write_text(grant_text("safe-nolambda", "SafeNoLambdaExec",
                                "{bucket: safe-nolambda-bucket, levels: [list]}")
                     .replace("execution_role: SafeNoLambdaExec",
                              "execution_role: SafeNoLambdaExec, existing_role: true"))
    bucket(sandbox, "safe-nolambda-bucket")
    try:
        assert run(capsys, sandbox, "deploy", str(grant), "--yes")[0] == 0
        code, out, _ = run(capsys, sandbox, "probe", str(grant), "--json")
        assert code == 1
        step: dict[str, Any] = json.loads(out)["steps"][1]
        assert (step["call"], step["principal"], step["status"]) == (
            "AssumeRole", "lambda.amazonaws.com", "denied")
        assert "cannot be assumed by Lambda" in step["answer"]
        assert run(capsys, sandbox, "destroy", str(grant), "--yes")[0] == 0
        assert role_exists(sandbox, "SafeNoLambdaExec")  # declared existing: it stays
    finally:
        iam.delete_role(RoleName="SafeNoLambdaExec")
        drop_bucket(sandbox, "safe-nolambda-bucket")

"""plan / deploy / probe / snapshot / destroy against a real sandbox over HTTPS, through
the CLI (`--sandbox-dir`) and the library, with real boto3 clients: every example grant end
to end, idempotency, foreign statements byte for byte, a fault mid-apply and its resume,
concurrent applies to one bucket and table, credentials of the wrong account, functions."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
import typer
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from crossgrant.aws.clients import AccountMismatchError, Connection, from_sessions
from crossgrant.aws.deploy import ApplyResult, DestroyResult, Options, apply, destroy
from crossgrant.aws.journal import Journal
from crossgrant.aws.ownership import NotOwnedError
from crossgrant.aws.plan import make_plan
from crossgrant.aws.policies import Timing
from crossgrant.cli.deploy import register
from crossgrant.render import render
from crossgrant.sandbox.server import Sandbox
from crossgrant.spec import load_grant
from crossgrant.spec.model import Grant
from crossgrant.verify.prove import verify
from crossgrant.world import UnknownPolicy, load_state

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
TIMING = Timing(settle=0.2, timeout=10.0)


@pytest.fixture(scope="module")
def sb(sandbox: Sandbox) -> Sandbox:
    """The test session's sandbox (tests/conftest.py): accounts A and B in REGION."""
    assert sandbox.accounts == (A, B) and sandbox.region == REGION
    return sandbox


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer()

    @application.callback()
    def _root() -> None:
        """crossgrant (test app)"""

    register(application)
    return application


def cli(app: typer.Typer, sb: Sandbox, *args: str) -> Any:
    assert sb.state_dir is not None
    return CliRunner().invoke(app, [*args, "--sandbox-dir", str(sb.state_dir)])


def connection(sb: Sandbox) -> Connection:
    return Connection(endpoint_url=sb.endpoint, ca_bundle=str(sb.ca_bundle), region=REGION,
                      control_url=sb.endpoint, control_token=sb.control.token, sandbox=True)


_SESSIONS: dict[tuple[int, str], Any] = {}


def session(sb: Sandbox, account: str) -> Any:
    """One boto3 session per account and sandbox: service models load once."""
    key = (id(sb), account)
    if key not in _SESSIONS:
        _SESSIONS[key] = sb.session(account)
    return _SESSIONS[key]


def accounts_for(sb: Sandbox, grant: Grant, target_session: Any = None) -> Any:
    return from_sessions(grant, session(sb, A), target_session or session(sb, B),
                         connection(sb))


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def written(tmp: Path, name: str, text: str) -> tuple[Path, Grant]:
    """The grant `text`, written to tmp/name and loaded back from there."""
    path = tmp / name
    path.write_text(text)
    return path, load_grant(path)


def journal_at(path: Path, grant_name: str) -> Journal:
    return Journal.open(path, grant_name, {"source": A, "target": B})


def apply_grant(sb: Sandbox, grant: Grant, journal: Journal,
                target_session: Any = None, *, adopt: bool = False) -> ApplyResult:
    """`apply` as the accounts' administrators (B's: target_session when given)."""
    return apply(render(grant), accounts_for(sb, grant, target_session), journal,
                 options=Options(timing=TIMING, adopt=adopt))


def destroy_grant(sb: Sandbox, grant: Grant, journal: Journal) -> DestroyResult:
    return destroy(render(grant), accounts_for(sb, grant), journal,
                   options=Options(timing=TIMING))


def plan_pending(sb: Sandbox, grant: Grant, journal: Journal | None = None) -> tuple[Any, ...]:
    """What a plan as the accounts' administrators would still change."""
    return make_plan(render(grant), accounts_for(sb, grant), journal=journal).pending


def grant_yaml(name: str, function: str, execution_role: str, mode: str, *lines: str,
               existing_role: bool = False) -> str:
    """A grant file: A's `function` (its role `execution_role`) to B, `mode`, then `lines`."""
    existing = ", existing_role: true" if existing_role else ""
    return "\n".join([
        f"name: {name}",
        f'source: {{account: "{A}", region: {REGION}, function: {function},',
        f"         execution_role: {execution_role}{existing}}}",
        f'target: {{account: "{B}", region: {REGION}}}',
        f"mode: {mode}", *lines, ""])


# --- what a target account's administrator creates before the grant ---------------------

def make_resources(sb: Sandbox, grant: Grant) -> None:
    s3 = sb.client(B, "s3")
    for access in {a.bucket: a for a in grant.s3}.values():  # one bucket, many entries
        s3.create_bucket(Bucket=access.bucket,
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_ownership_controls(Bucket=access.bucket, OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        s3.put_public_access_block(Bucket=access.bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        if access.kms_key_arn:
            s3.put_bucket_encryption(Bucket=access.bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": access.kms_key_arn}}]})
    ddb = sb.client(B, "dynamodb")
    for table in grant.dynamodb:
        kwargs: dict[str, Any] = {}
        attrs = [{"AttributeName": "id", "AttributeType": "S"}]
        if table.indexes:
            attrs.append({"AttributeName": "by", "AttributeType": "S"})
            kwargs["GlobalSecondaryIndexes"] = [{
                "IndexName": ix, "KeySchema": [{"AttributeName": "by", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}} for ix in table.indexes if ix != "*"]
        if table.streams:
            kwargs["StreamSpecification"] = {"StreamEnabled": True,
                                             "StreamViewType": "NEW_IMAGE"}
        ddb.create_table(TableName=table.table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=attrs, **kwargs)


def drop_resources(sb: Sandbox, grant: Grant) -> None:
    s3 = sb.client(B, "s3")
    for access in {a.bucket: a for a in grant.s3}.values():
        for obj in s3.list_objects_v2(Bucket=access.bucket).get("Contents", []):
            s3.delete_object(Bucket=access.bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=access.bucket)
    for table in grant.dynamodb:
        sb.client(B, "dynamodb").delete_table(TableName=table.table)


def example_grant(sb: Sandbox, path: Path, tmp: Path) -> Path:
    """The example as is; the KMS example gets a key that really exists in B (moto cannot
    create a key with a chosen id), as its target account's administrator would."""
    text = path.read_text(encoding="utf-8")
    grant = load_grant(path)
    for access in grant.s3:
        if access.kms_key_arn:
            key = sb.client(B, "kms").create_key(Description="archive key")["KeyMetadata"]
            text = text.replace(access.kms_key_arn, key["Arn"])
    out = tmp / path.name
    out.write_text(text, encoding="utf-8")
    return out


def let_admin_assume_exec_role(sb: Sandbox, grant: Grant) -> None:
    """What `probe` needs to become the execution role from an admin's credentials: the
    role's trust must allow the account (a Lambda role normally trusts only Lambda)."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
         "Action": "sts:AssumeRole"}]}
    sb.client(A, "iam").update_assume_role_policy(RoleName=grant.source.execution_role,
                                                  PolicyDocument=json.dumps(trust))


def role_exists(sb: Sandbox, account: str, name: str) -> bool:
    try:
        sb.client(account, "iam").get_role(RoleName=name)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return False
    return True


# --- every example, end to end -----------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_example_end_to_end(sb: Sandbox, app: typer.Typer, tmp_path: Path,
                            example: Path) -> None:
    grant_file = example_grant(sb, example, tmp_path)
    grant = load_grant(grant_file)
    if getattr(grant.source, "many", False):
        pytest.skip("many source accounts roll out through a StackSet, not `deploy`")
    make_resources(sb, grant)
    journal = str(tmp_path / "journal.json")
    try:
        first = cli(app, sb, "plan", str(grant_file), "--json", "--journal", journal)
        assert first.exit_code == 0, first.output
        assert json.loads(first.output)["pending"] > 0

        deployed = cli(app, sb, "deploy", str(grant_file), "--journal", journal, "--yes")
        assert deployed.exit_code == 0, deployed.output
        assert "Apply complete" in deployed.output

        # idempotent: the plan is empty, and a second apply changes nothing
        again = cli(app, sb, "plan", str(grant_file), "--json", "--check", "--journal", journal)
        assert again.exit_code == 0, again.output
        assert json.loads(again.output)["pending"] == 0
        entries = len(json.loads(Path(journal).read_text())["entries"])
        second = cli(app, sb, "deploy", str(grant_file), "--journal", journal, "--json")
        assert second.exit_code == 0, second.output
        assert json.loads(second.output)["steps"] == []
        assert len(json.loads(Path(journal).read_text())["entries"]) == entries

        # the probe as the admin: the Lambda execution role does not trust it, so the
        # sandbox's Lambda runner assumes it as lambda.amazonaws.com for the probe
        as_lambda = cli(app, sb, "probe", str(grant_file), "--write", "--json")
        assert as_lambda.exit_code == 0, as_lambda.output
        steps = json.loads(as_lambda.output)["steps"]
        assert steps[1]["call"] == "AssumeRole" and steps[1]["status"] == "ok"
        assert steps[1]["principal"] == "lambda.amazonaws.com"
        assert "Lambda runner" in steps[1]["answer"]
        assert json.loads(as_lambda.output)["ok"] is True

        # once the role trusts the account, the probe exercises the access for real
        let_admin_assume_exec_role(sb, grant)
        probed = cli(app, sb, "probe", str(grant_file), "--write", "--json")
        report = json.loads(probed.output)
        assert probed.exit_code == 0, probed.output
        ran = [s["call"] for s in report["steps"] if s["status"] == "ok"]
        assert "AssumeRole" in ran
        if any(a.levels for a in grant.s3):
            assert {"HeadBucket", "PutObject"} & set(ran)
        if grant.dynamodb:
            assert {"DescribeTable", "PutItem"} & set(ran)

        # drift (the trust edited by hand) shows in the plan, and deploy puts it back
        drift_text = cli(app, sb, "plan", str(grant_file), "--json", "--journal",
                         journal).output
        drift = json.loads(drift_text)
        assert [c["kind"] for c in drift["accounts"][0]["changes"]
                if c["action"] == "update"] == ["trust policy"]
        assert cli(app, sb, "deploy", str(grant_file), "--journal", journal,
                   "--auto-approve").exit_code == 0

        # a snapshot of both accounts proves the grant offline
        state_file = tmp_path / "state.json"
        snap = cli(app, sb, "snapshot", "--out", str(state_file))
        assert snap.exit_code == 0, snap.output
        state = load_state(state_file.read_text(), source=str(state_file))
        proof = verify(render(grant), state)
        assert proof.ok, [r.explanation() for r in proof.rows if not r.ok]

        # no secret ever reaches the output or the journal
        secrets = [sb.keys[a].secret for a in (A, B)]
        for text in (deployed.output, probed.output, as_lambda.output, drift_text,
                     Path(journal).read_text()):
            assert not any(secret in text for secret in secrets)

        gone = cli(app, sb, "destroy", str(grant_file), "--journal", journal, "--yes")
        assert gone.exit_code == 0, gone.output
        assert not role_exists(sb, A, grant.source.execution_role)
        if grant.target.role_name:
            assert not role_exists(sb, B, grant.target.role_name)
        after = json.loads(cli(app, sb, "plan", str(grant_file), "--json").output)
        assert after["summary"]["no-change"] == 0 and after["summary"]["update"] == 0
    finally:
        drop_resources(sb, grant)


# --- foreign statements survive, byte for byte ---------------------------------------------

SHARED = grant_yaml("dep-shared", "dep-fn", "DepSharedExec", "resource-policy",
                    "access:",
                    '  s3: [{bucket: dep-shared-bucket, prefixes: ["in/"], levels: [read, list]}]',
                    "  dynamodb: [{table: dep-shared-table, levels: [read]}]")
FOREIGN_BUCKET = ('{"Version":"2012-10-17",\n  "Statement": [ {"Sid": "AnalyticsRead",'
                  ' "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},'
                  ' "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::dep-shared-bucket/*"}'
                  ' ]}')


def test_foreign_statements_survive_deploy_and_destroy(sb: Sandbox, tmp_path: Path) -> None:
    _, grant = written(tmp_path, "shared.yaml", SHARED)
    make_resources(sb, grant)
    s3, ddb = sb.client(B, "s3"), sb.client(B, "dynamodb")
    table_arn = grant.table_arn("dep-shared-table")
    foreign_table = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "Reporting", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": "dynamodb:Query", "Resource": table_arn}]}, indent=4)
    s3.put_bucket_policy(Bucket="dep-shared-bucket", Policy=FOREIGN_BUCKET)
    ddb.put_resource_policy(ResourceArn=table_arn, Policy=foreign_table)
    journal = journal_at(tmp_path / "j.json", grant.name)
    try:
        result = apply_grant(sb, grant, journal)
        assert result.ok, result.error
        merged = json.loads(s3.get_bucket_policy(Bucket="dep-shared-bucket")["Policy"])
        assert json.dumps(merged["Statement"][0]) == json.dumps(
            json.loads(FOREIGN_BUCKET)["Statement"][0])
        assert [s["Sid"] for s in merged["Statement"]][1:] == [
            "CgDepSharedS3Object0", "CgDepSharedS3List0", "CgDepSharedDenyInsecureTransport"]
        table_doc = json.loads(ddb.get_resource_policy(ResourceArn=table_arn)["Policy"])
        assert table_doc["Statement"][0] == json.loads(foreign_table)["Statement"][0]
        record = journal.original(f"policy:bucket:{'dep-shared-bucket'}")
        assert record is not None and record["text"] == FOREIGN_BUCKET

        gone = destroy_grant(sb, grant, journal)
        assert gone.ok, gone.error
        assert s3.get_bucket_policy(Bucket="dep-shared-bucket")["Policy"] == FOREIGN_BUCKET
        assert ddb.get_resource_policy(ResourceArn=table_arn)["Policy"] == foreign_table
        assert not role_exists(sb, A, "DepSharedExec")
    finally:
        drop_resources(sb, grant)


# --- a fault mid-apply, and the resume ---------------------------------------------------

FAULT = grant_yaml("dep-fault", "dep-fault-fn", "DepFaultExec", "resource-policy",
                   "access:",
                   "  s3: [{bucket: dep-fault-bucket, levels: [read, write]}]")


def deployer(sb: Sandbox, name: str, deny: dict[str, Any] | None) -> Any:
    """A user of B with administrator rights, minus what `deny` takes away."""
    import boto3  # noqa: PLC0415

    iam = sb.client(B, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="admin", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    if deny is not None:
        iam.put_user_policy(UserName=name, PolicyName="fault", PolicyDocument=doc(deny))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"],
                         aws_secret_access_key=key["SecretAccessKey"], region_name=REGION)


def test_fault_mid_apply_then_resume(sb: Sandbox, tmp_path: Path) -> None:
    _, grant = written(tmp_path, "fault.yaml", FAULT)
    make_resources(sb, grant)
    target = deployer(sb, "dep-deployer", {"Effect": "Deny", "Action": "s3:PutBucketPolicy",
                                           "Resource": "*"})
    journal = journal_at(tmp_path / "j.json", grant.name)
    try:
        failed = apply_grant(sb, grant, journal, target)
        assert not failed.ok
        assert "AccessDenied" in (failed.error or "")
        assert [s.status for s in failed.steps] == ["done", "done", "failed"]
        assert journal.status == "failed"
        assert role_exists(sb, A, "DepFaultExec")  # the source side stays applied
        pending = plan_pending(sb, grant)
        assert {c.kind.value for c in pending} == {"bucket policy statement"}

        sb.client(B, "iam").delete_user_policy(UserName="dep-deployer", PolicyName="fault")
        resumed = apply_grant(sb, grant, journal, target)
        assert resumed.ok, resumed.error
        assert [s.action for s in resumed.steps] == ["merge statements"]
        assert plan_pending(sb, grant) == ()
        assert journal.status == "applied"
        assert destroy_grant(sb, grant, journal).ok
    finally:
        drop_resources(sb, grant)


# --- two applies at once ----------------------------------------------------------------

def concurrent_grant(n: int) -> str:
    return grant_yaml(f"dep-race-{n}", f"dep-race-fn{n}", f"DepRace{n}Exec", "resource-policy",
                      "options: {tls_only: false}",
                      "access:",
                      f'  s3: [{{bucket: dep-race-bucket, prefixes: ["team{n}/"], '
                      'levels: [read]}]',
                      "  dynamodb: [{table: dep-race-table, levels: [read]}]")


def test_concurrent_applies_keep_both_grants(sb: Sandbox, tmp_path: Path) -> None:
    grants = []
    for n in (1, 2):
        grants.append(written(tmp_path, f"race{n}.yaml", concurrent_grant(n))[1])
    make_resources(sb, grants[0])
    s3, ddb = sb.client(B, "s3"), sb.client(B, "dynamodb")
    table_arn = grants[0].table_arn("dep-race-table")
    # the execution roles exist first, so both applies race on the shared policies only
    for g in grants:
        apply_grant(sb, g, journal_at(tmp_path / f"{g.name}.pre.json", g.name))
        s3.delete_bucket_policy(Bucket="dep-race-bucket")
        ddb.delete_resource_policy(ResourceArn=table_arn)
    try:
        for _round in range(3):
            barrier = threading.Barrier(2)
            results: dict[str, Any] = {}

            def run(g: Grant, barrier: Any = barrier,
                    results: dict[str, Any] = results) -> None:
                # each grant's own journal: it proves the roles it created are its own
                journal = journal_at(tmp_path / f"{g.name}.pre.json", g.name)
                # sessions of their own: a boto3 session is not safe to share between
                # threads while clients are being created
                accounts = from_sessions(g, sb.session(A), sb.session(B), connection(sb))
                barrier.wait()
                results[g.name] = apply(render(g), accounts, journal,
                                        options=Options(timing=TIMING))

            threads = [threading.Thread(target=run, args=(g,)) for g in grants]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert all(r.ok for r in results.values()), [r.error for r in results.values()]
            bucket = json.loads(s3.get_bucket_policy(Bucket="dep-race-bucket")["Policy"])
            table = json.loads(ddb.get_resource_policy(ResourceArn=table_arn)["Policy"])
            for policy in (bucket, table):
                sids = {s["Sid"] for s in policy["Statement"]}
                assert {"CgDepRace1", "CgDepRace2"} <= {s[:10] for s in sids}, sids
            for g in grants:
                assert plan_pending(sb, g) == ()
            s3.delete_bucket_policy(Bucket="dep-race-bucket")
            ddb.delete_resource_policy(ResourceArn=table_arn)
    finally:
        for g in grants:
            destroy_grant(sb, g, journal_at(tmp_path / f"{g.name}.pre.json", g.name))
        drop_resources(sb, grants[0])


# --- guard rails ---------------------------------------------------------------------------

def test_account_mismatch_is_refused_before_any_change(sb: Sandbox, app: typer.Typer,
                                                       tmp_path: Path) -> None:
    grant_file = tmp_path / "fault.yaml"
    grant_file.write_text(FAULT.replace("dep-fault", "dep-swap").replace("DepFault", "DepSwap"))
    result = cli(app, sb, "deploy", str(grant_file), "--journal", str(tmp_path / "j.json"),
                 "--source-profile", f"sandbox-{B}", "--target-profile", f"sandbox-{A}",
                 "--yes")
    assert isinstance(result.exception, AccountMismatchError)
    message = str(result.exception)
    assert f"profile 'sandbox-{B}'" in message and A in message and B in message
    assert not role_exists(sb, A, "DepSwapExec") and not role_exists(sb, B, "DepSwapExec")
    assert not (tmp_path / "j.json").exists()


def test_missing_bucket_is_a_plan_problem_and_apply_refuses(sb: Sandbox, app: typer.Typer,
                                                            tmp_path: Path) -> None:
    grant_file = tmp_path / "missing.yaml"
    grant_file.write_text(FAULT.replace("dep-fault", "dep-missing")
                          .replace("DepFault", "DepMissing"))
    plan = cli(app, sb, "plan", str(grant_file))
    assert plan.exit_code == 1
    assert "dep-missing-bucket does not exist" in plan.output.replace("\n", " ")
    deployed = cli(app, sb, "deploy", str(grant_file), "--journal", str(tmp_path / "j.json"),
                   "--yes")
    assert deployed.exit_code == 1
    assert not role_exists(sb, A, "DepMissingExec")


ADOPT = grant_yaml("dep-adopt", "dep-adopt-fn", "DepAdoptExec", "assume-role",
                   "role: {name: DepAdoptTarget}",
                   "access:",
                   "  dynamodb: [{table: dep-adopt-table, levels: [read]}]")


def test_existing_role_gets_its_trust_back_and_stays(sb: Sandbox, tmp_path: Path) -> None:
    _, grant = written(tmp_path, "adopt.yaml", ADOPT)
    artifacts = render(grant)
    make_resources(sb, grant)
    old_trust = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": "sts:AssumeRole"}]}
    iam_b = sb.client(B, "iam")
    iam_b.create_role(RoleName="DepAdoptTarget", AssumeRolePolicyDocument=json.dumps(old_trust))
    journal = journal_at(tmp_path / "j.json", grant.name)
    try:
        plan = make_plan(artifacts, accounts_for(sb, grant))
        assert any("not created by crossgrant" in w for w in plan.warnings)
        # a role of the grant's name that the journal did not create is never taken over
        # silently: deploy refuses, naming it and --adopt, and changes nothing
        with pytest.raises(NotOwnedError, match=r"role arn:aws:iam::222222222222:role/"
                                                r"DepAdoptTarget .*--adopt"):
            apply_grant(sb, grant, journal)
        assert not role_exists(sb, A, "DepAdoptExec")
        assert apply_grant(sb, grant, journal, adopt=True).ok
        assert destroy_grant(sb, grant, journal).ok
        role = iam_b.get_role(RoleName="DepAdoptTarget")["Role"]
        assert role["AssumeRolePolicyDocument"] == old_trust
        assert iam_b.list_role_policies(RoleName="DepAdoptTarget")["PolicyNames"] == []
        assert not role_exists(sb, A, "DepAdoptExec")
    finally:
        iam_b.delete_role(RoleName="DepAdoptTarget")
        drop_resources(sb, grant)


# --- the function, registered with the sandbox's runner ----------------------------------

FUNCTION = grant_yaml("dep-fn", "dep-whoami", "DepFnExec", "assume-role",
                      "role: {name: DepFnTarget}",
                      "access:",
                      "  s3: [{bucket: dep-fn-bucket, levels: [list]}]")
HANDLER = """\
import boto3

def handler(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]
"""


def package(tmp: Path, body: str) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("whoami.py", body)
        zf.writestr("crossgrant-package.json", json.dumps({"handler": "whoami.handler"}))
    path = tmp / "function.zip"
    path.write_bytes(buf.getvalue())
    return path


def test_function_deployed_with_the_grant(sb: Sandbox, app: typer.Typer,
                                          tmp_path: Path) -> None:
    grant_file, grant = written(tmp_path, "fn.yaml", FUNCTION)
    make_resources(sb, grant)
    journal = str(tmp_path / "j.json")
    zip_path = package(tmp_path, HANDLER)
    try:
        deployed = cli(app, sb, "deploy", str(grant_file), "--journal", journal,
                       "--function-zip", str(zip_path), "--yes")
        assert deployed.exit_code == 0, deployed.output
        result = sb.control.runner.invoke("dep-whoami", {})
        assert result.value == f"arn:aws:sts::{A}:assumed-role/DepFnExec/dep-whoami"
        same = cli(app, sb, "plan", str(grant_file), "--function-zip", str(zip_path),
                   "--json", "--check", "--journal", journal)
        assert same.exit_code == 0, same.output
        changed = package(tmp_path, HANDLER + "\n# v2\n")
        update = json.loads(cli(app, sb, "plan", str(grant_file), "--function-zip",
                                str(changed), "--json", "--journal", journal).output)
        assert [(c["kind"], c["action"]) for c in update["accounts"][0]["changes"]
                if c["action"] != "no-change"] == [("function", "update")]
        gone = cli(app, sb, "destroy", str(grant_file), "--journal", journal, "--yes")
        assert gone.exit_code == 0, gone.output
        assert "dep-whoami" not in {s.name for s in sb.control.runner.registry.all()}
    finally:
        drop_resources(sb, grant)


# --- snapshot: what cannot be read is unknown, never absent ------------------------------

def test_snapshot_records_a_denied_bucket_policy_as_unknown(sb: Sandbox, tmp_path: Path) -> None:
    from crossgrant.aws.clients import AccountSession  # noqa: PLC0415
    from crossgrant.aws.snapshot import snapshot  # noqa: PLC0415

    s3 = sb.client(B, "s3")
    for name in ("dep-snap-open", "dep-snap-secret"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_policy(Bucket=name, Policy=doc({
            "Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}))
    iam = sb.client(B, "iam")
    iam.create_role(RoleName="DepSnapRole", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}))
    reader = deployer(sb, "dep-snap-reader", {
        "Effect": "Deny", "Action": ["s3:GetBucketPolicy", "iam:ListRolePolicies"],
        "Resource": ["arn:aws:s3:::dep-snap-secret", f"arn:aws:iam::{B}:role/DepSnapRole"]})
    try:
        session = AccountSession(reader, label="snapshot reader", connection=connection(sb),
                                 region=REGION)
        result = snapshot([session])
        buckets = result.state.accounts[B].buckets
        assert isinstance(buckets["dep-snap-secret"].policy, UnknownPolicy)
        assert "AccessDenied" in buckets["dep-snap-secret"].policy.reason
        assert not isinstance(buckets["dep-snap-open"].policy, UnknownPolicy)
        assert buckets["dep-snap-open"].policy is not None
        dumped = json.loads(result.text)
        assert set(dumped["accounts"][B]["buckets"]["dep-snap-secret"]["policy"]) == {"unknown"}
        assert load_state(result.text) == result.state
        assert any("dep-snap-secret" in u for u in result.unknown)
        # a role whose inline policies cannot even be listed is not a role without any
        role = result.state.accounts[B].roles["DepSnapRole"]
        assert isinstance(role.inline_policies["crossgrant-unreadable"], UnknownPolicy)
    finally:
        iam.delete_role(RoleName="DepSnapRole")
        for name in ("dep-snap-open", "dep-snap-secret"):
            s3.delete_bucket(Bucket=name)


# --- what a new version of the grant drops is taken out ----------------------------------

EVOLVE_V1 = grant_yaml("dep-evolve", "dep-evolve-fn", "DepEvolveExec", "resource-policy",
                       "access:",
                       "  s3: [{bucket: dep-evolve-bucket, levels: [list]}]",
                       "  dynamodb: [{table: dep-evolve-table, levels: [read]}]")
EVOLVE_V2 = grant_yaml("dep-evolve", "dep-evolve-fn", "DepEvolveExec", "assume-role",
                       "role: {name: DepEvolveTarget}",
                       "access:",
                       "  s3: [{bucket: dep-evolve-bucket, levels: [list]}]")


def test_parts_dropped_from_the_grant_are_taken_out(sb: Sandbox, tmp_path: Path) -> None:
    (_, v1), (_, v2) = (written(tmp_path, "v1.yaml", EVOLVE_V1),
                        written(tmp_path, "v2.yaml", EVOLVE_V2))
    make_resources(sb, v1)
    ddb = sb.client(B, "dynamodb")
    table_arn = v1.table_arn("dep-evolve-table")
    journal = journal_at(tmp_path / "j.json", "dep-evolve")
    try:
        assert apply_grant(sb, v1, journal).ok
        plan = make_plan(render(v2), accounts_for(sb, v2), journal=journal)
        dropped = [(c.kind.value, c.name, c.action.value) for c in plan.pending
                   if c.note == "no longer part of the grant"]
        assert ("table policy statement", "CgDepEvolveTable0", "delete") in dropped
        assert ("bucket policy statement", "CgDepEvolveS3List0", "delete") in dropped
        result = apply_grant(sb, v2, journal)
        assert result.ok, result.error
        with pytest.raises(ClientError, match="PolicyNotFound"):
            ddb.get_resource_policy(ResourceArn=table_arn)
        assert journal.original(f"policy:table:{table_arn}") is None
        assert plan_pending(sb, v2, journal) == ()
        assert destroy_grant(sb, v2, journal).ok
        assert not role_exists(sb, B, "DepEvolveTarget")
        assert not role_exists(sb, A, "DepEvolveExec")
    finally:
        drop_resources(sb, v1)


# --- two grants sharing one execution role -------------------------------------------------

def shared_role_grant(n: int) -> str:
    return grant_yaml(f"dep-share-{n}", "dep-share-fn", "DepSharedRoleExec", "resource-policy",
                      "access:",
                      f"  dynamodb: [{{table: dep-share-table{n}, levels: [read]}}]")


def test_a_shared_execution_role_goes_with_the_last_grant(sb: Sandbox, tmp_path: Path) -> None:
    grants = []
    for n in (1, 2):
        grants.append(written(tmp_path, f"share{n}.yaml", shared_role_grant(n))[1])
        make_resources(sb, grants[-1])
    journals = [journal_at(tmp_path / f"{g.name}.json", g.name) for g in grants]
    iam = sb.client(A, "iam")
    try:
        for g, j in zip(grants, journals, strict=True):
            assert apply_grant(sb, g, j).ok
        assert sorted(iam.list_role_policies(RoleName="DepSharedRoleExec")["PolicyNames"]) == [
            "crossgrant-dep-share-1", "crossgrant-dep-share-2"]
        first = destroy_grant(sb, grants[0], journals[0])
        assert first.ok, first.error
        assert [s.detail for s in first.steps if s.action == "delete role"] == [
            "kept: it still holds crossgrant-dep-share-2"]
        assert iam.list_role_policies(RoleName="DepSharedRoleExec")["PolicyNames"] == [
            "crossgrant-dep-share-2"]
        assert plan_pending(sb, grants[1]) == ()
        assert destroy_grant(sb, grants[1], journals[1]).ok
        assert not role_exists(sb, A, "DepSharedRoleExec")
    finally:
        for g in grants:
            drop_resources(sb, g)


# --- waiting for IAM, where the caller may become the execution role -----------------------

WAIT = grant_yaml("dep-wait", "dep-wait-fn", "DepWaitExec", "assume-role",
                  "role: {name: DepWaitTarget, external_id: dep-wait-3f9a}",
                  "access:",
                  "  s3: [{bucket: dep-wait-bucket, levels: [list]}]",
                  existing_role=True)


def test_deploy_waits_until_the_target_role_can_be_assumed(sb: Sandbox,
                                                           tmp_path: Path) -> None:
    _, grant = written(tmp_path, "wait.yaml", WAIT)
    make_resources(sb, grant)
    iam = sb.client(A, "iam")
    iam.create_role(RoleName="DepWaitExec", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
         "Action": "sts:AssumeRole"}))
    journal = journal_at(tmp_path / "j.json", grant.name)
    try:
        result = apply_grant(sb, grant, journal)
        assert result.ok, result.error
        wait = result.steps[-1]
        assert (wait.action, wait.status) == ("wait for IAM", "done")
        assert wait.detail.startswith(f"arn:aws:iam::{A}:role/DepWaitExec assumed "
                                      f"arn:aws:iam::{B}:role/DepWaitTarget")
        assert destroy_grant(sb, grant, journal).ok
        assert role_exists(sb, A, "DepWaitExec")  # not crossgrant's: it stays
        assert iam.list_role_policies(RoleName="DepWaitExec")["PolicyNames"] == []
    finally:
        iam.delete_role(RoleName="DepWaitExec")
        drop_resources(sb, grant)

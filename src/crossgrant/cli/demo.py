"""`crossgrant demo`: what `make demo` runs. The whole life of the thumbnail grant (seed
003) on a fresh machine, in the local sandbox, in well under a minute:

prove it offline -> start two accounts -> deploy the grant -> register the thumbnailer ->
upload images to A's bucket -> S3 events run the function -> thumbnails land in B's
bucket and items in B's table -> show the STS calls and what the audit log refused.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from crossgrant.cli.console import console as make_console
from crossgrant.cli.extras import require
from crossgrant.iam.arn import account_root_arn, object_arn, role_arn

# The examples ship inside the package (crossgrant/examples, package data; in a checkout a
# symlink to the repository's examples/), so the demo runs from an installed wheel too.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_SOURCE_BUCKET = "account-a-uploads"


def _images() -> list[tuple[str, bytes, str]]:
    """Photo-like test images: JPEGs with EXIF orientations, a PNG with alpha, a WebP."""
    from PIL import Image, ImageDraw  # noqa: PLC0415 - Pillow only when the demo runs

    def photo(w: int, h: int, hue: int) -> Any:
        img = Image.new("RGB", (w, h))
        draw = ImageDraw.Draw(img)
        for y in range(0, h, 4):  # a sky-to-ground gradient with some structure
            shade = int(255 * y / h)
            draw.rectangle((0, y, w, y + 4), fill=(min(255, hue // 2 + shade // 2), 120,
                                                   255 - shade))
        draw.ellipse((w // 3, h // 4, w // 3 + w // 5, h // 4 + w // 5), fill=(250, 220, 90))
        return img

    out = []
    for name, orientation in (("beach.jpg", 1), ("portrait.jpg", 6), ("upside-down.jpg", 3)):
        buf = io.BytesIO()
        exif = Image.Exif()
        exif[0x0112] = orientation
        photo(1600, 1200, len(name) * 20).save(buf, "JPEG", quality=88, exif=exif)
        out.append((f"uploads/{name}", buf.getvalue(), "image/jpeg"))
    logo = Image.new("RGBA", (640, 640), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((40, 40, 600, 600), fill=(30, 144, 255, 200))
    buf = io.BytesIO()
    logo.save(buf, "PNG")
    out.append(("uploads/logo.png", buf.getvalue(), "image/png"))
    buf = io.BytesIO()
    photo(1024, 768, 90).save(buf, "WEBP", quality=80)
    out.append(("uploads/street.webp", buf.getvalue(), "image/webp"))
    return out


def _offline(console: Console) -> bool:
    from crossgrant.cli.eval import run_file  # noqa: PLC0415

    outcomes = run_file(str(EXAMPLES / "seed-scenarios.jsonl"))
    failed = [o for o in outcomes if not o.ok]
    console.print(f"[bold]1. The engine[/bold] decides the {len(outcomes)} seed scenarios: "
                  f"{len(outcomes) - len(failed)} as expected"
                  + (f", [red]{len(failed)} not[/red]" if failed else ""))
    return not failed


def _verify(console: Console, grant: Any) -> bool:
    from crossgrant.render import render  # noqa: PLC0415
    from crossgrant.verify.prove import verify  # noqa: PLC0415

    report = verify(render(grant))
    intended = [r for r in report.rows if r.probe.group == "intended"]
    attacks = [r for r in report.rows if r.probe.group == "adversarial"]
    console.print(f"[bold]2. verify[/bold] {grant.path}: {sum(r.ok for r in intended)}/"
                  f"{len(intended)} intended accesses allowed, {sum(r.ok for r in attacks)}/"
                  f"{len(attacks)} adversarial requests denied (offline, same engine)")
    return report.ok


def _run(console: Console, out_dir: Path | None = None) -> bool:
    from crossgrant.aws.clients import Connection, from_sessions  # noqa: PLC0415
    from crossgrant.aws.deploy import Options, apply  # noqa: PLC0415
    from crossgrant.aws.journal import Journal  # noqa: PLC0415
    from crossgrant.aws.seed import seed  # noqa: PLC0415
    from crossgrant.render import render  # noqa: PLC0415
    from crossgrant.sandbox.lambdas import FunctionSpec  # noqa: PLC0415
    from crossgrant.sandbox.server import Sandbox  # noqa: PLC0415
    from crossgrant.spec import load_grant  # noqa: PLC0415

    grant = load_grant(EXAMPLES / "thumbnails.yaml")
    ok = _offline(console) & _verify(console, grant)
    a, b = grant.source.account, grant.target.account
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crossgrant-demo-") as tmp:
        sandbox = Sandbox(port=0, accounts=(a, b), region=grant.source.region,
                          state_dir=Path(tmp) / "sandbox").start()
        try:
            console.print(f"[bold]3. sandbox[/bold] up on {sandbox.endpoint}: accounts {a} "
                          f"(source) and {b} (target), IAM enforced by crossgrant's engine")
            target = grant.s3[0].bucket
            connection = Connection(endpoint_url=sandbox.endpoint,
                                    ca_bundle=str(sandbox.ca_bundle), sandbox=True)
            accounts = from_sessions(grant, sandbox.session(a), sandbox.session(b), connection)
            # What B owns before any grant (`crossgrant sandbox seed`), and A's uploads.
            seed(accounts)
            sandbox.client(a, "s3").create_bucket(Bucket=_SOURCE_BUCKET,
                                                  CreateBucketConfiguration={
                                                      "LocationConstraint": grant.source.region})
            artifacts = render(grant)
            journal = Journal.open(Path(tmp) / "journal.json", grant.name,
                                   {"source": a, "target": b})
            result = apply(artifacts, accounts, journal, options=Options())
            done = sum(1 for s in result.steps if s.status == "done")
            console.print(f"[bold]4. deploy[/bold] {done} changes applied in order (A first, "
                          f"then B): " + ("ok" if result.ok else f"[red]{result.error}[/red]"))
            ok &= result.ok

            # The function's own account: it reads the uploads bucket with its own role.
            sandbox.client(a, "iam").put_role_policy(
                RoleName=grant.source.execution_role, PolicyName="read-uploads",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "s3:GetObject",
                    "Resource": object_arn(_SOURCE_BUCKET, "uploads/*")}]}))
            spec = sandbox.control.runner.register(FunctionSpec(
                name=grant.source.function, handler="crossgrant.functions.thumbnailer.handler",
                role_arn=grant.execution_role_arn, timeout=60,
                env=(("TARGET_ROLE_ARN", grant.target_role_arn or ""),
                     ("EXTERNAL_ID", grant.target.external_id or ""),
                     ("TARGET_BUCKET", target),
                     ("TARGET_TABLE", grant.table_arn(grant.dynamodb[0].table)),
                     ("THUMB_PREFIX", grant.s3[0].prefixes[0]), ("THUMB_SIZES", "128,512"))))
            sandbox.client(a, "s3").put_bucket_notification_configuration(
                Bucket=_SOURCE_BUCKET, NotificationConfiguration={
                    "LambdaFunctionConfigurations": [{
                        "LambdaFunctionArn": spec.arn, "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [
                            {"Name": "prefix", "Value": "uploads/"}]}}}]})
            images = _images()
            s3_a = sandbox.client(a, "s3")
            for key, data, content_type in images:
                s3_a.put_object(Bucket=_SOURCE_BUCKET, Key=key, Body=data,
                                ContentType=content_type)
            console.print(f"[bold]5. upload[/bold] {len(images)} images to "
                          f"s3://{_SOURCE_BUCKET}/uploads/ in account {a}; S3 events run "
                          f"{spec.name} in the sandbox's Lambda runner")
            with console.status(f"waiting for {len(images)} S3 events to be processed..."):
                sandbox.control.events.wait(60, count=len(images))
            deliveries = sandbox.control.events.deliveries(_SOURCE_BUCKET)
            ok &= _show(console, sandbox, grant, deliveries, len(images), out_dir)
        finally:
            sandbox.stop()
    console.print(f"sandbox stopped; {time.monotonic() - t0:.1f} s end to end")
    return ok


def _show(console: Console, sandbox: Any, grant: Any, deliveries: list[Any],
          expected: int, out_dir: Path | None) -> bool:
    a, b = grant.source.account, grant.target.account
    thumbs = Table(title=f"thumbnails in s3://{grant.s3[0].bucket} (account {b})")
    for col in ("key", "bytes", "content type"):
        thumbs.add_column(col)
    s3_b = sandbox.client(b, "s3")
    listed = s3_b.list_objects_v2(Bucket=grant.s3[0].bucket).get("Contents", [])
    for obj in listed:
        got = s3_b.get_object(Bucket=grant.s3[0].bucket, Key=obj["Key"])
        data = got["Body"].read()
        thumbs.add_row(obj["Key"], f"{obj['Size']:,}", got.get("ContentType", ""))
        if out_dir is not None:
            path = out_dir / obj["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    console.print(thumbs)
    if out_dir is not None:
        console.print(f"thumbnails copied to {out_dir}/ to open")
    items = sandbox.client(b, "dynamodb").scan(TableName=grant.dynamodb[0].table)["Items"]
    console.print(f"{len(items)} items in table {grant.dynamodb[0].table} (account {b}); "
                  f"deliveries: " + ", ".join(f"{d.key} {d.status}" for d in deliveries))

    audit = sandbox.audit.records
    sts = [r for r in audit if r.action == "sts:AssumeRole"]
    calls = Table(title="STS calls (from the sandbox's audit log)")
    for col in ("principal", "source identity", "role", "decision"):
        calls.add_column(col)
    for r in sts:
        calls.add_row(r.principal, r.source_identity or "", r.resource or "", r.decision)
    console.print(calls)
    console.print(f"{len(sts)} AssumeRole calls for {expected} images: sessions are cached per "
                  f"worker process and refreshed before expiry (crossgrant.runtime)")
    in_b = Table(title=f"calls made in account {b} by the assumed role")
    for col in ("principal", "source identity", "action", "decision", "count"):
        in_b.add_column(col)
    grouped: dict[tuple[str, str, str, str], int] = {}
    for r in audit:
        if f":assumed-role/{grant.target.role_name}/" in r.principal and r.action:
            k = (r.principal, r.source_identity or "", r.action, r.decision)
            grouped[k] = grouped.get(k, 0) + 1
    for (who, ident, action, decision), n in sorted(grouped.items()):
        in_b.add_row(who, ident, action, decision, str(n))
    console.print(in_b)

    # What the grant refuses, asked live: the function's role writing outside its prefix,
    # and another role of account A trying to assume the target role.
    import boto3  # noqa: PLC0415
    from botocore.exceptions import ClientError  # noqa: PLC0415

    refused = Table(title="refused, with AWS's answer")
    refused.add_column("attempt")
    refused.add_column("answer")
    iam_a = sandbox.client(a, "iam")
    iam_a.create_role(RoleName="other-team-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "AWS": account_root_arn(a)}, "Action": "sts:AssumeRole"}]}))
    iam_a.put_role_policy(RoleName="other-team-role", PolicyName="admin",
                          PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                              {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    creds = sandbox.client(a, "sts").assume_role(
        RoleArn=role_arn(a, "other-team-role"), RoleSessionName="intruder")

    other = boto3.Session(aws_access_key_id=creds["Credentials"]["AccessKeyId"],
                          aws_secret_access_key=creds["Credentials"]["SecretAccessKey"],
                          aws_session_token=creds["Credentials"]["SessionToken"],
                          region_name=grant.source.region)
    # The function's own path, as the Lambda runner gets it: the service assumes the
    # execution role; from there, a wrong external id, and plain HTTP.
    lam_key, lam_secret = sandbox.credentials.service_key("lambda.amazonaws.com")
    lam = boto3.Session(aws_access_key_id=lam_key, aws_secret_access_key=lam_secret,
                        region_name=grant.source.region)
    exec_creds = lam.client("sts", endpoint_url=sandbox.endpoint,
                            verify=str(sandbox.ca_bundle)).assume_role(
        RoleArn=grant.execution_role_arn, RoleSessionName=grant.source.function)["Credentials"]
    fn = boto3.Session(aws_access_key_id=exec_creds["AccessKeyId"],
                       aws_secret_access_key=exec_creds["SecretAccessKey"],
                       aws_session_token=exec_creds["SessionToken"],
                       region_name=grant.source.region)
    fn_sts = fn.client("sts", endpoint_url=sandbox.endpoint, verify=str(sandbox.ca_bundle))
    target = fn_sts.assume_role(RoleArn=grant.target_role_arn,
                                RoleSessionName=grant.source.function,
                                ExternalId=grant.target.external_id,
                                SourceIdentity=grant.source.function)["Credentials"]
    tgt = boto3.Session(aws_access_key_id=target["AccessKeyId"],
                        aws_secret_access_key=target["SecretAccessKey"],
                        aws_session_token=target["SessionToken"],
                        region_name=grant.source.region)
    attempts: list[tuple[str, Callable[[], Any]]] = [
        ("the function assumes the target role with a wrong external id",
         lambda: fn_sts.assume_role(RoleArn=grant.target_role_arn,
                                    RoleSessionName=grant.source.function,
                                    ExternalId="not-the-external-id")),
        ("the function's target session writes over plain HTTP",
         lambda: tgt.client("s3", endpoint_url=sandbox.http_endpoint).put_object(
             Bucket=grant.s3[0].bucket, Key="thumbs/plain-http.jpg", Body=b"x")),
        ("the function's target session writes outside thumbs/",
         lambda: tgt.client("s3", endpoint_url=sandbox.endpoint,
                            verify=str(sandbox.ca_bundle)).put_object(
             Bucket=grant.s3[0].bucket, Key="elsewhere/x.jpg", Body=b"x")),
        ("another role of A assumes the target role",
         lambda: other.client("sts", endpoint_url=sandbox.endpoint,
                              verify=str(sandbox.ca_bundle)).assume_role(
             RoleArn=grant.target_role_arn, RoleSessionName="intruder",
             ExternalId=grant.target.external_id)),
        ("another role of A writes B's bucket directly",
         lambda: other.client("s3", endpoint_url=sandbox.endpoint,
                              verify=str(sandbox.ca_bundle)).put_object(
             Bucket=grant.s3[0].bucket, Key="thumbs/evil.jpg", Body=b"x")),
    ]
    all_refused = True
    for label, call in attempts:
        try:
            call()
            refused.add_row(label, "[bold red]ALLOWED[/bold red]")
            all_refused = False
        except ClientError as exc:
            err = exc.response.get("Error", {})
            refused.add_row(label, f"{err.get('Code')}: {err.get('Message')}")
    console.print(refused)
    good = sum(1 for d in deliveries if d.status == "succeeded")
    ok = good == expected and len(items) == expected and all_refused and len(listed) > 0
    console.print(("[bold green]demo ok[/bold green]" if ok else "[bold red]demo failed"
                   "[/bold red]") + f": {good}/{expected} images processed, "
                   f"{len(listed)} thumbnails, {len(items)} table items")
    return ok


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        out: Path = typer.Option(Path("crossgrant-demo"), "--out",
                                 help="Where to copy the thumbnails, to open them."),
    ) -> None:
        """Run the thumbnail pipeline end to end in the local two-account sandbox."""
        require("crossgrant demo", "sandbox", "functions")
        if not _run(make_console(), out):
            raise typer.Exit(1)

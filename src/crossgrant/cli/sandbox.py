"""`crossgrant sandbox`: a local two-account AWS on loopback that enforces IAM.

Only `up` runs the sandbox, so only `up` needs moto (`crossgrant[sandbox]`); every other
subcommand talks to a running sandbox through its state directory, its credentials file
and its HTTPS endpoint, and imports neither moto nor the server.

`env` fails closed: with no sandbox running it still prints exports, pointing the shell at
a dead loopback endpoint with credentials that exist nowhere (and no profile, config file
or instance metadata to fall back on), then exits 2, so an `eval` of it cannot leave the
shell talking to real AWS with the user's own credentials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from crossgrant.errors import CrossgrantError
from crossgrant.iam.arn import check_account_id
from crossgrant.sandbox import protocol
from crossgrant.sandbox.protocol import DEFAULT_PORT, DEFAULT_REGION, Info

sandbox_app = typer.Typer(help="A local two-account AWS that really enforces IAM.",
                          no_args_is_help=True)

DEFAULT_ACCOUNTS = ",".join(protocol.DEFAULT_ACCOUNTS)
PORT_ENV = "CROSSGRANT_SANDBOX_PORT"
DEAD_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, nothing answers

Port = Annotated[int, typer.Option("--port", envvar=PORT_ENV, show_envvar=False,
                                   help=f"Port on 127.0.0.1 (or ${PORT_ENV}).")]
StateDir = Annotated[Path | None, typer.Option(
    "--state-dir", help=f"The sandbox's state directory (or ${protocol.STATE_DIR_ENV}; "
                        f"default: one per port under ~/.local/state/crossgrant).")]


def _state_dir(port: int, given: Path | None) -> Path:
    return given or protocol.default_state_dir(port)


def _healthy(port: int) -> bool:
    return protocol.healthy(protocol.http_port_of(port))


def _running(port: int, state_dir: Path | None) -> Info:
    """What the state directory says about the sandbox running there."""
    info = Info.read(_state_dir(port, state_dir))
    if info is None:
        raise CrossgrantError(f"no sandbox is running (nothing in "
                              f"{_state_dir(port, state_dir)}): `crossgrant sandbox up"
                              f"{_where(port, state_dir)}` first")
    return info


@sandbox_app.command("up")
def up(
    port: Port = DEFAULT_PORT,
    accounts: str = typer.Option(DEFAULT_ACCOUNTS, "--accounts",
                                 help="Comma-separated account ids."),
    region: str = typer.Option(DEFAULT_REGION, "--region"),
    state_dir: StateDir = None,
    foreground: bool = typer.Option(False, "--foreground", help="Serve in this process."),
    org: Path | None = typer.Option(None, "--org", help="Serve an organization: JSON (a "
                                    "state file's \"organization\"), its accounts in OUs, "
                                    "SCPs and RCPs."),
) -> None:
    """Start the sandbox (moto server behind crossgrant's authorizer)."""
    from crossgrant.cli.extras import require  # noqa: PLC0415

    require("crossgrant sandbox up", "sandbox")
    ids = [check_account_id(a.strip(), "--accounts") for a in accounts.split(",") if a.strip()]
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise CrossgrantError("--accounts: give at least two different account ids")
    directory = _state_dir(port, state_dir)
    if _healthy(port):
        raise CrossgrantError(f"port {port} already serves a sandbox; "
                              f"`crossgrant sandbox down --port {port}` first")
    args = [sys.executable, "-m", "crossgrant.sandbox.server", "--port", str(port),
            "--accounts", ",".join(ids), "--region", region, "--state-dir", str(directory)]
    if org is not None:
        args += ["--org", str(org.resolve())]
    if foreground:
        os.execv(sys.executable, args)
    directory.mkdir(parents=True, exist_ok=True)
    log = (directory / protocol.SERVER_LOG).open("ab")
    proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CrossgrantError(f"the sandbox exited with code {proc.returncode}; see "
                                  f"{directory / protocol.SERVER_LOG}")
        if _healthy(port) and (directory / protocol.STATE_FILE).exists():
            break
        time.sleep(0.1)
    else:
        proc.terminate()
        raise CrossgrantError(f"the sandbox did not answer on port {port} within 60 s")
    typer.echo(f"sandbox up on {protocol.endpoint(port)} (plain HTTP on "
               f"{protocol.http_port_of(port)}; "
               f"pid {proc.pid}), accounts {', '.join(ids)}, region {region}")
    where = _where(port, state_dir)
    typer.echo(f"use an account:  eval \"$(crossgrant sandbox env {ids[0]}{where})\"")
    if directory != protocol.default_state_dir(DEFAULT_PORT):
        typer.echo(f"deploy to it:    crossgrant deploy GRANT --sandbox-dir {directory}")


def _where(port: int, state_dir: Path | None) -> str:
    """The options that lead another command to this sandbox (none for the defaults)."""
    out = "" if port == DEFAULT_PORT or os.environ.get(PORT_ENV) == str(port) \
        else f" --port {port}"
    return out + (f" --state-dir {state_dir}" if state_dir is not None else "")


@sandbox_app.command("down")
def down(
    port: Port = DEFAULT_PORT,
    state_dir: StateDir = None,
) -> None:
    """Stop the sandbox started by `up`."""
    directory = _state_dir(port, state_dir)
    info = Info.read(directory)
    if info is None:
        raise CrossgrantError(f"no sandbox is recorded in {directory}")
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        (directory / protocol.STATE_FILE).unlink(missing_ok=True)
        typer.echo(f"sandbox (pid {info.pid}) was not running; record removed")
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _healthy(info.port):
        time.sleep(0.1)
    typer.echo(f"sandbox on port {info.port} stopped")


# What `env` leaves in the shell when no sandbox runs: nothing that could reach real AWS.
_CLOSED: tuple[tuple[str, str], ...] = (
    ("AWS_ENDPOINT_URL", DEAD_ENDPOINT),
    ("AWS_ACCESS_KEY_ID", "crossgrant-no-sandbox"),
    ("AWS_SECRET_ACCESS_KEY", "crossgrant-no-sandbox"),
    ("AWS_CONFIG_FILE", os.devnull),  # no profile, SSO session or credential_process
    ("AWS_SHARED_CREDENTIALS_FILE", os.devnull),
    ("AWS_EC2_METADATA_DISABLED", "true"),  # no instance role either
    ("AWS_DEFAULT_REGION", DEFAULT_REGION), ("AWS_REGION", DEFAULT_REGION),
)
_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
          "AWS_CA_BUNDLE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def exports(info: Info | None, account: str) -> list[str]:
    """The shell lines `env` prints: the sandbox as `account`, or, with no sandbox, the
    closed set above, ending in a command that fails so that `eval` reports it too."""
    if info is None:
        return [*(f"export {k}={v}" for k, v in _CLOSED), f"unset {' '.join(_UNSET)}",
                "(exit 2)"]
    pairs = (("AWS_ENDPOINT_URL", info.endpoint), ("AWS_CA_BUNDLE", str(info.ca_bundle)),
             ("AWS_SHARED_CREDENTIALS_FILE", str(info.credentials_file)),
             ("AWS_PROFILE", info.profile(account)),
             ("AWS_DEFAULT_REGION", info.region), ("AWS_REGION", info.region))
    return [*(f"export {k}={v}" for k, v in pairs),
            "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN"]


@sandbox_app.command("env")
def env(
    account: str = typer.Argument(..., metavar="ACCOUNT",
                                  help="The account whose administrator to use."),
    port: Port = DEFAULT_PORT,
    state_dir: StateDir = None,
) -> None:
    """Print `export` lines that point boto3 and the AWS CLI at the sandbox as ACCOUNT.

    The secrets stay in the sandbox's credentials file (mode 0600); only its path and the
    profile name are printed. With no sandbox running, the lines point at a dead endpoint
    with no usable credentials, and the exit status is 2.
    """
    check_account_id(account, "ACCOUNT")
    directory = _state_dir(port, state_dir)
    info = Info.read(directory)
    if info is not None and not protocol.healthy(info.http_port):
        info = None  # a record left by a sandbox that is gone
    if info is not None and account not in info.accounts:
        raise CrossgrantError(f"account {account} is not one of the sandbox's accounts "
                              f"({', '.join(info.accounts)})")
    for line in exports(info, account):
        typer.echo(line)
    if info is None:
        raise CrossgrantError(f"no sandbox is running (nothing answers for {directory}): "
                              f"this shell now points at {DEAD_ENDPOINT} with no usable "
                              f"credentials, so AWS calls fail; `crossgrant sandbox up"
                              f"{_where(port, state_dir)}` first")


@sandbox_app.command("audit")
def audit(
    port: Port = DEFAULT_PORT,
    state_dir: StateDir = None,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new records."),
    denied: bool = typer.Option(False, "--denied", help="Only requests that were refused."),
    as_json: bool = typer.Option(False, "--json", help="The raw JSON lines."),
) -> None:
    """Show the sandbox's audit log: who did what, and the decision with its statement."""
    path = _state_dir(port, state_dir) / protocol.AUDIT_FILE
    if not path.exists():
        raise CrossgrantError(f"{path}: no audit log (is the sandbox running?)")
    with path.open(encoding="utf-8") as f:
        while True:
            line = f.readline()
            if not line:
                if not follow:
                    return
                time.sleep(0.2)
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if denied and rec.get("decision") in ("Allow", "Delivered"):
                continue
            if as_json:
                typer.echo(line.rstrip("\n"))
            else:
                who = rec.get("principal", "?")
                if rec.get("source_identity"):
                    who += f" ({rec['source_identity']})"
                typer.echo(f"{rec.get('time')} {rec.get('decision'):<13} {who} "
                           f"{rec.get('action') or rec.get('operation')} "
                           f"{rec.get('resource') or ''} :: {rec.get('deciding') or ''}")


@sandbox_app.command("seed")
def seed_command(
    grants: list[Path] = typer.Argument(..., metavar="GRANT",
                                        help="grant.yaml files whose resources to create."),
    port: Port = DEFAULT_PORT,
    state_dir: StateDir = None,
    as_json: bool = typer.Option(False, "--json", help="Print what was seeded as JSON."),
) -> None:
    """Create the buckets, tables and keys the grants name, as their owners would have."""
    from crossgrant.aws.seed import sandbox_accounts, seed  # noqa: PLC0415
    from crossgrant.serial import to_json  # noqa: PLC0415
    from crossgrant.spec import load_grant  # noqa: PLC0415

    info = _running(port, state_dir)
    done = [(str(path), seed(sandbox_accounts(load_grant(path), info))) for path in grants]
    if as_json:
        typer.echo(json.dumps([{"grant": g, "seeded": to_json(items)} for g, items in done],
                              indent=2))
        return
    for grant, items in done:
        typer.echo(f"{grant}: " + (", ".join(f"{s.kind} {s.name} {s.status}" for s in items)
                                   or "nothing to create"))
        for s in items:
            if s.note and s.kind == "key":
                typer.echo(f"  note: {s.note}")


# -- functions: the control API of a running sandbox ---------------------------------------


def _control(port: int, state_dir: Path | None, method: str, path: str,
             body: bytes | None = None, headers: dict[str, str] | None = None,
             timeout: float = 60) -> tuple[int, Any]:
    """Call /_crossgrant/PATH on the running sandbox with its control token."""
    info = _running(port, state_dir)
    try:
        token = info.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CrossgrantError(f"cannot read the sandbox's control token: {exc}") from None
    try:
        status, parsed = protocol.call(info.endpoint, token, method, path, body,
                                       ca_bundle=str(info.ca_bundle), headers=headers,
                                       timeout=timeout)
    except OSError as exc:
        raise CrossgrantError(f"cannot reach the sandbox at {info.endpoint}: {exc}") from None
    if status >= 400:
        err = parsed if isinstance(parsed, dict) else {}
        message = f"{err.get('__type', status)}: {err.get('message', '')}"
        if err.get("Reason"):
            message += f" ({err['Reason']})"
        raise CrossgrantError(message)
    return status, parsed


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CrossgrantError(f"--env {pair!r}: expected NAME=VALUE")
        out[key] = value
    return out


@sandbox_app.command("register")
def register_command(
    name: str = typer.Argument(..., help="The function name."),
    handler: str = typer.Option(..., "--handler", help="module.function (or pkg.mod.fn)."),
    role: str = typer.Option(..., "--role", help="The execution role's ARN."),
    code: Path | None = typer.Option(None, "--code", help="A directory added to the "
                                                          "worker's sys.path."),
    env_pairs: list[str] = typer.Option([], "--env", help="NAME=VALUE; repeatable."),
    timeout: int = typer.Option(30, "--timeout", help="Seconds, 1-900."),
    memory: int = typer.Option(128, "--memory", help="MB (reported, not enforced)."),
    account: str | None = typer.Option(None, "--account",
                                       help="The function's account (default: the role's)."),
    port: Port = DEFAULT_PORT,
    state_dir: StateDir = None,
    as_json: bool = typer.Option(False, "--json", help="Print the function as JSON."),
) -> None:
    """Register (or replace) a function in the running sandbox."""
    if code is not None and not code.is_dir():
        raise CrossgrantError(f"--code {code}: not a directory")
    if account is not None:
        check_account_id(account, "--account")
    spec: dict[str, Any] = {"name": name, "handler": handler, "role_arn": role,
                            "env": _env_pairs(env_pairs), "timeout": timeout,
                            "memory": memory}
    if code is not None:
        spec["code_dir"] = str(code.resolve())
    if account is not None:
        spec["account"] = account
    _, fn = _control(port, state_dir, "POST", protocol.FUNCTIONS, json.dumps(spec).encode())
    if as_json:
        typer.echo(json.dumps(fn, indent=2))
        return
    from rich.table import Table  # noqa: PLC0415

    from crossgrant.cli.console import console  # noqa: PLC0415

    table = Table(title=f"registered {fn['name']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for label, key in (("ARN", "arn"), ("handler", "handler"), ("role", "role_arn"),
                       ("code", "code_dir"), ("timeout", "timeout"), ("memory", "memory")):
        table.add_row(label, str(fn.get(key)))
    if fn.get("env"):
        table.add_row("env", ", ".join(sorted(fn["env"])))
    console().print(table)


@sandbox_app.command("invoke")
def invoke_command(
    name: str = typer.Argument(..., help="The function's name or ARN."),
    payload: str = typer.Option("{}", "--payload", help="The event as JSON, or @FILE."),
    is_async: bool = typer.Option(False, "--async", help="Invocation type Event: queue it "
                                                         "and return."),
    port: Port = DEFAULT_PORT,
    state_dir: StateDir = None,
    as_json: bool = typer.Option(False, "--json", help="Print the response as JSON."),
) -> None:
    """Invoke a registered function; exits 1 when the function itself failed."""
    text = Path(payload[1:]).read_text(encoding="utf-8") if payload.startswith("@") \
        else payload
    try:
        json.loads(text)
    except ValueError as exc:
        raise CrossgrantError(f"--payload is not JSON: {exc}") from None
    kind = "Event" if is_async else "RequestResponse"
    _, result = _control(port, state_dir, "POST", f"{protocol.INVOKE}/{name}",
                         text.encode("utf-8"), {protocol.INVOCATION_TYPE_HEADER: kind},
                         timeout=960)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_invocation(result)
    if isinstance(result, dict) and result.get("FunctionError"):
        raise typer.Exit(1)


def _print_invocation(result: dict[str, Any]) -> None:
    import base64  # noqa: PLC0415

    from rich.json import JSON  # noqa: PLC0415
    from rich.panel import Panel  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from crossgrant.cli.console import console as make_console  # noqa: PLC0415

    console = make_console()
    if result.get("StatusCode") == 202:
        console.print(f"[green]queued[/green] (Event) RequestId {result.get('RequestId')}")
        return
    error = result.get("FunctionError")
    head = "[bold red]FunctionError: " + str(error) + "[/bold red]" if error \
        else "[green]StatusCode 200[/green]"
    console.print(f"{head}  RequestId {result.get('RequestId')}")
    console.print(Panel(JSON(json.dumps(result.get("Payload"))), title="Payload",
                        expand=False))
    logs = base64.b64decode(result.get("LogResult") or "").decode("utf-8", "replace")
    if logs:
        console.print(Panel(Text(logs.rstrip("\n")), title="Log (last 4 KB)", style="dim",
                            expand=False))


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")

"""`crossgrant plan | deploy (apply) | destroy | probe | snapshot`: the boto3 edge.

Exit codes: 0 when all is well; 1 when the plan has problems (or, with `--check`, pending
changes), an apply or destroy stopped on an AWS error, or a probe step was denied or
failed; 2 for a user's mistake (a bad grant file, credentials of the wrong account, no
sandbox running), as everywhere in crossgrant.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from crossgrant.errors import CrossgrantError
from crossgrant.iam.arn import check_account_id
from crossgrant.render import Artifacts, render
from crossgrant.sandbox import protocol
from crossgrant.serial import to_json
from crossgrant.spec import load_grant
from crossgrant.spec.model import Grant

if TYPE_CHECKING:  # boto3 is imported when a command runs, not when the CLI starts
    from crossgrant.aws.clients import Accounts, AccountSession, Connection
    from crossgrant.aws.deploy import ApplyResult, DestroyResult, StepResult
    from crossgrant.aws.functions import FunctionBundle, FunctionTarget
    from crossgrant.aws.journal import Journal
    from crossgrant.aws.plan import Change, Plan
    from crossgrant.aws.policies import Timing
    from crossgrant.aws.probe import ProbeReport

_MARK = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red"),
         "no-change": ("=", "dim")}


# --- credentials ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Sandbox:
    connection: Connection
    accounts: tuple[str, ...]
    state_dir: Path


def _sandbox(state_dir: Path | None) -> _Sandbox:
    from crossgrant.aws.clients import Connection  # noqa: PLC0415

    directory = state_dir or protocol.default_state_dir(protocol.DEFAULT_PORT)
    info = protocol.Info.read(directory)
    if info is None:
        raise CrossgrantError(f"no sandbox is running (nothing in {directory}); "
                              f"`crossgrant sandbox up` first, or pass --sandbox-dir")
    return _Sandbox(Connection(endpoint_url=info.endpoint, ca_bundle=str(info.ca_bundle),
                               credentials_file=str(info.credentials_file),
                               region=info.region, control_url=info.endpoint,
                               control_token=protocol.read_token(directory), sandbox=True),
                    info.accounts, directory)


def _connection(sandbox: bool, sandbox_dir: Path | None, endpoint_url: str | None,
                ca_bundle: Path | None) -> tuple[Connection, _Sandbox | None]:
    from crossgrant.aws.clients import Connection  # noqa: PLC0415

    if sandbox or sandbox_dir is not None:
        if endpoint_url:
            raise CrossgrantError("--sandbox and --endpoint-url exclude each other")
        sb = _sandbox(sandbox_dir)
        return sb.connection, sb
    return Connection(endpoint_url=endpoint_url,
                      ca_bundle=str(ca_bundle) if ca_bundle else None), None


def _accounts(grant: Grant, source_profile: str | None, target_profile: str | None,
              sandbox: bool, sandbox_dir: Path | None, endpoint_url: str | None,
              ca_bundle: Path | None) -> Accounts:
    from crossgrant.aws.clients import connect  # noqa: PLC0415

    connection, sb = _connection(sandbox, sandbox_dir, endpoint_url, ca_bundle)
    if sb is not None:
        for side, account in (("source", grant.source.account),
                              ("target", grant.target.account)):
            if account not in sb.accounts:
                raise CrossgrantError(f"{grant.path}: the {side} account {account} is not one "
                                      f"of the sandbox's ({', '.join(sb.accounts)})")
        source_profile = source_profile or protocol.profile(grant.source.account)
        target_profile = target_profile or protocol.profile(grant.target.account)
    return connect(grant, connection, source_profile=source_profile,
                   target_profile=target_profile)


def _functions(grant: Grant, accounts: Accounts, journal_path: Path) -> FunctionTarget:
    from crossgrant.aws.functions import LambdaFunctions, SandboxFunctions  # noqa: PLC0415

    conn = accounts.connection
    if conn.sandbox:
        if not conn.control_url or not conn.control_token:
            raise CrossgrantError("the sandbox's control token is missing: this sandbox "
                                  "cannot register functions")
        return SandboxFunctions(conn.control_url, conn.control_token, conn.ca_bundle,
                                journal_path.parent / "functions" / grant.name)
    return LambdaFunctions(accounts.source, grant.source.region)


def _bundle(zip_path: Path | None, handler: str | None, runtime: str | None, timeout: int,
            memory: int) -> FunctionBundle | None:
    from crossgrant.aws.functions import FunctionBundle  # noqa: PLC0415

    if zip_path is None:
        if handler is not None:
            raise CrossgrantError("--handler needs --function-zip")
        return None
    return FunctionBundle.load(zip_path, handler=handler, runtime=runtime, timeout=timeout,
                               memory=memory)


# --- shared options ----------------------------------------------------------------------
# One Annotated type per option (Typer's way to share an option): a command lists the
# options it takes, with their defaults, and each is worded once here.

GrantFile = Annotated[Path, typer.Argument(metavar="GRANT", help="grant.yaml")]
SourceProfile = Annotated[str | None, typer.Option(
    "--source-profile", help="boto3 profile of the source account (A).")]
TargetProfile = Annotated[str | None, typer.Option(
    "--target-profile", help="boto3 profile of the target account (B).")]
UseSandbox = Annotated[bool, typer.Option("--sandbox",
                                          help="Use the running sandbox's accounts.")]
SandboxDir = Annotated[Path | None, typer.Option(
    "--sandbox-dir", help="The sandbox's state directory (implies --sandbox).")]
EndpointUrl = Annotated[str | None, typer.Option("--endpoint-url",
                                                 help="Send every AWS call here.")]
CaBundle = Annotated[Path | None, typer.Option("--ca-bundle",
                                               help="CA bundle for --endpoint-url.")]
JournalFile = Annotated[Path | None, typer.Option(
    "--journal", help="Journal file (default .crossgrant/GRANT.journal.json).")]
FunctionZip = Annotated[Path | None, typer.Option(
    "--function-zip", help="A `crossgrant package` zip: create or update the function.")]
Handler = Annotated[str | None, typer.Option(
    "--handler", help="module.function (default: from the zip).")]
Runtime = Annotated[str | None, typer.Option(
    "--runtime", help="Lambda runtime (default python3.11).")]
FunctionTimeout = Annotated[int, typer.Option("--function-timeout",
                                              help="Function timeout, seconds.")]
FunctionMemory = Annotated[int, typer.Option("--function-memory",
                                             help="Function memory, MB.")]
WaitTimeout = Annotated[float, typer.Option(
    "--wait-timeout", help="Seconds to wait out IAM propagation and concurrent writers.")]
Settle = Annotated[float | None, typer.Option(
    "--settle", help="Seconds between a policy write and the read that checks it stayed "
                     "(default 1, sandbox 0.2).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _load(grant_file: Path) -> tuple[Grant, Artifacts]:
    grant = load_grant(grant_file)
    return grant, render(grant)


def _timing(wait: float, settle: float | None, sandbox: bool) -> Timing:
    from crossgrant.aws.policies import Timing  # noqa: PLC0415

    return Timing(settle=settle if settle is not None else (0.2 if sandbox else 1.0),
                  timeout=wait)


def _journal(grant: Grant, path: Path | None) -> Journal:
    from crossgrant.aws.journal import Journal, default_journal_path  # noqa: PLC0415

    return Journal.open(path or default_journal_path(grant.name), grant.name,
                        {"source": grant.source.account, "target": grant.target.account},
                        grant.path)


# --- printing ------------------------------------------------------------------------------

def _pretty(doc: Any) -> list[str]:
    return json.dumps(doc, indent=2, sort_keys=True).splitlines()


def _print_change(console: Console, change: Change) -> None:
    action = change.action.value
    mark, style = _MARK[action]
    verb = "no change:" if action == "no-change" else action
    console.print(f"  [{style}]{mark} {verb}[/{style}] {escape(change.label)}"
                  + (f" [dim]({escape(change.note)})[/dim]" if change.note else ""))
    if action == "create":
        for line in _pretty(change.after):
            console.print(f"      [green]+ {escape(line)}[/green]")
    elif action == "delete" and change.before is not None:
        for line in _pretty(change.before):
            console.print(f"      [red]- {escape(line)}[/red]")
    elif action == "update":
        diff = difflib.unified_diff(_pretty(change.before), _pretty(change.after),
                                    "before", "after", lineterm="", n=2)
        for line in list(diff)[2:]:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
            text = escape(line)
            console.print(f"      [{style}]{text}[/{style}]" if style else f"      {text}")


def print_plan(plan: Plan, console: Console) -> None:
    """The plan the way Terraform shows one: per account, `+` create, `~` update, `-`
    delete, `=` no change, with the documents and a diff for updates."""
    grant = plan.artifacts.grant
    console.print(f"[bold]crossgrant plan: {escape(grant.name)}[/bold] ({escape(grant.path)})")
    for side, account in plan.order:
        console.print(f"\n[bold]{side} account {account}[/bold]")
        mine = [c for c in plan.changes if c.account == account]
        if not mine:
            console.print("  (nothing)")
        for change in mine:
            _print_change(console, change)
    for problem in plan.problems:
        console.print(f"[bold red]problem:[/bold red] {escape(problem)}")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    s = plan.summary()
    console.print(f"\nPlan: {s['create']} to create, {s['update']} to update, "
                  f"{s['delete']} to delete, {s['no-change']} unchanged."
                  + (f" [bold red]{len(plan.problems)} problem(s): apply would refuse."
                     f"[/bold red]" if plan.problems else ""))


def _print_step(console: Console, step: StepResult) -> None:
    mark = {"done": "[green]✓[/green]", "failed": "[bold red]✗[/bold red]",
            "skipped": "[yellow]-[/yellow]", "not run": "[dim]·[/dim]"}[step.status]
    detail = f": {escape(step.detail)}" if step.detail else ""
    console.print(f"{mark} {step.action} {escape(step.subject)}{detail} "
                  f"[dim]({step.seconds:.1f} s)[/dim]")


def print_apply(result: ApplyResult, console: Console) -> None:
    if result.plan.problems:
        print_plan(result.plan, console)
        console.print("[bold red]apply refused: fix the problems above; nothing was "
                      "changed[/bold red]")
        return
    if not result.plan.pending:
        console.print("No changes: both accounts already hold the grant.")
    for step in result.steps:
        if step.status == "not run":
            _print_step(console, step)
    if result.ok:
        done = len(result.applied)
        console.print(f"[bold green]Apply complete:[/bold green] {done} step(s) done.")
        return
    console.print(f"[bold red]Apply stopped:[/bold red] {escape(result.error or '')}")
    applied = [f"{s.action} {s.subject}" for s in result.applied]
    console.print("applied before it stopped: " + (escape("; ".join(applied)) if applied
                                                     else "nothing"))
    console.print("fix the cause and run `crossgrant deploy` again: it resumes from the "
                  "live state")


def print_probe(report: ProbeReport, console: Console) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"crossgrant probe: {report.grant}")
    for col in ("#", "call", "as", "resource", "result", "AWS's answer"):
        table.add_column(col, overflow="fold")
    styles = {"ok": "green", "denied": "bold red", "failed": "bold red", "skipped": "yellow"}
    for i, step in enumerate(report.steps, 1):
        style = styles[step.status]
        table.add_row(str(i), step.call, escape(step.principal), escape(step.resource),
                      f"[{style}]{step.status}[/{style}]", escape(step.answer))
    console.print(table)
    bad = sum(1 for s in report.steps if s.status in ("denied", "failed"))
    skipped = sum(1 for s in report.steps if s.status == "skipped")
    console.print(f"{report.exercised - bad} of {report.exercised} calls answered as granted"
                  + (f", [bold red]{bad} not[/bold red]" if bad else "")
                  + (f"; {skipped} skipped" if skipped else ""))


# --- commands --------------------------------------------------------------------------------

def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_command(
        grant_file: GrantFile,
        source_profile: SourceProfile = None,
        target_profile: TargetProfile = None,
        sandbox: UseSandbox = False,
        sandbox_dir: SandboxDir = None,
        endpoint_url: EndpointUrl = None,
        ca_bundle: CaBundle = None,
        journal: JournalFile = None,
        function_zip: FunctionZip = None,
        handler: Handler = None,
        runtime: Runtime = None,
        function_timeout: FunctionTimeout = 30,
        function_memory: FunctionMemory = 256,
        check: bool = typer.Option(False, "--check", help="Exit 1 when anything would "
                                                          "change (drift detection)."),
        as_json: AsJson = False,
    ) -> None:
        """Show what deploy would change in each account, like `terraform plan`."""
        from crossgrant.aws.plan import make_plan  # noqa: PLC0415

        grant, artifacts = _load(grant_file)
        bundle = _bundle(function_zip, handler, runtime, function_timeout, function_memory)
        accounts = _accounts(grant, source_profile, target_profile, sandbox, sandbox_dir,
                             endpoint_url, ca_bundle)
        book = _journal(grant, journal)
        functions = _functions(grant, accounts, book.path) if bundle else None
        plan = make_plan(artifacts, accounts, function=bundle, functions=functions,
                         journal=book)
        if as_json:
            typer.echo(json.dumps(to_json(plan), indent=2))
        else:
            print_plan(plan, Console(highlight=False))
        if plan.problems or (check and plan.pending):
            raise typer.Exit(1)

    def deploy_command(
        grant_file: GrantFile,
        source_profile: SourceProfile = None,
        target_profile: TargetProfile = None,
        sandbox: UseSandbox = False,
        sandbox_dir: SandboxDir = None,
        endpoint_url: EndpointUrl = None,
        ca_bundle: CaBundle = None,
        journal: JournalFile = None,
        function_zip: FunctionZip = None,
        handler: Handler = None,
        runtime: Runtime = None,
        function_timeout: FunctionTimeout = 30,
        function_memory: FunctionMemory = 256,
        wait_timeout: WaitTimeout = 120.0,
        settle: Settle = None,
        no_wait: bool = typer.Option(False, "--no-wait", help="Do not wait for IAM to let "
                                                              "the role be assumed."),
        as_json: AsJson = False,
    ) -> None:
        """Apply the grant to both accounts (source first), journaled and resumable."""
        from crossgrant.aws.deploy import Options  # noqa: PLC0415
        from crossgrant.aws.deploy import apply as apply_grant  # noqa: PLC0415

        grant, artifacts = _load(grant_file)
        bundle = _bundle(function_zip, handler, runtime, function_timeout, function_memory)
        accounts = _accounts(grant, source_profile, target_profile, sandbox, sandbox_dir,
                             endpoint_url, ca_bundle)
        book = _journal(grant, journal)
        options = Options(timing=_timing(wait_timeout, settle, accounts.connection.sandbox),
                          function=bundle,
                          functions=_functions(grant, accounts, book.path) if bundle else None,
                          wait_for_iam=not no_wait)
        console = Console(highlight=False)
        if not as_json:
            console.print(f"crossgrant deploy: {grant.name} ({grant.path}); journal "
                          f"{book.path}")
        result = apply_grant(artifacts, accounts, book, options=options,
                             on_step=None if as_json else
                             (lambda step: _print_step(console, step)))
        if as_json:
            typer.echo(json.dumps(to_json(result), indent=2))
        else:
            print_apply(result, console)
        if not result.ok:
            raise typer.Exit(1)

    app.command("deploy")(deploy_command)
    app.command("apply", help="Alias of deploy.")(deploy_command)

    @app.command("destroy")
    def destroy_command(
        grant_file: GrantFile,
        source_profile: SourceProfile = None,
        target_profile: TargetProfile = None,
        sandbox: UseSandbox = False,
        sandbox_dir: SandboxDir = None,
        endpoint_url: EndpointUrl = None,
        ca_bundle: CaBundle = None,
        journal: JournalFile = None,
        wait_timeout: WaitTimeout = 120.0,
        settle: Settle = None,
        dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would go."),
        as_json: AsJson = False,
    ) -> None:
        """Remove what crossgrant created and restore the shared policies (target first)."""
        from crossgrant.aws.deploy import Options  # noqa: PLC0415
        from crossgrant.aws.deploy import destroy as destroy_grant  # noqa: PLC0415
        from crossgrant.aws.journal import function_key  # noqa: PLC0415

        grant, artifacts = _load(grant_file)
        accounts = _accounts(grant, source_profile, target_profile, sandbox, sandbox_dir,
                             endpoint_url, ca_bundle)
        book = _journal(grant, journal)
        functions = None
        record = book.original(function_key(grant.source.function))
        if record is not None and record.get("created"):
            functions = _functions(grant, accounts, book.path)
        options = Options(timing=_timing(wait_timeout, settle, accounts.connection.sandbox),
                          functions=functions)
        console = Console(highlight=False)
        result = destroy_grant(artifacts, accounts, book, options=options, dry_run=dry_run,
                               on_step=None if as_json or dry_run else
                               (lambda step: _print_step(console, step)))
        if as_json:
            typer.echo(json.dumps(to_json(result), indent=2))
        else:
            _print_destroy(result, console, dry_run)
        if not result.ok:
            raise typer.Exit(1)

    @app.command("probe")
    def probe_command(
        grant_file: GrantFile,
        source_profile: SourceProfile = None,
        target_profile: TargetProfile = None,
        sandbox: UseSandbox = False,
        sandbox_dir: SandboxDir = None,
        endpoint_url: EndpointUrl = None,
        ca_bundle: CaBundle = None,
        write: bool = typer.Option(False, "--write", help="Also put a probe object where the "
                                                         "grant allows writing to S3."),
        as_json: AsJson = False,
    ) -> None:
        """Exercise the deployed access live and report each call's AWS answer."""
        from crossgrant.aws.probe import probe as probe_grant  # noqa: PLC0415

        grant, artifacts = _load(grant_file)
        accounts = _accounts(grant, source_profile, target_profile, sandbox, sandbox_dir,
                             endpoint_url, ca_bundle)
        report = probe_grant(artifacts, accounts, write=write)
        if as_json:
            typer.echo(json.dumps(to_json(report), indent=2))
        else:
            print_probe(report, Console(highlight=False, width=160))
        if not report.ok:
            raise typer.Exit(1)

    @app.command("snapshot")
    def snapshot_command(
        profiles: list[str] = typer.Option([], "--profile", help="A boto3 profile; "
                                                                "repeatable, one per account."),
        sandbox: UseSandbox = False,
        sandbox_dir: SandboxDir = None,
        endpoint_url: EndpointUrl = None,
        ca_bundle: CaBundle = None,
        regions: list[str] = typer.Option([], "--region", help="Where to list tables and "
                                                               "keys; repeatable (default: "
                                                               "each profile's region)."),
        accounts_filter: list[str] = typer.Option([], "--account", help="With --sandbox: only "
                                                                       "these accounts."),
        out: str = typer.Option("-", "--out", help="Where to write the state JSON (- for "
                                                  "stdout)."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout "
                                                           "(needs --out FILE)."),
    ) -> None:
        """Read live accounts into an AccountState JSON (docs/state.md)."""
        from crossgrant.aws.clients import profile_session  # noqa: PLC0415

        if as_json and out == "-":
            raise CrossgrantError("--json prints a summary on stdout: give --out FILE for the "
                                  "state")
        connection, sb = _connection(sandbox, sandbox_dir, endpoint_url, ca_bundle)
        names: list[str | None] = list(profiles)
        if sb is not None and not names:
            wanted = [check_account_id(a, "--account") for a in accounts_filter] or \
                list(sb.accounts)
            names = [protocol.profile(a) for a in wanted]
        sessions: list[AccountSession] = [
            profile_session(p, connection, region=connection.region or "us-east-1")
            for p in (names or [None])]
        result = _snapshot_with_progress(sessions, regions)
        if out == "-":
            sys.stdout.write(result.text)
        else:
            target = Path(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
            tmp.write_text(result.text, encoding="utf-8")
            tmp.replace(target)
        err = Console(stderr=True, highlight=False)
        for item in result.unknown:
            err.print(f"[yellow]unknown:[/yellow] {escape(item)}")
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
        if as_json:
            typer.echo(json.dumps({"out": out, **to_json(result)}, indent=2))
        elif out != "-":
            counts = ", ".join(f"{a}: " + ", ".join(f"{n} {k}" for k, n in c.items())
                               for a, c in result.counts.items())
            typer.echo(f"wrote {out} ({counts}; {len(result.unknown)} unknown document(s))")


def _snapshot_with_progress(sessions: list[AccountSession], regions: list[str]) -> Any:
    from crossgrant.aws.snapshot import snapshot as take_snapshot  # noqa: PLC0415

    console = Console(stderr=True)
    tasks: dict[tuple[str, str], TaskID] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        def progress(account: str, what: str, done: int, total: int) -> None:
            key = (account, what)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{account} {what}", total=total)
            bar.update(tasks[key], completed=done, total=total)
        return take_snapshot(sessions, regions=regions or None, progress=progress)


def _print_destroy(result: DestroyResult, console: Console, dry_run: bool) -> None:
    if dry_run:
        console.print("[bold]crossgrant destroy (dry run)[/bold]")
        for change in result.changes:
            _print_change(console, change)
        if not result.changes:
            console.print("Nothing of crossgrant's is left.")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if dry_run:
        return
    if result.ok:
        done = sum(1 for s in result.steps if s.status == "done")
        console.print(f"[bold green]Destroy complete:[/bold green] {done} step(s) done."
                      if done else "Nothing of crossgrant's is left.")
    else:
        console.print(f"[bold red]Destroy stopped:[/bold red] {escape(result.error or '')}; "
                      f"run `crossgrant destroy` again to continue")


__all__ = ["print_apply", "print_plan", "print_probe", "register"]

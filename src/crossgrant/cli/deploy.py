"""`crossgrant plan | deploy (apply) | destroy | probe | snapshot`: the boto3 edge.

`deploy` and `destroy` ask before they change anything, as Terraform does: they print
what they would do and go on only on the answer `yes` from a terminal (`--yes` answers
for the user); with no terminal to ask on, they refuse. A plan saved with `plan --out` is
what was reviewed, so `deploy PLANFILE` applies it without asking, and only while the
accounts still hold what it read.

Exit codes: 0 when all is well; 1 when the plan has problems (or, with `--check`, pending
changes), an apply or destroy stopped on an AWS error, or a probe step was denied or
failed; 2 for a user's mistake or a refusal that changed nothing (a bad grant file,
credentials of the wrong account, no sandbox running, no confirmation, a stale saved
plan, something of crossgrant's name that its journal did not create, a probe that
exercised nothing). `plan --detailed-exitcode` follows Terraform instead: 0 no changes,
2 pending changes, 1 any error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from crossgrant.cli.console import console as make_console
from crossgrant.cli.deploy_view import (
    print_apply,
    print_destroy,
    print_destroy_plan,
    print_plan,
    print_probe,
    print_step,
)
from crossgrant.cli.deploy_where import (
    Where,
    accounts_for,
    connection_for,
    journal_for,
    placed,
)
from crossgrant.cli.exits import use_error_code
from crossgrant.errors import CrossgrantError
from crossgrant.iam.arn import check_account_id
from crossgrant.render import Artifacts, render
from crossgrant.sandbox import protocol
from crossgrant.serial import to_json
from crossgrant.spec import load_grant
from crossgrant.spec.model import Grant

if TYPE_CHECKING:  # boto3 is imported when a command runs, not when the CLI starts
    from crossgrant.aws.clients import Accounts, AccountSession
    from crossgrant.aws.functions import FunctionBundle, FunctionTarget
    from crossgrant.aws.policies import Timing


# --- credentials ---------------------------------------------------------------------------

def _functions(grant: Grant, accounts: Accounts, journal_path: Path) -> FunctionTarget:
    from crossgrant.aws.functions import LambdaFunctions, SandboxFunctions  # noqa: PLC0415
    from crossgrant.aws.place import place_of  # noqa: PLC0415

    if not accounts.sources:
        raise CrossgrantError(f"--function-zip: grant {grant.name}'s StackSet puts the "
                              f"execution role into each source account; the function is "
                              f"each account's own to deploy")
    conn = accounts.connection
    if conn.sandbox:
        if not conn.control_url or not conn.control_token:
            raise CrossgrantError("the sandbox's control token is missing: this sandbox "
                                  "cannot register functions")
        # Beside the journal, one directory per sandbox: each runs its own copy.
        return SandboxFunctions(conn.control_url, conn.control_token, conn.ca_bundle,
                                journal_path.parent / "functions" / place_of(accounts).slug /
                                grant.name)
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
StackSetProfile = Annotated[str | None, typer.Option(
    "--stackset-profile", metavar="PROFILE",
    help="boto3 profile of the StackSet administrator (the organization's management or "
         "delegated-administrator account): many source accounts outside the sandbox.")]
CallAs = Annotated[str | None, typer.Option(
    "--call-as", metavar="[SELF|DELEGATED_ADMIN]",
    help="With --stackset-profile, for an organization grant: whether that account is the "
         "management account (SELF, the default) or a delegated administrator.")]
JournalFile = Annotated[Path | None, typer.Option(
    "--journal", help="Journal file (default "
                      ".crossgrant/GRANT.SOURCE-TARGET.PLACE.journal.json).")]
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
Yes = Annotated[bool, typer.Option("--yes", "--auto-approve",
                                   help="Do not ask for confirmation.")]
Adopt = Annotated[bool, typer.Option(
    "--adopt", help="Take over what exists under crossgrant's names without the journal's "
                    "proof (destroy gives it back and never deletes it).")]


def _load(grant_file: Path, where: Where) -> tuple[Grant, Artifacts]:
    grant = placed(load_grant(grant_file), where)
    return grant, render(grant)


def _timing(wait: float, settle: float | None, sandbox: bool) -> Timing:
    from crossgrant.aws.policies import Timing  # noqa: PLC0415

    return Timing(settle=settle if settle is not None else (0.2 if sandbox else 1.0),
                  timeout=wait)


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm(what: str, question: str, console: Console, *, yes: bool, as_json: bool) -> None:
    """Go on only on `yes`, as Terraform asks: `--yes` answers for the user; no terminal
    (or JSON output, which has no dialogue) and no `--yes` is a refusal (exit 2)."""
    if yes:
        return
    if as_json:
        raise CrossgrantError(f"{what} --json needs --yes (or --auto-approve): JSON output "
                              f"has no confirmation dialogue; nothing was changed")
    if not _stdin_is_terminal():
        raise CrossgrantError(f"{what} needs confirmation and there is no terminal to ask "
                              f"on: pass --yes (or --auto-approve); nothing was changed")
    console.print(f"\n[bold]{escape(question)}[/bold]\n  crossgrant will perform the "
                  f"actions described above.\n  Only 'yes' will be accepted to approve.\n")
    answer = typer.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise CrossgrantError(f"{what} cancelled: the answer was not 'yes'; nothing was "
                              f"changed")


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
        stackset_profile: StackSetProfile = None,
        call_as: CallAs = None,
        journal: JournalFile = None,
        function_zip: FunctionZip = None,
        handler: Handler = None,
        runtime: Runtime = None,
        function_timeout: FunctionTimeout = 30,
        function_memory: FunctionMemory = 256,
        adopt: Adopt = False,
        out: Path | None = typer.Option(None, "--out", metavar="PLANFILE",
                                        help="Save the plan for `crossgrant deploy "
                                             "PLANFILE`."),
        check: bool = typer.Option(False, "--check", help="Exit 1 when anything would "
                                                          "change (drift detection)."),
        detailed_exitcode: bool = typer.Option(
            False, "--detailed-exitcode", help="Exit 0 for no changes, 2 for pending "
                                               "changes, 1 for an error (Terraform's "
                                               "convention)."),
        as_json: AsJson = False,
    ) -> None:
        """Show what deploy would change in each account, like `terraform plan`."""
        from crossgrant.aws import planfile  # noqa: PLC0415
        from crossgrant.aws.plan import make_plan  # noqa: PLC0415

        if detailed_exitcode:
            use_error_code(1)  # Terraform's convention: 2 says "changes pending"
        try:
            if check and detailed_exitcode:
                raise CrossgrantError("--check and --detailed-exitcode exclude each other")
            where = Where(source_profile, target_profile, sandbox, sandbox_dir, endpoint_url,
                          ca_bundle, stackset_profile, call_as)
            grant, artifacts = _load(grant_file, where)
            bundle = _bundle(function_zip, handler, runtime, function_timeout,
                             function_memory)
            accounts = accounts_for(grant, where)
            book = journal_for(grant, journal, accounts)
            functions = _functions(grant, accounts, book.path) if bundle else None
            plan = make_plan(artifacts, accounts, function=bundle, functions=functions,
                             journal=book, adopt=adopt)
            if out is not None and not plan.problems:
                planfile.save(out, plan, accounts, book, adopt=adopt, bundle=bundle)
        except CrossgrantError as exc:
            if not detailed_exitcode:
                raise
            typer.echo(f"crossgrant: error: {exc}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(json.dumps(to_json(plan), indent=2))
        else:
            console = make_console()
            print_plan(plan, console)
            if out is not None and not plan.problems:
                console.print(f"Saved the plan to {escape(str(out))}: `crossgrant deploy "
                              f"{escape(str(out))}` applies exactly this plan.")
        if plan.problems:
            if out is not None:
                typer.echo(f"crossgrant: the plan has problems: {out} was not written",
                           err=True)
            raise typer.Exit(1)
        if check and plan.pending:
            raise typer.Exit(1)
        if detailed_exitcode and plan.pending:
            raise typer.Exit(2)

    def deploy_command(
        grant_file: Annotated[Path, typer.Argument(
            metavar="GRANT|PLANFILE", help="grant.yaml, or a plan saved by `plan --out`.")],
        source_profile: SourceProfile = None,
        target_profile: TargetProfile = None,
        sandbox: UseSandbox = False,
        sandbox_dir: SandboxDir = None,
        endpoint_url: EndpointUrl = None,
        ca_bundle: CaBundle = None,
        stackset_profile: StackSetProfile = None,
        call_as: CallAs = None,
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
        adopt: Adopt = False,
        yes: Yes = False,
        as_json: AsJson = False,
    ) -> None:
        """Apply the grant to both accounts (source first), journaled and resumable."""
        from crossgrant.aws import planfile  # noqa: PLC0415
        from crossgrant.aws.deploy import ApplyResult, Options  # noqa: PLC0415
        from crossgrant.aws.deploy import apply as apply_grant  # noqa: PLC0415
        from crossgrant.aws.ownership import NotOwnedError, adopt_hint  # noqa: PLC0415
        from crossgrant.aws.plan import make_plan  # noqa: PLC0415

        saved = None
        where = Where(source_profile, target_profile, sandbox, sandbox_dir, endpoint_url,
                      ca_bundle, stackset_profile, call_as)
        if planfile.is_saved_plan(grant_file):
            if function_zip is not None or adopt:
                raise CrossgrantError(f"{grant_file}: a saved plan fixes the function "
                                      f"package and --adopt; give them to `crossgrant plan "
                                      f"--out`")
            saved, artifacts, bundle = planfile.load(grant_file,
                                                     lambda grant: placed(grant, where))
            grant, adopt = artifacts.grant, saved.adopt
            journal = journal or Path(saved.journal)
        else:
            grant, artifacts = _load(grant_file, where)
            bundle = _bundle(function_zip, handler, runtime, function_timeout,
                             function_memory)
        accounts = accounts_for(grant, where)
        book = journal_for(grant, journal, accounts)
        options = Options(timing=_timing(wait_timeout, settle, accounts.connection.sandbox),
                          function=bundle,
                          functions=_functions(grant, accounts, book.path) if bundle else None,
                          wait_for_iam=not no_wait, adopt=adopt,
                          progress=_progress(as_json))
        console = make_console()
        if not as_json:
            console.print(f"crossgrant deploy: {grant.name} ({grant.path}); journal "
                          f"{book.path}")
        if saved is not None:
            planfile.check(saved, accounts, book)
            expected = saved.fingerprints
        else:
            plan = make_plan(artifacts, accounts, function=bundle, functions=options.functions,
                             journal=book, adopt=adopt)
            if plan.foreign:
                raise NotOwnedError(adopt_hint(list(plan.foreign)))
            if not as_json:
                print_plan(plan, console)
            if plan.problems:
                result = ApplyResult(plan, (), False, "the plan has problems; nothing was "
                                                      "changed")
                _print_apply_result(result, console, as_json)
                raise typer.Exit(1)
            if plan.pending:
                confirm("deploy", "Do you want to perform these actions?", console, yes=yes,
                        as_json=as_json)
            expected = plan.fingerprints
        result = apply_grant(artifacts, accounts, book, options=options,
                             on_step=None if as_json else
                             (lambda step: print_step(console, step)), expected=expected)
        if saved is not None and not as_json and result.plan.problems:
            print_plan(result.plan, console)
        _print_apply_result(result, console, as_json)
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
        stackset_profile: StackSetProfile = None,
        call_as: CallAs = None,
        journal: JournalFile = None,
        wait_timeout: WaitTimeout = 120.0,
        settle: Settle = None,
        dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would go."),
        yes: Yes = False,
        as_json: AsJson = False,
    ) -> None:
        """Remove what crossgrant created and restore the shared policies (target first)."""
        from crossgrant.aws.deploy import Options, plan_destroy  # noqa: PLC0415
        from crossgrant.aws.deploy import destroy as destroy_grant  # noqa: PLC0415
        from crossgrant.aws.journal import function_key  # noqa: PLC0415

        where = Where(source_profile, target_profile, sandbox, sandbox_dir, endpoint_url,
                      ca_bundle, stackset_profile, call_as)
        grant, artifacts = _load(grant_file, where)
        accounts = accounts_for(grant, where)
        book = journal_for(grant, journal, accounts)
        functions = None
        record = book.original(function_key(grant.source.function))
        if record is not None and record.get("created"):
            functions = _functions(grant, accounts, book.path)
        options = Options(timing=_timing(wait_timeout, settle, accounts.connection.sandbox),
                          functions=functions, progress=_progress(as_json))
        console = make_console()
        expected = None
        if not dry_run:
            changes, notes = plan_destroy(artifacts, accounts, book)
            if not as_json:
                print_destroy_plan(changes, notes, console, f"crossgrant destroy: {grant.name} "
                                                            f"({grant.path}); journal "
                                                            f"{book.path}")
            if changes:
                confirm("destroy", f"Do you really want to destroy crossgrant's part of "
                                   f"{grant.name}?", console, yes=yes, as_json=as_json)
            expected = changes
        result = destroy_grant(artifacts, accounts, book, options=options, dry_run=dry_run,
                               on_step=None if as_json or dry_run else
                               (lambda step: print_step(console, step)), expected=expected)
        if as_json:
            typer.echo(json.dumps(to_json(result), indent=2))
        elif dry_run:
            print_destroy_plan(result.changes, result.notes, console,
                               "crossgrant destroy (dry run)")
        else:
            print_destroy(result, console)
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

        where = Where(source_profile, target_profile, sandbox, sandbox_dir, endpoint_url,
                      ca_bundle, fanout=False)
        grant, artifacts = _load(grant_file, where)
        accounts = accounts_for(grant, where)
        report = probe_grant(artifacts, accounts, write=write)
        if as_json:
            typer.echo(json.dumps(to_json(report), indent=2))
        else:
            print_probe(report, make_console())
        if report.nothing_exercised is not None:
            typer.echo(f"crossgrant: error: probe: {report.nothing_exercised}", err=True)
            raise typer.Exit(2)
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
        connection, sb = connection_for(Where(sandbox=sandbox, sandbox_dir=sandbox_dir,
                                              endpoint_url=endpoint_url, ca_bundle=ca_bundle))
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
        err = make_console(stderr=True)
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


def _progress(as_json: bool) -> Callable[[str], None]:
    """A StackSet operation's lines as they come (on stderr under --json, whose stdout
    is one JSON document)."""
    console = make_console(stderr=as_json)
    return lambda line: console.print(escape(line))


def _print_apply_result(result: Any, console: Console, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(to_json(result), indent=2))
    else:
        print_apply(result, console)


__all__ = ["confirm", "print_apply", "print_plan", "print_probe", "register"]

"""Where `plan`, `deploy`, `destroy`, `probe` and `snapshot` act: each account's
credentials, checked against the grant, and the journal of that place.

A grant with many source accounts is deployed directly only into the sandbox, whose
administrator credentials reach every account (`aws.plan.ManySources`); an organization
grant's accounts there are those the sandbox places in its OUs (`sandbox up --org`). Real
accounts get the source side from the grant's StackSet, created from the administrator
account named by `--stackset-profile` (`aws.fanout`); crossgrant never loops over source
accounts with credentials of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from crossgrant.cli.console import console as make_console
from crossgrant.errors import CrossgrantError
from crossgrant.sandbox import protocol
from crossgrant.spec.model import Grant

if TYPE_CHECKING:  # boto3 is imported when a command runs, not when the CLI starts
    from crossgrant.aws.clients import Accounts, AccountSession, Connection
    from crossgrant.aws.journal import Journal

__all__ = ["Sandbox", "Where", "accounts_for", "connection_for", "journal_for", "placed"]

@dataclass(frozen=True, slots=True)
class Sandbox:
    connection: Connection
    accounts: tuple[str, ...]
    state_dir: Path


@dataclass(frozen=True, slots=True)
class Where:
    """A command's credentials options."""

    source_profile: str | None = None
    target_profile: str | None = None
    sandbox: bool = False
    sandbox_dir: Path | None = None
    endpoint_url: str | None = None
    ca_bundle: Path | None = None
    stackset_profile: str | None = None
    call_as: str | None = None
    fanout: bool = True  # the command can go through a StackSet (probe cannot)


def _sandbox(state_dir: Path | None) -> Sandbox:
    from crossgrant.aws.clients import Connection  # noqa: PLC0415

    directory = state_dir or protocol.default_state_dir(protocol.DEFAULT_PORT)
    info = protocol.Info.read(directory)
    if info is None:
        raise CrossgrantError(f"no sandbox is running (nothing in {directory}); "
                              f"`crossgrant sandbox up` first, or pass --sandbox-dir")
    return Sandbox(Connection(endpoint_url=info.endpoint, ca_bundle=str(info.ca_bundle),
                              credentials_file=str(info.credentials_file),
                              region=info.region, control_url=info.endpoint,
                              control_token=protocol.read_token(directory), sandbox=True),
                   info.accounts, directory)


def connection_for(where: Where) -> tuple[Connection, Sandbox | None]:
    from crossgrant.aws.clients import Connection  # noqa: PLC0415

    if where.sandbox or where.sandbox_dir is not None:
        if where.endpoint_url:
            raise CrossgrantError("--sandbox and --endpoint-url exclude each other")
        sb = _sandbox(where.sandbox_dir)
        return sb.connection, sb
    return Connection(endpoint_url=where.endpoint_url,
                      ca_bundle=str(where.ca_bundle) if where.ca_bundle else None), None


def _sources(grant: Grant) -> str:
    org = grant.source.organization
    if org is not None:
        return f"names OUs ({', '.join(org.units)})"
    return f"has {len(grant.source.accounts)} source accounts"


def _call_as(grant: Grant, where: Where) -> str:
    from crossgrant.aws.fanout import CALL_AS  # noqa: PLC0415

    call_as = (where.call_as or "SELF").upper()
    if call_as not in CALL_AS:
        raise CrossgrantError(f"--call-as {where.call_as}: one of {', '.join(CALL_AS)}")
    if where.call_as is not None and where.stackset_profile is None:
        raise CrossgrantError("--call-as goes with --stackset-profile")
    if call_as != "SELF" and grant.source.organization is None:
        raise CrossgrantError(f"--call-as {call_as} is for an organization grant's "
                              f"service-managed StackSet; {grant.name}'s account list has a "
                              f"self-managed one (leave --call-as out)")
    return call_as


def accounts_for(grant: Grant, where: Where) -> Accounts:
    """The grant's accounts, each session checked to be the account the grant names."""
    connection, sb = connection_for(where)
    call_as = _call_as(grant, where)
    if where.stackset_profile is not None and (sb is not None or not grant.source.many):
        raise CrossgrantError(
            f"--stackset-profile is for a grant with many source accounts outside the "
            f"sandbox; {grant.name} " + ("is deployed into every sandbox account directly"
                                         if sb is not None else "has one source account"))
    if grant.source.many and sb is None:
        return _fanout(grant, where, connection, call_as)
    if sb is None:
        from crossgrant.aws.clients import connect  # noqa: PLC0415

        return connect(grant, connection, source_profile=where.source_profile,
                       target_profile=where.target_profile)
    return _in_sandbox(grant, where, connection, sb)


def _fanout(grant: Grant, where: Where, connection: Connection, call_as: str) -> Accounts:
    """Real accounts of a many-source grant: the target's credentials and the StackSet
    administrator's."""
    if not where.fanout:
        raise CrossgrantError(
            f"{grant.path}: grant {grant.name} {_sources(grant)}: outside the sandbox this "
            f"command acts for one source account; crossgrant does not loop over accounts "
            f"with its own credentials")
    if where.stackset_profile is None:
        raise CrossgrantError(
            f"{grant.path}: grant {grant.name} {_sources(grant)}: outside the sandbox its "
            f"source side is rolled out by a StackSet: pass --stackset-profile PROFILE (the "
            f"management or delegated-administrator account's profile); crossgrant does not "
            f"loop over accounts with its own credentials")
    if where.source_profile is not None:
        raise CrossgrantError(f"--source-profile: grant {grant.name} {_sources(grant)}, "
                              f"which its StackSet reaches; give --stackset-profile and "
                              f"--target-profile only")
    from crossgrant.aws.clients import profile_session  # noqa: PLC0415
    from crossgrant.aws.fanout import StackSetAccounts  # noqa: PLC0415

    target = profile_session(where.target_profile, connection, region=grant.target.region,
                             expected_account=grant.target.account)
    admin = profile_session(where.stackset_profile, connection, region=grant.source.region)
    accounts = StackSetAccounts(grant, admin, target, connection, admin=admin,
                                call_as=call_as)
    accounts.check()
    return accounts


def _in_sandbox(grant: Grant, where: Where, connection: Connection, sb: Sandbox) -> Accounts:
    """Every source account of the grant through the sandbox's administrator there, and
    those of accounts it no longer lists when the journal says crossgrant deployed there."""
    for side, account in (*(("source", a) for a in grant.source.accounts),
                          ("target", grant.target.account)):
        if account not in sb.accounts:
            raise CrossgrantError(f"{grant.path}: the {side} account {account} is not one "
                                  f"of the sandbox's ({', '.join(sb.accounts)})")
    from crossgrant.aws.clients import connect, profile_session  # noqa: PLC0415
    from crossgrant.aws.plan import ManySources  # noqa: PLC0415

    direct = connect(grant, connection,
                     source_profile=where.source_profile or protocol.profile(grant.source.account),
                     target_profile=where.target_profile or protocol.profile(grant.target.account))

    def administrator(account: str) -> AccountSession:
        if account not in sb.accounts:
            raise CrossgrantError(f"the journal records account {account}, which this "
                                  f"sandbox does not serve ({', '.join(sb.accounts)})")
        return profile_session(protocol.profile(account), connection,
                               region=grant.source.region, expected_account=account)

    # The source side is applied to every source account, the target side once.
    many = ManySources(grant, direct.source, direct.target, connection,
                       {a: administrator(a) for a in grant.source.accounts[1:]}, administrator)
    many.check()
    return many


def placed(grant: Grant, where: Where) -> Grant:
    """An organization grant as the sandbox deploys it: its source accounts are the
    sandbox's accounts in the grant's OUs (nested OUs included), as a service-managed
    StackSet's would be (never the management account); any other grant as it is."""
    org = grant.source.organization
    if org is None or not (where.sandbox or where.sandbox_dir is not None):
        return grant
    info = protocol.Info.read(where.sandbox_dir or
                              protocol.default_state_dir(protocol.DEFAULT_PORT))
    if info is None:
        return grant  # `accounts_for` says that no sandbox is running
    served = info.organization
    if served is None or served.get("id") != org.id:
        what = f"organization {served.get('id')}" if served else "no organization"
        raise CrossgrantError(
            f"{grant.path}: grant {grant.name} names OUs of organization {org.id}, and the "
            f"sandbox serves {what}: start it with `crossgrant sandbox up --org FILE`, "
            f"{org.id}'s accounts placed in {', '.join(org.units)} (real accounts get the "
            f"source side from the grant's StackSet: --stackset-profile)")
    where_placed = served.get("accounts") or {}
    skip = {served.get("management_account"), grant.target.account}
    members = tuple((a, str(where_placed[a].get("parent", ""))) for a in
                    info.accounts_in(org.units) if a not in skip)
    if not members:
        raise CrossgrantError(f"{grant.path}: no account of the sandbox's organization is "
                              f"in {', '.join(org.units)} (the management account and the "
                              f"target account never count)")
    return grant.with_members(members)


def journal_for(grant: Grant, path: Path | None, accounts: Accounts) -> Journal:
    """The journal of this grant, these accounts and this place (`--journal` for another
    file); an older crossgrant's journal, keyed by the grant alone, is never taken for it.

    A StackSet grant's journal is keyed by the target alone (the StackSet reaches whatever
    source accounts the grant lists); a many-source grant deployed directly keeps the one
    it started with when its first account leaves the list."""
    from crossgrant.aws.fanout import StackSetAccounts  # noqa: PLC0415
    from crossgrant.aws.journal import (  # noqa: PLC0415
        STACKSET_SOURCE,
        Journal,
        default_journal_path,
        moved_journal,
    )
    from crossgrant.aws.place import place_of  # noqa: PLC0415

    place = place_of(accounts)
    fanout = isinstance(accounts, StackSetAccounts)
    names = {"source": STACKSET_SOURCE if fanout else grant.source.account,
             "target": grant.target.account}
    chosen = path or default_journal_path(grant.name, accounts=names, place=place)
    if path is None and not fanout and not chosen.exists():
        moved = moved_journal(grant.name, place, grant.target.account, grant.source.accounts)
        if moved is not None:
            chosen, names = moved
    legacy = default_journal_path(grant.name)
    if path is None and legacy.exists():
        make_console(stderr=True).print(
            f"[yellow]warning:[/yellow] {escape(str(legacy))} was written by an older "
            f"crossgrant and does not say where it deployed; it is not used for "
            f"{escape(place.label)}: pass --journal {escape(str(legacy))} if it is this "
            f"place's")
    return Journal.open(chosen, grant.name, names, grant.path, place)

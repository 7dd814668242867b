"""Many source accounts in real AWS: the source side goes through the grant's StackSet.

crossgrant holds credentials for two accounts only: the target's, and the StackSet
administrator's (the organization's management account or a delegated administrator for
an `organization` grant; an account holding AWSCloudFormationStackSetAdministrationRole
for an account list). AWS's StackSet engine does the fan-out to the source accounts; there
is never a loop of crossgrant's own over their credentials (`aws.stacksets` follows the
operations). So plan, deploy and destroy see the StackSet as one more thing in the
administrator account, with one change per deployment target (account or OU), and the
target side as for one source account.

Ownership is the journal's, as for everything else (`aws.ownership`): a StackSet of the
grant's name that exists without the journal's record of creating it (the same
StackSetId) is refused, or taken over with `--adopt`, and then given back as it was
(its template, and none of the targets crossgrant added) instead of deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from botocore.exceptions import ClientError

from crossgrant.aws.changes import Action, Change, ChangeKind, Reads
from crossgrant.aws.clients import (
    AccountMismatchError,
    Accounts,
    AccountSession,
    AwsError,
    answer,
    error_code,
)
from crossgrant.aws.journal import Journal, stackset_key
from crossgrant.aws.ownership import NotOwnedError, Owner, adopt_hint, stackset_owner
from crossgrant.aws.stacksets import (
    LiveStackSet,
    Polling,
    StackSetResult,
    changed_settings,
    deploy_stackset,
    destroy_stackset,
    give_back_stackset,
    read_stackset,
    stackset_request,
)
from crossgrant.errors import CrossgrantError
from crossgrant.render.artifacts import Artifacts
from crossgrant.render.rollout import Rollout, rollout

__all__ = ["CALL_AS", "STACKSET_SIDE", "StackSetAccounts", "StackSetPlan", "deploy_step",
           "plan_stackset", "undo_stackset", "undo_step"]

STACKSET_SIDE = "stackset"  # the administrator account's place in a plan's order
CALL_AS = ("SELF", "DELEGATED_ADMIN")
POLLING = Polling()  # how the CLI follows StackSet operations
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class StackSetAccounts(Accounts):
    """The credentials of a many-source grant in real accounts: the target account's and
    the StackSet administrator's (`admin`, also `source` for what needs a partition or a
    region), and none of any source account."""

    admin: AccountSession
    call_as: str = "SELF"
    polling: Polling = field(default_factory=lambda: POLLING)

    @property
    def sources(self) -> tuple[str, ...]:
        return ()

    @property
    def admin_account(self) -> str:
        return self.admin.identity().account

    def session(self, account: str) -> AccountSession:
        if account == self.grant.target.account:
            return self.target
        raise CrossgrantError(f"{self.grant.path}: crossgrant holds no credentials for "
                              f"account {account}: the grant's StackSet reaches the source "
                              f"accounts")

    def check(self) -> None:
        """The target's credentials must be the target account's; the administrator's
        must answer (its account is whatever the organization made administrator)."""
        got = self.target.identity().account
        if got != self.grant.target.account:
            raise AccountMismatchError(
                f"{self.target.label} belongs to account {got}, but the grant's target "
                f"account is {self.grant.target.account} ({self.grant.path}); nothing was "
                f"changed")
        self.admin.identity()

    def cloudformation(self) -> Any:
        """CloudFormation in the administrator account, in the StackSet's home region
        (the grant's source region, where its instances are deployed)."""
        return self.admin.client("cloudformation", self.grant.source.region)


def _stackset(artifacts: Artifacts) -> Rollout:
    plan = rollout(artifacts)
    if plan is None:
        raise CrossgrantError(f"{artifacts.grant.path}: grant {artifacts.grant.name} has one "
                              f"source account; it has no StackSet")
    return plan


def _template(body: str) -> Any:
    """A template body as data, so a plan shows a readable diff (its text when it is
    not plain YAML or JSON)."""
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError:
        return body.splitlines()


def _settings(request: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = {k: request[k] for k in keys if k in request and k != "TemplateBody"}
    if "TemplateBody" in keys:
        out["Template"] = _template(str(request.get("TemplateBody") or ""))
    return out


_SHOWN = ("PermissionModel", "Description", "Capabilities", "AutoDeployment", "Tags",
          "TemplateBody")


@dataclass(frozen=True, slots=True)
class StackSetPlan:
    """What the grant's StackSet needs, and what the plan says about it."""

    changes: tuple[Change, ...] = ()
    problems: tuple[str, ...] = ()
    foreign: str | None = None  # the StackSet's label when it exists without the journal's proof
    adopted: bool = False


def plan_stackset(artifacts: Artifacts, accounts: StackSetAccounts, journal: Journal | None,
                  reads: Reads) -> StackSetPlan:
    """The StackSet's changes: create, update (its template or settings differ, or an
    instance lags behind) or no change, and one change per account or OU it deploys to
    (created, brought up to date, or removed when the grant no longer names it)."""
    plan = _stackset(artifacts)
    admin = accounts.admin_account
    try:
        live = read_stackset(accounts.cloudformation(), plan.name, accounts.call_as)
    except ClientError as exc:
        return StackSetPlan(problems=(f"cannot read StackSet {plan.name} in account {admin}: "
                                      f"{answer(exc)}",))
    reads.add(admin, f"stack set {plan.name}", None if live is None else (
        live.id, live.raw, [(i.account, i.region, i.status, i.detailed, i.unit)
                            for i in live.instances]))
    wanted = stackset_request(artifacts, plan, call_as=accounts.call_as)
    wanted_targets = plan.units if plan.service_managed else plan.accounts
    after = _settings(wanted, _SHOWN)
    if live is None:
        return StackSetPlan((Change(admin, ChangeKind.STACKSET, plan.name, "", Action.CREATE,
                                    None, after, f"deploys to {plan.targets}"),
                             *(Change(admin, ChangeKind.INSTANCE, plan.name, t, Action.CREATE,
                                      None, {"Regions": list(plan.regions)})
                               for t in wanted_targets)))
    owner = stackset_owner(plan.name, live.id, journal)
    problems: list[str] = []
    if live.permission_model != plan.permission_model:
        problems.append(f"StackSet {plan.name} in account {admin} is {live.permission_model}, "
                        f"the grant needs {plan.permission_model}; AWS cannot change that "
                        f"while it has instances: destroy it first")
    changed = changed_settings(live, wanted)
    before = _settings({**live.raw, "TemplateBody": live.template_body}, _SHOWN)
    note = "every instance gets the new template" if changed else ""
    changes = [Change(admin, ChangeKind.STACKSET, plan.name, "",
                      Action.UPDATE if changed else Action.NOOP,
                      {k: before.get(k) for k in after} if changed else None,
                      after if changed else None, note)]
    keep = set(_earlier_targets(journal, plan.name)) if owner is Owner.ADOPTED else set()
    behind = {i.target: i for i in live.outdated}
    for target in wanted_targets:
        if target not in live.targets:
            changes.append(Change(admin, ChangeKind.INSTANCE, plan.name, target, Action.CREATE,
                                  None, {"Regions": list(plan.regions)}))
        elif target in behind and not changed:
            lag = behind[target]
            changes.append(Change(admin, ChangeKind.INSTANCE, plan.name, target, Action.UPDATE,
                                  {"Status": lag.status, "DetailedStatus": lag.detailed},
                                  {"Status": "CURRENT"}, lag.reason or "behind the template"))
        else:
            changes.append(Change(admin, ChangeKind.INSTANCE, plan.name, target, Action.NOOP))
    for target in sorted(set(live.targets) - set(wanted_targets) - keep):
        changes.append(Change(admin, ChangeKind.INSTANCE, plan.name, target, Action.DELETE,
                              {"Regions": list(live.regions)}, None,
                              "no longer part of the grant: its stack and the role in it "
                              "are deleted"))
    return StackSetPlan(tuple(changes), tuple(problems),
                        f"stack set {plan.name} in account {admin}"
                        if owner is Owner.FOREIGN else None, owner is Owner.ADOPTED)


def _earlier_targets(journal: Journal | None, name: str) -> list[str]:
    record = journal.original(stackset_key(name)) if journal is not None else None
    before = (record or {}).get("before")
    return [str(t) for t in before.get("targets") or ()] if isinstance(before, dict) else []


def _check(result: StackSetResult, what: str) -> str:
    """The step's one-line result; an operation that did not succeed everywhere fails
    the step, naming each account that failed and AWS's reason."""
    if not result.ok:
        failed = [i.line for i in result.instances if i.failed]
        stopped = [f"operation {op} {status}" for _, op, status in result.operations
                   if status != "SUCCEEDED"]
        raise AwsError(f"StackSet {result.name}: {'; '.join(stopped + failed) or what}",
                       code="StackSetOperationFailed", operation="DescribeStackSetOperation")
    current = sum(1 for i in result.instances if i.status == "CURRENT")
    return f"{what}; {len(result.operations)} operation(s), {current} instance(s) current"


def deploy_step(artifacts: Artifacts, accounts: StackSetAccounts, journal: Journal, *,
                adopt: bool, progress: Progress | None) -> Callable[[], str]:
    """Create or update the StackSet and its instances, recording first whether
    crossgrant created it (and, for one it takes over, what it was)."""
    plan = _stackset(artifacts)
    key = stackset_key(plan.name)

    def run() -> str:
        client = accounts.cloudformation()
        live = read_stackset(client, plan.name, accounts.call_as)
        owner = stackset_owner(plan.name, live.id if live else None, journal)
        label = f"stack set {plan.name} in account {accounts.admin_account}"
        if owner is Owner.FOREIGN and not adopt:
            raise NotOwnedError(adopt_hint([label]))
        record: dict[str, Any] = {
            "kind": "stackset", "account": accounts.admin_account, "name": plan.name,
            "region": artifacts.grant.source.region, "call_as": accounts.call_as,
            "created": live is None, "stack_set_id": live.id if live else "",
            "before": live.as_before() if live else None}
        # A StackSet gone since (or another one under the name) is a new record.
        journal.remember(key, record, replace=owner in (Owner.NEW, Owner.FOREIGN))
        result = deploy_stackset(
            client, artifacts, call_as=accounts.call_as, polling=accounts.polling,
            progress=progress, keep=_earlier_targets(journal, plan.name),
            on_create=lambda made: journal.update(key, stack_set_id=made))
        return _check(result, "created" if result.created else "updated")
    return run


def undo_stackset(artifacts: Artifacts, accounts: StackSetAccounts, journal: Journal,
                  reads: Reads | None = None) -> tuple[list[Change], list[str]]:
    """What taking the StackSet out again changes: deleted with every instance when the
    journal proves crossgrant created it; given back as it was when it was taken over;
    left alone otherwise."""
    plan = _stackset(artifacts)
    admin = accounts.admin_account
    record = journal.original(stackset_key(plan.name))
    try:
        live = read_stackset(accounts.cloudformation(), plan.name, accounts.call_as)
    except ClientError as exc:
        raise AwsError(f"cannot read StackSet {plan.name} in account {admin}: {answer(exc)}",
                       code=error_code(exc), operation=str(exc.operation_name)) from None
    if reads is not None:
        reads.add(admin, f"stack set {plan.name}", None if live is None else (live.id,
                                                                             live.targets))
    if live is None:
        return [], []
    owner = stackset_owner(plan.name, live.id, journal)
    if owner is Owner.FOREIGN:
        why = "is not the StackSet this journal recorded (its StackSetId changed)" \
            if record is not None else "was not created by this journal"
        return [], [f"stack set {plan.name} in account {admin} {why}: left in place"]
    if owner is Owner.CREATED:
        return [*(Change(admin, ChangeKind.INSTANCE, plan.name, t, Action.DELETE,
                         {"Regions": list(live.regions)}, None) for t in live.targets),
                Change(admin, ChangeKind.STACKSET, plan.name, "", Action.DELETE,
                       None, None, "with every stack instance and the role in it")], []
    return _give_back(live, record or {}, admin), []


def _give_back(live: LiveStackSet, record: Mapping[str, Any], admin: str) -> list[Change]:
    before = record.get("before") if isinstance(record.get("before"), dict) else {}
    assert isinstance(before, dict)
    earlier = {str(t) for t in before.get("targets") or ()}
    changes = [Change(admin, ChangeKind.INSTANCE, live.name, t, Action.DELETE,
                      {"Regions": list(live.regions)}, None, "added by crossgrant")
               for t in live.targets if t not in earlier]
    if str(before.get("TemplateBody") or "") != live.template_body:
        changes.append(Change(admin, ChangeKind.STACKSET, live.name, "", Action.UPDATE,
                              {"Template": _template(live.template_body)},
                              {"Template": _template(str(before.get("TemplateBody") or ""))},
                              "adopted: given back as it was"))
    return changes


def undo_step(artifacts: Artifacts, accounts: StackSetAccounts, journal: Journal, *,
              progress: Progress | None) -> Callable[[], str]:
    """Delete the StackSet crossgrant created, or give back the one it took over."""
    plan = _stackset(artifacts)

    def run() -> str:
        client = accounts.cloudformation()
        record = journal.original(stackset_key(plan.name)) or {}
        live = read_stackset(client, plan.name, accounts.call_as)
        owner = stackset_owner(plan.name, live.id if live else None, journal)
        if owner is Owner.FOREIGN:
            return "skipped: not the StackSet this journal recorded"
        if owner is Owner.ADOPTED:
            before = record.get("before")
            return _check(give_back_stackset(client, plan.name, before if isinstance(
                before, dict) else {}, call_as=accounts.call_as, polling=accounts.polling,
                progress=progress), "given back as it was")
        result = destroy_stackset(client, plan.name, call_as=accounts.call_as,
                                  polling=accounts.polling, progress=progress)
        return _check(result, "deleted" if live is not None else "already gone")
    return run

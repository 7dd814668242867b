"""Apply and destroy a grant in two live accounts.

Apply runs the plan in deploy order: the source account first (the execution role, its
policy, the function), then the target (its role, then the bucket, table, stream and key
policies), because AWS refuses a policy that names a principal that does not exist yet.
IAM is eventually consistent, so a refusal that only time heals ("Invalid principal" right
after a role was created, a role Lambda cannot assume yet) is retried with backoff, and in
assume-role mode apply ends by assuming the target role as the execution role, where the
caller may, until it works or a clear timeout (`aws.propagation`).

Each step is journaled before and after its call, with what was there before crossgrant
first touched it and the identity of what it created; an apply that fails stops at once
and reports what it did, and running it again resumes from the live state, as every step
is a no-op once done. What exists under crossgrant's names without the journal's proof
is refused, or adopted when the caller says so (`aws.ownership`). Destroy deletes only
what the journal proves crossgrant created in this place and gives back what it adopted.
A plan that was shown or saved is applied only while the accounts still hold what it read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from crossgrant.aws.changes import STACKSET_KINDS
from crossgrant.aws.clients import (
    Accounts,
    AccountSession,
    AwsError,
    answer,
    error_code,
    retry,
)
from crossgrant.aws.fanout import STACKSET_SIDE, StackSetAccounts, deploy_step, undo_step
from crossgrant.aws.functions import FunctionBundle, FunctionTarget, is_role_not_ready
from crossgrant.aws.journal import Journal, function_key, inline_key, policy_key, role_key
from crossgrant.aws.ownership import (
    NotOwnedError,
    Owner,
    adopt_hint,
    role_owner,
    same_role,
    statements_of,
)
from crossgrant.aws.plan import (
    Action,
    Change,
    ChangeKind,
    Plan,
    Scope,
    everything,
    make_plan,
    orphans,
    read_role,
    role_tags,
    undo_changes,
)
from crossgrant.aws.policies import (
    LivePolicy,
    Timing,
    by_sid,
    is_invalid_principal,
    merge_into,
    restore,
    store_for,
)
from crossgrant.aws.propagation import (
    execution_session,
    trust_allows,
    wait_for_iam,
)
from crossgrant.aws.undo import undo_accounts
from crossgrant.errors import CrossgrantError
from crossgrant.render.artifacts import Artifacts, PolicyStatements, RoleArtifact
from crossgrant.serial import to_json
from crossgrant.spec.model import Mode


@dataclass(frozen=True, slots=True)
class Options:
    timing: Timing = field(default_factory=Timing)  # settle and IAM propagation timeout
    function: FunctionBundle | None = None
    functions: FunctionTarget | None = None
    wait_for_iam: bool = True
    adopt: bool = False  # take over what exists under crossgrant's names without proof
    progress: Callable[[str], None] | None = None  # a StackSet operation's lines, as it goes


class StalePlanError(CrossgrantError):
    """The accounts no longer hold what the plan being applied was computed from."""


@dataclass(frozen=True, slots=True)
class StepResult:
    account: str
    action: str  # "create role", "merge statements", ...
    subject: str
    status: str  # "done", "failed", "not run", "skipped"
    detail: str = ""
    seconds: float = 0.0

    def __json__(self) -> dict[str, Any]:
        """Seconds to the millisecond; the text output shows them to a tenth."""
        return {"account": self.account, "action": self.action, "subject": self.subject,
                "status": self.status, "detail": self.detail,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    plan: Plan
    steps: tuple[StepResult, ...]
    ok: bool
    error: str | None = None
    propagation: str | None = None  # what the IAM wait found

    @property
    def applied(self) -> tuple[StepResult, ...]:
        return tuple(s for s in self.steps if s.status == "done")

    def __json__(self) -> dict[str, Any]:
        """The steps taken and the changes they were for (not the whole plan)."""
        return {"grant": self.plan.artifacts.grant.name, "ok": self.ok, "error": self.error,
                "problems": self.plan.problems, "warnings": self.plan.warnings,
                "steps": self.steps, "propagation": self.propagation,
                "changes": self.plan.pending}


@dataclass(frozen=True, slots=True)
class _Step:
    account: str
    action: str
    subject: str
    run: Callable[[], str]


def _json(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


# --- apply -----------------------------------------------------------------------------

def _role_steps(art: RoleArtifact, changes: list[Change], accounts: Accounts,
                journal: Journal, options: Options) -> list[_Step]:
    grant = accounts.grant
    timing = options.timing
    iam = accounts.session(art.account).client("iam")
    by_kind = {(c.kind, c.name): c for c in changes if c.subject == art.arn}
    steps: list[_Step] = []

    def propagating(call: Callable[[], Any]) -> Any:
        return retry(call, retry_on=is_invalid_principal, timeout=timing.timeout,
                     sleep=timing.sleep, clock=timing.clock)

    role = by_kind.get((ChangeKind.ROLE, ""))
    if role is not None and role.action is Action.CREATE:
        def create() -> str:
            tags = [{"Key": k, "Value": v} for k, v in role_tags(art, grant.name).items()]
            made = propagating(lambda: iam.create_role(
                RoleName=art.name, AssumeRolePolicyDocument=_json(art.trust_policy),
                MaxSessionDuration=art.max_session_duration, Tags=tags,
                Description=f"crossgrant {grant.name}: {art.purpose}"[:1000]))
            journal.remember(role_key(art.arn), {
                "kind": "role", "account": art.account, "arn": art.arn, "created": True,
                "role_id": made["Role"].get("RoleId")}, replace=True)
            return "created"
        steps.append(_Step(art.account, "create role", art.arn, create))

    def remember_live_role() -> None:
        """The role as it is before we change it (for destroy to put back), and whose it
        is: what destroy may delete is decided here, by the RoleId."""
        live = read_role(accounts.session(art.account), art)
        if not live.exists:
            return
        owner = role_owner(art, True, live.role_id, live.tags, journal, grant.name)
        if owner is Owner.FOREIGN and not options.adopt:
            raise NotOwnedError(adopt_hint([f"role {art.arn}"]))
        record = journal.original(role_key(art.arn))
        journal.remember(role_key(art.arn), {
            "kind": "role", "account": art.account, "arn": art.arn, "role_id": live.role_id,
            "created": owner is Owner.CREATED, "shared": owner is Owner.SHARED,
            "adopted": owner in (Owner.FOREIGN, Owner.ADOPTED), "trust_policy": live.trust,
            "max_session_duration": live.max_session_duration},
            replace=record is not None and not same_role(record, live.role_id, live.tags,
                                                         grant.name))

    trust = by_kind.get((ChangeKind.TRUST, ""))
    if trust is not None and trust.action is Action.UPDATE:
        def update_trust() -> str:
            remember_live_role()
            propagating(lambda: iam.update_assume_role_policy(
                RoleName=art.name, PolicyDocument=_json(art.trust_policy)))
            return "trust policy replaced"
        steps.append(_Step(art.account, "update trust policy", art.arn, update_trust))
    if role is not None and role.action is Action.UPDATE:
        def raise_session() -> str:
            remember_live_role()
            iam.update_role(RoleName=art.name, MaxSessionDuration=art.max_session_duration)
            return f"max session duration {art.max_session_duration} s"
        steps.append(_Step(art.account, "update role", art.arn, raise_session))
    for name, doc in art.inline_policies:
        change = by_kind.get((ChangeKind.INLINE, name))
        if change is None or change.action is Action.NOOP:
            continue

        def put_inline(name: str = name, doc: Any = doc, before: Any = change.before) -> str:
            remember_live_role()
            journal.remember(inline_key(art.arn, name), {
                "kind": "inline-policy", "account": art.account, "role": art.arn,
                "name": name, "created": before is None, "document": before})
            iam.put_role_policy(RoleName=art.name, PolicyName=name, PolicyDocument=_json(doc))
            return "put"
        steps.append(_Step(art.account, f"{change.action.value} inline policy",
                           f"{art.arn} {name}", put_inline))
    return steps


def _policy_step(ps: PolicyStatements, accounts: Accounts, journal: Journal,
                 artifacts: Artifacts, options: Options) -> _Step:
    """Merge the grant's statements into one resource policy, recording first which Sids
    crossgrant adds (created) and which it takes over (adopted, with what they were)."""
    session = accounts.session(ps.account)
    store = store_for(session, ps.kind, ps.resource, accounts.grant.target.region)
    key = policy_key(ps.kind.value, ps.resource)
    wanted_sids = {str(st["Sid"]) for st in ps.statements}

    def run() -> str:
        first = store.read()
        if first.problem is not None:
            raise AwsError(f"{first.label}: {first.problem}")
        mine = statements_of(journal, ps.kind.value, ps.resource, first.document,
                             artifacts.owns)
        originals = dict(mine.originals or {})
        give_back = tuple(originals[sid] for sid in sorted(mine.adopted - wanted_sids)
                          if sid in originals)

        def before_write(current: LivePolicy) -> None:
            present = by_sid(current.document, artifacts.owns)
            taken = {sid: st for sid, st in present.items()
                     if sid in wanted_sids and sid not in mine.mine}
            if taken and not options.adopt:
                raise NotOwnedError(adopt_hint([f"statement {sid} in the {current.label}"
                                                for sid in sorted(taken)]))
            journal.remember(key, {"kind": ps.kind.value, "account": ps.account,
                                   "resource": ps.resource, "address": current.address,
                                   "existed": current.text is not None, "text": current.text})
            adopted = {sid: st for sid, st in originals.items() if sid in wanted_sids}
            adopted.update(taken)
            journal.update(key, created_sids=sorted((mine.created | wanted_sids) - set(adopted)),
                           adopted=adopted)

        result = merge_into(store, ps.statements + give_back, mine.owns(*wanted_sids),
                            options.timing, before_write)
        return f"{len(ps.statements)} statement(s) merged in {result.writes} write(s)"
    return _Step(ps.account, "merge statements", ps.label, run)


def _function_step(artifacts: Artifacts, change: Change, options: Options,
                   journal: Journal) -> _Step:
    grant = artifacts.grant
    name = grant.source.function
    bundle, target = options.function, options.functions
    assert bundle is not None and target is not None
    timing = options.timing

    def run() -> str:
        live = target.read(name)
        if live is not None and journal.original(function_key(name)) is None and \
                not options.adopt:
            raise NotOwnedError(adopt_hint([f"function {name}"]))
        journal.remember(function_key(name), {
            "kind": "function", "account": grant.source.account, "name": name,
            "created": live is None, "previous": to_json(live)})
        retry(lambda: target.put(name, bundle, grant.execution_role_arn, live),
              retry_on=is_role_not_ready, timeout=timing.timeout, sleep=timing.sleep,
              clock=timing.clock)
        return "created" if live is None else "updated"
    return _Step(grant.source.account, f"{change.action.value} function", name, run)


def _steps(plan: Plan, accounts: Accounts, journal: Journal, options: Options) -> list[_Step]:
    artifacts = plan.artifacts
    pending = list(plan.pending)
    steps: list[_Step] = []
    for side, account in plan.order:
        if side == STACKSET_SIDE:
            assert isinstance(accounts, StackSetAccounts)
            fanout = [c for c in pending if c.kind in STACKSET_KINDS]
            if fanout:
                steps.append(_Step(account, "deploy stack set", fanout[0].subject,
                                   deploy_step(artifacts, accounts, journal,
                                               adopt=options.adopt, progress=options.progress)))
            continue
        for art in artifacts.roles_in(account):
            steps.extend(_role_steps(art, [c for c in pending if c.subject == art.arn],
                                     accounts, journal, options))
        for change in pending:
            if change.kind is ChangeKind.FUNCTION and change.account == account:
                steps.append(_function_step(artifacts, change, options, journal))
        for ps in artifacts.policies_in(account):
            if any(c.subject == ps.resource and c.account == account for c in pending):
                steps.append(_policy_step(ps, accounts, journal, artifacts, options))
    return steps


def _run(steps: list[_Step], journal: Journal, operation: str,
         on_step: Callable[[StepResult], None] | None) -> tuple[list[StepResult], str | None]:
    results: list[StepResult] = []
    error: str | None = None
    for step in steps:
        if error is not None:
            results.append(StepResult(step.account, step.action, step.subject, "not run"))
            continue
        index = journal.begin(operation, step.account, step.action, step.subject)
        started = time.monotonic()
        try:
            detail = step.run()
        except (ClientError, BotoCoreError, CrossgrantError) as exc:
            error = f"{step.action} {step.subject}: " + (
                answer(exc) if isinstance(exc, ClientError) else str(exc))
            journal.finish(index, "failed", error)
            result = StepResult(step.account, step.action, step.subject, "failed", error,
                                time.monotonic() - started)
        else:
            status = "skipped" if detail.startswith("skipped") else "done"
            journal.finish(index, status)
            result = StepResult(step.account, step.action, step.subject, status, detail,
                                time.monotonic() - started)
        results.append(result)
        if on_step is not None:
            on_step(result)
    return results, error


def stale(expected: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """The accounts whose documents differ from what a plan read."""
    return sorted(a for a in set(expected) | set(now) if expected.get(a) != now.get(a))


def apply(artifacts: Artifacts, accounts: Accounts, journal: Journal, *,
          options: Options | None = None,
          on_step: Callable[[StepResult], None] | None = None,
          expected: Mapping[str, str] | None = None) -> ApplyResult:
    """Make both accounts hold what `artifacts` describe; see the module docstring.

    `expected`: the fingerprints of a plan shown or saved before; the apply refuses
    (StalePlanError, nothing changed) when an account no longer holds what it read."""
    options = options or Options()
    accounts.check()
    with journal.locked():
        plan = make_plan(artifacts, accounts, function=options.function,
                         functions=options.functions, journal=journal, adopt=options.adopt)
        if expected is not None:
            changed = stale(expected, plan.fingerprints)
            if changed:
                raise StalePlanError(f"account {' and '.join(changed)} changed since the plan "
                                     f"was made; nothing was changed: plan again")
        if plan.foreign:
            raise NotOwnedError(adopt_hint(list(plan.foreign)))
        if plan.problems:
            return ApplyResult(plan, (), False, "the plan has problems; nothing was changed")
        steps = _steps(plan, accounts, journal, options)
        dropped = orphans(artifacts, journal)
        steps += _undo_steps(artifacts, accounts, journal, dropped, list(plan.pending),
                             options)
        if steps:
            journal.set_status("applying")
        results, error = _run(steps, journal, "apply", on_step)
        propagation = None
        # Without the source's credentials (a StackSet reaches it), nobody here can wait.
        if error is None and steps and options.wait_for_iam and accounts.sources and \
                artifacts.grant.mode is Mode.ASSUME_ROLE:
            found: list[str] = []

            def wait() -> str:
                found.append(wait_for_iam(artifacts, accounts, options.timing))
                return found[0]
            more, error = _run([_Step(artifacts.grant.source.account, "wait for IAM",
                                      artifacts.grant.target_role_arn or "", wait)],
                               journal, "apply", on_step)
            results += more
            propagation = found[0] if found else None
        if error is None:
            _forget(journal, dropped)
        if steps or error is not None or journal.exists:
            journal.set_status("failed" if error else "applied")
        return ApplyResult(plan, tuple(results), error is None, error, propagation)


def _forget(journal: Journal, scope: Scope) -> None:
    """Drop the records of what was taken out: a later destroy must not restore them."""
    for ps in scope.policies:
        journal.forget(policy_key(ps.kind.value, ps.resource))
    for art in scope.roles:
        journal.forget(role_key(art.arn))
        for name, _ in art.inline_policies:
            journal.forget(inline_key(art.arn, name))


# --- destroy ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class DestroyResult:
    ok: bool
    error: str | None = None
    notes: tuple[str, ...] = ()
    changes: tuple[Change, ...]
    steps: tuple[StepResult, ...]


def plan_destroy(artifacts: Artifacts, accounts: Accounts,
                 journal: Journal) -> tuple[list[Change], list[str]]:
    """What destroy would do, in its order (target first), and notes on what it leaves."""
    return undo_changes(artifacts, accounts, journal, everything(artifacts, journal))


def destroy(artifacts: Artifacts, accounts: Accounts, journal: Journal, *,
            options: Options | None = None, dry_run: bool = False,
            on_step: Callable[[StepResult], None] | None = None,
            expected: Sequence[Change] | None = None) -> DestroyResult:
    """Remove what the journal proves crossgrant created, give back what it adopted, and
    give each shared policy back its foreign statements, in reverse deploy order (the
    target's policies name the source's role).

    `expected`: the changes shown to (and confirmed by) the user; destroy refuses
    (StalePlanError, nothing changed) when it would now do something else."""
    options = options or Options()
    accounts.check()
    with journal.locked():
        scope = everything(artifacts, journal)
        changes, notes = undo_changes(artifacts, accounts, journal, scope)
        if expected is not None and to_json(list(expected)) != to_json(changes):
            raise StalePlanError("the accounts changed since the destroy plan was shown; "
                                 "nothing was changed: run destroy again")
        if dry_run:
            return DestroyResult(ok=True, notes=tuple(notes), changes=tuple(changes), steps=())
        steps = _undo_steps(artifacts, accounts, journal, scope, changes, options)
        if steps:
            journal.set_status("destroying")
        results, error = _run(steps, journal, "destroy", on_step)
        if error is None:
            for key in journal.resources():
                journal.forget(key)
            if journal.exists:
                journal.set_status("destroyed")
        else:
            journal.set_status("failed")
        return DestroyResult(ok=error is None, error=error, notes=tuple(notes),
                             changes=tuple(changes), steps=tuple(results))


def _undo_steps(artifacts: Artifacts, accounts: Accounts, journal: Journal, scope: Scope,
                changes: list[Change], options: Options) -> list[_Step]:
    grant = artifacts.grant
    steps: list[_Step] = []
    for account in undo_accounts(accounts, scope):
        session = accounts.session(account)
        for ps in scope.policies:
            if ps.account == account and any(
                    c.subject == ps.resource and c.account == account and
                    c.action in (Action.DELETE, Action.UPDATE) for c in changes):
                steps.append(_restore_step(ps, session, journal, artifacts, options.timing))
        if account == grant.source.account and scope.function and any(
                c.kind is ChangeKind.FUNCTION and c.action is Action.DELETE for c in changes):
            target = options.functions
            if target is None:
                raise CrossgrantError(f"function {grant.source.function} was created by "
                                      f"crossgrant; destroy needs the same credentials options "
                                      f"(--sandbox) to remove it")
            steps.append(_Step(account, "delete function", grant.source.function,
                               partial(_delete_function, target, grant.source.function)))
        iam = session.client("iam")
        for art in scope.roles:
            if art.account == account:
                steps.extend(_role_undo_step(iam, art, change, journal)
                             for change in changes if change.subject == art.arn and (
                                 change.action is Action.DELETE or
                                 change.kind in (ChangeKind.TRUST, ChangeKind.INLINE)))
    fanout = [c for c in changes if c.kind in STACKSET_KINDS]
    if scope.stackset and fanout and isinstance(accounts, StackSetAccounts):
        steps.append(_Step(fanout[0].account, "remove stack set", fanout[0].subject,
                           undo_step(artifacts, accounts, journal, progress=options.progress)))
    return steps


def _restore_step(ps: PolicyStatements, session: AccountSession, journal: Journal,
                  artifacts: Artifacts, timing: Timing) -> _Step:
    store = store_for(session, ps.kind, ps.resource, artifacts.grant.target.region)
    record = journal.original(policy_key(ps.kind.value, ps.resource))

    def run() -> str:
        first = store.read()
        if first.problem is not None:
            raise AwsError(f"{first.label}: {first.problem}")
        mine = statements_of(journal, ps.kind.value, ps.resource, first.document,
                             artifacts.owns)
        result = restore(store, mine.owns(), record.get("text") if record else None,
                         record is not None, timing, mine.originals)
        final = result.final.text
        if final is None:
            return "policy deleted: nothing foreign was left"
        if record is not None and final == record.get("text"):
            return "restored byte for byte"
        return "crossgrant's statements removed"
    return _Step(ps.account, "remove statements", f"{ps.kind.value} policy of {ps.resource}",
                 run)


def _delete_function(target: FunctionTarget, name: str) -> str:
    target.delete(name)
    return "deleted"


def _role_undo_step(iam: Any, art: RoleArtifact, change: Change, journal: Journal) -> _Step:
    if change.kind is ChangeKind.INLINE and change.action is Action.UPDATE:
        def give_back() -> str:
            iam.put_role_policy(RoleName=art.name, PolicyName=change.name,
                                PolicyDocument=_json(change.after))
            return "given back as it was"
        return _Step(art.account, "restore inline policy", f"{art.arn} {change.name}",
                     give_back)
    if change.kind is ChangeKind.INLINE:
        def delete_inline() -> str:
            _ignore_missing(lambda: iam.delete_role_policy(RoleName=art.name,
                                                           PolicyName=change.name))
            return "deleted"
        return _Step(art.account, "delete inline policy", f"{art.arn} {change.name}",
                     delete_inline)
    if change.kind is ChangeKind.TRUST:
        def restore_trust() -> str:
            iam.update_assume_role_policy(RoleName=art.name, PolicyDocument=_json(change.after))
            record = journal.original(role_key(art.arn)) or {}
            old = record.get("max_session_duration")
            if isinstance(old, int):
                iam.update_role(RoleName=art.name, MaxSessionDuration=old)
            return "trust policy restored"
        return _Step(art.account, "restore trust policy", art.arn, restore_trust)
    record = journal.original(role_key(art.arn)) or {}
    return _Step(art.account, "delete role", art.arn,
                 partial(_delete_role, iam, art, record.get("role_id")))


def _ignore_missing(call: Callable[[], Any]) -> None:
    try:
        call()
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise


def _delete_role(iam: Any, art: RoleArtifact, role_id: str | None) -> str:
    """Delete a role crossgrant created, unless other policies are left on it (another
    grant sharing the execution role, or someone's own): then it stays, and the step says
    which. The last grant to leave deletes it. The role is first checked to be the very
    one the journal recorded (its RoleId): one made since under the same name stays."""
    try:
        live_id = iam.get_role(RoleName=art.name)["Role"].get("RoleId")
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return "already gone"
        raise
    if role_id and live_id != role_id:
        return f"kept: it is not the role this journal created (RoleId {live_id}, " \
               f"recorded {role_id})"
    others = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=art.name)
              for n in page["PolicyNames"] if n not in dict(art.inline_policies)]
    attached = [p["PolicyArn"] for page in
                iam.get_paginator("list_attached_role_policies").paginate(RoleName=art.name)
                for p in page["AttachedPolicies"]]
    if others or attached:
        return f"kept: it still holds {', '.join([*others, *attached])}"
    for page in iam.get_paginator("list_instance_profiles_for_role").paginate(
            RoleName=art.name):
        for profile in page["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=art.name)
    _ignore_missing(lambda: iam.delete_role(RoleName=art.name))
    return "deleted"


__all__ = ["ApplyResult", "DestroyResult", "Options", "StalePlanError", "StepResult", "apply",
           "destroy", "execution_session", "plan_destroy", "stale", "trust_allows",
           "wait_for_iam"]

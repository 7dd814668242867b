"""What `apply` would change: the rendered artifacts against the live accounts.

The plan mirrors the in-memory apply (`render.apply`) exactly, so what `verify` proved is
what gets deployed: a role crossgrant creates gets the rendered trust policy, tags and
session length; an existing role gets its trust policy replaced (unless the grant leaves
an existing execution role's trust alone), the inline policy put, and its maximum session
raised if needed; each resource policy gets crossgrant's statements merged in by Sid, with
every foreign statement kept. Changes are listed per account in deploy order, one per
role, trust policy, inline policy, resource-policy statement and function.

Problems are what would make `apply` fail or do harm: a bucket, table or key the grant
names that does not exist (crossgrant does not create them), a policy it cannot read (it
would not know what to keep), a foreign statement already using one of its Sids, and a
role, inline policy, statement or function of crossgrant's name that its journal did not
create here (`aws.ownership`: taken over only with `adopt`).

A plan keeps a fingerprint of every document it read in each account, so a plan that was
shown (and confirmed) or saved is applied only while the accounts still hold what it was
computed from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.changes import (
    STACKSET_KINDS,
    STATEMENT_KIND,
    Action,
    Change,
    ChangeKind,
    Reads,
)
from crossgrant.aws.clients import (
    AccountMismatchError,
    Accounts,
    AccountSession,
    answer,
    error_code,
)
from crossgrant.aws.fanout import STACKSET_SIDE, StackSetAccounts, plan_stackset
from crossgrant.aws.functions import FunctionBundle, FunctionTarget, wanted
from crossgrant.aws.journal import Journal
from crossgrant.aws.ownership import (
    GRANT_TAG,
    Owner,
    function_owner,
    inline_owner,
    role_owner,
    statements_of,
)
from crossgrant.aws.policies import LivePolicy, by_sid, canonical, store_for
from crossgrant.aws.roles import LiveRole, read_role, role_tags
from crossgrant.aws.undo import Scope, everything, orphans, undo_changes
from crossgrant.errors import CrossgrantError
from crossgrant.render.artifacts import Artifacts, ResourceKind, RoleArtifact
from crossgrant.serial import OMIT, to_json
from crossgrant.world.merge import merge

ADOPT_NOTE = "adopted: destroy gives it back as it was and never deletes it"


@dataclass(frozen=True, slots=True)
class Plan:
    artifacts: Artifacts
    changes: tuple[Change, ...]
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    order: tuple[tuple[str, str], ...] = field(default=())  # (side, account), deploy order
    # What exists under crossgrant's names without the journal's proof (not adopted).
    foreign: tuple[str, ...] = field(default=(), metadata=OMIT)
    # sha256 of the documents read, per account: what a saved plan is checked against.
    fingerprints: dict[str, str] = field(default_factory=dict, metadata=OMIT)

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    def changes_of(self, side: str, account: str) -> tuple[Change, ...]:
        """The changes shown under one (side, account) of `order`: the StackSet's apart
        from the documents, even when the administrator account is one of the grant's."""
        fanout = side == STACKSET_SIDE
        return tuple(c for c in self.changes
                     if c.account == account and (c.kind in STACKSET_KINDS) == fanout)

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for c in self.changes:
            counts[c.action.value] += 1
        return counts

    def __json__(self) -> dict[str, Any]:
        """Changes grouped by account in deploy order, with counts, for `plan --json`."""
        grant = self.artifacts.grant
        return {
            "grant": grant.name,
            "grant_file": grant.path,
            "accounts": [{"side": side, "account": account,
                          "changes": list(self.changes_of(side, account))}
                         for side, account in self.order],
            "summary": self.summary(),
            "pending": len(self.pending),
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class _Findings:
    """What a plan collects while it reads: the changes and what to say about them."""

    journal: Journal | None
    adopt: bool
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def not_ours(self, label: str) -> str:
        """Something of crossgrant's name without the journal's proof: refused, or
        adopted when allowed; returns the note for its change."""
        if self.journal is None:
            return ""
        if self.adopt:
            self.warnings.append(f"{label} exists and this journal did not create it: "
                                 f"adopting it (destroy gives it back and keeps it)")
            return ADOPT_NOTE
        self.foreign.append(label)
        self.problems.append(f"{label} exists and this journal did not create it: pass "
                             f"--adopt to take it over")
        return ""


def _role_changes(art: RoleArtifact, live: LiveRole, grant: str, found: _Findings) -> None:
    changes, warnings = found.changes, found.warnings
    if live.problem is not None:
        found.problems.append(live.problem)
        return
    if not live.exists:
        if not art.create:
            found.problems.append(f"role {art.arn} does not exist; the grant says it does "
                                  f"(source.existing_role), so crossgrant only adds a policy "
                                  f"to it")
            return
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.CREATE,
                              None, {"trust_policy": art.trust_policy,
                                     "max_session_duration": art.max_session_duration,
                                     "tags": role_tags(art, grant)}, art.purpose))
        for name, doc in art.inline_policies:
            changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name,
                                  Action.CREATE, None, doc))
        return
    owner = role_owner(art, live.exists, live.role_id, live.tags, found.journal, grant)
    role_note = found.not_ours(f"role {art.arn}") if owner is Owner.FOREIGN else ""
    if owner is Owner.SHARED and not live.owned_by(grant):
        role_note = f"shared with grant {live.tags.get(GRANT_TAG)}"
    foreign = not live.owned_by(grant) and GRANT_TAG not in live.tags
    if live.path != "/":
        warnings.append(f"role {live.arn} has path {live.path}: the grant's documents name "
                        f"{art.arn}")
    if art.trust_policy is not None:
        same = canonical(live.trust) == canonical(art.trust_policy)
        note = ""
        if foreign and not same:
            note = "the role was not created by crossgrant: destroy puts this trust back"
            warnings.append(f"role {art.arn} exists and was not created by crossgrant: its "
                            f"trust policy will be replaced (the journal keeps the old one "
                            f"and destroy restores it; the role itself stays)")
        changes.append(Change(art.account, ChangeKind.TRUST, art.arn, "",
                              Action.NOOP if same else Action.UPDATE, live.trust,
                              art.trust_policy, note))
    if live.max_session_duration < art.max_session_duration:
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.UPDATE,
                              {"max_session_duration": live.max_session_duration},
                              {"max_session_duration": art.max_session_duration}, role_note))
    else:
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.NOOP,
                              note=role_note))
    for name, doc in art.inline_policies:
        before = live.inline.get(name)
        note = ""
        if before is None:
            action = Action.CREATE
        else:
            action = Action.NOOP if canonical(before) == canonical(doc) else Action.UPDATE
            if inline_owner(art, name, True, owner, found.journal) is Owner.FOREIGN and \
                    owner is not Owner.FOREIGN:
                note = found.not_ours(f"inline policy {name!r} of {art.arn}")
        changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name, action, before,
                              doc, note))


def _statement_changes(artifacts: Artifacts, live: LivePolicy, statements: tuple[Any, ...],
                       found: _Findings) -> None:
    kind = STATEMENT_KIND[live.kind]
    account = artifacts.grant.target.account
    if live.problem is not None:
        found.problems.append(f"{live.label}: {live.problem}"
                              + ("; crossgrant does not create buckets, tables, streams or "
                                 "keys" if not live.exists else ""))
        return
    try:
        doc = live.document
        merge(doc, statements, artifacts.owns, live.label)
    except CrossgrantError as exc:
        found.problems.append(str(exc))
        return
    ours = by_sid(doc, artifacts.owns)
    mine = statements_of(found.journal, live.kind.value, live.resource, doc, artifacts.owns)
    for st in statements:
        before = ours.get(st["Sid"])
        note = ""
        if before is None:
            action = Action.CREATE
        else:
            action = Action.NOOP if canonical(before) == canonical(st) else Action.UPDATE
            if st["Sid"] not in mine.mine:
                note = found.not_ours(f"statement {st['Sid']} in the {live.label}")
        changes_note = note or ("" if st["Sid"] not in mine.adopted else ADOPT_NOTE)
        found.changes.append(Change(account, kind, live.resource, st["Sid"], action, before,
                                    st, changes_note))
    wanted_sids = {st["Sid"] for st in statements}
    for sid, st in ours.items():
        if sid in wanted_sids:
            continue
        if found.journal is None or sid in mine.created:
            found.changes.append(Change(account, kind, live.resource, sid, Action.DELETE, st,
                                        None, "no longer part of the grant"))
        elif sid in mine.adopted and mine.originals and sid in mine.originals:
            if canonical(mine.originals[sid]) != canonical(st):
                found.changes.append(Change(account, kind, live.resource, sid, Action.UPDATE,
                                            st, mine.originals[sid],
                                            "no longer part of the grant: given back as it "
                                            "was"))
        else:
            found.warnings.append(f"{live.label}: statement {sid} has crossgrant's Sid but "
                                  f"this journal did not create it: left in place")


def _requirement_warnings(artifacts: Artifacts, accounts: Accounts, reads: Reads) -> list[str]:
    out: list[str] = []
    target = accounts.target
    region = artifacts.grant.target.region
    for req in artifacts.requirements:
        actual: str | None = None
        try:
            if req.kind is ResourceKind.BUCKET and req.field == "object_ownership":
                try:
                    rules = target.client("s3", region).get_bucket_ownership_controls(
                        Bucket=req.resource)["OwnershipControls"]["Rules"]
                    actual = rules[0]["ObjectOwnership"] if rules else "ObjectWriter"
                except ClientError as exc:
                    if error_code(exc) != "OwnershipControlsNotFoundError":
                        raise
                    actual = "ObjectWriter"
            elif req.kind is ResourceKind.KEY and req.field == "aws_managed":
                meta = target.client("kms", region).describe_key(KeyId=req.resource)
                actual = str(meta["KeyMetadata"].get("KeyManager") == "AWS").lower()
        except ClientError as exc:
            out.append(f"could not check that {req.resource} has {req.field} {req.value}: "
                       f"{answer(exc)}")
            continue
        reads.add(req.account, f"{req.resource} {req.field}", actual)
        if actual is not None and actual != req.value:
            out.append(f"{req.resource}: {req.field} is {actual}, the grant needs "
                       f"{req.value}: {req.why}")
    return out


@dataclass(frozen=True, slots=True)
class ManySources(Accounts):
    """Accounts of a grant with a list of source accounts, each with its own session
    (the sandbox's administrators): deployed directly, one account after the other, where
    real accounts go through a StackSet (`aws.stacksets`)."""

    others: Mapping[str, AccountSession] = field(default_factory=dict)
    # The session of an account the grant no longer lists but the journal says crossgrant
    # deployed to (the sandbox's administrator there), to take its part out again.
    former: Callable[[str], AccountSession] | None = None
    _made: dict[str, AccountSession] = field(default_factory=dict, repr=False)

    def session(self, account: str) -> AccountSession:
        if account in self.others:
            return self.others[account]
        if account in (self.grant.source.account, self.grant.target.account) or \
                self.former is None:
            return Accounts.session(self, account)
        if account not in self._made:
            made = self.former(account)
            got = made.identity().account
            if got != account:
                raise AccountMismatchError(f"{made.label} belongs to account {got}, not "
                                           f"{account}; nothing was changed")
            self._made[account] = made
        return self._made[account]

    def check(self) -> None:
        Accounts.check(self)
        for account, sess in self.others.items():
            got = sess.identity().account
            if got != account:
                raise AccountMismatchError(
                    f"{sess.label} belongs to account {got}, but the grant's source account "
                    f"is {account} ({self.grant.path}); nothing was changed")


def make_plan(artifacts: Artifacts, accounts: Accounts, *,
              function: FunctionBundle | None = None,
              functions: FunctionTarget | None = None,
              journal: Journal | None = None, adopt: bool = False) -> Plan:
    """Read what the grant touches in both accounts and list what apply would change.

    With the journal, what an earlier version of the grant deployed and this one no longer
    renders (a bucket dropped from the grant, the target role after a switch to
    resource-policy mode) is listed for removal too, and what exists under crossgrant's
    names without the journal's proof is a problem unless `adopt`. Without a journal
    (a bare diff) nobody's ownership is checked."""
    grant = artifacts.grant
    found = _Findings(journal, adopt)
    reads = Reads()
    order = _order(artifacts, accounts)
    for side, account in order:
        if side == STACKSET_SIDE:
            assert isinstance(accounts, StackSetAccounts)
            fan = plan_stackset(artifacts, accounts, journal, reads)
            note = found.not_ours(fan.foreign) if fan.foreign else \
                ADOPT_NOTE if fan.adopted else ""
            found.changes.extend(replace(c, note=note) if note and c.kind is
                                 ChangeKind.STACKSET else c for c in fan.changes)
            found.problems.extend(fan.problems)
            continue
        session = accounts.session(account)
        for art in artifacts.roles_in(account):
            live_role = read_role(session, art)
            reads.add(account, f"role {art.arn}", live_role)
            _role_changes(art, live_role, grant.name, found)
        if account == grant.source.account and function is not None:
            found.changes.extend(_function_changes(artifacts, function, functions, found,
                                                   reads))
        for ps in artifacts.policies_in(account):
            live = store_for(session, ps.kind, ps.resource, grant.target.region).read()
            reads.add(account, ps.label, (live.exists, live.text, live.problem))
            _statement_changes(artifacts, live, ps.statements, found)
    found.warnings.extend(_requirement_warnings(artifacts, accounts, reads))
    if journal is not None:
        gone, notes = undo_changes(artifacts, accounts, journal, orphans(artifacts, journal),
                                   reads)
        found.changes.extend(replace(c, note=c.note or "no longer part of the grant")
                             for c in gone)
        found.warnings.extend(notes)
        order = _with_former(order, gone)
    return Plan(artifacts, tuple(found.changes), tuple(found.problems),
                tuple(found.warnings), order, tuple(found.foreign), reads.fingerprints())


def _order(artifacts: Artifacts, accounts: Accounts) -> tuple[tuple[str, str], ...]:
    """(side, account) in deploy order: every source account the grant names (one, as in
    v1, or a list), or the StackSet's administrator for real accounts, then the target."""
    sources: tuple[tuple[str, str], ...] = tuple(("source", a) for a in accounts.sources)
    if isinstance(accounts, StackSetAccounts):
        sources = ((STACKSET_SIDE, accounts.admin_account),)
    target = (("target", artifacts.grant.target.account),)
    return tuple(pair for side in artifacts.deploy_order
                 for pair in (sources if side == "source" else target))


def _with_former(order: tuple[tuple[str, str], ...],
                 gone: list[Change]) -> tuple[tuple[str, str], ...]:
    """The order with the source accounts the grant no longer lists, where the journal
    says crossgrant deployed (their part is removed), after the ones it lists."""
    known = {account for _, account in order}
    former = sorted({c.account for c in gone} - known)
    if not former:
        return order
    last = max((i for i, (side, _) in enumerate(order) if side == "source"), default=-1)
    return (*order[:last + 1], *(("source", a) for a in former), *order[last + 1:])


def _function_changes(artifacts: Artifacts, bundle: FunctionBundle,
                      functions: FunctionTarget | None, found: _Findings,
                      reads: Reads) -> list[Change]:
    grant = artifacts.grant
    if functions is None:
        found.problems.append("a function package was given but there is no way to deploy "
                              "it here")
        return []
    try:
        live = functions.read(grant.source.function)
    except CrossgrantError as exc:
        found.problems.append(str(exc))
        return []
    reads.add(grant.source.account, f"function {grant.source.function}", live)
    after = wanted(bundle, grant.execution_role_arn, sandbox=functions.sandbox)
    if live is None:
        return [Change(grant.source.account, ChangeKind.FUNCTION, grant.source.function, "",
                       Action.CREATE, None, after)]
    note = ""
    if function_owner(grant.source.function, True, found.journal) is Owner.FOREIGN:
        note = found.not_ours(f"function {grant.source.function}")
    before = {k: v for k, v in to_json(live).items() if k in after}
    action = Action.NOOP if before == after else Action.UPDATE
    return [Change(grant.source.account, ChangeKind.FUNCTION, grant.source.function, "",
                   action, before, after, note)]


__all__ = ["GRANT_TAG", "STATEMENT_KIND", "Action", "Change", "ChangeKind", "LiveRole",
           "ManySources", "Plan", "Scope", "everything", "make_plan", "orphans", "read_role",
           "role_tags", "undo_changes"]

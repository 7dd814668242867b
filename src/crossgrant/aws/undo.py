"""Taking crossgrant's part out again: destroy, and what a new version of a grant no longer
renders.

Only what the journal proves crossgrant created in this place is deleted (`aws.ownership`):
a role it created (the same RoleId), its inline policy, the statements it added, the
function it created. What it adopted is given back as it was before. Anything else that
merely carries one of crossgrant's names is left alone, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossgrant.aws.changes import STATEMENT_KIND, Action, Change, ChangeKind, Reads
from crossgrant.aws.clients import Accounts
from crossgrant.aws.fanout import StackSetAccounts, undo_stackset
from crossgrant.aws.journal import Journal, function_key, inline_key, policy_key, role_key
from crossgrant.aws.ownership import GRANT_TAG, same_role, statements_of
from crossgrant.aws.policies import by_sid, canonical, store_for
from crossgrant.aws.roles import LiveRole, read_role
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind, RoleArtifact

ADOPTED_NOTE = "adopted: given back as it was"


@dataclass(frozen=True, slots=True)
class Scope:
    """The roles and resource policies an undo covers."""

    policies: tuple[PolicyStatements, ...] = ()
    roles: tuple[RoleArtifact, ...] = ()
    function: bool = False
    stackset: bool = False  # the grant's StackSet (real accounts of a many-source grant)

    @property
    def empty(self) -> bool:
        return not (self.policies or self.roles or self.function or self.stackset)


def undo_accounts(accounts: Accounts, scope: Scope) -> tuple[str, ...]:
    """Where an undo acts, target account first (its policies name the source's role):
    then the source accounts these credentials reach, the grant's and those it no longer
    lists where the journal says crossgrant deployed."""
    grant = accounts.grant
    listed = (grant.target.account, *accounts.sources)
    direct = set(accounts.sources) | set(grant.source.accounts)
    former = sorted({r.account for r in scope.roles} - set(listed) - direct
                    if accounts.sources else set())
    return (*listed, *former)


def everything(artifacts: Artifacts, journal: Journal) -> Scope:
    """What destroy covers: the grant as rendered now, and what the journal adds."""
    extra = orphans(artifacts, journal)
    return Scope(artifacts.resource_policies + extra.policies, artifacts.roles + extra.roles,
                 True, True)


def orphans(artifacts: Artifacts, journal: Journal) -> Scope:
    """What the journal says crossgrant put somewhere the grant no longer renders."""
    policies: list[PolicyStatements] = []
    roles: dict[str, RoleArtifact] = {}
    rendered = {policy_key(p.kind.value, p.resource) for p in artifacts.resource_policies}
    rendered_roles = {r.arn for r in artifacts.roles}
    records = journal.resources()
    for key, record in records.items():
        kind = record.get("kind")
        if key.startswith("policy:") and key not in rendered:
            try:
                policies.append(PolicyStatements(str(record["account"]),
                                                 ResourceKind(str(kind)),
                                                 str(record["resource"]), ()))
            except (KeyError, ValueError):
                continue
        elif kind in ("role", "inline-policy"):
            arn = str(record.get("arn") or record.get("role") or "")
            if not arn or arn in rendered_roles or arn in roles:
                continue
            names = tuple(sorted({str(r["name"]) for r in records.values()
                                  if r.get("kind") == "inline-policy" and r.get("role") == arn}))
            created = bool((records.get(role_key(arn)) or {}).get("created"))
            roles[arn] = RoleArtifact(account=arn.split(":")[4], name=arn.rsplit("/", 1)[-1],
                                      trust_policy=None,
                                      inline_policies=tuple((n, {}) for n in names),
                                      create=created)
    return Scope(tuple(policies), tuple(roles.values()))


def undo_changes(artifacts: Artifacts, accounts: Accounts, journal: Journal, scope: Scope,
                 reads: Reads | None = None) -> tuple[list[Change], list[str]]:
    """What taking `scope` out again would change, target account first (its policies name
    the source's role), and notes on what stays."""
    grant = artifacts.grant
    reads = reads or Reads()
    changes: list[Change] = []
    notes: list[str] = []
    for account in undo_accounts(accounts, scope):
        session = accounts.session(account)
        for ps in (p for p in scope.policies if p.account == account):
            live = store_for(session, ps.kind, ps.resource, grant.target.region).read()
            reads.add(account, ps.label, (live.exists, live.text, live.problem))
            if live.problem is not None:
                if live.exists:
                    notes.append(f"{live.label}: {live.problem}")
                continue
            _statements_undo(artifacts, journal, ps, live.document, live.label, changes,
                             notes)
        if account == grant.source.account and scope.function:
            record = journal.original(function_key(grant.source.function))
            if record is not None and record.get("created"):
                changes.append(Change(account, ChangeKind.FUNCTION, grant.source.function, "",
                                      Action.DELETE))
            elif record is not None:
                notes.append(f"function {grant.source.function} existed before crossgrant "
                             f"deployed it: left in place")
        for art in (r for r in scope.roles if r.account == account):
            live_role = read_role(session, art)
            reads.add(account, f"role {art.arn}", live_role)
            _role_undo(art, live_role, journal, grant.name, changes, notes)
    if scope.stackset and isinstance(accounts, StackSetAccounts):
        more, why = undo_stackset(artifacts, accounts, journal, reads)
        changes.extend(more)
        notes.extend(why)
    return changes, notes


def _statements_undo(artifacts: Artifacts, journal: Journal, ps: PolicyStatements,
                     document: Mapping[str, Any] | None, label: str, changes: list[Change],
                     notes: list[str]) -> None:
    kind = STATEMENT_KIND[ps.kind]
    mine = statements_of(journal, ps.kind.value, ps.resource, document, artifacts.owns)
    originals = mine.originals or {}
    for sid, st in by_sid(document, artifacts.owns).items():
        if sid in mine.created:
            changes.append(Change(ps.account, kind, ps.resource, sid, Action.DELETE, st, None))
        elif sid in mine.adopted:
            if sid in originals and canonical(originals[sid]) != canonical(st):
                changes.append(Change(ps.account, kind, ps.resource, sid, Action.UPDATE, st,
                                      originals[sid], ADOPTED_NOTE))
        else:
            notes.append(f"{label}: statement {sid} has crossgrant's Sid but this journal "
                         f"did not create it: left in place")


def _role_undo(art: RoleArtifact, live: LiveRole, journal: Journal, grant: str,
               changes: list[Change], notes: list[str]) -> None:
    if live.problem is not None:
        notes.append(live.problem)
        return
    if not live.exists:
        return
    record = journal.original(role_key(art.arn))
    if record is not None and not same_role(record, live.role_id, live.tags, grant):
        notes.append(f"role {art.arn} is not the role this journal recorded (its RoleId "
                     f"changed): left as it is")
        return
    for name, _ in art.inline_policies:
        doc = live.inline.get(name)
        if doc is None:
            continue
        inline = journal.original(inline_key(art.arn, name))
        if inline is not None and inline.get("created"):
            changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name, Action.DELETE,
                                  doc, None))
        elif inline is not None and isinstance(inline.get("document"), dict):
            if canonical(inline["document"]) != canonical(doc):
                changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name,
                                      Action.UPDATE, doc, inline["document"], ADOPTED_NOTE))
        else:
            notes.append(f"inline policy {name!r} of {art.arn} was not created by this "
                         f"journal: left in place")
    if record is None:
        if art.create:
            notes.append(f"role {art.arn} was not created by this journal: left in place")
        return
    if record.get("created") or (record.get("shared") and GRANT_TAG in live.tags):
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.DELETE, None,
                              None, "unless other policies are left on it"))
    elif record.get("trust_policy") is not None and \
            canonical(record["trust_policy"]) != canonical(live.trust):
        changes.append(Change(art.account, ChangeKind.TRUST, art.arn, "", Action.UPDATE,
                              live.trust, record["trust_policy"],
                              "restored as it was before crossgrant"))


__all__ = ["ADOPTED_NOTE", "Scope", "everything", "orphans", "undo_accounts", "undo_changes"]

"""Walk the request space and keep every request AFTER allows and BEFORE does not.

Two comparators share one walk: `DocPair` for two documents of one type, `StatePair`
for two account states (grant files are applied to states first). Each knows which
callers and resource owners to try in a cell, which cells cannot differ (skipped), and
how both sides decide a request under each assumption (`diff.sides.Env`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from crossgrant.diff.model import Access, DiffResult, Group, StatementLabel, Unprovable, Verdict
from crossgrant.diff.principals import (
    CALLER,
    Named,
    other_accounts,
    principal_reps,
    session_principal,
)
from crossgrant.diff.sides import (
    DocSide,
    DocType,
    Env,
    StateSide,
    doc_envs,
    placeholder,
    state_envs,
)
from crossgrant.diff.space import (
    AFTER,
    BEFORE,
    Cell,
    Context,
    Space,
    as_request_context,
    contexts,
)
from crossgrant.iam import (
    TRUST_ACTIONS,
    Decision,
    Effect,
    Principal,
    PrincipalKind,
    Request,
    StatementRef,
    parse_principal,
)
from crossgrant.iam.arn import resource_account

__all__ = ["DocPair", "StatePair", "compare"]

MAX_REQUESTS = 2_000_000
# env, AFTER, BEFORE (None: the caller or the resource did not exist in BEFORE)
Decided = tuple[Env, Decision, Decision | None]


class Pair(Protocol):
    compared: str
    doc_type: DocType | None
    every_region: bool

    def skip(self, cell: Cell) -> bool: ...

    def callers(self, cell: Cell) -> Iterator[tuple[Principal, str | None]]: ...

    def decisions(self, req: Request, cell: Cell) -> Iterator[Decided]: ...


class DocPair:
    """Two documents of one type."""

    every_region = False

    def __init__(self, before: DocSide, after: DocSide, space: Space) -> None:
        self.before, self.after = before, after
        self.doc_type: DocType | None = after.doc_type
        self.compared = after.doc_type.label
        named = Named()
        for s in space.stmts:
            named.add_statement(s.statement)
        others = other_accounts(named.accounts)
        t = after.doc_type
        if t.names_principals:
            self.principals = principal_reps(named, named.accounts | set(others))
            self.owners: tuple[str, ...] = (*sorted(named.accounts), others[0])
        else:
            self.principals = (session_principal(others[0], CALLER),)
            self.owners = (others[0],)

    def skip(self, cell: Cell) -> bool:
        if not cell.covering or cell.unchanged:
            return True
        if not self.after.doc_type.names_principals or self.after.doc_type is DocType.RCP:
            # AFTER allows only where it has an Allow, or (identity policies, boundaries)
            # where a resource policy grants and BEFORE had a Deny that AFTER lacks
            return not any(s.side == AFTER and s.statement.allow for s in cell.covering) \
                and not _before_denies(cell)
        return False

    def callers(self, cell: Cell) -> Iterator[tuple[Principal, str | None]]:
        if not self.after.doc_type.names_principals:
            yield self.principals[0], self.owners[0]
            return
        for owner in self.owners:
            seen: set[tuple[object, ...]] = set()
            for p in self.principals:
                key = (p.kind, p.account is None, p.account == owner,
                       *(s.statement.principal_strength(p) for s in cell.covering))
                if key not in seen:
                    seen.add(key)
                    yield p, owner

    def decisions(self, req: Request, cell: Cell) -> Iterator[Decided]:
        npd = any(s.statement.principals is not None and s.statement.principals.negated
                  and not s.statement.allow for s in cell.covering)
        after_doc = self.after.restricted(cell.side(AFTER))
        before_doc = self.before.restricted(cell.side(BEFORE))
        direct = self.after.doc_type in (DocType.IDENTITY, DocType.BOUNDARY) \
            and _before_denies(cell)
        for env in doc_envs(self.after.doc_type, req.principal, npd, direct):
            a = self.after.decide(req, env, after_doc)
            if a.allowed:
                yield env, a, self.before.decide(req, env, before_doc)


def _before_denies(cell: Cell) -> bool:
    return any(s.side == BEFORE and not s.statement.allow for s in cell.covering)


class StatePair:
    """Two account states (or two grants applied to states)."""

    doc_type: DocType | None = None

    def __init__(self, before: StateSide, after: StateSide, space: Space, compared: str) -> None:
        self.before, self.after = before, after
        self.compared = compared
        self.every_region = before.skeleton != after.skeleton
        named = Named()
        for s in space.stmts:
            named.add_statement(s.statement)
        accounts = set(named.accounts)
        for side in (before, after):
            accounts |= set(side.state.accounts)
        others = other_accounts(accounts)
        self.principals = principal_reps(named, accounts | set(others))
        extra: dict[str, Principal] = {}
        for acct in after.state.accounts.values():
            for role in acct.roles.values():
                p = session_principal(acct.id, role.name)
                extra.setdefault(p.memo_key, p)
            for user in acct.users.values():
                p = parse_principal(user.arn)
                extra.setdefault(p.memo_key, p)
        self.principals = (*self.principals, *(p for k, p in extra.items()
                                               if k not in {q.memo_key for q in self.principals}))
        self.owners = (*sorted(accounts), others[0])
        self._uncovered: set[tuple[object, ...]] = set()

    def skip(self, cell: Cell) -> bool:
        if not cell.covering:
            if not self.every_region:
                return True
            key = (cell.action.key.startswith("kms:"), cell.action.key in TRUST_ACTIONS,
                   cell.accepted)
            if key in self._uncovered:
                return True
            self._uncovered.add(key)
            return False
        return not self.every_region and cell.unchanged

    def callers(self, cell: Cell) -> Iterator[tuple[Principal, str | None]]:
        bucket = _bucket(cell.resource)
        fixed = resource_account(cell.resource) is not None or (
            bucket is not None and any(s.state.bucket_owner(bucket) is not None
                                       for s in (self.before, self.after)))
        for owner in (None,) if fixed else self.owners:
            for p in self.principals:
                yield p, owner

    def decisions(self, req: Request, cell: Cell) -> Iterator[Decided]:
        held = self.after.holds(req.resource)
        if not self.after.exists(req.principal) or (
                held is False and self.before.holds(req.resource)):
            return  # the caller or the resource is gone in AFTER: it can do nothing there
        new_resource = bool(held) and self.before.holds(req.resource) is False
        got_after = self.after.collect(req)
        if new_resource and req.principal.kind is PrincipalKind.ROOT \
                and req.principal.account == got_after.request.owner_account:
            return  # an account's root user owns what the account creates
        existed = self.before.exists(req.principal) and not new_resource
        got_before = self.before.collect(req) if existed else None
        unknown = {u.name for u in got_after.unknown}
        if got_before is not None:
            unknown |= {u.name for u in got_before.unknown}
        for env in state_envs(req.principal, sorted(unknown)):
            a = self.after.decide(got_after, env)
            if a.allowed:
                yield env, a, None if got_before is None else self.before.decide(got_before, env)


def _bucket(resource: str) -> str | None:
    if resource.startswith("arn:") and resource.split(":", 5)[2:5] == ["s3", "", ""]:
        return resource.split(":", 5)[5].split("/", 1)[0]
    return None


# --- the walk -----------------------------------------------------------------------------

Head = tuple[tuple[StatementLabel, ...], tuple[StatementLabel, ...], str]
# (principal, its type, resource, owner, assumptions, action class key)
AccessKey = tuple[str, str, str, str | None, tuple[str, ...], str]


@dataclass(slots=True)
class _Found:
    labels: dict[tuple[str, int], str | None]
    key_names: dict[str, str]
    groups: dict[Head, dict[AccessKey, list[Context]]] = field(default_factory=dict)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def label(self, ref: StatementRef) -> StatementLabel:
        return StatementLabel(ref.document, ref.label, ref.effect,
                              self.labels.get((ref.document, ref.index)))

    def add(self, req: Request, cell: Cell, ctx: Context, env: Env, after: Decision,
            before: Decision | None, doc_type: DocType | None) -> None:
        granted = tuple(self.label(r) for r in after.because if not placeholder(r.document))
        if before is None:
            stopped: tuple[StatementLabel, ...] = ()
            text = "the caller or the resource did not exist"
        elif before.effect is Effect.EXPLICIT_DENY:
            stopped = tuple(self.label(r) for r in before.because)
            text = "ExplicitDeny"
        else:
            stopped = ()
            text = "ImplicitDeny" + (f": no {before.missing.value} allowed it"
                                     if before.missing is not None else "")
        head: Head = (granted, stopped, text)
        akey: AccessKey = (req.principal.arn, req.principal.kind.value, req.resource,
                           req.resource_account, env.assuming(doc_type), cell.action.key)
        self.members[cell.action.key] = cell.action.members
        self.groups.setdefault(head, {}).setdefault(akey, []).append(ctx)

    def result(self) -> tuple[Group, ...]:
        """Groups of accesses; accesses that differ only in their action class (with the
        same contexts) are one access listing every action."""
        out = []
        for head in sorted(self.groups, key=repr):
            merged: dict[tuple[str, str, str, str | None, tuple[str, ...],
                               tuple[Context, ...]], list[str]] = {}
            for (principal, kind, resource, owner, assuming, action), ctxs \
                    in self.groups[head].items():
                key = (principal, kind, resource, owner, assuming, tuple(ctxs))
                merged.setdefault(key, []).extend(self.members[action])
            accesses = tuple(
                Access(principal, kind, tuple(actions), resource, owner,
                       tuple({self.key_names.get(k, k): v for k, v in c} for c in ctxs),
                       assuming)
                for (principal, kind, resource, owner, assuming, ctxs), actions
                in merged.items())
            out.append(Group(*head, accesses))
        return tuple(out)


def compare(pair: Pair, space: Space, *, keep: Callable[[Cell], bool] | None = None,
            max_requests: int = MAX_REQUESTS,
            record: Callable[[Request], None] | None = None) -> DiffResult:
    """Every new access of AFTER over BEFORE in `space`; `keep` limits the cells."""
    labels = {(s.statement.ref.document, s.statement.ref.index): s.statement.path or None
              for s in space.stmts}
    found = _Found(labels, space.key_names)
    unproven: dict[str, None] = dict(space.unproven)
    count = 0
    for ac in space.actions:
        for cell in space.cells(ac, every_region=pair.every_region):
            if (keep is not None and not keep(cell)) or pair.skip(cell):
                continue
            try:
                combos = contexts(cell)
                for principal, owner in pair.callers(cell):
                    for ctx in combos:
                        req = Request(principal, ac.key, cell.resource, owner,
                                      as_request_context(ctx))
                        if record is not None:
                            record(req)
                        count += 1
                        for env, after, before in pair.decisions(req, cell):
                            if before is None or not before.allowed:
                                # one assumption under which it is new is enough to say so
                                found.add(req, cell, ctx, env, after, before, pair.doc_type)
                                break
            except Unprovable as exc:
                unproven.setdefault(exc.reason)
            if count > max_requests:
                unproven.setdefault(f"more than {max_requests:,} representative requests")
                return _result(pair, found, unproven, count)
    return _result(pair, found, unproven, count)


def _result(pair: Pair, found: _Found, unproven: dict[str, None], count: int) -> DiffResult:
    groups = found.result()
    verdict = Verdict.NEW_ACCESS if groups else \
        Verdict.CANNOT_PROVE if unproven else Verdict.NOTHING_NEW
    return DiffResult(verdict, pair.compared, groups, tuple(unproven), count)


"""The two questions, from inputs to a `DiffResult`.

`diff_documents` / `diff_states`: what AFTER allows that BEFORE did not.
`check_not_granted`: whether a document or state allows any of some actions (on some
resources): a diff against the same thing with every statement removed, so that only
access the statements grant counts (an account's root keeps its own resources either way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossgrant.diff.compare import MAX_REQUESTS, DocPair, StatePair, compare
from crossgrant.diff.inputs import state_statements, world_globs
from crossgrant.diff.model import DiffResult, Unprovable, Verdict
from crossgrant.diff.principals import Named, other_accounts
from crossgrant.diff.sides import DocSide, DocType, StateSide
from crossgrant.diff.space import AFTER, BEFORE, Cell, Space, build_space
from crossgrant.errors import CrossgrantError
from crossgrant.iam import TRUST_ACTIONS, Policy, PolicyType, Request, parse_policy
from crossgrant.world import AccountState
from crossgrant.world.address import DocKind, put

__all__ = ["check_not_granted", "diff_documents", "diff_states", "parse_document"]

Record = Callable[[Request], None]
_TYPES = {PolicyType.IDENTITY: DocType.IDENTITY, PolicyType.RESOURCE: DocType.RESOURCE,
          PolicyType.SCP: DocType.SCP, PolicyType.RCP: DocType.RCP,
          PolicyType.BOUNDARY: DocType.BOUNDARY, PolicyType.SESSION: DocType.IDENTITY,
          PolicyType.VPC_ENDPOINT: DocType.RESOURCE}


def parse_document(doc: Mapping[str, Any] | str, doc_type: DocType, name: str) -> Policy:
    return parse_policy(doc, name=name, policy_type=doc_type.policy_type)


def _unprovable(compared: str, exc: Unprovable) -> DiffResult:
    return DiffResult(Verdict.CANNOT_PROVE, compared, (), (exc.reason,), 0)


def diff_documents(before: Policy | Mapping[str, Any] | None,
                   after: Policy | Mapping[str, Any] | None, doc_type: DocType, *,
                   extra_actions: Sequence[str] = (), extra_resources: Sequence[str] = (),
                   keep: Callable[[Cell], bool] | None = None,
                   keep_space: Callable[[Space], Callable[[Cell], bool]] | None = None,
                   max_requests: int = MAX_REQUESTS, record: Record | None = None) -> DiffResult:
    """New access of document `after` over `before` (None: a document with no statements;
    a mapping is parsed as a document of `doc_type`, named BEFORE or AFTER)."""
    if before is not None and not isinstance(before, Policy):
        before = parse_document(before, doc_type, "BEFORE")
    if after is not None and not isinstance(after, Policy):
        after = parse_document(after, doc_type, "AFTER")
    b = DocSide(before, doc_type, "BEFORE (empty)")
    a = DocSide(after, doc_type, "AFTER (empty)")
    sides = [(BEFORE, s, b.policy) for s in b.statements] + \
            [(AFTER, s, a.policy) for s in a.statements]
    only = TRUST_ACTIONS if doc_type is DocType.TRUST else None
    try:
        space = build_space(sides, extra_actions=extra_actions, extra_resources=extra_resources,
                            only_actions=only)
    except Unprovable as exc:
        return _unprovable(doc_type.label, exc)
    if keep_space is not None:
        keep = keep_space(space)
    return compare(DocPair(b, a, space), space, keep=keep, max_requests=max_requests,
                   record=record)


def diff_states(before: AccountState, after: AccountState, *, compared: str = "state",
                extra_actions: Sequence[str] = (), extra_resources: Sequence[str] = (),
                keep_space: Callable[[Space], Callable[[Cell], bool]] | None = None,
                max_requests: int = MAX_REQUESTS) -> DiffResult:
    """New access in account state `after` over `before`."""
    sides = [(BEFORE, s, p) for _, p in state_statements(before) for s in p.statements] + \
            [(AFTER, s, p) for _, p in state_statements(after) for s in p.statements]
    named = Named()
    for _, st, _ in sides:
        named.add_statement(st)
    accounts = named.accounts | set(before.accounts) | set(after.accounts)
    globs, seeds = world_globs((before, after), accounts | set(other_accounts(accounts)[:1]))
    try:
        space = build_space(sides, extra_actions=extra_actions, extra_resources=extra_resources,
                            world=globs, seeds=seeds, placed=True)
    except Unprovable as exc:
        return _unprovable(compared, exc)
    pair = StatePair(StateSide(before), StateSide(after), space, compared)
    keep = keep_space(space) if keep_space is not None else None
    return compare(pair, space, keep=keep, max_requests=max_requests)


def emptied(state: AccountState) -> AccountState:
    """`state` with every document that can grant holding no statements; SCPs and RCPs,
    which only limit, stay, so what an account's root may do anyway is not "granted"."""
    out = state
    for addr, _ in list(state_statements(state)):
        if addr.kind not in (DocKind.SCP, DocKind.RCP):
            out = put(out, addr, {"Version": "2012-10-17", "Statement": []})
    return out


def check_not_granted(target: Policy | AccountState, actions: Sequence[str],
                      resources: Sequence[str] = (), *,
                      doc_type: DocType | None = None) -> DiffResult:
    """Is any of `actions` allowed (on `resources`, if given)? NEW_ACCESS means yes."""
    if not actions:
        raise CrossgrantError("check --not-granted needs at least one action")
    for a in actions:
        if ":" not in a and a != "*":
            raise CrossgrantError(f"{a!r} is not an action (service:Name)")
    wanted = frozenset(a.lower() for a in actions)

    def keep_space(space: Space) -> Callable[[Cell], bool]:
        def keep(cell: Cell) -> bool:
            return bool(cell.action.patterns & wanted) and (
                not resources or space.in_extra(cell))
        return keep

    if isinstance(target, AccountState):
        return diff_states(emptied(target), target, compared="state", extra_actions=actions,
                           extra_resources=resources, keep_space=keep_space)
    if doc_type is None:
        doc_type = _TYPES[target.policy_type]
    return diff_documents(None, target, doc_type, extra_actions=actions,
                          extra_resources=resources, keep_space=keep_space)

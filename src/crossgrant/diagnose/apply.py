"""Fixes made on a state: how a diagnosis proves its fixes, and how a user tries them.

Only the document or setting a fix names is rebuilt, and compiled by the engine, so a fix
that produced an invalid document fails here rather than in the accounts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace as dc_replace
from typing import Any, TypeVar

from crossgrant.diagnose.model import DocRef, Fix, FixKind
from crossgrant.diagnose.statements import VERSION, statements
from crossgrant.errors import CrossgrantError
from crossgrant.iam import Policy, PolicyType, parse_policy
from crossgrant.world import (
    Account,
    AccountState,
    Encryption,
    EncryptionType,
    FrozenMap,
    ManagedPolicy,
    ObjectOwnership,
    Organization,
    PolicyDoc,
    Role,
    UnknownPolicy,
    User,
)
from crossgrant.world.state import inline_policy_label, rcp_label, scp_label

__all__ = ["apply_fix", "apply_fixes"]


def apply_fixes(state: AccountState, fixes: Iterable[Fix]) -> AccountState:
    for fix in fixes:
        state = apply_fix(state, fix)
    return state


def apply_fix(state: AccountState, fix: Fix) -> AccountState:
    """`state` with `fix` made; request changes and advice leave it as it is.

    Only the document or setting the fix names is rebuilt (and compiled by the engine, so
    a fix that produced an invalid document fails here); everything else is shared with
    `state`, documents keep their key order, and labels stay those `world` gives.
    """
    if not fix.appliable:
        return state
    ref = fix.document
    assert ref is not None
    if ref.kind in ("scp", "rcp"):
        return _apply_org(state, ref, fix)
    assert ref.account is not None and ref.name is not None
    acct = state.accounts.get(ref.account)
    if acct is None:
        raise CrossgrantError(f"{ref.label}: account {ref.account} is not in the state")
    if fix.kind is FixKind.CHANGE_SETTING:
        acct = _apply_setting(acct, ref, fix)
    elif ref.kind == "inline":
        assert ref.owner is not None and ref.policy_name is not None
        ent: Role | User = acct.roles[ref.name] if ref.owner == "roles" \
            else acct.users[ref.name]
        docs = dict(ent.inline_policies)
        new = _edited(_known(docs.get(ref.policy_name)), fix)
        if new is None:
            docs.pop(ref.policy_name, None)
        else:
            docs[ref.policy_name] = parse_policy(
                new, name=inline_policy_label(ent.arn, ref.policy_name))
        if isinstance(ent, Role):
            role = dc_replace(ent, inline_policies=FrozenMap(docs))
            acct = dc_replace(acct, roles=_put(acct.roles, ref.name, role))
        else:
            user = dc_replace(ent, inline_policies=FrozenMap(docs))
            acct = dc_replace(acct, users=_put(acct.users, ref.name, user))
    elif ref.kind == "managed":
        mp = acct.managed_policies[ref.name]
        new = _edited(_known(mp.policy), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: a managed policy needs a statement")
        acct = dc_replace(acct, managed_policies=_put(
            acct.managed_policies, ref.name, ManagedPolicy.from_document(ref.name, new)))
    elif ref.kind == "trust":
        role = acct.roles[ref.name]
        new = _edited(_known(role.trust_policy), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: a trust policy needs a statement")
        role = dc_replace(role, trust_policy=parse_policy(
            new, name=ref.label, policy_type=PolicyType.RESOURCE))
        acct = dc_replace(acct, roles=_put(acct.roles, ref.name, role))
    elif ref.kind == "bucket":
        bucket = acct.buckets[ref.name]
        new = _edited(_known(bucket.policy), fix)
        bucket = dc_replace(bucket, policy=_resource_policy(new, ref.label))
        acct = dc_replace(acct, buckets=_put(acct.buckets, ref.name, bucket))
    elif ref.kind in ("table", "stream"):
        table = acct.tables[ref.name]
        if ref.kind == "table":
            new = _edited(_known(table.policy), fix)
            table = dc_replace(table, policy=_resource_policy(new, ref.label))
        else:
            new = _edited(_known(table.stream_policy), fix)
            table = dc_replace(table, stream_policy=_resource_policy(new, ref.label))
        acct = dc_replace(acct, tables=_put(acct.tables, ref.name, table))
    elif ref.kind == "key":
        key = acct.keys[ref.name]
        new = _edited(_known(key.policy), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: a key policy needs a statement")
        key = dc_replace(key, policy=parse_policy(new, name=ref.label,
                                                  policy_type=PolicyType.RESOURCE))
        acct = dc_replace(acct, keys=_put(acct.keys, ref.name, key))
    else:
        raise CrossgrantError(f"{ref.label}: not a document crossgrant can change")
    return AccountState(accounts=_put(state.accounts, ref.account, acct),
                        organization=state.organization)


_V = TypeVar("_V")


def _put(mapping: Mapping[str, _V], key: str, value: _V) -> FrozenMap[str, _V]:
    items = dict(mapping)
    items[key] = value
    return FrozenMap(items)


def _known(doc: PolicyDoc | None) -> dict[str, Any] | None:
    if isinstance(doc, UnknownPolicy):
        raise CrossgrantError(f"{doc.name} is unknown: a fix cannot be applied to it")
    return None if doc is None else copy.deepcopy(doc.document)


def _resource_policy(doc: dict[str, Any] | None, label: str) -> Policy | None:
    if doc is None:
        return None
    return parse_policy(doc, name=label, policy_type=PolicyType.RESOURCE)


def _edited(doc: dict[str, Any] | None, fix: Fix) -> dict[str, Any] | None:
    """The document with the fix's statement change made; None when nothing is left."""
    if fix.kind is FixKind.ADD_STATEMENT:
        assert fix.statement is not None
        out: dict[str, Any] = doc if doc is not None else {"Version": VERSION,
                                                           "Statement": []}
        out["Statement"] = [*statements(out), copy.deepcopy(fix.statement)]
        return out
    if doc is None or fix.index is None:
        raise CrossgrantError(f"{fix.summary}: the document or statement is gone")
    stmts = statements(doc)
    if fix.kind is FixKind.REPLACE_STATEMENT:
        assert fix.statement is not None
        stmts[fix.index] = copy.deepcopy(fix.statement)
    else:
        del stmts[fix.index]
    if not stmts:
        return None
    doc["Statement"] = stmts
    return doc


def _apply_setting(acct: Account, ref: DocRef, fix: Fix) -> Account:
    assert ref.name is not None
    if ref.kind == "bucket":
        bucket = acct.buckets[ref.name]
        if fix.setting == "object_ownership":
            bucket = dc_replace(bucket, object_ownership=ObjectOwnership(fix.value))
        elif fix.setting == "encryption":
            value = fix.value
            bucket = dc_replace(bucket, encryption=Encryption(
                EncryptionType(value["type"]), value.get("kms_key_arn"),
                bool(value.get("bucket_key_enabled"))))
        else:
            raise CrossgrantError(f"bucket setting {fix.setting!r} is not one crossgrant sets")
        return dc_replace(acct, buckets=_put(acct.buckets, ref.name, bucket))
    if ref.kind == "role" and fix.setting == "max_session_duration":
        role = dc_replace(acct.roles[ref.name], max_session_duration=int(fix.value))
        return dc_replace(acct, roles=_put(acct.roles, ref.name, role))
    raise CrossgrantError(f"{ref.label}: setting {fix.setting!r} is not one crossgrant sets")


def _apply_org(state: AccountState, ref: DocRef, fix: Fix) -> AccountState:
    org = state.organization
    if org is None or ref.name is None:
        raise CrossgrantError(f"{ref.label}: the state has no organization")
    is_scp = ref.kind == "scp"
    docs = dict(org.scps if is_scp else org.rcps)
    label = scp_label(ref.name) if is_scp else rcp_label(ref.name)
    ptype = PolicyType.SCP if is_scp else PolicyType.RCP
    if fix.kind is FixKind.ATTACH_POLICY:
        if ref.name not in docs:
            assert fix.statement is not None
            docs[ref.name] = parse_policy(fix.statement, name=label, policy_type=ptype)
        org = _attach(org, is_scp, fix.setting or "", ref.name)
    else:
        new = _edited(_known(docs.get(ref.name)), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: an organization policy needs a statement")
        docs[ref.name] = parse_policy(new, name=label, policy_type=ptype)
    org = dc_replace(org, scps=FrozenMap(docs)) if is_scp \
        else dc_replace(org, rcps=FrozenMap(docs))
    return AccountState(accounts=state.accounts, organization=org)


def _attach(org: Organization, is_scp: bool, level: str, name: str) -> Organization:
    """`org` with policy `name` attached at `level` (the root, an OU or an account)."""
    field = "scps" if is_scp else "rcps"
    if level == org.root_id:
        root: dict[str, Any] = {f"root_{field}": _append(getattr(org, f"root_{field}"), name)}
        return dc_replace(org, **root)
    attached: dict[str, Any]
    if level in org.ous:
        ou = org.ous[level]
        attached = {field: _append(getattr(ou, field), name)}
        return dc_replace(org, ous=_put(org.ous, level, dc_replace(ou, **attached)))
    placed = org.accounts[level]
    attached = {field: _append(getattr(placed, field), name)}
    return dc_replace(org, accounts=_put(org.accounts, level, dc_replace(placed, **attached)))


def _append(names: tuple[str, ...], name: str) -> tuple[str, ...]:
    return names if name in names else (*names, name)

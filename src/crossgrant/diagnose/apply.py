"""Fixes made on a state: how a diagnosis proves its fixes, and how a user tries them.

Only the document or setting a fix names is rebuilt, and compiled by the engine, so a fix
that produced an invalid document fails here rather than in the accounts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace as dc_replace
from typing import Any

from crossgrant.diagnose.model import DocRef, Fix, FixKind
from crossgrant.diagnose.statements import VERSION, statements
from crossgrant.errors import CrossgrantError
from crossgrant.world import (
    AccountState,
    DocKind,
    Encryption,
    EncryptionType,
    ObjectOwnership,
    UnknownPolicy,
    get,
    put,
    remove,
)

__all__ = ["apply_fix", "apply_fixes"]

# Documents a fix may not leave without a statement (removing one is not a fix).
_NEEDS_A_STATEMENT = {
    DocKind.MANAGED: "a managed policy", DocKind.BOUNDARY: "a managed policy",
    DocKind.TRUST: "a trust policy", DocKind.KEY: "a key policy",
    DocKind.SCP: "an organization policy", DocKind.RCP: "an organization policy",
}


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
    if fix.kind is FixKind.CHANGE_SETTING:
        return _apply_setting(state, ref, fix)
    addr = ref.address
    if addr is None:
        raise CrossgrantError(f"{ref.label}: not a document crossgrant can change")
    current = get(state, addr)
    if isinstance(current, UnknownPolicy):
        raise CrossgrantError(f"{current.name} is unknown: a fix cannot be applied to it")
    if fix.kind is FixKind.ATTACH_POLICY:
        if current is None:
            assert fix.statement is not None
            return put(state, addr, fix.statement)
        return put(state, addr, current.document)
    new = _edited(copy.deepcopy(current.document) if current is not None else None, fix)
    if new is not None:
        return put(state, addr, new)
    if addr.kind in _NEEDS_A_STATEMENT:
        raise CrossgrantError(f"{ref.label}: {_NEEDS_A_STATEMENT[addr.kind]} needs a statement")
    return remove(state, addr)


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


def _apply_setting(state: AccountState, ref: DocRef, fix: Fix) -> AccountState:
    acct = state.account(ref.account)
    if acct is None:
        raise CrossgrantError(f"{ref.label}: account {ref.account} is not in the state")
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
        return state.with_account(acct.with_bucket(bucket))
    if ref.kind == "role" and fix.setting == "max_session_duration":
        role = dc_replace(acct.roles[ref.name], max_session_duration=int(fix.value))
        return state.with_account(acct.with_role(role))
    raise CrossgrantError(f"{ref.label}: setting {fix.setting!r} is not one crossgrant sets")

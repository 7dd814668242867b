"""`AccountState` as canonical JSON: what snapshots write and `serialize.load_state` reads.

Canonical means sorted keys and every field written, so two dumps of equal states are
byte-identical and diffs between snapshots are meaningful (format: docs/state.md).
"""

from __future__ import annotations

import json
from typing import Any

from crossgrant.world import state as model

__all__ = ["FORMAT_VERSION", "dump_state"]

FORMAT_VERSION = 1


def _doc(policy: model.PolicyDoc | None) -> Any:
    if policy is None:
        return None
    if isinstance(policy, model.UnknownPolicy):
        return {"unknown": policy.reason}
    return policy.document


def _principal_json(p: model.Role | model.User) -> dict[str, Any]:
    return {
        "path": p.path,
        "arn": p.arn,
        "unique_id": p.unique_id,
        "inline_policies": {n: _doc(d) for n, d in p.inline_policies.items()},
        "managed_policies": list(p.managed_policy_arns),
        "permissions_boundary": p.permissions_boundary,
        "tags": dict(p.tags),
    }


def _account_json(a: model.Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "managed_policies": {arn: _doc(m.policy) for arn, m in a.managed_policies.items()},
        "roles": {n: {**_principal_json(r), "trust_policy": _doc(r.trust_policy),
                      "max_session_duration": r.max_session_duration}
                  for n, r in a.roles.items()},
        "users": {n: _principal_json(u) for n, u in a.users.items()},
        "buckets": {n: {
            "region": b.region,
            "policy": _doc(b.policy),
            "encryption": {"type": b.encryption.type.value,
                           "kms_key_arn": b.encryption.kms_key_arn,
                           "bucket_key_enabled": b.encryption.bucket_key_enabled},
            "object_ownership": b.object_ownership.value,
            "public_access_block": {
                "block_public_acls": b.public_access_block.block_public_acls,
                "ignore_public_acls": b.public_access_block.ignore_public_acls,
                "block_public_policy": b.public_access_block.block_public_policy,
                "restrict_public_buckets": b.public_access_block.restrict_public_buckets,
            },
        } for n, b in a.buckets.items()},
        "tables": {arn: {"policy": _doc(t.policy), "indexes": list(t.indexes),
                         "stream_arn": t.stream_arn, "stream_policy": _doc(t.stream_policy),
                         "tags": dict(t.tags)}
                   for arn, t in a.tables.items()},
        "keys": {arn: {"policy": _doc(k.policy), "aws_managed": k.aws_managed,
                       "aliases": list(k.aliases), "tags": dict(k.tags)}
                 for arn, k in a.keys.items()},
    }


def _org_json(o: model.Organization) -> dict[str, Any]:
    return {
        "id": o.id,
        "root": {"id": o.root_id, "scps": list(o.root_scps), "rcps": list(o.root_rcps)},
        "management_account": o.management_account,
        "ous": {i: {"name": u.name, "parent": u.parent, "scps": list(u.scps),
                    "rcps": list(u.rcps)} for i, u in o.ous.items()},
        "accounts": {i: {"parent": a.parent, "scps": list(a.scps), "rcps": list(a.rcps)}
                     for i, a in o.accounts.items()},
        "scps": {n: _doc(d) for n, d in o.scps.items()},
        "rcps": {n: _doc(d) for n, d in o.rcps.items()},
    }


def dump_state(state: model.AccountState) -> str:
    """The canonical JSON text of `state`: sorted keys, every field, a final newline."""
    out: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "accounts": {i: _account_json(a) for i, a in state.accounts.items()},
        "organization": _org_json(state.organization) if state.organization else None,
    }
    return json.dumps(out, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

"""Artifacts -> AccountState: the accounts as they would be after a deploy, in memory.

This is what `verify` proves things about, and it uses the same merge rules as the real
deploy: foreign statements in a bucket, table or key policy survive, ours replace ours.
A resource the state does not know yet is created the way the grant expects it (bucket
owner enforced, SSE-KMS with the declared key, a key with AWS's default key policy).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crossgrant.iam import Policy, PolicyType, parse_policy
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind, RoleArtifact
from crossgrant.render.merge import merge
from crossgrant.world import (
    Account,
    AccountState,
    Bucket,
    Encryption,
    EncryptionType,
    FrozenMap,
    Key,
    PolicyDoc,
    Role,
    Table,
    UnknownPolicy,
)
from crossgrant.world.state import (
    bucket_policy_label,
    inline_policy_label,
    key_policy_label,
    stream_policy_label,
    table_policy_label,
    trust_policy_label,
)

_STREAM_LABEL = "2024-01-01T00:00:00.000"  # a stand-in stream label for tables we create


def apply(artifacts: Artifacts, state: AccountState | None = None) -> AccountState:
    """The state after deploying `artifacts` over `state` (empty accounts if None)."""
    accounts = dict(state.accounts) if state is not None else {}
    for acct_id in (artifacts.grant.source.account, artifacts.grant.target.account):
        accounts.setdefault(acct_id, Account(id=acct_id))
    for role in artifacts.roles:
        acct = accounts[role.account]
        roles = dict(acct.roles)
        roles[role.name] = _role(role, acct.role(role.name))
        accounts[role.account] = replace(acct, roles=FrozenMap(roles))
    for ps in artifacts.resource_policies:
        accounts[ps.account] = _with_statements(artifacts, accounts[ps.account], ps)
    return AccountState(accounts=FrozenMap(accounts),
                        organization=state.organization if state is not None else None)


def _role(art: RoleArtifact, existing: Role | None) -> Role:
    inline: dict[str, PolicyDoc] = dict(existing.inline_policies) if existing else {}
    for name, doc in art.inline_policies:
        inline[name] = parse_policy(doc, name=inline_policy_label(art.arn, name))
    if art.trust_policy is not None:
        trust: PolicyDoc = parse_policy(art.trust_policy, name=trust_policy_label(art.arn),
                                        policy_type=PolicyType.RESOURCE)
    elif existing is not None:
        trust = existing.trust_policy
    else:
        trust = UnknownPolicy(trust_policy_label(art.arn), PolicyType.RESOURCE,
                              "an existing role that is not in the state")
    if existing is not None:
        return replace(existing, trust_policy=trust, inline_policies=FrozenMap(inline),
                       max_session_duration=max(existing.max_session_duration,
                                                art.max_session_duration))
    return Role(name=art.name, arn=art.arn, trust_policy=trust,
                inline_policies=FrozenMap(inline), tags=FrozenMap(art.tags),
                max_session_duration=art.max_session_duration)


def _merged(artifacts: Artifacts, existing: PolicyDoc | None, ps: PolicyStatements,
            label: str, base: dict[str, Any] | None = None) -> PolicyDoc:
    if isinstance(existing, UnknownPolicy):
        return existing  # cannot merge into what we cannot read: stays unknown
    current = existing.document if isinstance(existing, Policy) else base
    doc = merge(current, ps.statements, artifacts.owns, label)
    return parse_policy(doc, name=label, policy_type=PolicyType.RESOURCE)


def _with_statements(artifacts: Artifacts, acct: Account, ps: PolicyStatements) -> Account:
    grant = artifacts.grant
    region = grant.target.region
    if ps.kind is ResourceKind.BUCKET:
        bucket = acct.buckets.get(ps.resource)
        if bucket is None:
            kms = next((a.kms_key_arn for a in grant.s3 if a.bucket == ps.resource), None)
            enc = Encryption(EncryptionType.SSE_KMS, kms) if kms else Encryption()
            bucket = Bucket(name=ps.resource, region=region, encryption=enc)
        label = bucket_policy_label(ps.resource)
        bucket = replace(bucket, policy=_merged(artifacts, bucket.policy, ps, label))
        return replace(acct, buckets=FrozenMap({**acct.buckets, ps.resource: bucket}))
    if ps.kind is ResourceKind.KEY:
        key = acct.keys.get(ps.resource)
        label = key_policy_label(ps.resource)
        if key is None:
            key = Key(id=ps.resource.rsplit("/", 1)[-1], arn=ps.resource, region=region,
                      policy=_merged(artifacts, None, ps, label, _default_key_policy(acct.id)))
        else:
            key = replace(key, policy=_merged(artifacts, key.policy, ps, label))
        return replace(acct, keys=FrozenMap({**acct.keys, ps.resource: key}))
    table_arn = ps.resource.split("/stream/")[0]
    table = acct.tables.get(table_arn) or _new_table(artifacts, table_arn)
    if ps.kind is ResourceKind.TABLE:
        table = replace(table, policy=_merged(artifacts, table.policy, ps,
                                              table_policy_label(table_arn)))
    else:
        stream_arn = table.stream_arn or f"{table_arn}/stream/{_STREAM_LABEL}"
        table = replace(table, stream_arn=stream_arn,
                        stream_policy=_merged(artifacts, table.stream_policy, ps,
                                              stream_policy_label(stream_arn)))
    return replace(acct, tables=FrozenMap({**acct.tables, table_arn: table}))


def _new_table(artifacts: Artifacts, arn: str) -> Table:
    name = arn.split(":table/", 1)[1]
    access = next((a for a in artifacts.grant.dynamodb if a.table == name), None)
    indexes = tuple(i for i in access.indexes if i != "*") if access else ()
    return Table(name=name, region=artifacts.grant.target.region, arn=arn, indexes=indexes,
                 stream_arn=f"{arn}/stream/{_STREAM_LABEL}" if access and access.streams
                 else None)


def _default_key_policy(account: str) -> dict[str, Any]:
    """AWS's default key policy: IAM policies of the key's account decide."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
        "Resource": "*"}]}

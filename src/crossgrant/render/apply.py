"""Artifacts -> AccountState: the accounts as they would be after a deploy, in memory.

This is what `verify` proves things about, and it uses the same merge rules as the real
deploy: foreign statements in a bucket, table or key policy survive, ours replace ours.
A resource the state does not know yet is created the way the grant expects it (bucket
owner enforced, SSE-KMS with the declared key, a key with AWS's default key policy). An
organization grant's members are placed in its OUs (the organization, its root and the
OUs created if the state lacks them), so `aws:PrincipalOrgPaths` is really set for them.
"""

from __future__ import annotations

from dataclasses import replace

from crossgrant.iam import PolicyType, parse_policy
from crossgrant.iam.facts import default_key_policy
from crossgrant.render.actions import table_grants
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind, RoleArtifact
from crossgrant.spec.model import OrgSource
from crossgrant.world import (
    Account,
    AccountState,
    Bucket,
    DocAddress,
    DocKind,
    Encryption,
    EncryptionType,
    FrozenMap,
    Key,
    Role,
    Table,
    UnknownPolicy,
    merge_by_sid,
    put,
)
from crossgrant.world.state import (
    OrgAccount,
    Organization,
    OrgUnit,
    key_policy_label,
    trust_policy_label,
)

_STREAM_LABEL = "2024-01-01T00:00:00.000"  # a stand-in stream label for tables we create
_KINDS = {ResourceKind.BUCKET: DocKind.BUCKET, ResourceKind.TABLE: DocKind.TABLE,
          ResourceKind.STREAM: DocKind.STREAM, ResourceKind.KEY: DocKind.KEY}


def apply(artifacts: Artifacts, state: AccountState | None = None) -> AccountState:
    """The state after deploying `artifacts` over `state` (empty accounts if None)."""
    state = state if state is not None else AccountState()
    grant = artifacts.grant
    for acct_id in (*grant.source.accounts, grant.target.account):
        if state.account(acct_id) is None:
            state = state.with_account(Account(id=acct_id))
    if grant.source.organization is not None:
        state = state.with_organization(place_members(state.organization,
                                                      grant.source.organization))
    for role in artifacts.roles:
        state = _role(state, role)
    for ps in artifacts.resource_policies:
        state, owner = _resource(artifacts, state, ps)
        state = merge_by_sid(state, DocAddress(_KINDS[ps.kind], ps.account, owner),
                             ps.statements, artifacts.owns)
    return state


def _role(state: AccountState, art: RoleArtifact) -> AccountState:
    """`state` with the role `art` describes, created if new, its documents put."""
    acct = state.accounts[art.account]
    existing = acct.role(art.name)
    if existing is not None:
        role = replace(existing, max_session_duration=max(existing.max_session_duration,
                                                          art.max_session_duration))
    else:
        role = Role(name=art.name, arn=art.arn, trust_policy=UnknownPolicy(
            trust_policy_label(art.arn), PolicyType.RESOURCE,
            "an existing role that is not in the state"), tags=FrozenMap(art.tags),
            max_session_duration=art.max_session_duration)
    state = state.with_account(acct.with_role(role))
    if art.trust_policy is not None:
        state = put(state, DocAddress(DocKind.TRUST, art.account, role.arn), art.trust_policy)
    for name, doc in art.inline_policies:
        state = put(state, DocAddress(DocKind.INLINE, art.account, role.arn, name), doc)
    return state


def _resource(artifacts: Artifacts, state: AccountState, ps: PolicyStatements) \
        -> tuple[AccountState, str]:
    """`state` with the resource `ps` merges into (created as the grant expects if the
    state lacks it), and the owner of its policy's address."""
    grant = artifacts.grant
    region = grant.target.region
    acct = state.accounts[ps.account]
    if ps.kind is ResourceKind.BUCKET:
        if ps.resource in acct.buckets:
            return state, ps.resource
        kms = next((a.kms_key_arn for a in grant.s3 if a.bucket == ps.resource), None)
        enc = Encryption(EncryptionType.SSE_KMS, kms) if kms else Encryption()
        bucket = Bucket(name=ps.resource, region=region, encryption=enc)
        return state.with_account(acct.with_bucket(bucket)), ps.resource
    if ps.kind is ResourceKind.KEY:
        if ps.resource in acct.keys:
            return state, ps.resource
        key = Key(id=ps.resource.rsplit("/", 1)[-1], arn=ps.resource, region=region,
                  policy=parse_policy(default_key_policy(acct.id),
                                      name=key_policy_label(ps.resource),
                                      policy_type=PolicyType.RESOURCE))
        return state.with_account(acct.with_key(key)), ps.resource
    table_arn = ps.resource.split("/stream/")[0]
    table = acct.tables.get(table_arn)
    if table is None:
        table = _new_table(artifacts, table_arn)
        state = state.with_account(acct.with_table(table))
    if ps.kind is ResourceKind.TABLE:
        return state, table_arn
    return state, table.stream_arn or f"{table_arn}/stream/{_STREAM_LABEL}"


def _new_table(artifacts: Artifacts, arn: str) -> Table:
    """The table as the grant's entries for it expect: their indexes, and a stream when an
    entry reads it."""
    name = arn.split(":table/", 1)[1]
    entries = [a for a in artifacts.grant.dynamodb if a.table == name]
    indexes = tuple(dict.fromkeys(i for a in entries for i in a.indexes if i != "*"))
    stream = any(table_grants(a).stream for a in entries)
    return Table(name=name, region=artifacts.grant.target.region, arn=arn, indexes=indexes,
                 stream_arn=f"{arn}/stream/{_STREAM_LABEL}" if stream else None)



def place_members(current: Organization | None, org: OrgSource) -> Organization:
    """`current` (or a new organization `org.id`) with the grant's OUs and its members in
    them; what `current` already holds stays where it is. A state of another organization
    is left alone: its accounts are not the grant's."""
    if current is not None and current.id != org.id:
        return current
    tree = current or Organization(id=org.id, root_id=org.root)
    ous = dict(tree.ous)
    for unit in (*org.units, *(ou for _, ou in org.members)):
        if unit not in ous:
            parent = org.parent_of(unit)
            ous[unit] = OrgUnit(id=unit, name=unit, parent=parent if parent in ous
                                or parent == tree.root_id else tree.root_id)
    accounts = dict(tree.accounts)
    for account, unit in org.members:
        accounts.setdefault(account, OrgAccount(parent=unit))
    return replace(tree, ous=FrozenMap(ous), accounts=FrozenMap(accounts))

"""moto's backends -> AccountState, the one world model the engine reads.

moto keeps the accounts' IAM, S3, DynamoDB and KMS data; crossgrant reads it back into an
`AccountState` so the sandbox decides with exactly the code that verify and diagnose use.
Building it parses every policy, so it is cached and rebuilt only after a request that
changed IAM or a resource policy (`Operation.changes_state`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends

from crossgrant.errors import CrossgrantError
from crossgrant.iam import PolicyType, parse_policy
from crossgrant.iam.arn import PARTITION
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS
from crossgrant.world import (
    Account,
    AccountState,
    Bucket,
    Encryption,
    EncryptionType,
    FrozenMap,
    Key,
    ManagedPolicy,
    ObjectOwnership,
    Organization,
    PolicyDoc,
    PublicAccessBlock,
    Role,
    Table,
    UnknownPolicy,
    User,
    labels,
)


def _doc(text: str | bytes | None, name: str, kind: PolicyType) -> PolicyDoc | None:
    """Parse a stored document; one the engine cannot read is unknown, never absent."""
    if text is None:
        return None
    raw = text.decode("utf-8") if isinstance(text, bytes) else text
    if raw.startswith("%7B"):  # IAM hands documents back URL-encoded
        raw = unquote(raw)
    try:
        return parse_policy(raw, name=name, policy_type=kind)
    except CrossgrantError as exc:
        return UnknownPolicy(name, kind, f"the stored document cannot be evaluated: {exc}")


def _required(text: str | bytes | None, name: str, missing: str) -> PolicyDoc:
    """A resource policy every owner has (a role's trust policy, a key's policy): one
    moto does not hold is unknown, so nothing is allowed by a guess."""
    return _doc(text, name, PolicyType.RESOURCE) or UnknownPolicy(name, PolicyType.RESOURCE,
                                                                  missing)


def _inline(entity: Any) -> FrozenMap[str, PolicyDoc]:
    """A role's or user's inline policies, by name."""
    docs = {name: _doc(doc, labels.inline_policy_label(entity.arn, name), PolicyType.IDENTITY)
            for name, doc in (entity.policies or {}).items()}
    return FrozenMap({name: doc for name, doc in docs.items() if doc is not None})


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        out = {}
        for k, v in raw.items():
            if isinstance(v, dict):
                out[str(v.get("Key", k))] = str(v.get("Value", ""))
            else:
                out[str(k)] = str(v)
        return out
    if isinstance(raw, list):
        return {str(t.get("Key")): str(t.get("Value", "")) for t in raw if isinstance(t, dict)}
    return {}


def _managed(iam: Any, account: str) -> dict[str, ManagedPolicy]:
    out: dict[str, ManagedPolicy] = {}
    seen: dict[str, Any] = {}
    for holder in [*iam.roles.values(), *iam.users.values()]:
        seen.update(getattr(holder, "managed_policies", {}) or {})
    for arn, pol in (getattr(iam, "managed_policies", {}) or {}).items():
        if arn.startswith(f"arn:{PARTITION}:iam::{account}:"):
            seen[arn] = pol
    for arn, pol in seen.items():
        versions = getattr(pol, "versions", []) or []
        default = next((v for v in versions if getattr(v, "is_default", False)), None)
        document = getattr(default, "document", None) if default else getattr(pol, "document",
                                                                               None)
        if isinstance(document, str) and document.startswith("%7B"):
            document = unquote(document)
        try:
            out[arn] = ManagedPolicy.from_document(arn, document)
        except CrossgrantError as exc:
            out[arn] = ManagedPolicy.from_document(arn, None, unknown_reason=str(exc))
    return out


def _roles(iam: Any, account: str) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for r in iam.roles.values():
        roles[r.name] = Role(
            name=r.name, arn=r.arn, path=r.path or "/", unique_id=r.id,
            trust_policy=_required(r.assume_role_policy_document,
                                   labels.trust_policy_label(r.arn),
                                   "the role has no trust policy"),
            inline_policies=_inline(r),
            managed_policy_arns=tuple((r.managed_policies or {}).keys()),
            permissions_boundary=getattr(r, "permissions_boundary_arn", None),
            tags=FrozenMap(_tags(getattr(r, "tags", {}))),
            max_session_duration=int(getattr(r, "max_session_duration", None)
                                     or DEFAULT_MAX_SESSION_SECONDS))
    return roles


def _users(iam: Any) -> dict[str, User]:
    users: dict[str, User] = {}
    for u in iam.users.values():
        users[u.name] = User(
            name=u.name, arn=u.arn, path=u.path or "/", unique_id=u.id,
            inline_policies=_inline(u),
            managed_policy_arns=tuple((u.managed_policies or {}).keys()),
            tags=FrozenMap(_tags(getattr(u, "tags", {}))))
    return users


def _bucket(b: Any, policy_text: str | None) -> Bucket:
    """A bucket as S3 holds it. A bucket without ownership controls lets the object writer
    own objects and take ACLs; one without a Block Public Access configuration blocks
    nothing. (New buckets get both, as in AWS: the S3 service sets them at CreateBucket.)"""
    ownership = ObjectOwnership.OBJECT_WRITER
    rule = getattr(b, "ownership_rule", None)  # moto keeps the value itself, or a dict
    if isinstance(rule, dict):
        rule = rule.get("ObjectOwnership") or (rule.get("Rule") or {}).get("ObjectOwnership")
    if rule in {o.value for o in ObjectOwnership}:
        ownership = ObjectOwnership(rule)
    enc = Encryption()
    raw_enc = getattr(b, "encryption", None)
    if isinstance(raw_enc, dict):
        rule_enc = (raw_enc.get("Rule") or {})
        default = rule_enc.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
            enc = Encryption(EncryptionType.SSE_KMS, default.get("KMSMasterKeyID"),
                             str(rule_enc.get("BucketKeyEnabled", "")).lower() == "true")
    pab = PublicAccessBlock(False, False, False, False)
    raw_pab = getattr(b, "public_access_block", None)
    if raw_pab is not None:
        pab = PublicAccessBlock(
            *(str(getattr(raw_pab, f, "true")).lower() == "true"
              for f in ("block_public_acls", "ignore_public_acls", "block_public_policy",
                        "restrict_public_buckets")))
    return Bucket(name=b.name, region=getattr(b, "region_name", "us-east-1"),
                  policy=_doc(policy_text, labels.bucket_policy_label(b.name),
                              PolicyType.RESOURCE),
                  encryption=enc, object_ownership=ownership, public_access_block=pab)


def _tables(ddb: Any) -> dict[str, Table]:
    out: dict[str, Table] = {}
    policies = getattr(ddb, "resource_policies", {}) or {}
    for t in ddb.tables.values():
        arn = t.table_arn
        stream_arn = f"{arn}/stream/{t.latest_stream_label}" if getattr(
            t, "latest_stream_label", None) else None
        indexes = [i.name for i in [*getattr(t, "indexes", []), *getattr(t, "global_indexes", [])]]
        pol = policies.get(arn)
        spol = policies.get(stream_arn) if stream_arn else None
        out[arn] = Table(
            name=t.name, region=t.region_name, arn=arn, indexes=tuple(indexes),
            policy=_doc(pol.policy_doc if pol else None, labels.table_policy_label(arn),
                        PolicyType.RESOURCE),
            stream_arn=stream_arn,
            stream_policy=_doc(spol.policy_doc if spol else None,
                               labels.stream_policy_label(stream_arn or arn), PolicyType.RESOURCE))
    return out


def _keys(kms: Any) -> dict[str, Key]:
    out: dict[str, Key] = {}
    for k in kms.keys.values():
        arn = k.arn
        out[arn] = Key(id=k.id, arn=arn, region=k.region,
                       policy=_required(k.policy, labels.key_policy_label(arn),
                                        "the key has no policy"),
                       aws_managed=getattr(k, "key_manager", "CUSTOMER") == "AWS",
                       aliases=tuple(getattr(k, "aliases", {}) or ()))
    return out


def build_state(accounts: Iterable[str], regions: Iterable[str],
                bucket_policies: Mapping[str, str] | None = None,
                organization: Organization | None = None) -> AccountState:
    """Read IAM, S3, DynamoDB and KMS for `accounts` (and any other account moto holds).

    Bucket policies come from `bucket_policies` (the sandbox keeps them, not moto); the
    organization, with its SCPs and RCPs, is the one the sandbox serves."""
    policies = bucket_policies or {}
    wanted = list(dict.fromkeys([*accounts, *list(iam_backends.keys())]))
    region_list = list(regions)
    result: dict[str, Account] = {}
    for acct in wanted:
        if not acct.isdigit() or len(acct) != 12:
            continue
        iam = iam_backends[acct][PARTITION]
        buckets = {}
        s3 = s3_backends[acct][PARTITION] if acct in s3_backends else None
        if s3 is not None:
            buckets = {name: _bucket(b, policies.get(name))
                       for name, b in list(s3.buckets.items())}
        tables: dict[str, Table] = {}
        keys: dict[str, Key] = {}
        for region in region_list:
            if acct in dynamodb_backends:
                tables.update(_tables(dynamodb_backends[acct][region]))
            if acct in kms_backends:
                keys.update(_keys(kms_backends[acct][region]))
        result[acct] = Account(id=acct, roles=FrozenMap(_roles(iam, acct)),
                               users=FrozenMap(_users(iam)), buckets=FrozenMap(buckets),
                               tables=FrozenMap(tables), keys=FrozenMap(keys),
                               managed_policies=FrozenMap(_managed(iam, acct)))
    return AccountState(accounts=FrozenMap(result), organization=organization)


class _Writes:
    """How many writes moto's backends have seen through any sandbox of this process.

    moto's backends belong to the process, so a role made through one sandbox (tests run
    several) is there for every other: each cache compares this count with the one it
    was built at, and a write through any sandbox makes all of them read moto again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def bump(self) -> None:
        with self._lock:
            self.count += 1


_WRITES = _Writes()


class StateCache:
    """The current AccountState, rebuilt lazily after writes; thread-safe."""

    def __init__(self, accounts: Iterable[str], regions: Iterable[str],
                 bucket_policies: Callable[[], Mapping[str, str]] | None = None,
                 organization: Organization | None = None) -> None:
        self._bucket_policies = bucket_policies
        self._organization = organization
        self._accounts = tuple(accounts)
        self._regions = tuple(regions)
        self._lock = threading.Lock()
        self._state: AccountState | None = None
        self._built_at = -1

    def invalidate(self) -> None:
        _WRITES.bump()

    def get(self) -> AccountState:
        with self._lock:
            writes = _WRITES.count
            if self._state is None or self._built_at != writes:
                policies = self._bucket_policies() if self._bucket_policies else None
                self._state = build_state(self._accounts, self._regions, policies,
                                          self._organization)
                self._built_at = writes
            return self._state


def dump_policy(doc: PolicyDoc | None) -> str | None:
    """For tests and diagnostics: a stored document back as JSON text."""
    if doc is None or isinstance(doc, UnknownPolicy):
        return None
    return json.dumps(doc.document, sort_keys=True)

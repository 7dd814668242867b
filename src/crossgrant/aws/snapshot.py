"""`crossgrant snapshot`: live accounts -> the `AccountState` JSON (docs/state.md).

Everything access depends on is read, paginated: roles (trust, inline policies, attached
managed policies with their default versions, boundaries, tags), users, buckets (policy,
encryption, object ownership, public access block), DynamoDB tables (policy, indexes,
stream and stream policy), KMS keys (key policy, aliases, whether AWS manages them).

A snapshot is evidence, so what could not be read is never written as absent: a policy
document that AWS refused to show is `{"unknown": "why"}`, which makes `authorize` deny
whatever it could have decided and name it. Where even the list of a role's policies is
unreadable, the role gets an inline policy `crossgrant-unreadable` that is unknown, for
the same reason. Settings that are not documents (encryption, ownership, public access
block, tags, boundaries) cannot be unknown in the format; when they are unreadable the
snapshot keeps the format's default and lists a warning.

What AWS answers when a setting was never made is what AWS does: no ownership controls
is `ObjectWriter`, no public access block is all four switches off, and a bucket without
an encryption configuration is SSE-S3 (S3 encrypts every bucket by default since 2023).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from crossgrant.aws.clients import AccountSession, answer, error_code
from crossgrant.errors import CrossgrantError
from crossgrant.iam import PolicyType, parse_policy
from crossgrant.iam.arn import alias_arn, key_arn
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS, TABLE_NAME_RE
from crossgrant.world import AccountState, dump_state, labels, load_state
from crossgrant.world.serialize import KEY_ID_RE, ROLE_UNIQUE_ID_RE, USER_UNIQUE_ID_RE

UNREADABLE_POLICY = "crossgrant-unreadable"
Progress = Callable[[str, str, int, int], None]  # account, what, done, total



@dataclass(frozen=True, slots=True)
class SnapshotResult:
    state: AccountState
    text: str  # dump_state(state): what --out receives
    unknown: tuple[str, ...]  # each document recorded as unknown, with why
    warnings: tuple[str, ...]
    counts: Mapping[str, Mapping[str, int]]  # account -> roles/users/buckets/tables/keys

    def __json__(self) -> dict[str, Any]:
        """What was read, not the state itself (that is `text`, written to --out)."""
        return {"accounts": self.counts, "unknown": self.unknown, "warnings": self.warnings}


class _Unreadable(Exception):
    """A single read failed in a way that must not be taken for 'nothing there'."""


@dataclass
class _Reader:
    session: AccountSession
    account: str
    regions: Sequence[str]
    progress: Progress | None
    unknown: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # -- plumbing ------------------------------------------------------------------------

    def tick(self, what: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(self.account, what, done, total)

    def pages(self, client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
        if client.can_paginate(operation):
            for page in client.get_paginator(operation).paginate(**kwargs):
                yield from page.get(key, [])
        else:
            yield from getattr(client, operation)(**kwargs).get(key, [])

    def all_pages(self, client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
        return list(self.pages(client, operation, key, **kwargs))

    def listed(self, what: str, client: Any, operation: str, key: str,
               **kwargs: Any) -> list[Any] | None:
        """A whole list, or None (with a warning) when it cannot be read."""
        try:
            return list(self.pages(client, operation, key, **kwargs))
        except (ClientError, BotoCoreError) as exc:
            self.warnings.append(f"{self.account}: cannot list {what}: {answer(exc)}")
            return None

    def document(self, label: str, raw: Any, *types: PolicyType) -> Any:
        """A policy as the state format writes it: the JSON object, or unknown when the
        engine cannot evaluate it (a snapshot must still load)."""
        try:
            doc = _decoded(raw)
            for ptype in types:
                parse_policy(doc, name=label, policy_type=ptype)
        except (CrossgrantError, ValueError) as exc:
            return self.mark_unknown(label, f"the document cannot be evaluated: {exc}")
        return doc

    def tags(self, entry: dict[str, Any], what: str, client: Any, operation: str, *,
             fields: tuple[str, str] = ("Key", "Value"), **kwargs: Any) -> None:
        """`entry["tags"]` as read (`fields`: how the service names key and value); tags
        that cannot be read keep the format's default, with a warning."""
        ok, tags = self.fetch(self.all_pages, client=client, operation=operation, key="Tags",
                              **kwargs)
        if not ok:
            self.warnings.append(f"{what}: tags {tags}")
            return
        key, value = fields
        entry["tags"] = {t[key]: t[value] for t in tags}

    def mark_unknown(self, label: str, why: str) -> dict[str, str]:
        self.unknown.append(f"{label}: {why}")
        return {"unknown": why}

    def fetch(self, call: Callable[..., Any], *, absent: Iterable[str] = (),
              pick: Sequence[str] = (), **kwargs: Any) -> tuple[bool, Any]:
        """(True, value) when read (`pick`: the keys to descend into the response);
        (True, None) when AWS says there is none (`absent` codes); (False, reason) when it
        could not be read."""
        try:
            value = call(**kwargs)
            for key in pick:
                value = value[key]
            return True, value
        except ClientError as exc:
            if error_code(exc) in absent:
                return True, None
            return False, f"could not be read: {answer(exc)}"
        except BotoCoreError as exc:
            return False, f"could not be read: {exc}"

    # -- IAM -----------------------------------------------------------------------------

    def iam(self) -> dict[str, Any]:
        iam = self.session.client("iam")
        managed_arns: set[str] = set()
        roles: dict[str, Any] = {}
        listed = self.listed("IAM roles", iam, "list_roles", "Roles") or []
        for i, raw in enumerate(listed, 1):
            self.tick("IAM roles", i, len(listed))
            roles[raw["RoleName"]] = self.principal(iam, "role", raw, managed_arns)
        users: dict[str, Any] = {}
        listed = self.listed("IAM users", iam, "list_users", "Users") or []
        grouped: list[str] = []
        for i, raw in enumerate(listed, 1):
            self.tick("IAM users", i, len(listed))
            users[raw["UserName"]] = self.principal(iam, "user", raw, managed_arns)
            groups = self.listed(f"groups of user {raw['UserName']}", iam,
                                 "list_groups_for_user", "Groups", UserName=raw["UserName"])
            if groups:
                grouped.append(raw["UserName"])
        if grouped:
            self.warnings.append(f"{self.account}: users in IAM groups ({', '.join(grouped)}): "
                                 f"group policies are not part of the state model")
        managed: dict[str, Any] = {}
        for i, arn in enumerate(sorted(managed_arns), 1):
            self.tick("managed policies", i, len(managed_arns))
            managed[arn] = self.managed_policy(iam, arn)
        return {"roles": roles, "users": users, "managed_policies": managed}

    def principal(self, iam: Any, kind: str, raw: Mapping[str, Any],
                  managed_arns: set[str]) -> dict[str, Any]:
        name = raw["RoleName"] if kind == "role" else raw["UserName"]
        arn = raw["Arn"]
        param = {"RoleName": name} if kind == "role" else {"UserName": name}
        ok, detail = self.fetch(iam.get_role if kind == "role" else iam.get_user,
                                pick=(kind.capitalize(),), **param)
        if not ok:
            self.warnings.append(f"{arn}: tags and permissions boundary {detail}")
            detail = dict(raw)
        uid = str(raw.get("RoleId" if kind == "role" else "UserId") or "")
        uid_re = ROLE_UNIQUE_ID_RE if kind == "role" else USER_UNIQUE_ID_RE
        out: dict[str, Any] = {
            "path": raw.get("Path", "/"), "arn": arn,
            "unique_id": uid if uid_re.fullmatch(uid) else None,
            "tags": {t["Key"]: t["Value"] for t in detail.get("Tags", [])},
            "permissions_boundary": (detail.get("PermissionsBoundary") or {}).get(
                "PermissionsBoundaryArn"),
        }
        if out["permissions_boundary"]:
            managed_arns.add(out["permissions_boundary"])
        if kind == "role":
            out["max_session_duration"] = int(detail.get("MaxSessionDuration")
                                               or raw.get("MaxSessionDuration")
                                               or DEFAULT_MAX_SESSION_SECONDS)
            trust = detail.get("AssumeRolePolicyDocument") or raw.get("AssumeRolePolicyDocument")
            label = labels.trust_policy_label(arn)
            out["trust_policy"] = self.document(label, trust, PolicyType.RESOURCE) \
                if trust is not None else self.mark_unknown(label, "not returned by IAM")
        inline: dict[str, Any] = {}
        list_op, get_op = (("list_role_policies", "get_role_policy") if kind == "role"
                           else ("list_user_policies", "get_user_policy"))
        try:
            names = list(self.pages(iam, list_op, "PolicyNames", **param))
        except (ClientError, BotoCoreError) as exc:
            names = []
            inline[UNREADABLE_POLICY] = self.mark_unknown(
                labels.inline_policy_label(arn, UNREADABLE_POLICY),
                f"the inline policies could not be listed: {answer(exc)}")
        for policy_name in names:
            label = labels.inline_policy_label(arn, policy_name)
            ok, got = self.fetch(getattr(iam, get_op), pick=("PolicyDocument",), **param,
                                 PolicyName=policy_name)
            inline[policy_name] = self.document(label, got, PolicyType.IDENTITY) if ok \
                else self.mark_unknown(label, got)
        attached_op = "list_attached_role_policies" if kind == "role" \
            else "list_attached_user_policies"
        try:
            attached = [p["PolicyArn"] for p in self.pages(iam, attached_op, "AttachedPolicies",
                                                           **param)]
        except (ClientError, BotoCoreError) as exc:
            attached = []
            inline.setdefault(UNREADABLE_POLICY, self.mark_unknown(
                labels.inline_policy_label(arn, UNREADABLE_POLICY),
                f"the attached managed policies could not be listed: {answer(exc)}"))
        managed_arns.update(attached)
        out["inline_policies"] = inline
        out["managed_policies"] = attached
        return out

    def managed_policy(self, iam: Any, arn: str) -> Any:
        ok, policy = self.fetch(iam.get_policy, pick=("Policy",), PolicyArn=arn)
        if not ok:
            return self.mark_unknown(arn, policy)
        version = policy.get("DefaultVersionId")
        ok, doc = self.fetch(iam.get_policy_version, pick=("PolicyVersion", "Document"),
                             PolicyArn=arn, VersionId=version)
        if not ok:
            return self.mark_unknown(arn, doc)
        return self.document(arn, doc, PolicyType.IDENTITY, PolicyType.BOUNDARY)

    # -- S3 ------------------------------------------------------------------------------

    def buckets(self) -> dict[str, Any]:
        s3 = self.session.client("s3")
        listed = self.listed("S3 buckets", s3, "list_buckets", "Buckets") or []
        out: dict[str, Any] = {}
        for i, raw in enumerate(listed, 1):
            self.tick("S3 buckets", i, len(listed))
            name = raw["Name"]
            found = self.bucket(name)
            if found is not None:
                out[name] = found
        return out

    def bucket(self, name: str) -> dict[str, Any] | None:
        ok, loc = self.fetch(self.session.client("s3").get_bucket_location, Bucket=name)
        if not ok:
            region = self.session.region
            self.warnings.append(f"bucket {name}: location {loc}; assumed {region}")
        else:
            region = (loc or {}).get("LocationConstraint") or "us-east-1"
            region = "eu-west-1" if region == "EU" else region
        s3 = self.session.client("s3", region)
        label = labels.bucket_policy_label(name)
        ok, text = self.fetch(s3.get_bucket_policy, pick=("Policy",), Bucket=name,
                              absent=("NoSuchBucketPolicy",))
        if not ok:
            policy: Any = self.mark_unknown(label, text)
        else:
            policy = None if text is None else self.document(label, text, PolicyType.RESOURCE)
        out: dict[str, Any] = {"region": region, "policy": policy}
        ok, enc = self.fetch(s3.get_bucket_encryption,
                             pick=("ServerSideEncryptionConfiguration",), Bucket=name,
                             absent=("ServerSideEncryptionConfigurationNotFoundError",))
        if not ok:
            self.warnings.append(f"bucket {name}: encryption {enc}; written as SSE-S3")
        else:
            out["encryption"] = self.encryption(enc, region)
        ok, own = self.fetch(s3.get_bucket_ownership_controls, pick=("OwnershipControls",),
                             Bucket=name, absent=("OwnershipControlsNotFoundError",))
        if not ok:
            self.warnings.append(f"bucket {name}: object ownership {own}; written as "
                                 f"BucketOwnerEnforced")
        else:
            rules = (own or {}).get("Rules") or []
            out["object_ownership"] = rules[0]["ObjectOwnership"] if rules else "ObjectWriter"
        ok, pab = self.fetch(s3.get_public_access_block,
                             pick=("PublicAccessBlockConfiguration",), Bucket=name,
                             absent=("NoSuchPublicAccessBlockConfiguration",))
        if not ok:
            self.warnings.append(f"bucket {name}: public access block {pab}; written as "
                                 f"all on")
        else:
            pab = pab or {}
            out["public_access_block"] = {
                "block_public_acls": bool(pab.get("BlockPublicAcls", False)),
                "ignore_public_acls": bool(pab.get("IgnorePublicAcls", False)),
                "block_public_policy": bool(pab.get("BlockPublicPolicy", False)),
                "restrict_public_buckets": bool(pab.get("RestrictPublicBuckets", False))}
        return out

    def encryption(self, config: Mapping[str, Any] | None, region: str) -> dict[str, Any]:
        rules = (config or {}).get("Rules") or []
        if not rules:
            return {"type": "SSE-S3"}
        rule = rules[0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
            key = default.get("KMSMasterKeyID")
            if key and not key.startswith("arn:"):
                key = alias_arn(region, self.account, key) if key.startswith("alias/") \
                    else key_arn(region, self.account, key)
            return {"type": "SSE-KMS", "kms_key_arn": key or None,
                    "bucket_key_enabled": bool(rule.get("BucketKeyEnabled", False))}
        return {"type": "SSE-S3"}

    # -- DynamoDB ------------------------------------------------------------------------

    def tables(self, region: str) -> dict[str, Any]:
        ddb = self.session.client("dynamodb", region)
        names = self.listed(f"DynamoDB tables in {region}", ddb, "list_tables",
                            "TableNames") or []
        out: dict[str, Any] = {}
        for i, name in enumerate(names, 1):
            self.tick(f"tables {region}", i, len(names))
            if not TABLE_NAME_RE.fullmatch(name):
                self.warnings.append(f"table {name}: name not valid in the state format; "
                                     f"skipped")
                continue
            ok, table = self.fetch(ddb.describe_table, pick=("Table",), TableName=name,
                                   absent=("ResourceNotFoundException",))
            if not ok:
                self.warnings.append(f"table {name} in {region}: {table}; skipped")
                continue
            if table is None:
                continue  # deleted since it was listed
            arn = table["TableArn"]
            indexes = [ix["IndexName"] for ix in [*table.get("GlobalSecondaryIndexes", []),
                                                   *table.get("LocalSecondaryIndexes", [])]]
            stream = table.get("LatestStreamArn") if (table.get("StreamSpecification") or {}
                                                      ).get("StreamEnabled") else None
            entry: dict[str, Any] = {"indexes": indexes, "stream_arn": stream,
                                     "policy": self.resource_policy(
                                         ddb, arn, labels.table_policy_label(arn)),
                                     "stream_policy": None}
            if stream:
                entry["stream_policy"] = self.resource_policy(ddb, stream,
                                                              labels.stream_policy_label(stream))
            self.tags(entry, f"table {arn}", ddb, "list_tags_of_resource", ResourceArn=arn)
            out[arn] = entry
        return out

    def resource_policy(self, ddb: Any, arn: str, label: str) -> Any:
        ok, got = self.fetch(ddb.get_resource_policy, pick=("Policy",), ResourceArn=arn,
                             absent=("PolicyNotFoundException",))
        if not ok:
            return self.mark_unknown(label, got)
        return None if got is None else self.document(label, got, PolicyType.RESOURCE)

    # -- KMS -----------------------------------------------------------------------------

    def keys(self, region: str) -> dict[str, Any]:
        kms = self.session.client("kms", region)
        listed = self.listed(f"KMS keys in {region}", kms, "list_keys", "Keys") or []
        aliases: dict[str, list[str]] = {}
        for alias in self.listed(f"KMS aliases in {region}", kms, "list_aliases",
                                 "Aliases") or []:
            if alias.get("TargetKeyId"):
                aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
        out: dict[str, Any] = {}
        for i, raw in enumerate(listed, 1):
            self.tick(f"keys {region}", i, len(listed))
            key_id, arn = raw["KeyId"], raw["KeyArn"]
            if not KEY_ID_RE.fullmatch(key_id):
                self.warnings.append(f"key {arn}: id not valid in the state format; skipped")
                continue
            ok, meta = self.fetch(kms.describe_key, pick=("KeyMetadata",), KeyId=key_id)
            if not ok:
                self.warnings.append(f"key {arn}: {meta}; written as customer managed")
                meta = {}
            managed = meta.get("KeyManager") == "AWS"
            label = labels.key_policy_label(arn)
            ok, text = self.fetch(kms.get_key_policy, pick=("Policy",), KeyId=key_id,
                                  PolicyName="default")
            entry: dict[str, Any] = {
                "policy": self.document(label, text, PolicyType.RESOURCE) if ok
                else self.mark_unknown(label, text),
                "aws_managed": managed,
                "aliases": sorted(a for a in aliases.get(key_id, [])
                                  if a.startswith("alias/aws/") == managed)}
            if not managed:
                self.tags(entry, f"key {arn}", kms, "list_resource_tags",
                          fields=("TagKey", "TagValue"), KeyId=key_id)
            out[arn] = entry
        return out

    def read(self) -> dict[str, Any]:
        account: dict[str, Any] = {"id": self.account, **self.iam(),
                                   "buckets": self.buckets(), "tables": {}, "keys": {}}
        for region in self.regions:
            account["tables"].update(self.tables(region))
            account["keys"].update(self.keys(region))
        return account


def _decoded(raw: Any) -> Any:
    if isinstance(raw, str):
        text = unquote(raw) if raw.startswith("%7B") else raw
        return json.loads(text)
    return raw


def snapshot(sessions: Sequence[AccountSession], *, regions: Sequence[str] | None = None,
             progress: Progress | None = None) -> SnapshotResult:
    """Read every account the sessions belong to; `regions` (default: each session's own)
    is where DynamoDB tables and KMS keys are listed."""
    accounts: dict[str, Any] = {}
    unknown: list[str] = []
    warnings: list[str] = []
    labels: dict[str, str] = {}
    for session in sessions:
        account = session.identity().account
        if account in accounts:
            raise CrossgrantError(f"{session.label} and {labels[account]} both belong to "
                                  f"account {account}")
        labels[account] = session.label
        reader = _Reader(session, account, list(regions or [session.region]), progress)
        accounts[account] = reader.read()
        unknown.extend(reader.unknown)
        warnings.extend(reader.warnings)
    state = load_state({"version": 1, "accounts": accounts}, source="snapshot")
    counts = {a: {"roles": len(acct.roles), "users": len(acct.users),
                  "buckets": len(acct.buckets), "tables": len(acct.tables),
                  "keys": len(acct.keys)} for a, acct in state.accounts.items()}
    return SnapshotResult(state, dump_state(state), tuple(unknown), tuple(warnings), counts)


__all__ = ["UNREADABLE_POLICY", "SnapshotResult", "snapshot"]

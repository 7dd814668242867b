"""`AccountState` as JSON: the format snapshots write, the sandbox reads, and people edit.

Loading is strict because a state is evidence: a typo'd field that silently fell back to a
default would make every later Allow or Deny a claim about a world that does not exist.
Every error names the file and the JSON path (`state.json: accounts.222222222222.buckets.
b-images.policy: ...`). Dumping (`world.dumping`, re-exported here) is canonical. The
format is documented in docs/state.md.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

from crossgrant.errors import CrossgrantError, StateError
from crossgrant.iam import PolicyType, parse_policy
from crossgrant.iam.arn import ACCOUNT_ID_RE, PARTITION_RE, role_arn, user_arn
from crossgrant.iam.facts import (
    BUCKET_NAME_RE,
    DEFAULT_MAX_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    REGION_RE,
    ROLE_NAME_RE,
    TABLE_NAME_RE,
)
from crossgrant.iam.jsontext import loads, shown
from crossgrant.world import state as model
from crossgrant.world.address import DocAddress, DocKind
from crossgrant.world.dumping import FORMAT_VERSION, dump_state

__all__ = ["FORMAT_VERSION", "KEY_ID_RE", "ROLE_UNIQUE_ID_RE", "USER_UNIQUE_ID_RE",
           "check_bucket_name", "dump_state", "load_state"]


# Forms of AWS identifiers a state holds (the shared ones are `iam.facts`): unique ids
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
# and KMS key ids (single- and multi-Region)
# https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-id
ROLE_UNIQUE_ID_RE = re.compile(r"AROA[A-Z0-9]{8,}")
USER_UNIQUE_ID_RE = re.compile(r"AIDA[A-Z0-9]{8,}")
_KEY_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
KEY_ID_RE = re.compile(_KEY_ID)

_P, _REGION, _ACCOUNT = PARTITION_RE.pattern, REGION_RE.pattern, ACCOUNT_ID_RE.pattern
_TABLE_NAME = TABLE_NAME_RE.pattern
_IAM_PATH = r"/(?:[\x21-\x2e\x30-\x7e]+/)*"
_POLICY_NAME_RE = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
_IAM_PATH_RE = re.compile(_IAM_PATH)
_IAM_ARN_RE = re.compile(rf"arn:({_P}):iam::.*", re.DOTALL)
_POLICY_ARN_RE = re.compile(rf"arn:{_P}:iam::({_ACCOUNT}|aws):policy{_IAM_PATH}[\w+=,.@-]{{1,128}}",
                            re.ASCII)
_TABLE_ARN_RE = re.compile(rf"arn:{_P}:dynamodb:({_REGION}):({_ACCOUNT}):table/({_TABLE_NAME})")
_INDEX_NAME_RE = TABLE_NAME_RE  # index names follow the table name rule
_KEY_ARN_RE = re.compile(rf"arn:{_P}:kms:({_REGION}):({_ACCOUNT}):key/({_KEY_ID})")
_ALIAS_RE = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
_KMS_REF_RE = re.compile(rf"arn:{_P}:kms:{_REGION}:{_ACCOUNT}:(?:key/(?:{_KEY_ID})|alias/"
                         r"[A-Za-z0-9/_-]{1,250})")
_ORG_ID_RE = re.compile(r"o-[a-z0-9]{10,32}")
_ROOT_ID_RE = re.compile(r"r-[0-9a-z]{4,32}")
_OU_ID_RE = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")

# Per kind of principal: how its ARN is built, and its unique id's form.
_PRINCIPALS: Mapping[str, tuple[Callable[..., str], re.Pattern[str], str]] = {
    "role": (role_arn, ROLE_UNIQUE_ID_RE, "a role unique id (AROA…)"),
    "user": (user_arn, USER_UNIQUE_ID_RE, "a user unique id (AIDA…)"),
}
_PRINCIPAL_FIELDS = frozenset({"path", "arn", "unique_id", "inline_policies",
                               "managed_policies", "permissions_boundary", "tags"})

_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> str | None:
    """Why `name` is not a valid general purpose S3 bucket name, or None if it is."""
    if not 3 <= len(name) <= 63:
        return f"bucket names are 3 to 63 characters long, {name!r} has {len(name)}"
    if not BUCKET_NAME_RE.fullmatch(name):
        return (f"bucket name {name!r} may only hold lower-case letters, digits, '.' and "
                f"'-', and must begin and end with a letter or digit")
    if ".." in name:
        return f"bucket name {name!r} has two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return f"bucket name {name!r} is formatted as an IP address"
    for prefix in _BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"bucket name {name!r} starts with the reserved prefix {prefix!r}"
    for suffix in _BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"bucket name {name!r} ends with the reserved suffix {suffix!r}"
    return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY_RE.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


class _Loader:
    """Reads one state document, failing with the source and the JSON path."""

    def __init__(self, source: str, *, decoded: bool = False) -> None:
        self.source = source
        # The document was decoded here from JSON text: its policies are handed to the
        # Policy objects as they are, with no copy.
        self.decoded = decoded

    def fail(self, path: str, message: str) -> NoReturn:
        where = f"{self.source}: {path}" if path else self.source
        raise StateError(f"{where}: {message}")

    # --- shapes -------------------------------------------------------------------------

    def obj(self, value: object, path: str, *, required: frozenset[str] = frozenset(),
            optional: frozenset[str] = frozenset()) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be an object, got {_kind(value)}")
        allowed = required | optional
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {key!r}")
            if key not in allowed:
                self.fail(_join(path, key), f"unknown field (expected one of "
                                            f"{', '.join(sorted(allowed))})")
        for key in sorted(required):
            if key not in value:
                self.fail(path, f"missing required field {key!r}")
        return value

    def mapping(self, value: object, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"must be an object, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {key!r}")
        return value

    def entries(self, parent: Mapping[str, Any], path: str, field_name: str
                ) -> list[tuple[str, Any, str]]:
        """(key, value, JSON path) of each entry of the object `parent[field_name]` (absent:
        none), in key order."""
        where = _join(path, field_name)
        raw = self.mapping(parent.get(field_name), where)
        return [(key, raw[key], _join(where, key)) for key in sorted(raw)]

    def string(self, value: object, path: str, pattern: re.Pattern[str] | None = None,
               what: str = "") -> str:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_kind(value)}")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"{value!r} is not {what}")
        return value

    def opt_string(self, value: object, path: str, pattern: re.Pattern[str] | None = None,
                   what: str = "") -> str | None:
        return None if value is None else self.string(value, path, pattern, what)

    def boolean(self, value: object, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_kind(value)}")
        return value

    def strings(self, value: object, path: str, pattern: re.Pattern[str] | None = None,
                what: str = "") -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(path, f"must be a list of strings, got {_kind(value)}")
        out: list[str] = []
        for i, item in enumerate(value):
            s = self.string(item, _join(path, i), pattern, what)
            if s in out:
                self.fail(_join(path, i), f"{s!r} is listed twice")
            out.append(s)
        return tuple(out)

    def tags(self, value: object, path: str) -> model.FrozenMap[str, str]:
        raw = self.mapping(value, path)
        out: dict[str, str] = {}
        for key in sorted(raw):
            where = _join(path, key)
            if not 1 <= len(key) <= 128:
                self.fail(where, "tag keys are 1 to 128 characters")
            v = self.string(raw[key], where)
            if len(v) > 256:
                self.fail(where, "tag values are at most 256 characters")
            out[key] = v
        return model.FrozenMap(out)

    def policy(self, value: object, path: str, addr: DocAddress,
               ptype: PolicyType | None = None) -> model.PolicyDoc:
        """The document at `addr`, compiled as its kind is (or as `ptype`)."""
        name, ptype = addr.label, ptype or addr.kind.policy_type
        if isinstance(value, Mapping) and "unknown" in value:
            self.obj(value, path, required=frozenset({"unknown"}))
            reason = self.string(value["unknown"], _join(path, "unknown"))
            if not reason:
                self.fail(_join(path, "unknown"), "say why the document is unknown")
            return model.UnknownPolicy(name, ptype, reason)
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a policy document object or {{\"unknown\": reason}}, "
                            f"got {_kind(value)}")
        try:
            return parse_policy(value, name=name, policy_type=ptype, handed_over=self.decoded)
        except CrossgrantError as exc:
            self.fail(path, str(exc))

    def opt_policy(self, value: object, path: str, addr: DocAddress) -> model.PolicyDoc | None:
        return None if value is None else self.policy(value, path, addr)

    # --- the document -------------------------------------------------------------------

    def state(self, data: object) -> model.AccountState:
        top = self.obj(data, "", optional=frozenset({"version", "accounts", "organization"}))
        version = top.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or version != FORMAT_VERSION:
            self.fail("version", f"unsupported format version {shown(version)} "
                                 f"(this crossgrant reads version {FORMAT_VERSION})")
        raw_accounts = self.mapping(top.get("accounts"), "accounts")
        accounts: dict[str, model.Account] = {}
        owners: dict[str, str] = {}
        for acct_id in sorted(raw_accounts):
            path = _join("accounts", acct_id)
            if not ACCOUNT_ID_RE.fullmatch(acct_id):
                self.fail(path, f"{acct_id!r} is not a 12-digit AWS account id")
            acct = self.account(raw_accounts[acct_id], path, acct_id)
            for name in acct.buckets:
                if name in owners:
                    self.fail(_join(_join(path, "buckets"), name),
                              f"bucket name already used in account {owners[name]}; S3 bucket "
                              f"names are global")
                owners[name] = acct_id
            accounts[acct_id] = acct
        org = None
        if top.get("organization") is not None:
            org = self.organization(top["organization"], "organization")
        return model.AccountState(accounts=model.FrozenMap(accounts), organization=org)

    def account(self, value: object, path: str, acct_id: str) -> model.Account:
        raw = self.obj(value, path, optional=frozenset(
            {"id", "roles", "users", "buckets", "tables", "keys", "managed_policies"}))
        if "id" in raw and raw["id"] != acct_id:
            self.fail(_join(path, "id"), f"{shown(raw['id'])} does not match its key {acct_id}")

        managed: dict[str, model.ManagedPolicy] = {}
        for arn, doc, where in self.entries(raw, path, "managed_policies"):
            m = _POLICY_ARN_RE.fullmatch(arn)
            if m is None:
                self.fail(where, f"{arn!r} is not a managed policy ARN "
                                 f"(arn:aws:iam::ACCOUNT:policy/PATH/NAME)")
            if m.group(1) not in (acct_id, "aws"):
                self.fail(where, f"a customer managed policy of account {m.group(1)} cannot be "
                                 f"listed under account {acct_id}")
            addr = DocAddress(DocKind.MANAGED, acct_id, acct_id, arn)
            managed[arn] = model.ManagedPolicy(arn, self.policy(doc, where, addr),
                                         self.policy(doc, where, addr, PolicyType.BOUNDARY))

        roles: dict[str, model.Role] = {}
        for name, node, where in self.entries(raw, path, "roles"):
            self.string(name, where, ROLE_NAME_RE, "a role name (1-64 of A-Z a-z 0-9 +=,.@_-)")
            roles[name] = self.role(node, where, acct_id, name, managed)
        self._unique_ci(roles, _join(path, "roles"), "role")

        users: dict[str, model.User] = {}
        for name, node, where in self.entries(raw, path, "users"):
            self.string(name, where, ROLE_NAME_RE, "a user name (1-64 of A-Z a-z 0-9 +=,.@_-)")
            users[name] = self.user(node, where, acct_id, name, managed)
        self._unique_ci(users, _join(path, "users"), "user")

        buckets: dict[str, model.Bucket] = {}
        for name, node, where in self.entries(raw, path, "buckets"):
            problem = check_bucket_name(name)
            if problem:
                self.fail(where, problem)
            buckets[name] = self.bucket(node, where, acct_id, name)

        tables: dict[str, model.Table] = {}
        for arn, node, where in self.entries(raw, path, "tables"):
            region, name = self._arn_of(arn, where, acct_id, _TABLE_ARN_RE, "table",
                                        "a DynamoDB table ARN (arn:aws:dynamodb:REGION:"
                                        "ACCOUNT:table/NAME)")
            tables[arn] = self.table(node, where, acct_id, arn, region, name)

        keys: dict[str, model.Key] = {}
        aliases: dict[tuple[str, str], str] = {}
        for arn, node, where in self.entries(raw, path, "keys"):
            region, key_id = self._arn_of(arn, where, acct_id, _KEY_ARN_RE, "key",
                                          "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/"
                                          "KEY-ID)")
            key = self.key(node, where, acct_id, arn, region, key_id)
            for i, alias in enumerate(key.aliases):
                other = aliases.get((key.region, alias))
                if other is not None:
                    self.fail(_join(_join(where, "aliases"), i),
                              f"{alias} already names {other} in {key.region}")
                aliases[(key.region, alias)] = arn
            keys[arn] = key

        return model.Account(id=acct_id, roles=model.FrozenMap(roles), users=model.FrozenMap(users),
                       buckets=model.FrozenMap(buckets), tables=model.FrozenMap(tables),
                       keys=model.FrozenMap(keys), managed_policies=model.FrozenMap(managed))

    def _arn_of(self, arn: str, where: str, acct_id: str, pattern: re.Pattern[str],
                what: str, expected: str) -> tuple[str, str]:
        """(region, name) of a regional ARN `pattern` (groups: region, account, name) that
        must name `acct_id`, where the state lists the resource."""
        m = pattern.fullmatch(arn)
        if m is None:
            self.fail(where, f"{arn!r} is not {expected}")
        if m.group(2) != acct_id:
            self.fail(where, f"{what} ARN names account {m.group(2)}, not {acct_id}")
        return m.group(1), m.group(3)

    def _unique_ci(self, named: Mapping[str, object], path: str, what: str) -> None:
        seen: dict[str, str] = {}
        for name in named:
            other = seen.get(name.lower())
            if other is not None:
                self.fail(_join(path, name), f"{what} names are unique regardless of case in "
                                             f"IAM; {other!r} already exists")
            seen[name.lower()] = name

    def _principal(self, raw: Mapping[str, Any], path: str, acct_id: str, name: str,
                   kind: str, managed: Mapping[str, model.ManagedPolicy]) -> dict[str, Any]:
        """The fields roles and users share, checked, as keyword arguments for either."""
        iam_path = self.string(raw.get("path", "/"), _join(path, "path"), _IAM_PATH_RE,
                               "an IAM path (\"/\" or \"/segment/.../\")")
        if len(iam_path) > 512:
            self.fail(_join(path, "path"), "IAM paths are at most 512 characters")
        build, uid_re, uid_what = _PRINCIPALS[kind]
        arn = build(acct_id, name, iam_path)
        given = raw.get("arn")
        if given is not None:
            given = self.string(given, _join(path, "arn"))
            m = _IAM_ARN_RE.fullmatch(given)
            expected = build(acct_id, name, iam_path, m.group(1) if m else "aws")
            if given != expected:
                self.fail(_join(path, "arn"), f"{given!r} does not match the account, path and "
                                              f"name: expected {expected!r}")
            arn = given
        attached = self.strings(raw.get("managed_policies"), _join(path, "managed_policies"))
        for i, policy_arn in enumerate(attached):
            if policy_arn not in managed:
                self.fail(_join(_join(path, "managed_policies"), i),
                          f"{policy_arn} is not in accounts.{acct_id}.managed_policies")
        boundary = self.opt_string(raw.get("permissions_boundary"),
                                   _join(path, "permissions_boundary"))
        if boundary is not None and boundary not in managed:
            self.fail(_join(path, "permissions_boundary"),
                      f"{boundary} is not in accounts.{acct_id}.managed_policies")
        unique_id = self.opt_string(raw.get("unique_id"), _join(path, "unique_id"), uid_re,
                                    uid_what)
        return {"name": name, "path": iam_path, "arn": arn, "unique_id": unique_id,
                "inline_policies": self._inline(raw.get("inline_policies"),
                                                _join(path, "inline_policies"), acct_id, arn),
                "managed_policy_arns": attached, "permissions_boundary": boundary,
                "tags": self.tags(raw.get("tags"), _join(path, "tags"))}

    def _inline(self, value: object, path: str, acct_id: str,
                owner_arn: str) -> model.FrozenMap[str, model.PolicyDoc]:
        raw = self.mapping(value, path)
        out: dict[str, model.PolicyDoc] = {}
        for name in sorted(raw):
            where = _join(path, name)
            self.string(name, where, _POLICY_NAME_RE, "a policy name (1-128 of A-Z a-z 0-9 "
                                                      "+=,.@_-)")
            out[name] = self.policy(raw[name], where,
                                    DocAddress(DocKind.INLINE, acct_id, owner_arn, name))
        return model.FrozenMap(out)

    def role(self, value: object, path: str, acct_id: str, name: str,
             managed: Mapping[str, model.ManagedPolicy]) -> model.Role:
        raw = self.obj(value, path, required=frozenset({"trust_policy"}),
                       optional=_PRINCIPAL_FIELDS | {"max_session_duration"})
        common = self._principal(raw, path, acct_id, name, "role", managed)
        trust = self.policy(raw["trust_policy"], _join(path, "trust_policy"),
                            DocAddress(DocKind.TRUST, acct_id, common["arn"]))
        duration = raw.get("max_session_duration")
        if duration is None:
            duration = DEFAULT_MAX_SESSION_SECONDS
        if isinstance(duration, bool) or not isinstance(duration, int) \
                or not DEFAULT_MAX_SESSION_SECONDS <= duration <= MAX_SESSION_SECONDS:
            self.fail(_join(path, "max_session_duration"),
                      f"must be whole seconds from {DEFAULT_MAX_SESSION_SECONDS} to "
                      f"{MAX_SESSION_SECONDS}, got {shown(duration)}")
        return model.Role(**common, trust_policy=trust, max_session_duration=duration)

    def user(self, value: object, path: str, acct_id: str, name: str,
             managed: Mapping[str, model.ManagedPolicy]) -> model.User:
        raw = self.obj(value, path, optional=_PRINCIPAL_FIELDS)
        return model.User(**self._principal(raw, path, acct_id, name, "user", managed))

    def bucket(self, value: object, path: str, acct_id: str, name: str) -> model.Bucket:
        raw = self.obj(value, path, required=frozenset({"region"}), optional=frozenset(
            {"policy", "encryption", "object_ownership", "public_access_block"}))
        region = self.string(raw["region"], _join(path, "region"), REGION_RE,
                             "an AWS region (like eu-west-1)")
        policy = self.opt_policy(raw.get("policy"), _join(path, "policy"),
                                 DocAddress(DocKind.BUCKET, acct_id, name))
        encryption = model.Encryption()
        if raw.get("encryption") is not None:
            encryption = self.encryption(raw["encryption"], _join(path, "encryption"))
        ownership = model.ObjectOwnership.BUCKET_OWNER_ENFORCED
        if raw.get("object_ownership") is not None:
            text = self.string(raw["object_ownership"], _join(path, "object_ownership"))
            try:
                ownership = model.ObjectOwnership(text)
            except ValueError:
                self.fail(_join(path, "object_ownership"),
                          f"{text!r} is not one of "
                          f"{', '.join(o.value for o in model.ObjectOwnership)}")
        pab = model.PublicAccessBlock()
        if raw.get("public_access_block") is not None:
            where = _join(path, "public_access_block")
            flags = ("block_public_acls", "ignore_public_acls", "block_public_policy",
                     "restrict_public_buckets")
            pab_raw = self.obj(raw["public_access_block"], where, required=frozenset(flags))
            values: list[bool] = []
            for f in flags:
                if not isinstance(pab_raw[f], bool):
                    self.fail(_join(where, f), f"must be true or false, got {_kind(pab_raw[f])}")
                values.append(pab_raw[f])
            pab = model.PublicAccessBlock(*values)
        return model.Bucket(name=name, region=region, policy=policy, encryption=encryption,
                      object_ownership=ownership, public_access_block=pab)

    def encryption(self, value: object, path: str) -> model.Encryption:
        raw = self.obj(value, path, required=frozenset({"type"}),
                       optional=frozenset({"kms_key_arn", "bucket_key_enabled"}))
        text = self.string(raw["type"], _join(path, "type"))
        try:
            kind = model.EncryptionType(text)
        except ValueError:
            self.fail(_join(path, "type"),
                      f"{text!r} is not one of {', '.join(e.value for e in model.EncryptionType)}")
        key = self.opt_string(raw.get("kms_key_arn"), _join(path, "kms_key_arn"), _KMS_REF_RE,
                              "a KMS key or alias ARN")
        if key is not None and kind is not model.EncryptionType.SSE_KMS:
            self.fail(_join(path, "kms_key_arn"), f"only SSE-KMS takes a key, not {kind.value}")
        bucket_key = self.boolean(raw.get("bucket_key_enabled"),
                                  _join(path, "bucket_key_enabled"), False)
        if bucket_key and kind is not model.EncryptionType.SSE_KMS:
            self.fail(_join(path, "bucket_key_enabled"), "S3 bucket keys need SSE-KMS")
        return model.Encryption(kind, key, bucket_key)

    def table(self, value: object, path: str, acct_id: str, arn: str, region: str,
              name: str) -> model.Table:
        raw = self.obj(value, path, optional=frozenset(
            {"policy", "indexes", "stream_arn", "stream_policy", "tags"}))
        policy = self.opt_policy(raw.get("policy"), _join(path, "policy"),
                                 DocAddress(DocKind.TABLE, acct_id, arn))
        indexes = self.strings(raw.get("indexes"), _join(path, "indexes"), _INDEX_NAME_RE,
                               "an index name (3-255 of A-Z a-z 0-9 _.-)")
        stream = self.opt_string(raw.get("stream_arn"), _join(path, "stream_arn"))
        if stream is not None and not (stream.startswith(f"{arn}/stream/")
                                       and len(stream) > len(arn) + 8 and
                                       "/" not in stream[len(arn) + 8:]):
            self.fail(_join(path, "stream_arn"), f"{stream!r} is not a stream of this table "
                                                 f"({arn}/stream/LABEL)")
        stream_policy = None
        if raw.get("stream_policy") is not None:
            if stream is None:
                self.fail(_join(path, "stream_policy"), "a stream policy needs a stream_arn")
            stream_policy = self.policy(raw["stream_policy"], _join(path, "stream_policy"),
                                        DocAddress(DocKind.STREAM, acct_id, stream))
        return model.Table(name=name, region=region, arn=arn, policy=policy, indexes=indexes,
                     stream_arn=stream, stream_policy=stream_policy,
                     tags=self.tags(raw.get("tags"), _join(path, "tags")))

    def key(self, value: object, path: str, acct_id: str, arn: str, region: str,
            key_id: str) -> model.Key:
        raw = self.obj(value, path, required=frozenset({"policy"}),
                       optional=frozenset({"aws_managed", "aliases", "tags"}))
        aws_managed = self.boolean(raw.get("aws_managed"), _join(path, "aws_managed"), False)
        aliases = self.strings(raw.get("aliases"), _join(path, "aliases"), _ALIAS_RE,
                               "an alias (alias/NAME)")
        for i, alias in enumerate(aliases):
            if alias.startswith("alias/aws/") != aws_managed:
                self.fail(_join(_join(path, "aliases"), i),
                          "alias/aws/ names belong to AWS managed keys, and only to them")
        policy = self.policy(raw["policy"], _join(path, "policy"),
                             DocAddress(DocKind.KEY, acct_id, arn))
        return model.Key(id=key_id, arn=arn, region=region, policy=policy, aws_managed=aws_managed,
                   aliases=aliases, tags=self.tags(raw.get("tags"), _join(path, "tags")))

    def organization(self, value: object, path: str) -> model.Organization:
        raw = self.obj(value, path, required=frozenset({"id", "root"}), optional=frozenset(
            {"management_account", "ous", "accounts", "scps", "rcps"}))
        org_id = self.string(raw["id"], _join(path, "id"), _ORG_ID_RE,
                             "an organization id (o-…)")
        root_path = _join(path, "root")
        root = self.obj(raw["root"], root_path, required=frozenset({"id"}),
                        optional=frozenset({"scps", "rcps"}))
        root_id = self.string(root["id"], _join(root_path, "id"), _ROOT_ID_RE,
                              "a root id (r-…)")
        mgmt = self.opt_string(raw.get("management_account"),
                               _join(path, "management_account"), ACCOUNT_ID_RE,
                               "a 12-digit account id")
        scps: dict[str, model.PolicyDoc] = {}
        rcps: dict[str, model.PolicyDoc] = {}
        for kind, docs in ((DocKind.SCP, scps), (DocKind.RCP, rcps)):
            for name, doc, where in self.entries(raw, path, f"{kind}s"):
                if not 1 <= len(name) <= 128:
                    self.fail(where, "policy names are 1 to 128 characters")
                docs[name] = self.policy(doc, where, DocAddress(kind, None, org_id, name))

        def attachments(node: Mapping[str, Any], where: str) -> tuple[tuple[str, ...],
                                                                       tuple[str, ...]]:
            out: list[tuple[str, ...]] = []
            for field_name, docs in (("scps", scps), ("rcps", rcps)):
                names = self.strings(node.get(field_name), _join(where, field_name))
                for i, n in enumerate(names):
                    if n not in docs:
                        self.fail(_join(_join(where, field_name), i),
                                  f"{n!r} is not defined in {_join(path, field_name)}")
                out.append(names)
            return out[0], out[1]

        root_scps, root_rcps = attachments(root, root_path)
        raw_ous = self.mapping(raw.get("ous"), _join(path, "ous"))
        ous: dict[str, model.OrgUnit] = {}
        for ou_id in sorted(raw_ous):
            where = _join(_join(path, "ous"), ou_id)
            self.string(ou_id, where, _OU_ID_RE, "an organizational unit id (ou-…-…)")
            node = self.obj(raw_ous[ou_id], where, required=frozenset({"parent"}),
                            optional=frozenset({"name", "scps", "rcps"}))
            parent = self.string(node["parent"], _join(where, "parent"))
            if parent != root_id and parent not in raw_ous:
                self.fail(_join(where, "parent"), f"{parent!r} is neither the root nor an OU")
            name = self.string(node.get("name", ou_id), _join(where, "name"))
            ou_scps, ou_rcps = attachments(node, where)
            ous[ou_id] = model.OrgUnit(id=ou_id, name=name, parent=parent, scps=ou_scps,
                                 rcps=ou_rcps)
        for ou_id, ou in ous.items():
            seen = {ou_id}
            node_id = ou.parent
            while node_id != root_id:
                if node_id in seen:
                    self.fail(_join(_join(path, "ous"), ou_id),
                              "the parent chain loops instead of reaching the root")
                seen.add(node_id)
                node_id = ous[node_id].parent
        accounts: dict[str, model.OrgAccount] = {}
        for acct_id, entry, where in self.entries(raw, path, "accounts"):
            self.string(acct_id, where, ACCOUNT_ID_RE, "a 12-digit account id")
            node = self.obj(entry, where, required=frozenset({"parent"}),
                            optional=frozenset({"scps", "rcps"}))
            parent = self.string(node["parent"], _join(where, "parent"))
            if parent != root_id and parent not in ous:
                self.fail(_join(where, "parent"), f"{parent!r} is neither the root nor an OU")
            a_scps, a_rcps = attachments(node, where)
            accounts[acct_id] = model.OrgAccount(parent=parent, scps=a_scps, rcps=a_rcps)
        return model.Organization(id=org_id, root_id=root_id, management_account=mgmt,
                            root_scps=root_scps, root_rcps=root_rcps, ous=model.FrozenMap(ous),
                            accounts=model.FrozenMap(accounts), scps=model.FrozenMap(scps),
                            rcps=model.FrozenMap(rcps))


def load_state(data: str | Mapping[str, Any], source: str = "state.json") -> model.AccountState:
    """Read a state from JSON text or an already-decoded object; `source` names it in
    errors. Raises StateError on anything AWS could not hold."""
    with _collector_paused() as built:
        decoded = isinstance(data, str)
        if isinstance(data, str):
            data = loads(data, source, StateError)
        loader = _Loader(source, decoded=decoded)
        try:
            state = loader.state(data)
        except RecursionError:
            raise StateError(f"{source}: nested too deeply") from None
        built.append(state)
        return state


# A state with this many accounts is kept out of the collector's sight once built.
_FREEZE_ACCOUNTS = 500


@contextmanager
def _collector_paused() -> Iterator[list[model.AccountState]]:
    """Loading builds hundreds of thousands of objects and frees almost none: the cyclic
    garbage collector would rescan the growing heap again and again for nothing (over half
    the load time of a large organization), so it waits until the state is built.

    A large state is then moved out of the collector's sight (`gc.freeze`): it lives as
    long as the command that loaded it, holds no reference cycles (a test checks), so
    reference counting alone frees it, and every later collection, during the analysis,
    would otherwise scan all of it again. Small states (tests, the sandbox) are left to
    the collector as usual.
    """
    was = gc.isenabled()
    gc.disable()
    built: list[model.AccountState] = []
    try:
        yield built
    finally:
        if built and len(built[0].accounts) >= _FREEZE_ACCOUNTS:
            gc.freeze()
        if was:
            gc.enable()

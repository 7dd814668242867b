"""KMS JSON requests -> the IAM checks AWS makes for them.

A KMS operation on a key is authorized on the key's ARN whichever way the request names
the key (key id, key ARN, alias name, alias ARN); the authorizer resolves ids and aliases
through `MapContext.key_arn`. Alias operations are checked on the alias and on the key(s)
it points to, and ReEncrypt as ReEncryptFrom on the source and ReEncryptTo on the
destination (the "Required permissions" of each operation in the KMS API reference).

Decrypt and ReEncrypt may omit the source key: AWS finds it in the ciphertext. moto's
ciphertext starts with the 36-character key id (moto.kms.utils: key id, IV, tag,
ciphertext), so the key is read from there.

moto resolves keys only in the account that signs the request, so a request on another
account's key is forwarded as that account.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crossgrant.iam.arn import alias_arn, key_arn
from crossgrant.sandbox.operations import Check, HttpRequest, MapContext, Operation
from crossgrant.sandbox.services._common import (
    Context,
    Extra,
    JsonRequest,
    arn_of,
    global_context,
    tag_context,
    unsupported,
)

SERVICE = "kms"
_TARGET = "TrentService."
_KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ALIAS = re.compile(r"^alias/[A-Za-z0-9/_-]{1,250}$")
_MOTO_KEY_ID_BYTES = 36


@dataclass(frozen=True, slots=True)
class _Key:
    arn: str  # the key's ARN (the alias ARN when the alias resolves to nothing)
    account: str
    alias: str | None  # "alias/name" when the request named the key by alias


class _Request(JsonRequest):
    service = SERVICE

    def key(self, value: object, what: str = "KeyId") -> _Key:
        if not isinstance(value, str) or not value:
            raise self.fail(f"{what} missing")
        caller, region = self.ctx.caller_account, self.ctx.region
        if value.startswith("arn:"):
            arn = self.own_arn(value, what, "KMS")  # an alias means a key per region
            if arn.resource.startswith("key/"):
                key = _Key(value, arn.account, None)
            elif _ALIAS.match(arn.resource):
                key = self._alias_key(arn.account, value, arn.resource)
            else:
                raise self.fail(f"{what} {value!r} names neither a key nor an alias")
        elif value.startswith("alias/"):
            if not _ALIAS.match(value):
                raise self.fail(f"malformed alias {value!r}")
            key = self._alias_key(caller, value, value)
        else:
            # A bare key id always means a key of the caller's account.
            resolved = self.ctx.key_arn(caller, value)
            found = arn_of(resolved) if resolved else None
            if resolved is None or found is None or found.account != caller:
                resolved = key_arn(region, caller, value)
            key = _Key(resolved, caller, None)
        self.accounts.add(key.account)
        return key

    def ciphertext_key(self, what: str = "CiphertextBlob") -> _Key:
        """The key a moto ciphertext was made with, in whichever account the authorizer
        finds it (a ciphertext carries no account; AWS's carries the whole key ARN)."""
        key_id = _ciphertext_key_id(self.body.get(what))
        if key_id is None:
            raise self.fail(f"{what} is not a moto ciphertext, so its key is unknown")
        resolved = self.ctx.key_arn(self.ctx.caller_account, key_id)
        arn = arn_of(resolved) if resolved else None
        if resolved is None or arn is None:
            account = self.ctx.caller_account
            resolved = key_arn(self.ctx.region, account, key_id)
        else:
            account = arn.account
        self.accounts.add(account)
        return _Key(resolved, account, None)

    def alias_arn(self, value: object) -> tuple[str, str]:
        """(alias name, alias ARN) of an AliasName, always in the caller's account."""
        if not isinstance(value, str) or not _ALIAS.match(value):
            raise self.fail(f"AliasName missing or malformed: {value!r}")
        self.accounts.add(self.ctx.caller_account)
        return value, alias_arn(self.ctx.region, self.ctx.caller_account, value)

    def _alias_key(self, account: str, given: str, alias: str) -> _Key:
        resolved = self.ctx.key_arn(account, given)
        if resolved is None:
            self.notes.append(f"{alias} points to no key the sandbox knows; checked on the "
                              "alias ARN")
            resolved = alias_arn(self.ctx.region, account, alias)
        return _Key(resolved, account, alias)

    def check(self, action: str, key: _Key | None, extra: Extra = ()) -> Check:
        context: Context = [*global_context(self.req),
                            ("kms:CallerAccount", self.ctx.caller_account)]
        if key is not None and key.alias is not None:
            context.append(("kms:RequestAlias", key.alias))
        context += extra
        if key is None:
            return Check(f"kms:{action}", "*", tuple(context))
        return Check(f"kms:{action}", key.arn, tuple(context), key.account)

    def op(self, name: str, checks: Sequence[Check], changes_state: bool = False
           ) -> Operation:
        return self.operation(name, checks, changes_state=changes_state,
                              forward_as=self.forward_as("uses keys of accounts"))


def operation(req: HttpRequest, ctx: MapContext) -> Operation:
    target = req.header("x-amz-target") or ""
    name = target[len(_TARGET):] if target.startswith(_TARGET) else ""
    handler = _OPERATIONS.get(name)
    if handler is None:
        raise unsupported(SERVICE, req, "unknown operation", target=target or "(none)")
    return handler(_Request.parse(req, ctx, target), name)


# --- handlers --------------------------------------------------------------------------

_Handler = Callable[[_Request, str], Operation]


def _on_key(*params: str, changes_state: bool = False) -> _Handler:
    """The action of the operation's name on KeyId, with `params` as context."""
    def handler(r: _Request, name: str) -> Operation:
        key = r.key(r.body.get("KeyId"))
        return r.op(name, [r.check(name, key, _param_context(r.body, params))], changes_state)
    return handler


def _decrypt(r: _Request, name: str) -> Operation:
    given = r.body.get("KeyId")
    key = r.ciphertext_key() if given is None else r.key(given)
    extra = _param_context(r.body, ("EncryptionContext", "EncryptionAlgorithm"))
    return r.op(name, [r.check("Decrypt", key, extra)])


def _re_encrypt(r: _Request, name: str) -> Operation:
    given = r.body.get("SourceKeyId")
    source = r.ciphertext_key() if given is None else r.key(given, "SourceKeyId")
    destination = r.key(r.body.get("DestinationKeyId"), "DestinationKeyId")
    same = [("kms:ReEncryptOnSameKey", "true" if source.arn == destination.arn else "false")]
    source_ctx = _encryption_context(r.body.get("SourceEncryptionContext"))
    destination_ctx = _encryption_context(r.body.get("DestinationEncryptionContext"))
    for prefix, extra in (("Source", source_ctx), ("Destination", destination_ctx)):
        algorithm = r.body.get(f"{prefix}EncryptionAlgorithm")
        if isinstance(algorithm, str):
            extra.append(("kms:EncryptionAlgorithm", algorithm))
    return r.op(name, [r.check("ReEncryptFrom", source, [*source_ctx, *same]),
                       r.check("ReEncryptTo", destination, [*destination_ctx, *same])])


def _create_key(r: _Request, name: str) -> Operation:
    spec = r.body.get("KeySpec") or r.body.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    extra: Context = [
        ("kms:KeySpec", str(spec)),
        ("kms:KeyUsage", str(r.body.get("KeyUsage") or "ENCRYPT_DECRYPT")),
        ("kms:KeyOrigin", str(r.body.get("Origin") or "AWS_KMS")),
        ("kms:MultiRegion", _bool(r.body.get("MultiRegion"))),
        ("kms:BypassPolicyLockoutSafetyCheck", _bool(r.body.get("BypassPolicyLockoutSafetyCheck"))),
    ]
    tags = r.tags("TagKey", "TagValue")
    extra += tag_context(tags)
    checks = [r.check("CreateKey", None, extra)]
    if tags:
        checks.append(r.check("TagResource", None, tag_context(tags)))
    return r.op(name, checks, changes_state=True)


def _alias_operation(r: _Request, name: str) -> Operation:
    alias, alias_arn = r.alias_arn(r.body.get("AliasName"))
    alias_key = _Key(alias_arn, r.ctx.caller_account, None)
    checks = [r.check(name, alias_key)]
    if name in {"DeleteAlias", "UpdateAlias"}:
        current = r.ctx.key_arn(r.ctx.caller_account, alias)
        if current is None:
            r.notes.append(f"{alias} points to no key the sandbox knows; its key is not checked")
        else:
            checks.append(r.check(name, _Key(current, r.ctx.caller_account, None)))
    if name in {"CreateAlias", "UpdateAlias"}:
        checks.append(r.check(name, r.key(r.body.get("TargetKeyId"), "TargetKeyId")))
    return r.op(name, checks, changes_state=True)


def _tag_resource(r: _Request, name: str) -> Operation:
    key = r.key(r.body.get("KeyId"))
    if name == "TagResource":
        extra = tag_context(r.tags("TagKey", "TagValue"))
    else:
        extra = r.untag_context()
    return r.op(name, [r.check(name, key, extra)], changes_state=True)


def _create_grant(r: _Request, name: str) -> Operation:
    key = r.key(r.body.get("KeyId"))
    extra = _param_context(r.body, ("GranteePrincipal", "RetiringPrincipal"))
    operations = r.body.get("Operations")
    if isinstance(operations, list):
        extra.append(("kms:GrantOperations", tuple(o for o in operations if isinstance(o, str))))
    constraints = r.body.get("Constraints")
    if isinstance(constraints, dict) and constraints:
        extra.append(("kms:GrantConstraintType", tuple(str(c) for c in constraints)))
    return r.op(name, [r.check(name, key, extra)])


def _retire_grant(r: _Request, name: str) -> Operation:
    """On the grant's key: named by KeyId, or found through the GrantToken (the service's
    `key_arn` resolves a token to its key)."""
    given = r.body.get("KeyId")
    if given is None and isinstance(token := r.body.get("GrantToken"), str):
        found = r.ctx.key_arn(r.ctx.caller_account, token)
        arn = arn_of(found) if found else None
        if found is None or arn is None:
            raise r.fail("GrantToken names no grant the sandbox knows")
        given = found
    return r.op(name, [r.check(name, r.key(given))])


def _everything(r: _Request, name: str) -> Operation:
    return r.op(name, [r.check(name, None)])


_OPERATIONS: Mapping[str, _Handler] = {
    "Encrypt": _on_key("EncryptionContext", "EncryptionAlgorithm"),
    "Decrypt": _decrypt,
    "ReEncrypt": _re_encrypt,
    "GenerateDataKey": _on_key("EncryptionContext"),
    "GenerateDataKeyWithoutPlaintext": _on_key("EncryptionContext"),
    "GenerateDataKeyPair": _on_key("EncryptionContext", "KeyPairSpec"),
    "GenerateDataKeyPairWithoutPlaintext": _on_key("EncryptionContext", "KeyPairSpec"),
    "Sign": _on_key("SigningAlgorithm", "MessageType"),
    "Verify": _on_key("SigningAlgorithm", "MessageType"),
    "GenerateMac": _on_key("MacAlgorithm"),
    "VerifyMac": _on_key("MacAlgorithm"),
    "GetPublicKey": _on_key(),
    "DescribeKey": _on_key(),
    "GetKeyPolicy": _on_key("PolicyName"),
    "PutKeyPolicy": _on_key("PolicyName", "BypassPolicyLockoutSafetyCheck", changes_state=True),
    "ListKeyPolicies": _on_key(),
    "GetKeyRotationStatus": _on_key(),
    "EnableKeyRotation": _on_key("RotationPeriodInDays"),
    "DisableKeyRotation": _on_key(),
    "RotateKeyOnDemand": _on_key(),
    "ListKeyRotations": _on_key(),
    "EnableKey": _on_key(),
    "DisableKey": _on_key(),
    "ScheduleKeyDeletion": _on_key("PendingWindowInDays", changes_state=True),
    "CancelKeyDeletion": _on_key(changes_state=True),
    "UpdateKeyDescription": _on_key(),
    "ListResourceTags": _on_key(),
    "ListGrants": _on_key(),
    "RevokeGrant": _on_key(),
    "RetireGrant": _retire_grant,
    "CreateGrant": _create_grant,
    "TagResource": _tag_resource,
    "UntagResource": _tag_resource,
    "CreateKey": _create_key,
    "CreateAlias": _alias_operation,
    "DeleteAlias": _alias_operation,
    "UpdateAlias": _alias_operation,
    "ListKeys": _everything,
    "ListAliases": _everything,
    "GenerateRandom": _everything,
    "ListRetirableGrants": _everything,
}

# Request parameter -> condition key (EncryptionContext is spread over several keys).
_CONDITION_KEYS = {
    "EncryptionAlgorithm": "kms:EncryptionAlgorithm",
    "KeyPairSpec": "kms:DataKeyPairSpec",
    "SigningAlgorithm": "kms:SigningAlgorithm",
    "MessageType": "kms:MessageType",
    "MacAlgorithm": "kms:MacAlgorithm",
    "RotationPeriodInDays": "kms:RotationPeriodInDays",
    "PendingWindowInDays": "kms:ScheduleKeyDeletionPendingWindowInDays",
    "BypassPolicyLockoutSafetyCheck": "kms:BypassPolicyLockoutSafetyCheck",
    "GranteePrincipal": "kms:GranteePrincipal",
    "RetiringPrincipal": "kms:RetiringPrincipal",
}


def _param_context(body: Mapping[str, object], params: tuple[str, ...]) -> Context:
    extra: Context = []
    for param in params:
        value = body.get(param)
        if param == "EncryptionContext":
            extra += _encryption_context(value)
        elif param == "PolicyName":
            # Absent, it is "default" (KMS API reference, GetKeyPolicy / PutKeyPolicy).
            extra.append(("kms:PolicyName", value if isinstance(value, str) else "default"))
        elif param == "MessageType" and value is None and "Message" in body:
            extra.append(("kms:MessageType", "RAW"))
        elif isinstance(value, bool):
            extra.append((_CONDITION_KEYS[param], _bool(value)))
        elif isinstance(value, str | int) and not isinstance(value, bool):
            extra.append((_CONDITION_KEYS[param], str(value)))
    return extra


def _encryption_context(value: object) -> Context:
    if not isinstance(value, dict) or not value:
        return []
    pairs = [(str(k), str(v)) for k, v in value.items()]
    extra: Context = [(f"kms:EncryptionContext:{k}", v) for k, v in pairs]
    extra.append(("kms:EncryptionContextKeys", tuple(k for k, _ in pairs)))
    return extra


def _bool(value: object) -> str:
    return "true" if value is True else "false"


def _ciphertext_key_id(blob: object) -> str | None:
    if not isinstance(blob, str):
        return None
    try:
        raw = base64.b64decode(blob)  # lenient, as moto decodes it
    except (binascii.Error, ValueError):
        return None
    try:
        key_id = raw[:_MOTO_KEY_ID_BYTES].decode("ascii")
    except UnicodeDecodeError:
        return None
    return key_id if _KEY_ID.match(key_id) else None


"""KMS grants: permissions a key carries besides its key policy; and what moto holds of
keys, which the service's answers follow.

AWS KMS developer guide, "Grants in AWS KMS": a grant lets its grantee principal use the
key for the grant's operations, subject to its constraints (EncryptionContextEquals,
EncryptionContextSubset), without the key policy or an IAM policy saying so; the
retiring principal (and a grantee whose grant includes RetireGrant) may retire it. An
explicit deny still wins. The grants are moto's (CreateGrant, ListGrants, RevokeGrant and
RetireGrant are served by moto); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from moto.kms.models import kms_backends

from crossgrant.errors import ArnError
from crossgrant.iam import Decision, Effect, PolicyType, Principal, PrincipalKind, StatementRef
from crossgrant.iam.arn import parse_arn
from crossgrant.sandbox.operations import Check, ContextValue

_CONTEXT = "kms:encryptioncontext:"


def _grants(key_arn: str) -> Iterator[Any]:
    try:
        arn = parse_arn(key_arn)
    except ArnError:
        return
    if not arn.resource.startswith("key/") or arn.account not in kms_backends:
        return
    key = kms_backends[arn.account][arn.region].keys.get(arn.resource[4:])
    if key is not None:
        yield from list(key.grants.values())


def _names(principal: Principal, grantee: str) -> bool:
    """Is `principal` the grantee? A role grantee covers the role's sessions."""
    if not grantee:
        return False
    if grantee in (principal.arn, principal.principal_arn):
        return True
    try:
        arn = parse_arn(grantee)
    except ArnError:
        return False
    kind = arn.resource.split("/", 1)[0]
    name = arn.resource.rsplit("/", 1)[-1]
    wanted = {PrincipalKind.ROLE: "role", PrincipalKind.ASSUMED_ROLE: "role",
              PrincipalKind.USER: "user"}.get(principal.kind)
    return wanted == kind and arn.account == principal.account and \
        (principal.name or "").lower() == name.lower()


def _constraints_hold(constraints: object, context: Mapping[str, ContextValue]) -> bool:
    if not isinstance(constraints, dict) or not constraints:
        return True
    given = {k[len(_CONTEXT):]: v for k, v in context.items()
             if k.lower().startswith(_CONTEXT)}
    equals = constraints.get("EncryptionContextEquals")
    if isinstance(equals, dict) and given != {str(k): str(v) for k, v in equals.items()}:
        return False
    subset = constraints.get("EncryptionContextSubset")
    return not isinstance(subset, dict) or all(given.get(str(k)) == str(v)
                                               for k, v in subset.items())


def grant_decision(check: Check, principal: Principal, decision: Decision) -> Decision:
    """Allow when a grant on the check's key gives the principal its operation (an
    explicit deny stands); else the decision unchanged."""
    if decision.effect is Effect.EXPLICIT_DENY or not check.action.lower().startswith("kms:"):
        return decision
    operation = check.action.split(":", 1)[1]
    context = dict(check.context)
    for grant in _grants(check.resource):
        retiring = operation == "RetireGrant" and _names(principal, grant.retiring_principal)
        granted = operation in (grant.operations or ()) and _names(
            principal, grant.grantee_principal) and _constraints_hold(grant.constraints, context)
        if retiring or granted:
            ref = StatementRef(f"KMS grant {grant.id} on {check.resource}", PolicyType.RESOURCE,
                               0, grant.name or None, "Allow")
            return Decision(Effect.ALLOW, (ref,))
    return decision


def key_exists(account: str, region: str, key_id: str) -> bool:
    """Whether moto holds the key (moto is what answers; a state cache may lag it)."""
    return account in kms_backends and key_id in kms_backends[account][region].keys


def alias_exists(account: str, region: str, alias: str) -> bool:
    if account not in kms_backends:
        return False
    return any(alias in key.aliases for key in list(kms_backends[account][region].keys.values()))


def key_of_token(token: str) -> str | None:
    """The ARN of the key a grant token belongs to (RetireGrant names only the token)."""
    for account in list(kms_backends.keys()):
        for backend in list(kms_backends[account].values()):
            for key in list(backend.keys.values()):
                if any(g.token == token for g in key.grants.values()):
                    return str(key.arn)
    return None

"""KMS as the sandbox serves it: JSON errors, grants (`grants`), and a key of the caller's
own account that does not exist answered as KMS answers it, NotFoundException ("Key
'ARN' does not exist"), before any authorization (AWS KMS API reference, "Common
Errors" and each operation's NotFoundException)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from crossgrant.iam import Decision
from crossgrant.iam.arn import parse_arn
from crossgrant.sandbox.credentials import Caller
from crossgrant.sandbox.fidelity import GRANT_TOKENS, GRANTS, NOT_FOUND, Rule
from crossgrant.sandbox.operations import Check, HttpRequest, MapContext, Operation
from crossgrant.sandbox.services.base import JsonService, Response
from crossgrant.sandbox.services.kms.grants import (
    alias_exists,
    grant_decision,
    key_exists,
    key_of_token,
)
from crossgrant.sandbox.services.kms.mapping import SERVICE, operation

_ALIAS_OPERATIONS = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})


class Kms(JsonService):
    rules: ClassVar[tuple[Rule, ...]] = (GRANTS, NOT_FOUND, GRANT_TOKENS)

    def __init__(self) -> None:
        super().__init__(SERVICE, operation)

    def operation(self, req: HttpRequest, ctx: MapContext) -> Operation:
        by_id = ctx.key_arn

        def key_arn(account: str, ident: str) -> str | None:
            return by_id(account, ident) or key_of_token(ident)

        return super().operation(req, replace(ctx, key_arn=key_arn))

    def precheck(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        account = caller.principal.account
        for check in op.checks:
            if account is None or check.resource_account != account:
                continue
            arn = parse_arn(check.resource)
            if arn.resource.startswith("key/") and not key_exists(arn.account, arn.region,
                                                                 arn.resource[4:]):
                return self.reply(400, "NotFoundException",
                                  f"Key '{check.resource}' does not exist", req.method)
            if arn.resource.startswith("alias/") and op.name not in _ALIAS_OPERATIONS \
                    and not alias_exists(arn.account, arn.region, arn.resource):
                return self.reply(400, "NotFoundException",
                                  f"Alias {check.resource} is not found.", req.method)
        return None

    def beyond_policies(self, check: Check, caller: Caller, decision: Decision) -> Decision:
        return grant_decision(check, caller.principal, decision)


__all__ = ["Kms"]

"""STS query-protocol requests -> the IAM checks AWS makes for them.

AssumeRole is the one that matters: sts:AssumeRole on the role, decided by the role's
trust policy together with the caller's identity policy (the engine's rule), with the
request's ExternalId, session name, source identity and session tags as context. Passing
session tags additionally needs sts:TagSession, and setting a source identity
sts:SetSourceIdentity, both on the role and both in its trust policy (IAM user guide,
"Passing session tags in AWS STS" and "Monitor and control actions taken with assumed
roles"). GetCallerIdentity and GetSessionToken need no permission at all (STS API
reference), so they carry no checks.

Beside the mapping, the STS service enforces AssumeRole's session rules, which moto does
not (durations, role chaining, a valid session policy), and records every session it
hands out with what moto does not keep: its source identity, session tags, expiry, issue
time and session policy. A chained AssumeRole carries what the calling session keeps:
its source identity, which cannot change and needs sts:SetSourceIdentity on every further
role ("Monitor and control actions taken with assumed roles"), and its transitive session
tags, which need sts:TagSession and cannot be overridden ("Chaining roles with session
tags", IAM User Guide, id_session-tags.html).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar
from xml.etree import ElementTree

from crossgrant.errors import CrossgrantError
from crossgrant.iam import Policy, PolicyType, PrincipalKind, parse_policy, parse_principal
from crossgrant.iam.arn import resource_account
from crossgrant.iam.facts import (
    CHAINED_SESSION_MAX_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
)
from crossgrant.sandbox.credentials import Caller, CredentialStore
from crossgrant.sandbox.fidelity import (
    DURATIONS,
    FEDERATION,
    SESSION_TAGS,
    SESSION_TOKEN,
    SOURCE_IDENTITY,
    Rule,
)
from crossgrant.sandbox.operations import Check, HttpRequest, MapContext, Operation
from crossgrant.sandbox.services._common import (
    Context,
    global_context,
    member_list,
    query_action,
    query_operation,
    query_params,
    query_tags,
    tag_context,
    unsupported,
)
from crossgrant.sandbox.services.base import QUERY_CODES, Codes, Failure, Outcome, Response, Service
from crossgrant.sandbox.state import StateCache

SERVICE = "sts"
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\x21-\x7e]+/)?[\w+=,.@-]+$", re.ASCII)
_FEDERATED_NAME = re.compile(r"^[\w+=,.@-]{2,32}$", re.ASCII)


def operation(req: HttpRequest, ctx: MapContext) -> Operation:
    params, action = query_action(SERVICE, req, _OPERATIONS)
    return _OPERATIONS[action](req, ctx, params)


def _assume_role(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
    role, account = _role(req, params)
    session = params.get("RoleSessionName")
    if session is None:
        raise unsupported(SERVICE, req, "RoleSessionName missing")
    tags = query_tags(SERVICE, req, params)
    transitive = member_list(params, "TransitiveTagKeys")
    source_identity = params.get("SourceIdentity")
    context: Context = [*global_context(req), ("sts:RoleSessionName", session)]
    if (external_id := params.get("ExternalId")) is not None:
        context.append(("sts:ExternalId", external_id))
    if source_identity is not None:
        context.append(("sts:SourceIdentity", source_identity))
    tagging = [*tag_context(tags)]
    if transitive:
        tagging.append(("sts:TransitiveTagKeys", tuple(transitive)))
    checks = [Check("sts:AssumeRole", role, tuple(context + tagging), account)]
    if tags or transitive:
        checks.append(Check("sts:TagSession", role, tuple(context + tagging), account))
    if source_identity is not None:
        checks.append(Check("sts:SetSourceIdentity", role, tuple(context), account))
    notes: tuple[str, ...] = ()
    if "Policy" in params or "PolicyArns.member.1.arn" in params:
        notes = ("session policies (Policy/PolicyArns) bound the new session; they are "
                 "not part of this check",)
    return query_operation(SERVICE, "AssumeRole", checks, notes=notes)


def _assume_role_federated(action: str) -> Callable[
        [HttpRequest, MapContext, Mapping[str, str]], Operation]:
    def handler(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
        role, account = _role(req, params)
        context: Context = [*global_context(req)]
        if (session := params.get("RoleSessionName")) is not None:
            context.append(("sts:RoleSessionName", session))
        note = (f"{action} is unsigned: its principal is the identity provider named in the "
                "token, and the authorizer must evaluate the role's trust policy for that "
                "federated principal (and the token's claims as context)")
        check = Check(f"sts:{action}", role, tuple(context), account)
        return query_operation(SERVICE, action, (check,), notes=(note,))
    return handler


def _no_permission(action: str) -> Callable[
        [HttpRequest, MapContext, Mapping[str, str]], Operation]:
    def handler(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
        notes: tuple[str, ...] = ()
        if action == "GetSessionToken":
            notes = ("AWS refuses GetSessionToken to role sessions and to federated users",)
        return query_operation(SERVICE, action, (), unauthenticated_ok=True, notes=notes)
    return handler


def _on_everything(action: str) -> Callable[
        [HttpRequest, MapContext, Mapping[str, str]], Operation]:
    def handler(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
        check = Check(f"sts:{action}", "*", tuple(global_context(req)))
        return query_operation(SERVICE, action, (check,))
    return handler


def _get_federation_token(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]
                          ) -> Operation:
    name = params.get("Name", "")
    if not _FEDERATED_NAME.match(name):
        raise unsupported(SERVICE, req, f"malformed Name {name!r}")
    resource = f"arn:aws:sts::{ctx.caller_account}:federated-user/{name}"
    context = [*global_context(req), *tag_context(query_tags(SERVICE, req, params))]
    check = Check("sts:GetFederationToken", resource, tuple(context), ctx.caller_account)
    return query_operation(SERVICE, "GetFederationToken", (check,))


def _role(req: HttpRequest, params: Mapping[str, str]) -> tuple[str, str]:
    role = params.get("RoleArn", "")
    match = _ROLE_ARN.match(role)
    if match is None:
        raise unsupported(SERVICE, req, f"malformed RoleArn {role!r}")
    return role, match.group(1)


_OPERATIONS: Mapping[str, Callable[[HttpRequest, MapContext, Mapping[str, str]], Operation]] = {
    "AssumeRole": _assume_role,
    "AssumeRoleWithWebIdentity": _assume_role_federated("AssumeRoleWithWebIdentity"),
    "AssumeRoleWithSAML": _assume_role_federated("AssumeRoleWithSAML"),
    "GetCallerIdentity": _no_permission("GetCallerIdentity"),
    "GetSessionToken": _no_permission("GetSessionToken"),
    "GetFederationToken": _get_federation_token,
    "DecodeAuthorizationMessage": _on_everything("DecodeAuthorizationMessage"),
    "GetAccessKeyInfo": _on_everything("GetAccessKeyInfo"),
}


# -- the service --------------------------------------------------------------------------

CODES: Codes = {**QUERY_CODES, Failure.EXPIRED_TOKEN: (403, "ExpiredToken")}


class Sts(Service):
    codes = CODES
    rules: ClassVar[tuple[Rule, ...]] = (SESSION_TAGS, SOURCE_IDENTITY, DURATIONS,
                                         SESSION_TOKEN, FEDERATION)

    def __init__(self, state: StateCache, credentials: CredentialStore, region: str) -> None:
        super().__init__(SERVICE, operation)
        self.state = state
        self.credentials = credentials
        self.region = region

    def precheck(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        if op.name == "GetSessionToken" and caller.temporary:
            return self.reply(403, "AccessDenied", "Cannot call GetSessionToken with session "
                              "credentials", req.method)
        if op.name != "AssumeRole":
            return None
        raw = query_params(SERVICE, req).get("DurationSeconds")
        if raw is not None and raw.lstrip("-").isdigit() and not (
                MIN_SESSION_SECONDS <= int(raw) <= MAX_SESSION_SECONDS):
            bound = (f"greater than or equal to {MIN_SESSION_SECONDS}"
                     if int(raw) < MIN_SESSION_SECONDS
                     else f"less than or equal to {MAX_SESSION_SECONDS}")
            return self.reply(400, "ValidationError", f"1 validation error detected: Value "
                              f"'{raw}' at 'durationSeconds' failed to satisfy constraint: "
                              f"Member must have value {bound}", req.method)
        return None

    def amend(self, op: Operation, req: HttpRequest, caller: Caller) -> Operation | Response:
        """A chained AssumeRole with what the calling session passes on."""
        if op.name != "AssumeRole" or not (caller.source_identity or
                                           caller.transitive_tag_keys):
            return op
        params = query_params(SERVICE, req)
        given = params.get("SourceIdentity")
        if caller.source_identity and given is not None and given != caller.source_identity:
            return self.reply(400, "ValidationError", "The source identity of a role session "
                              f"cannot be changed: it is {caller.source_identity!r}",
                              req.method)
        passed = _transitive(caller)
        requested = {k.lower() for k, _ in query_tags(SERVICE, req, params)}
        clash = sorted(k for k, _ in passed if k.lower() in requested)
        if clash:
            return self.reply(400, "InvalidParameterValue", "One or more session tags would "
                              f"override transitive tags of the calling session: {clash}",
                              req.method)
        return replace(op, checks=_chained_checks(op.checks, caller, passed, params))

    def refusal(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        problem = self._session_limits(op, req, caller)
        return None if problem is None else self.reply(400, "ValidationError", problem,
                                                       req.method)

    def _session_limits(self, op: Operation, req: HttpRequest, caller: Caller) -> str | None:
        """AssumeRole's duration rules, which moto does not enforce."""
        if op.name != "AssumeRole":
            return None
        params = query_params(SERVICE, req)
        try:
            session_policy(params.get("Policy"))
        except CrossgrantError as exc:
            return f"The session policy (Policy parameter) is not valid: {exc}"
        raw = params.get("DurationSeconds")
        if raw is None:
            return None
        try:
            duration = int(raw)
        except ValueError:
            return f"DurationSeconds {raw!r} is not a number"
        if caller.principal.kind is PrincipalKind.ASSUMED_ROLE \
                and duration > CHAINED_SESSION_MAX_SECONDS:
            return ("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                    "assumed by role chaining.")
        role_arn = params.get("RoleArn", "")
        acct = self.state.get().account(resource_account(role_arn))
        role = acct.role(role_arn.rsplit("/", 1)[-1]) if acct else None
        if role is not None and duration > role.max_session_duration:
            return ("The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                    "role.")
        return None

    def after_response(self, outcome: Outcome) -> None:
        if outcome.operation.name == "AssumeRole" and outcome.status == 200:
            self._record_session(outcome)

    def _record_session(self, outcome: Outcome) -> None:
        """The new session's key, so its requests are authorized as the role session."""
        try:
            root = ElementTree.fromstring(outcome.response_body)
        except ElementTree.ParseError:
            return
        ns = {"sts": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}

        def find(path: str) -> str | None:
            parts = "/".join(f"sts:{p}" if ns else p for p in path.split("/"))
            node = root.find(f".//{parts}", ns)
            return node.text if node is not None else None

        key, secret = find("Credentials/AccessKeyId"), find("Credentials/SecretAccessKey")
        token, expiry = find("Credentials/SessionToken"), find("Credentials/Expiration")
        arn = find("AssumedRoleUser/Arn")
        if not (key and secret and arn):
            return
        params = query_params(SERVICE, outcome.request)
        expires = None
        if expiry:
            try:
                expires = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
            except ValueError:
                expires = None
        principal = parse_principal(arn)
        acct = self.state.get().account(principal.account)
        role = acct.role(principal.name or "") if acct else None
        principal = replace(principal, unique_id=role.unique_id if role is not None else None)
        parent = outcome.caller
        tags = dict(_transitive(parent))
        tags.update(query_tags(SERVICE, outcome.request, params))
        transitive = dict.fromkeys([*parent.transitive_tag_keys,
                                    *member_list(params, "TransitiveTagKeys")])
        function_arn = None
        if parent.principal.kind is PrincipalKind.SERVICE \
                and parent.principal.arn == "lambda.amazonaws.com" and principal.account:
            # Lambda names the execution role's session after the function.
            function_arn = f"arn:aws:lambda:{self.region}:{principal.account}:function:" \
                           f"{principal.session}"
        self.credentials.add(key, Caller(
            principal, secret, token, expires,
            params.get("SourceIdentity") or parent.source_identity,
            session_policy(params.get("Policy")),
            chained=parent.principal.kind is PrincipalKind.ASSUMED_ROLE,
            session_tags=tuple(tags.items()), transitive_tag_keys=tuple(transitive),
            issued=datetime.now(UTC).replace(microsecond=0), function_arn=function_arn))


def _transitive(caller: Caller) -> list[tuple[str, str]]:
    """The session tags a session passes to the next one in a chain."""
    keys = {k.lower() for k in caller.transitive_tag_keys}
    return [(k, v) for k, v in caller.session_tags if k.lower() in keys]


def _chained_checks(checks: tuple[Check, ...], caller: Caller,
                    passed: list[tuple[str, str]], params: Mapping[str, str]
                    ) -> tuple[Check, ...]:
    """The AssumeRole checks with the calling session's source identity and transitive
    tags added, and the permissions-only actions they need."""
    inherited: Context = []
    if caller.source_identity and params.get("SourceIdentity") is None:
        inherited.append(("sts:SourceIdentity", caller.source_identity))
    if passed:
        inherited += [(f"aws:RequestTag/{k}", v) for k, v in passed]
    out = []
    for check in checks:
        context = list(check.context)
        if passed:
            keys = dict(context).get("aws:TagKeys", ())
            transitive = dict(context).get("sts:TransitiveTagKeys", ())
            context = [(k, v) for k, v in context
                       if k not in ("aws:TagKeys", "sts:TransitiveTagKeys")]
            context.append(("aws:TagKeys", tuple(dict.fromkeys(
                [*(keys if isinstance(keys, tuple) else (keys,)), *(k for k, _ in passed)]))))
            context.append(("sts:TransitiveTagKeys", tuple(dict.fromkeys(
                [*(transitive if isinstance(transitive, tuple) else (transitive,)),
                 *(k for k, _ in passed)]))))
        out.append(replace(check, context=(*context, *inherited)))
    actions = {c.action for c in out}
    first = out[0]
    if passed and "sts:TagSession" not in actions:
        out.append(replace(first, action="sts:TagSession"))
    if caller.source_identity and "sts:SetSourceIdentity" not in actions:
        out.append(replace(first, action="sts:SetSourceIdentity"))
    return tuple(out)


def session_policy(text: str | None) -> Policy | None:
    """The AssumeRole Policy parameter, compiled once for the session's lifetime."""
    if not text:
        return None
    return parse_policy(text, name="session policy", policy_type=PolicyType.SESSION)

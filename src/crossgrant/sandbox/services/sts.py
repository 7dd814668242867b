"""STS query-protocol requests -> the IAM checks AWS makes for them.

AssumeRole is the one that matters: sts:AssumeRole on the role, decided by the role's
trust policy together with the caller's identity policy (the engine's rule), with the
request's ExternalId, session name, source identity and session tags as context. Passing
session tags additionally needs sts:TagSession, and setting a source identity
sts:SetSourceIdentity, both on the role and both in its trust policy (IAM user guide,
"Passing session tags in AWS STS" and "Monitor and control actions taken with assumed
roles"). GetCallerIdentity and GetSessionToken need no permission at all (STS API
reference), so they carry no checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Operation,
)
from crossgrant.sandbox.services._common import (
    Context,
    global_context,
    member_list,
    member_structs,
    query_params,
    tag_context,
    unsupported,
)

SERVICE = "sts"
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\x21-\x7e]+/)?[\w+=,.@-]+$", re.ASCII)
_FEDERATED_NAME = re.compile(r"^[\w+=,.@-]{2,32}$", re.ASCII)


def operation(req: HttpRequest, ctx: MapContext) -> Operation:
    params = query_params(SERVICE, req)
    action = params.get("Action", "")
    handler = _OPERATIONS.get(action)
    if handler is None:
        raise unsupported(SERVICE, req, f"unknown Action {action!r}")
    return handler(req, ctx, params)


def _assume_role(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
    role, account = _role(req, params)
    session = params.get("RoleSessionName")
    if session is None:
        raise unsupported(SERVICE, req, "RoleSessionName missing")
    tags = _session_tags(req, params)
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
    return Operation(SERVICE, "AssumeRole", tuple(checks), ErrorStyle.QUERY_XML, notes=notes)


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
        return Operation(SERVICE, action, (Check(f"sts:{action}", role, tuple(context),
                                                 account),),
                         ErrorStyle.QUERY_XML, notes=(note,))
    return handler


def _no_permission(action: str) -> Callable[
        [HttpRequest, MapContext, Mapping[str, str]], Operation]:
    def handler(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
        notes: tuple[str, ...] = ()
        if action == "GetSessionToken":
            notes = ("AWS refuses GetSessionToken to role sessions and to federated users",)
        return Operation(SERVICE, action, (), ErrorStyle.QUERY_XML, unauthenticated_ok=True,
                         notes=notes)
    return handler


def _on_everything(action: str) -> Callable[
        [HttpRequest, MapContext, Mapping[str, str]], Operation]:
    def handler(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]) -> Operation:
        check = Check(f"sts:{action}", "*", tuple(global_context(req)))
        return Operation(SERVICE, action, (check,), ErrorStyle.QUERY_XML)
    return handler


def _get_federation_token(req: HttpRequest, ctx: MapContext, params: Mapping[str, str]
                          ) -> Operation:
    name = params.get("Name", "")
    if not _FEDERATED_NAME.match(name):
        raise unsupported(SERVICE, req, f"malformed Name {name!r}")
    resource = f"arn:aws:sts::{ctx.caller_account}:federated-user/{name}"
    context = [*global_context(req), *tag_context(_session_tags(req, params))]
    check = Check("sts:GetFederationToken", resource, tuple(context), ctx.caller_account)
    return Operation(SERVICE, "GetFederationToken", (check,), ErrorStyle.QUERY_XML)


def _role(req: HttpRequest, params: Mapping[str, str]) -> tuple[str, str]:
    role = params.get("RoleArn", "")
    match = _ROLE_ARN.match(role)
    if match is None:
        raise unsupported(SERVICE, req, f"malformed RoleArn {role!r}")
    return role, match.group(1)


def _session_tags(req: HttpRequest, params: Mapping[str, str]) -> list[tuple[str, str]]:
    tags = member_structs(params, "Tags", ("Key", "Value"))
    if any("Key" not in tag for tag in tags):
        raise unsupported(SERVICE, req, "a session tag without a Key")
    return [(tag["Key"], tag.get("Value", "")) for tag in tags]


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

"""IAM query-protocol requests -> the IAM checks AWS makes for them.

Every IAM API operation is authorized by the action of the same name on the entity it
names, in the caller's own account (IAM has no resource policies, so the check is always
same-account, even for AWS managed policies whose ARNs carry the account "aws"). A role,
user, group or instance profile is named by its ARN with its real path: the request's
Path for the Create* operations, the stored entity's (`MapContext.iam_path`) otherwise,
so a policy on `role/app/*` matches every operation on a role under /app/.

Tag-on-create is authorized as tagging too (iam:TagRole, iam:TagUser, iam:TagPolicy
beside the Create* action), and adding a role to an instance profile passes the role, so
it needs iam:PassRole on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from moto.iam.models import iam_backends

from crossgrant.iam.arn import PARTITION
from crossgrant.sandbox.fidelity import PATHS, Rule
from crossgrant.sandbox.operations import Check, HttpRequest, MapContext, Operation
from crossgrant.sandbox.services._common import (
    Context,
    global_context,
    member_list,
    query_action,
    query_operation,
    query_tags,
    tag_context,
    tag_keys_context,
    unsupported,
)
from crossgrant.sandbox.services.base import Service

SERVICE = "iam"
_NAME = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)
_PATH = re.compile(r"^/(?:[\x21-\x7e]+/)?$")
_POLICY_ARN = re.compile(r"^arn:aws:iam::(?:\d{12}|aws):policy/(?:[\x21-\x7e]+/)?[\w+=,.@-]+$",
                         re.ASCII)


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: str  # "role", "user", "group", "instance-profile", "policy" (by PolicyArn), "*"
    param: str | None = None  # the parameter naming it
    optional: bool = False  # AWS defaults a missing UserName to the caller


def _role(optional: bool = False) -> _Spec:
    return _Spec("role", "RoleName", optional)


def _user(optional: bool = False) -> _Spec:
    return _Spec("user", "UserName", optional)


_GROUP = _Spec("group", "GroupName")
_PROFILE = _Spec("instance-profile", "InstanceProfileName")
_POLICY = _Spec("policy", "PolicyArn")
_ALL = _Spec("*")

_OPERATIONS: Mapping[str, _Spec] = {
    # roles
    "CreateRole": _role(), "GetRole": _role(), "DeleteRole": _role(), "UpdateRole": _role(),
    "UpdateRoleDescription": _role(), "UpdateAssumeRolePolicy": _role(),
    "PutRolePolicy": _role(), "GetRolePolicy": _role(), "DeleteRolePolicy": _role(),
    "ListRolePolicies": _role(), "AttachRolePolicy": _role(), "DetachRolePolicy": _role(),
    "ListAttachedRolePolicies": _role(), "PutRolePermissionsBoundary": _role(),
    "DeleteRolePermissionsBoundary": _role(), "TagRole": _role(), "UntagRole": _role(),
    "ListRoleTags": _role(), "ListInstanceProfilesForRole": _role(),
    # users
    "CreateUser": _user(), "GetUser": _user(optional=True), "DeleteUser": _user(),
    "UpdateUser": _user(), "PutUserPolicy": _user(), "GetUserPolicy": _user(),
    "DeleteUserPolicy": _user(), "ListUserPolicies": _user(), "AttachUserPolicy": _user(),
    "DetachUserPolicy": _user(), "ListAttachedUserPolicies": _user(),
    "PutUserPermissionsBoundary": _user(), "DeleteUserPermissionsBoundary": _user(),
    "TagUser": _user(), "UntagUser": _user(), "ListUserTags": _user(),
    "ListGroupsForUser": _user(), "CreateAccessKey": _user(optional=True),
    "DeleteAccessKey": _user(optional=True), "UpdateAccessKey": _user(optional=True),
    "ListAccessKeys": _user(optional=True), "CreateLoginProfile": _user(optional=True),
    "GetLoginProfile": _user(optional=True), "UpdateLoginProfile": _user(optional=True),
    "DeleteLoginProfile": _user(optional=True),
    # groups
    "CreateGroup": _GROUP, "GetGroup": _GROUP, "DeleteGroup": _GROUP, "UpdateGroup": _GROUP,
    "AddUserToGroup": _GROUP, "RemoveUserFromGroup": _GROUP, "PutGroupPolicy": _GROUP,
    "GetGroupPolicy": _GROUP, "DeleteGroupPolicy": _GROUP, "ListGroupPolicies": _GROUP,
    "AttachGroupPolicy": _GROUP, "DetachGroupPolicy": _GROUP,
    "ListAttachedGroupPolicies": _GROUP,
    # managed policies
    "CreatePolicy": _Spec("policy", "PolicyName"), "GetPolicy": _POLICY,
    "DeletePolicy": _POLICY, "GetPolicyVersion": _POLICY, "CreatePolicyVersion": _POLICY,
    "DeletePolicyVersion": _POLICY, "ListPolicyVersions": _POLICY,
    "SetDefaultPolicyVersion": _POLICY, "TagPolicy": _POLICY, "UntagPolicy": _POLICY,
    "ListPolicyTags": _POLICY, "ListEntitiesForPolicy": _POLICY,
    # instance profiles
    "CreateInstanceProfile": _PROFILE, "GetInstanceProfile": _PROFILE,
    "DeleteInstanceProfile": _PROFILE, "AddRoleToInstanceProfile": _PROFILE,
    "RemoveRoleFromInstanceProfile": _PROFILE,
    # account-wide
    "ListRoles": _ALL, "ListUsers": _ALL, "ListGroups": _ALL, "ListPolicies": _ALL,
    "ListInstanceProfiles": _ALL, "GetAccountAuthorizationDetails": _ALL,
    "GetAccountSummary": _ALL, "ListAccountAliases": _ALL, "CreateAccountAlias": _ALL,
    "DeleteAccountAlias": _ALL, "GetAccountPasswordPolicy": _ALL,
}
_TAG_ON_CREATE = {"CreateRole": "TagRole", "CreateUser": "TagUser", "CreatePolicy": "TagPolicy",
                  "CreateInstanceProfile": "TagInstanceProfile"}
_ATTACH = frozenset({"AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy",
                     "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"})
_BOUNDARY = frozenset({"CreateRole", "CreateUser", "PutRolePermissionsBoundary",
                       "PutUserPermissionsBoundary"})
_RENAME = {"UpdateUser": ("NewUserName", "NewPath"), "UpdateGroup": ("NewGroupName", "NewPath")}


def operation(req: HttpRequest, ctx: MapContext) -> Operation:
    params, action = query_action(SERVICE, req, _OPERATIONS)
    spec = _OPERATIONS[action]
    account = ctx.caller_account
    resource = _resource(req, ctx, action, spec, params)
    context = global_context(req) + _context(req, action, params)
    checks = [Check(f"iam:{action}", resource, tuple(context), account)]
    tag_action = _TAG_ON_CREATE.get(action)
    if tag_action and "Tags.member.1.Key" in params:
        checks.append(Check(f"iam:{tag_action}", resource, tuple(context), account))
    if action in _RENAME and (new_name := params.get(_RENAME[action][0])) is not None:
        new_path = params.get(_RENAME[action][1], _current_path(resource, spec.kind))
        renamed = _entity_arn(req, account, spec.kind, new_name, new_path)
        checks.append(Check(f"iam:{action}", renamed, tuple(context), account))
    if action == "AddRoleToInstanceProfile":
        role_name = _named(req, params, "RoleName")
        role = _entity_arn(req, account, "role", role_name,
                           ctx.iam_path(account, "role", role_name) or "/")
        checks.append(Check("iam:PassRole", role,
                            (*global_context(req), ("iam:AssociatedResourceArn", resource)),
                            account))
    changes_state = not action.startswith(("Get", "List"))
    return query_operation(SERVICE, action, checks, changes_state=changes_state)


def _resource(req: HttpRequest, ctx: MapContext, action: str, spec: _Spec,
              params: Mapping[str, str]) -> str:
    account = ctx.caller_account
    if spec.kind == "*":
        return "*"
    if spec.param == "PolicyArn":
        arn = params.get("PolicyArn", "")
        if not _POLICY_ARN.match(arn):
            raise unsupported(SERVICE, req, f"malformed PolicyArn {arn!r}")
        return arn
    if spec.param is None:  # only "*" has no parameter
        return "*"
    if spec.optional and spec.param not in params:
        raise unsupported(SERVICE, req, f"{action} without {spec.param} acts on the caller's "
                                        "own user, which the sandbox cannot name here")
    name = _named(req, params, spec.param)
    path = params.get("Path", "/") if action.startswith("Create") else (
        ctx.iam_path(account, spec.kind, name) or "/")
    return _entity_arn(req, account, spec.kind, name, path)


# -- the service -------------------------------------------------------------------------


def entity_path(account: str, kind: str, name: str) -> str | None:
    """The stored path of a role, user, group or instance profile, from moto's IAM."""
    iam = iam_backends[account][PARTITION] if account in iam_backends else None
    if iam is None:
        return None
    holders: dict[str, Any] = {"role": iam.roles, "user": iam.users, "group": iam.groups,
                               "instance-profile": iam.instance_profiles}
    found = holders.get(kind, {})
    entity = found.get(name) or next((e for e in found.values()
                                      if getattr(e, "name", None) == name), None)
    path = getattr(entity, "path", None)
    return path if isinstance(path, str) and path else None


class Iam(Service):
    rules: ClassVar[tuple[Rule, ...]] = (PATHS,)

    def __init__(self) -> None:
        super().__init__(SERVICE, operation)

    def operation(self, req: HttpRequest, ctx: MapContext) -> Operation:
        return super().operation(req, replace(ctx, iam_path=entity_path))


def _named(req: HttpRequest, params: Mapping[str, str], param: str) -> str:
    name = params.get(param)
    if name is None or not _NAME.match(name):
        raise unsupported(SERVICE, req, f"{param} missing or malformed: {name!r}")
    return name


def _entity_arn(req: HttpRequest, account: str, kind: str, name: str, path: str) -> str:
    if not _PATH.match(path) or not _NAME.match(name):
        raise unsupported(SERVICE, req, f"malformed {kind} path or name {path!r} {name!r}")
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def _current_path(arn: str, kind: str) -> str:
    resource = arn.split(f":{kind}", 1)[1]
    return resource[: resource.rindex("/") + 1]


def _context(req: HttpRequest, action: str, params: Mapping[str, str]) -> Context:
    ctx: Context = []
    if action in _ATTACH and (policy := params.get("PolicyArn")) is not None:
        ctx.append(("iam:PolicyARN", policy))
    if action in _BOUNDARY and (boundary := params.get("PermissionsBoundary")) is not None:
        ctx.append(("iam:PermissionsBoundary", boundary))
    if action.startswith("Tag") or action in _TAG_ON_CREATE:
        ctx += tag_context(query_tags(SERVICE, req, params))
    if action.startswith("Untag"):
        ctx += tag_keys_context(member_list(params, "TagKeys"))
    return ctx


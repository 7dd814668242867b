"""IAM requests exactly as boto3 sends them -> the checks the sandbox makes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crossgrant.iam.actions import lookup_action
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    MapContext,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.services import MAPPERS
from crossgrant.sandbox.services.iam import operation

ME = "111111111111"
CTX = MapContext(caller_account=ME, region="us-east-1", bucket_owner=lambda _: None)
ROLE = f"arn:aws:iam::{ME}:role/Reader"
USER = f"arn:aws:iam::{ME}:user/alice"
MANAGED = "arn:aws:iam::aws:policy/ReadOnlyAccess"
MINE = f"arn:aws:iam::{ME}:policy/team/Boundary"
TRUST = '{"Version": "2012-10-17", "Statement": []}'


Mapped = Callable[..., Operation]


@pytest.fixture(scope="module")
def mapped(mapper: Callable[..., Mapped]) -> Mapped:
    return mapper("iam", operation, CTX)


def ctx_of(check: Check) -> dict[str, object]:
    return dict(check.context)


R = {"RoleName": "Reader"}
UN = {"UserName": "alice"}
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("create_role", {**R, "AssumeRolePolicyDocument": TRUST}, "iam:CreateRole", ROLE),
    ("get_role", R, "iam:GetRole", ROLE),
    ("delete_role", R, "iam:DeleteRole", ROLE),
    ("update_assume_role_policy", {**R, "PolicyDocument": TRUST}, "iam:UpdateAssumeRolePolicy",
     ROLE),
    ("put_role_policy", {**R, "PolicyName": "p", "PolicyDocument": TRUST}, "iam:PutRolePolicy",
     ROLE),
    ("get_role_policy", {**R, "PolicyName": "p"}, "iam:GetRolePolicy", ROLE),
    ("delete_role_policy", {**R, "PolicyName": "p"}, "iam:DeleteRolePolicy", ROLE),
    ("list_role_policies", R, "iam:ListRolePolicies", ROLE),
    ("attach_role_policy", {**R, "PolicyArn": MANAGED}, "iam:AttachRolePolicy", ROLE),
    ("detach_role_policy", {**R, "PolicyArn": MANAGED}, "iam:DetachRolePolicy", ROLE),
    ("list_attached_role_policies", R, "iam:ListAttachedRolePolicies", ROLE),
    ("put_role_permissions_boundary", {**R, "PermissionsBoundary": MINE},
     "iam:PutRolePermissionsBoundary", ROLE),
    ("delete_role_permissions_boundary", R, "iam:DeleteRolePermissionsBoundary", ROLE),
    ("tag_role", {**R, "Tags": [{"Key": "k", "Value": "v"}]}, "iam:TagRole", ROLE),
    ("untag_role", {**R, "TagKeys": ["k"]}, "iam:UntagRole", ROLE),
    ("list_roles", {}, "iam:ListRoles", "*"),
    ("create_user", UN, "iam:CreateUser", USER),
    ("get_user", UN, "iam:GetUser", USER),
    ("delete_user", UN, "iam:DeleteUser", USER),
    ("create_access_key", UN, "iam:CreateAccessKey", USER),
    ("delete_access_key", {**UN, "AccessKeyId": "AKIAEXAMPLEEXAMPLE12"},
     "iam:DeleteAccessKey", USER),
    ("list_access_keys", UN, "iam:ListAccessKeys", USER),
    ("put_user_policy", {**UN, "PolicyName": "p", "PolicyDocument": TRUST},
     "iam:PutUserPolicy", USER),
    ("attach_user_policy", {**UN, "PolicyArn": MANAGED}, "iam:AttachUserPolicy", USER),
    ("detach_user_policy", {**UN, "PolicyArn": MANAGED}, "iam:DetachUserPolicy", USER),
    ("list_users", {}, "iam:ListUsers", "*"),
    ("create_policy", {"PolicyName": "Boundary", "Path": "/team/", "PolicyDocument": TRUST},
     "iam:CreatePolicy", MINE),
    ("get_policy", {"PolicyArn": MANAGED}, "iam:GetPolicy", MANAGED),
    ("get_policy_version", {"PolicyArn": MINE, "VersionId": "v1"}, "iam:GetPolicyVersion",
     MINE),
    ("create_policy_version", {"PolicyArn": MINE, "PolicyDocument": TRUST},
     "iam:CreatePolicyVersion", MINE),
    ("delete_policy", {"PolicyArn": MINE}, "iam:DeletePolicy", MINE),
    ("list_policies", {}, "iam:ListPolicies", "*"),
    ("list_policy_versions", {"PolicyArn": MINE}, "iam:ListPolicyVersions", MINE),
    ("get_account_authorization_details", {}, "iam:GetAccountAuthorizationDetails", "*"),
    ("create_group", {"GroupName": "devs"}, "iam:CreateGroup",
     f"arn:aws:iam::{ME}:group/devs"),
    ("add_user_to_group", {"GroupName": "devs", **UN}, "iam:AddUserToGroup",
     f"arn:aws:iam::{ME}:group/devs"),
]


@pytest.mark.parametrize(("method", "kwargs", "action", "resource"), CASES,
                         ids=[c[0] for c in CASES])
def test_operation_maps_to_its_action_on_the_entity(mapped: Mapped, method: str,
                                                    kwargs: dict[str, Any], action: str,
                                                    resource: str) -> None:
    op = mapped(method, **kwargs)
    assert (op.service, op.error_style) == ("iam", ErrorStyle.QUERY_XML)
    check = op.checks[0]
    assert (check.action, check.resource) == (action, resource)
    # IAM is always the caller's own account, AWS managed policies included.
    assert check.resource_account == ME
    assert op.changes_state is not op.name.startswith(("Get", "List"))
    assert lookup_action(action) is not None
    assert ctx_of(check)["aws:SourceIp"] == "127.0.0.1"


def test_create_role_with_path_tags_and_boundary(mapped: Mapped) -> None:
    op = mapped("create_role", RoleName="Writer", Path="/service/", AssumeRolePolicyDocument=TRUST,
                PermissionsBoundary=MINE, Tags=[{"Key": "team", "Value": "blue"}])
    arn = f"arn:aws:iam::{ME}:role/service/Writer"
    assert [(c.action, c.resource) for c in op.checks] == [("iam:CreateRole", arn),
                                                          ("iam:TagRole", arn)]
    context = ctx_of(op.checks[0])
    assert context["iam:PermissionsBoundary"] == MINE
    assert context["aws:RequestTag/team"] == "blue"
    assert context["aws:TagKeys"] == ("team",)
    assert op.changes_state


def test_policy_arn_and_boundary_context(mapped: Mapped) -> None:
    assert ctx_of(mapped("attach_role_policy", RoleName="Reader",
                         PolicyArn=MANAGED).checks[0])["iam:PolicyARN"] == MANAGED
    assert ctx_of(mapped("put_role_permissions_boundary", RoleName="Reader",
                         PermissionsBoundary=MINE).checks[0])["iam:PermissionsBoundary"] == MINE
    assert ctx_of(mapped("untag_role", RoleName="Reader",
                         TagKeys=["a", "b"]).checks[0])["aws:TagKeys"] == ("a", "b")


def test_renaming_needs_permission_on_both_names(mapped: Mapped) -> None:
    op = mapped("update_user", UserName="alice", NewUserName="alicia")
    assert [c.resource for c in op.checks] == [USER, f"arn:aws:iam::{ME}:user/alicia"]


def test_adding_a_role_to_an_instance_profile_passes_it(mapped: Mapped) -> None:
    op = mapped("add_role_to_instance_profile", InstanceProfileName="web", RoleName="Reader")
    assert [(c.action, c.resource) for c in op.checks] == [
        ("iam:AddRoleToInstanceProfile", f"arn:aws:iam::{ME}:instance-profile/web"),
        ("iam:PassRole", ROLE)]


@pytest.mark.parametrize(("method", "kwargs"), [
    ("get_user", {}), ("create_access_key", {}), ("list_access_keys", {}),
    ("get_role", {"RoleName": "bad name"}),
    ("create_role", {"RoleName": "r", "Path": "no-slashes", "AssumeRolePolicyDocument": TRUST}),
    ("get_policy", {"PolicyArn": "arn:aws:s3:::some-bucket"}),
    ("simulate_custom_policy", {"PolicyInputList": ["{}"], "ActionNames": ["s3:GetObject"]}),
])
def test_requests_without_a_nameable_entity_are_refused(mapped: Mapped, method: str,
                                                        kwargs: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedOperation, match="POST /"):
        mapped(method, **kwargs)


def test_registered_under_the_sigv4_service_name() -> None:
    assert MAPPERS["iam"] is operation

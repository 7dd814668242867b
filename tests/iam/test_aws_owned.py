"""Resources AWS owns: no policy can let anyone write them (issue 11).

AWS refuses these with a service error (IAM UnmodifiableEntity, "Cannot perform the
operation on the protected role", KMS's reserved alias prefix), not an authorization
decision; the engine answers ImplicitDeny whatever the policies say, short of an explicit
deny, and names the rule on `Decision.rule`. Sources, one per rule:
- AWS managed policies: IAM User Guide, "Managed policies and inline policies" ("You cannot
  change the permissions defined in AWS managed policies"),
  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html
- service-linked roles: IAM User Guide, "Using service-linked roles" ("An IAM administrator
  can view, but not edit the permissions for service-linked roles"),
  https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html, IAM API
  PutRolePermissionsBoundary ("You cannot set the boundary for a service-linked role") and
  TagRole ("The role can be a regular role or a service-linked role"),
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePermissionsBoundary.html
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_TagRole.html
- /aws-reserved/ roles: IAM Identity Center User Guide, "Using service-linked roles for IAM
  Identity Center" (only IAM Identity Center manages roles on /aws-reserved/sso.amazonaws.com/),
  https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html
- alias/aws/: KMS API CreateAlias ("The alias name cannot begin with alias/aws/. The
  alias/aws/ prefix is reserved for AWS managed keys"),
  https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
"""

from __future__ import annotations

import pytest

from crossgrant.iam import (
    Decision,
    Effect,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
    parse_principal,
)
from crossgrant.iam.facts import AWS_OWNED_ACTIONS, AWS_OWNED_RULES, aws_owned_rule

A = "111111111111"
ADMIN = parse_policy({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]}, name="AdministratorAccess")
SESSION = parse_principal(f"arn:aws:sts::{A}:assumed-role/Admin/s1")
ROOT = parse_principal(f"arn:aws:iam::{A}:root")
SLR = f"arn:aws:iam::{A}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAS"
SSO = f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
AWS_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
AWS_ALIAS = f"arn:aws:kms:eu-west-1:{A}:alias/aws/ebs"


def decide(action: str, resource: str, *extra: dict[str, object],
           principal: Principal = SESSION) -> Decision:
    policies = (ADMIN, *(parse_policy({"Version": "2012-10-17", "Statement": [e]},
                                      name=f"extra{i}") for i, e in enumerate(extra)))
    request = Request.build(principal, action, resource)
    return evaluate(request, PolicySet(identity=policies))


@pytest.mark.parametrize(("action", "resource", "rule"), [
    ("iam:CreatePolicyVersion", AWS_POLICY, "aws-managed-policy"),
    ("iam:SetDefaultPolicyVersion", AWS_POLICY, "aws-managed-policy"),
    ("iam:DeletePolicy", AWS_POLICY, "aws-managed-policy"),
    ("iam:TagPolicy", AWS_POLICY, "aws-managed-policy"),
    ("iam:AttachRolePolicy", SLR, "service-linked-role"),
    ("iam:UpdateAssumeRolePolicy", SLR, "service-linked-role"),
    ("iam:PutRolePermissionsBoundary", SLR, "service-linked-role"),
    ("IAM:PassRole", SLR, "service-linked-role"),  # action names in any case
    ("iam:DeleteRole", SLR, "service-linked-role"),
    ("iam:PutRolePolicy", SSO, "aws-reserved-role"),
    ("iam:TagRole", SSO, "aws-reserved-role"),
    ("kms:CreateAlias", AWS_ALIAS, "aws-kms-alias"),
    ("kms:DeleteAlias", AWS_ALIAS, "aws-kms-alias"),
])
def test_writes_to_aws_owned_resources_are_refused_whatever_the_policies_say(
        action: str, resource: str, rule: str) -> None:
    for principal in (SESSION, ROOT):  # not even the account root
        decision = decide(action, resource, principal=principal)
        assert decision.effect is Effect.IMPLICIT_DENY
        assert decision.rule is not None and decision.rule.startswith(f"{rule}: ")
        assert decision.because == ()
        assert "whatever the policies say" in decision.reason(action)
        assert rule in decision.explain(action)


@pytest.mark.parametrize(("action", "resource"), [
    ("iam:GetPolicy", AWS_POLICY),  # reads stay with the policies
    ("iam:AttachRolePolicy", f"arn:aws:iam::{A}:role/app/Worker"),
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{A}:policy/Mine"),
    ("iam:TagRole", SLR),  # TagRole: "a regular role or a service-linked role"
    ("iam:UpdateRoleDescription", SLR),
    ("kms:CreateAlias", f"arn:aws:kms:eu-west-1:{A}:alias/awsome"),
    ("iam:PassRole", f"arn:aws:iam::{A}:role/service-role/aws-service-role-lookalike"),
])
def test_other_requests_are_left_to_the_policies(action: str, resource: str) -> None:
    decision = decide(action, resource)
    assert decision.effect is Effect.ALLOW
    assert decision.rule is None


def test_an_explicit_deny_stays_an_explicit_deny() -> None:
    decision = decide("iam:DeleteRole", SLR, {"Effect": "Deny", "Action": "iam:*",
                                              "Resource": "*"})
    assert decision.effect is Effect.EXPLICIT_DENY
    assert decision.rule is None


def test_one_table_of_rules_each_with_its_source() -> None:
    assert {r.name for r in AWS_OWNED_RULES} == {
        "aws-managed-policy", "service-linked-role", "aws-reserved-role", "aws-kms-alias"}
    for r in AWS_OWNED_RULES:
        assert r.source.startswith("https://docs.aws.amazon.com/")
        assert r.actions <= AWS_OWNED_ACTIONS
        assert all(a == a.lower() for a in r.actions)
    assert aws_owned_rule("s3:getobject", AWS_POLICY) is None
    assert aws_owned_rule("iam:deletepolicy", "arn:aws-cn:iam::aws:policy/X") is not None

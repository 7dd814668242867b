"""The evaluation rules, one test per rule, pinned to the IAM User Guide.

Sources (IAM User Guide): "Policy evaluation logic" (request context; "Determining whether
a request is allowed or denied within an account", including the table "Resource-based
policies and implicit denies in other policy types"), "Cross-account policy evaluation
logic", "Permissions boundaries for IAM entities", "AWS global condition context keys",
and "Troubleshoot access denied error messages". AWS Organizations User Guide: "Service
control policies (SCPs)", "Resource control policies (RCPs)". AWS KMS Developer Guide:
"Key policies", "Resource control policies in AWS KMS".
"""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.iam import (
    Decision,
    Effect,
    Policy,
    PolicySet,
    PolicyType,
    Request,
    StatementRef,
    evaluate,
    parse_policy,
)
from crossgrant.iam import parse_principal as pp

V = "2012-10-17"
ACCOUNT = "111111111111"
OTHER = "222222222222"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Builder"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-42"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
FED_USER = f"arn:aws:sts::{ACCOUNT}:federated-user/carol"
X_ROLE = f"arn:aws:iam::{OTHER}:role/Reader"
X_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/Reader/job-1"
X_ROOT = f"arn:aws:iam::{OTHER}:root"
S3 = {"service": "s3.amazonaws.com"}
BUCKET_OBJ = "arn:aws:s3:::bucket/key.txt"
GET = "s3:GetObject"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Uploads"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRUSTING_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Target"


def policy(kind: PolicyType, *statements: dict[str, Any], name: str | None = None) -> Policy:
    return parse_policy({"Version": V, "Statement": list(statements)},
                        name=name or kind.name.lower(), policy_type=kind)


def allow(action: str = "*", resource: str = "*", sid: str | None = None,
          **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if sid:
        st["Sid"] = sid
    return st


def deny(action: str = "*", resource: str = "*", sid: str | None = None,
         **extra: Any) -> dict[str, Any]:
    return {**allow(action, resource, sid, **extra), "Effect": "Deny"}


def grant(principal: object, action: str = "*", sid: str | None = None,
          effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    """A resource-policy statement (no Resource: it applies to its own resource)."""
    st: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action, **extra}
    if sid:
        st["Sid"] = sid
    return st


def rgrant(principal: object, action: str = "*", sid: str | None = None,
           effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    """A principal-bearing statement with Resource "*" (RCPs, VPC endpoint policies)."""
    return grant(principal, action, sid, effect, Resource="*", **extra)


def ident(*statements: dict[str, Any]) -> tuple[Policy, ...]:
    return (policy(PolicyType.IDENTITY, *statements, name="identity"),)


def rbp(*statements: dict[str, Any]) -> Policy:
    return policy(PolicyType.RESOURCE, *statements, name="resource")


def boundary(*statements: dict[str, Any]) -> tuple[Policy, ...]:
    return (policy(PolicyType.BOUNDARY, *statements, name="boundary"),)


def session(*statements: dict[str, Any]) -> Policy:
    return policy(PolicyType.SESSION, *statements, name="session")


def scp(*statements: dict[str, Any], name: str = "scp") -> Policy:
    return policy(PolicyType.SCP, *statements, name=name)


def rcp(*statements: dict[str, Any], name: str = "rcp") -> Policy:
    return policy(PolicyType.RCP, *statements, name=name)


def vpce(*statements: dict[str, Any]) -> Policy:
    return policy(PolicyType.VPC_ENDPOINT, *statements, name="vpce")


def run(policies: PolicySet, principal: str | dict[str, str] = ALICE, action: str = GET,
        resource: str = BUCKET_OBJ, *, owner: str | None = ACCOUNT,
        context: dict[str, Any] | None = None) -> Decision:
    request = Request.build(pp(principal), action, resource, resource_account=owner,
                            context=context)
    return evaluate(request, policies)


ALLOW_ALL_ID = ident(allow())
RCP_FULL = rcp(rgrant("*"), name="RCPFullAWSAccess")
SCP_FULL = scp(allow(), name="FullAWSAccess")


# -- Explicit deny wins in every policy type -------------------------------------------------

DENY_SETS: list[tuple[str, PolicySet, PolicyType]] = [
    ("identity", PolicySet(identity=ident(allow(), deny(GET))), PolicyType.IDENTITY),
    ("resource", PolicySet(identity=ALLOW_ALL_ID, resource=rbp(grant("*", GET, effect="Deny"))),
     PolicyType.RESOURCE),
    ("boundary", PolicySet(identity=ALLOW_ALL_ID, boundaries=boundary(allow(), deny(GET))),
     PolicyType.BOUNDARY),
    ("session", PolicySet(identity=ALLOW_ALL_ID, session=session(allow(), deny(GET))),
     PolicyType.SESSION),
    ("scp", PolicySet(identity=ALLOW_ALL_ID, scps=((scp(allow(), deny(GET)),),)),
     PolicyType.SCP),
    ("rcp", PolicySet(identity=ALLOW_ALL_ID, rcps=((rcp(rgrant("*"), rgrant("*", GET,
                                                                     effect="Deny")),),)),
     PolicyType.RCP),
    ("vpce", PolicySet(identity=ALLOW_ALL_ID, vpc_endpoint=vpce(rgrant("*"), rgrant(
        "*", GET, effect="Deny"))), PolicyType.VPC_ENDPOINT),
]


@pytest.mark.parametrize(("label", "policies", "kind"), DENY_SETS, ids=[d[0] for d in DENY_SETS])
def test_explicit_deny_wins_in_every_policy_type(label: str, policies: PolicySet,
                                                 kind: PolicyType) -> None:
    principal = SESSION  # a session: every policy type applies to it
    decision = run(policies, principal)
    assert decision.effect is Effect.EXPLICIT_DENY
    assert decision.denied_by is kind
    assert [r.policy_type for r in decision.because] == [kind]
    assert decision.because[0].effect == "Deny"


def test_explicit_deny_overrides_a_same_account_resource_policy_grant_to_the_session() -> None:
    policies = PolicySet(identity=ident(deny(GET)), resource=rbp(grant({"AWS": SESSION}, GET)))
    assert run(policies, SESSION).effect is Effect.EXPLICIT_DENY


def test_explicit_deny_in_resource_policy_applies_to_cross_account_caller() -> None:
    policies = PolicySet(identity=ALLOW_ALL_ID,
                         resource=rbp(grant({"AWS": X_ROLE}), grant("*", GET, effect="Deny")))
    assert run(policies, X_SESSION).effect is Effect.EXPLICIT_DENY


def test_deny_that_does_not_match_has_no_effect() -> None:
    policies = PolicySet(identity=ident(allow(), deny("s3:PutObject"),
                                        deny(GET, "arn:aws:s3:::other/*")))
    assert run(policies).effect is Effect.ALLOW


def test_nothing_applies_is_an_implicit_deny() -> None:
    decision = run(PolicySet())
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.because == ()


# -- SCPs ------------------------------------------------------------------------------------

def test_every_scp_level_must_allow() -> None:
    levels = ((SCP_FULL,), (scp(allow("s3:*"), name="ou-s3-only"),))
    policies = PolicySet(identity=ALLOW_ALL_ID, scps=levels)
    assert run(policies, action=GET).effect is Effect.ALLOW
    decision = run(policies, action="ec2:RunInstances", resource="*")
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.SCP
    assert decision.reason("ec2:RunInstances") == \
        "because no service control policy allows the ec2:RunInstances action"


def test_within_one_scp_level_any_document_may_allow() -> None:
    level = (scp(allow("ec2:*"), name="a"), scp(allow("s3:*"), name="b"))
    policies = PolicySet(identity=ALLOW_ALL_ID, scps=(level,))
    assert run(policies).effect is Effect.ALLOW


def test_an_scp_level_with_no_allow_denies_even_if_other_levels_allow() -> None:
    levels = ((SCP_FULL,), (SCP_FULL,), (scp(allow("ec2:*"), name="account"),))
    assert run(PolicySet(identity=ALLOW_ALL_ID, scps=levels)).missing is PolicyType.SCP


def test_no_scp_levels_means_not_governed() -> None:
    assert run(PolicySet(identity=ALLOW_ALL_ID, scps=())).effect is Effect.ALLOW


def test_scps_grant_nothing_by_themselves() -> None:
    decision = run(PolicySet(scps=((SCP_FULL,),)))
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.IDENTITY


def test_scps_limit_the_root_user_of_a_member_account() -> None:
    # "The SCP maximum applies to principals in member accounts, including each AWS
    # account root user."
    levels = ((scp(allow("ec2:*"), name="ec2-only"),),)
    decision = run(PolicySet(scps=levels), ROOT)
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.SCP
    assert run(PolicySet(scps=((scp(allow(), deny(GET)),),)), ROOT).effect is \
        Effect.EXPLICIT_DENY


def test_scps_limit_same_account_resource_policy_grants() -> None:
    policies = PolicySet(resource=rbp(grant({"AWS": ALICE}, GET)),
                         scps=((scp(allow("ec2:*"), name="ec2-only"),),))
    assert run(policies).missing is PolicyType.SCP


def test_scps_do_not_apply_to_service_principals() -> None:
    resource = rbp(grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction"))
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ingest"
    for levels in (((scp(allow("ec2:*"), name="ec2-only"),),),
                   ((scp(allow(), deny()),),)):
        policies = PolicySet(resource=resource, scps=levels)
        assert run(policies, S3, "lambda:InvokeFunction", fn).effect is Effect.ALLOW


def test_explicit_deny_in_scp_message() -> None:
    decision = run(PolicySet(identity=ALLOW_ALL_ID, scps=((scp(allow(), deny(GET)),),)))
    assert decision.reason(GET) == "with an explicit deny in a service control policy"


# -- RCPs ------------------------------------------------------------------------------------

def test_an_rcp_level_without_an_allow_still_allows() -> None:
    # AWS Organizations User Guide, "RCP evaluation": RCPFullAWSAccess "is automatically
    # attached to the organization root, every OU, and every account ... You cannot detach
    # this policy", and "RCP syntax": "The effect of Allow is only supported for the
    # RCPFullAWSAccess policy". So a level that lists no allow (or only a narrow one) still
    # lets every request through; only RCP Denies refuse.
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html
    levels = ((RCP_FULL,), (rcp(rgrant("*", "s3:*"), name="ou"),))
    policies = PolicySet(identity=ALLOW_ALL_ID, rcps=levels)
    assert run(policies).effect is Effect.ALLOW
    decision = run(policies, action="sqs:SendMessage",
                   resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    assert decision.effect is Effect.ALLOW
    assert decision.missing is None
    deny_only = rcp(rgrant("*", "s3:PutObject", effect="Deny"), name="deny-only")
    assert run(PolicySet(identity=ALLOW_ALL_ID, rcps=((),))).effect is Effect.ALLOW
    for levels in (((deny_only,),), ((RCP_FULL,), (deny_only,), ())):
        policies = PolicySet(identity=ALLOW_ALL_ID, rcps=levels)
        assert run(policies).effect is Effect.ALLOW
        denied = run(policies, action="s3:PutObject")
        assert denied.effect is Effect.EXPLICIT_DENY
        assert denied.reason("s3:PutObject") == \
            "with an explicit deny in a resource control policy"


def test_no_rcp_levels_means_not_governed() -> None:
    assert run(PolicySet(identity=ALLOW_ALL_ID, rcps=())).effect is Effect.ALLOW


def test_rcps_limit_cross_account_and_anonymous_callers() -> None:
    deny_external = rcp(rgrant("*"), rgrant("*", effect="Deny", sid="EnforceOrgIdentities",
                                          Condition={"StringNotEqualsIfExists": {
                                              "aws:PrincipalOrgID": "o-mine"}}))
    resource = rbp(grant("*", GET))
    policies = PolicySet(identity=ALLOW_ALL_ID, resource=resource, rcps=((deny_external,),))
    outsider = run(policies, X_SESSION, context={"aws:PrincipalOrgID": "o-theirs"})
    assert outsider.effect is Effect.EXPLICIT_DENY
    assert outsider.reason(GET) == "with an explicit deny in a resource control policy"
    assert run(policies, X_SESSION, context={"aws:PrincipalOrgID": "o-mine"}).effect is \
        Effect.ALLOW
    assert run(policies, "anonymous").effect is Effect.EXPLICIT_DENY


def test_rcps_apply_to_requests_by_service_principals() -> None:
    # AWS KMS Developer Guide, "Resource control policies in AWS KMS": its example RCP
    # "requires AWS service principals to access your customer managed KMS keys only when
    # the request originates from your organization" (a Deny on aws:SourceOrgID, present
    # only when aws:SourceAccount is), so an RCP restricts service-principal requests.
    perimeter = rcp(rgrant("*"), rgrant(
        "*", "kms:*", effect="Deny", sid="EnforceConfusedDeputyProtection",
        Condition={"StringNotEqualsIfExists": {"aws:SourceOrgID": "o-mine"},
                   "Bool": {"aws:PrincipalIsAWSService": "true"},
                   "Null": {"aws:SourceAccount": "false"}}))
    key_policy = rbp(grant({"Service": "s3.amazonaws.com"}, "kms:GenerateDataKey"))
    policies = PolicySet(resource=key_policy, rcps=((perimeter,),))
    outside = {"aws:SourceAccount": "999999999999", "aws:SourceOrgID": "o-theirs"}
    inside = {"aws:SourceAccount": OTHER, "aws:SourceOrgID": "o-mine"}
    assert run(policies, S3, "kms:GenerateDataKey", KEY, context=inside).effect is Effect.ALLOW
    assert run(policies, S3, "kms:GenerateDataKey", KEY, context=outside).effect is \
        Effect.EXPLICIT_DENY


# -- VPC endpoint policy -----------------------------------------------------------------------

def test_vpc_endpoint_policy_must_allow_when_present() -> None:
    policies = PolicySet(identity=ALLOW_ALL_ID, vpc_endpoint=vpce(rgrant("*", "s3:PutObject")))
    decision = run(policies)
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.VPC_ENDPOINT
    assert decision.reason(GET) == "because no VPC endpoint policy allows the s3:GetObject action"


# -- Same-account resource policies ----------------------------------------------------------
# "Resource-based policies and implicit denies in other policy types (same account)".

def test_resource_policy_naming_the_user_allows_alone() -> None:
    decision = run(PolicySet(resource=rbp(grant({"AWS": ALICE}, GET, sid="AliceReads"))))
    assert decision.effect is Effect.ALLOW
    assert [r.label for r in decision.because] == ["AliceReads"]


def test_resource_policy_naming_the_user_is_not_limited_by_a_boundary() -> None:
    # "resource-based policies that grant permissions to an IAM user ARN ... are not limited
    # by an implicit deny in an identity-based policy or permissions boundary."
    policies = PolicySet(resource=rbp(grant({"AWS": ALICE}, GET)),
                         boundaries=boundary(allow("ec2:*")))
    assert run(policies).effect is Effect.ALLOW


def test_resource_policy_naming_the_session_is_not_limited_by_boundary_or_session() -> None:
    policies = PolicySet(resource=rbp(grant({"AWS": SESSION}, GET)),
                         boundaries=boundary(allow("ec2:*")),
                         session=session(allow("ec2:*")))
    assert run(policies, SESSION).effect is Effect.ALLOW


def test_resource_policy_naming_the_federated_user_session_allows_alone() -> None:
    policies = PolicySet(resource=rbp(grant({"AWS": FED_USER}, GET)),
                         session=session(allow("ec2:*")))
    assert run(policies, FED_USER).effect is Effect.ALLOW


def test_resource_policy_naming_the_role_allows_without_identity_policy() -> None:
    assert run(PolicySet(resource=rbp(grant({"AWS": ROLE}, GET))), SESSION).effect is \
        Effect.ALLOW


def test_resource_policy_naming_the_role_is_limited_by_a_boundary() -> None:
    # "Resource-based policies that grant permissions to an IAM role ARN are limited by an
    # implicit deny in a permissions boundary or session policy."
    policies = PolicySet(resource=rbp(grant({"AWS": ROLE}, GET)),
                         boundaries=boundary(allow("ec2:*")))
    assert run(policies, SESSION).effect is Effect.IMPLICIT_DENY
    with_bnd = PolicySet(resource=policies.resource, boundaries=boundary(allow("s3:*")))
    assert run(with_bnd, SESSION).effect is Effect.ALLOW


def test_resource_policy_naming_the_role_is_limited_by_a_session_policy() -> None:
    policies = PolicySet(resource=rbp(grant({"AWS": ROLE}, GET)), session=session(allow("ec2:*")))
    assert run(policies, SESSION).effect is Effect.IMPLICIT_DENY
    allowed = PolicySet(resource=policies.resource, session=session(allow(GET)))
    assert run(allowed, SESSION).effect is Effect.ALLOW


@pytest.mark.parametrize("named", [ACCOUNT, ROOT])
def test_resource_policy_naming_the_account_delegates_to_identity_policies(named: str) -> None:
    resource = rbp(grant({"AWS": named}, GET))
    decision = run(PolicySet(resource=resource), SESSION)
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.IDENTITY
    assert decision.reason(GET) == \
        "because no identity-based policy allows the s3:GetObject action"
    assert run(PolicySet(resource=resource, identity=ident(allow(GET))), SESSION).effect is \
        Effect.ALLOW


def test_same_account_identity_policy_alone_is_enough() -> None:
    assert run(PolicySet(identity=ident(allow(GET)))).effect is Effect.ALLOW
    other_user = rbp(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, GET))
    assert run(PolicySet(identity=ident(allow(GET)), resource=other_user)).effect is Effect.ALLOW


def test_identity_allow_is_limited_by_boundary_and_session_policy() -> None:
    bounded = run(PolicySet(identity=ALLOW_ALL_ID, boundaries=boundary(allow("ec2:*"))))
    assert bounded.effect is Effect.IMPLICIT_DENY
    assert bounded.missing is PolicyType.BOUNDARY
    assert bounded.reason(GET) == "because no permissions boundary allows the s3:GetObject action"
    limited = run(PolicySet(identity=ALLOW_ALL_ID, session=session(allow("ec2:*"))), SESSION)
    assert limited.effect is Effect.IMPLICIT_DENY
    assert limited.missing is PolicyType.SESSION
    assert limited.reason(GET) == "because no session policy allows the s3:GetObject action"


def test_every_boundary_document_must_allow() -> None:
    two = (policy(PolicyType.BOUNDARY, allow("s3:*"), name="b1"),
           policy(PolicyType.BOUNDARY, allow("ec2:*"), name="b2"))
    assert run(PolicySet(identity=ALLOW_ALL_ID, boundaries=two)).missing is PolicyType.BOUNDARY


def test_federated_user_without_session_policy_is_denied() -> None:
    # Policy evaluation logic, "Session policies": "If there is no session policy, the code
    # checks whether the principal is a role session. If the principal is a role session,
    # then the request is Allowed. Otherwise, the request is implicitly denied".
    decision = run(PolicySet(identity=ident(allow(GET))), FED_USER)
    assert decision.effect is Effect.IMPLICIT_DENY


def test_federated_user_with_allowing_session_policy_is_allowed() -> None:
    policies = PolicySet(identity=ident(allow(GET)), session=session(allow(GET)))
    assert run(policies, FED_USER).effect is Effect.ALLOW


# -- Cross-account: both sides must allow -----------------------------------------------------

def test_cross_account_needs_identity_and_resource_policy() -> None:
    resource = rbp(grant({"AWS": X_ROLE}, GET, sid="ReaderRole"))
    both = run(PolicySet(identity=ident(allow(GET, sid="ReadBucket")), resource=resource),
               X_SESSION)
    assert both.effect is Effect.ALLOW
    assert {r.label for r in both.because} == {"ReaderRole", "ReadBucket"}

    no_identity = run(PolicySet(resource=resource), X_SESSION)
    assert no_identity.effect is Effect.IMPLICIT_DENY
    assert no_identity.missing is PolicyType.IDENTITY

    no_resource = run(PolicySet(identity=ident(allow(GET))), X_SESSION)
    assert no_resource.effect is Effect.IMPLICIT_DENY
    assert no_resource.missing is PolicyType.RESOURCE
    assert no_resource.reason(GET) == \
        "because no resource-based policy allows the s3:GetObject action"


@pytest.mark.parametrize("named", [OTHER, X_ROOT, X_ROLE, X_SESSION])
def test_cross_account_resource_policy_naming_the_caller_still_needs_identity(
        named: str) -> None:
    resource = rbp(grant({"AWS": named}, GET))
    assert run(PolicySet(resource=resource), X_SESSION).effect is Effect.IMPLICIT_DENY
    assert run(PolicySet(resource=resource, identity=ident(allow(GET))), X_SESSION).effect is \
        Effect.ALLOW


def test_cross_account_is_limited_by_the_callers_boundary_and_session_policy() -> None:
    resource = rbp(grant({"AWS": X_SESSION}, GET))
    bounded = PolicySet(identity=ident(allow(GET)), resource=resource,
                        boundaries=boundary(allow("ec2:*")))
    assert run(bounded, X_SESSION).missing is PolicyType.BOUNDARY
    limited = PolicySet(identity=ident(allow(GET)), resource=resource,
                        session=session(allow("ec2:*")))
    assert run(limited, X_SESSION).missing is PolicyType.SESSION


def test_cross_account_resource_policy_naming_someone_else_does_not_help() -> None:
    resource = rbp(grant({"AWS": f"arn:aws:iam::{OTHER}:role/Writer"}, GET))
    decision = run(PolicySet(identity=ident(allow(GET)), resource=resource), X_SESSION)
    assert decision.missing is PolicyType.RESOURCE


def test_cross_account_owner_is_read_off_the_resource_arn() -> None:
    # The table's ARN names account 111111111111; the caller is in 222222222222.
    decision = run(PolicySet(identity=ident(allow("dynamodb:GetItem"))), X_SESSION,
                   "dynamodb:GetItem", TABLE, owner=None)
    assert decision.missing is PolicyType.RESOURCE


# -- KMS key policies and role trust policies must allow, even in the same account ------------

def test_kms_identity_policy_alone_is_not_enough() -> None:
    decision = run(PolicySet(identity=ident(allow("kms:*"))), SESSION, "kms:Decrypt", KEY)
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.RESOURCE
    assert decision.reason("kms:Decrypt") == \
        "because no resource-based policy allows the kms:Decrypt action"


def test_kms_default_key_policy_delegates_to_identity_policies() -> None:
    key_policy = rbp(grant({"AWS": ROOT}, "kms:*", sid="Enable IAM User Permissions"))
    without = run(PolicySet(resource=key_policy), SESSION, "kms:Decrypt", KEY)
    assert without.missing is PolicyType.IDENTITY
    with_id = run(PolicySet(resource=key_policy, identity=ident(allow("kms:Decrypt"))),
                  SESSION, "kms:Decrypt", KEY)
    assert with_id.effect is Effect.ALLOW


def test_kms_key_policy_naming_the_role_allows_alone() -> None:
    key_policy = rbp(grant({"AWS": ROLE}, "kms:Decrypt"))
    assert run(PolicySet(resource=key_policy), SESSION, "kms:Decrypt", KEY).effect is \
        Effect.ALLOW


def test_kms_key_policy_must_allow_even_the_root_user() -> None:
    assert run(PolicySet(), ROOT, "kms:Decrypt", KEY).missing is PolicyType.RESOURCE


@pytest.mark.parametrize("action", ["kms:CreateKey", "kms:ListKeys"])
def test_kms_actions_without_a_key_are_granted_by_identity_policies(action: str) -> None:
    # Key policies govern access to a key; creating or listing keys is authorized by IAM
    # policies alone (Resource "*").
    assert run(PolicySet(identity=ident(allow(action))), SESSION, action, "*").effect is \
        Effect.ALLOW


def test_cross_account_assume_role_needs_trust_and_identity() -> None:
    trust = rbp(grant({"AWS": X_ROLE}, "sts:AssumeRole"))
    both = PolicySet(identity=ident(allow("sts:AssumeRole", TRUSTING_ROLE)), resource=trust)
    assert run(both, X_SESSION, "sts:AssumeRole", TRUSTING_ROLE).effect is Effect.ALLOW
    assert run(PolicySet(resource=trust), X_SESSION, "sts:AssumeRole",
               TRUSTING_ROLE).missing is PolicyType.IDENTITY
    assert run(PolicySet(identity=both.identity), X_SESSION, "sts:AssumeRole",
               TRUSTING_ROLE).missing is PolicyType.RESOURCE


def test_role_trust_policy_is_required_in_the_same_account() -> None:
    decision = run(PolicySet(identity=ident(allow("sts:AssumeRole"))), ALICE,
                   "sts:AssumeRole", TRUSTING_ROLE)
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.missing is PolicyType.RESOURCE
    trust = rbp(grant({"AWS": ALICE}, "sts:AssumeRole"))
    assert run(PolicySet(resource=trust), ALICE, "sts:AssumeRole", TRUSTING_ROLE).effect is \
        Effect.ALLOW
    trust_account = rbp(grant({"AWS": ACCOUNT}, "sts:AssumeRole"))
    assert run(PolicySet(resource=trust_account), ALICE, "sts:AssumeRole",
               TRUSTING_ROLE).missing is PolicyType.IDENTITY


# -- The root user ---------------------------------------------------------------------------

def test_root_user_has_full_access_in_its_account() -> None:
    # "all requests are implicitly denied with the exception of the AWS account root user,
    # which has full access."
    assert run(PolicySet(), ROOT).effect is Effect.ALLOW
    assert run(PolicySet(), ROOT, "ec2:RunInstances", "*").effect is Effect.ALLOW


def test_root_user_still_needs_the_other_accounts_resource_policy() -> None:
    bucket = "arn:aws:s3:::theirs/x"
    assert run(PolicySet(), X_ROOT, GET, bucket, owner=ACCOUNT).missing is PolicyType.RESOURCE
    resource = rbp(grant({"AWS": OTHER}, GET))
    assert run(PolicySet(resource=resource), X_ROOT, GET, bucket, owner=ACCOUNT).effect is \
        Effect.ALLOW


def test_explicit_deny_applies_to_the_root_user() -> None:
    resource = rbp(grant("*", GET, effect="Deny"))
    assert run(PolicySet(resource=resource), ROOT).effect is Effect.EXPLICIT_DENY


# -- Principals outside IAM --------------------------------------------------------------------

def test_service_principal_needs_a_resource_policy() -> None:
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ingest"
    assert run(PolicySet(identity=ALLOW_ALL_ID), S3, "lambda:InvokeFunction", fn).missing is \
        PolicyType.RESOURCE
    resource = rbp(grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction"))
    assert run(PolicySet(resource=resource), S3, "lambda:InvokeFunction", fn).effect is \
        Effect.ALLOW


def test_resource_policy_deny_to_everyone_reaches_services() -> None:
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ingest"
    resource = rbp(grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction"),
                   grant("*", "lambda:InvokeFunction", effect="Deny"))
    assert run(PolicySet(resource=resource), S3, "lambda:InvokeFunction", fn).effect is \
        Effect.EXPLICIT_DENY


def test_anonymous_caller_needs_a_public_grant() -> None:
    assert run(PolicySet(resource=rbp(grant({"AWS": ACCOUNT}, GET))), "anonymous").effect is \
        Effect.IMPLICIT_DENY
    assert run(PolicySet(resource=rbp(grant("*", GET))), "anonymous").effect is Effect.ALLOW


# -- Derived request-context keys ------------------------------------------------------------

def key_holds(key: str, value: str, principal: str | dict[str, str], *,
              op: str = "StringEquals", **kw: Any) -> bool:
    """Does `op` hold for `key` in the request context? Probed with a resource-policy Deny
    for everyone under that condition: denies reach every caller, the root user and
    principals outside IAM included."""
    probe = rbp(grant("*", "*", effect="Deny", Condition={op: {key: value}}))
    return run(PolicySet(resource=probe), principal, **kw).effect is Effect.EXPLICIT_DENY


@pytest.mark.parametrize(("principal", "arn"), [
    (SESSION, ROLE),  # a session's aws:PrincipalArn is its role's ARN
    (ALICE, ALICE),
    (ROOT, ROOT),
    (FED_USER, FED_USER),
])
def test_principal_arn(principal: str, arn: str) -> None:
    assert key_holds("aws:PrincipalArn", arn, principal, op="ArnEquals")


def test_session_principal_arn_is_not_the_session_arn() -> None:
    assert not key_holds("aws:PrincipalArn", SESSION, SESSION)


@pytest.mark.parametrize("principal", [ALICE, SESSION, ROOT, FED_USER])
def test_principal_account(principal: str) -> None:
    assert key_holds("aws:PrincipalAccount", ACCOUNT, principal)
    assert not key_holds("aws:PrincipalAccount", OTHER, principal)


@pytest.mark.parametrize(("principal", "kind"), [
    (ALICE, "User"),
    (SESSION, "AssumedRole"),
    (ROOT, "Account"),
    (FED_USER, "FederatedUser"),
    ("anonymous", "Anonymous"),
])
def test_principal_type(principal: str, kind: str) -> None:
    assert key_holds("aws:PrincipalType", kind, principal)


def test_username_is_present_for_users_only() -> None:
    assert key_holds("aws:username", "alice", ALICE)
    assert not key_holds("aws:username", "alice", SESSION)
    assert key_holds("aws:username", "true", SESSION, op="Null")
    assert key_holds("aws:username", "true", ROOT, op="Null")


def test_resource_account_from_the_request_or_the_arn() -> None:
    assert key_holds("aws:ResourceAccount", OTHER, ALICE, owner=OTHER)
    assert key_holds("aws:ResourceAccount", ACCOUNT, ALICE, action="dynamodb:GetItem",
                     resource=TABLE, owner=None)


def test_principal_is_aws_service() -> None:
    assert key_holds("aws:PrincipalIsAWSService", "true", S3, op="Bool")
    assert key_holds("aws:PrincipalIsAWSService", "false", ALICE, op="Bool")
    assert key_holds("aws:PrincipalServiceName", "s3.amazonaws.com", S3)


def test_principal_keys_are_absent_for_anonymous_callers() -> None:
    assert key_holds("aws:PrincipalAccount", "true", "anonymous", op="Null")
    assert key_holds("aws:PrincipalArn", "true", "anonymous", op="Null")


@pytest.mark.parametrize("spelling", ["aws:PrincipalAccount", "AWS:PRINCIPALACCOUNT"])
def test_context_given_explicitly_wins_over_derived_keys(spelling: str) -> None:
    ctx = {spelling: "999999999999"}
    assert key_holds("aws:PrincipalAccount", "999999999999", ALICE, context=ctx)
    assert not key_holds("aws:PrincipalAccount", ACCOUNT, ALICE, context=ctx)


def test_given_resource_account_context_wins() -> None:
    ctx = {"aws:ResourceAccount": "999999999999"}
    assert key_holds("aws:ResourceAccount", "999999999999", ALICE, context=ctx)


# -- Decision.because, missing, reason() -------------------------------------------------------

def test_because_labels_name_document_and_sid_or_index() -> None:
    policies = PolicySet(identity=(
        policy(PolicyType.IDENTITY, allow("ec2:*"), allow(GET), name="team-policy"),
        policy(PolicyType.IDENTITY, allow(GET, sid="ReadAll"), name="extra-policy")))
    decision = run(policies)
    assert decision.effect is Effect.ALLOW
    assert [(r.document, r.label) for r in decision.because] == \
        [("team-policy", "#1"), ("extra-policy", "ReadAll")]
    assert all(isinstance(r, StatementRef) for r in decision.because)
    assert decision.because[0].as_json() == {"document": "team-policy", "statement": "#1",
                                             "effect": "Allow"}


def test_because_lists_every_applicable_deny() -> None:
    policies = PolicySet(identity=ident(allow(), deny(GET, sid="NoGet"), deny("s3:*")),
                         scps=((scp(allow(), deny(GET, sid="OrgNoGet")),),))
    decision = run(policies)
    assert decision.effect is Effect.EXPLICIT_DENY
    assert {(r.policy_type, r.label) for r in decision.because} == {
        (PolicyType.IDENTITY, "NoGet"), (PolicyType.IDENTITY, "#2"),
        (PolicyType.SCP, "OrgNoGet")}
    assert all(r.effect == "Deny" for r in decision.because)


def test_implicit_deny_has_no_because_and_names_what_is_missing() -> None:
    decision = run(PolicySet(identity=ident(allow("ec2:*"))))
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.because == ()
    assert decision.missing is PolicyType.IDENTITY
    assert decision.denied_by is None
    assert not decision.allowed


def test_allow_has_no_missing() -> None:
    decision = run(PolicySet(identity=ident(allow(GET))))
    assert decision.allowed
    assert decision.missing is None
    assert decision.denied_by is None


@pytest.mark.parametrize(("policies", "text"), [
    (PolicySet(identity=ident(allow(), deny(GET))),
     "with an explicit deny in an identity-based policy"),
    (PolicySet(identity=ALLOW_ALL_ID, resource=rbp(grant("*", GET, effect="Deny"))),
     "with an explicit deny in a resource-based policy"),
    (PolicySet(identity=ALLOW_ALL_ID, boundaries=boundary(allow(), deny(GET))),
     "with an explicit deny in a permissions boundary"),
    (PolicySet(identity=ALLOW_ALL_ID, session=session(allow(), deny(GET))),
     "with an explicit deny in a session policy"),
    (PolicySet(identity=ALLOW_ALL_ID, scps=((scp(allow(), deny(GET)),),)),
     "with an explicit deny in a service control policy"),
    (PolicySet(identity=ALLOW_ALL_ID, rcps=((rcp(rgrant("*"), rgrant("*", GET, effect="Deny")),),)),
     "with an explicit deny in a resource control policy"),
    (PolicySet(identity=ALLOW_ALL_ID, vpc_endpoint=vpce(rgrant("*"), rgrant("*", GET,
                                                                          effect="Deny"))),
     "with an explicit deny in a VPC endpoint policy"),
])
def test_explicit_deny_reason_texts(policies: PolicySet, text: str) -> None:
    # AWS's AccessDenied wording, e.g. "... with an explicit deny in an identity-based
    # policy" (IAM User Guide, "Troubleshoot access denied error messages").
    assert run(policies, SESSION).reason(GET) == text


def test_explain_names_effect_reason_and_statements() -> None:
    decision = run(PolicySet(identity=ident(allow(), deny(GET, sid="NoGet"))))
    line = decision.explain(GET)
    assert line.startswith("ExplicitDeny")
    assert "NoGet" in line
    assert "identity" in line
    assert run(PolicySet(identity=ident(allow(GET)))).explain(GET).startswith("Allow")

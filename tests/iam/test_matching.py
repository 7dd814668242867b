"""Action, Resource and Principal matching, pinned to the IAM User Guide.

Sources (IAM User Guide): "IAM JSON policy elements: Action / NotAction", "Resource /
NotResource" (section "Using wildcards in resource ARNs"), "AWS JSON policy elements:
Principal / NotPrincipal", and "Permissions boundaries for IAM entities".
"""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.iam import Effect, PolicySet, PolicyType, Request, evaluate, parse_policy
from crossgrant.iam import parse_principal as pp

V = "2012-10-17"
ACCOUNT = "111111111111"
OTHER = "222222222222"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Builder"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-42"
OTHER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-43"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
FED_USER = f"arn:aws:sts::{ACCOUNT}:federated-user/carol"
X_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/Builder/build-42"
OBJECT = "arn:aws:s3:::bucket/key.txt"


def identity(*statements: dict[str, Any], version: str = V) -> PolicySet:
    return PolicySet(identity=(parse_policy({"Version": version, "Statement": list(statements)},
                                            name="identity"),))


def resource_policy(*statements: dict[str, Any], **extra: Any) -> PolicySet:
    policy = parse_policy({"Version": V, "Statement": list(statements)}, name="resource",
                          policy_type=PolicyType.RESOURCE)
    return PolicySet(resource=policy, **extra)


def decide(policies: PolicySet, action: str = "s3:GetObject", resource: str = OBJECT, *,
           principal: str | dict[str, str] = ALICE, owner: str | None = None,
           context: dict[str, Any] | None = None) -> Effect:
    request = Request.build(pp(principal), action, resource, resource_account=owner,
                            context=context)
    return evaluate(request, policies).effect


def action_allows(pattern: str | list[str], action: str) -> bool:
    policies = identity({"Effect": "Allow", "Action": pattern, "Resource": "*"})
    return decide(policies, action) is Effect.ALLOW


def resource_allows(pattern: str | list[str], resource: str, *,
                    context: dict[str, Any] | None = None, version: str = V) -> bool:
    policies = identity({"Effect": "Allow", "Action": "*", "Resource": pattern},
                        version=version)
    # The owner is fixed to the caller's account so that only the pattern decides.
    return decide(policies, "s3:GetObject", resource, owner=ACCOUNT,
                  context=context) is Effect.ALLOW


# -- Actions ----------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("s3:GetObject", "s3:GetObject", True),
    ("s3:getobject", "s3:GetObject", True),  # action names are case-insensitive
    ("S3:GETOBJECT", "s3:getObject", True),
    ("s3:GetObject", "s3:GetObjectAcl", False),
    ("s3:Get*", "s3:GetObject", True),
    ("s3:get*", "s3:GetObjectVersion", True),
    ("s3:Get*", "s3:PutObject", False),
    ("s3:*Object", "s3:PutObject", True),
    ("s3:*Object", "s3:PutObjectAcl", False),
    ("iam:*AccessKey*", "iam:CreateAccessKey", True),
    ("iam:*AccessKey*", "iam:ListAccessKeys", True),
    ("s3:?etObject", "s3:GetObject", True),
    ("s3:?etObject", "s3:SetObject", True),
    ("s3:?etObject", "s3:GeetObject", False),
    ("s3:*", "s3:GetObject", True),
    ("s3:*", "s3express:CreateSession", False),  # the wildcard stays after the colon
    ("*", "ec2:RunInstances", True),
    (["sqs:SendMessage", "s3:GetObject"], "s3:GetObject", True),
    ("dynamodb:GetItem", "s3:GetObject", False),
])
def test_action_matching(pattern: str | list[str], action: str, expected: bool) -> None:
    assert action_allows(pattern, action) is expected


def test_not_action_allow_covers_everything_else() -> None:
    policies = identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(policies, "s3:GetObject") is Effect.ALLOW
    assert decide(policies, "iam:CreateUser") is Effect.IMPLICIT_DENY
    assert decide(policies, "IAM:createuser") is Effect.IMPLICIT_DENY


def test_not_action_deny() -> None:
    policies = identity(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": ["iam:Get*", "iam:List*"], "Resource": "*"})
    assert decide(policies, "iam:GetUser") is Effect.ALLOW
    assert decide(policies, "iam:DeleteUser") is Effect.EXPLICIT_DENY
    assert decide(policies, "s3:GetObject") is Effect.EXPLICIT_DENY


def test_documented_explicit_vs_implicit_example() -> None:
    # "The difference between explicit and implicit denies" example policy.
    policies = identity(
        {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"],
         "Resource": "*"},
        {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"})
    assert decide(policies, "iam:GetUser") is Effect.ALLOW
    assert decide(policies, "iam:CreatePolicy") is Effect.IMPLICIT_DENY
    assert decide(policies, "iam:GetOrganizationsAccessReport") is Effect.EXPLICIT_DENY
    assert decide(policies, "iam:GenerateCredentialReport") is Effect.EXPLICIT_DENY


# -- Resources -----------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "resource", "expected"), [
    ("*", OBJECT, True),
    (OBJECT, OBJECT, True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c.txt", True),  # * crosses '/'
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket-2/x", True),
    ("arn:aws:s3:::bucket/a?c", "arn:aws:s3:::bucket/abc", True),
    ("arn:aws:s3:::bucket/a?c", "arn:aws:s3:::bucket/abbc", False),
    # case-sensitive, unlike actions
    ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/key.txt", False),
    ("arn:aws:s3:::bucket/KEY.txt", OBJECT, False),
    ("arn:aws:iam::111111111111:user/Bob", "arn:aws:iam::111111111111:user/bob", False),
    # "all IAM users whose path is /accounting"
    ("arn:aws:iam::111111111111:user/accounting/*",
     "arn:aws:iam::111111111111:user/accounting/eu/alice", True),
    ("arn:aws:iam::111111111111:user/accounting/*",
     "arn:aws:iam::111111111111:user/sales/alice", False),
    # wildcards inside the region and account segments
    ("arn:aws:dynamodb:*:111111111111:table/T", "arn:aws:dynamodb:us-east-1:111111111111:table/T",
     True),
    ("arn:aws:dynamodb:us-east-1:*:table/T", "arn:aws:dynamodb:us-east-1:111111111111:table/T",
     True),
    ("arn:aws:dynamodb:*:*:table/T", "arn:aws:dynamodb:eu-west-1:111111111111:table/T", True),
    ("arn:aws:dynamodb:us-*-1:*:table/T", "arn:aws:dynamodb:us-east-1:111111111111:table/T",
     True),
    ("arn:aws:dynamodb:us-*-1:*:table/T", "arn:aws:dynamodb:eu-west-2:222222222222:table/T",
     False),
    ("arn:aws:dynamodb:us-east-?:*:table/T", "arn:aws:dynamodb:us-east-2:111111111111:table/T",
     True),
    ("arn:aws:dynamodb:*:111111111111:table/T", "arn:aws:dynamodb:us-east-1:222222222222:table/T",
     False),
    # in the resource segment a * also crosses colons
    ("arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/fn:*",
     "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/fn:log-stream:2024/01/01", True),
    ("arn:aws:lambda:us-east-1:111111111111:function:*",
     "arn:aws:lambda:us-east-1:111111111111:function:ingest:prod", True),
    ("arn:aws:s3:::*", "arn:aws:dynamodb:us-east-1:111111111111:table/T", False),
    ("arn:aws-cn:s3:::bucket/*", OBJECT, False),  # partition is matched too
])
def test_resource_matching(pattern: str, resource: str, expected: bool) -> None:
    assert resource_allows(pattern, resource) is expected


@pytest.mark.parametrize(("pattern", "resource"), [
    ("arn:aws:ec2:*", "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc"),
    ("arn:aws:sqs:us-east-1:*", "arn:aws:sqs:us-east-1:111111111111:queue1"),
    ("arn:aws:dynamodb:us-east-1:111111111111*", "arn:aws:dynamodb:us-east-1:111111111111:table/T"),
])
def test_star_ending_a_segment_can_expand_beyond_colons(pattern: str, resource: str) -> None:
    # Resource element, "Using wildcards in resource ARNs": "If the * wildcard is the last
    # character of a resource ARN segment, it can expand to match beyond the colon
    # boundaries."
    assert resource_allows(pattern, resource)


def test_star_inside_a_segment_stays_inside_it() -> None:
    # Wildcards work "within the individual segments of an ARN"; only a * that ends a
    # segment may expand past the colon. "us-*2" has its * inside the region segment.
    pattern = "arn:aws:someservice:us-*2:111111111111:finance/*"
    inside = "arn:aws:someservice:us-east-2:111111111111:finance/doc.txt"
    across = "arn:aws:someservice:us-east-2:999999999999:store/v2:111111111111:finance/doc.txt"
    assert resource_allows(pattern, inside)
    assert not resource_allows(pattern, across)


def test_not_resource_allow() -> None:
    policies = identity({"Effect": "Allow", "Action": "s3:*",
                         "NotResource": "arn:aws:s3:::secret/*"})
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::public/x") is Effect.ALLOW
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::secret/x") is Effect.IMPLICIT_DENY


def test_not_resource_deny() -> None:
    policies = identity(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*",
         "NotResource": ["arn:aws:s3:::mine", "arn:aws:s3:::mine/*"]})
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::mine/x") is Effect.ALLOW
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::theirs/x") is Effect.EXPLICIT_DENY


def test_policy_variable_in_resource() -> None:
    pattern = "arn:aws:s3:::home/${aws:username}/*"
    assert resource_allows(pattern, "arn:aws:s3:::home/alice/notes.txt")
    assert not resource_allows(pattern, "arn:aws:s3:::home/bob/notes.txt")


def test_policy_variable_in_resource_without_value_matches_nothing() -> None:
    policies = identity({"Effect": "Allow", "Action": "s3:*",
                         "Resource": "arn:aws:s3:::home/${aws:username}/*"})
    # a role session has no aws:username
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::home/build-42/x",
                  principal=SESSION) is Effect.IMPLICIT_DENY


def test_tag_variable_with_default_in_resource() -> None:
    pattern = "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*"
    tagged = {"aws:PrincipalTag/team": "blue"}
    assert resource_allows(pattern, "arn:aws:s3:::teams/blue/x", context=tagged)
    assert not resource_allows(pattern, "arn:aws:s3:::teams/shared/x", context=tagged)
    assert resource_allows(pattern, "arn:aws:s3:::teams/shared/x")


def test_escaped_star_in_resource_is_literal() -> None:
    pattern = "arn:aws:s3:::bucket/${*}"
    assert resource_allows(pattern, "arn:aws:s3:::bucket/*")
    assert not resource_allows(pattern, "arn:aws:s3:::bucket/anything")


def test_resource_variables_are_literal_in_2008_documents() -> None:
    pattern = "arn:aws:s3:::home/${aws:username}/*"
    assert not resource_allows(pattern, "arn:aws:s3:::home/alice/x", version="2008-10-17")
    assert resource_allows(pattern, "arn:aws:s3:::home/${aws:username}/x",
                           version="2008-10-17")


# -- Principals ----------------------------------------------------------------------------
# Same-account resource policies grant on their own when they name the caller directly
# (user, session, everyone) or by role ARN, and delegate to identity policies when they
# name the account. With no identity policy at all, the decision shows which it was.

def rbp_allow(principal: object, *, not_principal: bool = False) -> PolicySet:
    key = "NotPrincipal" if not_principal else "Principal"
    return resource_policy({"Sid": "Grant", "Effect": "Allow", key: principal,
                            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"})


@pytest.mark.parametrize(("principal", "caller", "expected"), [
    ({"AWS": ALICE}, ALICE, Effect.ALLOW),
    ({"AWS": ALICE}, BOB, Effect.IMPLICIT_DENY),
    ({"AWS": "arn:aws:iam::111111111111:user/Alice"}, ALICE, Effect.IMPLICIT_DENY),  # case
    ({"AWS": ROLE}, SESSION, Effect.ALLOW),  # a role ARN covers its sessions
    ({"AWS": ROLE}, OTHER_SESSION, Effect.ALLOW),
    ({"AWS": ROLE}, f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/build-42",
     Effect.IMPLICIT_DENY),
    ({"AWS": ROLE}, X_SESSION, Effect.IMPLICIT_DENY),  # same role name, other account
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci/Builder"}, SESSION, Effect.ALLOW),  # path
    ({"AWS": SESSION}, SESSION, Effect.ALLOW),  # a session ARN covers that session only
    ({"AWS": SESSION}, OTHER_SESSION, Effect.IMPLICIT_DENY),
    ({"AWS": FED_USER}, FED_USER, Effect.ALLOW),
    ({"AWS": FED_USER}, ALICE, Effect.IMPLICIT_DENY),
    ({"AWS": [BOB, ALICE]}, ALICE, Effect.ALLOW),  # a list is an OR
    ("*", ALICE, Effect.ALLOW),
    ({"AWS": "*"}, ALICE, Effect.ALLOW),
    ("*", "anonymous", Effect.ALLOW),
    ({"AWS": "*"}, "anonymous", Effect.ALLOW),  # equivalent to "*" for anonymous users
    ({"AWS": ACCOUNT}, "anonymous", Effect.IMPLICIT_DENY),
    ({"AWS": ALICE}, "anonymous", Effect.IMPLICIT_DENY),
    ({"Service": "s3.amazonaws.com"}, {"service": "s3.amazonaws.com"}, Effect.ALLOW),
    ({"Service": "sns.amazonaws.com"}, {"service": "s3.amazonaws.com"}, Effect.IMPLICIT_DENY),
    ({"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]}, {"service": "s3.amazonaws.com"},
     Effect.ALLOW),
    ({"AWS": ACCOUNT}, {"service": "s3.amazonaws.com"}, Effect.IMPLICIT_DENY),
    ({"Service": "s3.amazonaws.com"}, ALICE, Effect.IMPLICIT_DENY),
    ({"Federated": "cognito-identity.amazonaws.com"},
     {"federated": "cognito-identity.amazonaws.com"}, Effect.ALLOW),
    ({"Service": "cognito-identity.amazonaws.com"},
     {"federated": "cognito-identity.amazonaws.com"}, Effect.IMPLICIT_DENY),
    ({"Federated": "cognito-identity.amazonaws.com"},
     {"service": "cognito-identity.amazonaws.com"}, Effect.IMPLICIT_DENY),
])
def test_principal_element(principal: object, caller: Any, expected: Effect) -> None:
    assert decide(rbp_allow(principal), principal=caller) is expected


@pytest.mark.parametrize("principal", [{"AWS": ACCOUNT}, {"AWS": ROOT}])
@pytest.mark.parametrize("caller", [ALICE, SESSION])
def test_account_id_and_root_arn_both_delegate_to_the_account(principal: object,
                                                             caller: str) -> None:
    # "The account ARN and the shortened account ID behave the same way. Both delegate
    # permissions to the account. Using the account ARN in the Principal element does not
    # limit permissions to only the root user of the account."
    alone = rbp_allow(principal)
    assert decide(alone, principal=caller) is Effect.IMPLICIT_DENY  # needs identity policy
    with_identity = PolicySet(
        resource=alone.resource,
        identity=identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}).identity)
    assert decide(with_identity, principal=caller) is Effect.ALLOW


@pytest.mark.parametrize("principal", [{"AWS": ACCOUNT}, {"AWS": ROOT}])
def test_account_principal_covers_the_root_user(principal: object) -> None:
    assert decide(rbp_allow(principal), principal=ROOT) is Effect.ALLOW


def test_account_principal_names_a_trusted_account() -> None:
    with_identity = PolicySet(
        resource=rbp_allow({"AWS": OTHER}).resource,
        identity=identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}).identity)
    assert decide(with_identity, principal=X_SESSION, owner=ACCOUNT) is Effect.ALLOW
    eve = "arn:aws:iam::333333333333:user/eve"
    assert decide(with_identity, principal=eve, owner=ACCOUNT) is Effect.IMPLICIT_DENY


# -- NotPrincipal --------------------------------------------------------------------------

def deny_all_but(*names: str, **extra: Any) -> PolicySet:
    return resource_policy(
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
         "Resource": "arn:aws:s3:::bucket/*"},
        {"Sid": "ExceptListed", "Effect": "Deny", "NotPrincipal": {"AWS": list(names)},
         "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*"},
        **extra)


def test_not_principal_deny_spares_the_listed_user_and_account() -> None:
    # The NotPrincipal page's first example: list the user and its account.
    policies = deny_all_but(ALICE, ROOT)
    assert decide(policies, principal=ALICE) is Effect.ALLOW
    assert decide(policies, principal=BOB) is Effect.EXPLICIT_DENY
    assert decide(policies, principal="anonymous") is Effect.EXPLICIT_DENY
    assert decide(policies, principal={"service": "s3.amazonaws.com"}) is Effect.EXPLICIT_DENY


def test_not_principal_deny_spares_the_listed_session_role_and_account() -> None:
    # The NotPrincipal page's second example: session, role and account.
    policies = deny_all_but(SESSION, ROLE, ROOT)
    assert decide(policies, principal=SESSION) is Effect.ALLOW
    assert decide(policies, principal=OTHER_SESSION) is Effect.EXPLICIT_DENY
    assert decide(policies, principal=ALICE) is Effect.EXPLICIT_DENY


def test_not_principal_deny_always_hits_a_caller_with_a_permissions_boundary() -> None:
    # Permissions boundaries page: "The NotPrincipal element with a Deny effect will always
    # deny any IAM principal that has a permissions boundary policy attached, regardless of
    # the values specified in the NotPrincipal element."
    boundary = parse_policy({"Version": V, "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, name="boundary",
        policy_type=PolicyType.BOUNDARY)
    policies = deny_all_but(ALICE, ROOT, boundaries=(boundary,))
    assert decide(policies, principal=ALICE) is Effect.EXPLICIT_DENY


def test_not_principal_allow_grants_everyone_else() -> None:
    policies = rbp_allow({"AWS": [BOB]}, not_principal=True)
    assert decide(policies, principal=ALICE) is Effect.ALLOW
    assert decide(policies, principal="anonymous") is Effect.ALLOW

"""Before/after pairs of single documents, answered by exit code: 1 exactly where access
widened, 0 on every equivalent rewrite.

AWS behaviour these rely on (pages of the IAM User Guide unless named otherwise):
- policy evaluation logic (an explicit deny wins, an allow is needed, cross-account
  requests need both sides): reference_policies_evaluation-logic.html
- condition operators: reference_policies_elements_condition_operators.html
- principals: reference_policies_elements_principal.html
- SCP evaluation (AWS Organizations User Guide): orgs_manage_policies_scps_evaluation.html
- "no new access" as Access Analyzer's CheckNoNewAccess defines it (API reference):
  API_CheckNoNewAccess.html
under https://docs.aws.amazon.com/IAM/latest/UserGuide/,
https://docs.aws.amazon.com/organizations/latest/userguide/ and
https://docs.aws.amazon.com/access-analyzer/latest/APIReference/.
"""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.diff import DiffResult, DocType, Verdict, diff_documents
from crossgrant.iam.actions import expand_action_pattern

A, B = "111111111111", "222222222222"

BUCKET = "arn:aws:s3:::reports"
OBJECTS = f"{BUCKET}/*"
ROLE = f"arn:aws:iam::{A}:role/Reader"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def run(before: dict[str, Any], after: dict[str, Any], t: DocType) -> DiffResult:
    return diff_documents(before, after, t)


def code(before: dict[str, Any], after: dict[str, Any], t: DocType) -> int:
    return run(before, after, t).verdict.exit_code


def allow(**kw: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **kw}


def deny(**kw: Any) -> dict[str, Any]:
    return {"Effect": "Deny", **kw}


def catalog(pattern: str) -> list[str]:
    return [a.qualified_name for a in expand_action_pattern(pattern)]


# --- identity policies --------------------------------------------------------------------

READ = allow(Sid="Read", Action=["s3:GetObject", "s3:GetObjectTagging"], Resource=OBJECTS)
LIST = allow(Sid="List", Action="s3:ListBucket", Resource=BUCKET,
             Condition={"StringLike": {"s3:prefix": ["team/*", "shared/*"]}})
TEAM = allow(Sid="Team", Action="s3:*", Resource=f"{BUCKET}/team/*")
NO_DELETE = deny(Sid="NoDelete", Action="s3:Delete*", Resource="*")
IDENTITY = doc(READ, LIST, TEAM, NO_DELETE)

IDENTITY_EQUIVALENT = {
    "reordered": doc(NO_DELETE, TEAM, LIST, READ),
    "Sids renamed": doc({**READ, "Sid": "R2"}, {**LIST, "Sid": "L2"}, TEAM,
                        {**NO_DELETE, "Sid": "D2"}),
    "split": doc(allow(Action="s3:GetObject", Resource=OBJECTS),
                 allow(Action="s3:GetObjectTagging", Resource=OBJECTS), LIST, TEAM, NO_DELETE),
    "condition values reordered": doc(READ, {**LIST, "Condition": {
        "StringLike": {"s3:prefix": ["shared/*", "team/*"]}}}, TEAM, NO_DELETE),
    "redundant allow under the deny": doc(READ, LIST, TEAM, NO_DELETE,
                                          allow(Action="s3:DeleteObject", Resource=OBJECTS)),
    "redundant allow inside a wider one": doc(READ, LIST, TEAM, NO_DELETE, allow(
        Action="s3:PutObject", Resource=f"{BUCKET}/team/a/*")),
    "deny split by action": doc(READ, LIST, TEAM,
                                deny(Action=catalog("s3:Delete*"), Resource="*")),
}


@pytest.mark.parametrize("name", sorted(IDENTITY_EQUIVALENT))
def test_identity_equivalent_rewrites_are_nothing_new(name: str) -> None:
    assert code(IDENTITY, IDENTITY_EQUIVALENT[name], DocType.IDENTITY) == 0


def test_merged_statements_are_nothing_new() -> None:
    split = doc(allow(Action="s3:GetObject", Resource=f"{BUCKET}/a/*"),
                allow(Action="s3:GetObject", Resource=f"{BUCKET}/b/*"),
                allow(Action="s3:PutObject", Resource=f"{BUCKET}/a/*"),
                allow(Action="s3:PutObject", Resource=f"{BUCKET}/b/*"))
    merged = doc(allow(Action=["s3:PutObject", "s3:GetObject"],
                       Resource=[f"{BUCKET}/b/*", f"{BUCKET}/a/*"]))
    assert code(split, merged, DocType.IDENTITY) == 0
    assert code(merged, split, DocType.IDENTITY) == 0


def test_single_statement_object_is_the_same_as_a_list_of_one() -> None:
    one = {"Version": "2012-10-17", "Statement": READ}
    assert code(doc(READ), one, DocType.IDENTITY) == 0


def test_wildcard_matching_exactly_the_listed_catalog_actions_is_nothing_new() -> None:
    listed = doc(allow(Action=catalog("s3:GetObject*"), Resource=OBJECTS))
    wildcard = doc(allow(Action="s3:GetObject*", Resource=OBJECTS))
    assert len(catalog("s3:GetObject*")) > 3
    assert code(listed, wildcard, DocType.IDENTITY) == 0
    assert code(wildcard, listed, DocType.IDENTITY) == 0


def test_service_wildcard_is_wider_than_the_catalog_list() -> None:
    """`s3:*` also grants the actions AWS adds later; a list of today's does not."""
    listed = doc(allow(Action=catalog("s3:*"), Resource="*"))
    assert code(listed, doc(allow(Action="s3:*", Resource="*")), DocType.IDENTITY) == 1


IDENTITY_WIDER = {
    "action added": doc({**READ, "Action": ["s3:GetObject", "s3:GetObjectTagging",
                                            "s3:PutObject"]}, LIST, TEAM, NO_DELETE),
    "action wildcard": doc({**READ, "Action": "s3:Get*"}, LIST, TEAM, NO_DELETE),
    "resource widened": doc({**READ, "Resource": "arn:aws:s3:::report*"}, LIST, TEAM,
                            NO_DELETE),
    "condition widened": doc(READ, {**LIST, "Condition": {"StringLike": {"s3:prefix": "*"}}},
                             TEAM, NO_DELETE),
    "condition removed": doc(READ, {k: v for k, v in LIST.items() if k != "Condition"},
                             TEAM, NO_DELETE),
    "deny removed": doc(READ, LIST, TEAM),
    "deny narrowed": doc(READ, LIST, TEAM, {**NO_DELETE, "Action": "s3:DeleteBucket"}),
    "NotAction": doc({**{k: v for k, v in READ.items() if k != "Action"},
                      "NotAction": "s3:PutObject"}, LIST, TEAM, NO_DELETE),
    "NotResource": doc(READ, LIST, TEAM, {
        **{k: v for k, v in NO_DELETE.items() if k != "Resource"}, "NotResource": OBJECTS}),
}


@pytest.mark.parametrize("name", sorted(IDENTITY_WIDER))
def test_identity_widened_is_new_access(name: str) -> None:
    assert code(IDENTITY, IDENTITY_WIDER[name], DocType.IDENTITY) == 1


def test_narrowing_is_nothing_new() -> None:
    narrower = doc({**READ, "Action": "s3:GetObject"}, LIST, TEAM, NO_DELETE)
    assert code(IDENTITY, narrower, DocType.IDENTITY) == 0
    assert code(narrower, IDENTITY, DocType.IDENTITY) == 1


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/16"}},
     {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, 1),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
     {"IpAddress": {"aws:SourceIp": ["10.0.0.0/9", "10.128.0.0/9"]}}, 0),
    ({"NumericLessThan": {"s3:max-keys": "10"}},
     {"NumericLessThanEquals": {"s3:max-keys": "10"}}, 1),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}},
     {"NumericLessThan": {"s3:max-keys": "11"}}, 1),  # 10.5
    ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
     {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:01Z"}}, 1),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"Bool": {"aws:SecureTransport": True}}, 0),
    ({"StringEquals": {"aws:PrincipalTag/team": "red"}},
     {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "red"}}, 1),
    ({"StringLike": {"aws:PrincipalTag/team": "r?d"}},
     {"StringLike": {"aws:PrincipalTag/team": "r*d"}}, 1),
    ({"StringEquals": {"aws:PrincipalTag/team": "red"}},
     {"StringEqualsIfExists": {"aws:PrincipalTag/team": "red"}}, 1),  # absent now passes
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
     {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]}}, 1),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
     {"ForAnyValue:StringEquals": {"aws:TagKeys": ["b", "a"]}}, 0),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::in-*"}},
     {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::in*"}}, 1),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {}, 1),
])
def test_condition_changes(before: dict[str, Any], after: dict[str, Any], expected: int) -> None:
    def one(cond: dict[str, Any]) -> dict[str, Any]:
        st = allow(Action="s3:GetObject", Resource=OBJECTS)
        return doc({**st, "Condition": cond} if cond else st)

    assert code(one(before), one(after), DocType.IDENTITY) == expected


def test_like_patterns_overlap_is_found() -> None:
    """A value matching both `a*` and `*b` ("ab"): no single pattern's example has it."""
    before = doc(allow(Action="s3:GetObject", Resource="*",
                       Condition={"StringLike": {"s3:prefix": "a*"}}),
                 deny(Action="s3:GetObject", Resource="*",
                      Condition={"StringLike": {"s3:prefix": "*b"}}))
    after = doc(allow(Action="s3:GetObject", Resource="*",
                      Condition={"StringLike": {"s3:prefix": "a*"}}),
                deny(Action="s3:GetObject", Resource="*",
                     Condition={"StringLike": {"s3:prefix": "*bb"}}))
    result = run(before, after, DocType.IDENTITY)
    assert result.verdict is Verdict.NEW_ACCESS
    # granted by the identity policy itself: values that match both patterns
    values = [c["s3:prefix"] for g in result.groups for a in g.accesses for c in a.contexts
              if not a.assuming]
    assert values and all(v is not None and v[0].startswith("a") and v[0].endswith("b")
                          and not v[0].endswith("bb") for v in values)


def test_removed_identity_deny_is_new_access_even_where_the_policy_allows_nothing() -> None:
    """A resource policy naming the caller grants in its own account without any identity
    policy; only an identity policy's Deny stops it (evaluation logic)."""
    before = doc(allow(Action="s3:GetObject", Resource=OBJECTS),
                 deny(Action="s3:DeleteObject", Resource=OBJECTS))
    after = doc(allow(Action="s3:GetObject", Resource=OBJECTS))
    result = run(before, after, DocType.IDENTITY)
    assert result.verdict is Verdict.NEW_ACCESS
    (group,) = result.groups
    assert group.granted_by == () and group.before == "ExplicitDeny"
    assert group.accesses[0].assuming == (
        "a resource policy in the caller's account names the caller",)


def test_explanation_names_granting_and_stopping_statements() -> None:
    result = run(IDENTITY, doc(READ, LIST, TEAM), DocType.IDENTITY)
    (group,) = [g for g in result.groups if g.granted_by]
    assert [s.statement for s in group.stopped_by] == ["NoDelete"]
    assert group.stopped_by[0].path == "Statement[3]"
    assert [s.statement for s in group.granted_by] == ["Team"]
    assert group.before == "ExplicitDeny"
    assert {a.resource for a in group.accesses} == {f"{BUCKET}/team/example"}
    assert "s3:DeleteObject" in group.accesses[0].actions


# --- bucket (resource) policies -----------------------------------------------------------

GRANT = allow(Sid="Reader", Principal={"AWS": ROLE}, Action="s3:GetObject", Resource=OBJECTS)
TLS = deny(Sid="TLS", Principal="*", Action="s3:*", Resource=[BUCKET, OBJECTS],
           Condition={"Bool": {"aws:SecureTransport": "false"}})
BUCKET_POLICY = doc(GRANT, TLS)

BUCKET_EQUIVALENT = {
    "reordered": doc(TLS, GRANT),
    "TLS deny split": doc(GRANT, {**TLS, "Resource": BUCKET}, {**TLS, "Sid": "T2",
                                                               "Resource": OBJECTS}),
    "principal as a list": doc({**GRANT, "Principal": {"AWS": [ROLE]}}, TLS),
    "redundant allow under the deny": doc(GRANT, TLS, allow(
        Principal="*", Action="s3:GetObject", Resource=OBJECTS,
        Condition={"Bool": {"aws:SecureTransport": "false"}})),
}


@pytest.mark.parametrize("name", sorted(BUCKET_EQUIVALENT))
def test_bucket_equivalent_rewrites_are_nothing_new(name: str) -> None:
    assert code(BUCKET_POLICY, BUCKET_EQUIVALENT[name], DocType.RESOURCE) == 0


def test_account_root_and_bare_account_id_are_the_same_principal() -> None:
    root = doc(allow(Principal={"AWS": f"arn:aws:iam::{B}:root"}, Action="s3:GetObject",
                     Resource=OBJECTS))
    bare = doc(allow(Principal={"AWS": B}, Action="s3:GetObject", Resource=OBJECTS))
    assert code(root, bare, DocType.RESOURCE) == 0


BUCKET_WIDER = {
    "principal widened to the account": doc({**GRANT, "Principal": {"AWS": A}}, TLS),
    "principal widened to everyone": doc({**GRANT, "Principal": "*"}, TLS),
    "principal added": doc({**GRANT, "Principal": {"AWS": [ROLE, B]}}, TLS),
    "service principal added": doc(GRANT, TLS, allow(
        Principal={"Service": "cloudtrail.amazonaws.com"}, Action="s3:PutObject",
        Resource=OBJECTS)),
    "TLS deny removed": doc(GRANT),
    "action widened": doc({**GRANT, "Action": "s3:Get*"}, TLS),
    "org condition dropped": doc(allow(Principal="*", Action="s3:GetObject", Resource=OBJECTS),
                                 TLS),
}


@pytest.mark.parametrize("name", sorted(BUCKET_WIDER))
def test_bucket_widened_is_new_access(name: str) -> None:
    assert code(BUCKET_POLICY, BUCKET_WIDER[name], DocType.RESOURCE) == 1


def test_org_condition_widening() -> None:
    org = doc(allow(Principal="*", Action="s3:GetObject", Resource=OBJECTS,
                    Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    other_org = doc(allow(Principal="*", Action="s3:GetObject", Resource=OBJECTS,
                          Condition={"StringEquals": {"aws:PrincipalOrgID": ["o-abc", "o-x"]}}))
    assert code(org, other_org, DocType.RESOURCE) == 1
    assert code(other_org, org, DocType.RESOURCE) == 0


def test_cross_account_grant_reported_with_the_assumption_it_needs() -> None:
    """Cross-account, the caller's identity policy must allow too (evaluation logic)."""
    result = run(doc(TLS), doc(allow(Principal={"AWS": B}, Action="s3:GetObject",
                                     Resource=OBJECTS), TLS), DocType.RESOURCE)
    assert result.verdict is Verdict.NEW_ACCESS
    accesses = [a for g in result.groups for a in g.accesses]
    assert any(a.principal == f"arn:aws:iam::{B}:root" for a in accesses)
    cross = [a for a in accesses if a.resource_account != B and a.principal_type != "Account"]
    assert cross and all("the caller's identity policies allow it" in a.assuming
                         for a in cross)


# --- role trust policies ------------------------------------------------------------------

TRUST = doc(allow(Sid="Assume", Principal={"AWS": f"arn:aws:iam::{A}:role/Lambda"},
                  Action="sts:AssumeRole",
                  Condition={"StringEquals": {"sts:ExternalId": "grant-7"}}))


@pytest.mark.parametrize(("after", "expected"), [
    (TRUST, 0),
    (doc(allow(Sid="X", Principal={"AWS": [f"arn:aws:iam::{A}:role/Lambda"]},
               Action=["sts:AssumeRole"],
               Condition={"StringEquals": {"sts:ExternalId": ["grant-7"]}})), 0),
    (doc(allow(Principal={"AWS": f"arn:aws:iam::{A}:role/Lambda"}, Action="sts:AssumeRole")), 1),
    (doc(allow(Principal={"AWS": A}, Action="sts:AssumeRole",
               Condition={"StringEquals": {"sts:ExternalId": "grant-7"}})), 1),
    (doc(allow(Principal={"AWS": f"arn:aws:iam::{A}:role/Lambda"},
               Action=["sts:AssumeRole", "sts:TagSession"],
               Condition={"StringEquals": {"sts:ExternalId": "grant-7"}})), 1),
    (doc(allow(Principal={"Service": "lambda.amazonaws.com"}, Action="sts:AssumeRole")), 1),
])
def test_trust_policies(after: dict[str, Any], expected: int) -> None:
    assert code(TRUST, after, DocType.TRUST) == expected


def test_trust_wildcard_over_the_trust_actions_is_nothing_new() -> None:
    listed = doc(allow(Principal={"AWS": A}, Action=[
        "sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]))
    assert code(listed, doc(allow(Principal={"AWS": A}, Action="sts:AssumeRole*")),
                DocType.TRUST) == 0


# --- SCPs -------------------------------------------------------------------------------

FULL = allow(Sid="FullAWSAccess", Action="*", Resource="*")
REGION = deny(Sid="Region", NotAction=["iam:*", "sts:*", "organizations:*"], Resource="*",
              Condition={"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}})
NO_LEAVE = deny(Sid="NoLeave", Action="organizations:LeaveOrganization", Resource="*")
SCP = doc(FULL, REGION, NO_LEAVE)


@pytest.mark.parametrize(("after", "expected"), [
    (doc(NO_LEAVE, FULL, REGION), 0),
    (doc(FULL, REGION, NO_LEAVE, allow(Action="s3:*", Resource="*")), 0),
    (doc(FULL, REGION), 1),
    (doc(FULL, {**REGION, "Condition": {"StringNotEquals": {
        "aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}}, NO_LEAVE), 1),
    (doc(FULL, {**REGION, "NotAction": ["iam:*", "sts:*", "organizations:*", "s3:*"]},
         NO_LEAVE), 1),
])
def test_scp_deny_lists(after: dict[str, Any], expected: int) -> None:
    assert code(SCP, after, DocType.SCP) == expected


def test_scp_allow_list_widened() -> None:
    allow_list = doc(allow(Action=["s3:*", "dynamodb:*"], Resource="*"))
    assert code(allow_list, doc(allow(Action=["dynamodb:*", "s3:*"], Resource="*")),
                DocType.SCP) == 0
    assert code(allow_list, doc(allow(Action=["s3:*", "dynamodb:*", "kms:*"], Resource="*")),
                DocType.SCP) == 1


# --- cannot prove -------------------------------------------------------------------------

def test_policy_variable_in_resource_cannot_be_proven() -> None:
    home = doc(allow(Action="s3:GetObject", Resource="arn:aws:s3:::home/${aws:username}/*"))
    result = run(home, home, DocType.IDENTITY)
    assert result.verdict is Verdict.CANNOT_PROVE
    assert "policy variable" in result.unproven[0]


def test_policy_variable_in_condition_cannot_be_proven() -> None:
    before = doc(allow(Action="s3:ListBucket", Resource=BUCKET))
    after = doc(allow(Action="s3:ListBucket", Resource=BUCKET,
                      Condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}}))
    assert code(before, after, DocType.IDENTITY) == 2


def test_key_compared_as_two_types_cannot_be_proven() -> None:
    before = doc(allow(Action="s3:ListBucket", Resource=BUCKET,
                       Condition={"StringEquals": {"s3:max-keys": "10"}}))
    after = doc(allow(Action="s3:ListBucket", Resource=BUCKET,
                      Condition={"NumericEquals": {"s3:max-keys": "10"}}))
    result = run(before, after, DocType.IDENTITY)
    assert result.verdict is Verdict.CANNOT_PROVE
    assert "s3:max-keys" in result.unproven[0]


def test_new_access_is_reported_even_where_something_cannot_be_proven() -> None:
    before = doc(allow(Action="s3:GetObject", Resource="arn:aws:s3:::home/${aws:username}/*"))
    after = doc(allow(Action="s3:GetObject", Resource="arn:aws:s3:::home/${aws:username}/*"),
                allow(Action="dynamodb:GetItem", Resource="*"))
    result = run(before, after, DocType.IDENTITY)
    assert result.verdict is Verdict.NEW_ACCESS
    assert result.unproven


@pytest.mark.parametrize(("before", "after", "expected"), [
    (["sqs:SendMessage"], ["sqs:SendMessage", "sqs:ReceiveMessage"], 1),
    (["sqs:SendMessage"], ["sqs:Send*"], 1),
    (["sqs:Send*"], ["sqs:SendMessage"], 0),
    (["sqs:SendMessage", "sqs:ReceiveMessage"], ["sqs:ReceiveMessage", "sqs:SendMessage"], 0),
    (["sqs:*"], ["sqs:Send*", "sqs:Receive*"], 0),
    (["s3:GetObjectFoo"], ["s3:GetObjectFoo", "s3:GetObjectBar"], 1),  # names the catalog lacks
])
def test_services_outside_the_catalog_are_split_by_their_patterns(
        before: list[str], after: list[str], expected: int) -> None:
    queue = "arn:aws:sqs:eu-west-1:111111111111:jobs"
    assert code(doc(allow(Action=before, Resource=[queue, OBJECTS])),
                doc(allow(Action=after, Resource=[queue, OBJECTS])), DocType.IDENTITY) == expected

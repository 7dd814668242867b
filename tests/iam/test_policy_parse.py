"""Policy grammar: what parse_policy accepts and how it words what it rejects.

Sources (IAM User Guide): "IAM JSON policy element reference" (Version, Id, Statement,
Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource,
Condition) and "Grammar of the IAM JSON policy language". Every rejection must name the
document, the statement (index and Sid) and the field at fault.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crossgrant.errors import PolicyError
from crossgrant.iam import Policy, PolicyType, parse_policy
from crossgrant.iam.policy import MAX_DOCUMENT_CHARS

V = "2012-10-17"
ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
RBP_ALLOW = {"Effect": "Allow", "Principal": {"AWS": "111111111111"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}

RESOURCE_TYPES = [PolicyType.RESOURCE]
IDENTITY_LIKE = [PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION, PolicyType.SCP]


def doc(*statements: dict[str, Any], version: str | None = V) -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return out


def rejects(document: object, *, policy_type: PolicyType = PolicyType.IDENTITY,
            name: str = "my-policy") -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(document, name=name, policy_type=policy_type)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message, "errors are shown as one line"
    assert message.startswith(name), message
    return message


def second(statement: dict[str, Any], sid: str | None = "Second") -> dict[str, Any]:
    """A document whose statement #1 is `statement` (with Sid `sid`)."""
    body = dict(statement)
    if sid is not None:
        body["Sid"] = sid
    return doc({**ALLOW, "Sid": "First"}, body)


def assert_names(message: str, *parts: str) -> None:
    for p in parts:
        assert p in message, (p, message)


# -- Document shape ----------------------------------------------------------------------

def test_statement_may_be_a_single_object_or_a_list() -> None:
    single = parse_policy({"Version": V, "Statement": ALLOW})
    listed = parse_policy(doc(ALLOW))
    assert len(single.statements) == len(listed.statements) == 1


def test_accepts_json_text_and_decoded_objects_alike() -> None:
    text = json.dumps(doc(ALLOW, {**ALLOW, "Effect": "Deny"}))
    assert parse_policy(text).canonical_json() == parse_policy(json.loads(text)).canonical_json()


def test_id_is_allowed_at_the_top_level() -> None:
    parse_policy({"Version": V, "Id": "my-policy-id", "Statement": [ALLOW]})


@pytest.mark.parametrize("statement", ["s3:GetObject", 42, None, True])
def test_statement_must_be_object_or_list(statement: object) -> None:
    message = rejects({"Version": V, "Statement": statement})
    assert "Statement" in message


@pytest.mark.parametrize("entry", ["s3:GetObject", 42, None, ["nested"]])
def test_each_statement_must_be_an_object(entry: object) -> None:
    message = rejects({"Version": V, "Statement": [ALLOW, entry]})
    assert "Statement[1]" in message


def test_missing_statement() -> None:
    assert "Statement" in rejects({"Version": V})


@pytest.mark.parametrize("document", [[ALLOW], "[]", "42", '"text"'])
def test_document_must_be_an_object(document: object) -> None:
    rejects(document)


def test_unknown_top_level_field() -> None:
    message = rejects({"Version": V, "Statement": [ALLOW], "Statements": []})
    assert "Statements" in message


@pytest.mark.parametrize("version", ["2012-10-18", "2012-10-17 ", "latest", 2012, None])
def test_version_must_be_one_of_the_two(version: object) -> None:
    assert "Version" in rejects({"Version": version, "Statement": [ALLOW]})


def test_version_defaults_to_2008() -> None:
    assert parse_policy({"Statement": [ALLOW]}).version == "2008-10-17"


# -- Effect ------------------------------------------------------------------------------

@pytest.mark.parametrize("effect", ["allow", "DENY", "Permit", "", None, True])
def test_effect_must_be_allow_or_deny(effect: object) -> None:
    message = rejects(second({**ALLOW, "Effect": effect}))
    assert_names(message, "my-policy", "Statement[1]", "'Second'", "Effect")


def test_effect_is_required() -> None:
    statement = {k: v for k, v in ALLOW.items() if k != "Effect"}
    assert_names(rejects(second(statement)), "Statement[1]", "'Second'", "Effect")


# -- Action / NotAction ------------------------------------------------------------------

def test_action_and_not_action_are_exclusive() -> None:
    message = rejects(second({**ALLOW, "NotAction": "s3:PutObject"}))
    assert_names(message, "Statement[1]", "'Second'", "Action", "NotAction")


def test_one_of_action_or_not_action_is_required() -> None:
    statement = {k: v for k, v in ALLOW.items() if k != "Action"}
    assert_names(rejects(second(statement)), "Statement[1]", "'Second'", "Action")


NO_VENDOR = ["s3GetObject", ":GetObject", "", "s3 :Get"]
ODD_NAME = ["s3:", "s3:Get Object", "s3::GetObject", "s3:GetObject,PutObject", "s3:  GetBucket",
            "s3:GetObject "]


def _rbp_second(statement: dict[str, Any]) -> dict[str, Any]:
    body = {**statement, "Sid": "Second"}
    return doc({**RBP_ALLOW, "Sid": "First"}, body)


@pytest.mark.parametrize("field", ["Action", "NotAction"])
@pytest.mark.parametrize("bad", NO_VENDOR + ODD_NAME)
def test_bad_action_strings(field: str, bad: str) -> None:
    # A resource policy refuses every malformed action: S3 answers MalformedPolicy "Policy
    # has invalid action" (Amazon S3 User Guide, "Bucket policy examples" / PutBucketPolicy).
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
    statement = {k: v for k, v in RBP_ALLOW.items() if k != "Action"}
    statement[field] = ["s3:GetObject", bad]
    message = rejects(_rbp_second(statement), policy_type=PolicyType.RESOURCE)
    assert_names(message, "Statement[1]", "'Second'", field, repr(bad))
    if bad in NO_VENDOR:  # without a vendor prefix even an identity policy is refused
        statement = {k: v for k, v in ALLOW.items() if k != "Action"}
        statement[field] = ["s3:GetObject", bad]
        message = rejects(second(statement))
        assert_names(message, "Statement[1]", "'Second'", field, repr(bad))


@pytest.mark.parametrize("policy_type", [PolicyType.SCP, PolicyType.RCP,
                                         PolicyType.VPC_ENDPOINT])
@pytest.mark.parametrize("bad", ODD_NAME)
def test_odd_action_names_stay_errors_outside_iam(policy_type: PolicyType, bad: str) -> None:
    # Organizations and VPC endpoints validate their own documents; we refuse (an error is
    # never a false Allow) rather than guess that they store the odd name as IAM does.
    statement: dict[str, Any] = {"Effect": "Deny", "Action": bad, "Resource": "*"}
    if policy_type.takes_principal:
        statement["Principal"] = "*"
    rejects(doc(statement), policy_type=policy_type)


@pytest.mark.parametrize("policy_type", [PolicyType.IDENTITY, PolicyType.BOUNDARY,
                                         PolicyType.SESSION])
@pytest.mark.parametrize("bad", ODD_NAME)
def test_iam_stores_odd_action_names_and_marks_them(policy_type: PolicyType, bad: str) -> None:
    # IAM checks an action's vendor prefix only; a name it does not recognise is stored and
    # listed under "Uncategorized actions" (IAM User Guide, "Service summary").
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_understand-service-summary.html
    policy = parse_policy(doc({**ALLOW, "Action": ["s3:GetObject", bad]}),
                          policy_type=policy_type)
    assert policy.statements[0].malformed_actions == (bad,)
    assert parse_policy(doc(ALLOW)).statements[0].malformed_actions == ()


@pytest.mark.parametrize("bad", [[], 42, {"s3": "GetObject"}, ["s3:GetObject", 7]])
def test_action_must_be_string_or_non_empty_list_of_strings(bad: object) -> None:
    message = rejects(second({**ALLOW, "Action": bad}))
    assert_names(message, "Statement[1]", "'Second'", "Action")


@pytest.mark.parametrize("good", ["*", "s3:*", "s3:Get*", "s3:?etObject", "S3:GETOBJECT",
                                  "iam:*AccessKey*", "execute-api:Invoke"])
def test_good_action_strings(good: str) -> None:
    parse_policy(doc({**ALLOW, "Action": good}))


# -- Resource / NotResource --------------------------------------------------------------

@pytest.mark.parametrize("policy_type", IDENTITY_LIKE)
def test_resource_is_required_outside_resource_policies(policy_type: PolicyType) -> None:
    statement = {k: v for k, v in ALLOW.items() if k != "Resource"}
    message = rejects(second(statement), policy_type=policy_type)
    assert_names(message, "Statement[1]", "'Second'", "Resource")


def test_resource_is_optional_in_resource_policies() -> None:
    statement = {k: v for k, v in RBP_ALLOW.items() if k != "Resource"}
    policy = parse_policy(doc(statement), policy_type=PolicyType.RESOURCE)
    assert len(policy.statements) == 1


def test_resource_and_not_resource_are_exclusive() -> None:
    message = rejects(second({**ALLOW, "NotResource": "arn:aws:s3:::other/*"}))
    assert_names(message, "Statement[1]", "'Second'", "Resource", "NotResource")


@pytest.mark.parametrize("field", ["Resource", "NotResource"])
@pytest.mark.parametrize("bad", ["my-bucket", "s3:::my-bucket", "arn:aws:s3", "", "**x"])
def test_bad_resource_strings(field: str, bad: str) -> None:
    statement = {k: v for k, v in ALLOW.items() if k != "Resource"}
    statement[field] = ["arn:aws:s3:::b/*", bad]
    message = rejects(second(statement))
    assert_names(message, "Statement[1]", "'Second'", field, repr(bad))


@pytest.mark.parametrize("bad", [[], 42, {"arn": "x"}])
def test_resource_must_be_string_or_non_empty_list(bad: object) -> None:
    message = rejects(second({**ALLOW, "Resource": bad}))
    assert_names(message, "Statement[1]", "'Second'", "Resource")


@pytest.mark.parametrize("good", ["*", "arn:aws:s3:::b", "arn:aws:s3:::b/*",
                                  "arn:aws:dynamodb:*:*:table/T",
                                  "arn:aws:s3:::b/${aws:username}/*",
                                  "arn:aws-cn:s3:::b/*"])
def test_good_resource_strings(good: str) -> None:
    parse_policy(doc({**ALLOW, "Resource": good}))


# -- Principal / NotPrincipal ------------------------------------------------------------

@pytest.mark.parametrize("field", ["Principal", "NotPrincipal"])
@pytest.mark.parametrize("policy_type", IDENTITY_LIKE)
def test_principal_is_forbidden_in_identity_policies(field: str,
                                                     policy_type: PolicyType) -> None:
    message = rejects(second({**ALLOW, field: {"AWS": "111111111111"}}),
                      policy_type=policy_type)
    assert_names(message, "Statement[1]", "'Second'", field)


def test_principal_is_required_in_resource_policies() -> None:
    statement = {k: v for k, v in RBP_ALLOW.items() if k != "Principal"}
    message = rejects(doc({**RBP_ALLOW, "Sid": "First"}, {**statement, "Sid": "Second"}),
                      policy_type=PolicyType.RESOURCE)
    assert_names(message, "Statement[1]", "'Second'", "Principal")


def test_principal_and_not_principal_are_exclusive() -> None:
    statement = {**RBP_ALLOW, "Sid": "Second", "NotPrincipal": {"AWS": "222222222222"}}
    message = rejects(doc(statement), policy_type=PolicyType.RESOURCE)
    assert_names(message, "Statement[0]", "'Second'", "Principal", "NotPrincipal")


@pytest.mark.parametrize("principal", [
    "*",
    {"AWS": "*"},
    {"AWS": "111111111111"},
    {"AWS": "arn:aws:iam::111111111111:root"},
    {"AWS": ["arn:aws:iam::111111111111:role/R", "arn:aws:iam::111111111111:user/alice"]},
    {"AWS": "arn:aws:sts::111111111111:assumed-role/R/session"},
    {"AWS": "arn:aws:sts::111111111111:federated-user/bob"},
    {"Service": ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"]},
    {"Federated": "cognito-identity.amazonaws.com"},
    {"Federated": "arn:aws:iam::111111111111:saml-provider/corp"},
    {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    {"AWS": ["arn:aws:iam::123456789012:root", "999999999999"],
     "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
])
def test_documented_principal_forms_parse(principal: object) -> None:
    parse_policy(doc({**RBP_ALLOW, "Principal": principal}), policy_type=PolicyType.RESOURCE)


@pytest.mark.parametrize("value", [
    "arn:aws:iam::111111111111:role/*",
    "arn:aws:iam::111111111111:user/team-*",
    "arn:aws:sts::111111111111:assumed-role/R/*",
    "arn:aws:iam::*:root",
    "arn:aws:iam::11111111111?:root",
])
def test_wildcard_in_a_principal_arn_is_rejected(value: str) -> None:
    # "You cannot use a wildcard to match part of a principal name or ARN."
    statement = {**RBP_ALLOW, "Sid": "Second", "Principal": {"AWS": value}}
    message = rejects(doc({**RBP_ALLOW, "Sid": "First"}, statement),
                      policy_type=PolicyType.RESOURCE)
    assert_names(message, "Statement[1]", "'Second'", "Principal", value)


@pytest.mark.parametrize("principal", [
    {"AWS": "1111"},
    {"AWS": "arn:aws:iam::1111:root"},
    {"AWS": "not-an-arn"},
    {"AWS": "arn:aws:iam::111111111111:group/admins"},  # groups are not principals
    {"Group": "admins"},
    {"AWS": []},
    {},
    "everyone",
])
def test_bad_principals_are_rejected(principal: object) -> None:
    statement = {**RBP_ALLOW, "Sid": "Second", "Principal": principal}
    message = rejects(doc({**RBP_ALLOW, "Sid": "First"}, statement),
                      policy_type=PolicyType.RESOURCE)
    assert_names(message, "Statement[1]", "'Second'", "Principal")


# -- Unknown fields, Sids ------------------------------------------------------------------

@pytest.mark.parametrize("field", ["Actions", "resource", "Principals", "Conditions", "Notes"])
def test_unknown_statement_field(field: str) -> None:
    message = rejects(second({**ALLOW, field: "x"}))
    assert_names(message, "Statement[1]", "'Second'", field)


def test_duplicate_sid_is_rejected() -> None:
    message = rejects(doc({**ALLOW, "Sid": "Same"}, {**ALLOW, "Sid": "Other"},
                          {**ALLOW, "Sid": "Same"}))
    assert_names(message, "my-policy", "Statement[2]", "'Same'")


def test_sids_must_be_strings() -> None:
    message = rejects(doc(ALLOW, {**ALLOW, "Sid": 7}))
    assert_names(message, "Statement[1]", "Sid")


def test_statements_without_sid_are_named_by_index() -> None:
    message = rejects(doc(ALLOW, ALLOW, {**ALLOW, "Effect": "Maybe"}))
    assert_names(message, "my-policy", "Statement[2]", "Effect")


# -- JSON text ---------------------------------------------------------------------------

def test_invalid_json_names_line_and_column() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [,]\n}'
    message = rejects(text)
    assert_names(message, "line 3", "column 17")


def test_trailing_comma_names_its_line() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}'
    assert "line 4" in rejects(text)


def test_oversized_document_is_rejected_before_decoding() -> None:
    padding = " " * (MAX_DOCUMENT_CHARS + 1 - len(json.dumps(doc(ALLOW))))
    text = json.dumps(doc(ALLOW)) + padding
    assert len(text) > MAX_DOCUMENT_CHARS
    message = rejects(text)
    assert f"{MAX_DOCUMENT_CHARS:,}" in message


def test_document_at_the_limit_is_accepted() -> None:
    body = json.dumps(doc(ALLOW))
    text = body + " " * (MAX_DOCUMENT_CHARS - len(body))
    assert len(text) == MAX_DOCUMENT_CHARS
    parse_policy(text)


# -- The parsed result -------------------------------------------------------------------

def test_parsed_policy_keeps_name_type_version_and_document() -> None:
    source = doc({**ALLOW, "Sid": "A"}, {**ALLOW, "Effect": "Deny"})
    policy = parse_policy(source, name="team-policy", policy_type=PolicyType.BOUNDARY)
    assert isinstance(policy, Policy)
    assert policy.name == "team-policy"
    assert policy.policy_type is PolicyType.BOUNDARY
    assert policy.version == V
    assert policy.document == source
    refs = [s.ref for s in policy.statements]
    assert [r.label for r in refs] == ["A", "#1"]
    assert [r.effect for r in refs] == ["Allow", "Deny"]
    assert {r.document for r in refs} == {"team-policy"}


def test_document_is_a_copy() -> None:
    source = doc(ALLOW)
    policy = parse_policy(source)
    source["Statement"].append({**ALLOW, "Effect": "Deny"})
    assert len(policy.document["Statement"]) == 1


def test_canonical_json_round_trips() -> None:
    policy = parse_policy(doc({**ALLOW, "Sid": "A", "Condition": {
        "StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}}}))
    again = parse_policy(policy.canonical_json())
    assert again.canonical_json() == policy.canonical_json()
    assert again == policy


# -- Only typed errors ---------------------------------------------------------------------
# Python's json raises ValueError for an integer of more than 4,300 digits (the int/str
# conversion limit) and RecursionError for deep nesting; a document must never escape
# with either (issue 11). Each error is one line naming the document and the place.

BIG = "9" * 5000
HUGE = 10 ** 5000  # built without text: int("9" * 5000) itself hits the limit


@pytest.mark.parametrize("text", [
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", '
    f'"Resource": "*", "Condition": {{"NumericLessThan": {{"s3:max-keys": {BIG}}}}}}}]}}',
    f'{{"Version": {BIG}, "Statement": []}}',
    '{"Statement": ' + "[" * 10_000 + "]" * 10_000 + "}",
], ids=["huge-condition-number", "huge-version", "deep"])
def test_hostile_json_text_is_a_policy_error(text: str) -> None:
    message = rejects(text)
    assert "digits" in message or "nested too deeply" in message


@pytest.mark.parametrize("document", [
    doc({**ALLOW, "Condition": {"NumericLessThan": {"s3:max-keys": HUGE}}}),
    {"Version": HUGE, "Statement": [ALLOW]},
    doc({**ALLOW, "Effect": HUGE}),
], ids=["condition", "version", "effect"])
def test_huge_numbers_in_decoded_documents_are_policy_errors(document: dict[str, Any]) -> None:
    message = rejects(document)
    assert "4,300 digits" in message


def test_deeply_nested_values_in_decoded_documents_are_policy_errors() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    rejects(doc({**ALLOW, "Condition": {"StringEquals": {"aws:username": deep}}}))
    rejects(doc({**ALLOW, "Sid": {"a": deep}}))

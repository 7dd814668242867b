"""Condition operators, pinned to the IAM User Guide.

Sources (IAM User Guide): "IAM JSON policy elements: Condition operators", "Creating a
condition with multiple keys or values" / "Set operators for multivalued context keys",
and "IAM policy elements: Variables and tags".

Every check goes through the public path: a one-statement identity policy that allows
s3:GetObject only under the condition, evaluated for a request carrying the context.
"""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.errors import PolicyError
from crossgrant.iam import Effect, PolicySet, Request, evaluate, parse_policy, parse_principal

USER = "arn:aws:iam::111111111111:user/alice"
SESSION = "arn:aws:sts::111111111111:assumed-role/Builder/build-42"
RESOURCE = "arn:aws:s3:::bucket/key.txt"
V2012 = "2012-10-17"
V2008 = "2008-10-17"
_UNSET = object()


def holds(condition: dict[str, Any], context: dict[str, Any] | None = None, *,
          version: object = V2012, principal: str = USER) -> bool:
    """True when the Allow statement guarded by `condition` applies to the request."""
    doc: dict[str, Any] = {"Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}]}
    if version is not _UNSET:
        doc["Version"] = version
    policy = parse_policy(doc, name="identity")
    request = Request.build(parse_principal(principal), "s3:GetObject", RESOURCE,
                            context=context or {})
    decision = evaluate(request, PolicySet(identity=(policy,)))
    assert decision.effect in (Effect.ALLOW, Effect.IMPLICIT_DENY), decision
    return decision.allowed


def one(op: str, key: str, values: Any, context: dict[str, Any] | None = None,
        **kw: Any) -> bool:
    return holds({op: {key: values}}, context, **kw)


def policy_error(condition: object, sid: str | None = "Guarded") -> PolicyError:
    """Parse a two-statement policy whose second statement carries `condition`."""
    second: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                              "Condition": condition}
    if sid is not None:
        second["Sid"] = sid
    doc = {"Version": V2012, "Statement": [
        {"Sid": "Plain", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
        second]}
    with pytest.raises(PolicyError) as info:
        parse_policy(doc, name="my-policy")
    return info.value


# -- String ------------------------------------------------------------------------------

TAG = "aws:PrincipalTag/team"

STRING_CASES = [
    ("StringEquals", "blue", "blue", True),
    ("StringEquals", "blue", "Blue", False),  # case-sensitive
    ("StringEquals", ["red", "blue"], "blue", True),  # several values: OR
    ("StringEquals", "blue*", "blue-team", False),  # no wildcards in StringEquals
    ("StringNotEquals", "blue", "red", True),
    ("StringNotEquals", "blue", "blue", False),
    ("StringNotEquals", ["red", "blue"], "blue", False),
    ("StringNotEquals", ["red", "blue"], "green", True),
    ("StringEqualsIgnoreCase", "blue", "BLUE", True),
    ("StringEqualsIgnoreCase", "blue", "green", False),
    ("StringNotEqualsIgnoreCase", "blue", "BLUE", False),
    ("StringNotEqualsIgnoreCase", "blue", "green", True),
    ("StringLike", "bl*", "blue", True),
    ("StringLike", "bl*", "Blue", False),  # case-sensitive
    ("StringLike", "b?ue", "blue", True),
    ("StringLike", "b?ue", "bluue", False),  # ? is exactly one character
    ("StringLike", "blue", "blue-team", False),  # partial matches need a wildcard
    ("StringLike", "*-team", "blue-team", True),
    ("StringLike", ["red*", "bl*"], "blue", True),
    ("StringNotLike", "bl*", "red", True),
    ("StringNotLike", "bl*", "blue", False),
    ("StringNotLike", ["red*", "bl*"], "blue", False),
]


@pytest.mark.parametrize(("op", "policy_value", "request_value", "expected"), STRING_CASES)
def test_string_operators(op: str, policy_value: Any, request_value: str,
                          expected: bool) -> None:
    assert one(op, TAG, policy_value, {TAG: request_value}) is expected


def test_string_like_star_crosses_slashes_and_colons() -> None:
    # The operators page contrasts StringLike with ArnLike on exactly this value.
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert one("StringLike", "aws:SourceArn", pattern, {"aws:SourceArn": value})
    assert one("StringLike", "s3:prefix", "home/*", {"s3:prefix": "home/alice/deep/x"})


def test_json_number_and_bool_values_compare_as_their_text() -> None:
    assert one("StringEquals", "s3:max-keys", 10, {"s3:max-keys": "10"})
    assert one("StringEquals", "aws:SecureTransport", True, {"aws:SecureTransport": "true"})


# -- Numeric -----------------------------------------------------------------------------

NUMERIC_CASES = [
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", "11", False),
    ("NumericEquals", ["1", "2"], "2", True),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "11", False),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10", "9", False),
    ("NumericLessThan", "2.5", "2.4", True),  # "an integer or decimal value"
    ("NumericLessThan", "2.5", "2.6", False),
    ("NumericLessThan", 10, "9", True),  # a JSON number in the policy
    ("NumericLessThan", "10", "many", False),  # a request value that is not a number
]


@pytest.mark.parametrize(("op", "policy_value", "request_value", "expected"), NUMERIC_CASES)
def test_numeric_operators(op: str, policy_value: Any, request_value: str,
                           expected: bool) -> None:
    assert one(op, "s3:max-keys", policy_value, {"s3:max-keys": request_value}) is expected


# -- Date --------------------------------------------------------------------------------

NOON = "2020-01-01T12:00:00Z"
DATE_CASES = [
    ("DateEquals", NOON, "2020-01-01T12:00:00Z", True),
    ("DateEquals", NOON, "2020-01-01T13:00:00+01:00", True),  # the same instant
    ("DateEquals", NOON, "2020-01-01T12:00:01Z", False),
    ("DateNotEquals", NOON, "2020-01-01T12:00:01Z", True),
    ("DateNotEquals", NOON, "2020-01-01T12:00:00Z", False),
    ("DateLessThan", NOON, "2020-01-01T11:59:59Z", True),
    ("DateLessThan", NOON, NOON, False),
    ("DateLessThanEquals", NOON, NOON, True),
    ("DateLessThanEquals", NOON, "2020-01-01T12:00:01Z", False),
    ("DateGreaterThan", NOON, "2020-01-01T12:00:01Z", True),
    ("DateGreaterThan", NOON, NOON, False),
    ("DateGreaterThanEquals", NOON, NOON, True),
    ("DateGreaterThanEquals", NOON, "2020-01-01T11:59:59Z", False),
    ("DateLessThan", "2020-01-01", "2019-12-30T00:00:00Z", True),  # W3C date-only form
    ("DateGreaterThan", NOON, "2020-01-01T12:00:00.5Z", True),  # W3C decimal fraction
    ("DateLessThan", NOON, "not a date", False),
]


@pytest.mark.parametrize(("op", "policy_value", "request_value", "expected"), DATE_CASES)
def test_date_operators(op: str, policy_value: str, request_value: str,
                        expected: bool) -> None:
    ctx = {"aws:CurrentTime": request_value}
    assert one(op, "aws:CurrentTime", policy_value, ctx) is expected


@pytest.mark.parametrize(("op", "request_value", "expected"), [
    ("DateLessThan", "1599999999", True),
    ("DateLessThan", "1600000000", False),
    ("DateGreaterThanEquals", "1600000000", True),
])
def test_date_operators_take_epoch_seconds(op: str, request_value: str, expected: bool) -> None:
    assert one(op, "aws:EpochTime", "1600000000", {"aws:EpochTime": request_value}) is expected


# -- Bool, Binary ------------------------------------------------------------------------

@pytest.mark.parametrize(("policy_value", "request_value", "expected"), [
    ("true", "true", True),
    ("true", "false", False),
    ("false", "false", True),
    (True, "true", True),
    (False, "true", False),
])
def test_bool(policy_value: Any, request_value: str, expected: bool) -> None:
    ctx = {"aws:SecureTransport": request_value}
    assert one("Bool", "aws:SecureTransport", policy_value, ctx) is expected


BLOB = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="  # the operators page's example


@pytest.mark.parametrize(("request_value", "expected"), [
    (BLOB, True),
    ("T3RoZXJWYWx1ZQ==", False),
])
def test_binary_equals_compares_base64(request_value: str, expected: bool) -> None:
    assert one("BinaryEquals", "my:blob", BLOB, {"my:blob": request_value}) is expected


# -- IP address --------------------------------------------------------------------------

IP_CASES = [
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.5", "203.0.113.5", True),  # no prefix means /32
    ("IpAddress", "203.0.113.5", "203.0.113.6", False),
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678:abcd:ef01:2345:6789", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
    ("IpAddress", "2001:DB8::/32", "203.0.113.7", False),  # IPv4 caller, IPv6 range
    ("IpAddress", "203.0.113.0/24", "2001:db8::1", False),  # IPv6 caller, IPv4 range
    ("IpAddress", ["203.0.113.0/24", "2001:DB8:1234:5678::/64"], "203.0.113.200", True),
    ("IpAddress", ["203.0.113.0/24", "2001:DB8:1234:5678::/64"], "2001:db8:1234:5678::9",
     True),
    ("IpAddress", ["203.0.113.0/24", "2001:DB8:1234:5678::/64"], "198.51.100.1", False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
    ("NotIpAddress", "2001:DB8::/32", "2001:db8::5", False),
    ("NotIpAddress", "2001:DB8::/32", "2001:db9::5", True),
    ("NotIpAddress", "203.0.113.0/24", "2001:db8::1", True),  # "all IP addresses except"
]


@pytest.mark.parametrize(("op", "policy_value", "request_value", "expected"), IP_CASES)
def test_ip_operators(op: str, policy_value: Any, request_value: str, expected: bool) -> None:
    assert one(op, "aws:SourceIp", policy_value, {"aws:SourceIp": request_value}) is expected


# -- ARN ---------------------------------------------------------------------------------

ARN_CASES = [
    ("ArnLike", "arn:aws:s3:::a-*", "arn:aws:s3:::a-uploads", True),
    ("ArnEquals", "arn:aws:s3:::a-*", "arn:aws:s3:::a-uploads", True),  # behave identically
    ("ArnEquals", "arn:aws:sns:us-east-2:111122223333:topic",
     "arn:aws:sns:us-east-2:111122223333:topic", True),
    ("ArnLike", "arn:aws:sns:*:111122223333:topic", "arn:aws:sns:us-east-2:111122223333:topic",
     True),
    ("ArnLike", "arn:aws:sqs:us-east-?:111122223333:q", "arn:aws:sqs:us-east-2:111122223333:q",
     True),
    ("ArnLike", "arn:aws:s3:::Bucket", "arn:aws:s3:::bucket", False),  # case-sensitive
    ("ArnLike", "arn:aws:s3:::a-*", "arn:aws:s3:::b-uploads", False),
    # The operators page's own example: ArnLike matches segment by segment, so the first
    # `*` covers only the region and the match fails (StringLike would succeed).
    ("ArnLike", "arn:aws:someservice:*:111122223333:finance/*",
     "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
     False),
    ("ArnNotLike", "arn:aws:s3:::a-*", "arn:aws:s3:::b-x", True),
    ("ArnNotLike", "arn:aws:s3:::a-*", "arn:aws:s3:::a-x", False),
    ("ArnNotEquals", "arn:aws:s3:::a-*", "arn:aws:s3:::b-x", True),
    ("ArnNotEquals", "arn:aws:s3:::a-*", "arn:aws:s3:::a-x", False),
]


@pytest.mark.parametrize(("op", "policy_value", "request_value", "expected"), ARN_CASES)
def test_arn_operators(op: str, policy_value: str, request_value: str, expected: bool) -> None:
    assert one(op, "aws:SourceArn", policy_value, {"aws:SourceArn": request_value}) is expected


# -- Null --------------------------------------------------------------------------------

@pytest.mark.parametrize(("policy_value", "context", "expected"), [
    ("true", {}, True),  # true: the key is absent
    ("true", {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, False),
    ("false", {}, False),  # false: the key exists
    ("false", {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, True),
    (True, {}, True),
])
def test_null(policy_value: Any, context: dict[str, str], expected: bool) -> None:
    assert one("Null", "aws:TokenIssueTime", policy_value, context) is expected


# -- Absent keys: positive false, negated true, IfExists true, ForAllValues true,
#    ForAnyValue false ------------------------------------------------------------------

POSITIVE = [
    ("StringEquals", "x"), ("StringEqualsIgnoreCase", "x"), ("StringLike", "x*"),
    ("NumericEquals", "1"), ("NumericLessThan", "1"), ("NumericLessThanEquals", "1"),
    ("NumericGreaterThan", "1"), ("NumericGreaterThanEquals", "1"),
    ("DateEquals", NOON), ("DateLessThan", NOON), ("DateLessThanEquals", NOON),
    ("DateGreaterThan", NOON), ("DateGreaterThanEquals", NOON),
    ("Bool", "true"), ("BinaryEquals", BLOB), ("IpAddress", "10.0.0.0/8"),
    ("ArnEquals", "arn:aws:s3:::b"), ("ArnLike", "arn:aws:s3:::b*"),
]
NEGATED = [
    ("StringNotEquals", "x"), ("StringNotEqualsIgnoreCase", "x"), ("StringNotLike", "x*"),
    ("NumericNotEquals", "1"), ("DateNotEquals", NOON), ("NotIpAddress", "10.0.0.0/8"),
    ("ArnNotEquals", "arn:aws:s3:::b"), ("ArnNotLike", "arn:aws:s3:::b*"),
]
SET_CAPABLE = [  # the families the set operators are documented with
    ("StringEquals", "x"), ("StringNotEquals", "x"), ("StringEqualsIgnoreCase", "x"),
    ("StringLike", "x*"), ("StringNotLike", "x*"),
    ("ArnLike", "arn:aws:s3:::b*"), ("ArnNotLike", "arn:aws:s3:::b*"),
]
ABSENT = "my:absent-key"


@pytest.mark.parametrize(("op", "value"), POSITIVE)
def test_positive_operator_on_absent_key_is_false(op: str, value: str) -> None:
    assert one(op, ABSENT, value) is False


@pytest.mark.parametrize(("op", "value"), NEGATED)
def test_negated_operator_on_absent_key_is_true(op: str, value: str) -> None:
    assert one(op, ABSENT, value) is True


@pytest.mark.parametrize(("op", "value"), POSITIVE + NEGATED)
def test_if_exists_on_absent_key_is_true(op: str, value: str) -> None:
    assert one(op + "IfExists", ABSENT, value) is True


@pytest.mark.parametrize(("op", "value"), SET_CAPABLE)
def test_for_all_values_on_absent_key_is_true(op: str, value: str) -> None:
    assert one("ForAllValues:" + op, ABSENT, value) is True


@pytest.mark.parametrize(("op", "value"), SET_CAPABLE)
def test_for_any_value_on_absent_key_is_false(op: str, value: str) -> None:
    assert one("ForAnyValue:" + op, ABSENT, value) is False


@pytest.mark.parametrize(("op", "value", "present", "expected"), [
    ("StringEqualsIfExists", "blue", "blue", True),
    ("StringEqualsIfExists", "blue", "red", False),
    ("StringNotEqualsIfExists", "blue", "blue", False),
    ("StringNotEqualsIfExists", "blue", "red", True),
    ("StringLikeIfExists", "t2.*", "t2.micro", True),
    ("StringLikeIfExists", "t2.*", "m5.large", False),
    ("NumericLessThanIfExists", "10", "11", False),
    ("DateLessThanIfExists", NOON, "2020-01-01T11:00:00Z", True),
    ("BoolIfExists", "true", "false", False),
    ("IpAddressIfExists", "10.0.0.0/8", "10.1.2.3", True),
    ("NotIpAddressIfExists", "10.0.0.0/8", "10.1.2.3", False),
    ("ArnLikeIfExists", "arn:aws:s3:::a-*", "arn:aws:s3:::b", False),
])
def test_if_exists_on_present_key_checks_as_usual(op: str, value: str, present: str,
                                                  expected: bool) -> None:
    assert one(op, "my:key", value, {"my:key": present}) is expected


def test_if_exists_with_a_negated_operator_in_a_deny_still_denies_when_key_missing() -> None:
    # "If you are using an Effect: Deny element with a negated condition operator like
    # StringNotEqualsIfExists, the request is still denied even if the tag is missing."
    doc = {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "OnlyBlue", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {TAG: "blue"}}}]}
    policy = parse_policy(doc, name="identity")
    request = Request.build(parse_principal(USER), "s3:GetObject", RESOURCE)
    assert evaluate(request, PolicySet(identity=(policy,))).effect is Effect.EXPLICIT_DENY


# -- Multivalued keys and the set operators ------------------------------------------------

TAGKEYS = "aws:TagKeys"

SET_CASES = [
    ("ForAllValues:StringEquals", ["team", "env"], ["team"], True),
    ("ForAllValues:StringEquals", ["team", "env"], ["env", "team"], True),
    ("ForAllValues:StringEquals", ["team", "env"], ["team", "owner"], False),
    ("ForAnyValue:StringEquals", ["team", "env"], ["owner", "team"], True),
    ("ForAnyValue:StringEquals", ["team", "env"], ["owner"], False),
    ("ForAllValues:StringLike", "Created*", ["CreatedBy", "CreatedAt"], True),
    ("ForAllValues:StringLike", "Created*", ["CreatedBy", "Owner"], False),
    ("ForAnyValue:StringLike", ["Created*", "Env*"], ["Owner", "EnvName"], True),
    ("ForAllValues:StringEqualsIgnoreCase", ["team"], ["TEAM", "Team"], True),
    # negated inside a set operator: each request value is tested with the negated operator
    ("ForAllValues:StringNotEquals", ["team"], ["env", "owner"], True),
    ("ForAllValues:StringNotEquals", ["team"], ["env", "team"], False),
    ("ForAnyValue:StringNotEquals", ["team"], ["team", "owner"], True),
    ("ForAnyValue:StringNotEquals", ["team"], ["team"], False),
    ("ForAllValues:StringEqualsIfExists", ["team"], ["team"], True),
    ("ForAnyValue:StringEqualsIfExists", ["team"], ["env"], False),
]


@pytest.mark.parametrize(("op", "policy_values", "request_values", "expected"), SET_CASES)
def test_set_operators_on_multivalued_keys(op: str, policy_values: Any,
                                           request_values: list[str], expected: bool) -> None:
    assert one(op, TAGKEYS, policy_values, {TAGKEYS: request_values}) is expected


def test_set_operators_on_an_empty_list() -> None:
    # ForAllValues "also returns true if ... the context key value resolves to a null
    # dataset"; ForAnyValue returns false for it.
    assert one("ForAllValues:StringEquals", TAGKEYS, "team", {TAGKEYS: []})
    assert not one("ForAnyValue:StringEquals", TAGKEYS, "team", {TAGKEYS: []})


@pytest.mark.parametrize("op", [
    *(o for o, _ in POSITIVE + NEGATED), *(f"{o}IfExists" for o, _ in POSITIVE + NEGATED),
    *(f"{q}:{o}" for q in ("ForAllValues", "ForAnyValue") for o, _ in SET_CAPABLE),
    *(f"{q}:{o}IfExists" for q in ("ForAllValues", "ForAnyValue") for o, _ in SET_CAPABLE)])
def test_an_empty_list_is_an_absent_key_to_every_operator(op: str) -> None:
    # IAM User Guide, "Single-valued vs. multivalued context keys": ForAllValues "also
    # returns true if there are no context keys in the request, or if the context key
    # value resolves to a null data set"; and "Condition operator to check existence of
    # condition keys": Null tests for exactly that. So a key given as [] (an empty tagging
    # header) reads as absent everywhere, IfExists included: one operator seeing it present
    # while Null sees it absent let an empty header past a Deny meant for untagged uploads.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
    value = dict(POSITIVE + NEGATED + SET_CAPABLE)[
        op.rsplit(":", maxsplit=1)[-1].removesuffix("IfExists")]
    assert one(op, "my:key", value, {"my:key": []}) is one(op, "my:key", value)


def test_null_sees_an_empty_list_as_null() -> None:
    assert one("Null", "my:key", "true", {"my:key": []}) is True
    assert one("Null", "my:key", "false", {"my:key": []}) is False


def test_an_empty_tagging_header_does_not_slip_past_a_deny_for_untagged_uploads() -> None:
    # The Deny some accounts use to force tags on uploads, written with IfExists; both an
    # untagged upload and one with an empty x-amz-tagging header must meet it.
    doc = {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
        {"Sid": "RequireProjectTag", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
         "Condition": {"ForAnyValue:StringNotEqualsIfExists": {
             "s3:RequestObjectTagKeys": "project"}}}]}
    policy = parse_policy(doc, name="identity")
    for context in ({}, {"s3:RequestObjectTagKeys": []}):
        request = Request.build(parse_principal(USER), "s3:PutObject", RESOURCE, context=context)
        assert evaluate(request, PolicySet(identity=(policy,))).effect is Effect.EXPLICIT_DENY
    tagged = Request.build(parse_principal(USER), "s3:PutObject", RESOURCE,
                           context={"s3:RequestObjectTagKeys": ["project"]})
    assert evaluate(tagged, PolicySet(identity=(policy,))).effect is Effect.ALLOW


def test_for_any_value_arn_like_over_a_list_of_arns() -> None:
    ctx = {"my:arns": ["arn:aws:s3:::other", "arn:aws:s3:::a-uploads"]}
    assert one("ForAnyValue:ArnLike", "my:arns", "arn:aws:s3:::a-*", ctx)
    assert not one("ForAllValues:ArnLike", "my:arns", "arn:aws:s3:::a-*", ctx)


def test_set_operator_if_exists_on_absent_key_is_true() -> None:
    assert one("ForAnyValue:StringEqualsIfExists", ABSENT, "x") is True


# -- How a block combines: keys and operators AND, values OR --------------------------------

def test_several_keys_under_one_operator_must_all_match() -> None:
    cond = {"StringEquals": {TAG: "blue", "aws:PrincipalTag/env": "prod"}}
    assert holds(cond, {TAG: "blue", "aws:PrincipalTag/env": "prod"})
    assert not holds(cond, {TAG: "blue", "aws:PrincipalTag/env": "dev"})


def test_several_operators_must_all_match() -> None:
    cond = {"StringEquals": {TAG: "blue"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert holds(cond, {TAG: "blue", "aws:SourceIp": "10.1.1.1"})
    assert not holds(cond, {TAG: "blue", "aws:SourceIp": "192.168.1.1"})
    assert not holds(cond, {TAG: "red", "aws:SourceIp": "10.1.1.1"})


# -- Key names are case-insensitive ---------------------------------------------------------

@pytest.mark.parametrize(("policy_key", "context_key"), [
    ("AWS:SourceIp", "aws:sourceip"),
    ("aws:sourceip", "AWS:SOURCEIP"),
    ("aws:SourceIp", "Aws:SourceIP"),
])
def test_condition_key_names_are_case_insensitive(policy_key: str, context_key: str) -> None:
    assert one("IpAddress", policy_key, "10.0.0.0/8", {context_key: "10.2.3.4"})
    assert not one("IpAddress", policy_key, "10.0.0.0/8", {context_key: "11.2.3.4"})


def test_negated_operator_sees_a_key_given_in_another_case() -> None:
    # If the case of the key made it look absent, StringNotEquals would be true.
    assert not one("StringNotEquals", "AWS:PrincipalTag/team", "blue",
                   {"aws:principaltag/team": "blue"})


def test_derived_keys_match_whatever_case_the_policy_writes() -> None:
    assert one("StringEquals", "AWS:USERNAME", "alice")
    assert one("StringEquals", "aws:PRINCIPALACCOUNT", "111111111111")


# -- Policy variables in condition values ----------------------------------------------------

def test_username_variable_in_string_equals() -> None:
    key = "aws:PrincipalTag/owner"
    assert one("StringEquals", key, "${aws:username}", {key: "alice"})
    assert not one("StringEquals", key, "${aws:username}", {key: "bob"})


def test_username_variable_inside_a_string_like_pattern() -> None:
    # The operators page's "home directory" example.
    values = ["", "home/", "home/${aws:username}/"]
    assert one("StringLike", "s3:prefix", values, {"s3:prefix": "home/alice/"})
    assert one("StringLike", "s3:prefix", values, {"s3:prefix": ""})
    assert not one("StringLike", "s3:prefix", values, {"s3:prefix": "home/bob/"})
    assert one("StringLike", "s3:prefix", "home/${aws:username}/*",
               {"s3:prefix": "home/alice/docs/a.txt"})


def test_variable_with_no_value_makes_the_condition_not_match() -> None:
    # A role session has no aws:username: the statement cannot apply.
    ctx = {"s3:prefix": "home/alice/x"}
    assert not one("StringLike", "s3:prefix", "home/${aws:username}/*", ctx, principal=SESSION)


def test_principal_tag_variable() -> None:
    key = "aws:ResourceTag/team"
    ctx = {"aws:PrincipalTag/team": "blue", key: "blue"}
    assert one("StringEquals", key, "${aws:PrincipalTag/team}", ctx)
    assert not one("StringEquals", key, "${aws:PrincipalTag/team}",
                   {"aws:PrincipalTag/team": "blue", key: "red"})


def test_variable_default_value_is_used_when_the_key_is_missing() -> None:
    key = "aws:ResourceTag/team"
    value = "${aws:PrincipalTag/team, 'none'}"
    assert one("StringEquals", key, value, {key: "none"})
    assert not one("StringEquals", key, value, {key: "blue"})
    # With the key present, its value wins over the default.
    assert one("StringEquals", key, value, {key: "blue", "aws:PrincipalTag/team": "blue"})
    assert not one("StringEquals", key, value, {key: "none", "aws:PrincipalTag/team": "blue"})


def test_variable_names_are_case_insensitive() -> None:
    key = "aws:PrincipalTag/owner"
    assert one("StringEquals", key, "${AWS:UserName}", {key: "alice"})


def test_variable_in_arn_operator() -> None:
    ctx = {"aws:SourceArn": "arn:aws:sns:us-east-1:111111111111:topic"}
    value = "arn:aws:sns:*:${aws:PrincipalAccount}:topic"
    assert one("ArnLike", "aws:SourceArn", value, ctx)
    assert not one("ArnLike", "aws:SourceArn", value,
                   {"aws:SourceArn": "arn:aws:sns:us-east-1:999999999999:topic"})


@pytest.mark.parametrize(("op", "value", "request_value", "expected"), [
    ("StringLike", "price${*}", "price*", True),
    ("StringLike", "price${*}", "price100", False),  # ${*} is a literal star
    ("StringLike", "what${?}", "what?", True),
    ("StringLike", "what${?}", "what!", False),  # ${?} is a literal question mark
    ("StringEquals", "cost${$}", "cost$", True),
    ("StringEquals", "${$}{aws:username}", "${aws:username}", True),
    ("StringEquals", "${$}{aws:username}", "$alice", False),
    ("StringEquals", "${$}{aws:username}", "alice", False),
])
def test_special_character_variables(op: str, value: str, request_value: str,
                                     expected: bool) -> None:
    assert one(op, "my:key", value, {"my:key": request_value}) is expected


@pytest.mark.parametrize("version", [V2008, _UNSET], ids=["2008-10-17", "no-version"])
def test_variables_are_literal_text_before_2012(version: object) -> None:
    key = "aws:PrincipalTag/owner"
    assert not one("StringEquals", key, "${aws:username}", {key: "alice"}, version=version)
    assert one("StringEquals", key, "${aws:username}", {key: "${aws:username}"},
               version=version)
    assert one("StringLike", "s3:prefix", "home/${aws:username}/*",
               {"s3:prefix": "home/${aws:username}/a"}, version=version)
    assert not one("StringLike", "s3:prefix", "home/${aws:username}/*",
                   {"s3:prefix": "home/alice/a"}, version=version)


# -- Errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    "StringEqualz", "ForSomeValues:StringEquals", "StringEqualsIfExist", "NullIfExists",
    "IfExists",
])
def test_unknown_operator_names_statement_sid_and_operator(op: str) -> None:
    err = str(policy_error({op: {"aws:username": "alice"}}))
    assert "my-policy" in err
    assert "Statement[1]" in err
    assert "Guarded" in err
    assert op in err


@pytest.mark.parametrize(("op", "value"), [
    ("NumericLessThan", "ten"),
    ("NumericEquals", "${aws:username}"),  # no policy variables with Numeric
    ("DateGreaterThan", "yesterday"),
    ("DateLessThan", "${aws:CurrentTime}"),  # no policy variables with Date
    ("IpAddress", "300.1.2.3/8"),
    ("NotIpAddress", "203.0.113.0/99"),
    ("IpAddress", "not-an-ip"),
    ("BinaryEquals", "not base64!"),
    ("Bool", "yes"),
    ("Null", "maybe"),
    ("StringEquals", []),
    ("StringEquals", {"nested": "object"}),
    ("StringEquals", [["nested"]]),
    ("StringEquals", None),
])
def test_bad_values_name_statement_sid_and_operator(op: str, value: object) -> None:
    err = str(policy_error({op: {"my:key": value}}))
    assert "Statement[1]" in err
    assert "Guarded" in err
    assert op in err


def test_error_without_sid_names_the_index() -> None:
    err = str(policy_error({"NumericLessThan": {"my:key": "ten"}}, sid=None))
    assert "Statement[1]" in err
    assert "NumericLessThan" in err


@pytest.mark.parametrize("condition", [
    "StringEquals",
    ["StringEquals"],
    {"StringEquals": "aws:username"},
    {"StringEquals": {}},
])
def test_malformed_condition_block_is_an_error(condition: object) -> None:
    err = str(policy_error(condition))
    assert "Statement[1]" in err
    assert "Guarded" in err
    assert "Condition" in err

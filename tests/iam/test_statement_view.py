"""The compiled statement tells what was written: elements, operators and JSON paths.

Operator grammar (qualifier prefix, `IfExists` suffix, `Not` forms) follows the IAM User
Guide, "IAM JSON policy elements: Condition operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and "Multivalued context keys" (ForAllValues/ForAnyValue),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossgrant.iam import (
    Condition,
    Element,
    PolicyType,
    PrincipalElement,
    Statement,
    parse_bare_statement,
    parse_policy,
    split_operator,
)
from crossgrant.iam.conditions import OPERATOR_NAMES
from crossgrant.serial import to_json

A = "111111111111"


def _stmt(doc: dict[str, Any], i: int = 0,
          policy_type: PolicyType = PolicyType.IDENTITY) -> Statement:
    return parse_policy(doc, policy_type=policy_type).statements[i]


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


READ = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": "arn:aws:s3:::b/*",
        "Condition": {"StringLike": {"s3:prefix": ["in/*", "out/*"]},
                      "ForAllValues:StringLikeIfExists": {"aws:TagKeys": "team-*"},
                      "Bool": {"aws:SecureTransport": True}}}
DENY = {"Effect": "Deny", "NotAction": "s3:*", "NotResource": ["arn:aws:s3:::b"]}


# -- statement paths ---------------------------------------------------------------------


def test_paths_of_a_statement_list() -> None:
    policy = parse_policy(_doc(DENY, READ))
    assert [s.path for s in policy.statements] == ["Statement[0]", "Statement[1]"]
    st1 = policy.statements[1]
    assert st1.action_element.path == "Statement[1].Action"
    assert st1.resource_element is not None
    assert st1.resource_element.path == "Statement[1].Resource"
    assert [c.path for c in st1.conditions] == [
        "Statement[1].Condition.StringLike.s3:prefix",
        "Statement[1].Condition.ForAllValues:StringLikeIfExists.aws:TagKeys",
        "Statement[1].Condition.Bool.aws:SecureTransport"]


def test_single_object_statement_has_path_statement() -> None:
    st0 = _stmt({"Version": "2012-10-17", "Statement": READ})
    assert st0.path == "Statement"
    assert st0.action_element.path == "Statement.Action"
    assert st0.conditions[0].path == "Statement.Condition.StringLike.s3:prefix"


def test_bare_statement_paths_start_at_the_element() -> None:
    policy = parse_bare_statement(READ, name="pasted")
    st0 = policy.statements[0]
    assert st0.path == ""
    assert st0.action_element.path == "Action"
    assert st0.conditions[0].path == "Condition.StringLike.s3:prefix"
    assert st0.action_element.located() == (("s3:GetObject", "Action[0]"),
                                            ("s3:ListBucket", "Action[1]"))
    assert policy.document == {"Version": "2012-10-17", "Statement": [READ]}


def test_sid_and_effect_read_as_written() -> None:
    policy = parse_policy(_doc(DENY, READ))
    assert [(s.sid, s.effect) for s in policy.statements] == [(None, "Deny"), ("Read", "Allow")]
    assert policy.statements[1].source == READ


# -- Action / Resource elements ------------------------------------------------------------


def test_elements_keep_values_as_written() -> None:
    st1 = _stmt(_doc(DENY, READ), 1)
    assert st1.action_element == Element("Action", ("s3:GetObject", "s3:ListBucket"),
                                         "Statement[1].Action", False, True)
    assert st1.resource_element == Element("Resource", ("arn:aws:s3:::b/*",),
                                           "Statement[1].Resource", False, False)
    assert st1.resource_element.located() == (("arn:aws:s3:::b/*", "Statement[1].Resource"),)


def test_not_elements_are_negated() -> None:
    st0 = _stmt(_doc(DENY))
    assert st0.action_element.name == "NotAction"
    assert st0.action_element.negated
    assert st0.action_element.values == ("s3:*",)
    assert st0.resource_element is not None
    assert st0.resource_element.name == "NotResource"
    assert st0.resource_element.negated
    assert st0.resource_element.located() == (("arn:aws:s3:::b", "Statement[0].NotResource[0]"),)


def test_resource_policy_without_resource_has_no_resource_element() -> None:
    st0 = _stmt(_doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}),
                policy_type=PolicyType.RESOURCE)
    assert st0.resource_element is None


# -- principals ---------------------------------------------------------------------------


def test_principal_entries_as_written_in_order() -> None:
    raw = {"AWS": [f"arn:aws:iam::{A}:role/R", A], "Service": "lambda.amazonaws.com"}
    st0 = _stmt(_doc({"Effect": "Allow", "Principal": raw, "Action": "sts:AssumeRole"}),
                policy_type=PolicyType.RESOURCE)
    pe = st0.principal_element
    assert pe is not None
    assert (pe.name, pe.negated, pe.wildcard, pe.path) == (
        "Principal", False, False, "Statement[0].Principal")
    # As written: the role ARN is not normalised to "account/name", the id not to a root ARN.
    assert pe.entries == (("AWS", f"arn:aws:iam::{A}:role/R"), ("AWS", A),
                          ("Service", "lambda.amazonaws.com"))
    assert pe.raw == raw
    assert pe.located() == (
        ("AWS", f"arn:aws:iam::{A}:role/R", "Statement[0].Principal.AWS[0]"),
        ("AWS", A, "Statement[0].Principal.AWS[1]"),
        ("Service", "lambda.amazonaws.com", "Statement[0].Principal.Service"))


def test_bare_star_principal_is_the_aws_wildcard() -> None:
    # "Principal": "*" and {"AWS": "*"} name the same principal (IAM User Guide, Principal:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)
    st0 = _stmt(_doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}),
                policy_type=PolicyType.RESOURCE)
    assert st0.principal_element == PrincipalElement(
        "Principal", False, True, (("AWS", "*"),), "Statement[0].Principal", "*")
    assert st0.principal_element.located() == (("AWS", "*", "Statement[0].Principal"),)


def test_not_principal_is_negated() -> None:
    st0 = _stmt(_doc({"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{A}:root"},
                      "Action": "s3:*", "Resource": "*"}), policy_type=PolicyType.RESOURCE)
    pe = st0.principal_element
    assert pe is not None
    assert (pe.name, pe.negated, pe.wildcard) == ("NotPrincipal", True, False)
    assert pe.entries == (("AWS", f"arn:aws:iam::{A}:root"),)


def test_identity_policy_has_no_principal_element() -> None:
    assert _stmt(_doc(READ)).principal_element is None


# -- conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("op", "expected"), [
    ("ForAllValues:StringLikeIfExists", ("ForAllValues", "StringLike", True)),
    ("ForAnyValue:StringEquals", ("ForAnyValue", "StringEquals", False)),
    ("StringNotEqualsIfExists", (None, "StringNotEquals", True)),
    ("Bool", (None, "Bool", False)),
    ("ArnNotLike", (None, "ArnNotLike", False)),
    ("Null", (None, "Null", False)),
    # Not a qualifier: the prefix must be followed by its colon.
    ("ForAllValuesStringLike", (None, "ForAllValuesStringLike", False)),
])
def test_split_operator(op: str, expected: tuple[str | None, str, bool]) -> None:
    assert split_operator(op) == expected


def test_condition_fields() -> None:
    c = _stmt(_doc(READ)).conditions[1]
    assert (c.operator, c.qualifier, c.base, c.if_exists, c.negated) == (
        "ForAllValues:StringLikeIfExists", "ForAllValues", "StringLike", True, False)
    assert (c.key, c.key_written, c.values) == ("aws:tagkeys", "aws:TagKeys", ("team-*",))


def test_condition_values_as_strings() -> None:
    c = _stmt(_doc(READ)).conditions[2]
    assert (c.base, c.key_written, c.values) == ("Bool", "aws:SecureTransport", ("true",))


@pytest.mark.parametrize(("op", "negated"), [
    ("StringNotEquals", True), ("StringNotEqualsIgnoreCase", True), ("StringNotLike", True),
    ("ArnNotEquals", True), ("ArnNotLike", True), ("NotIpAddress", True),
    ("NumericNotEquals", True), ("DateNotEquals", True),
    ("ForAnyValue:StringNotLikeIfExists", True),
    ("StringEquals", False), ("StringLike", False), ("ArnLike", False), ("IpAddress", False),
    ("NumericLessThan", False), ("Bool", False), ("Null", False),
])
def test_not_operators_are_negated(op: str, negated: bool) -> None:
    value = "10.0.0.0/8" if "IpAddress" in op else "1" if op.startswith(("Numeric", "Date")) \
        else "true" if op in ("Bool", "Null") else f"arn:aws:iam::{A}:root"
    doc = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {op: {"aws:SomeKey": value}}})
    assert _stmt(doc).conditions[0].negated is negated


_BASES = sorted(OPERATOR_NAMES - {"Null"})
_VALUES = {"Bool": "true", "IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8",
           "BinaryEquals": "QUJD"}


@st.composite
def _operators(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(_BASES))
    qualifier = draw(st.sampled_from(["", "ForAllValues:", "ForAnyValue:"]))
    suffix = draw(st.sampled_from(["", "IfExists"]))
    return f"{qualifier}{base}{suffix}"


def _value_for(base: str) -> str:
    if base.startswith(("Numeric", "Date")):
        return "5"
    if base.startswith("Arn"):
        return f"arn:aws:iam::{A}:root"
    return _VALUES.get(base, "x")


@settings(max_examples=150, deadline=None)
@given(st.lists(_operators(), min_size=1, max_size=4, unique=True))
def test_every_condition_recombines_to_its_operator(ops: list[str]) -> None:
    block = {op: {"aws:Key": _value_for(split_operator(op)[1])} for op in ops}
    doc = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": block})
    conditions: tuple[Condition, ...] = _stmt(doc).conditions
    assert [c.operator for c in conditions] == ops
    for c in conditions:
        rebuilt = (f"{c.qualifier}:" if c.qualifier else "") + c.base \
            + ("IfExists" if c.if_exists else "")
        assert rebuilt == c.operator
        assert (c.qualifier, c.base, c.if_exists) == split_operator(c.operator)
        assert c.negated == ("Not" in c.base)
        assert c.path == f"Statement[0].Condition.{c.operator}.aws:Key"


# -- JSON through crossgrant.serial -------------------------------------------------------


def test_parsed_values_turn_into_json() -> None:
    policy = parse_policy(_doc(DENY, READ), name="p")
    assert to_json(policy) == policy.document
    st1 = policy.statements[1]
    assert to_json(st1) == READ
    assert to_json(st1.ref) == st1.ref.as_json() == {
        "document": "p", "statement": "Read", "effect": "Allow"}
    assert to_json(st1.conditions[1]) == {  # the compiled test stays out
        "operator": "ForAllValues:StringLikeIfExists", "key": "aws:tagkeys",
        "values": ["team-*"], "base": "StringLike", "qualifier": "ForAllValues",
        "if_exists": True, "negated": False, "key_written": "aws:TagKeys",
        "path": "Statement[1].Condition.ForAllValues:StringLikeIfExists.aws:TagKeys"}
    assert to_json(st1.action_element) == {
        "name": "Action", "values": ["s3:GetObject", "s3:ListBucket"],
        "path": "Statement[1].Action", "negated": False, "listed": True}

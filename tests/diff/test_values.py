"""Representative condition values: one per class of values the conditions treat alike.

Operator semantics: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and multivalued keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.diff.model import Unprovable
from crossgrant.diff.values import CondRef, key_values
from crossgrant.iam.conditions import compile_condition_block


def refs(block: dict[str, Any], variables: bool = True) -> list[CondRef]:
    return [CondRef(c, variables) for c in compile_condition_block(block, "t", variables=True)]


def classes(key: str, block: dict[str, Any]) -> set[tuple[bool, ...]]:
    conds = refs(block)
    out = set()
    for v in key_values(key, conds):
        ctx = {} if v is None else {key: v}
        out.add(tuple(c.condition.test(ctx) for c in conds))
    return out


def test_numbers_split_at_each_literal() -> None:
    # below 1, 1, between, 5, above; every combination of the two that occurs
    assert classes("n", {"NumericLessThan": {"n": "5"}, "NumericGreaterThan": {"n": "1"}}) \
        == {(True, False), (True, True), (False, True), (False, False)}


def test_numbers_at_the_boundary() -> None:
    assert classes("n", {"NumericLessThan": {"n": "5"}, "NumericLessThanEquals": {"n": "5"}}) \
        == {(True, True), (False, True), (False, False)}


def test_ip_blocks_inside_and_outside() -> None:
    block = {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]},
             "NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}}
    # in /8 not in /16, in both, in neither, absent (NotIpAddress true, IpAddress false)
    assert classes("aws:sourceip", block) == {(True, True), (True, False), (False, True)}


def test_dates_one_second_apart() -> None:
    block = {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
             "DateLessThanEquals": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}
    assert (False, True) in classes("aws:currenttime", block)


def test_absence_is_kept_apart_from_every_value() -> None:
    values = key_values("k", refs({"StringEquals": {"k": "a"}}))
    assert None in values and ("a",) in values and len(values) == 3


def test_multivalued_keys_get_sets() -> None:
    block = {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]},
             "ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}
    values = key_values("aws:tagkeys", refs(block))
    assert () in values and None in values
    # {a}: both; {b}: all only; {a, other}: any only; {other}: neither
    assert classes("aws:tagkeys", block) >= {(True, True), (True, False), (False, True),
                                             (False, False)}


def test_every_outcome_of_overlapping_patterns_occurs() -> None:
    block = {"StringLike": {"k": "a*"}, "StringNotLike": {"k": "*b"}}
    assert classes("k", block) == {(False, True), (True, True), (False, False), (True, False)}


def test_ignore_case_is_told_apart_from_exact() -> None:
    assert classes("k", {"StringEquals": {"k": "Red"},
                         "StringEqualsIgnoreCase": {"k": "red"}}) >= {(True, True),
                                                                     (False, True)}


def test_mixed_families_cannot_be_proven() -> None:
    with pytest.raises(Unprovable, match="compared as"):
        key_values("k", refs({"StringEquals": {"k": "5"}, "NumericEquals": {"k": "5"}}))


def test_variables_cannot_be_proven() -> None:
    with pytest.raises(Unprovable, match="policy variable"):
        key_values("k", refs({"StringEquals": {"k": "${aws:username}"}}))

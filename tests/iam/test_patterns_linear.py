"""The multi-star matcher agrees with the regex reading of a pattern and stays linear.

The regex translation (`_regex_arn` / `_regex_plain`) is the reference: it is what the
single-star path uses, and on short strings its backtracking is harmless. ARN wildcard
rules follow the IAM JSON policy elements reference, "Resource" (wildcards in the
resource segment may span slashes; segments are separated by colons):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
"""

from __future__ import annotations

import re
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from crossgrant.iam.patterns import _regex_arn, _regex_plain, compile_glob, glob_tokens

ALPHABET = "ab:/*?"
TEXT_ALPHABET = "ab:/"


def reference(pattern: str, text: str, *, arn: bool, strict: bool, ignore_case: bool) -> bool:
    tokens = glob_tokens(pattern.lower() if ignore_case else pattern)
    if pattern == "*":  # a lone star matches anything, in every reading
        return True
    body = _regex_arn(tokens, strict) if arn else _regex_plain(tokens)
    return re.fullmatch(body, text.lower() if ignore_case else text, re.DOTALL) is not None


@settings(max_examples=1500, deadline=None)
@given(st.text(ALPHABET, max_size=14), st.text(TEXT_ALPHABET, max_size=14), st.booleans(),
       st.booleans(), st.booleans())
@example("a*:*b", "a:b", True, False, False)
@example("arn:a*:*:b*:*:x*y*z", "arn:ab:q:bb::xqyqz", True, False, False)
@example("a*b*", "AB", False, False, True)
def test_matches_like_the_regex(pattern: str, text: str, arn: bool, strict: bool,
                                ignore_case: bool) -> None:
    got = compile_glob(pattern, arn=arn, strict=strict, ignore_case=ignore_case)(text)
    assert got == reference(pattern, text, arn=arn, strict=strict, ignore_case=ignore_case)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ":", "/", "*", "?", "ab*", "*:"]), max_size=12),
       st.text("ab/", max_size=20), st.booleans())
def test_arn_shaped_patterns(parts: list[str], tail: str, strict: bool) -> None:
    pattern = "arn:aws:s" + "".join(parts)
    text = "arn:aws:s3:eu-west-1:111:" + tail
    got = compile_glob(pattern, arn=True, strict=strict)(text)
    assert got == reference(pattern, text, arn=True, strict=strict, ignore_case=False)


def _steps(pattern: str, text: str) -> float:
    m = compile_glob(pattern, arn=True)
    t0 = time.perf_counter()
    m(text)
    return time.perf_counter() - t0


def test_hostile_many_star_pattern_is_not_quadratic() -> None:
    # Issue 11: a 2.5 KB pattern with many stars took 27 s. Compare against a small
    # pattern on the same machine rather than a wall-clock limit: the cost may grow with
    # the number of chunks, but not with chunks x text as a simulation would.
    hostile = "arn:aws:s3:::b/" + "a*" * 1250 + "b"
    text = "arn:aws:s3:::b/" + "a" * 20000
    small = "arn:aws:s3:::b/" + "a*" * 5 + "b"
    assert compile_glob(hostile, arn=True)(text) is False
    assert compile_glob(hostile, arn=True)(text + "b") is True
    assert _steps(hostile, text) < 400 * max(_steps(small, text), 1e-5)


def _decide_seconds(resource_pattern: str, like: str, resource: str) -> float:
    from crossgrant.iam import (  # noqa: PLC0415 (only this test needs the engine)
        PolicySet,
        Request,
        evaluate,
        parse_policy,
        parse_principal,
    )
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource_pattern,
         "Condition": {"StringLike": {"s3:ExistingObjectTag/k": like}}}]})
    request = Request.build(parse_principal("arn:aws:iam::111111111111:user/a"),
                            "s3:GetObject", resource, context={
                                "s3:ExistingObjectTag/k": resource.rsplit("/", 1)[-1]})
    t0 = time.perf_counter()
    evaluate(request, PolicySet(identity=(policy,)))
    return time.perf_counter() - t0


def test_a_many_star_policy_is_decided_like_a_small_one() -> None:
    # Issue 11: `crossgrant eval` took 27 s on a 2.5 KB Resource of many stars. Through the
    # whole engine (compile included), in Resource and in a StringLike condition, compared
    # with a small pattern on the same machine rather than against a wall-clock limit.
    hostile = "arn:aws:s3:::b/" + "a*" * 1250 + "b"
    small = "arn:aws:s3:::b/" + "a*" * 5 + "b"
    resource = "arn:aws:s3:::b/" + "a" * 20000
    assert len(hostile) > 2500
    big = _decide_seconds(hostile, hostile.rsplit("/", 1)[-1], resource)
    little = _decide_seconds(small, small.rsplit("/", 1)[-1], resource)
    assert big < 400 * max(little, 1e-4)

"""The engine's caches stay bounded on a stream of distinct requests, and never change a
decision (issue 11: 55 MiB of memo entries after 1,000 statements x 2,000 requests).

Entries are counted, not bytes or seconds: `iam.memo.cache_entries()` sums every memo
and fixed-size cache of the engine, and `cache_bound()` is what it can never exceed.
"""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.iam import (
    PolicySet,
    PolicyType,
    Request,
    evaluate,
    memo,
    parse_policy,
    parse_principal,
)

A, B = "111111111111", "222222222222"


def _policies(n_docs: int = 50, per_doc: int = 20) -> PolicySet:
    """n_docs x per_doc statements (1,000 by default): identity documents and a bucket
    policy, with resources, principals and conditions that differ between documents."""
    identity = []
    for d in range(n_docs):
        statements: list[dict[str, Any]] = [{
            "Sid": f"D{d}S{s}", "Effect": "Allow" if s % 7 else "Deny",
            "Action": ["s3:GetObject", f"s3:Put{'Object' if s % 3 else 'ObjectTagging'}"],
            "Resource": [f"arn:aws:s3:::bucket-{d % 5}/p{s}/*", f"arn:aws:s3:::bucket-{d % 5}/x*"],
            "Condition": {"StringLike": {"aws:PrincipalTag/team": f"t{s % 4}*"},
                          "IpAddress": {"aws:SourceIp": f"10.{d}.0.0/16"}},
        } for s in range(per_doc)]
        identity.append(parse_policy({"Version": "2012-10-17", "Statement": statements},
                                     name=f"id{d}"))
    bucket = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Sid": f"B{s}", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{A}:role/R{s}"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{s % 5}/*"}
        for s in range(per_doc)]}, name="bucket", policy_type=PolicyType.RESOURCE)
    return PolicySet(identity=tuple(identity), resource=bucket)


def _request(i: int) -> Request:
    return Request.build(
        parse_principal(f"arn:aws:sts::{A}:assumed-role/R{i % 20}/session-{i}"),
        "s3:GetObject" if i % 2 else "s3:PutObject",
        f"arn:aws:s3:::bucket-{i % 5}/p{i % 20}/{i}/object-{i}.bin", resource_account=B,
        context={"aws:PrincipalTag/team": f"t{i % 4}x", "aws:SourceIp": f"10.{i % 50}.1.2"})


def test_caches_stay_bounded_over_distinct_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    # A small total forces several sweeps within the stream; the bound must hold at every
    # request, and the answers must not depend on what the caches remembered.
    monkeypatch.setattr(memo, "TOTAL_ENTRIES", 5_000)
    memo.clear_all()
    policies = _policies()
    assert sum(len(p.statements) for p in policies.identity) == 1000
    bound = memo.cache_bound()
    decisions = []
    peak = 0
    for i in range(2000):
        decisions.append(evaluate(_request(i), policies).effect)
        peak = max(peak, memo.cache_entries())
    assert peak <= bound
    assert peak > 1_000  # the memos were used, not bypassed
    memo.clear_all()
    fresh = _policies()
    assert [evaluate(_request(i), fresh).effect for i in range(0, 2000, 37)] == \
        decisions[::37]


def test_the_default_bound_is_a_fixed_number_of_entries() -> None:
    memo.clear_all()
    policies = _policies()
    for i in range(2000):
        evaluate(_request(i), policies)
    assert memo.cache_entries() <= memo.cache_bound() <= 200_000


def test_a_memo_keeps_to_its_own_cap() -> None:
    m: memo.Memo[int, int] = memo.Memo(cap=10)
    for i in range(100):
        m.put(i, i)
        assert len(m) <= 10
    assert m.get(99) == 99

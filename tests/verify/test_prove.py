"""verify: every example's intended access is allowed and every adversarial row denied, and
deliberately broken documents are caught by the matrix."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crossgrant.render import render
from crossgrant.render.artifacts import Artifacts, RoleArtifact
from crossgrant.spec import Mode, load_grant
from crossgrant.verify.prove import Report, verify
from crossgrant.world import load_state

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def _failures(report: Report) -> list[str]:
    return [r.probe.id for r in report.rows if not r.ok]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_verifies(path: Path) -> None:
    report = verify(render(load_grant(path)))
    assert _failures(report) == []
    groups = {r.probe.group for r in report.rows}
    assert groups == {"intended", "adversarial"}
    assert all(r.allowed for r in report.rows if r.probe.group == "intended")
    assert not any(r.allowed for r in report.rows if r.probe.group == "adversarial")


def _with_target_trust(art: Artifacts, trust: dict[str, Any]) -> Artifacts:
    roles = tuple(replace(r, trust_policy=trust) if r.account == art.grant.target.account
                  else r for r in art.roles)
    return replace(art, roles=roles)


def _assume_role_example() -> Artifacts:
    grant = next(g for g in (load_grant(p) for p in EXAMPLES) if g.mode is Mode.ASSUME_ROLE
                 and g.target.external_id is not None)
    return render(grant)


def test_trust_policy_naming_the_account_root_is_caught() -> None:
    art = _assume_role_example()
    target: RoleArtifact = next(r for r in art.roles if r.account == art.grant.target.account)
    trust = copy.deepcopy(target.trust_policy)
    assert trust is not None
    trust["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{art.grant.source.account}:root"}
    trust["Statement"][0].pop("Condition", None)
    failures = _failures(verify(_with_target_trust(art, trust)))
    assert "deny:other-role:assume" in failures
    assert "deny:other-function:assume" in failures
    assert "deny:whole-account:assume" in failures
    assert "deny:no-external-id" in failures


def test_trust_policy_open_to_everyone_is_caught_for_the_public_and_third_accounts() -> None:
    art = _assume_role_example()
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}
    failures = _failures(verify(_with_target_trust(art, trust)))
    assert {"deny:third-account:assume", "deny:public:assume"} <= set(failures)


def test_over_broad_target_permissions_are_caught() -> None:
    art = _assume_role_example()
    broad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "dynamodb:*"], "Resource": "*"}]}
    roles = tuple(replace(r, inline_policies=(("broad", broad),))
                  if r.account == art.grant.target.account else r for r in art.roles)
    failures = _failures(verify(replace(art, roles=roles)))
    assert any(f.startswith("deny:s3:DeleteBucket") for f in failures)
    assert any(f.startswith("deny:other-bucket") for f in failures)


def test_bucket_policy_granting_the_whole_source_account_is_caught() -> None:
    grant = next(g for g in (load_grant(p) for p in EXAMPLES)
                 if g.mode is Mode.RESOURCE_POLICY and g.s3)
    art = render(grant)
    policies = []
    for ps in art.resource_policies:
        stmts = tuple({**s, "Principal": {"AWS": grant.source.account}}
                      if s["Effect"] == "Allow" else s for s in ps.statements)
        policies.append(replace(ps, statements=stmts))
    failures = _failures(verify(replace(art, resource_policies=tuple(policies))))
    assert any(f.startswith("deny:other-role:direct") for f in failures)
    assert any(f.startswith("deny:whole-account:direct") for f in failures)


def test_a_missing_grant_shows_as_a_failed_intended_row() -> None:
    art = _assume_role_example()
    roles = tuple(replace(r, inline_policies=()) if r.account == art.grant.target.account
                  else r for r in art.roles)
    report = verify(replace(art, roles=roles))
    assert not report.ok
    failed = [r for r in report.rows if not r.ok]
    assert failed and all(r.probe.group == "intended" for r in failed)
    assert "no identity-based policy allows" in failed[0].explanation()


def test_verify_over_a_state_keeps_foreign_bucket_statements_and_checks_ownership() -> None:
    grant = next(g for g in (load_grant(p) for p in EXAMPLES)
                 if g.mode is Mode.RESOURCE_POLICY and g.s3)
    bucket = grant.s3[0].bucket
    state = load_state({"accounts": {grant.target.account: {"buckets": {bucket: {
        "region": grant.target.region, "object_ownership": "ObjectWriter",
        "policy": {"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyEveryoneDelete", "Effect": "Deny", "Principal": "*",
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}}}}}})
    report = verify(render(grant), state)
    writes = [r for r in report.rows if r.probe.id.startswith("s3-write")]
    assert writes and not any(r.allowed for r in writes)  # the foreign deny survived the merge
    assert "DenyEveryoneDelete" in writes[0].explanation()
    own = [q for q in report.requirements if q.requirement.field == "object_ownership"]
    assert own and not own[0].ok and own[0].actual == "ObjectWriter"

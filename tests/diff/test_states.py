"""Diffs of account states and of grant files (rendered, then applied in memory).

The base state is the documented example (docs/state.md). AWS behaviour relied on: the
policy evaluation logic, including cross-account access and role trust
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crossgrant.diff import Verdict, diff_states
from crossgrant.diff.inputs import grant_state
from crossgrant.world import load_state

ROOT = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = json.loads(re.search(
    r"```json\n(.*?)```", (ROOT / "docs" / "state.md").read_text(encoding="utf-8"),
    re.DOTALL).group(1))  # type: ignore[union-attr]
A, B = "111111111111", "222222222222"


def _images(d: dict[str, Any]) -> list[dict[str, Any]]:
    policy: list[dict[str, Any]] = d["accounts"][B]["buckets"]["b-images"]["policy"]["Statement"]
    return policy


def _writer(d: dict[str, Any]) -> dict[str, Any]:
    role: dict[str, Any] = d["accounts"][B]["roles"]["ThumbWriter"]
    return role


def verdict(change: Callable[[dict[str, Any]], None]) -> Verdict:
    after = copy.deepcopy(BASE)
    change(after)
    return diff_states(load_state(BASE), load_state(after)).verdict


def _tls_removed(d: dict[str, Any]) -> None:
    _images(d).pop(1)


def _trust_to_account(d: dict[str, Any]) -> None:
    _writer(d)["trust_policy"]["Statement"][0]["Principal"] = {"AWS": A}


def _writer_widened(d: dict[str, Any]) -> None:
    _writer(d)["inline_policies"]["write"]["Statement"][0]["Action"] = "s3:*"


def _reordered(d: dict[str, Any]) -> None:
    _writer(d)["inline_policies"]["write"]["Statement"].reverse()
    _images(d).reverse()


def _boundary_removed(d: dict[str, Any]) -> None:
    d["accounts"][A]["roles"]["ThumbExec"]["permissions_boundary"] = None


def _role_removed(d: dict[str, Any]) -> None:
    del d["accounts"][B]["roles"]["ThumbWriter"]


def _bucket_grant_to_everyone(d: dict[str, Any]) -> None:
    _images(d)[0]["Principal"] = "*"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: None, Verdict.NOTHING_NEW),
    (_reordered, Verdict.NOTHING_NEW),
    (_role_removed, Verdict.NOTHING_NEW),
    (_tls_removed, Verdict.NEW_ACCESS),
    (_trust_to_account, Verdict.NEW_ACCESS),
    (_writer_widened, Verdict.NEW_ACCESS),
    (_bucket_grant_to_everyone, Verdict.NEW_ACCESS),
])
def test_state_changes(change: Callable[[dict[str, Any]], None], expected: Verdict) -> None:
    assert verdict(change) is expected


def test_boundary_removed_is_new_access_only_beyond_the_boundary() -> None:
    """The boundary allows s3:*, sts:AssumeRole and logs:*; ThumbExec's own policy asks for
    no more, so removing it adds nothing."""
    assert verdict(_boundary_removed) is Verdict.NOTHING_NEW


def test_trust_widening_names_the_trust_statement() -> None:
    after = copy.deepcopy(BASE)
    _trust_to_account(after)
    result = diff_states(load_state(BASE), load_state(after))
    (group,) = result.groups
    assert group.granted_by[0].document == f"trust policy of arn:aws:iam::{B}:role/ThumbWriter"
    assert {a.principal for a in group.accesses} == {f"arn:aws:iam::{A}:root"}
    assert all(a.actions == ("sts:AssumeRole",) for a in group.accesses)


GRANT = """\
name: shared-bucket
source: {account: "111111111111", region: eu-west-1, function: client,
         execution_role: LambdaExecutionRole}
target: {account: "222222222222", region: eu-west-1}
mode: resource-policy
access:
  s3:
    - bucket: my-shared-bucket
      levels: LEVELS
"""


def _grant(tmp_path: Path, name: str, levels: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(GRANT.replace("LEVELS", levels), encoding="utf-8")
    return path


@pytest.mark.parametrize(("before", "after", "expected"), [
    ("[read]", "[read]", Verdict.NOTHING_NEW),
    ("[read, write]", "[read]", Verdict.NOTHING_NEW),
    ("[read]", "[read, write]", Verdict.NEW_ACCESS),
])
def test_grant_files(tmp_path: Path, before: str, after: str, expected: Verdict) -> None:
    b = grant_state(_grant(tmp_path, "before", before), None)
    a = grant_state(_grant(tmp_path, "after", after), None)
    result = diff_states(b, a, compared="grant")
    assert result.verdict is expected
    if expected is Verdict.NEW_ACCESS:
        actions = {x for g in result.groups for acc in g.accesses for x in acc.actions}
        assert "s3:PutObject" in actions


def test_example_grants_against_themselves() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        state = grant_state(path, None)
        assert diff_states(state, state).verdict is Verdict.NOTHING_NEW, path

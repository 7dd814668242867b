"""`check --not-granted`: Access Analyzer's CheckAccessNotGranted, offline
(https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_CheckAccessNotGranted.html).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from crossgrant.diff import DocType, Verdict, check_not_granted, parse_document
from crossgrant.world import load_state

ROOT = Path(__file__).resolve().parents[2]
V = "2012-10-17"


def identity(*statements: dict[str, Any]) -> Any:
    return parse_document({"Version": V, "Statement": list(statements)}, DocType.IDENTITY,
                          "policy.json")


def test_allowed_action_is_reported_with_a_witness() -> None:
    policy = identity({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})
    result = check_not_granted(policy, ["s3:DeleteObject"])
    assert result.verdict is Verdict.NEW_ACCESS
    access = result.groups[0].accesses[0]
    assert "s3:DeleteObject" in access.actions
    assert access.resource.startswith("arn:aws:s3:::b/")


def test_denied_action_is_not_granted() -> None:
    policy = identity({"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                      {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"})
    assert check_not_granted(policy, ["s3:DeleteObject", "s3:DeleteBucket"]).verdict \
        is Verdict.NOTHING_NEW


def test_only_the_listed_resources_count() -> None:
    policy = identity({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"})
    assert check_not_granted(policy, ["s3:PutObject"], ["arn:aws:s3:::other/*"]).verdict \
        is Verdict.NOTHING_NEW
    assert check_not_granted(policy, ["s3:PutObject"], ["arn:aws:s3:::b/in/*"]).verdict \
        is Verdict.NEW_ACCESS


def test_action_patterns_can_be_checked() -> None:
    policy = identity({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})
    assert check_not_granted(policy, ["iam:*"]).verdict is Verdict.NEW_ACCESS
    assert check_not_granted(policy, ["kms:*"]).verdict is Verdict.NOTHING_NEW


def test_bucket_policy_granting_to_everyone() -> None:
    policy = parse_document({"Version": V, "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::public/*"}]}, DocType.RESOURCE, "bucket.json")
    result = check_not_granted(policy, ["s3:GetObject"], doc_type=DocType.RESOURCE)
    assert result.verdict is Verdict.NEW_ACCESS
    assert any(a.principal == "anonymous" for g in result.groups for a in g.accesses)


def test_state() -> None:
    base = json.loads(re.search(r"```json\n(.*?)```", (ROOT / "docs" / "state.md").read_text(
        encoding="utf-8"), re.DOTALL).group(1))  # type: ignore[union-attr]
    state = load_state(copy.deepcopy(base))
    assert check_not_granted(state, ["s3:PutObject"], ["arn:aws:s3:::b-images/*"]).verdict \
        is Verdict.NEW_ACCESS
    assert check_not_granted(state, ["iam:CreateUser"]).verdict is Verdict.NOTHING_NEW

"""verify for grants v2: intended accesses from every source account (an organization's
members, a nested OU's included), and denied: the same role name outside the listed
accounts, outside the OUs and outside the organization, another role of a member
account, the entries' neighbours (write on a read-only prefix, DeleteItem where only
PutItem was granted). Broken documents are caught by exactly those rows.

The decisions follow AWS's cross-account evaluation (the trust policy and the caller's
policy must both allow),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
and aws:PrincipalOrgPaths / aws:PrincipalArn as the global condition keys page defines them,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from crossgrant.render import render
from crossgrant.render.artifacts import Artifacts, PolicyStatements
from crossgrant.spec import Grant, Mode, load_grant, parse_grant
from crossgrant.verify.prove import Report, verification_state, verify

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS_GRANT = """\
name: team-reports
source:
  accounts: ["111111111111", "333333333333", "444444444444"]
  region: eu-west-1
  function: reporter
target: {account: "222222222222", region: eu-west-1}
mode: MODE
access:
  s3:
    - {bucket: reports-bucket, prefixes: ["in/"], levels: [read, list]}
    - {bucket: reports-bucket, prefixes: ["out/"], levels: [write]}
  dynamodb:
    - {table: reports, actions: [dynamodb:PutItem]}
"""


def _grant(mode: Mode) -> Grant:
    text = ACCOUNTS_GRANT.replace("MODE", mode.value)
    if mode is Mode.ASSUME_ROLE:
        text = text.replace("access:", "role: {name: reports-writer}\naccess:")
    return parse_grant(text)


def _failures(report: Report) -> list[str]:
    return [r.probe.id for r in report.rows if not r.ok]


def _ids(report: Report, group: str) -> set[str]:
    return {r.probe.id for r in report.rows if r.probe.group == group}


def test_the_organization_example_is_proved_for_each_member() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    report = verify(art)
    assert _failures(report) == []
    members = art.grant.source.accounts
    assert len(members) == 3  # one per OU and one in an OU nested below the first
    for account in members:
        assert f"assume@{account}" in _ids(report, "intended")
        assert f"dynamodb:PutItem:archive-index@{account}" in _ids(report, "intended")
    adversarial = _ids(report, "adversarial")
    assert {"deny:same-role-outside-units:assume", "deny:same-role-outside-org:assume",
            "deny:other-role:assume", "deny:other-function:assume"} <= adversarial
    assert "deny:dynamodb:DeleteItem:archive-index" in adversarial
    assert "deny:dynamodb:UpdateItem:archive-index" in adversarial
    assert "deny:s3:PutObject:my-cross-account-s3-bucket/manifests/" in adversarial


def test_the_organization_is_in_the_state_with_its_adversaries() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    state = verification_state(art)
    org = state.organization
    assert org is not None and org.id == "o-a1b2c3d4e5"
    nested = art.grant.source.accounts[-1]
    assert org.org_paths(nested) == ("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"
                                     "ou-ab12-11111111-nested/")
    assert org.org_paths("800000000001") == "o-a1b2c3d4e5/r-ab12/"  # outside the OUs
    assert org.org_paths("810000000001") is None  # outside the organization
    for account in ("800000000001", "810000000001"):
        assert state.accounts[account].role("DataProcessingLambdaRole") is not None


def test_the_etl_example_denies_write_on_its_input() -> None:
    report = verify(render(load_grant(ROOT / "examples" / "etl.yaml")))
    assert _failures(report) == []
    adversarial = _ids(report, "adversarial")
    assert "deny:s3:PutObject:etl-data-bucket/in/" in adversarial
    assert "deny:s3:GetObject:etl-data-bucket/reports/out/" in adversarial
    assert "deny:s3:DeleteObject:etl-data-bucket/in/" in adversarial
    assert {"s3-read:etl-data-bucket/in/", "s3-list:etl-data-bucket/in/",
            "s3-write:etl-data-bucket/reports/out/"} <= _ids(report, "intended")


def test_an_account_list_is_proved_for_each_account_in_both_modes() -> None:
    for mode in Mode:
        report = verify(render(_grant(mode)))
        assert _failures(report) == [], mode
        for account in ("111111111111", "333333333333", "444444444444"):
            assert f"dynamodb:PutItem:reports@{account}" in _ids(report, "intended")
        assert "deny:same-role-other-account:direct" in _ids(report, "adversarial")


def _without_condition(art: Artifacts, key: str) -> Artifacts:
    """The organization grant with one narrowing condition dropped from B's trust."""
    roles = []
    for role in art.roles:
        if role.account == art.grant.target.account and role.trust_policy is not None:
            trust = copy.deepcopy(role.trust_policy)
            for st in trust["Statement"]:
                for op in list(st["Condition"]):
                    st["Condition"][op].pop(key, None)
                    if not st["Condition"][op]:
                        del st["Condition"][op]
            roles.append(replace(role, trust_policy=trust))
        else:
            roles.append(role)
    return replace(art, roles=tuple(roles))


def test_a_trust_without_the_ou_paths_lets_the_rest_of_the_organization_in() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    failures = _failures(verify(_without_condition(art, "aws:PrincipalOrgPaths")))
    assert failures == ["deny:same-role-outside-units:assume"]


def test_a_trust_without_the_role_name_lets_every_role_of_a_member_in() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    failures = _failures(verify(_without_condition(art, "aws:PrincipalArn")))
    assert {"deny:other-role:assume", "deny:other-function:assume",
            "deny:whole-account:assume"} <= set(failures)
    assert "deny:same-role-outside-org:assume" not in failures


def test_a_merged_bucket_entry_is_caught_as_write_on_the_read_only_prefix() -> None:
    """The v1 workaround issue 13 describes: one statement for both prefixes."""
    art = render(load_grant(ROOT / "examples" / "etl.yaml"))
    policies = []
    for ps in art.resource_policies:
        statements: list[dict[str, Any]] = []
        for st in ps.statements:
            if st["Sid"].startswith("CgEtlS3Object"):
                statements.append({**st, "Action": ["s3:GetObject", "s3:PutObject"],
                                   "Resource": ["arn:aws:s3:::etl-data-bucket/in/*",
                                                "arn:aws:s3:::etl-data-bucket/reports/out/*"]})
            else:
                statements.append(st)
        policies.append(PolicyStatements(ps.account, ps.kind, ps.resource, tuple(statements)))
    roles = tuple(replace(r, inline_policies=tuple(
        (n, {**d, "Statement": [
            {**st, "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": ["arn:aws:s3:::etl-data-bucket/in/*",
                          "arn:aws:s3:::etl-data-bucket/reports/out/*"]}
            if st.get("Sid", "").startswith("CgEtlS3Object") else st
            for st in d["Statement"]]}) for n, d in r.inline_policies)) for r in art.roles)
    failures = _failures(verify(replace(art, roles=roles, resource_policies=tuple(policies))))
    assert {"deny:s3:PutObject:etl-data-bucket/in/",
            "deny:s3:GetObject:etl-data-bucket/reports/out/"} <= set(failures)


def test_a_put_only_table_granted_every_write_is_caught() -> None:
    art = render(_grant(Mode.ASSUME_ROLE))
    roles = []
    for role in art.roles:
        if role.account == art.grant.target.account:
            name, doc = role.inline_policies[0]
            doc = copy.deepcopy(doc)
            for st in doc["Statement"]:
                if st["Sid"].endswith("Table0"):
                    st["Action"] = ["dynamodb:PutItem", "dynamodb:DeleteItem",
                                    "dynamodb:UpdateItem"]
            roles.append(replace(role, inline_policies=((name, doc),)))
        else:
            roles.append(role)
    failures = _failures(verify(replace(art, roles=tuple(roles))))
    assert failures == ["deny:dynamodb:DeleteItem:reports", "deny:dynamodb:UpdateItem:reports"]

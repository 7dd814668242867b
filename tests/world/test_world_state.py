"""The state model built directly in Python, as the renderer will build it."""

from __future__ import annotations

import dataclasses

import pytest

from crossgrant.errors import StateError
from crossgrant.iam import Policy, PolicyType, Request, parse_policy, parse_principal
from crossgrant.world import (
    Account,
    AccountState,
    Bucket,
    FrozenMap,
    ManagedPolicy,
    OrgAccount,
    Organization,
    Role,
    UnknownDecision,
    UnknownPolicy,
    authorize,
    dump_state,
    load_state,
)
from crossgrant.world.state import role_arn, trust_policy_label

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}


def test_frozen_map_is_read_only_hashable_and_compares_by_content() -> None:
    m = FrozenMap({"b": 1, "a": 2})
    assert m == FrozenMap([("a", 2), ("b", 1)])
    assert m == {"a": 2, "b": 1}
    assert hash(m) == hash(FrozenMap({"a": 2, "b": 1}))
    assert m != FrozenMap({"a": 2})
    with pytest.raises(TypeError):
        m["c"] = 3  # type: ignore[index]


def test_dataclasses_are_frozen() -> None:
    bucket = Bucket(name="b-x1", region="eu-west-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        bucket.name = "other"  # type: ignore[misc]


def test_a_state_built_in_python_dumps_and_loads_back() -> None:
    arn = role_arn("111111111111", "Fn", "/lambda/")
    role = Role(name="Fn", path="/lambda/", arn=arn,
                trust_policy=parse_policy(TRUST, name=trust_policy_label(arn),
                                          policy_type=PolicyType.RESOURCE),
                inline_policies={"p": parse_policy(
                    {"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
                    name=f"{arn} inline policy 'p'")})
    state = AccountState(accounts={"111111111111": Account(
        id="111111111111", roles={"Fn": role}, buckets={"b-x1": Bucket(
            name="b-x1", region="eu-west-1")})})
    assert isinstance(state.accounts, FrozenMap)
    assert isinstance(state.accounts["111111111111"].roles["Fn"].inline_policies, FrozenMap)
    assert load_state(dump_state(state)) == state
    session = parse_principal("arn:aws:sts::111111111111:assumed-role/Fn/s")
    assert authorize(state, Request.build(session, "s3:GetObject",
                                          "arn:aws:s3:::b-x1/k")).allowed


def test_bucket_names_are_global_in_a_built_state() -> None:
    with pytest.raises(StateError, match="bucket 'b-x1' is in both account"):
        AccountState(accounts={
            "111111111111": Account(id="111111111111",
                                    buckets={"b-x1": Bucket(name="b-x1", region="eu-west-1")}),
            "222222222222": Account(id="222222222222",
                                    buckets={"b-x1": Bucket(name="b-x1", region="eu-west-1")}),
        })


def test_managed_policy_is_compiled_for_both_uses() -> None:
    doc = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    mp = ManagedPolicy.from_document("arn:aws:iam::111111111111:policy/P", doc)
    assert isinstance(mp.policy, Policy) and isinstance(mp.boundary, Policy)
    assert mp.policy.policy_type is PolicyType.IDENTITY
    assert mp.boundary.policy_type is PolicyType.BOUNDARY
    unknown = ManagedPolicy.from_document("arn:aws:iam::111111111111:policy/P", None,
                                          unknown_reason="AccessDenied")
    assert unknown.boundary == UnknownPolicy("arn:aws:iam::111111111111:policy/P",
                                             PolicyType.BOUNDARY, "AccessDenied")


def test_attachment_of_an_undefined_scp_is_unknown_not_absent() -> None:
    org = Organization(id="o-abcdefghij", root_id="r-ab12", root_scps=("Missing",),
                       accounts={"111111111111": OrgAccount(parent="r-ab12")},
                       scps={"Other": parse_policy(
                           {"Version": "2012-10-17", "Statement": [
                               {"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                           name="SCP 'Other'", policy_type=PolicyType.SCP)})
    (root_level, account_level) = org.scp_levels("111111111111")
    assert account_level == ()
    assert root_level == (UnknownPolicy("SCP 'Missing'", PolicyType.SCP,
                                        "attached but not defined in the organization"),)
    state = AccountState(accounts={"111111111111": Account(id="111111111111")},
                         organization=org)
    root = parse_principal("arn:aws:iam::111111111111:root")
    d = authorize(state, Request.build(root, "s3:ListAllMyBuckets", "*"))
    assert not d.allowed  # the account level attaches nothing: a certain implicit deny
    assert not isinstance(d, UnknownDecision)


def test_broken_org_tree_built_in_python_is_reported() -> None:
    org = Organization(id="o-abcdefghij", root_id="r-ab12",
                       accounts={"111111111111": OrgAccount(parent="ou-ab12-missing1")})
    with pytest.raises(StateError, match="broken parent chain"):
        org.path("111111111111")

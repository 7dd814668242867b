"""The world model under issue 11: RCP levels that only deny, roles AWS owns, typed errors
from `load_state` (through the CLI too), and a loaded state free of reference cycles."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from crossgrant.cli.main import main
from crossgrant.errors import StateError
from crossgrant.iam import Effect, Request, parse_principal
from crossgrant.world import authorize, collect, load_state

Doc = dict[str, Any]

A = "111111111111"
B = "222222222222"
EXEC_SESSION = f"arn:aws:sts::{A}:assumed-role/ThumbExec/thumbnailer"
IMAGE = "arn:aws:s3:::b-images/in/cat.jpg"
TLS = {"aws:SecureTransport": "true"}
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
BIG = "9" * 5000


def _req(principal: str, action: str, resource: str, **context: Any) -> Request:
    return Request.build(parse_principal(principal), action, resource,
                         context={**TLS, **context})


# --- RCPs: RCPFullAWSAccess is always attached ------------------------------------------------

def test_an_organization_whose_rcps_only_deny_still_allows(doc: Doc) -> None:
    # AWS Organizations User Guide, "RCP evaluation": RCPFullAWSAccess is attached to the
    # root, every OU and every account and cannot be detached; "RCP syntax": Allow is only
    # supported for RCPFullAWSAccess. A state that lists only the Deny RCPs (the normal way
    # to write them) and leaves OU and account levels empty must not deny everything.
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
    org = doc["organization"]
    org["rcps"] = {"OrgOnly": {"Version": "2012-10-17", "Statement": [
        {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-exampleorg1"}}}]}}
    org["root"]["rcps"] = ["OrgOnly"]
    doc["accounts"][B]["buckets"]["b-images"]["policy"]["Statement"][0]["Principal"] = {
        "AWS": [f"arn:aws:iam::{A}:role/service/ThumbExec", "arn:aws:iam::333333333333:root"]}
    state = load_state(doc)
    got = collect(state, _req(EXEC_SESSION, "s3:GetObject", IMAGE))
    assert len(got.policies.rcps) >= 2 and () in got.policies.rcps  # empty levels reach it
    assert authorize(state, _req(EXEC_SESSION, "s3:GetObject", IMAGE)).allowed
    outsider = authorize(state, _req("arn:aws:sts::333333333333:assumed-role/P/s",
                                     "s3:GetObject", IMAGE), assume_identity_allows=True)
    assert outsider.effect is Effect.EXPLICIT_DENY
    assert outsider.because[0].document == "RCP 'OrgOnly'"


# --- roles AWS owns -----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "action", "rule"), [
    ("/aws-service-role/elasticloadbalancing.amazonaws.com/", "iam:AttachRolePolicy",
     "service-linked-role"),
    ("/aws-service-role/elasticloadbalancing.amazonaws.com/", "iam:PassRole",
     "service-linked-role"),
    ("/aws-reserved/sso.amazonaws.com/", "iam:PutRolePolicy", "aws-reserved-role"),
])
def test_a_role_aws_owns_is_found_by_name_and_refused(doc: Doc, path: str, action: str,
                                                      rule: str) -> None:
    # IAM User Guide, "Using service-linked roles": an IAM administrator "can view, but not
    # edit the permissions for service-linked roles"; IAM Identity Center's roles under
    # /aws-reserved/ are only modifiable by AWS. A request names the role without its path
    # (IAM APIs take a RoleName); the state knows the path.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html
    name = "AWSServiceRoleForELB" if "service-role" in path else "AWSReservedSSO_Admin_0123"
    doc["accounts"][A]["roles"][name] = {"path": path, "trust_policy": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]}}
    caller = doc["accounts"][A]["roles"]["ThumbExec"]
    caller["inline_policies"]["admin"] = ALLOW_ALL
    caller.pop("permissions_boundary", None)  # nothing but the rule may refuse
    state = load_state(doc)
    decision = authorize(state, _req(EXEC_SESSION, action, f"arn:aws:iam::{A}:role/{name}"))
    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.rule is not None and decision.rule.startswith(rule)
    plain = authorize(state, _req(EXEC_SESSION, action,
                                  f"arn:aws:iam::{A}:role/service/ThumbExec"))
    assert plain.allowed


# --- only typed errors ----------------------------------------------------------------------------
# Python's json raises ValueError for integers of more than 4,300 digits and RecursionError
# for deep nesting; load_state turns each into a one-line StateError naming the place.

@pytest.mark.parametrize(("text", "says"), [
    ('{"version": ' + BIG + "}", "4,300 digits"),
    ('{"accounts": {"111111111111": {"roles": {"R": {"trust_policy": {"Version": '
     '"2012-10-17", "Statement": [], "Id": ' + BIG + "}}}}}}", "4,300 digits"),
    ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ('{"accounts": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001, "nested too deeply"),
], ids=["version", "in-a-policy", "deep-array", "deep-object"])
def test_hostile_state_text_is_a_state_error(text: str, says: str) -> None:
    with pytest.raises(StateError) as err:
        load_state(text, source="snap.json")
    message = str(err.value)
    assert message.startswith("snap.json: ")
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize("mutate", [
    lambda d: d.__setitem__("version", 10 ** 5000),
    lambda d: d["accounts"][A]["roles"]["ThumbExec"].__setitem__("max_session_duration",
                                                                 10 ** 5000),
    lambda d: d["accounts"][A].__setitem__("id", 10 ** 5000),
    lambda d: d["accounts"][B]["buckets"]["b-images"]["policy"].__setitem__("Version",
                                                                            10 ** 5000),
], ids=["version", "max_session_duration", "account-id", "policy-version"])
def test_huge_numbers_in_a_decoded_state_are_state_errors(doc: Doc, mutate: Any) -> None:
    mutate(doc)
    with pytest.raises(StateError) as err:
        load_state(doc)
    assert "4,300 digits" in str(err.value)


@pytest.mark.parametrize("text", [
    '{"version": ' + BIG + "}",
    "[" * 10_000 + "]" * 10_000,
], ids=["huge-number", "deep"])
def test_the_cli_exits_2_with_one_line(text: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(path)])
    _out, err = capsys.readouterr()
    assert info.value.code == 2
    assert err.count("\n") == 1 and str(path) in err
    assert "Traceback" not in err


# --- no reference cycles --------------------------------------------------------------------------

def test_a_loaded_and_used_state_holds_no_reference_cycles(example_text: str) -> None:
    # A large state is frozen out of the collector's sight after loading (serialize); that
    # is only free of leaks if reference counting alone can free it.
    gc.collect()
    state = load_state(example_text)
    authorize(state, _req(EXEC_SESSION, "s3:GetObject", IMAGE))
    json.loads(example_text)
    del state
    assert gc.collect() == 0

"""A corpus of AccessDenied messages in AWS's real formats → the fields they carry; arbitrary
text never raises and is never guessed at."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossgrant.diagnose import Form, Reason, parse_message
from crossgrant.iam import Decision, Effect, PolicyType, StatementRef
from crossgrant.serial import to_json

SESSION = "arn:aws:sts::111111111111:assumed-role/ThumbExec/thumbnailer"
USER = "arn:aws:iam::123456789012:user/MaryMajor"
OBJ = "arn:aws:s3:::b-images/in/cat.jpg"
TABLE = "arn:aws:dynamodb:eu-west-1:222222222222:table/thumbs"
KEY = "arn:aws:kms:eu-west-1:222222222222:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROLE = "arn:aws:iam::222222222222:role/ThumbWriter"
SCP_ARN = ("arn:aws:organizations::999999999999:policy/o-exampleorg1/service_control_policy/"
           "p-abcd1234")
WRAP = "An error occurred ({code}) when calling the {op} operation: "


def head(action: str, resource: str | None = OBJ, quoted: bool = True,
         principal: str = SESSION) -> str:
    text = f"User: {principal} is not authorized to perform: {action}"
    if resource is not None:
        text += f" on resource: \"{resource}\"" if quoted else f" on resource: {resource}"
    return text


# (message, expected fields); fields not listed must be None/False/default.
CORPUS: list[tuple[str, dict[str, Any]]] = [
    # the bare cross-account form, quoted and not
    (head("s3:GetObject"),
     {"principal": SESSION, "action": "s3:GetObject", "resource": OBJ, "resource_quoted": True,
      "reason": Reason.NONE, "service": "s3"}),
    (head("s3:GetObject", quoted=False),
     {"principal": SESSION, "action": "s3:GetObject", "resource": OBJ, "reason": Reason.NONE,
      "service": "s3"}),
    # every implicit-deny clause
    (head("s3:GetObject") + " because no identity-based policy allows the s3:GetObject action",
     {"reason": Reason.NO_IDENTITY_ALLOW}),
    (head("s3:GetObject") + " because no resource-based policy allows the s3:GetObject action",
     {"reason": Reason.NO_RESOURCE_ALLOW}),
    (head("s3:GetObject") + " because no permissions boundary allows the s3:GetObject action",
     {"reason": Reason.NO_BOUNDARY_ALLOW}),
    (head("s3:GetObject") + " because no session policy allows the s3:GetObject action",
     {"reason": Reason.NO_SESSION_ALLOW}),
    (head("s3:GetObject") + " because no VPC endpoint policy allows the s3:GetObject action.",
     {"reason": Reason.NO_VPCE_ALLOW}),
    (head("codecommit:ListRepositories", None, principal=USER)
     + " because no identity-based policy allows the codecommit:ListRepositories action",
     {"principal": USER, "action": "codecommit:ListRepositories", "resource": None,
      "reason": Reason.NO_IDENTITY_ALLOW, "service": "codecommit"}),
    (head("codecommit:ListRepositories", None, principal=USER)
     + " with an implicit deny in a service control policy",
     {"principal": USER, "action": "codecommit:ListRepositories", "resource": None,
      "reason": Reason.NO_SCP_ALLOW, "service": "codecommit"}),
    # every explicit-deny clause
    (head("s3:GetObject") + " with an explicit deny in a service control policy",
     {"reason": Reason.DENY_SCP}),
    (head("s3:GetObject") + " with an explicit deny in a resource control policy",
     {"reason": Reason.DENY_RCP}),
    (head("s3:GetObject") + " with an explicit deny in an identity-based policy",
     {"reason": Reason.DENY_IDENTITY}),
    (head("s3:GetObject") + " with an explicit deny in a resource-based policy",
     {"reason": Reason.DENY_RESOURCE}),
    (head("s3:GetObject") + " with an explicit deny in a permissions boundary",
     {"reason": Reason.DENY_BOUNDARY}),
    (head("s3:GetObject") + " with an explicit deny in a session policy",
     {"reason": Reason.DENY_SESSION}),
    (head("s3:GetObject") + " with an explicit deny in a VPC endpoint policy",
     {"reason": Reason.DENY_VPCE}),
    # ... with the policy ARN after the type
    (head("s3:GetObject") + f" with an explicit deny in a service control policy: {SCP_ARN}",
     {"reason": Reason.DENY_SCP, "policy_arn": SCP_ARN}),
    (head("s3:GetObject") + " with an explicit deny in an identity-based policy: "
     "arn:aws:iam::111111111111:policy/DenyS3.",
     {"reason": Reason.DENY_IDENTITY, "policy_arn": "arn:aws:iam::111111111111:policy/DenyS3"}),
    (head("s3:GetObject") + " with an explicit deny in a resource control policy: "
     "arn:aws:organizations::999999999999:policy/o-exampleorg1/resource_control_policy/p-1",
     {"reason": Reason.DENY_RCP, "policy_arn":
      "arn:aws:organizations::999999999999:policy/o-exampleorg1/resource_control_policy/p-1"}),
    # the SCP wording some services use
    (head("ec2:RunInstances", "arn:aws:ec2:eu-west-1:111111111111:instance/*", quoted=False)
     + " due to an explicit deny in a Service Control Policy",
     {"action": "ec2:RunInstances", "resource": "arn:aws:ec2:eu-west-1:111111111111:instance/*",
      "reason": Reason.DENY_SCP, "service": "ec2"}),
    # the whole SDK line, S3 (new extended form)
    (WRAP.format(code="AccessDenied", op="GetObject") + head("s3:GetObject")
     + " because no resource-based policy allows the s3:GetObject action",
     {"reason": Reason.NO_RESOURCE_ALLOW, "error_code": "AccessDenied", "operation": "GetObject"}),
    # botocore's exception prefix, wrapped over lines as terminals print it
    ("botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the\n"
     "GetObject operation: User: " + SESSION + " is not authorized\nto perform: s3:GetObject on "
     "resource:\n\"" + OBJ + "\" because no identity-based\npolicy allows the s3:GetObject action",
     {"reason": Reason.NO_IDENTITY_ALLOW, "error_code": "AccessDenied",
      "operation": "GetObject"}),
    # DynamoDB's AccessDeniedException
    (WRAP.format(code="AccessDeniedException", op="PutItem") + head("dynamodb:PutItem", TABLE,
                                                                    quoted=False)
     + " because no resource-based policy allows the dynamodb:PutItem action",
     {"action": "dynamodb:PutItem", "resource": TABLE, "reason": Reason.NO_RESOURCE_ALLOW,
      "service": "dynamodb", "error_code": "AccessDeniedException", "operation": "PutItem"}),
    (WRAP.format(code="AccessDeniedException", op="Query") + head(
        "dynamodb:Query", TABLE + "/index/by-owner", quoted=False),
     {"action": "dynamodb:Query", "resource": TABLE + "/index/by-owner", "reason": Reason.NONE,
      "service": "dynamodb", "error_code": "AccessDeniedException", "operation": "Query"}),
    # KMS's three-way answer, by key and by ciphertext
    (WRAP.format(code="AccessDeniedException", op="GenerateDataKey")
     + head("kms:GenerateDataKey", KEY, quoted=False)
     + " because the resource does not exist in this Region, no resource-based policies allow "
       "access, or a resource-based policy explicitly denies access",
     {"action": "kms:GenerateDataKey", "resource": KEY, "reason": Reason.KMS_AMBIGUOUS,
      "service": "kms", "error_code": "AccessDeniedException", "operation": "GenerateDataKey"}),
    (head("kms:Decrypt", None) + " on the resource associated with this ciphertext because the "
     "resource does not exist in this Region, no resource-based policies allow access, or a "
     "resource-based policy explicitly denies access.",
     {"action": "kms:Decrypt", "resource": None, "reason": Reason.KMS_AMBIGUOUS,
      "service": "kms",
      "note": "KMS does not name the key: it is the one that encrypted the ciphertext"}),
    (head("kms:Decrypt", KEY, quoted=False)
     + " because no resource-based policy allows the kms:Decrypt action",
     {"action": "kms:Decrypt", "resource": KEY, "reason": Reason.NO_RESOURCE_ALLOW,
      "service": "kms"}),
    # STS
    (WRAP.format(code="AccessDenied", op="AssumeRole") + head("sts:AssumeRole", ROLE,
                                                              quoted=False),
     {"action": "sts:AssumeRole", "resource": ROLE, "reason": Reason.NONE, "service": "sts",
      "error_code": "AccessDenied", "operation": "AssumeRole"}),
    (head("sts:AssumeRole", ROLE, quoted=False, principal=USER) + ".",
     {"principal": USER, "action": "sts:AssumeRole", "resource": ROLE, "reason": Reason.NONE,
      "service": "sts"}),
    # anonymous callers
    (head("s3:GetObject", principal="anonymous"),
     {"principal": "anonymous", "reason": Reason.NONE}),
    ("Anonymous user is not authorized to perform: s3:GetObject on resource: "
     f"\"{OBJ}\" because no resource-based policy allows the s3:GetObject action",
     {"principal": "anonymous", "reason": Reason.NO_RESOURCE_ALLOW, "resource_quoted": True}),
    # Java SDK trailer
    (head("s3:GetObject", quoted=False) + " (Service: S3, Status Code: 403, Request ID: "
     "ABCDEF0123456789)",
     {"reason": Reason.NONE}),
]


@pytest.mark.parametrize(("text", "fields"), CORPUS, ids=[str(i) for i in range(len(CORPUS))])
def test_corpus(text: str, fields: dict[str, Any]) -> None:
    m = parse_message(text)
    assert m.recognised, m.note
    assert m.form is Form.NOT_AUTHORIZED
    defaults: dict[str, Any] = {"principal": SESSION, "action": "s3:GetObject",
                                "resource": OBJ, "resource_quoted": '"' in text.split(
                                    "resource:", 1)[-1][:3] if "resource:" in text else False,
                                "policy_arn": None, "service": "s3", "operation": None,
                                "error_code": None, "note": None}
    expected = {**defaults, **fields}
    for name, value in expected.items():
        assert getattr(m, name) == value, name


def test_reason_maps_to_the_engines_policy_types() -> None:
    assert Reason.NO_IDENTITY_ALLOW.policy_type is PolicyType.IDENTITY
    assert Reason.DENY_VPCE.policy_type is PolicyType.VPC_ENDPOINT
    assert Reason.DENY_SCP.explicit and not Reason.NO_SCP_ALLOW.explicit
    assert Reason.NONE.policy_type is None and Reason.KMS_AMBIGUOUS.policy_type is None


def test_engine_reason_text_round_trips() -> None:
    """The engine writes AWS's clause (`Decision.reason`); reading it back gives its type."""
    for ptype in PolicyType:
        implicit = Decision(Effect.IMPLICIT_DENY, (), ptype).reason("s3:GetObject")
        explicit = Decision(Effect.EXPLICIT_DENY, (StatementRef("d", ptype, 0, None, "Deny"),)
                            ).reason("s3:GetObject")
        for clause, is_explicit in ((implicit, False), (explicit, True)):
            m = parse_message(f"{head('s3:GetObject')} {clause}")
            assert m.reason is not None and m.reason.policy_type is ptype, clause
            assert m.reason.explicit is is_explicit


@pytest.mark.parametrize(("text", "form", "action", "operation"), [
    (WRAP.format(code="AccessDenied", op="GetObject") + "Access Denied",
     Form.S3_ACCESS_DENIED, "s3:GetObject", "GetObject"),
    (WRAP.format(code="AccessDenied", op="ListObjectsV2") + "Access Denied",
     Form.S3_ACCESS_DENIED, "s3:ListBucket", "ListObjectsV2"),
    (WRAP.format(code="AccessDenied", op="PutObject") + "Access Denied.",
     Form.S3_ACCESS_DENIED, "s3:PutObject", "PutObject"),
    (WRAP.format(code="403", op="HeadObject") + "Forbidden",
     Form.S3_FORBIDDEN, "s3:GetObject", "HeadObject"),
    ("Access Denied", Form.S3_ACCESS_DENIED, None, None),
])
def test_s3_bare_forms(text: str, form: Form, action: str | None, operation: str | None
                       ) -> None:
    m = parse_message(text)
    assert (m.form, m.action, m.operation, m.service) == (form, action, operation, "s3")
    assert m.principal is None and m.resource is None and m.reason is Reason.NONE


def test_kms_ciphertext_form() -> None:
    m = parse_message(WRAP.format(code="AccessDeniedException", op="Decrypt")
                      + "The ciphertext refers to a customer master key that does not exist, "
                        "does not exist in this region, or you are not allowed to access.")
    assert (m.form, m.action, m.service, m.reason) == (Form.KMS_CIPHERTEXT, "kms:Decrypt", "kms",
                                                       Reason.KMS_AMBIGUOUS)


@pytest.mark.parametrize(("text", "form"), [
    (WRAP.format(code="ValidationError", op="AssumeRole") + "The requested DurationSeconds "
     "exceeds the 1 hour session limit for roles assuming other roles.",
     Form.STS_CHAINED_DURATION),
    (WRAP.format(code="ValidationError", op="AssumeRole") + "The requested DurationSeconds "
     "exceeds the MaxSessionDuration set for this role.", Form.STS_MAX_DURATION),
])
def test_sts_duration_forms(text: str, form: Form) -> None:
    m = parse_message(text)
    assert (m.form, m.action, m.service, m.error_code) == (form, "sts:AssumeRole", "sts",
                                                           "ValidationError")


@pytest.mark.parametrize("text", [
    "",
    "Access Denied because reasons",
    "Internal error",
    WRAP.format(code="ThrottlingException", op="GetItem") + "Rate exceeded",
    head("s3:GetObject") + " because the moon is full",
    head("s3:GetObject") + " with an explicit deny in a lunar policy",
    "User: not-an-arn is not authorized to perform: s3:GetObject",
    "x" * 200_000,
])
def test_unknown_text_is_not_recognised(text: str) -> None:
    m = parse_message(text)
    assert not m.recognised and m.form is Form.UNRECOGNISED
    assert m.note
    assert m.principal is None and m.action is None and m.reason is None


def test_json_carries_every_field() -> None:
    m = parse_message(head("s3:GetObject") + f" with an explicit deny in a service control "
                                             f"policy: {SCP_ARN}")
    out = to_json(m)
    assert out["reason"] == "deny-scp" and out["explicit"] is True
    assert out["policy_type"] == "service control policy" and out["policy_arn"] == SCP_ARN


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    m = parse_message(text)
    if not m.recognised:
        assert m.note and m.reason is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60),
       st.sampled_from(["", " because", " with an explicit deny in a", " on resource:"]))
def test_mangled_messages_are_recognised_exactly_or_not_at_all(junk: str, tail: str) -> None:
    m = parse_message(head("s3:GetObject") + tail + junk)
    if m.recognised:
        assert m.action == "s3:GetObject" and m.principal == SESSION
    else:
        assert m.reason is None and m.action is None

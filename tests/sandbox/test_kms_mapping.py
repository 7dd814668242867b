"""KMS requests exactly as boto3 sends them -> the checks the sandbox makes, with keys
named by id, ARN, alias and alias ARN, and Decrypt finding its key in moto's ciphertext."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from crossgrant.iam.actions import lookup_action
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.services import MAPPERS
from crossgrant.sandbox.services.kms import operation

ME, OTHER = "111111111111", "222222222222"
REGION = "us-east-1"
KEY_ID = "0b6a7e5c-1d2e-4f3a-9b8c-7d6e5f4a3b2c"
OTHER_ID = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"
KEY = f"arn:aws:kms:{REGION}:{ME}:key/{KEY_ID}"
OTHER_KEY = f"arn:aws:kms:{REGION}:{OTHER}:key/{OTHER_ID}"
ALIAS_ARN = f"arn:aws:kms:{REGION}:{ME}:alias/app"
SHARED_ALIAS = f"arn:aws:kms:{REGION}:{OTHER}:alias/shared"
KNOWN = {(ME, KEY_ID): KEY, (ME, "alias/app"): KEY, (ME, ALIAS_ARN): KEY,
         (OTHER, SHARED_ALIAS): OTHER_KEY, (ME, OTHER_ID): OTHER_KEY}


def _key_arn(account: str, key_id: str) -> str | None:
    return KNOWN.get((account, key_id))


CTX = MapContext(caller_account=ME, region=REGION, bucket_owner=lambda _: None,
                 key_arn=_key_arn)


Mapped = Callable[..., Operation]


@pytest.fixture(scope="module")
def mapped(mapper: Callable[..., Mapped]) -> Mapped:
    return mapper("kms", operation, CTX)


def pairs(op: Operation) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in op.checks]


def ctx_of(check: Check) -> dict[str, object]:
    return dict(check.context)


def moto_ciphertext(key_id: str) -> bytes:
    """A ciphertext in moto's format (key id, IV, tag, data) for `key_id`."""
    from moto.kms.utils import Ciphertext, _serialize_ciphertext_blob  # noqa: PLC0415

    return _serialize_ciphertext_blob(Ciphertext(key_id, b"i" * 12, b"data", b"t" * 16))


CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]], bool]] = [
    ("encrypt", {"KeyId": KEY_ID, "Plaintext": b"x"}, [("kms:Encrypt", KEY)], False),
    ("encrypt", {"KeyId": KEY, "Plaintext": b"x"}, [("kms:Encrypt", KEY)], False),
    ("encrypt", {"KeyId": "alias/app", "Plaintext": b"x"}, [("kms:Encrypt", KEY)], False),
    ("encrypt", {"KeyId": ALIAS_ARN, "Plaintext": b"x"}, [("kms:Encrypt", KEY)], False),
    ("generate_data_key", {"KeyId": KEY_ID, "KeySpec": "AES_256"},
     [("kms:GenerateDataKey", KEY)], False),
    ("generate_data_key_without_plaintext", {"KeyId": KEY_ID, "KeySpec": "AES_256"},
     [("kms:GenerateDataKeyWithoutPlaintext", KEY)], False),
    ("describe_key", {"KeyId": "alias/app"}, [("kms:DescribeKey", KEY)], False),
    ("get_key_policy", {"KeyId": KEY_ID}, [("kms:GetKeyPolicy", KEY)], False),
    ("put_key_policy", {"KeyId": KEY_ID, "Policy": "{}"}, [("kms:PutKeyPolicy", KEY)], True),
    ("list_key_policies", {"KeyId": KEY_ID}, [("kms:ListKeyPolicies", KEY)], False),
    ("enable_key", {"KeyId": KEY_ID}, [("kms:EnableKey", KEY)], False),
    ("disable_key", {"KeyId": KEY_ID}, [("kms:DisableKey", KEY)], False),
    ("schedule_key_deletion", {"KeyId": KEY_ID, "PendingWindowInDays": 7},
     [("kms:ScheduleKeyDeletion", KEY)], True),
    ("cancel_key_deletion", {"KeyId": KEY_ID}, [("kms:CancelKeyDeletion", KEY)], True),
    ("enable_key_rotation", {"KeyId": KEY_ID}, [("kms:EnableKeyRotation", KEY)], False),
    ("get_key_rotation_status", {"KeyId": KEY_ID}, [("kms:GetKeyRotationStatus", KEY)], False),
    ("tag_resource", {"KeyId": KEY_ID, "Tags": [{"TagKey": "team", "TagValue": "blue"}]},
     [("kms:TagResource", KEY)], True),
    ("untag_resource", {"KeyId": KEY_ID, "TagKeys": ["team"]}, [("kms:UntagResource", KEY)],
     True),
    ("list_resource_tags", {"KeyId": KEY_ID}, [("kms:ListResourceTags", KEY)], False),
    ("create_grant", {"KeyId": KEY_ID, "GranteePrincipal": "arn:aws:iam::1:role/r",
                      "Operations": ["Decrypt"]}, [("kms:CreateGrant", KEY)], False),
    ("sign", {"KeyId": KEY_ID, "Message": b"m", "SigningAlgorithm": "RSASSA_PSS_SHA_256"},
     [("kms:Sign", KEY)], False),
    ("create_key", {}, [("kms:CreateKey", "*")], True),
    ("list_keys", {}, [("kms:ListKeys", "*")], False),
    ("list_aliases", {}, [("kms:ListAliases", "*")], False),
    ("create_alias", {"AliasName": "alias/app", "TargetKeyId": KEY_ID},
     [("kms:CreateAlias", ALIAS_ARN), ("kms:CreateAlias", KEY)], True),
    ("delete_alias", {"AliasName": "alias/app"},
     [("kms:DeleteAlias", ALIAS_ARN), ("kms:DeleteAlias", KEY)], True),
]


@pytest.mark.parametrize(("method", "kwargs", "expected", "changes"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_operation_maps_to_documented_actions(mapped: Mapped, method: str, kwargs: dict[str, Any],
                                              expected: list[tuple[str, str]],
                                              changes: bool) -> None:
    op = mapped(method, **kwargs)
    assert (op.service, op.error_style) == ("kms", ErrorStyle.JSON)
    assert pairs(op) == expected
    assert op.changes_state is changes
    assert op.forward_as_account is None
    for check in op.checks:
        assert lookup_action(check.action) is not None, check.action
        context = ctx_of(check)
        assert context["kms:CallerAccount"] == ME
        assert context["aws:SecureTransport"] == "false"
        assert context["aws:SourceIp"] == "127.0.0.1"


def test_alias_requests_carry_the_request_alias(mapped: Mapped) -> None:
    assert ctx_of(mapped("encrypt", KeyId="alias/app", Plaintext=b"x").checks[0])[
        "kms:RequestAlias"] == "alias/app"
    assert "kms:RequestAlias" not in ctx_of(
        mapped("encrypt", KeyId=KEY_ID, Plaintext=b"x").checks[0])


def test_encryption_context_becomes_condition_keys(mapped: Mapped) -> None:
    op = mapped("encrypt", KeyId=KEY_ID, Plaintext=b"x",
                EncryptionContext={"tenant": "t1", "purpose": "thumbs"},
                EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    context = ctx_of(op.checks[0])
    assert context["kms:EncryptionContext:tenant"] == "t1"
    assert context["kms:EncryptionContext:purpose"] == "thumbs"
    assert context["kms:EncryptionContextKeys"] == ("tenant", "purpose")
    assert context["kms:EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_decrypt_without_key_id_reads_the_key_from_motos_ciphertext(mapped: Mapped) -> None:
    op = mapped("decrypt", CiphertextBlob=moto_ciphertext(KEY_ID),
                EncryptionContext={"tenant": "t1"})
    assert pairs(op) == [("kms:Decrypt", KEY)]
    assert ctx_of(op.checks[0])["kms:EncryptionContext:tenant"] == "t1"
    # A key of another account, found by the authorizer, is served as that account.
    foreign = mapped("decrypt", CiphertextBlob=moto_ciphertext(OTHER_ID))
    assert (pairs(foreign), foreign.forward_as_account) == ([("kms:Decrypt", OTHER_KEY)], OTHER)


def test_decrypt_reads_a_real_moto_ciphertext(mapped: Mapped) -> None:
    from moto.kms.models import kms_backends  # noqa: PLC0415

    # Straight into moto's backend of an account no test uses: mock_aws() would reset
    # every backend of the process, the session's sandbox included.
    kms = kms_backends["123456789012"][REGION]
    key_id = kms.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "mapping test",
                            None).id
    blob, _ = kms.encrypt(key_id, b"secret", {})
    op = mapped("decrypt", CiphertextBlob=blob)
    assert op.checks[0].resource == f"arn:aws:kms:{REGION}:{ME}:key/{key_id}"


def test_decrypt_with_a_foreign_ciphertext_format_is_refused(mapped: Mapped) -> None:
    with pytest.raises(UnsupportedOperation, match="ciphertext"):
        mapped("decrypt", CiphertextBlob=base64.b64decode("AQIDAHh4eHh4eHh4eHh4eHh4eHh4"))


def test_re_encrypt_checks_from_on_the_source_and_to_on_the_destination(mapped: Mapped) -> None:
    op = mapped("re_encrypt", CiphertextBlob=moto_ciphertext(KEY_ID),
                DestinationKeyId="alias/app", SourceEncryptionContext={"a": "1"},
                DestinationEncryptionContext={"b": "2"})
    assert pairs(op) == [("kms:ReEncryptFrom", KEY), ("kms:ReEncryptTo", KEY)]
    source, destination = (ctx_of(c) for c in op.checks)
    assert source["kms:EncryptionContext:a"] == "1" and "kms:EncryptionContext:b" not in source
    assert destination["kms:EncryptionContext:b"] == "2"
    assert source["kms:ReEncryptOnSameKey"] == destination["kms:ReEncryptOnSameKey"] == "true"
    assert destination["kms:RequestAlias"] == "alias/app"


def test_update_alias_checks_alias_old_key_and_new_key(mapped: Mapped) -> None:
    op = mapped("update_alias", AliasName="alias/app", TargetKeyId=KEY)
    assert pairs(op) == [("kms:UpdateAlias", ALIAS_ARN), ("kms:UpdateAlias", KEY),
                         ("kms:UpdateAlias", KEY)]
    assert op.changes_state


def test_foreign_keys_are_served_as_their_owner(mapped: Mapped) -> None:
    by_alias = mapped("encrypt", KeyId=SHARED_ALIAS, Plaintext=b"x")
    assert pairs(by_alias) == [("kms:Encrypt", OTHER_KEY)]
    assert by_alias.checks[0].resource_account == OTHER
    assert by_alias.forward_as_account == OTHER
    by_arn = mapped("generate_data_key", KeyId=OTHER_KEY, KeySpec="AES_256")
    assert (by_arn.forward_as_account, by_arn.checks[0].resource_account) == (OTHER, OTHER)


def test_a_bare_key_id_always_means_the_callers_account(mapped: Mapped) -> None:
    # OTHER_ID is known to the authorizer in another account; a bare id never reaches it.
    op = mapped("encrypt", KeyId=OTHER_ID, Plaintext=b"x")
    assert pairs(op) == [("kms:Encrypt", f"arn:aws:kms:{REGION}:{ME}:key/{OTHER_ID}")]
    assert op.forward_as_account is None


def test_unknown_alias_is_checked_on_the_alias_with_a_note(mapped: Mapped) -> None:
    op = mapped("encrypt", KeyId="alias/nothing", Plaintext=b"x")
    assert pairs(op) == [("kms:Encrypt", f"arn:aws:kms:{REGION}:{ME}:alias/nothing")]
    assert op.notes


def test_policy_name_and_creation_context(mapped: Mapped) -> None:
    assert ctx_of(mapped("get_key_policy", KeyId=KEY_ID).checks[0])["kms:PolicyName"] == \
        "default"
    create = mapped("create_key", KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048",
                    Tags=[{"TagKey": "team", "TagValue": "blue"}])
    assert pairs(create) == [("kms:CreateKey", "*"), ("kms:TagResource", "*")]
    context = ctx_of(create.checks[0])
    assert (context["kms:KeyUsage"], context["kms:KeySpec"]) == ("SIGN_VERIFY", "RSA_2048")
    assert context["aws:RequestTag/team"] == "blue"
    assert ctx_of(mapped("schedule_key_deletion", KeyId=KEY_ID, PendingWindowInDays=7
                         ).checks[0])["kms:ScheduleKeyDeletionPendingWindowInDays"] == "7"


def test_grant_context(mapped: Mapped) -> None:
    context = ctx_of(mapped("create_grant", KeyId=KEY_ID, GranteePrincipal="arn:aws:iam::1:role/r",
                            Operations=["Decrypt", "Encrypt"]).checks[0])
    assert context["kms:GranteePrincipal"] == "arn:aws:iam::1:role/r"
    assert context["kms:GrantOperations"] == ("Decrypt", "Encrypt")


@pytest.mark.parametrize(("method", "kwargs"), [
    ("encrypt", {"KeyId": f"arn:aws:kms:eu-west-1:{OTHER}:key/{OTHER_ID}", "Plaintext": b"x"}),
    ("encrypt", {"KeyId": f"arn:aws:s3:::{KEY_ID}", "Plaintext": b"x"}),
    ("re_encrypt", {"CiphertextBlob": b"\0" * 64 + b"x", "DestinationKeyId": KEY_ID}),
    ("re_encrypt", {"SourceKeyId": OTHER_KEY, "CiphertextBlob": b"x" * 64,
                    "DestinationKeyId": KEY_ID}),
    ("create_alias", {"AliasName": "not-an-alias", "TargetKeyId": KEY_ID}),
    ("retire_grant", {"GrantToken": "t"}),
])
def test_requests_the_sandbox_cannot_serve_faithfully_are_refused(mapped: Mapped, method: str,
                                                                  kwargs: dict[str, Any]
                                                                  ) -> None:
    with pytest.raises(UnsupportedOperation, match="TrentService"):
        mapped(method, **kwargs)


def test_action_smuggled_in_the_body_is_refused() -> None:
    req = HttpRequest("POST", "/", (), {"x-amz-target": "TrentService.Encrypt"},
                      b'{"KeyId": "alias/app", "Plaintext": "eA==", "x": "&Action=Decrypt&"}',
                      "127.0.0.1:4566")
    with pytest.raises(UnsupportedOperation, match="Action"):
        operation(req, CTX)


def test_registered_under_the_sigv4_service_name() -> None:
    assert MAPPERS["kms"] is operation

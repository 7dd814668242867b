from __future__ import annotations

import dataclasses
import json
import re
from importlib.resources import files
from typing import Any

import pytest

from crossgrant.errors import PolicyError, UnknownActionError
from crossgrant.iam.actions import (
    ACCESS_LEVELS,
    NO_RESOURCE_TYPE,
    all_actions,
    canonical_action_name,
    expand_action_pattern,
    known_service,
    known_services,
    lookup_action,
    service_resource_types,
)


def _raw_catalog() -> dict[str, Any]:
    # Read the file the same way an installed package would find it, but parse
    # it independently of the module under test.
    text = (files("crossgrant.iam") / "data" / "actions.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


RAW = _raw_catalog()
SERVICES: dict[str, Any] = RAW["services"]


def _names(pattern: str) -> list[str]:
    return sorted(info.qualified_name for info in expand_action_pattern(pattern))


# --------------------------------------------------------------------- lookups


def test_lookup_returns_catalog_entry() -> None:
    info = lookup_action("s3:GetObject")
    assert info is not None
    assert info.service == "s3"
    assert info.name == "GetObject"
    assert info.qualified_name == "s3:GetObject"
    assert info.access_level == "Read"
    assert info.resource_types == ("accesspointobject", "object")
    assert "s3:ExistingObjectTag/<key>" in info.condition_keys


@pytest.mark.parametrize(
    "spelling", ["s3:getobject", "S3:GETOBJECT", "s3:GetObject", "S3:gEtObJeCt"]
)
def test_lookup_ignores_case(spelling: str) -> None:
    info = lookup_action(spelling)
    assert info is not None
    assert info.qualified_name == "s3:GetObject"


def test_lookup_ignores_case_in_every_service() -> None:
    for prefix, service in SERVICES.items():
        for name in service["actions"]:
            info = lookup_action(f"{prefix.upper()}:{name.swapcase()}")
            assert info is not None, f"{prefix}:{name}"
            assert info.name == name


@pytest.mark.parametrize(
    "action",
    [
        "s3:GetObjekt",
        "sss:GetObject",
        "ec2:RunInstances",
        "GetObject",
        "",
        "s3:",
        ":GetObject",
        "s3:Get*",
        "s3:GetObject ",
        " s3:GetObject",
    ],
)
def test_lookup_of_anything_else_is_none(action: str) -> None:
    assert lookup_action(action) is None


def test_catalog_is_parsed_once() -> None:
    assert lookup_action("kms:Decrypt") is lookup_action("KMS:decrypt")


def test_action_info_is_immutable() -> None:
    info = lookup_action("iam:PassRole")
    assert info is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "PassRoles"  # type: ignore[misc]


@pytest.mark.parametrize(
    "prefix",
    [
        "s3",
        "S3",
        "dynamodb",
        "sts",
        "kms",
        "iam",
        "lambda",
        "logs",
        "organizations",
        "Organizations",
    ],
)
def test_known_service(prefix: str) -> None:
    assert known_service(prefix)


@pytest.mark.parametrize("prefix", ["ec2", "", "s3:", "s3 ", "sss", "*"])
def test_unknown_service(prefix: str) -> None:
    assert not known_service(prefix)


def test_known_services_are_the_file_services() -> None:
    assert known_services() == tuple(SERVICES)
    assert set(known_services()) == {
        "s3",
        "dynamodb",
        "sts",
        "kms",
        "iam",
        "lambda",
        "logs",
        "organizations",
    }


def test_all_actions_matches_file() -> None:
    expected = sorted(f"{p}:{n}" for p, s in SERVICES.items() for n in s["actions"])
    assert sorted(info.qualified_name for info in all_actions()) == expected


# ------------------------------------------------------------ wildcard expansion


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("s3:GetObject", ["s3:GetObject"]),
        (
            "s3:GetObjectVersion*",
            [
                "s3:GetObjectVersion",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionAttributes",
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectVersionTorrent",
            ],
        ),
        (
            "dynamodb:PartiQL*",
            [
                "dynamodb:PartiQLDelete",
                "dynamodb:PartiQLInsert",
                "dynamodb:PartiQLSelect",
                "dynamodb:PartiQLUpdate",
            ],
        ),
        # AssumeRoot does not match: the pattern needs "AssumeRole" in full.
        (
            "sts:AssumeRole*",
            ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"],
        ),
        # A leading wildcard also reaches UpdateAssumeRolePolicy.
        (
            "iam:*RolePolicy",
            [
                "iam:AttachRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "iam:UpdateAssumeRolePolicy",
            ],
        ),
        ("kms:ReEncrypt*", ["kms:ReEncryptFrom", "kms:ReEncryptTo"]),
        ("s3:?etObject", ["s3:GetObject"]),
        ("s3:???Object", ["s3:GetObject", "s3:PutObject"]),
        ("s3:GetObject???", ["s3:GetObjectAcl"]),
        ("*:GetPolicy", ["iam:GetPolicy", "lambda:GetPolicy"]),
        ("s?:ListAllMyBuckets", ["s3:ListAllMyBuckets"]),
    ],
)
def test_expand_pattern(pattern: str, expected: list[str]) -> None:
    assert _names(pattern) == expected


def test_expand_ignores_case() -> None:
    assert _names("S3:getobjectversion*") == _names("s3:GetObjectVersion*")
    assert len(_names("S3:getobjectversion*")) == 6
    assert _names("LOGS:putlogevents") == ["logs:PutLogEvents"]


def test_expand_service_wildcard_covers_whole_service() -> None:
    for prefix, service in SERVICES.items():
        assert _names(f"{prefix}:*") == sorted(f"{prefix}:{n}" for n in service["actions"])


def test_expand_star_covers_everything() -> None:
    assert len(expand_action_pattern("*")) == sum(len(s["actions"]) for s in SERVICES.values())


@pytest.mark.parametrize(
    "pattern",
    ["ec2:*", "s3:Nothing*", "s3:GetObject?", "s3:Get(Object", "s3:[GP]utObject", "GetObject", ""],
)
def test_expand_matches_nothing(pattern: str) -> None:
    assert expand_action_pattern(pattern) == ()


def test_expand_keeps_catalog_order() -> None:
    results = expand_action_pattern("*")
    assert results == all_actions()


# --------------------------------------------------------------- canonical names


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("S3:getobject", "s3:GetObject"),
        ("s3:getbucketcors", "s3:GetBucketCORS"),
        ("LAMBDA:invokefunction", "lambda:InvokeFunction"),
        ("Dynamodb:partiqlselect", "dynamodb:PartiQLSelect"),
        ("sts:assumerolewithsaml", "sts:AssumeRoleWithSAML"),
        ("iam:PassRole", "iam:PassRole"),
    ],
)
def test_canonical_action_name(spelling: str, canonical: str) -> None:
    assert canonical_action_name(spelling) == canonical


@pytest.mark.parametrize(
    ("typo", "message"),
    [
        ("s3:GetObjekt", "unknown action 's3:GetObjekt' (did you mean s3:GetObject?)"),
        ("iam:PasRole", "unknown action 'iam:PasRole' (did you mean iam:PassRole?)"),
        ("kms:Decrpyt", "unknown action 'kms:Decrpyt' (did you mean kms:Decrypt?)"),
        (
            "dynamodb:GetItems",
            "unknown action 'dynamodb:GetItems' (did you mean dynamodb:GetItem?)",
        ),
    ],
)
def test_unknown_action_suggests_closest(typo: str, message: str) -> None:
    with pytest.raises(UnknownActionError) as caught:
        canonical_action_name(typo)
    assert str(caught.value) == message


def test_unknown_action_without_close_match() -> None:
    with pytest.raises(UnknownActionError) as caught:
        canonical_action_name("s3:Zzzzzzzzzz")
    assert str(caught.value) == "unknown action 's3:Zzzzzzzzzz'"


def test_unknown_service_prefix() -> None:
    with pytest.raises(UnknownActionError) as caught:
        canonical_action_name("sss:GetObject")
    assert str(caught.value) == "unknown service prefix 'sss' in action 'sss:GetObject'"


def test_unknown_action_error_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        canonical_action_name("s3:GetObjekt")


@pytest.mark.parametrize(
    ("operation", "authorizing"),
    [
        ("s3:HeadObject", "s3:GetObject"),
        ("s3:ListObjectsV2", "s3:ListBucket"),
        ("dynamodb:TransactGetItems", "dynamodb:GetItem"),
        ("dynamodb:transactwriteitems", "dynamodb:PutItem"),
        ("lambda:Invoke", "lambda:InvokeFunction"),
    ],
)
def test_api_operation_names_point_at_their_actions(operation: str, authorizing: str) -> None:
    with pytest.raises(UnknownActionError) as caught:
        canonical_action_name(operation)
    message = str(caught.value)
    assert message.startswith(f"unknown action '{operation}' (")
    assert "API operation" in message
    assert authorizing in message


@pytest.mark.parametrize(
    "action", ["GetObject", ":GetObject", "s3:", "s3:Get*", "*", "s3:?etObject"]
)
def test_non_actions_are_rejected(action: str) -> None:
    with pytest.raises(UnknownActionError):
        canonical_action_name(action)


# ----------------------------------------------------------------- known facts


@pytest.mark.parametrize(
    ("action", "level"),
    [
        ("s3:ListBucket", "List"),
        ("s3:ListAllMyBuckets", "List"),
        ("s3:GetBucketPolicy", "Read"),
        ("s3:PutBucketPolicy", "Permissions management"),
        ("s3:PutObjectAcl", "Permissions management"),
        ("s3:PutObjectTagging", "Tagging"),
        ("s3:PutObject", "Write"),
        ("dynamodb:ConditionCheckItem", "Read"),
        ("dynamodb:ListStreams", "Read"),
        ("dynamodb:PutResourcePolicy", "Permissions management"),
        ("sts:AssumeRole", "Write"),
        ("sts:GetCallerIdentity", "Read"),
        ("sts:TagSession", "Tagging"),
        ("kms:Decrypt", "Write"),
        ("kms:CreateGrant", "Permissions management"),
        ("kms:PutKeyPolicy", "Permissions management"),
        ("iam:CreateRole", "Write"),
        ("iam:PassRole", "Write"),
        ("iam:PutRolePolicy", "Permissions management"),
        ("iam:UpdateAssumeRolePolicy", "Permissions management"),
        ("lambda:AddPermission", "Permissions management"),
        ("logs:PutResourcePolicy", "Permissions management"),
        ("organizations:AttachPolicy", "Write"),
    ],
)
def test_access_levels(action: str, level: str) -> None:
    info = lookup_action(action)
    assert info is not None
    assert info.access_level == level


@pytest.mark.parametrize(
    ("action", "resource_types"),
    [
        ("s3:ListAllMyBuckets", (NO_RESOURCE_TYPE,)),
        ("s3:ListBucket", ("accesspoint", "bucket")),
        ("s3:AbortMultipartUpload", ("accesspointobject", "object")),
        ("s3:PutBucketPolicy", ("bucket",)),
        ("dynamodb:Query", ("index", "table")),
        ("dynamodb:GetRecords", ("stream",)),
        ("dynamodb:ListTables", (NO_RESOURCE_TYPE,)),
        ("sts:AssumeRole", ("role",)),
        ("sts:GetCallerIdentity", (NO_RESOURCE_TYPE,)),
        ("kms:CreateAlias", ("alias", "key")),
        ("iam:PassRole", ("role",)),
        ("logs:PutLogEvents", ("log-stream",)),
    ],
)
def test_resource_types(action: str, resource_types: tuple[str, ...]) -> None:
    info = lookup_action(action)
    assert info is not None
    assert info.resource_types == resource_types


@pytest.mark.parametrize(
    ("action", "key"),
    [
        ("s3:ListBucket", "s3:prefix"),
        ("s3:PutObject", "s3:x-amz-server-side-encryption"),
        ("sts:AssumeRole", "sts:ExternalId"),
        ("sts:AssumeRole", "sts:SourceIdentity"),
        ("sts:AssumeRole", "sts:RoleSessionName"),
        ("sts:AssumeRole", "aws:RequestTag/${TagKey}"),
        ("dynamodb:GetItem", "dynamodb:LeadingKeys"),
        ("kms:Decrypt", "kms:EncryptionContext:${EncryptionContextKey}"),
        ("iam:PassRole", "iam:PassedToService"),
        ("iam:AttachRolePolicy", "iam:PolicyARN"),
    ],
)
def test_condition_keys(action: str, key: str) -> None:
    info = lookup_action(action)
    assert info is not None
    assert key in info.condition_keys


def test_service_resource_types() -> None:
    dynamodb = service_resource_types("DynamoDB")
    table = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"
    assert dynamodb["table"] == table
    assert dynamodb["index"] == table + "/index/${IndexName}"
    assert dynamodb["stream"] == table + "/stream/${StreamLabel}"
    s3 = service_resource_types("s3")
    assert s3["bucket"] == "arn:${Partition}:s3:::${BucketName}"
    assert s3["object"] == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert dict(service_resource_types("ec2")) == {}


# The actions crossgrant's own specs and lint rules are written against.
REQUIRED = {
    "s3": """
        AbortMultipartUpload ListMultipartUploadParts ListBucketMultipartUploads GetObject
        GetObjectVersion PutObject PutObjectAcl DeleteObject DeleteObjectVersion GetBucketPolicy
        PutBucketPolicy DeleteBucketPolicy GetBucketOwnershipControls PutBucketOwnershipControls
        GetEncryptionConfiguration PutEncryptionConfiguration GetBucketPublicAccessBlock
        PutBucketPublicAccessBlock PutBucketNotification GetBucketNotification ListAllMyBuckets
        ListBucket CreateBucket DeleteBucket GetBucketLocation PutObjectTagging GetObjectTagging
        RestoreObject GetObjectAttributes PutLifecycleConfiguration
    """,
    "dynamodb": """
        GetItem BatchGetItem Query Scan ConditionCheckItem PutItem UpdateItem DeleteItem
        BatchWriteItem DescribeTable DescribeStream GetRecords GetShardIterator ListStreams
        PutResourcePolicy GetResourcePolicy DeleteResourcePolicy CreateTable DeleteTable
        ListTables PartiQLSelect PartiQLInsert PartiQLUpdate PartiQLDelete TagResource
        UntagResource ListTagsOfResource UpdateTable DescribeTimeToLive UpdateTimeToLive
    """,
    "sts": """
        AssumeRole AssumeRoleWithWebIdentity AssumeRoleWithSAML GetCallerIdentity
        GetSessionToken GetFederationToken TagSession SetSourceIdentity
        DecodeAuthorizationMessage GetAccessKeyInfo
    """,
    "kms": """
        Decrypt Encrypt GenerateDataKey GenerateDataKeyWithoutPlaintext ReEncryptFrom
        ReEncryptTo DescribeKey CreateKey PutKeyPolicy GetKeyPolicy CreateGrant ListKeys
        ListAliases CreateAlias ScheduleKeyDeletion EnableKey DisableKey TagResource
    """,
    "iam": """
        CreateRole DeleteRole GetRole UpdateAssumeRolePolicy PutRolePolicy DeleteRolePolicy
        GetRolePolicy ListRolePolicies AttachRolePolicy DetachRolePolicy
        ListAttachedRolePolicies PutRolePermissionsBoundary DeleteRolePermissionsBoundary
        CreatePolicy DeletePolicy GetPolicy GetPolicyVersion CreatePolicyVersion
        DeletePolicyVersion ListPolicyVersions ListRoles PassRole TagRole UntagRole CreateUser
        DeleteUser GetUser ListUsers PutUserPolicy AttachUserPolicy CreateAccessKey
        DeleteAccessKey ListAccessKeys CreateServiceLinkedRole SimulatePrincipalPolicy
    """,
    "lambda": """
        InvokeFunction CreateFunction UpdateFunctionCode UpdateFunctionConfiguration
        GetFunction DeleteFunction AddPermission RemovePermission GetPolicy ListFunctions
        CreateEventSourceMapping PublishVersion CreateAlias GetFunctionConfiguration
    """,
    "logs": """
        CreateLogGroup CreateLogStream PutLogEvents DescribeLogGroups DescribeLogStreams
        PutRetentionPolicy DeleteLogGroup GetLogEvents FilterLogEvents
    """,
    "organizations": """
        DescribeOrganization ListAccounts DescribeAccount ListRoots ListChildren
        ListPoliciesForTarget AttachPolicy DetachPolicy CreatePolicy
    """,
}


@pytest.mark.parametrize(
    "action", [f"{prefix}:{name}" for prefix, names in REQUIRED.items() for name in names.split()]
)
def test_required_action_is_catalogued_with_exact_casing(action: str) -> None:
    assert canonical_action_name(action) == action


# ------------------------------------------------------------ file consistency

ACTION_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
CONDITION_KEY = re.compile(r"[A-Za-z0-9.${}/_-]+:[A-Za-z0-9.${}/_<>:-]+")


def test_file_header() -> None:
    assert RAW["format_version"] == 1
    assert SERVICES


@pytest.mark.parametrize("prefix", list(SERVICES))
def test_service_is_consistent(prefix: str) -> None:
    service = SERVICES[prefix]
    assert service["prefix"] == prefix == prefix.lower()
    assert service["name"]

    resource_types: dict[str, str] = service["resource_types"]
    assert resource_types
    assert NO_RESOURCE_TYPE not in resource_types
    for name, arn in resource_types.items():
        assert arn.startswith("arn:${Partition}:"), (name, arn)

    actions: dict[str, Any] = service["actions"]
    assert actions
    assert len({name.lower() for name in actions}) == len(actions), "names differ only by case"
    for name, spec in actions.items():
        where = f"{prefix}:{name}"
        assert ACTION_NAME.fullmatch(name), where
        assert set(spec) == {"access_level", "resource_types", "condition_keys"}, where
        assert spec["access_level"] in ACCESS_LEVELS, where

        types = spec["resource_types"]
        assert types, where
        assert len(set(types)) == len(types), where
        if NO_RESOURCE_TYPE in types:
            assert types == [NO_RESOURCE_TYPE], where
        else:
            missing = [t for t in types if t not in resource_types]
            assert not missing, f"{where} uses undeclared resource types {missing}"

        keys = spec["condition_keys"]
        assert len(set(keys)) == len(keys), where
        for key in keys:
            assert CONDITION_KEY.fullmatch(key), f"{where}: {key!r}"

        info = lookup_action(where)
        assert info is not None, where
        assert info.service == prefix
        assert info.name == name
        assert info.access_level == spec["access_level"]
        assert info.resource_types == tuple(types)
        assert info.condition_keys == tuple(keys)


@pytest.mark.parametrize("prefix", list(SERVICES))
def test_api_operation_hints_are_consistent(prefix: str) -> None:
    service = SERVICES[prefix]
    lowered = {name.lower() for name in service["actions"]}
    for operation, targets in service.get("api_operation_hints", {}).items():
        assert operation.lower() not in lowered, f"{operation} is itself an action"
        assert targets
        for target in targets:
            assert target in service["actions"], f"{operation} -> {target}"

"""AWS's fixed facts: size limits, session durations, name rules, the default key policy,
and the resources AWS owns, which no policy can let anyone change.

Each is a number or rule AWS publishes, written once with the page it comes from, so that
render, lint, spec, diagnose and the sandbox cannot drift apart on what AWS accepts. The
facts of the ARN format itself (`PARTITION`, `PARTITION_RE`, `ACCOUNT_ID_RE`) live in
`iam.arn`, which parses and builds ARNs, and are re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from crossgrant.iam.arn import ACCOUNT_ID_RE, PARTITION, PARTITION_RE, account_root_arn

__all__ = [
    "ACCOUNT_ID_RE",
    "AWS_OWNED_ACTIONS",
    "AWS_OWNED_RULES",
    "BUCKET_NAME_RE",
    "BUCKET_POLICY_MAX_BYTES",
    "CHAINED_SESSION_MAX_SECONDS",
    "DEFAULT_KEY_POLICY_SID",
    "DEFAULT_MAX_SESSION_SECONDS",
    "KEY_POLICY_MAX_BYTES",
    "MANAGED_POLICY_MAX_CHARS",
    "MAX_SESSION_SECONDS",
    "MIN_SESSION_SECONDS",
    "PARTITION",
    "PARTITION_RE",
    "REGION_RE",
    "ROLE_INLINE_POLICIES_MAX_CHARS",
    "ROLE_NAME_RE",
    "TABLE_NAME_RE",
    "TABLE_POLICY_MAX_BYTES",
    "TRUST_POLICY_MAX_CHARS",
    "AwsOwnedRule",
    "aws_owned_rule",
    "default_key_policy",
    "default_key_statement",
]

# -- policy sizes -------------------------------------------------------------------------
# IAM counts characters of the document without the whitespace between tokens (defaults;
# the trust policy limit can be raised to 4,096 by a quota increase).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
TRUST_POLICY_MAX_CHARS: Final = 2048
ROLE_INLINE_POLICIES_MAX_CHARS: Final = 10240  # all inline policies of one role together
MANAGED_POLICY_MAX_CHARS: Final = 6144
# "Bucket policies are limited to 20 KB in size."
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html
BUCKET_POLICY_MAX_BYTES: Final = 20 * 1024
# "The maximum size supported for a resource-based policy document is 20 KB."
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html
TABLE_POLICY_MAX_BYTES: Final = 20 * 1024
# Key policy document size: 32 KB (32,768 bytes).
# https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html
KEY_POLICY_MAX_BYTES: Final = 32 * 1024

# -- session durations --------------------------------------------------------------------
# AssumeRole DurationSeconds: 900 seconds up to the role's MaxSessionDuration, at most
# 43,200 (12 hours). https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
MIN_SESSION_SECONDS: Final = 900
MAX_SESSION_SECONDS: Final = 43200
# A role's MaxSessionDuration when none is set, and the least it may be set to (3600 to
# 43200). https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
DEFAULT_MAX_SESSION_SECONDS: Final = 3600
# Role chaining (a role session assuming a role) limits the new session to one hour.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html
CHAINED_SESSION_MAX_SECONDS: Final = 3600

# -- name rules ---------------------------------------------------------------------------
# The region names of every partition, as the AWS SDKs' partitions.json defines them
# (`regionRegex` per partition: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e,
# aws-iso-f, aws-eusc), with `\w+` narrowed to the lower-case words every region uses.
# https://github.com/aws/aws-sdk-js-v3/blob/main/packages/util-endpoints/src/lib/aws/partitions.json
REGION_RE: Final = re.compile(
    r"(?:(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+|us-gov-[a-z]+|us-iso[bf]?-[a-z]+"
    r"|eu-isoe-[a-z]+|eusc-de-[a-z]+)-[0-9]+")
# RoleName: 1 to 64 of letters, digits and + = , . @ _ -.
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
ROLE_NAME_RE: Final = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# General purpose buckets: 3 to 63 of a-z, 0-9, '.' and '-', beginning and ending with a
# letter or digit (further rules: no "..", not an IP address, reserved prefixes/suffixes).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# TableName: 3 to 255 of a-z, A-Z, 0-9, '_', '-' and '.'.
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
TABLE_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.-]{3,255}")

# -- the default key policy ---------------------------------------------------------------
# What KMS gives a key created without a policy: the account's IAM policies decide. A key
# policy that leaves it out must still pass KMS's lockout safety check.
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
DEFAULT_KEY_POLICY_SID: Final = "Enable IAM User Permissions"
_DEFAULT_KEY_POLICY_ID: Final = "key-default-1"


def default_key_statement(account_id: str, partition: str = PARTITION) -> dict[str, Any]:
    """The default key policy's one statement: the account root may do everything."""
    return {"Sid": DEFAULT_KEY_POLICY_SID, "Effect": "Allow",
            "Principal": {"AWS": account_root_arn(account_id, partition)},
            "Action": "kms:*", "Resource": "*"}


def default_key_policy(account_id: str, partition: str = PARTITION) -> dict[str, Any]:
    """A fresh copy of the policy KMS gives a key created without one."""
    return {"Version": "2012-10-17", "Id": _DEFAULT_KEY_POLICY_ID,
            "Statement": [default_key_statement(account_id, partition)]}


# -- resources AWS owns --------------------------------------------------------------------
# AWS refuses these writes whatever the policies say (a service error such as IAM's
# UnmodifiableEntity, not an authorization decision), so no policy can grant them: the
# engine answers ImplicitDeny and names the rule. Where the pages leave a case open the
# action is listed, because leaving it out could only produce a false Allow.

@dataclass(frozen=True, slots=True)
class AwsOwnedRule:
    """Writes (`actions`, lower-cased) on resources matching `resource` that AWS refuses."""

    name: str
    actions: frozenset[str]
    resource: re.Pattern[str]
    says: str  # the rule in one sentence, for explanations
    source: str  # the AWS page that states it


_P = PARTITION_RE.pattern
_ROLE_WRITES = frozenset({
    "iam:attachrolepolicy", "iam:detachrolepolicy", "iam:putrolepolicy", "iam:deleterolepolicy",
    "iam:updateassumerolepolicy", "iam:deleterole", "iam:updaterole",
    "iam:putrolepermissionsboundary", "iam:deleterolepermissionsboundary", "iam:passrole"})

AWS_OWNED_RULES: Final = (
    # "You cannot change the permissions defined in AWS managed policies."
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies
    AwsOwnedRule(
        "aws-managed-policy",
        frozenset({"iam:createpolicyversion", "iam:deletepolicy", "iam:deletepolicyversion",
                   "iam:setdefaultpolicyversion", "iam:tagpolicy", "iam:untagpolicy"}),
        re.compile(rf"arn:{_P}:iam::aws:policy/.+", re.DOTALL),
        "AWS managed policies (arn:aws:iam::aws:policy/...) belong to AWS: no policy lets "
        "anyone change, tag or delete them",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html"),
    # "The linked service defines the permissions of its service-linked roles ... An IAM
    # administrator can view, but not edit the permissions for service-linked roles";
    # UnmodifiableEntity: "Only the service that depends on the service-linked role can
    # modify or delete the role"; PutRolePermissionsBoundary: "You cannot set the boundary
    # for a service-linked role." TagRole says "The role can be a regular role or a
    # service-linked role" and the description may be edited, so tagging and
    # UpdateRoleDescription stay with the policies. UpdateRole (which also sets the
    # session duration) and PassRole (whether a service takes the role is its own matter)
    # are listed, as the reading that cannot over-grant.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePermissionsBoundary.html
    AwsOwnedRule(
        "service-linked-role",
        _ROLE_WRITES,
        re.compile(rf"arn:{_P}:iam::[0-9]{{12}}:role/aws-service-role/.+", re.DOTALL),
        "service-linked roles (path /aws-service-role/) belong to their AWS service: no policy "
        "lets anyone change their policies, trust or boundary, delete them with DeleteRole, or "
        "pass them",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html"),
    # Roles under /aws-reserved/ (IAM Identity Center's AWSReservedSSO_*) are "only
    # modifiable by AWS": IAM answers "Cannot perform the operation on the protected role".
    # Every write is listed, tags included.
    # https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html
    AwsOwnedRule(
        "aws-reserved-role",
        _ROLE_WRITES | {"iam:tagrole", "iam:untagrole", "iam:updateroledescription"},
        re.compile(rf"arn:{_P}:iam::[0-9]{{12}}:role/aws-reserved/.+", re.DOTALL),
        "roles under /aws-reserved/ are managed by AWS (IAM Identity Center): no policy lets "
        "anyone change, tag, pass or delete them",
        "https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html"),
    # "The alias name cannot begin with alias/aws/. The alias/aws/ prefix is reserved for
    # AWS managed keys." https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
    AwsOwnedRule(
        "aws-kms-alias",
        frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"}),
        re.compile(rf"arn:{_P}:kms:[^:]*:[^:]*:alias/aws/.*", re.DOTALL),
        "KMS aliases under alias/aws/ are reserved for AWS managed keys: no policy lets anyone "
        "create, update or delete them",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html"),
)
AWS_OWNED_ACTIONS: Final = frozenset().union(*(r.actions for r in AWS_OWNED_RULES))


def aws_owned_rule(action_key: str, resource: str) -> AwsOwnedRule | None:
    """The rule under which AWS refuses `action_key` (lower-cased) on `resource`, if any."""
    if action_key not in AWS_OWNED_ACTIONS:
        return None
    for rule in AWS_OWNED_RULES:
        if action_key in rule.actions and rule.resource.fullmatch(resource):
            return rule
    return None

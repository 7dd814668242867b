"""ARNs and account ids: parsed where they enter, trusted inside, built in one place.

ARN formats: IAM User Guide, "IAM identifiers" and "Amazon Resource Names (ARNs)",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html; the resource
forms of S3, DynamoDB and KMS are in the Service Authorization Reference,
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from crossgrant.errors import ArnError

__all__ = [
    "ACCOUNT_ID_RE",
    "PARTITION",
    "PARTITION_RE",
    "Arn",
    "account_root_arn",
    "alias_arn",
    "assumed_role_arn",
    "bucket_arn",
    "check_account_id",
    "index_arn",
    "is_account_id",
    "key_arn",
    "log_group_arn",
    "object_arn",
    "parse_arn",
    "policy_arn",
    "resource_account",
    "role_arn",
    "stream_arn",
    "table_arn",
    "user_arn",
]

# The commercial partition; China and GovCloud ARNs say "aws-cn" and "aws-us-gov".
PARTITION: Final = "aws"
PARTITION_RE: Final = re.compile(r"aws(?:-[a-z]+)*")
# Account ids are 12 ASCII digits (`\d` alone would also take other scripts' digits).
# https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html
ACCOUNT_ID_RE: Final = re.compile(r"[0-9]{12}")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def resource_type(self) -> str:
        """The part of the resource before the first '/' or ':' ('role', 'table', ...)."""
        cut = min((i for i in (self.resource.find("/"), self.resource.find(":")) if i >= 0),
                  default=len(self.resource))
        return self.resource[:cut]


def parse_arn(text: str) -> Arn:
    """Split an ARN into its six segments; the resource keeps any further colons."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ArnError(f"not an ARN: {text!r} "
                       f"(expected arn:partition:service:region:account:resource)")
    _, partition, service, region, account, resource = parts
    if not PARTITION_RE.fullmatch(partition):
        raise ArnError(f"unknown partition {partition!r} in ARN {text!r}")
    if not service:
        raise ArnError(f"empty service in ARN {text!r}")
    if account and not ACCOUNT_ID_RE.fullmatch(account) and account != "aws":
        raise ArnError(f"account {account!r} in ARN {text!r} is not a 12-digit account id")
    if not resource:
        raise ArnError(f"empty resource in ARN {text!r}")
    return Arn(partition, service, region, account, resource)


def is_account_id(text: str) -> bool:
    return bool(ACCOUNT_ID_RE.fullmatch(text))


def check_account_id(text: str, where: str = "account id") -> str:
    """Return `text` if it is a 12-digit account id, else raise naming `where`."""
    if not is_account_id(text):
        raise ArnError(f"{where}: {text!r} is not a 12-digit AWS account id")
    return text


def resource_account(resource: str) -> str | None:
    """The owner account written in a resource ARN, or None (S3 ARNs carry none)."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and ACCOUNT_ID_RE.fullmatch(parts[4]):
        return parts[4]
    return None


# -- building ------------------------------------------------------------------------------
# Names are trusted here (validated where they enter); `path` is an IAM path, "/" or
# "/a/b/", and `partition` comes last so that the common call reads as the ARN does.


def bucket_arn(bucket: str, partition: str = PARTITION) -> str:
    return f"arn:{partition}:s3:::{bucket}"


def object_arn(bucket: str, key: str, partition: str = PARTITION) -> str:
    """An object or a key pattern: `object_arn("b", "in/*")` -> "arn:aws:s3:::b/in/*"."""
    return f"arn:{partition}:s3:::{bucket}/{key}"


def account_root_arn(account: str, partition: str = PARTITION) -> str:
    return f"arn:{partition}:iam::{account}:root"


def role_arn(account: str, name: str, path: str = "/", partition: str = PARTITION) -> str:
    return f"arn:{partition}:iam::{account}:role{path}{name}"


def user_arn(account: str, name: str, path: str = "/", partition: str = PARTITION) -> str:
    return f"arn:{partition}:iam::{account}:user{path}{name}"


def assumed_role_arn(account: str, role: str, session: str,
                     partition: str = PARTITION) -> str:
    """A role session as STS names it: the role's name, never its path."""
    return f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}"


def policy_arn(account: str, name: str, path: str = "/", partition: str = PARTITION) -> str:
    """A customer managed policy (`account` "aws" for an AWS managed one)."""
    return f"arn:{partition}:iam::{account}:policy{path}{name}"


def table_arn(region: str, account: str, table: str, partition: str = PARTITION) -> str:
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"


def index_arn(region: str, account: str, table: str, index: str,
              partition: str = PARTITION) -> str:
    return f"{table_arn(region, account, table, partition)}/index/{index}"


def stream_arn(region: str, account: str, table: str, label: str = "*",
               partition: str = PARTITION) -> str:
    """A table's stream; `label` is its timestamp label, "*" for every stream of the table."""
    return f"{table_arn(region, account, table, partition)}/stream/{label}"


def key_arn(region: str, account: str, key_id: str, partition: str = PARTITION) -> str:
    return f"arn:{partition}:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias: str, partition: str = PARTITION) -> str:
    """`alias` with or without its "alias/" prefix: KMS writes alias names with it."""
    name = alias if alias.startswith("alias/") else f"alias/{alias}"
    return f"arn:{partition}:kms:{region}:{account}:{name}"


def log_group_arn(region: str, account: str, group: str, partition: str = PARTITION) -> str:
    """A CloudWatch Logs group; `group` may end in ":*" for its streams."""
    return f"arn:{partition}:logs:{region}:{account}:log-group:{group}"

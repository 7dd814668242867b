"""ARNs and account ids: parsed where they enter, trusted inside."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crossgrant.errors import ArnError

_ACCOUNT_RE = re.compile(r"\d{12}")
_PARTITION_RE = re.compile(r"aws(-[a-z]+)*")


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
    if not _PARTITION_RE.fullmatch(partition):
        raise ArnError(f"unknown partition {partition!r} in ARN {text!r}")
    if not service:
        raise ArnError(f"empty service in ARN {text!r}")
    if account and not _ACCOUNT_RE.fullmatch(account) and account != "aws":
        raise ArnError(f"account {account!r} in ARN {text!r} is not a 12-digit account id")
    if not resource:
        raise ArnError(f"empty resource in ARN {text!r}")
    return Arn(partition, service, region, account, resource)


def is_account_id(text: str) -> bool:
    return bool(_ACCOUNT_RE.fullmatch(text))


def check_account_id(text: str, where: str = "account id") -> str:
    """Return `text` if it is a 12-digit account id, else raise naming `where`."""
    if not is_account_id(text):
        raise ArnError(f"{where}: {text!r} is not a 12-digit AWS account id")
    return text


def resource_account(resource: str) -> str | None:
    """The owner account written in a resource ARN, or None (S3 ARNs carry none)."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and _ACCOUNT_RE.fullmatch(parts[4]):
        return parts[4]
    return None

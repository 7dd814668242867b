"""The vocabulary of plans: one change to one thing in one account.

`plan`, `deploy` and `destroy` all speak it: a plan lists changes, apply carries them out
in deploy order, destroy lists the changes that take crossgrant's part out again.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from crossgrant.render.artifacts import ResourceKind
from crossgrant.serial import to_json


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-change"


class ChangeKind(enum.StrEnum):
    ROLE = "role"
    TRUST = "trust policy"
    INLINE = "inline policy"
    BUCKET = "bucket policy statement"
    TABLE = "table policy statement"
    STREAM = "stream policy statement"
    KEY = "key policy statement"
    FUNCTION = "function"
    STACKSET = "stack set"  # in the StackSet administrator account
    INSTANCE = "stack instance"  # of that StackSet, in a source account or OU


# What the StackSet administrator account holds for a grant: planned and shown apart from
# the documents of the accounts, even when the administrator is one of them.
STACKSET_KINDS = frozenset({ChangeKind.STACKSET, ChangeKind.INSTANCE})


STATEMENT_KIND = {ResourceKind.BUCKET: ChangeKind.BUCKET, ResourceKind.TABLE: ChangeKind.TABLE,
                  ResourceKind.STREAM: ChangeKind.STREAM, ResourceKind.KEY: ChangeKind.KEY}


@dataclass(frozen=True, slots=True)
class Change:
    account: str
    kind: ChangeKind
    subject: str  # role ARN, bucket name, table ARN, stream ARN pattern, key ARN, function
    name: str  # the inline policy's name or the statement's Sid; "" otherwise
    action: Action
    before: Any = None
    after: Any = None
    note: str = ""

    @property
    def label(self) -> str:
        if self.kind is ChangeKind.ROLE:
            return f"role {self.subject}"
        if self.kind is ChangeKind.TRUST:
            return f"trust policy of {self.subject}"
        if self.kind is ChangeKind.INLINE:
            return f"inline policy {self.name!r} of {self.subject}"
        if self.kind is ChangeKind.FUNCTION:
            return f"function {self.subject}"
        if self.kind is ChangeKind.STACKSET:
            return f"stack set {self.subject}"
        if self.kind is ChangeKind.INSTANCE:
            where = "OU" if self.name.startswith("ou-") or self.name.startswith("r-") \
                else "account"
            return f"stack instances of {self.subject} in {where} {self.name}"
        return f"statement {self.name} in the {self.kind.value.split()[0]} policy of " \
               f"{self.subject}"


class Reads:
    """What a plan read in each account: the documents its changes were computed from.

    Their digest per account is the plan's fingerprint; a saved or confirmed plan is
    applied only while a fresh read gives the same one."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, Any]] = {}

    def add(self, account: str, what: str, value: Any) -> None:
        self._seen.setdefault(account, {})[what] = to_json(value)

    def fingerprints(self) -> dict[str, str]:
        return {account: hashlib.sha256(json.dumps(seen, sort_keys=True).encode())
                .hexdigest() for account, seen in sorted(self._seen.items())}


__all__ = ["STACKSET_KINDS", "STATEMENT_KIND", "Action", "Change", "ChangeKind", "Reads"]

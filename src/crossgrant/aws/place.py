"""Where a deploy went: real AWS (a partition), one sandbox instance, or another endpoint.

Account ids are not enough to say where something was created: one grant deployed from
one folder to two sandboxes (or to a sandbox and to real accounts with the same ids) names
the same accounts in different places, and a journal of one must never be taken as proof
of what crossgrant created in the other. So a journal is keyed by grant, accounts and
place. A sandbox's place is its instance: its endpoint and a digest of the control token
it mints at every start (read from its state directory), so a sandbox started again is a
new place, as its accounts are new ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from crossgrant.aws.clients import Accounts, Connection
from crossgrant.iam.arn import parse_arn

_SLUG_RE = re.compile(r"[^A-Za-z0-9.-]+")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Place:
    kind: str  # "aws" (real AWS), "sandbox" or "endpoint" (another --endpoint-url)
    id: str  # the partition; the sandbox instance's id; the endpoint's digest
    endpoint: str | None = None

    @property
    def slug(self) -> str:
        """A file-name part: `aws`, `sandbox-<id>`, `endpoint-<id>`."""
        if self.kind == "aws":
            return _SLUG_RE.sub("-", self.id)
        return f"{self.kind}-{_SLUG_RE.sub('-', self.id)}"

    @property
    def label(self) -> str:
        if self.kind == "aws":
            return f"AWS ({self.id})"
        return f"{self.kind} {self.id} at {self.endpoint}"


def sandbox_place(connection: Connection) -> Place:
    """A sandbox instance: its endpoint and (when known) its control token's digest."""
    endpoint = connection.endpoint_url or ""
    return Place("sandbox", _digest(endpoint, connection.control_token or ""), endpoint)


def place_of(accounts: Accounts) -> Place:
    connection = accounts.connection
    if connection.sandbox:
        return sandbox_place(connection)
    if connection.endpoint_url:
        return Place("endpoint", _digest(connection.endpoint_url), connection.endpoint_url)
    return Place("aws", parse_arn(accounts.source.identity().arn).partition)


__all__ = ["Place", "place_of", "sandbox_place"]

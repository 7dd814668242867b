"""Who holds an access key: the sandbox's answer to "which principal is calling?".

IAM user keys live in moto's IAM backends; assumed-role sessions are recorded here when
an AssumeRole response passes through the authorizer (with the source identity, expiry
and session policy moto does not keep); service principals (the Lambda runner) hold keys
only this process knows. Secrets stay in memory and are never logged.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from moto.iam.models import iam_backends

from crossgrant.iam import Policy, Principal, parse_principal
from crossgrant.iam.arn import PARTITION


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    secret: str
    session_token: str | None = None
    expires: datetime | None = None
    source_identity: str | None = None
    session_policy: Policy | None = None  # the AssumeRole Policy parameter, compiled
    chained: bool = False  # a role session obtained by a role session (role chaining)
    # Session tags (passed and inherited transitive ones, by key) and which are transitive.
    session_tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    issued: datetime | None = None  # temporary credentials: aws:TokenIssueTime
    function_arn: str | None = None  # a Lambda function's session: lambda:SourceFunctionArn

    @property
    def expired(self) -> bool:
        return self.expires is not None and datetime.now(UTC) >= self.expires

    @property
    def temporary(self) -> bool:
        """Credentials with a session token (STS), as opposed to an IAM user's keys."""
        return self.session_token is not None

    def __repr__(self) -> str:  # never show the secret or token
        return f"Caller({self.principal.arn!r}, expires={self.expires})"


def new_key(prefix: str) -> tuple[str, str]:
    """An access key id and secret in AWS's shapes."""
    alphabet = string.ascii_uppercase + string.digits
    key_id = prefix + "".join(secrets.choice(alphabet) for _ in range(16))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits + "/+")
                     for _ in range(40))
    return key_id, secret


class CredentialStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._own: dict[str, Caller] = {}
        self._iam: dict[str, Caller | None] = {}  # IAM user keys, until IAM changes

    def add(self, access_key: str, caller: Caller) -> None:
        with self._lock:
            self._own[access_key] = caller
            if len(self._own) % 256 == 0:  # now and then, drop sessions long expired
                cutoff = datetime.now(UTC) - timedelta(hours=1)
                for key in [k for k, c in self._own.items()
                            if c.expires is not None and c.expires < cutoff]:
                    del self._own[key]

    def service_key(self, service: str) -> tuple[str, str]:
        """Credentials that sign as an AWS service principal (e.g. lambda.amazonaws.com)."""
        key_id, secret = new_key("ASIA")
        self.add(key_id, Caller(parse_principal({"service": service}), secret))
        return key_id, secret

    def invalidate(self) -> None:
        """Forget cached IAM user keys (a key may have been deleted or deactivated)."""
        with self._lock:
            self._iam.clear()

    def lookup(self, access_key: str) -> Caller | None:
        with self._lock:
            hit = self._own.get(access_key)
            if hit is None and access_key in self._iam:
                return self._iam[access_key]
        if hit is not None:
            return hit
        found = self._from_iam(access_key)
        with self._lock:
            if len(self._iam) < 10_000:
                self._iam[access_key] = found
        return found

    @staticmethod
    def _from_iam(access_key: str) -> Caller | None:
        for backends in list(iam_backends.values()):
            iam = backends[PARTITION]
            key = iam.access_keys.get(access_key)
            if key is None or getattr(key, "status", "Active") != "Active":
                continue
            if key.user_name:
                user = iam.users.get(key.user_name)
                if user is None:
                    return None
                principal = parse_principal(user.arn)
                return Caller(Principal(principal.kind, principal.arn, principal.account,
                                        principal.partition, principal.name,
                                        unique_id=user.id), key.secret_access_key)
        return None

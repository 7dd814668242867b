"""Per-account boto3 sessions, and the check that each one really is the account the grant
names.

A grant spans two accounts, so every command holds two sets of credentials, and the
costliest mistake is a swapped pair: the target's bucket policy written with the source
account's admin (or the reverse) either fails half-way or, worse, succeeds in the wrong
account. So before anything changes, `Accounts.check` asks STS who each credential
belongs to and refuses a mismatch, naming the profile and both account ids.

Secrets never leave botocore: sessions are built from profiles (or a credentials file,
for the sandbox) or from an STS answer, and nothing here prints or stores a key.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from crossgrant.errors import CrossgrantError
from crossgrant.iam.arn import parse_arn
from crossgrant.iam.facts import MIN_SESSION_SECONDS
from crossgrant.spec.model import Grant

T = TypeVar("T")

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                           "AuthorizationError", "Forbidden", "403"})


class AwsError(CrossgrantError):
    """An AWS call that failed in a way the user has to act on; carries AWS's own answer."""

    def __init__(self, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


class AccountMismatchError(CrossgrantError):
    """A credential that belongs to another account than the one the grant names."""


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return str(err.get("Message") or err.get("Code") or exc)
    return str(exc)


def answer(exc: BaseException) -> str:
    """AWS's answer as one line: `Code: message`."""
    code, message = error_code(exc), error_message(exc)
    return f"{code}: {message}" if message and message != code else code


def is_access_denied(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(exc) in ACCESS_DENIED or (status == 403 and error_code(exc) not in
                                                 {"InvalidClientTokenId", "ExpiredToken",
                                                  "SignatureDoesNotMatch"})


def retry(call: Callable[[], T], *, retry_on: Callable[[BaseException], bool],
          timeout: float, base: float = 0.5, cap: float = 8.0,
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> T:
    """`call()` again with jittered exponential backoff while `retry_on` says the failure
    is one that time heals (IAM propagation, a concurrent writer), until `timeout`
    seconds have passed; then the last failure is raised as it was."""
    deadline = clock() + timeout
    delay = base
    while True:
        try:
            return call()
        except Exception as exc:
            if not retry_on(exc) or clock() + delay > deadline:
                raise
        sleep(delay * (0.5 + random.random() / 2))
        delay = min(cap, delay * 2)


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach AWS: the real endpoints, or another one (`--endpoint-url`, the
    sandbox) with its CA bundle and, for the sandbox, its own credentials file."""

    endpoint_url: str | None = None
    ca_bundle: str | None = None
    credentials_file: str | None = None  # a shared-credentials file holding the profiles
    region: str | None = None  # overrides the profile's region
    control_url: str | None = None  # the sandbox's control API, for functions
    control_token: str | None = field(default=None, repr=False)
    sandbox: bool = False

    def config(self) -> Config:
        extra: dict[str, Any] = {}
        if self.endpoint_url:
            extra["s3"] = {"addressing_style": "path"}
        return Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10,
                      read_timeout=60, **extra)


@dataclass(frozen=True, slots=True)
class Identity:
    account: str
    arn: str
    user_id: str


class AccountSession:
    """One account's credentials with its clients, cached and shared between threads."""

    def __init__(self, session: boto3.Session, *, label: str, connection: Connection,
                 region: str, expected_account: str | None = None) -> None:
        self.session = session
        self.label = label  # "profile 'dev-b'", "sandbox account 222222222222", ...
        self.connection = connection
        self.region = region
        self.expected_account = expected_account
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._identity: Identity | None = None

    def __repr__(self) -> str:
        return f"AccountSession({self.label}, region={self.region})"

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                kwargs: dict[str, Any] = {"region_name": key[1],
                                          "config": self.connection.config()}
                if self.connection.endpoint_url:
                    kwargs["endpoint_url"] = self.connection.endpoint_url
                if self.connection.ca_bundle:
                    kwargs["verify"] = self.connection.ca_bundle
                try:
                    found = self.session.client(service, **kwargs)
                except NoRegionError:
                    raise CrossgrantError(f"{self.label}: no region configured; pass "
                                          f"--region or set one in the profile") from None
                self._clients[key] = found
            return found

    def identity(self) -> Identity:
        """Who these credentials are (sts:GetCallerIdentity, which needs no permission)."""
        if self._identity is None:
            try:
                raw = self.client("sts").get_caller_identity()
            except (NoCredentialsError, PartialCredentialsError):
                raise CrossgrantError(f"{self.label}: no credentials found") from None
            except ClientError as exc:
                raise AwsError(f"{self.label}: the credentials were refused: {answer(exc)}",
                               code=error_code(exc), operation="GetCallerIdentity") from None
            except EndpointConnectionError as exc:
                raise CrossgrantError(f"{self.label}: cannot reach AWS: {exc}") from None
            except BotoCoreError as exc:
                raise CrossgrantError(f"{self.label}: {exc}") from None
            self._identity = Identity(str(raw["Account"]), str(raw["Arn"]),
                                      str(raw.get("UserId", "")))
        return self._identity

    def assume(self, role_arn: str, *, session_name: str, external_id: str | None = None,
               source_identity: str | None = None,
               duration: int = MIN_SESSION_SECONDS) -> AccountSession:
        """A session of `role_arn`, assumed with these credentials; raises ClientError."""
        given = {"ExternalId": external_id, "SourceIdentity": source_identity}
        creds = self.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=duration,
            **{k: v for k, v in given.items() if v is not None})["Credentials"]
        session = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                                aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"],
                                region_name=self.region)
        return AccountSession(session, label=f"role {role_arn}", connection=self.connection,
                              region=self.region, expected_account=parse_arn(role_arn).account)


_LOADER: Any = None
_LOADER_LOCK = threading.Lock()


def _shared_loader() -> Any:
    """One botocore model loader for every session of the process: a grant needs two
    sessions, and parsing the service models again for each costs more than its calls."""
    global _LOADER  # noqa: PLW0603 - a process-wide cache
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))
        return _LOADER


def profile_session(profile: str | None, connection: Connection, *, region: str,
                    expected_account: str | None = None) -> AccountSession:
    """A session from a named profile (None: boto3's default chain)."""
    try:
        core = botocore.session.Session(profile=profile)
        core.register_component("data_loader", _shared_loader())
        if connection.credentials_file:
            core.set_config_variable("credentials_file", connection.credentials_file)
            # The sandbox's profiles live in its own file; the user's config must not add
            # a credential_process or SSO settings to them.
            core.set_config_variable("config_file", os.devnull)
        session = boto3.Session(botocore_session=core,
                                region_name=connection.region or core.get_config_variable(
                                    "region") or region)
    except ProfileNotFound:
        raise CrossgrantError(f"profile {profile!r} is not configured") from None
    label = f"profile {profile!r}" if profile else "the default credentials"
    return AccountSession(session, label=label, connection=connection,
                          region=session.region_name or region,
                          expected_account=expected_account)


@dataclass(frozen=True, slots=True)
class Accounts:
    """The source account's and the target account's sessions, for one grant."""

    grant: Grant
    source: AccountSession
    target: AccountSession
    connection: Connection

    @property
    def sources(self) -> tuple[str, ...]:
        """The source accounts these credentials act in directly (none when a StackSet
        reaches them: `aws.fanout`)."""
        return self.grant.source.accounts

    def session(self, account: str) -> AccountSession:
        if account == self.grant.source.account:
            return self.source
        if account == self.grant.target.account:
            return self.target
        raise CrossgrantError(f"{self.grant.path}: account {account} is neither the "
                              f"grant's source nor its target")

    def check(self) -> None:
        """Refuse credentials that belong to another account than the grant names.

        Runs before any change: a deploy with swapped profiles must not write anything."""
        for side, sess, want in (("source", self.source, self.grant.source.account),
                                 ("target", self.target, self.grant.target.account)):
            got = sess.identity().account
            if got != want:
                raise AccountMismatchError(
                    f"{sess.label} belongs to account {got}, but the grant's {side} account "
                    f"is {want} ({self.grant.path}); nothing was changed")


def connect(grant: Grant, connection: Connection, *, source_profile: str | None = None,
            target_profile: str | None = None, check: bool = True) -> Accounts:
    """Sessions for both accounts of `grant`, checked against it unless `check` is off."""
    source = profile_session(source_profile, connection, region=grant.source.region,
                             expected_account=grant.source.account)
    target = profile_session(target_profile, connection, region=grant.target.region,
                             expected_account=grant.target.account)
    accounts = Accounts(grant, source, target, connection)
    if check:
        accounts.check()
    return accounts


def from_sessions(grant: Grant, source: boto3.Session, target: boto3.Session,
                  connection: Connection, *, check: bool = True) -> Accounts:
    """Accounts from ready boto3 sessions (tests, callers that hold credentials)."""
    accounts = Accounts(
        grant,
        AccountSession(source, label=f"source session ({grant.source.account})",
                       connection=connection, region=source.region_name or
                       grant.source.region, expected_account=grant.source.account),
        AccountSession(target, label=f"target session ({grant.target.account})",
                       connection=connection, region=target.region_name or
                       grant.target.region, expected_account=grant.target.account),
        connection)
    if check:
        accounts.check()
    return accounts


__all__ = ["ACCESS_DENIED", "AccountMismatchError", "AccountSession", "Accounts", "AwsError",
           "Connection", "Identity", "answer", "connect", "error_code", "error_message",
           "from_sessions", "is_access_denied", "profile_session", "retry"]

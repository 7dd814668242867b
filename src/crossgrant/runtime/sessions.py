"""Assumed-role sessions for code running inside a Lambda function.

The seeds call `sts.assume_role` on every invocation: an STS round trip per request,
throttling under load, credentials that are never refreshed, and a session name that tells
the target account's audit trail nothing. Here one set of credentials serves every
invocation of a warm execution environment and is renewed by botocore's own
refreshable-credential machinery shortly before it expires, so no call ever goes out with
expired credentials and no timer thread is needed.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)

from crossgrant.runtime import names

log = logging.getLogger("crossgrant.runtime")

MIN_DURATION = 900
MAX_DURATION = 43_200
MAX_CHAINED_DURATION = 3_600
# Pass as source_identity to leave SourceIdentity unset (the trust policy then need not
# allow sts:SetSourceIdentity).
NO_SOURCE_IDENTITY = ""

_ROLE_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\x21-\x7e]{0,510}/)?[\w+=,.@-]{1,64}", re.ASCII)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
_TAG_KEY = re.compile(r"[\w\s+=.@:/-]{1,128}")
_TAG_VALUE = re.compile(r"[\w\s+=.@:/-]{0,256}")
_MAX_TAGS = 50

# Botocore refreshes in an advisory window (a failed refresh keeps the old credentials)
# and then a mandatory one (all callers wait). Its defaults, 15 and 10 minutes, are made
# for hour-long sessions: with a 15-minute session they would call STS on every request.
_ADVISORY_MAX = 15 * 60
_MANDATORY_MAX = 10 * 60

# STS calls: standard retry mode backs off with jitter on throttling and transient errors;
# four attempts in all and short timeouts keep a stuck STS from eating the function's timeout.
_STS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
    user_agent_extra="crossgrant-runtime",
)

# Environment variables whose presence means the caller's own credentials are a role
# session: Lambda and ECS (always roles), web identity, and a session token in the env.
_ROLE_SESSION_ENV = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
# Where the caller's credentials and endpoints come from: part of the cache key, so that
# a process whose source credentials or endpoint change never reuses another's session.
_SOURCE_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# The time botocore compares expiry against; tests replace it to simulate a clock.
clock: Callable[[], datetime.datetime] = _utcnow


def _now() -> datetime.datetime:
    return clock()


def caller_is_role_session() -> bool:
    """Whether this process's own credentials are (as far as the environment tells) a
    role session, so that a further AssumeRole is role chaining and capped at one hour."""
    return any(os.environ.get(var) for var in _ROLE_SESSION_ENV)


def default_session_name() -> str:
    return names.session_name_from(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
                                   os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"))


def default_source_identity() -> str | None:
    return names.source_identity_from(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def _refresh_windows(duration: int) -> tuple[int, int]:
    """(advisory, mandatory) seconds before expiry: botocore's for hour-long sessions, a
    third and a sixth of the lifetime for shorter ones."""
    return min(_ADVISORY_MAX, duration // 3), min(_MANDATORY_MAX, duration // 6)


class _AssumeRole:
    """The `refresh_using` callback: one AssumeRole call, its STS client made on first use."""

    def __init__(self, params: dict[str, Any], region: str, account: str) -> None:
        self.params = params
        self.region = region
        self.account = account
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            # A fresh botocore session: the default chain (Lambda's environment) as it is
            # now, not as another session cached it.
            base = botocore.session.Session()
            base.set_config_variable("sts_regional_endpoints", "regional")
            self._client = base.create_client("sts", region_name=self.region,
                                              config=_STS_CONFIG)
        return self._client

    def __call__(self) -> dict[str, Any]:
        response = self.client().assume_role(**self.params)
        creds = response["Credentials"]
        expiration = creds["Expiration"]  # a datetime, as botocore parses it
        expiry = (expiration.isoformat() if hasattr(expiration, "isoformat")
                  else str(expiration))
        log.info("assumed %s as session %s (source identity %s), expires %s",
                 self.params["RoleArn"], self.params["RoleSessionName"],
                 self.params.get("SourceIdentity", "-"), expiry)
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"], "expiry_time": expiry,
                "account_id": self.account}


class _Credentials(DeferredRefreshableCredentials):  # type: ignore[misc]
    """Deferred (nothing is fetched until a request is signed) with refresh windows sized
    to the session's lifetime."""

    def __init__(self, fetch: _AssumeRole, duration: int) -> None:
        super().__init__(refresh_using=fetch, method="crossgrant-assume-role",
                         time_fetcher=_now)
        self._advisory_refresh_timeout, self._mandatory_refresh_timeout = (
            _refresh_windows(duration))
        self.fetch = fetch

    def __repr__(self) -> str:  # never the keys
        return f"<crossgrant assumed-role credentials for {self.fetch.params['RoleArn']}>"


class _Provider(CredentialProvider):  # type: ignore[misc]
    METHOD = "crossgrant-assume-role"
    CANONICAL_NAME = "crossgrant"

    def __init__(self, credentials: _Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> _Credentials:
        return self._credentials


_Key = tuple[Any, ...]
_lock = threading.Lock()
_credentials: dict[_Key, _Credentials] = {}
_local = threading.local()
# Bumped by clear_cache, so that every thread drops its own sessions too.
_generation = [0]


def clear_cache() -> None:
    """Forget every cached session (tests; a process that changed its own credentials)."""
    with _lock:
        _credentials.clear()
        _generation[0] += 1


def _region(region: str | None) -> str:
    found = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not found:
        found = botocore.session.Session().get_config_variable("region")
    if not found:
        raise ValueError("assumed_session needs a region for the regional STS endpoint: "
                         "pass region= or set AWS_REGION")
    return str(found)


def _validate(role_arn: str, external_id: str | None, session_name: str,
              source_identity: str | None, duration: int,
              tags: tuple[tuple[str, str], ...]) -> str:
    """Every argument STS would refuse, refused here before any call; returns the role's
    account."""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValueError(f"duration must be between {MIN_DURATION} and {MAX_DURATION} "
                         f"seconds, not {duration}")
    if duration > MAX_CHAINED_DURATION and caller_is_role_session():
        raise ValueError(
            f"duration {duration} s is over the {MAX_CHAINED_DURATION} s cap on role "
            f"chaining: this process already runs as a role session (inside Lambda it "
            f"always does), and STS limits a role assumed from a role session to one hour")
    if external_id is not None and _EXTERNAL_ID.fullmatch(external_id) is None:
        raise ValueError("external_id must be 2 to 1224 characters from [\\w+=,.@:/-]")
    if not names.is_valid(session_name):
        raise ValueError(f"session_name {session_name!r} must be 2 to 64 characters "
                         f"from [\\w+=,.@-]")
    if source_identity is not None and not names.is_valid(source_identity):
        raise ValueError(f"source_identity {source_identity!r} must be 2 to 64 "
                         f"characters from [\\w+=,.@-]")
    if len(tags) > _MAX_TAGS:
        raise ValueError(f"at most {_MAX_TAGS} session tags, not {len(tags)}")
    for key, value in tags:
        if _TAG_KEY.fullmatch(key) is None or _TAG_VALUE.fullmatch(value) is None:
            raise ValueError(f"session tag {key!r}: keys are 1-128 and values 0-256 "
                             f"characters from letters, digits, spaces and _.:/=+-@")
    return match.group(1)


def _new_credentials(key: _Key) -> _Credentials:
    (role_arn, external_id, session_name, source_identity, duration, region, tags,
     _source) = key
    account = _validate(role_arn, external_id, session_name, source_identity, duration,
                        tags)
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name,
                              "DurationSeconds": duration}
    if external_id is not None:
        params["ExternalId"] = external_id
    if source_identity is not None:
        params["SourceIdentity"] = source_identity
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
    return _Credentials(_AssumeRole(params, region, account), duration)


def _boto3_session(credentials: _Credentials, region: str) -> boto3.Session:
    core = botocore.session.Session()
    core.register_component("credential_provider",
                            CredentialResolver([_Provider(credentials)]))
    return boto3.Session(botocore_session=core, region_name=region)


def assumed_session(role_arn: str, *, external_id: str | None = None,
                    session_name: str | None = None, source_identity: str | None = None,
                    duration: int = 3600, region: str | None = None,
                    tags: Mapping[str, str] | None = None) -> boto3.Session:
    """A boto3 Session acting as `role_arn`, cached for the life of the process.

    Nothing is called here: STS is asked on first use of a client, and again shortly
    before the credentials expire. Calls with the same arguments (and the same source
    credentials and endpoint) share one set of credentials; anything different gets its
    own. Each thread gets its own Session object (boto3 sessions are not thread-safe)
    over the shared credentials.

    Defaults: the session name is `FUNCTION@ENVID` from Lambda's environment and the
    source identity is the function's name (pass `NO_SOURCE_IDENTITY` to leave it out).
    """
    if session_name is None:
        session_name = default_session_name()
    if source_identity is None:
        source_identity = default_source_identity()
    elif source_identity == NO_SOURCE_IDENTITY:
        source_identity = None
    region = _region(region)
    tag_items = tuple(sorted(tags.items())) if tags else ()
    key: _Key = (role_arn, external_id, session_name, source_identity, duration, region,
                 tag_items, tuple(os.environ.get(var) for var in _SOURCE_ENV))
    sessions: dict[_Key, boto3.Session] | None = getattr(_local, "sessions", None)
    if sessions is None or _local.generation != _generation[0]:
        sessions = _local.sessions = {}
        _local.generation = _generation[0]
    found = sessions.get(key)
    if found is not None:
        return found
    with _lock:
        credentials = _credentials.get(key)
        if credentials is None:
            credentials = _credentials[key] = _new_credentials(key)
    session = sessions[key] = _boto3_session(credentials, region)
    return session

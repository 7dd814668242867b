"""boto3 clients for the handlers, made once per execution environment.

Creating a client costs milliseconds (its service model is loaded and parsed); a warm
invocation should pay nothing for it. Clients for A's own resources use the execution
role (the default credential chain); clients for B's go through the assumed role, or
through the execution role when no TARGET_ROLE_ARN is set (grants that use resource
policies alone).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import boto3
from botocore.config import Config

from crossgrant.runtime import assumed_session

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=20,
    user_agent_extra="crossgrant-functions",
)
# What the default session's clients depend on: a change (a new execution role session,
# another endpoint) must give new clients, never stale ones.
_SOURCE_ENV = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE",
               "AWS_REGION", "AWS_DEFAULT_REGION")

_lock = threading.Lock()
_source: dict[tuple[str | None, ...], Any] = {}
_target: weakref.WeakKeyDictionary[boto3.Session, dict[str, Any]] = (
    weakref.WeakKeyDictionary())


class MissingSetting(RuntimeError):
    """A required environment variable is not set: a deployment mistake, so the
    invocation fails loudly instead of writing somewhere unintended."""


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or default
    if value is None:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


def source_client(service: str) -> Any:
    """A client acting as the execution role itself (A's own resources)."""
    key = (service, *(os.environ.get(var) for var in _SOURCE_ENV))
    with _lock:
        client = _source.get(key)
        if client is None:
            client = _source[key] = boto3.session.Session().client(
                service, config=CLIENT_CONFIG)
        return client


def target_session() -> boto3.Session:
    """B's side: the assumed role when TARGET_ROLE_ARN is set, else the execution role."""
    role = os.environ.get("TARGET_ROLE_ARN")
    if not role:
        return boto3.session.Session()
    return assumed_session(role, external_id=os.environ.get("EXTERNAL_ID") or None)


def target_client(service: str) -> Any:
    """A client for B's resources; the assumed session's credentials refresh under it."""
    if not os.environ.get("TARGET_ROLE_ARN"):
        return source_client(service)
    session = target_session()
    with _lock:
        clients = _target.setdefault(session, {})
        client = clients.get(service)
        if client is None:
            client = clients[service] = session.client(service, config=CLIENT_CONFIG)
        return client


def clear() -> None:
    """Drop every cached client (tests that switch accounts or endpoints)."""
    with _lock:
        _source.clear()
        _target.clear()

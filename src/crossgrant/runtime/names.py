"""Role session names and source identities that tell B's audit trail who called.

CloudTrail in the target account shows `assumed-role/ROLE/SESSION_NAME` and the session's
`SourceIdentity`; the seeds' fixed "lambda-session" says nothing there. We derive both
from Lambda's own environment, so every entry names the function and the execution
environment (one per warm worker) that made it, and the same inputs always give the same
name. STS accepts 2 to 64 characters from `[\\w+=,.@-]` for both.
"""

from __future__ import annotations

import functools
import hashlib
import re

MAX_LEN = 64
MIN_LEN = 2
DEFAULT_NAME = "crossgrant"

VALID = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_INVALID_CHAR = re.compile(r"[^\w+=,.@-]", re.ASCII)
# Lambda's log stream is `YYYY/MM/DD/[VERSION]HEX`; HEX identifies the execution
# environment, which is what tells two concurrent sessions of one function apart.
_STREAM_ENV_ID = re.compile(r"\]([0-9A-Za-z]+)\s*$")
_ENV_ID_LEN = 12
_HASH_LEN = 8


def is_valid(name: str) -> bool:
    return VALID.fullmatch(name) is not None


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def _clean(text: str) -> str:
    return _INVALID_CHAR.sub("-", text)


def _fit(base: str, room: int) -> str:
    """`base` in at most `room` characters; a cut name keeps a hash of the whole one, so
    two long function names that share a prefix still read differently in the trail."""
    if len(base) <= room:
        return base
    keep = room - _HASH_LEN - 1
    return f"{base[:keep]}-{_digest(base, _HASH_LEN)}"


def environment_id(log_stream: str | None) -> str | None:
    """A short, stable id of the execution environment from its log stream name."""
    if not log_stream:
        return None
    match = _STREAM_ENV_ID.search(log_stream)
    if match is not None:
        return match.group(1)[:_ENV_ID_LEN].lower()
    return _digest(log_stream, _ENV_ID_LEN)


@functools.lru_cache(maxsize=64)  # pure, and asked again on every warm invocation
def session_name_from(function_name: str | None, log_stream: str | None) -> str:
    """`FUNCTION@ENVID` (e.g. `thumbnailer@3f2a9c1b0d4e`), valid and at most 64 chars.

    Pure: the same function name and log stream always give the same name.
    """
    base = _clean(function_name) if function_name else DEFAULT_NAME
    env_id = environment_id(log_stream)
    if env_id is None:
        name = _fit(base, MAX_LEN)
    else:
        name = f"{_fit(base, MAX_LEN - len(env_id) - 1)}@{env_id}"
    if len(name) < MIN_LEN:
        name = f"{name}@lambda"
    return name


@functools.lru_cache(maxsize=64)
def source_identity_from(function_name: str | None) -> str | None:
    """The function's name as STS will take it, or None outside Lambda."""
    if not function_name:
        return None
    name = _fit(_clean(function_name), MAX_LEN)
    if len(name) < MIN_LEN:
        name = f"{name}@lambda"
    return name

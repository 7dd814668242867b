"""The rules of single fields, each failure a sentence saying what the field may hold.

Plain functions raising ValueError, so pydantic reports them at the field's location; the
schema attaches them to the fields.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from crossgrant.errors import UnknownActionError
from crossgrant.iam.actions import canonical_action_name
from crossgrant.iam.facts import BUCKET_NAME_RE, MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from crossgrant.spec.source import Plain, short

__all__ = ["action", "bucket_name", "flag", "number", "one_of", "prefix", "rule", "session",
           "tag_key", "tag_value", "text", "unit"]

def text(value: object) -> object:
    """String fields: an unquoted number/boolean/date stays the text the user wrote."""
    return value.raw if isinstance(value, Plain) else value


def number(value: object) -> object:
    if isinstance(value, Plain):
        if isinstance(value.value, int) and not isinstance(value.value, bool) \
                and not re.fullmatch(r"0|[1-9][0-9]*", value.raw):
            raise ValueError(f"write {value.raw!r} as a plain decimal number "
                             f"(YAML reads it as {value.value})")
        return value.value
    return value


def flag(value: object) -> object:
    return value.value if isinstance(value, Plain) else value


def rule(pattern: str | re.Pattern[str], explain: str, flags: int = 0) -> Callable[[str], str]:
    """A check that the whole value matches `pattern`, explained in words when it does not."""
    compiled = re.compile(pattern, flags)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{short(value)} is not valid: {explain}")
        return value
    return check


def one_of(kind: str, allowed: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {kind} {short(value)} "
                             f"(expected {', '.join(allowed)}){hint}")
        return value
    return check


def bucket_name(value: str) -> str:
    """The S3 general purpose bucket naming rules, each with its own message."""
    problem = None
    if not BUCKET_NAME_RE.fullmatch(value):  # say which part of the shape is wrong
        if not 3 <= len(value) <= 63:
            problem = f"is {len(value)} characters; bucket names have 3 to 63"
        elif not re.fullmatch(r"[a-z0-9.-]+", value):
            problem = "may hold only lowercase letters, digits, '.' and '-'"
        else:
            problem = "must begin and end with a letter or digit"
    elif ".." in value:
        problem = "must not contain two adjacent periods"
    elif re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        problem = "must not be formatted as an IP address"
    else:
        for start in ("xn--", "sthree-", "amzn-s3-demo-"):
            if value.startswith(start):
                problem = f"must not begin with {start!r} (reserved by S3)"
        for end, what in (("-s3alias", "access point aliases"),
                          ("--ol-s3", "Object Lambda access point aliases"),
                          (".mrap", "multi-region access points"),
                          ("--x-s3", "directory buckets, which crossgrant does not support"),
                          ("--table-s3", "S3 table buckets")):
            if value.endswith(end):
                problem = f"must not end with {end!r} (reserved for {what})"
    if problem:
        raise ValueError(f"bucket name {short(value)} {problem}")
    return value


def prefix(value: str) -> str:
    if value.startswith("/"):
        problem = "must not begin with '/' (S3 keys have no leading slash)"
    elif "*" in value or "?" in value:
        problem = "must not contain '*' or '?': they are wildcards in policy ARNs"
    elif "${" in value:
        problem = "must not contain '${': it is a policy variable in policy ARNs"
    elif value and not value.endswith("/"):
        problem = f"must end with '/' (write {value + '/'!r}), or be \"\" for the whole bucket"
    elif len(value.encode()) > 1024:
        problem = "is longer than an S3 key (1024 bytes)"
    else:
        return value
    raise ValueError(f"prefix {short(value)} {problem}")


def session(value: int) -> int:
    if not MIN_SESSION_SECONDS <= value <= MAX_SESSION_SECONDS:
        raise ValueError(f"{value} is out of range: a role session lasts "
                         f"{MIN_SESSION_SECONDS} to {MAX_SESSION_SECONDS} seconds")
    return value


def tag_key(value: str) -> str:
    if not 1 <= len(value) <= 128:
        raise ValueError(f"tag key {short(value)} must have 1 to 128 characters")
    if value.lower().startswith("aws:"):
        raise ValueError(f"tag key {short(value)} must not begin with 'aws:' (reserved)")
    if not re.fullmatch(r"[\w .:/=+@-]+", value):
        raise ValueError(f"tag key {short(value)} may hold letters, digits, spaces and "
                         f"_ . : / = + - @ only")
    return value


def tag_value(value: str) -> str:
    if len(value) > 256:
        raise ValueError("a tag value has at most 256 characters")
    if not re.fullmatch(r"[\w .:/=+@-]*", value):
        raise ValueError(f"tag value {short(value)} may hold letters, digits, spaces and "
                         f"_ . : / = + - @ only")
    return value



# An OU id: "ou-", the root's 4 to 32 characters, "-", 8 to 32 more (AWS Organizations API
# reference, OrganizationalUnit.Id).
_UNIT_RE = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")


def unit(value: str) -> str:
    if re.fullmatch(r"r-[0-9a-z]{4,32}", value):
        raise ValueError(f"{short(value)} is the organization's root: that is the whole "
                         f"organization; name the OUs whose accounts run the function")
    if not _UNIT_RE.fullmatch(value):
        raise ValueError(f"{short(value)} is not valid: an OU id is 'ou-', the root's 4 to 32 "
                         f"of a-z, 0-9, '-' and 8 to 32 more (e.g. ou-ab12-11111111)")
    return value


def action(value: str) -> str:
    """One IAM action from the catalog, returned in AWS's spelling: IAM stores a misspelt
    action without complaint and it grants nothing, so it is refused where it is written."""
    try:
        return canonical_action_name(value)
    except UnknownActionError as exc:
        raise ValueError(str(exc)) from None

"""Action rules: actions no service defines (CG101) and wildcards that grant more than
meant (CG103)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence

from crossgrant.errors import UnknownActionError
from crossgrant.findings import Severity
from crossgrant.iam.actions import (
    ActionInfo,
    canonical_action_name,
    expand_action_pattern,
    known_service,
    known_services,
)
from crossgrant.verify.lint.document import Document, Stmt
from crossgrant.verify.lint.principals import whole_account
from crossgrant.verify.lint.registry import Hit, statement_rule, value_rule


@value_rule(
    "CG101", "unknown-action", Severity.ERROR,
    "An action (or pattern) no service in the catalog defines: it grants or denies "
    "nothing.", elements=("Action", "NotAction"))
def check_unknown_action(value: str) -> tuple[str, str] | None:
    if value == "*":
        return None
    odd = _odd_spelling(value)
    if odd is not None:
        return odd
    prefix, _, name = value.partition(":")
    if "*" in prefix or "?" in prefix:
        return None
    if not known_service(prefix):
        close = difflib.get_close_matches(prefix.lower(), known_services(), n=1, cutoff=0.8)
        if not close:
            return None  # a service crossgrant's catalog does not cover: cannot tell
        return (f"unknown service prefix {prefix!r} in {value!r} (did you mean {close[0]}?)",
                f"replace {value!r} with '{close[0]}:{name}'")
    if "*" in name or "?" in name:
        if expand_action_pattern(value):
            return None
        return (f"{value!r} matches no {prefix.lower()} action, so it grants or denies nothing",
                f"correct the pattern so it matches the {prefix.lower()} actions meant, or "
                f"list them one by one")
    try:
        canonical_action_name(value)
    except UnknownActionError as exc:
        message = str(exc)
        m = re.search(r"did you mean ([\w:-]+)\?", message)
        if m:
            return message, f"replace {value!r} with {m.group(1)!r}"
        m = re.search(r"the actions that authorize it are (.+)\)$", message)
        if m:
            return message, f"replace {value!r} with {m.group(1)}"
        return message, (f"use an action the Service Authorization Reference lists for "
                         f"{prefix.lower()}")
    return None


@statement_rule(
    "CG103", "wildcard-action", Severity.WARNING,
    "A wildcard action (*, s3:*, s3:Get*) in an Allow where the catalog lists the "
    "actions it stands for.", kinds=("identity", "resource"), allow_only=True)
def check_wildcard_action(doc: Document, st: Stmt) -> Iterator[Hit]:
    if _delegates_to_owner(doc, st):
        return
    for value, path in st.values("Action"):
        if "*" not in value and "?" not in value:
            continue
        infos = expand_action_pattern(value)
        if not infos:
            continue
        levels = _level_counts(infos)
        risky = sum(1 for i in infos if i.access_level in ("Write",
                                                           "Permissions management"))
        if value == "*":
            message = (f'"*" allows every action of every AWS service ({len(infos)} in '
                       f"crossgrant's catalog of {len(known_services())} services alone)")
        else:
            message = f"{value!r} allows {len(infos)} actions ({levels})"
        if len(infos) == 1:
            fix = f"write the action out: {infos[0].qualified_name}"
        else:
            fix = (f"replace {value!r} with the actions the code calls ({risky} of the "
                   f"{len(infos)} it covers are Write or Permissions management)")
        yield st.hit(path, message, fix)


def _delegates_to_owner(doc: Document, st: Stmt) -> bool:
    """A resource policy naming only its owner's account (the default key policy's
    `kms:*` for the account root) hands the decision to IAM: its wildcard is by design."""
    principals = st.principals()
    return doc.owner_account is not None and bool(principals) and all(
        t == "AWS" and whole_account(v) == doc.owner_account for t, v, _ in principals)


def _level_counts(infos: Sequence[ActionInfo]) -> str:
    order = ("List", "Read", "Write", "Permissions management", "Tagging")
    counts = {level: sum(1 for i in infos if i.access_level == level) for level in order}
    return ", ".join(f"{n} {level}" for level, n in counts.items() if n)


def _odd_spelling(value: str) -> tuple[str, str] | None:
    """Action strings IAM stores in identity policies although they name no action (it
    checks only the service prefix): they match no request, so a Deny holding one denies
    nothing. The engine reads them that way (`Statement.malformed_actions`); say so, and
    offer the spelling that was meant."""
    prefix, sep, name = value.partition(":")
    if not sep or not prefix or any(c in prefix for c in "*? "):
        return None
    why = "IAM stores it, but it matches no request (a Deny with it denies nothing)"
    if "," in name:
        parts = [p.strip() for p in name.split(",") if p.strip()]
        meant = ", ".join(repr(f"{prefix}:{p}") for p in parts)
        return (f"{value!r} is one action name holding a list: {why}",
                f"write each action as its own string: {meant}")
    if name != name.strip() or " " in name:
        fixed = f"{prefix}:{name.replace(' ', '')}"
        return (f"{value!r} holds white space: {why}", f"replace it with {fixed!r}")
    if not name:
        return (f"{value!r} names no action: {why}",
                f"name the {prefix.lower()} actions meant, or {prefix}:* for all of them")
    return None

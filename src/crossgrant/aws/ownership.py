"""Whose is it: what the journal proves crossgrant created in this place, and what it
found there.

Deploy owns only what its journal proves it created, keyed by grant, accounts and place
(`aws.journal`). A name proves nothing: a role, an inline policy, a statement with one of
crossgrant's Sids or a function can have been made by hand, or by another tool applying
crossgrant's own Terraform export. So ownership is the journal's record of the create
step plus the created object's identity where AWS gives one (a role's RoleId, compared
before anything is deleted). What exists without that proof is foreign: deploy refuses
to take it over unless told to (`--adopt`), and an adopted thing is given back as it was,
never deleted.

A role crossgrant created for another grant (it carries the `crossgrant:grant` tag set at
CreateRole) may be shared: a grant that joins it records its RoleId, and the last grant
to leave deletes it once nothing else is on it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossgrant.aws.journal import (
    Journal,
    function_key,
    inline_key,
    policy_key,
    role_key,
    stackset_key,
)
from crossgrant.aws.policies import Owns, by_sid
from crossgrant.errors import CrossgrantError
from crossgrant.render.artifacts import RoleArtifact

GRANT_TAG = "crossgrant:grant"  # on every role crossgrant creates: whose it is


class Owner(enum.StrEnum):
    NEW = "new"  # does not exist: crossgrant will create it
    CREATED = "created"  # this journal created it (and it is the same object)
    SHARED = "shared"  # crossgrant created it for a grant; this journal joined it
    DECLARED = "declared"  # the grant says it exists (source.existing_role)
    ADOPTED = "adopted"  # taken over with --adopt: given back, never deleted
    FOREIGN = "foreign"  # exists, and nothing proves crossgrant made it


class NotOwnedError(CrossgrantError):
    """Something crossgrant would take over exists and its journal did not create it."""


def adopt_hint(labels: list[str]) -> str:
    """The one line deploy refuses with."""
    more = f" (and {len(labels) - 1} more)" if len(labels) > 1 else ""
    return (f"{labels[0]}{more} already exists and this journal did not create it; pass "
            f"--adopt to take it over (destroy then gives it back and never deletes it); "
            f"nothing was changed")


def same_role(record: Mapping[str, Any], role_id: str | None, tags: Mapping[str, str],
               grant: str) -> bool:
    """Is the live role the object the journal recorded? By RoleId; a journal of an
    older crossgrant recorded none, and then the grant's tag must be on a role it says it
    created."""
    recorded = record.get("role_id")
    if recorded:
        return bool(recorded == role_id)
    if record.get("created"):
        return tags.get(GRANT_TAG) == grant
    return True


def role_owner(art: RoleArtifact, exists: bool, role_id: str | None,
               tags: Mapping[str, str], journal: Journal | None, grant: str) -> Owner:
    if not exists:
        return Owner.NEW
    record = journal.original(role_key(art.arn)) if journal is not None else None
    if record is not None and same_role(record, role_id, tags, grant):
        if record.get("created"):
            return Owner.CREATED
        if record.get("shared"):
            return Owner.SHARED
        if record.get("adopted"):
            return Owner.ADOPTED
        return Owner.DECLARED
    if not art.create:
        return Owner.DECLARED
    if GRANT_TAG in tags:
        return Owner.SHARED
    return Owner.FOREIGN


def inline_owner(art: RoleArtifact, name: str, exists: bool, role: Owner,
                 journal: Journal | None) -> Owner:
    if not exists:
        return Owner.NEW
    record = journal.original(inline_key(art.arn, name)) if journal is not None else None
    if record is not None and role is not Owner.FOREIGN:
        return Owner.CREATED if record.get("created") else Owner.ADOPTED
    if role is Owner.CREATED:
        return Owner.CREATED
    return Owner.FOREIGN


def function_owner(name: str, exists: bool, journal: Journal | None) -> Owner:
    if not exists:
        return Owner.NEW
    record = journal.original(function_key(name)) if journal is not None else None
    if record is None:
        return Owner.FOREIGN
    return Owner.CREATED if record.get("created") else Owner.ADOPTED


def stackset_owner(name: str, live_id: str | None, journal: Journal | None) -> Owner:
    """Whose is the StackSet `name` (`live_id`: its StackSetId, None when there is none)?
    The journal's record, of that very StackSet: one made again under the name since
    (another StackSetId) is not crossgrant's."""
    if live_id is None:
        return Owner.NEW
    record = journal.original(stackset_key(name)) if journal is not None else None
    if record is None or (record.get("stack_set_id") and record["stack_set_id"] != live_id):
        return Owner.FOREIGN
    return Owner.CREATED if record.get("created") else Owner.ADOPTED


@dataclass(frozen=True, slots=True)
class Statements:
    """The Sids of one resource policy that the journal says are crossgrant's here."""

    created: frozenset[str] = frozenset()
    adopted: frozenset[str] = frozenset()
    originals: Mapping[str, Any] | None = None  # adopted Sid -> the statement it replaced

    @property
    def mine(self) -> frozenset[str]:
        return self.created | self.adopted

    def owns(self, *also: str) -> Owns:
        sids = self.mine | set(also)
        return lambda sid: isinstance(sid, str) and sid in sids


def _original_doc(record: Mapping[str, Any]) -> Any:
    text = record.get("text")
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def statements_of(journal: Journal | None, kind: str, resource: str,
                  live_doc: Mapping[str, Any] | None, pattern: Owns) -> Statements:
    """What the journal proves; an older journal recorded only the policy's text before
    crossgrant, so there every statement of crossgrant's Sid pattern added since is
    crossgrant's, and one that was already there was taken over."""
    record = journal.original(policy_key(kind, resource)) if journal is not None else None
    if record is None:
        return Statements()
    original = _original_doc(record)
    before = by_sid(original, pattern)
    if "created_sids" in record:
        kept = record.get("adopted") or {}
        adopted = {str(sid): st for sid, st in kept.items()} if isinstance(kept, dict) else {}
        return Statements(frozenset(str(s) for s in record["created_sids"]),
                          frozenset(adopted), adopted)
    live = set(by_sid(live_doc, pattern))
    return Statements(frozenset(live - set(before)), frozenset(live & set(before)),
                      {sid: before[sid] for sid in live & set(before)})


__all__ = ["GRANT_TAG", "NotOwnedError", "Owner", "Statements", "adopt_hint",
           "function_owner", "inline_owner", "role_owner", "same_role", "stackset_owner",
           "statements_of"]

"""What a diagnosis says: the causes found, their fixes, and where each fix goes.

These are plain immutable values so that a diagnosis can be printed, turned into JSON
(`crossgrant.serial.to_json`) and its fixes applied (`apply_fix`) without the solver that
produced it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from crossgrant.diagnose.messages import ParsedMessage
from crossgrant.serial import OMIT
from crossgrant.world import DocAddress, DocKind


class FixKind(enum.StrEnum):
    """What a fix changes; `apply_fix` knows how to make the document and statement kinds."""

    ADD_STATEMENT = "add-statement"
    REPLACE_STATEMENT = "replace-statement"
    REMOVE_STATEMENT = "remove-statement"
    ATTACH_POLICY = "attach-policy"
    CHANGE_SETTING = "change-setting"
    CHANGE_REQUEST = "change-request"
    ADVICE = "advice"


@dataclass(frozen=True, slots=True)
class DocRef:
    """Where a fix goes, as `--json` shows it, and the document's `world` address.

    kind: inline | managed | trust | bucket | table | stream | key | scp | rcp (documents,
    with an `address`), role | bucket (settings), message | session | vpc_endpoint (named
    only by description). `name` is the role or user name (inline, trust, role), the policy
    ARN (managed), the bucket name, the table or key ARN, or the SCP/RCP name. `account`
    is None when only the message is known.
    """

    kind: str
    label: str
    account: str | None = None
    name: str | None = None
    policy_name: str | None = None
    exists: bool = True
    address: DocAddress | None = field(default=None, metadata=OMIT)


def doc_ref(address: DocAddress, *, exists: bool = True) -> DocRef:
    """The reference to the document at `address`, named as `--json` has always named it."""
    kind = address.kind
    name: str | None = address.owner
    if kind in (DocKind.INLINE, DocKind.TRUST):
        name = address.owner.rsplit("/", 1)[-1]  # the role or user name
    elif kind in (DocKind.MANAGED, DocKind.BOUNDARY, DocKind.SCP, DocKind.RCP):
        name = address.name
    elif kind is DocKind.STREAM:
        name = address.owner.split("/stream/", 1)[0]  # the table's ARN
    return DocRef(kind.value, address.label, address.account, name,
                  address.name if kind is DocKind.INLINE else None, exists, address)


@dataclass(frozen=True)
class Fix:
    """One change. Statement fixes carry the exact JSON; `diff` shows it in the document."""

    kind: FixKind
    summary: str
    document: DocRef | None = None
    statement: dict[str, Any] | None = None  # added, or the replacement
    old_statement: dict[str, Any] | None = None  # replaced or removed
    index: int | None = None  # of the replaced or removed statement
    setting: str | None = None  # change-setting: field; attach-policy: the level id
    value: Any = None
    context: dict[str, str] | None = None  # change-request: request context to send
    diff: str = ""

    @property
    def appliable(self) -> bool:
        """Whether `apply_fix` can make it: a change to a document or setting it can find
        (fixes written from a message alone name documents only by description)."""
        if self.kind in (FixKind.ADVICE, FixKind.CHANGE_REQUEST) or self.document is None:
            return False
        return self.document.account is not None or self.document.kind in ("scp", "rcp")


@dataclass(frozen=True)
class Cause:
    id: str
    title: str
    explanation: str
    document: str | None = None  # the label of the document at fault
    fixes: tuple[Fix, ...] = ()  # all needed, in order
    alternatives: tuple[Fix, ...] = ()  # other ways out, not applied in the proof


@dataclass(frozen=True)
class RequestInfo:
    principal: str
    action: str
    resource: str
    context: dict[str, str]


@dataclass(frozen=True)
class Diagnosis:
    message: ParsedMessage
    meaning: str  # what the message says, for a cross-account setup
    checklist: tuple[str, ...]  # documents to read, in order
    causes: tuple[Cause, ...] = ()
    request: RequestInfo | None = None
    decision: str | None = None  # the state's answer before any fix, explained
    effect: str | None = None
    agrees: bool | None = None  # the state's answer matches the message's reason
    proven: bool | None = None  # the fixes, applied to the state, make it allowed
    notes: tuple[str, ...] = ()

    @property
    def recognised(self) -> bool:
        return self.message.recognised

    @property
    def fixes(self) -> tuple[Fix, ...]:
        return tuple(f for c in self.causes for f in c.fixes)

    def __json__(self) -> dict[str, Any]:
        # `--json` leads with what was read and recognised, then the state's answer.
        return {"message": self.message, "recognised": self.recognised,
                "meaning": self.meaning, "checklist": self.checklist,
                "request": self.request, "effect": self.effect, "decision": self.decision,
                "agrees": self.agrees, "causes": self.causes, "proven": self.proven,
                "notes": self.notes}

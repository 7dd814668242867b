"""What a diff answers: the new accesses, grouped by the statements that explain them.

An answer is one of three verdicts. "nothing new" is only given when every region of the
request space was compared; when some part could not be abstracted soundly the answer is
"cannot prove", with the reasons, even if no difference was seen elsewhere.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Access", "DiffResult", "Group", "StatementLabel", "Unprovable", "Verdict"]


class Unprovable(Exception):
    """Raised where the abstraction cannot be sound; the reason reaches the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Verdict(enum.StrEnum):
    NOTHING_NEW = "nothing-new"
    NEW_ACCESS = "new-access"
    CANNOT_PROVE = "cannot-prove"

    @property
    def exit_code(self) -> int:
        return {"nothing-new": 0, "new-access": 1, "cannot-prove": 2}[self.value]


@dataclass(frozen=True, slots=True, order=True)
class StatementLabel:
    """One statement that decided, named as a reviewer finds it in the document."""

    document: str
    statement: str  # the Sid, or "#index"
    effect: str
    path: str | None = None  # JSON path in its document, e.g. "Statement[2]"

    @property
    def text(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.effect} {self.document} statement {self.statement}{where}"


@dataclass(frozen=True, slots=True)
class Access:
    """One representative request that AFTER allows and BEFORE does not.

    `actions` lists every catalog action the representative stands for; each of
    `contexts` holds values of the condition keys that mattered (None: the key is absent)
    under which the request is new (an empty one: whatever the keys); `assuming` says what was
    assumed about documents outside the comparison (the caller's own policies, say).
    """

    principal: str
    principal_type: str  # aws:PrincipalType's words: AssumedRole, User, Account, Service...
    actions: tuple[str, ...]
    resource: str
    resource_account: str | None
    contexts: tuple[Mapping[str, tuple[str, ...] | None], ...]  # each one is new access
    assuming: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """Accesses explained alike: granted by the same AFTER statements and stopped in
    BEFORE the same way (`before` is BEFORE's decision in words)."""

    granted_by: tuple[StatementLabel, ...]
    stopped_by: tuple[StatementLabel, ...]
    before: str
    accesses: tuple[Access, ...]


@dataclass(frozen=True, slots=True)
class DiffResult:
    verdict: Verdict
    compared: str  # what was compared: "identity policy", "grant", "state", ...
    groups: tuple[Group, ...]
    unproven: tuple[str, ...]  # why "nothing new" could not be proven (deduplicated)
    requests: int  # representative requests evaluated (each under BEFORE and AFTER)

    @property
    def new_accesses(self) -> int:
        return sum(len(g.accesses) for g in self.groups)

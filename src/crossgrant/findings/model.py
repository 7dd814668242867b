"""One findings model for lint, verify, analyze and diff.

Every check crossgrant makes ends in the same few facts: a stable code a team can select,
ignore and discuss by name (`CG101`), how much it matters, what is wrong, how to fix it and
where. Keeping them in one shape is what lets one set of writers (text, JSON, SARIF) serve
every command, so `--format sarif` means the same thing wherever it is offered.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Finding", "Location", "Rule", "Severity"]


class Severity(enum.StrEnum):
    """How much a finding matters.

    The values are the words crossgrant prints (`lint` says "info", and its users filter on
    that word); `sarif_level` is SARIF's name for the same level. `NOTE` is an alias of
    `INFO`, and `Severity("note")` is accepted, so SARIF's vocabulary reads back too.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NOTE = "info"

    @property
    def sarif_level(self) -> str:
        return "note" if self is Severity.INFO else self.value

    @classmethod
    def _missing_(cls, value: object) -> Severity | None:
        return cls.INFO if value == "note" else None


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is, as far as the checker knows.

    `file` and `line` place it in a file on disk (SARIF's physical location, what code
    scanning needs); `document` names the policy document (its label, such as "bucket policy
    of b", or the resource ARN a finding is about) and `path` the JSON path of the element at
    fault inside it ("Statement[1].Action[0]", "" for the whole document); `statement` is
    the statement's Sid, or `#i` without one. Any of them may be unknown (None).
    """

    file: str | None = None
    line: int | None = None
    document: str | None = None
    path: str | None = None
    statement: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: its rule's code, severity, what is wrong, how to fix it, and where.

    `data` holds what a checker knows beyond that (analyze's principals and actions, say);
    it reaches JSON and SARIF `properties` as it is. A string `data["id"]` is the finding's
    stable identity across runs (SARIF `partialFingerprints`).
    """

    code: str
    severity: Severity
    message: str
    fix: str | None
    location: Location = Location()
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def file(self) -> str | None:
        return self.location.file

    @property
    def line(self) -> int | None:
        return self.location.line

    @property
    def document(self) -> str | None:
        return self.location.document

    @property
    def statement(self) -> str | None:
        return self.location.statement

    @property
    def path(self) -> str | None:
        return self.location.path

    def at(self, **where: Any) -> Finding:
        """The same finding with location fields replaced (`f.at(file="policy.json")`)."""
        return replace(self, location=replace(self.location, **where))

    def __json__(self) -> dict[str, Any]:
        # A file and line are printed only when known: most findings are about documents
        # that have no file (a state snapshot, a rendered grant).
        loc = self.location
        out: dict[str, Any] = {}
        if loc.file is not None:
            out["file"] = loc.file
        if loc.line is not None:
            out["line"] = loc.line
        out.update(code=self.code, severity=self.severity, message=self.message, fix=self.fix,
                   document=loc.document, statement=loc.statement, path=loc.path)
        for key, value in self.data.items():
            out.setdefault(key, value)
        return out


@dataclass(frozen=True, slots=True)
class Rule:
    """What a code means, for people (docs, `--help`) and code-scanning tools (SARIF rules).

    `summary` is one line; `help` says how to fix or decide; `description` is a longer
    account (SARIF `fullDescription`, the summary when None); `tags` group rules in SARIF.
    """

    code: str
    name: str
    severity: Severity
    summary: str
    help: str
    description: str | None = None
    tags: tuple[str, ...] = ()

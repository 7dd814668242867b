"""A statement's elements as written, each with its JSON path in the document.

Lint, analyze and diagnose report *where* in a document something is and quote what the
author wrote; the engine's compiled matchers keep neither. These records are built once,
when a statement is compiled, so every consumer reads one parse instead of re-walking the
raw JSON with its own rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crossgrant.errors import PolicyError

__all__ = ["Element", "PrincipalElement", "join_path", "string_values"]


def string_values(value: object, where: str) -> tuple[str, ...]:
    """The value of Action, Resource or a principal type: a string or a non-empty list of
    strings, as the policy grammar allows; `where` names it in the error."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where}: must be a string or a non-empty list of strings")


def join_path(prefix: str, *parts: str) -> str:
    """`join_path("Statement[1]", "Action", "[0]")` -> "Statement[1].Action[0]".

    An empty prefix is a bare statement: its paths start at the element name.
    """
    out = prefix
    for part in parts:
        if part.startswith("["):
            out += part
        else:
            out = f"{out}.{part}" if out else part
    return out


@dataclass(frozen=True, slots=True)
class Element:
    """Action/NotAction or Resource/NotResource of one statement."""

    name: str  # "Action", "NotAction", "Resource" or "NotResource"
    values: tuple[str, ...]  # as written
    path: str  # e.g. "Statement[1].Action"
    negated: bool  # NotAction / NotResource
    listed: bool = False  # written as a JSON list (each value then has its own "[i]" path)

    def located(self) -> tuple[tuple[str, str], ...]:
        """(value, JSON path) of each value, e.g. ("s3:GetObject", "Statement[1].Action[0]")."""
        if not self.listed:
            return tuple((v, self.path) for v in self.values)
        return tuple((v, f"{self.path}[{i}]") for i, v in enumerate(self.values))


@dataclass(frozen=True, slots=True)
class PrincipalElement:
    """Principal/NotPrincipal of one statement, as written.

    A bare `"*"` has `wildcard` set and the one entry ("AWS", "*"): AWS documents the two
    spellings as the same principal (IAM User Guide, "AWS JSON policy elements: Principal",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
    """

    name: str  # "Principal" or "NotPrincipal"
    negated: bool
    wildcard: bool  # written as the bare string "*"
    entries: tuple[tuple[str, str], ...]  # (type, value) in order: AWS/Service/Federated/...
    path: str  # e.g. "Statement[0].Principal"
    raw: object = field(repr=False, compare=False)

    def located(self) -> tuple[tuple[str, str, str], ...]:
        """(type, value, JSON path) of each entry, e.g. ("AWS", "*", "Principal.AWS[0]")."""
        if self.wildcard or not isinstance(self.raw, Mapping):
            return tuple((t, v, self.path) for t, v in self.entries)
        out: list[tuple[str, str, str]] = []
        for ptype, value in self.raw.items():
            where = join_path(self.path, str(ptype))
            if isinstance(value, list):
                out.extend((str(ptype), str(v), f"{where}[{i}]") for i, v in enumerate(value))
            else:
                out.append((str(ptype), str(value), where))
        return tuple(out)

    @staticmethod
    def read(name: str, raw: object, path: str) -> PrincipalElement:
        """The element from a value the engine has validated (a "*" or a typed object)."""
        if raw == "*":
            return PrincipalElement(name, name == "NotPrincipal", True, (("AWS", "*"),), path,
                                    raw)
        entries: list[tuple[str, str]] = []
        if isinstance(raw, Mapping):
            for ptype, value in raw.items():
                if isinstance(value, list):
                    entries += [(ptype, v) for v in value]
                else:
                    entries.append((ptype, value))
        return PrincipalElement(name, name == "NotPrincipal", False, tuple(entries), path, raw)

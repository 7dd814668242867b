"""Merging crossgrant's statements into a resource policy that others also write.

A bucket, table or key policy is shared: other teams' statements stay exactly as they are,
in their order; crossgrant's own statements (recognised by Sid) are replaced as a block
at the end. Merging twice gives the same document, and stripping after merging gives
back the foreign statements byte for byte.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossgrant.errors import RenderError

Document = dict[str, Any]
Owns = Callable[[object], bool]


def _statements(existing: Mapping[str, Any] | None, label: str) -> list[Any]:
    if existing is None:
        return []
    raw = existing.get("Statement", [])
    if isinstance(raw, Mapping):
        return [raw]
    if not isinstance(raw, list):
        raise RenderError(f"{label}: existing policy has a malformed Statement")
    return list(raw)


def merge(existing: Mapping[str, Any] | None, ours: Sequence[Mapping[str, Any]], owns: Owns,
          label: str = "policy") -> Document:
    """`existing` with every statement `owns` recognises replaced by `ours`."""
    foreign = [s for s in _statements(existing, label)
               if not (isinstance(s, Mapping) and owns(s.get("Sid")))]
    clash = {s.get("Sid") for s in foreign if isinstance(s, Mapping)} & {
        s.get("Sid") for s in ours}
    if clash - {None}:
        raise RenderError(f"{label}: a foreign statement already uses Sid "
                          f"{sorted(str(c) for c in clash if c)[0]!r}")
    doc: Document = {k: copy.deepcopy(v) for k, v in (existing or {}).items()
                     if k != "Statement"}
    doc.setdefault("Version", "2012-10-17")
    doc["Statement"] = copy.deepcopy(foreign) + [copy.deepcopy(dict(s)) for s in ours]
    return doc


def strip(existing: Mapping[str, Any] | None, owns: Owns,
          label: str = "policy") -> Document | None:
    """`existing` without crossgrant's statements; None when nothing foreign is left."""
    foreign = [s for s in _statements(existing, label)
               if not (isinstance(s, Mapping) and owns(s.get("Sid")))]
    if not foreign:
        return None
    doc: Document = {k: copy.deepcopy(v) for k, v in (existing or {}).items()
                     if k != "Statement"}
    doc["Statement"] = copy.deepcopy(foreign)
    return doc

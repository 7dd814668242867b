"""The one way crossgrant turns its values into JSON.

Results (decisions, findings, plans, diagnoses) are immutable dataclasses; the JSON a user
sees is their fields, in declaration order, with enums as their values and tuples as lists.
A class adds to or reshapes that only through `__json__` (returning something this module
converts again), so a field added to a dataclass reaches `--json` without a second list of
names to keep in step. Stdlib only: `iam` may use it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["OMIT", "dumps", "to_json"]

# `field(metadata=OMIT)` keeps a field out of the JSON (compiled matchers, raw sources).
OMIT: Mapping[str, Any] = {"json": False}


def to_json(value: Any) -> Any:
    """`value` as plain JSON data: dict, list, str, int, float, bool or None."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    hook = getattr(value, "__json__", None)
    if hook is not None:
        return to_json(hook())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("json", True)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_json(v) for v in value), key=repr)
    raise TypeError(f"cannot turn {type(value).__name__} into JSON")


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """`to_json(value)` as text, keys in the order the values declare them."""
    return json.dumps(to_json(value), indent=indent, ensure_ascii=False)

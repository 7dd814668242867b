"""The one JSON conversion: dataclass fields in order, enums as values, hooks respected."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossgrant.serial import OMIT, dumps, to_json


class Colour(enum.StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    colour: Colour
    inner: Inner
    hidden: Any = field(default=None, metadata=OMIT)
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Hooked:
    value: int

    def __json__(self) -> dict[str, Any]:
        return {"value": self.value, "double": self.value * 2}


def test_dataclass_fields_in_order_enums_as_values_tuples_as_lists() -> None:
    out = to_json(Outer(Colour.RED, Inner("a", ("x", "y")), hidden=object(), extra={"k": 1}))
    assert out == {"colour": "red", "inner": {"name": "a", "tags": ["x", "y"]},
                   "extra": {"k": 1}}
    assert list(out) == ["colour", "inner", "extra"]


def test_hook_reshapes_and_is_converted_again() -> None:
    assert to_json([Hooked(2)]) == [{"value": 2, "double": 4}]


def test_unknown_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="object"):
        to_json(object())


def test_dumps_keeps_declared_order() -> None:
    assert dumps(Inner("n"), indent=None) == '{"name": "n", "tags": []}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@given(json_values)
def test_plain_json_is_unchanged(value: Any) -> None:
    assert to_json(value) == value
    assert json.loads(dumps(value)) == value

"""Which line of a JSON text each value starts on, so a finding can name its line.

Code scanning places a result by file and line; the checkers know a finding's place as a
JSON path ("Statement[1].Action[0]" in a policy, `accounts.<id>.buckets.<name>.policy` in
a state). Python's `json` keeps no positions, so this reads the text once more, with the
decoder's own string scanner, and records where each value starts. It is only ever run on
text `json.loads` has accepted; on anything else it returns what it found so far.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Final

__all__ = ["JsonPath", "json_lines", "line_of", "parse_path"]

JsonPath = tuple[str | int, ...]

_SPACE: Final = re.compile(r"[ \t\n\r]*")
_SCALAR: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|"
                            r"null|NaN|-?Infinity")
_STEP: Final = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def json_lines(text: str, first_line: int = 1) -> dict[JsonPath, int]:
    """The line each value of `text` starts on, by its path (`()` is the whole document;
    object keys are strings, list positions ints); lines count from `first_line`."""
    offsets = _offsets(text)
    breaks = [m.start() for m in re.finditer("\n", text)]
    return {path: bisect.bisect_left(breaks, at) + first_line for path, at in offsets.items()}


def _offsets(text: str) -> dict[JsonPath, int]:
    out: dict[JsonPath, int] = {}
    # Each open container: its path, whether it is an object, and the next list position.
    stack: list[tuple[JsonPath, bool, list[int]]] = []
    i = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    path: JsonPath = ()
    try:
        while True:
            c = text[i]
            out[path] = i
            if c in "{[":
                stack.append((path, c == "{", [0]))
                i = _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
                if text[i] in "}]":
                    stack.pop()
                    i += 1
                elif c == "{":
                    key, i = _key(text, i)
                    path = (*path, key)
                    continue
                else:
                    path = (*path, 0)
                    continue
            elif c == '"':
                _, i = scanstring(text, i + 1)
            else:
                m = _SCALAR.match(text, i)
                if m is None:
                    return out
                i = m.end()
            # After a value: close containers until one continues with a comma.
            while stack:
                i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
                parent, is_object, count = stack[-1]
                if text[i] == ",":
                    i = _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
                    if is_object:
                        key, i = _key(text, i)
                        path = (*parent, key)
                    else:
                        count[0] += 1
                        path = (*parent, count[0])
                    break
                stack.pop()
                i += 1
            else:
                return out
    except (IndexError, ValueError):
        return out


def _key(text: str, i: int) -> tuple[str, int]:
    """The object key starting at `i` (a string), and where its value starts."""
    if text[i] != '"':
        raise ValueError("expected a key")
    key, i = scanstring(text, i + 1)
    i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
    if text[i] != ":":
        raise ValueError("expected ':'")
    return key, _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]


def parse_path(path: str) -> JsonPath:
    """A path as crossgrant writes it ("Statement[1].Condition.StringLike") as steps."""
    return tuple(int(m.group(1)) if m.group(1) is not None else m.group(2)
                 for m in _STEP.finditer(path))


def line_of(lines: Mapping[JsonPath, int], path: JsonPath) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None

"""Reading a grant file: bytes to text, text to plain data that remembers its lines.

The YAML is composed into a node tree (never `yaml.load`), so every value keeps the line it
came from, duplicate keys are caught (PyYAML silently keeps the last), and aliases cannot
expand without bound. Characters that hide or reorder text are refused with the field that
holds them.

String fields take an unquoted value exactly as written: YAML 1.1 would read
`account: 012345670123` as an octal integer and `external_id: 0x1F` as 31, so an unquoted
scalar that YAML typed is kept as `Plain` (its text and YAML's value) and the schema picks
the one the field needs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from crossgrant.errors import SpecError

__all__ = ["MAX_BYTES", "Document", "Loc", "Plain", "check_size", "describe", "format_loc",
           "one_line", "read_text", "short"]

MAX_BYTES = 256 * 1024
"""A grant file is a page of YAML; anything larger is a mistake or an attack."""

MAX_NODES = 10_000  # after alias expansion: a "billion laughs" stops here
MAX_DEPTH = 32

Loc = tuple[str | int, ...]


def read_text(path: str | Path) -> str:
    """The file's text; the size cap is enforced before reading it all."""
    name = str(path)
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(one_line(f"{name}: no such file"), file=name) from None
    except IsADirectoryError:
        raise SpecError(one_line(f"{name}: is a directory, not a grant file"),
                        file=name) from None
    except OSError as exc:
        raise SpecError(one_line(f"{name}: cannot read: {exc.strerror or exc}"),
                        file=name) from None
    check_size(len(data), name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SpecError(one_line(f"{name}:{line}: (file): not UTF-8 text (byte "
                                 f"0x{data[exc.start]:02x} at offset {exc.start})"),
                        file=name, line=line, field="(file)") from None
    return text


def check_size(size: int, path: str) -> None:
    if size > MAX_BYTES:
        raise SpecError(one_line(f"{path}: file is {size} bytes; a grant file is at most "
                                 f"{MAX_BYTES} bytes (256 KiB)"), file=path)


def one_line(message: str) -> str:
    """Messages quote user text and YAML's own wording; neither may break the line."""
    if message.isprintable():
        return message
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


@dataclass(frozen=True, slots=True)
class Plain:
    """An unquoted YAML scalar that YAML typed as a number, boolean or date.

    Kept with its source text so string fields get the characters the user wrote and
    number/boolean fields get YAML's value (see the module docstring)."""

    raw: str
    value: object

    def __repr__(self) -> str:
        return self.raw


_TAG = "tag:yaml.org,2002:"
_TYPED = {_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "timestamp"}
_SCALAR_TAGS = {_TAG + "str", _TAG + "null", *_TYPED}
_KEY_CLASH_HINT = "quote keys or remove the duplicate"


def _bad_char(ch: str) -> bool:
    """Characters no grant needs and that hide or reorder text: C0/C1 controls, format
    characters (bidi overrides, zero-width), surrogates, Unicode line/paragraph separators."""
    return unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _describe_char(ch: str) -> str:
    return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'control character')})"


class Document:
    """The text, its node tree, and where each location's value sits (line numbers)."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.spans: list[tuple[int, int, Loc, bool]] = []  # (start, end, loc, is_key)
        self._nodes = 0
        self._constructor = yaml.constructor.SafeConstructor()

    # -- errors

    def fail(self, loc: Loc, message: str, *, line_of: Loc | None = None) -> NoReturn:
        """Fail naming `loc`, at the line of `line_of` when the culprit is elsewhere (a
        missing section is reported where the key that requires it sits)."""
        line = self.line_of(loc if line_of is None else line_of)
        self.fail_at(line, format_loc(loc) if loc else "(document)", message)

    def fail_at(self, line: int, field: str, message: str) -> NoReturn:
        text = one_line(f"{self.path}:{line}: {field}: {message}")
        raise SpecError(text, file=self.path, line=line, field=field)

    def line_of(self, loc: Loc) -> int:
        """The line of `loc`, or of its nearest recorded ancestor (a missing key's mapping)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    # -- reading

    def read(self) -> dict[str, Any]:
        """Compose, convert and check the document is a mapping."""
        bad = next((i for i, ch in enumerate(self.text)
                    if _bad_char(ch) and ch not in "\t\n\r"), None)
        if bad is not None:
            self._fail_bad_char(bad)
        try:
            node = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            column = f" (column {mark.column + 1})" if mark is not None else ""
            self.fail_at(line, "YAML syntax", f"{problem}{column}")
        except yaml.YAMLError as exc:
            self.fail_at(1, "YAML syntax", str(exc).replace("\n", " "))
        except RecursionError:
            self.fail_at(1, "YAML syntax", "nested too deeply")
        if node is None:
            self.fail_at(1, "(document)", "the file is empty; expected a mapping with name, "
                                          "source, target, mode and access")
        self.lines[()] = node.start_mark.line + 1
        data = self._convert(node, (), 0)
        if not isinstance(data, dict):
            self.fail((), f"expected a mapping with name, source, target, mode and access, "
                          f"got {describe(data)}")
        return data

    def _fail_bad_char(self, index: int) -> NoReturn:
        """Name the field holding a hostile character: compose a copy with the character
        blanked out, then find the key or scalar value whose source span covers it."""
        ch = self.text[index]
        line = self.text.count("\n", 0, index) + 1
        field = "(comment)" if "#" in self.text[self.text.rfind("\n", 0, index) + 1:index] \
            else "(document)"
        clean = "".join(" " if _bad_char(c) and c not in "\t\n\r" else c for c in self.text)
        probe = Document(clean, self.path)
        try:
            node = yaml.compose(clean, Loader=yaml.SafeLoader)
            if node is not None:
                probe._convert(node, (), 0)
        except (yaml.YAMLError, SpecError, RecursionError):
            pass
        covering = [(end - start, loc, is_key) for start, end, loc, is_key in probe.spans
                    if start <= index < end]
        where = ""
        if covering:
            _, loc, is_key = min(covering, key=lambda t: t[0])
            field = format_loc(loc[:-1] if is_key else loc) or "(document)"
            where = " (in a key)" if is_key else ""
        self.fail_at(line, field, f"character {_describe_char(ch)} is not allowed in a "
                                  f"grant file{where}")

    def _convert(self, node: yaml.Node, loc: Loc, depth: int) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            self.fail(loc, f"more than {MAX_NODES} YAML values (aliases expanding?); "
                           f"a grant file is small")
        if depth > MAX_DEPTH:
            self.fail(loc[:3], f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                self.fail(loc, f"unsupported YAML tag {node.tag!r}")
            return self._mapping(node, loc, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                self.fail(loc, f"unsupported YAML tag {node.tag!r}")
            items = []
            for i, item in enumerate(node.value):
                self.lines.setdefault((*loc, i), item.start_mark.line + 1)
                items.append(self._convert(item, (*loc, i), depth + 1))
            return items
        assert isinstance(node, yaml.ScalarNode)
        self.spans.append((node.start_mark.index, node.end_mark.index, loc, False))
        return self._scalar(node, loc)

    def _mapping(self, node: yaml.MappingNode, loc: Loc, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _TAG + "merge":
                self.fail_at(line, format_loc(loc) or "(document)",
                             "YAML merge keys (<<) are not supported; write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail_at(line, format_loc(loc) or "(document)",
                             "a key must be a plain name, not a list or mapping")
            key = key_node.value
            where = (*loc, key)
            if any(_bad_char(c) for c in key):
                self.fail_at(line, format_loc(loc) or "(document)",
                             "a key contains a control or invisible character")
            if key in first_line:
                self.fail_at(line, format_loc(where),
                             f"duplicate key (first at line {first_line[key]}); "
                             f"{_KEY_CLASH_HINT}")
            first_line[key] = line
            self.lines[where] = line
            self.spans.append((key_node.start_mark.index, key_node.end_mark.index, where, True))
            out[key] = self._convert(value_node, where, depth + 1)
        return out

    def _scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.fail(loc, f"unsupported YAML tag {node.tag!r}")
        if node.tag == _TAG + "null":
            return None
        if node.tag == _TAG + "str":
            text = node.value
            bad = next((c for c in text if _bad_char(c)), None)
            if bad is not None:
                self.fail(loc, f"character {_describe_char(bad)} is not allowed in a value")
            return text
        if node.tag == _TAG + "timestamp":
            return Plain(node.value, node.value)
        try:
            value = self._constructor.construct_object(node)
        except (ValueError, KeyError, TypeError, OverflowError, yaml.YAMLError):
            self.fail(loc, f"cannot read {node.value!r} as {node.tag.removeprefix(_TAG)}")
        return Plain(node.value, value)



def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Plain):
        if isinstance(value.value, bool):
            return f"a boolean ({value.raw})"
        if isinstance(value.value, int | float):
            return f"a number ({value.raw})"
        return f"{value.raw!r}"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string {short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")

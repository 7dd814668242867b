"""Read `grant.yaml` into a `Grant`, or fail with one line naming the file, line and field.

Three passes, each owning one kind of mistake:

1. YAML: composed into a node tree (never `yaml.load`), so every value keeps the line it
   came from, duplicate keys are caught (PyYAML silently keeps the last), and aliases
   cannot expand without bound.
2. Shape and per-field rules: strict pydantic models (`extra="forbid"`), whose error
   locations are mapped back to lines.
3. Rules that span fields (cross-account, mode, role chaining, KMS key owner, duplicates),
   checked on the validated models with explicit locations.

String fields take an unquoted value exactly as written: YAML 1.1 would read
`account: 012345670123` as an octal integer and `external_id: 0x1F` as 31, so the loader
keeps the original characters instead of YAML's guess. Numbers must be plain decimals.

Loading writes nothing anywhere.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import ErrorDetails

from crossgrant.errors import ArnError, SpecError
from crossgrant.iam.arn import parse_arn
from crossgrant.spec.model import (
    Grant,
    Mode,
    Options,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
)

__all__ = ["MAX_BYTES", "load_grant", "parse_grant"]

MAX_BYTES = 256 * 1024
"""A grant file is a page of YAML; anything larger is a mistake or an attack."""

_MAX_NODES = 10_000  # after alias expansion: a "billion laughs" stops here
_MAX_DEPTH = 32
_MAX_SESSION = 43_200
_CHAINED_SESSION = 3_600
_MAX_TAGS = 50

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------- entry points

def load_grant(path: str | Path) -> Grant:
    """Read and validate a grant file; the size cap is enforced before reading it all."""
    name = str(path)
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(_one_line(f"{name}: no such file"), file=name) from None
    except IsADirectoryError:
        raise SpecError(_one_line(f"{name}: is a directory, not a grant file"),
                        file=name) from None
    except OSError as exc:
        raise SpecError(_one_line(f"{name}: cannot read: {exc.strerror or exc}"),
                        file=name) from None
    _check_size(len(data), name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SpecError(_one_line(f"{name}:{line}: (file): not UTF-8 text (byte "
                                  f"0x{data[exc.start]:02x} at offset {exc.start})"),
                        file=name, line=line, field="(file)") from None
    return parse_grant(text, name)


def parse_grant(text: str, path: str = "grant.yaml") -> Grant:
    """Validate grant text; `path` only names the source in messages and in `Grant.path`."""
    if len(text) > MAX_BYTES:  # cheap bound before encoding a huge string
        _check_size(len(text), path)
    _check_size(len(text.encode("utf-8", "surrogatepass")), path)
    if text.startswith("\ufeff"):
        text = text[1:]
    doc = _Document(text, path)
    data = doc.read()
    try:
        model = _GrantIn.model_validate(data)
    except ValidationError as exc:
        doc.fail_validation(exc)
    return _Checker(doc, model).grant()


def _check_size(size: int, path: str) -> None:
    if size > MAX_BYTES:
        raise SpecError(_one_line(f"{path}: file is {size} bytes; a grant file is at most "
                                  f"{MAX_BYTES} bytes (256 KiB)"), file=path)


def _one_line(message: str) -> str:
    """Messages quote user text and YAML's own wording; neither may break the line."""
    if message.isprintable():
        return message
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


# --------------------------------------------------------------------------- YAML -> data

@dataclass(frozen=True, slots=True)
class _Plain:
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


class _Document:
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
        self.fail_at(line, _format_loc(loc) if loc else "(document)", message)

    def fail_at(self, line: int, field: str, message: str) -> NoReturn:
        text = _one_line(f"{self.path}:{line}: {field}: {message}")
        raise SpecError(text, file=self.path, line=line, field=field)

    def line_of(self, loc: Loc) -> int:
        """The line of `loc`, or of its nearest recorded ancestor (a missing key's mapping)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def fail_validation(self, exc: ValidationError) -> NoReturn:
        errors = exc.errors(include_url=False)
        misspelt = {_clean_loc(e["loc"])[0][:-1] for e in errors
                    if e["type"] == "extra_forbidden"}
        # a key missing beside an unknown key is most likely that key misspelt: say so
        errors = [e for e in errors if e["type"] != "missing"
                  or _clean_loc(e["loc"])[0][:-1] not in misspelt] or errors
        first = min(errors, key=lambda e: self.line_of(_clean_loc(e["loc"])[0]))
        loc, on_key = _clean_loc(first["loc"])
        self.fail(loc, _message(first, loc, on_key))

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
                          f"got {_describe(data)}")
        return data

    def _fail_bad_char(self, index: int) -> NoReturn:
        """Name the field holding a hostile character: compose a copy with the character
        blanked out, then find the key or scalar value whose source span covers it."""
        ch = self.text[index]
        line = self.text.count("\n", 0, index) + 1
        field = "(comment)" if "#" in self.text[self.text.rfind("\n", 0, index) + 1:index] \
            else "(document)"
        clean = "".join(" " if _bad_char(c) and c not in "\t\n\r" else c for c in self.text)
        probe = _Document(clean, self.path)
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
            field = _format_loc(loc[:-1] if is_key else loc) or "(document)"
            where = " (in a key)" if is_key else ""
        self.fail_at(line, field, f"character {_describe_char(ch)} is not allowed in a "
                                  f"grant file{where}")

    def _convert(self, node: yaml.Node, loc: Loc, depth: int) -> Any:
        self._nodes += 1
        if self._nodes > _MAX_NODES:
            self.fail(loc, f"more than {_MAX_NODES} YAML values (aliases expanding?); "
                           f"a grant file is small")
        if depth > _MAX_DEPTH:
            self.fail(loc[:3], f"nested deeper than {_MAX_DEPTH} levels")
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
                self.fail_at(line, _format_loc(loc) or "(document)",
                             "YAML merge keys (<<) are not supported; write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail_at(line, _format_loc(loc) or "(document)",
                             "a key must be a plain name, not a list or mapping")
            key = key_node.value
            where = (*loc, key)
            if any(_bad_char(c) for c in key):
                self.fail_at(line, _format_loc(loc) or "(document)",
                             "a key contains a control or invisible character")
            if key in first_line:
                self.fail_at(line, _format_loc(where),
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
            return _Plain(node.value, node.value)
        try:
            value = self._constructor.construct_object(node)
        except (ValueError, KeyError, TypeError, OverflowError, yaml.YAMLError):
            self.fail(loc, f"cannot read {node.value!r} as {node.tag.removeprefix(_TAG)}")
        return _Plain(node.value, value)


# --------------------------------------------------------------------------- error messages

def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _clean_loc(raw: tuple[int | str, ...]) -> tuple[Loc, bool]:
    """pydantic's loc without its markers; True when the error is about a mapping key."""
    loc = tuple(p for p in raw if p != "[key]")
    return loc, len(loc) != len(raw)


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, _Plain):
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
        return f"a string {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(err: ErrorDetails, loc: Loc, on_key: bool) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "required key is missing"
    if kind in _EXPECTED:
        what = _EXPECTED[kind]
        return f"expected {what}, got {_describe(err.get('input'))}"
    ctx = err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return f"{err['msg']} (a mapping key)" if on_key else err["msg"]


def _fields_at(loc: Loc) -> dict[str, type | None]:
    """The fields of the model at `loc`, each with the model it holds (if any)."""
    model: type[BaseModel] | None = _GrantIn
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _inner_model(info.annotation) if info is not None else None
    if model is None:
        return {}
    return {name: _inner_model(f.annotation) for name, f in model.model_fields.items()}


def _inner_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, types.UnionType, typing.Union):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _homes(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str]]:
    for name, info in model.model_fields.items():
        yield name, prefix
        inner = _inner_model(info.annotation)
        if inner is not None:
            sep = "[]" if typing.get_origin(info.annotation) is list else ""
            yield from _homes(inner, f"{prefix}.{name}{sep}" if prefix else name + sep)


def _unknown_key(loc: Loc) -> str:
    key = str(loc[-1])
    here = sorted(_fields_at(loc[:-1]))
    close = difflib.get_close_matches(key, here, n=1, cutoff=0.6)
    if close:
        return f"unknown key {_short(key)} (did you mean {close[0]!r}?)"
    homes = sorted({home for name, home in _homes(_GrantIn, "") if name == key})
    if homes:
        where = " or ".join(repr(h) if h else "the top level" for h in homes)
        return f"unknown key {_short(key)} here; it belongs under {where}"
    return f"unknown key {_short(key)} (expected {', '.join(here)})"


# --------------------------------------------------------------------------- field rules

def _text(value: object) -> object:
    """String fields: an unquoted number/boolean/date stays the text the user wrote."""
    return value.raw if isinstance(value, _Plain) else value


def _number(value: object) -> object:
    if isinstance(value, _Plain):
        if isinstance(value.value, int) and not isinstance(value.value, bool) \
                and not re.fullmatch(r"0|[1-9][0-9]*", value.raw):
            raise ValueError(f"write {value.raw!r} as a plain decimal number "
                             f"(YAML reads it as {value.value})")
        return value.value
    return value


def _flag(value: object) -> object:
    return value.value if isinstance(value, _Plain) else value


def _rule(pattern: str, explain: str, flags: int = 0) -> Callable[[str], str]:
    compiled = re.compile(pattern, flags)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{_short(value)} is not valid: {explain}")
        return value
    return check


def _one_of(kind: str, allowed: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {kind} {_short(value)} "
                             f"(expected {', '.join(allowed)}){hint}")
        return value
    return check


def _bucket_name(value: str) -> str:
    """The S3 general purpose bucket naming rules, each with its own message."""
    problem = None
    if not 3 <= len(value) <= 63:
        problem = f"is {len(value)} characters; bucket names have 3 to 63"
    elif not re.fullmatch(r"[a-z0-9.-]+", value):
        problem = "may hold only lowercase letters, digits, '.' and '-'"
    elif not (value[0].isalnum() and value[-1].isalnum()):
        problem = "must begin and end with a letter or digit"
    elif ".." in value:
        problem = "must not contain two adjacent periods"
    elif re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        problem = "must not be formatted as an IP address"
    else:
        for start in ("xn--", "sthree-", "amzn-s3-demo-"):
            if value.startswith(start):
                problem = f"must not begin with {start!r} (reserved by S3)"
        for end, what in (("-s3alias", "access point aliases"),
                          ("--ol-s3", "Object Lambda access point aliases"),
                          (".mrap", "multi-region access points"),
                          ("--x-s3", "directory buckets, which crossgrant does not support"),
                          ("--table-s3", "S3 table buckets")):
            if value.endswith(end):
                problem = f"must not end with {end!r} (reserved for {what})"
    if problem:
        raise ValueError(f"bucket name {_short(value)} {problem}")
    return value


def _prefix(value: str) -> str:
    if value.startswith("/"):
        problem = "must not begin with '/' (S3 keys have no leading slash)"
    elif "*" in value or "?" in value:
        problem = "must not contain '*' or '?': they are wildcards in policy ARNs"
    elif "${" in value:
        problem = "must not contain '${': it is a policy variable in policy ARNs"
    elif value and not value.endswith("/"):
        problem = f"must end with '/' (write {value + '/'!r}), or be \"\" for the whole bucket"
    elif len(value.encode()) > 1024:
        problem = "is longer than an S3 key (1024 bytes)"
    else:
        return value
    raise ValueError(f"prefix {_short(value)} {problem}")


def _session(value: int) -> int:
    if not 900 <= value <= _MAX_SESSION:
        raise ValueError(f"{value} is out of range: a role session lasts 900 to "
                         f"{_MAX_SESSION} seconds")
    return value


def _tag_key(value: str) -> str:
    if not 1 <= len(value) <= 128:
        raise ValueError(f"tag key {_short(value)} must have 1 to 128 characters")
    if value.lower().startswith("aws:"):
        raise ValueError(f"tag key {_short(value)} must not begin with 'aws:' (reserved)")
    if not re.fullmatch(r"[\w .:/=+@-]+", value):
        raise ValueError(f"tag key {_short(value)} may hold letters, digits, spaces and "
                         f"_ . : / = + - @ only")
    return value


def _tag_value(value: str) -> str:
    if len(value) > 256:
        raise ValueError("a tag value has at most 256 characters")
    if not re.fullmatch(r"[\w .:/=+@-]*", value):
        raise ValueError(f"tag value {_short(value)} may hold letters, digits, spaces and "
                         f"_ . : / = + - @ only")
    return value


_Str = Annotated[str, BeforeValidator(_text)]
_Int = Annotated[int, BeforeValidator(_number)]
_Bool = Annotated[bool, BeforeValidator(_flag)]

_GrantName = Annotated[_Str, AfterValidator(_rule(
    r"[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?",
    "1 to 40 of a-z, 0-9 and '-', starting with a letter and not ending with '-' "
    "(it becomes part of resource names)"))]
_AccountId = Annotated[_Str, AfterValidator(_rule(
    r"\d{12}", "an AWS account id is exactly 12 digits"))]
_Region = Annotated[_Str, AfterValidator(_rule(
    r"[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|northwest"
    r"|southeast|southwest)-[1-9][0-9]?",
    "expected a region code such as eu-west-1 or us-gov-west-1"))]
_FunctionName = Annotated[_Str, AfterValidator(_rule(
    r"[A-Za-z0-9_-]{1,64}", "a Lambda function name has 1 to 64 of A-Z, a-z, 0-9, '-' and "
    "'_' (give the name, not the ARN)"))]
_RoleName = Annotated[_Str, AfterValidator(_rule(
    r"[\w+=,.@-]{1,64}", "an IAM role name has 1 to 64 of A-Z, a-z, 0-9 and + = , . @ _ - "
    "(give the name, not the ARN or path)", re.ASCII))]
_ExternalId = Annotated[_Str, AfterValidator(_rule(
    r"[\w+=,.@:/-]{2,1224}", "an external id has 2 to 1224 of A-Z, a-z, 0-9 and "
    "+ = , . @ : / _ -", re.ASCII))]
_BucketName = Annotated[_Str, AfterValidator(_bucket_name)]
_Prefix = Annotated[_Str, AfterValidator(_prefix)]
_TableName = Annotated[_Str, AfterValidator(_rule(
    r"[A-Za-z0-9_.-]{3,255}", "a DynamoDB table name has 3 to 255 of A-Z, a-z, 0-9, "
    "'_', '-' and '.' (give the name, not the ARN)"))]
_IndexName = Annotated[_Str, AfterValidator(_rule(
    r"\*|[A-Za-z0-9_.-]{3,255}", "an index name has 3 to 255 of A-Z, a-z, 0-9, '_', '-' and "
    "'.', or is '*' for every index"))]
_OrgId = Annotated[_Str, AfterValidator(_rule(
    r"o-[a-z0-9]{10,32}", "an organization id is 'o-' and 10 to 32 of a-z, 0-9"))]
_ModeName = Annotated[_Str, AfterValidator(_one_of("mode", tuple(m.value for m in Mode)))]
_S3LevelName = Annotated[_Str, AfterValidator(_one_of(
    "level", tuple(level.value for level in S3Level)))]
_TableLevelName = Annotated[_Str, AfterValidator(_one_of(
    "level", tuple(level.value for level in TableLevel)))]
_Session = Annotated[_Int, AfterValidator(_session)]
_TagKey = Annotated[_Str, AfterValidator(_tag_key)]
_TagValue = Annotated[_Str, AfterValidator(_tag_value)]


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _SourceIn(_In):
    account: _AccountId
    region: _Region
    function: _FunctionName
    execution_role: _RoleName | None = None
    existing_role: _Bool = False


class _TargetIn(_In):
    account: _AccountId
    region: _Region


class _RoleIn(_In):
    name: _RoleName | None = None
    external_id: _ExternalId | None = None
    session_duration: _Session | None = None


class _S3In(_In):
    bucket: _BucketName
    prefixes: list[_Prefix] = Field(default_factory=lambda: [""])
    levels: list[_S3LevelName]
    kms_key: _Str | None = None


class _TableIn(_In):
    table: _TableName
    levels: list[_TableLevelName]
    indexes: list[_IndexName] = Field(default_factory=list)
    streams: _Bool = False


class _AccessIn(_In):
    s3: list[_S3In] = Field(default_factory=list)
    dynamodb: list[_TableIn] = Field(default_factory=list)


class _OptionsIn(_In):
    tls_only: _Bool = True
    organization_id: _OrgId | None = None
    trust_whole_account: _Bool = False
    tags: dict[_TagKey, _TagValue] = Field(default_factory=dict)


class _GrantIn(_In):
    name: _GrantName
    source: _SourceIn
    target: _TargetIn
    mode: _ModeName
    role: _RoleIn | None = None
    access: _AccessIn
    options: _OptionsIn = Field(default_factory=_OptionsIn)


# --------------------------------------------------------------------------- cross-field rules

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY_ID = re.compile(rf"{_UUID}|mrk-[0-9a-f]{{32}}")


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if "-gov-" in region:
        return "aws-us-gov"
    iso = re.match(r"[a-z]{2}-(iso[a-z]?)-", region)
    if iso:
        return {"iso": "aws-iso", "isob": "aws-iso-b", "isoe": "aws-iso-e",
                "isof": "aws-iso-f"}.get(iso.group(1), "aws-" + iso.group(1))
    return "aws"


class _Checker:
    """Rules that need more than one field; each failure names the field to change."""

    def __init__(self, doc: _Document, model: _GrantIn) -> None:
        self.doc = doc
        self.m = model

    def grant(self) -> Grant:
        m = self.m
        mode = Mode(m.mode)
        self._accounts()
        role = self._role(mode)
        s3 = tuple(self._s3(i, entry) for i, entry in enumerate(m.access.s3))
        tables = tuple(self._table(i, entry) for i, entry in enumerate(m.access.dynamodb))
        if not s3 and not tables:
            self.doc.fail(("access",), "no access entries: list at least one bucket under "
                                       "access.s3 or table under access.dynamodb")
        self._duplicates("s3", "bucket", [e.bucket for e in s3])
        self._duplicates("dynamodb", "table", [e.table for e in tables])
        if len(m.options.tags) > _MAX_TAGS:
            self.doc.fail(("options", "tags"),
                          f"{len(m.options.tags)} tags; AWS allows at most {_MAX_TAGS}")
        return Grant(
            name=m.name,
            source=Source(account=m.source.account, region=m.source.region,
                          function=m.source.function,
                          execution_role=self._execution_role(),
                          existing_role=m.source.existing_role),
            target=Target(account=m.target.account, region=m.target.region, **role),
            mode=mode,
            s3=s3,
            dynamodb=tables,
            options=Options(tls_only=m.options.tls_only,
                            organization_id=m.options.organization_id,
                            trust_whole_account=m.options.trust_whole_account,
                            tags=tuple(m.options.tags.items())),
            path=self.doc.path,
        )

    def _accounts(self) -> None:
        src, dst = self.m.source, self.m.target
        if src.account == dst.account:
            self.doc.fail(("target", "account"),
                          f"same account as source.account ({src.account}): not "
                          f"cross-account; a same-account grant needs no crossgrant")
        for field_name, region in (("source", src.region), ("target", dst.region)):
            if _partition(region) != "aws":
                self.doc.fail((field_name, "region"),
                              f"{region} is in partition {_partition(region)}; crossgrant "
                              f"renders ARNs for the aws partition only so far")
        if _partition(src.region) != _partition(dst.region):
            self.doc.fail(("target", "region"),
                          f"{dst.region} is in partition {_partition(dst.region)} but "
                          f"source.region {src.region} is in {_partition(src.region)}; "
                          f"access cannot cross partitions")

    def _execution_role(self) -> str:
        src = self.m.source
        if src.execution_role is not None:
            return src.execution_role
        default = f"{src.function}-exec"
        if len(default) > 64:
            self.doc.fail(("source", "function"),
                          f"the default execution_role {default!r} is longer than 64 "
                          f"characters; set source.execution_role")
        return default

    def _role(self, mode: Mode) -> dict[str, Any]:
        role = self.m.role
        if mode is Mode.RESOURCE_POLICY:
            if role is not None:
                self.doc.fail(("role",), "resource-policy mode assumes no role: remove "
                                         "'role' (or set mode: assume-role)")
            return {}
        if role is None or role.name is None:
            loc: Loc = ("role", "name") if role is not None else ("role",)
            self.doc.fail(loc, f"assume-role mode needs role.name, the role to create in "
                               f"the target account (e.g. {self.m.name}-target)",
                          line_of=loc if role is not None else ("mode",))
        out: dict[str, Any] = {"role_name": role.name, "external_id": role.external_id}
        if role.session_duration is not None:
            if role.session_duration > _CHAINED_SESSION:
                self.doc.fail(("role", "session_duration"),
                              f"{role.session_duration} exceeds {_CHAINED_SESSION}: a Lambda "
                              f"function already runs as a role session, so assuming the "
                              f"target role is role chaining, which AWS caps at one hour")
            out["session_duration"] = role.session_duration
        return out

    def _s3(self, i: int, e: _S3In) -> S3Access:
        loc: Loc = ("access", "s3", i)
        if not e.prefixes:
            self.doc.fail((*loc, "prefixes"), 'empty list; write [""] for the whole bucket '
                                              "or leave prefixes out")
        for j, prefix in enumerate(e.prefixes):
            for k, other in enumerate(e.prefixes[:j]):
                if prefix.startswith(other):
                    self.doc.fail((*loc, "prefixes", j),
                                  f"{prefix!r} is already covered by {other!r} "
                                  f"(prefixes[{k}])")
                if other.startswith(prefix):
                    self.doc.fail((*loc, "prefixes", j),
                                  f"{prefix!r} covers {other!r} (prefixes[{k}]); keep one")
        levels = self._levels(loc, e.levels)
        kms = self._kms(loc, e.kms_key) if e.kms_key is not None else None
        return S3Access(bucket=e.bucket, prefixes=tuple(e.prefixes),
                        levels=frozenset(S3Level(v) for v in levels), kms_key_arn=kms)

    def _table(self, i: int, e: _TableIn) -> TableAccess:
        loc: Loc = ("access", "dynamodb", i)
        levels = self._levels(loc, e.levels)
        for j, index in enumerate(e.indexes):
            if index in e.indexes[:j]:
                self.doc.fail((*loc, "indexes", j), f"index {index!r} is listed twice")
            if index == "*" and len(e.indexes) > 1:
                self.doc.fail((*loc, "indexes", j),
                              "'*' already means every index; list it alone")
        if e.indexes and TableLevel.READ.value not in levels:
            self.doc.fail((*loc, "indexes"),
                          "indexes can only be read (Query, Scan); add level 'read' or "
                          "remove indexes")
        return TableAccess(table=e.table, levels=frozenset(TableLevel(v) for v in levels),
                           indexes=tuple(e.indexes), streams=e.streams)

    def _levels(self, loc: Loc, levels: list[str]) -> list[str]:
        if not levels:
            self.doc.fail((*loc, "levels"), "empty list; name at least one level")
        for j, level in enumerate(levels):
            if level in levels[:j]:
                self.doc.fail((*loc, "levels", j), f"level {level!r} is listed twice")
        return levels

    def _kms(self, loc: Loc, key: str) -> str:
        where = (*loc, "kms_key")
        region, account = self.m.target.region, self.m.target.account
        partition = _partition(region)
        shape = f"arn:{partition}:kms:{region}:{account}:key/<key-id>"
        if key.startswith("alias/aws/") or re.fullmatch(r"arn:[\w-]+:kms:[^:]*:[^:]*:alias/aws/.*",
                                                       key):
            self.doc.fail(where, f"{key!r} is an AWS managed key; AWS managed keys cannot be "
                                 f"shared cross-account (their key policy cannot be changed). "
                                 f"Encrypt the bucket with a customer managed key and give "
                                 f"its ARN ({shape})")
        if key.startswith("alias/") or ":alias/" in key:
            self.doc.fail(where, f"{key!r} is an alias; policies match the key itself, so "
                                 f"give the key ARN ({shape})")
        if _KEY_ID.fullmatch(key):
            self.doc.fail(where, f"give the full key ARN: "
                                 f"arn:{partition}:kms:{region}:{account}:key/{key}")
        try:
            arn = parse_arn(key)
        except ArnError:
            self.doc.fail(where, f"{_short(key)} is not a KMS key ARN ({shape})")
        if arn.service != "kms" or not arn.resource.startswith("key/") \
                or not _KEY_ID.fullmatch(arn.resource.removeprefix("key/")):
            self.doc.fail(where, f"{_short(key)} is not a KMS key ARN ({shape})")
        if arn.partition != partition:
            self.doc.fail(where, f"the key's partition {arn.partition!r} is not the target's "
                                 f"({partition})")
        if arn.account != account:
            self.doc.fail(where, f"the key is in account {arn.account!r}; it must be the "
                                 f"target account's key ({account}), the one the bucket uses")
        if arn.region != region:
            self.doc.fail(where, f"the key is in region {arn.region!r}; an SSE-KMS key is in "
                                 f"the bucket's region, target.region ({region})")
        return key

    def _duplicates(self, kind: str, what: str, names: list[str]) -> None:
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                first = ("access", kind, seen[name])
                self.doc.fail(("access", kind, i, what),
                              f"{what} {name!r} is already listed at {_format_loc(first)} "
                              f"(line {self.doc.line_of(first)}); merge the two entries")
            seen[name] = i

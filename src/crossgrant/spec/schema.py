"""The shape of `grant.yaml`: strict pydantic models (`extra="forbid"`) whose fields carry
the rules of `spec.rules`, and the mapping of pydantic's errors back to file lines, with
a guess at what a misspelt or misplaced key meant.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import ErrorDetails

from crossgrant.iam.facts import ACCOUNT_ID_RE, ROLE_NAME_RE, TABLE_NAME_RE
from crossgrant.spec import rules
from crossgrant.spec.model import Mode, S3Level, TableLevel
from crossgrant.spec.source import Document, Loc, describe, short

__all__ = ["AccessIn", "GrantIn", "OptionsIn", "OrganizationIn", "RoleIn", "S3In", "SourceIn",
           "TableIn", "TargetIn", "validate"]


def validate(doc: Document, data: dict[str, Any]) -> GrantIn:
    """The document's data as a `GrantIn`, or the first error (by line) as a SpecError."""
    try:
        return GrantIn.model_validate(data)
    except ValidationError as exc:
        _fail_validation(doc, exc)


def _fail_validation(doc: Document, exc: ValidationError) -> NoReturn:
    errors = exc.errors(include_url=False)
    misspelt = {_clean_loc(e["loc"])[0][:-1] for e in errors
                if e["type"] == "extra_forbidden"}
    # a key missing beside an unknown key is most likely that key misspelt: say so
    errors = [e for e in errors if e["type"] != "missing"
              or _clean_loc(e["loc"])[0][:-1] not in misspelt] or errors
    first = min(errors, key=lambda e: doc.line_of(_clean_loc(e["loc"])[0]))
    loc, on_key = _clean_loc(first["loc"])
    doc.fail(loc, _message(first, loc, on_key))


_Str = Annotated[str, BeforeValidator(rules.text)]
_Int = Annotated[int, BeforeValidator(rules.number)]
_Bool = Annotated[bool, BeforeValidator(rules.flag)]

_GrantName = Annotated[_Str, AfterValidator(rules.rule(
    r"[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?",
    "1 to 40 of a-z, 0-9 and '-', starting with a letter and not ending with '-' "
    "(it becomes part of resource names)"))]
_AccountId = Annotated[_Str, AfterValidator(rules.rule(
    ACCOUNT_ID_RE, "an AWS account id is exactly 12 digits"))]
# Stricter than iam.facts.REGION_RE on purpose: the middle word must be a compass direction
# (every region has one), so a typo such as "eu-wset-1" is caught where it is written.
_Region = Annotated[_Str, AfterValidator(rules.rule(
    r"[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|northwest"
    r"|southeast|southwest)-[1-9][0-9]?",
    "expected a region code such as eu-west-1 or us-gov-west-1"))]
_FunctionName = Annotated[_Str, AfterValidator(rules.rule(
    r"[A-Za-z0-9_-]{1,64}", "a Lambda function name has 1 to 64 of A-Z, a-z, 0-9, '-' and "
    "'_' (give the name, not the ARN)"))]
_RoleName = Annotated[_Str, AfterValidator(rules.rule(
    ROLE_NAME_RE, "an IAM role name has 1 to 64 of A-Z, a-z, 0-9 and + = , . @ _ - "
    "(give the name, not the ARN or path)"))]
_ExternalId = Annotated[_Str, AfterValidator(rules.rule(
    r"[\w+=,.@:/-]{2,1224}", "an external id has 2 to 1224 of A-Z, a-z, 0-9 and "
    "+ = , . @ : / _ -", re.ASCII))]
_BucketName = Annotated[_Str, AfterValidator(rules.bucket_name)]
_Prefix = Annotated[_Str, AfterValidator(rules.prefix)]
_TableName = Annotated[_Str, AfterValidator(rules.rule(
    TABLE_NAME_RE, "a DynamoDB table name has 3 to 255 of A-Z, a-z, 0-9, "
    "'_', '-' and '.' (give the name, not the ARN)"))]
_IndexName = Annotated[_Str, AfterValidator(rules.rule(  # index names follow the table rule
    rf"\*|{TABLE_NAME_RE.pattern}", "an index name has 3 to 255 of A-Z, a-z, 0-9, '_', '-' and "
    "'.', or is '*' for every index"))]
_OrgId = Annotated[_Str, AfterValidator(rules.rule(
    r"o-[a-z0-9]{10,32}", "an organization id is 'o-' and 10 to 32 of a-z, 0-9"))]
_UnitId = Annotated[_Str, AfterValidator(rules.unit)]
_Action = Annotated[_Str, AfterValidator(rules.action)]
_ModeName = Annotated[_Str, AfterValidator(rules.one_of("mode", tuple(m.value for m in Mode)))]
_S3LevelName = Annotated[_Str, AfterValidator(rules.one_of(
    "level", tuple(level.value for level in S3Level)))]
_TableLevelName = Annotated[_Str, AfterValidator(rules.one_of(
    "level", tuple(level.value for level in TableLevel)))]
_Session = Annotated[_Int, AfterValidator(rules.session)]
_TagKey = Annotated[_Str, AfterValidator(rules.tag_key)]
_TagValue = Annotated[_Str, AfterValidator(rules.tag_value)]


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrganizationIn(_In):
    id: _OrgId
    units: list[_UnitId]


class SourceIn(_In):
    # exactly one of the three (spec.sources checks it)
    account: _AccountId | None = None
    accounts: list[_AccountId] | None = None
    organization: OrganizationIn | None = None
    region: _Region
    function: _FunctionName
    execution_role: _RoleName | None = None
    existing_role: _Bool = False


class TargetIn(_In):
    account: _AccountId
    region: _Region


class RoleIn(_In):
    name: _RoleName | None = None
    external_id: _ExternalId | None = None
    session_duration: _Session | None = None


class S3In(_In):
    bucket: _BucketName
    prefixes: list[_Prefix] = Field(default_factory=lambda: [""])
    levels: list[_S3LevelName] | None = None  # levels or actions (spec.entries checks it)
    actions: list[_Action] | None = None
    kms_key: _Str | None = None


class TableIn(_In):
    table: _TableName
    levels: list[_TableLevelName] | None = None  # levels or actions (spec.entries checks it)
    actions: list[_Action] | None = None
    indexes: list[_IndexName] = Field(default_factory=list)
    streams: _Bool = False


class AccessIn(_In):
    s3: list[S3In] = Field(default_factory=list)
    dynamodb: list[TableIn] = Field(default_factory=list)


class OptionsIn(_In):
    tls_only: _Bool = True
    organization_id: _OrgId | None = None
    trust_whole_account: _Bool = False
    tags: dict[_TagKey, _TagValue] = Field(default_factory=dict)


class GrantIn(_In):
    name: _GrantName
    source: SourceIn
    target: TargetIn
    mode: _ModeName
    role: RoleIn | None = None
    access: AccessIn
    options: OptionsIn = Field(default_factory=OptionsIn)



# --------------------------------------------------------------------------- error messages

def _clean_loc(raw: tuple[int | str, ...]) -> tuple[Loc, bool]:
    """pydantic's loc without its markers; True when the error is about a mapping key."""
    loc = tuple(p for p in raw if p != "[key]")
    return loc, len(loc) != len(raw)


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
        return f"expected {what}, got {describe(err.get('input'))}"
    ctx = err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return f"{err['msg']} (a mapping key)" if on_key else err["msg"]


def _fields_at(loc: Loc) -> dict[str, type | None]:
    """The fields of the model at `loc`, each with the model it holds (if any)."""
    model: type[BaseModel] | None = GrantIn
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
        return f"unknown key {short(key)} (did you mean {close[0]!r}?)"
    homes = sorted({home for name, home in _homes(GrantIn, "") if name == key})
    if homes:
        where = " or ".join(repr(h) if h else "the top level" for h in homes)
        return f"unknown key {short(key)} here; it belongs under {where}"
    return f"unknown key {short(key)} (expected {', '.join(here)})"


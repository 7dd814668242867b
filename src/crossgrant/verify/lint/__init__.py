"""Lint IAM policy documents: the mistakes AWS stores without a word.

AWS rejects a malformed document, but it accepts one that grants nothing (`s3:ListBucket`
on an object ARN), or far more than meant (`s3:*`, a trust policy open to a whole
account). Such mistakes surface months later as an AccessDenied, or never. Each check has
a stable code (`CG1xx`), so a team can select, ignore and discuss them by name as with
ruff, and every finding says how to fix it.

Resource types, ARN patterns and wildcard expansions come from the action catalog
(`crossgrant.iam.actions`), never from lists kept here, so the checks follow AWS's Service
Authorization Reference as the catalog does. Documents are parsed by the engine first: a
document the engine rejects gets CG100 and no other check, because the other checks read
the statements the engine validated.

Blog posts and READMEs are lintable too (`lint_text`): every `{...}` block that parses as
JSON and looks like a policy is a document, and the placeholders such texts use
(`<ACCOUNT_A_ID>`, `AccountB` where an account id belongs) are replaced by dummy values
for the check and put back in the messages.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, cast

from crossgrant.errors import CrossgrantError, PolicyError, UnknownActionError
from crossgrant.iam.actions import (
    NO_RESOURCE_TYPE,
    ActionInfo,
    canonical_action_name,
    expand_action_pattern,
    known_service,
    known_services,
    lookup_action,
    service_resource_types,
)
from crossgrant.iam.policy import Policy, parse_policy
from crossgrant.iam.statement import PolicyType, Statement

__all__ = [
    "KINDS",
    "RULES",
    "SEVERITIES",
    "Finding",
    "Kind",
    "Rule",
    "Severity",
    "infer_kind",
    "lint_document",
    "lint_file",
    "lint_text",
    "select_codes",
]

Severity = Literal["error", "warning", "info"]
Kind = Literal["identity", "resource", "trust", "boundary", "scp"]
SEVERITIES: Final[tuple[Severity, ...]] = ("error", "warning", "info")
KINDS: Final[tuple[Kind, ...]] = ("identity", "resource", "trust", "boundary", "scp")

_POLICY_TYPES: Final[dict[str, PolicyType]] = {
    "identity": PolicyType.IDENTITY,
    "resource": PolicyType.RESOURCE,
    "trust": PolicyType.RESOURCE,  # a trust policy is the role's resource-based policy
    "boundary": PolicyType.BOUNDARY,
    "scp": PolicyType.SCP,
}

# AWS's size limits, counted as IAM counts them: the document without whitespace.
TRUST_MAX: Final = 2048
INLINE_MAX: Final = 10240  # all inline policies of a role together
MANAGED_MAX: Final = 6144
SCP_MAX: Final = 5120
_RESOURCE_MAX: Final[dict[str, tuple[int, str]]] = {
    "s3": (20 * 1024, "bucket policy"),
    "dynamodb": (20 * 1024, "DynamoDB resource policy"),
    "kms": (32 * 1024, "key policy"),
    "lambda": (20 * 1024, "Lambda function policy"),
}

# The block search in text tries every `{`: one block is at most this long, and the
# search as a whole reads at most _SEARCH_BUDGET characters, so a hostile file (a million
# unmatched braces) costs seconds, not hours. Real policies are far below both.
_MAX_BLOCK_CHARS: Final = 200_000
_SEARCH_BUDGET: Final = 20_000_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one document: stable code, what is wrong, and how to fix it.

    `statement` is the statement's Sid, or `#i` (0-based) when it has none, or None for a
    finding about the document as a whole; `path` is the JSON path of the element at fault
    inside the document as written ("" for the whole document).
    """

    code: str
    severity: Severity
    message: str
    fix: str
    document: str
    statement: str | None
    path: str

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "fix": self.fix, "document": self.document, "statement": self.statement,
                "path": self.path}


@dataclass(frozen=True, slots=True)
class _Hit:
    """What a check reports; `lint_document` adds the code, rule severity and document."""

    index: int | None
    label: str | None
    path: str
    message: str
    fix: str
    severity: Severity | None = None


@dataclass(slots=True)
class _Stmt:
    index: int
    raw: Mapping[str, Any]
    compiled: Statement
    prefix: str  # JSON path of the statement: "Statement[1]", "Statement" or "" (bare)
    _pairing: _Pairing | None = None
    _paired: bool = False

    @property
    def label(self) -> str:
        sid = self.raw.get("Sid")
        return sid if isinstance(sid, str) and sid else f"#{self.index}"

    @property
    def allow(self) -> bool:
        return self.raw.get("Effect") == "Allow"

    @property
    def verb(self) -> str:
        return "grants" if self.allow else "denies"

    def at(self, *parts: str) -> str:
        out = self.prefix
        for part in parts:
            if part.startswith("["):
                out += part
            else:
                out = f"{out}.{part}" if out else part
        return out

    def values(self, *keys: str) -> list[tuple[str, str]]:
        """(value, JSON path) of each string of Action, Resource, ... (validated by parse),
        the keys' in turn (`values("Resource", "NotResource")`)."""
        out: list[tuple[str, str]] = []
        for key in keys:
            raw = self.raw.get(key)
            if isinstance(raw, str):
                out.append((raw, self.at(key)))
            elif isinstance(raw, list):
                out.extend((str(v), self.at(key, f"[{i}]")) for i, v in enumerate(raw))
        return out

    def principals(self, key: str = "Principal") -> list[tuple[str, str, str]]:
        """(type, value, path) of each entry; Principal "*" is ("AWS", "*", path)."""
        raw = self.raw.get(key)
        if raw == "*":
            return [("AWS", "*", self.at(key))]
        out: list[tuple[str, str, str]] = []
        if isinstance(raw, Mapping):
            for ptype, value in raw.items():
                if isinstance(value, str):
                    out.append((str(ptype), value, self.at(key, str(ptype))))
                elif isinstance(value, list):
                    out.extend((str(ptype), str(v), self.at(key, str(ptype), f"[{i}]"))
                               for i, v in enumerate(value))
        return out

    def conditions(self) -> list[tuple[str, str, list[str], str]]:
        """(operator, lower-cased key, values as strings, path) of each condition."""
        raw = self.raw.get("Condition")
        out: list[tuple[str, str, list[str], str]] = []
        if not isinstance(raw, Mapping):
            return out
        for op, block in raw.items():
            if not isinstance(block, Mapping):
                continue
            for key, value in block.items():
                values = value if isinstance(value, list) else [value]
                out.append((str(op), str(key).lower(), [_condition_text(v) for v in values],
                            self.at("Condition", str(op), str(key))))
        return out

    def hit(self, path: str, message: str, fix: str,
            severity: Severity | None = None) -> _Hit:
        return _Hit(self.index, self.label, path, message, fix, severity)


@dataclass(slots=True)
class _Doc:
    name: str
    kind: Kind
    owner_account: str | None
    raw: dict[str, Any]  # as linted: a bare statement is wrapped in a document
    bare: bool
    error: PolicyError | None = None
    policy: Policy | None = None
    statements: list[_Stmt] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rule:
    """A check with a stable code; `check` yields the problems it finds in one document."""

    code: str
    name: str
    severity: Severity
    summary: str
    check: Callable[[_Doc], Iterable[_Hit]]


RULES: dict[str, Rule] = {}


def _rule(code: str, name: str, severity: Severity,
          summary: str) -> Callable[[Callable[[_Doc], Iterable[_Hit]]],
                                    Callable[[_Doc], Iterable[_Hit]]]:
    def register(fn: Callable[[_Doc], Iterable[_Hit]]) -> Callable[[_Doc], Iterable[_Hit]]:
        RULES[code] = Rule(code, name, severity, summary, fn)
        return fn
    return register


# --------------------------------------------------------------------------- entry points

def infer_kind(doc: Mapping[str, Any]) -> Kind:
    """Principal with sts:AssumeRole* is a trust policy, other Principal a resource policy,
    no Principal an identity policy: what a document's own shape says about where it goes."""
    raws = _raw_statements(doc)
    if not any(isinstance(s, Mapping) and ("Principal" in s or "NotPrincipal" in s)
               for s in raws):
        return "identity"
    for s in raws:
        if not isinstance(s, Mapping):
            continue
        actions = s.get("Action")
        names = [actions] if isinstance(actions, str) else \
            actions if isinstance(actions, list) else []
        if any(isinstance(a, str) and a.lower().startswith("sts:assumerole") for a in names):
            return "trust"
    return "resource"


def lint_document(doc: Mapping[str, Any] | str, *, name: str, kind: Kind | None = None,
                  owner_account: str | None = None) -> list[Finding]:
    """Every rule's findings for one document, doc-level first, then by statement.

    `kind` is inferred when None (`infer_kind`). `owner_account` is the account that owns
    the resource of a resource policy; without it, every account a bucket policy names is
    taken as another account.
    """
    ctx = _prepare(doc, name, kind, owner_account)
    rules = [RULES["CG100"]] if ctx.error is not None else list(RULES.values())
    found: list[tuple[int, str, Finding]] = []
    for rule in rules:
        for h in rule.check(ctx):
            found.append((-1 if h.index is None else h.index, rule.code,
                          Finding(rule.code, h.severity or rule.severity, h.message, h.fix,
                                  name, h.label, h.path)))
    found.sort(key=lambda t: (t[0], t[1]))
    return [f for _, _, f in found]


def lint_text(text: str, *, source: str = "<text>", kind: Kind | None = None,
              owner_account: str | None = None) -> list[Finding]:
    """Lint a JSON document, a JSON list of documents, or prose with JSON policy blocks.

    Document names: "policy" for a lone JSON document, "[i]" in a JSON list, "L<line>"
    for a block found in text or inside other JSON (a CloudFormation template). A `.json`
    source that does not parse is CG100, and so is JSON with no policy anywhere in it.
    """
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            value = _NOT_JSON
        if value is not _NOT_JSON:
            if isinstance(value, list):
                out: list[Finding] = []
                for i, item in enumerate(value):
                    out.extend(lint_document(item, name=f"[{i}]", kind=kind,
                                             owner_account=owner_account))
                return out
            if _is_policy(value):
                return lint_document(value, name="policy", kind=kind,
                                     owner_account=owner_account)
            # Not a policy itself (a CloudFormation template, a state file): look inside.
        elif source.endswith(".json"):
            return lint_document(text, name="policy", kind=kind, owner_account=owner_account)
    out = []
    blocks = _find_blocks(text)
    for block in blocks:
        findings = lint_document(block.value, name=f"L{block.line}", kind=kind,
                                 owner_account=owner_account)
        out.extend(_restore(f, block.replacements) for f in findings)
    out.extend(_broken_fences(text, blocks))
    if not blocks and not out and stripped.startswith(("{", "[")):
        return lint_document(text, name="policy", kind=kind, owner_account=owner_account)
    return out


def lint_file(path: str | Path, *, kind: Kind | None = None,
              owner_account: str | None = None) -> list[Finding]:
    """`lint_text` on a file; an unreadable file is a CrossgrantError (the CLI's exit 2)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CrossgrantError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise CrossgrantError(f"{p}: is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CrossgrantError(f"{p}: cannot read: {exc}") from None
    return lint_text(text, source=str(p), kind=kind, owner_account=owner_account)


def select_codes(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> frozenset[str]:
    """The codes left by ruff-style selectors: a code or a prefix of codes ("CG10").

    An empty `select` means every rule. A selector that names no rule is a CrossgrantError:
    a typo there would silently turn a check off.
    """
    def expand(selectors: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for sel in selectors:
            s = sel.strip().upper()
            if not s:
                continue
            hit = {c for c in RULES if c.startswith(s)}
            if not hit:
                raise CrossgrantError(f"no lint rule matches {sel.strip()!r} "
                                      f"(codes are {min(RULES)}..{max(RULES)})")
            out |= hit
        return out
    chosen = expand(select) or set(RULES)
    return frozenset(chosen - expand(ignore))


# --------------------------------------------------------------------------- preparation

_NOT_JSON: Final = object()


def _raw_statements(doc: Mapping[str, Any]) -> list[Any]:
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        return [raw]
    return list(raw) if isinstance(raw, list) else []


def _prepare(doc: Mapping[str, Any] | str, name: str, kind: Kind | None,
             owner_account: str | None) -> _Doc:
    value: Any = doc
    if isinstance(doc, str):
        try:
            value = json.loads(doc)
        except (json.JSONDecodeError, RecursionError):
            value = None
    if not isinstance(value, Mapping):
        # The engine words the error: invalid JSON, or not an object.
        ctx = _Doc(name, kind or "identity", owner_account, {}, False)
        try:
            parse_policy(doc if isinstance(doc, str) else cast(Any, value), name=name)
        except PolicyError as exc:
            ctx.error = exc
        else:  # pragma: no cover - parse_policy rejects every non-object
            ctx.error = PolicyError(f"{name}: a policy document must be a JSON object")
        return ctx
    bare = "Statement" not in value and "Effect" in value
    raw: dict[str, Any] = ({"Version": "2012-10-17", "Statement": [dict(value)]} if bare
                           else dict(value))
    ctx = _Doc(name, kind or infer_kind(raw), owner_account, raw, bare)
    try:
        ctx.policy = parse_policy(raw, name=name, policy_type=_POLICY_TYPES[ctx.kind])
    except PolicyError as exc:
        ctx.error = exc
        return ctx
    single = isinstance(raw.get("Statement"), Mapping)
    for st, raw_st in zip(ctx.policy.statements, _raw_statements(raw), strict=True):
        i = st.ref.index
        prefix = "" if bare else "Statement" if single else f"Statement[{i}]"
        ctx.statements.append(_Stmt(i, raw_st, st, prefix))
    return ctx


# --------------------------------------------------------------------------- CG100

_FIXES_FOR_PARSE_ERRORS: Final[tuple[tuple[str, str], ...]] = (
    ("invalid JSON", "fix the JSON syntax at that position (JSON allows no comments and no "
                     "trailing commas)"),
    ("nested too deeply", "flatten the document; a policy is at most a few levels deep"),
    ("must be a JSON object", "make the document an object with Version and Statement"),
    ("unknown top-level field", "remove the field: a policy document has only Version, Id "
                                "and Statement"),
    ("Version must be", 'set "Version": "2012-10-17"'),
    ("missing Statement", 'add a "Statement" list with at least one statement'),
    ("duplicate Sid", "give each statement its own Sid"),
    ("unknown field", "remove the field or correct its spelling (a statement has Sid, "
                      "Effect, Principal/NotPrincipal, Action/NotAction, "
                      "Resource/NotResource and Condition)"),
    ("Effect must be", 'set "Effect" to "Allow" or "Deny"'),
    ("has both", "keep only one of the two elements"),
    ("missing Action", 'add "Action" with the actions the statement is about'),
    ("missing Resource", 'add "Resource" with the ARNs the statement applies to '
                         '(identity policies need it)'),
    ("missing Principal", 'add "Principal" naming who the resource policy applies to'),
    ("cannot have Principal", "remove Principal, or lint the document as a resource or "
                              "trust policy (--kind resource / --kind trust)"),
    ("12-digit account id", "put the 12-digit account id where the ARN has its account"),
    ("wildcards are not allowed in a principal", 'use "Principal": {"AWS": "*"} with a '
                                                 'Condition on aws:PrincipalArn instead'),
    ("is not an action", "write actions as service:ActionName, e.g. s3:GetObject"),
    ("is not \"*\" or an ARN", 'write Resource as "*" or a full ARN '
                               '(arn:aws:service:region:account:resource)'),
    ("unknown condition operator", "use an operator from the IAM reference, e.g. "
                                   "StringEquals, ArnLike, Bool"),
    ("principal", "name principals as an account id, a user/role ARN, a service "
                  "(Service) or \"*\""),
)


def _parse_fix(message: str) -> str:
    for needle, fix in _FIXES_FOR_PARSE_ERRORS:
        if needle in message:
            return fix
    return "correct the element the message names: AWS rejects the whole document until then"


@_rule("CG100", "invalid-document", "error",
       "The engine rejects the document (AWS would too); no other rule runs on it.")
def _check_invalid(doc: _Doc) -> Iterator[_Hit]:
    if doc.error is None:
        return
    message = str(doc.error)
    if message.startswith(f"{doc.name}: "):
        message = message[len(doc.name) + 2:]
    m = re.search(r"Statement\[(\d+)\]", message)
    index = label = None
    path = ""
    if m:
        index = int(m.group(1))
        raws = _raw_statements(doc.raw)
        sid = raws[index].get("Sid") if index < len(raws) and isinstance(
            raws[index], Mapping) else None
        label = sid if isinstance(sid, str) and sid else f"#{index}"
        single = isinstance(doc.raw.get("Statement"), Mapping)
        path = "" if doc.bare else "Statement" if single else f"Statement[{index}]"
    yield _Hit(index, label, path, message, _parse_fix(message))


# --------------------------------------------------------------------------- CG101

@_rule("CG101", "unknown-action", "error",
       "An action (or pattern) no service in the catalog defines: it grants or denies "
       "nothing.")
def _check_unknown_action(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        for value, path in st.values("Action", "NotAction"):
            problem = _action_problem(value)
            if problem is not None:
                yield st.hit(path, *problem)


def _action_problem(value: str) -> tuple[str, str] | None:
    if value == "*":
        return None
    prefix, _, name = value.partition(":")
    if "*" in prefix or "?" in prefix:
        return None
    if not known_service(prefix):
        close = difflib.get_close_matches(prefix.lower(), known_services(), n=1, cutoff=0.8)
        if not close:
            return None  # a service crossgrant's catalog does not cover: cannot tell
        return (f"unknown service prefix {prefix!r} in {value!r} (did you mean {close[0]}?)",
                f"replace {value!r} with '{close[0]}:{name}'")
    if "*" in name or "?" in name:
        if expand_action_pattern(value):
            return None
        return (f"{value!r} matches no {prefix.lower()} action, so it grants or denies nothing",
                f"correct the pattern so it matches the {prefix.lower()} actions meant, or "
                f"list them one by one")
    try:
        canonical_action_name(value)
    except UnknownActionError as exc:
        message = str(exc)
        m = re.search(r"did you mean ([\w:-]+)\?", message)
        if m:
            return message, f"replace {value!r} with {m.group(1)!r}"
        m = re.search(r"the actions that authorize it are (.+)\)$", message)
        if m:
            return message, f"replace {value!r} with {m.group(1)}"
        return message, (f"use an action the Service Authorization Reference lists for "
                         f"{prefix.lower()}")
    return None


# --------------------------------------------------------------------------- resource types

# Matching a Resource pattern against a resource type's ARN template is the emptiness test
# of the intersection of two patterns: a small product automaton over pattern positions.
# Items: a literal character, one character outside a set, or any run outside a set.
_Item = tuple[str, str | frozenset[str]]
_NO_CHARS: Final[frozenset[str]] = frozenset()
_NOT_COLON: Final = frozenset(":")
_NOT_COLON_SLASH: Final = frozenset(":/")

# CloudWatch Logs checks log-group actions against the group ARN with ":*" appended, which
# is how the console and most policies write it.
_ALTERNATE_TEMPLATES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("logs", "log-group"): (
        "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:*",),
}


def _glob_items(pattern: str) -> tuple[_Item, ...]:
    """A policy Resource pattern: `*` and `?` are wildcards, `${...}` a policy variable."""
    out: list[_Item] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "$" and pattern.startswith("${", i) and "}" in pattern[i:]:
            end = pattern.index("}", i)
            inner = pattern[i + 2:end]
            if inner in ("*", "?", "$"):
                out.append(("c", inner))
            else:
                out.append(("star", _NO_CHARS))
            i = end + 1
            continue
        if c == "*":
            out.append(("star", _NO_CHARS))
        elif c == "?":
            out.append(("any", _NO_CHARS))
        else:
            out.append(("c", c))
        i += 1
    return tuple(out)


def _template_items(template: str) -> tuple[_Item, ...]:
    """A catalog ARN template: `${Var}` is one or more characters of the variable's kind."""
    out: list[_Item] = []
    for piece in re.split(r"(\$\{[^}]+\})", template):
        if piece.startswith("${") and piece.endswith("}"):
            var = piece[2:-1]
            if var in ("Region", "Account"):
                out.append(("star", _NOT_COLON))  # lenient: CG116 judges these fields
            elif var == "Partition":
                out += [("any", _NOT_COLON), ("star", _NOT_COLON)]
            elif "Path" in var or var == "ObjectName" or var.startswith(("LogGroup",
                                                                            "LogStream")):
                excl = _NOT_COLON if var.startswith("Log") else _NO_CHARS
                out += [("any", excl), ("star", excl)]
            else:
                out += [("any", _NOT_COLON_SLASH), ("star", _NOT_COLON_SLASH)]
        elif piece == "*":
            out.append(("star", _NO_CHARS))
        else:
            out.extend(("c", c) for c in piece)
    return tuple(out)


def _compatible(a: _Item, b: _Item) -> bool:
    if a[0] == "c" and b[0] == "c":
        return a[1] == b[1]
    if a[0] == "c":
        return a[1] not in cast(frozenset[str], b[1])
    if b[0] == "c":
        return b[1] not in cast(frozenset[str], a[1])
    return True  # two character classes always share a character


@lru_cache(maxsize=8192)
def _may_match(pattern: str, template: str) -> bool:
    """Could one ARN be matched both by a policy pattern and by a resource type's template?"""
    a, b = _glob_items(pattern), _template_items(template)
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i][0] == "star":
            todo.append((i + 1, j))
        if j < len(b) and b[j][0] == "star":
            todo.append((i, j + 1))
        if i < len(a) and j < len(b) and _compatible(a[i], b[j]):
            todo.append((i if a[i][0] == "star" else i + 1,
                         j if b[j][0] == "star" else j + 1))
    return False


def _templates(service: str, rtype: str) -> tuple[str, ...]:
    base = service_resource_types(service).get(rtype)
    extra = _ALTERNATE_TEMPLATES.get((service.lower(), rtype), ())
    return ((base,) if base else ()) + extra


@lru_cache(maxsize=8192)
def _applies(info: ActionInfo, resource: str) -> bool:
    """Does `resource` (a Resource pattern) name something `info` can act on?"""
    if resource == "*":
        return True
    return any(_may_match(resource, t) for rtype in info.resource_types
               if rtype != NO_RESOURCE_TYPE for t in _templates(info.service, rtype))


def _arn_fields(value: str) -> list[str]:
    """An ARN split into at most six fields, never inside `${...}` (a policy variable such
    as ${aws:PrincipalAccount}, or CloudFormation's ${AWS::Region}, holds colons)."""
    fields: list[str] = []
    start = depth = 0
    i = 0
    while i < len(value) and len(fields) < 5:
        if value.startswith("${", i):
            depth += 1
            i += 2
            continue
        c = value[i]
        if c == "}" and depth:
            depth -= 1
        elif c == ":" and not depth:
            fields.append(value[start:i])
            start = i + 1
        i += 1
    fields.append(value[start:])
    return fields


@lru_cache(maxsize=4096)
def _classify(resource: str) -> tuple[str, ...]:
    """The catalog resource types a pattern may name, as "type" (service in the ARN)."""
    parts = _arn_fields(resource)
    service = parts[2] if len(parts) > 2 else ""
    out: list[str] = []
    for prefix in known_services():
        for rtype in service_resource_types(prefix):
            ts = _templates(prefix, rtype)
            if ts and ts[0].split(":")[2] not in (service, "*") and "*" not in service:
                continue
            if any(_may_match(resource, t) for t in ts) and rtype not in out:
                out.append(rtype)
    return tuple(out)


def _describe(resource: str) -> str:
    types = _classify(resource)
    if not types:
        return "an ARN of no resource type crossgrant knows"
    return f"{_article(types[0])} {' or '.join(types)} ARN"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


def _infos(value: str) -> tuple[ActionInfo, ...]:
    if "*" in value or "?" in value:
        return expand_action_pattern(value)
    info = lookup_action(value)
    return (info,) if info is not None else ()


@dataclass(slots=True)
class _Pairing:
    """Which of a statement's actions apply to which of its resources."""

    actions: list[tuple[str, str, tuple[ActionInfo, ...]]]  # known actions only
    resources: list[tuple[str, str]]
    matrix: list[list[bool]]
    complete: bool  # every action is known, so a resource no action uses is truly dead


def _pairing(st: _Stmt) -> _Pairing | None:
    if st._paired:
        return st._pairing
    st._paired = True
    if "Action" not in st.raw or "Resource" not in st.raw:
        return None
    actions = []
    complete = True
    for value, path in st.values("Action"):
        infos = _infos(value)
        if infos:
            actions.append((value, path, infos))
        else:
            complete = False
    resources = st.values("Resource")
    matrix = [[any(_applies(i, r) for i in infos) for r, _ in resources]
              for _, _, infos in actions]
    st._pairing = _Pairing(actions, resources, matrix, complete)
    return st._pairing


def _resource_types_text(infos: Sequence[ActionInfo]) -> list[str]:
    out: list[str] = []
    for info in infos:
        for t in info.resource_types:
            if t != NO_RESOURCE_TYPE and t not in out:
                out.append(t)
    return out


def _example_arn(service: str, rtype: str) -> str:
    template = service_resource_types(service).get(rtype, "")
    return template.replace("${Partition}", "aws")


def _plainest_type(info: ActionInfo) -> str:
    """The resource type with the simplest ARN (object over access-point object): the one
    an example should show."""
    types = _resource_types_text([info])
    templates = service_resource_types(info.service)
    return min(types, key=lambda t: (templates.get(t, "").count("${"), types.index(t)),
               default=NO_RESOURCE_TYPE)


def _suggest_resource(infos: Sequence[ActionInfo], resources: Sequence[str]) -> str:
    """An ARN the action would apply to, derived from the statement's own ARNs if possible."""
    types = _resource_types_text(infos)
    service = infos[0].service
    if service == "s3":
        for r in resources:
            m = re.fullmatch(r"arn:([^:]+):s3:::([^/]+)(/.*)?", r)
            if not m:
                continue
            if "bucket" in types and m.group(3):
                return f"arn:{m.group(1)}:s3:::{m.group(2)}"
            if "object" in types and not m.group(3):
                return f"arn:{m.group(1)}:s3:::{m.group(2)}/*"
    if service == "dynamodb":
        for r in resources:
            m = re.fullmatch(r"(arn:[^:]+:dynamodb:[^:]*:[^:]*:table/[^/]+)(/.*)?", r)
            if m and "table" in types and m.group(2):
                return m.group(1)
            if m and "index" in types and not m.group(2):
                return f"{m.group(1)}/index/*"
    typed = next((i for i in infos if _resource_types_text([i])), None)
    return _example_arn(typed.service, _plainest_type(typed)) if typed else "*"


@_rule("CG102", "action-resource-mismatch", "error",
       "An action none of whose resource types matches any Resource of its statement: the "
       "statement grants (or denies) it on nothing.")
def _check_mismatch(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        pairing = _pairing(st)
        if pairing is None:
            continue
        names = [r for r, _ in pairing.resources]
        for (value, path, infos), row in zip(pairing.actions, pairing.matrix, strict=True):
            if any(row):
                continue
            types = _resource_types_text(infos)
            if not types:
                yield st.hit(path, f"{value} does not support resource-level permissions: "
                                   f"it matches only \"Resource\": \"*\", so this statement "
                                   f"{st.verb} it on nothing",
                             f"move {value} to a statement with \"Resource\": \"*\"")
                continue
            listed = "; ".join(f"{r} is {_describe(r)}" for r in names[:3])
            more = f"; and {len(names) - 3} more" if len(names) > 3 else ""
            yield st.hit(path, f"{value} applies to {' or '.join(types)} ARNs and none of "
                               f"this statement's resources is one ({listed}{more}): the "
                               f"statement {st.verb} it on nothing",
                         f"add {_suggest_resource(infos, names)} to Resource, or move {value} "
                         f"to a statement that names such an ARN")


@_rule("CG103", "wildcard-action", "warning",
       "A wildcard action (*, s3:*, s3:Get*) in an Allow where the catalog lists the "
       "actions it stands for.")
def _check_wildcard_action(doc: _Doc) -> Iterator[_Hit]:
    if doc.kind not in ("identity", "resource"):
        return
    for st in doc.statements:
        if not st.allow or _delegates_to_owner(doc, st):
            continue
        for value, path in st.values("Action"):
            if "*" not in value and "?" not in value:
                continue
            infos = expand_action_pattern(value)
            if not infos:
                continue
            levels = _level_counts(infos)
            risky = sum(1 for i in infos if i.access_level in ("Write",
                                                               "Permissions management"))
            if value == "*":
                message = (f'"*" allows every action of every AWS service ({len(infos)} in '
                           f"crossgrant's catalog of {len(known_services())} services alone)")
            else:
                message = f"{value!r} allows {len(infos)} actions ({levels})"
            if len(infos) == 1:
                fix = f"write the action out: {infos[0].qualified_name}"
            else:
                fix = (f"replace {value!r} with the actions the code calls ({risky} of the "
                       f"{len(infos)} it covers are Write or Permissions management)")
            yield st.hit(path, message, fix)


def _delegates_to_owner(doc: _Doc, st: _Stmt) -> bool:
    """A resource policy naming only its owner's account (the default key policy's
    `kms:*` for the account root) hands the decision to IAM: its wildcard is by design."""
    principals = st.principals()
    return doc.owner_account is not None and bool(principals) and all(
        t == "AWS" and _whole_account(v) == doc.owner_account for t, v, _ in principals)


def _level_counts(infos: Sequence[ActionInfo]) -> str:
    order = ("List", "Read", "Write", "Permissions management", "Tagging")
    counts = {level: sum(1 for i in infos if i.access_level == level) for level in order}
    return ", ".join(f"{n} {level}" for level, n in counts.items() if n)


@_rule("CG104", "wildcard-resource", "warning",
       'Resource "*" in an identity policy Allow for actions that support resource-level '
       "permissions.")
def _check_wildcard_resource(doc: _Doc) -> Iterator[_Hit]:
    if doc.kind != "identity":
        return
    for st in doc.statements:
        if not st.allow:
            continue
        stars = [path for value, path in st.values("Resource") if value == "*"]
        if not stars:
            continue
        scoped: list[ActionInfo] = []
        global_only: list[str] = []
        for value, _ in st.values("Action"):
            for info in _infos(value):
                if info.resource_types == (NO_RESOURCE_TYPE,):
                    if info.qualified_name not in global_only:
                        global_only.append(info.qualified_name)
                elif info not in scoped:
                    scoped.append(info)
        if not scoped:
            continue
        names = ", ".join(i.qualified_name for i in scoped[:3])
        more = f" and {len(scoped) - 3} more" if len(scoped) > 3 else ""
        first = scoped[0]
        example = _example_arn(first.service, _plainest_type(first))
        fix = f"name the ARNs instead ({first.qualified_name} applies to {example})"
        if global_only:
            fix += (f'; keep "*" only for {", ".join(global_only[:3])}, in a statement of '
                    f"its own")
        yield st.hit(stars[0], f'Resource "*" for {len(scoped)} action(s) that support '
                               f"resource-level permissions ({names}{more})", fix)


# --------------------------------------------------------------------------- principals

_TRUST_NARROWING: Final = frozenset({
    "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "sts:externalid",
    "aws:userid", "aws:username"})
_PUBLIC_NARROWING: Final = frozenset({
    "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount",
    "aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourcevpce",
    "aws:sourcevpc", "aws:sourceip", "aws:userid", "aws:username", "aws:sourceorgid",
    "aws:sourceorgpaths", "aws:principalservicename", "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn", "kms:calleraccount", "kms:viaservice", "sts:externalid"})


def _base_operator(op: str) -> str:
    """`ForAnyValue:StringLike` -> `StringLike`."""
    return op.rsplit(":", maxsplit=1)[-1]


def _positive(op: str) -> bool:
    """Does the operator demand the key be present and match (so it can narrow)?"""
    base = _base_operator(op)
    return not op.startswith("ForAllValues:") and "Not" not in base and base != "Null" \
        and not base.endswith("IfExists")


def _everyone(st: _Stmt) -> bool:
    return any(t == "AWS" and v == "*" for t, v, _ in st.principals())


def _narrowed(doc: _Doc, st: _Stmt, keys: Callable[[str], bool], action: str) -> bool:
    """Is the statement limited by a condition on one of `keys`, in it or in a Deny?"""
    if any(_positive(op) and keys(k) for op, k, _, _ in st.conditions()):
        return True
    for other in doc.statements:
        if other.allow or not _everyone(other) or not other.compiled.covers_action(action):
            continue
        if any("Not" in _base_operator(op) and keys(k) for op, k, _, _ in other.conditions()):
            return True
    return False


def _account_of(principal: str) -> str | None:
    """The account an AWS principal entry belongs to, "*" for everyone, None if unknown."""
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return principal
    parts = principal.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("iam", "sts"):
        return parts[4]
    return None


def _whole_account(principal: str) -> str | None:
    if re.fullmatch(r"\d{12}", principal):
        return principal
    m = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):root", principal)
    return m.group(1) if m else None


@_rule("CG105", "open-trust-policy", "error",
       "A trust policy letting a whole account (root, bare id) or everyone (*) assume the "
       "role with no condition naming who.")
def _check_open_trust(doc: _Doc) -> Iterator[_Hit]:
    if doc.kind != "trust":
        return
    for st in doc.statements:
        if not st.allow or not st.compiled.covers_action("sts:assumerole"):
            continue
        for ptype, value, path in st.principals():
            if ptype != "AWS":
                continue
            if value == "*":
                def public(k: str) -> bool:
                    return k in _TRUST_NARROWING or k == "aws:principalaccount"
                if not _narrowed(doc, st, public, "sts:assumerole"):
                    yield st.hit(path, "trust policy lets any principal of any AWS account "
                                       "assume the role: no condition narrows Principal \"*\"",
                                 'name the trusting role in Principal ("AWS": '
                                 '"arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME"), or add a '
                                 'condition such as "StringEquals": {"aws:PrincipalOrgID": '
                                 '"o-xxxxxxxxxx"}')
                continue
            account = _whole_account(value)
            if account is None:
                continue

            def narrowing(k: str) -> bool:
                return k in _TRUST_NARROWING or k.startswith("aws:principaltag/")
            if _narrowed(doc, st, narrowing, "sts:assumerole"):
                continue
            yield st.hit(path, f"trust policy lets every principal of account {account} "
                               f"assume the role ({value}) with no condition naming which: "
                               f"any user or role there whose own policies allow "
                               f"sts:AssumeRole can",
                         f'name the role instead ("AWS": "arn:aws:iam::{account}:role/'
                         f'ROLE_NAME"), or add "ArnEquals": {{"aws:PrincipalArn": '
                         f'"arn:aws:iam::{account}:role/ROLE_NAME"}} or "StringEquals": '
                         f'{{"sts:ExternalId": "..."}}')


def _s3_resources(doc: _Doc) -> list[str]:
    out: list[str] = []
    for st in doc.statements:
        for value, _ in st.values("Resource", "NotResource"):
            if re.match(r"arn:[^:]+:s3:::", value) and value not in out:
                out.append(value)
    return out


def _is_tls_deny(st: _Stmt) -> bool:
    if st.allow or not _everyone(st):
        return False
    for op, key, values, _ in st.conditions():
        if key == "aws:securetransport" and _base_operator(op) in ("Bool", "BoolIfExists") \
                and any(v.lower() == "false" for v in values):
            return True
    return False


@_rule("CG106", "missing-tls-deny", "warning",
       "A bucket policy granting principals of another account, with no Deny on "
       "aws:SecureTransport false.")
def _check_tls_deny(doc: _Doc) -> Iterator[_Hit]:
    if doc.kind != "resource":
        return
    buckets = _s3_resources(doc)
    if not buckets:
        return
    outside: list[str] = []
    granted: list[str] = []
    for st in doc.statements:
        if not st.allow:
            continue
        named = [v for t, v, _ in st.principals() if t == "AWS"
                 and (a := _account_of(v)) is not None
                 and (a == "*" or doc.owner_account is None or a != doc.owner_account)]
        if not named:
            continue
        outside += [v for v in named if v not in outside]
        for value, _ in st.values("Action"):
            for name in [i.qualified_name for i in _infos(value)] or [value]:
                if name not in granted:
                    granted.append(name)
    if not outside:
        return
    denies = [st for st in doc.statements if _is_tls_deny(st)]
    uncovered = [a for a in granted
                 if not any(d.compiled.covers_action(a.lower()) for d in denies)]
    if denies and not uncovered:
        return
    first = "*" if "*" in outside else outside[0]  # the widest grant says the most
    if first == "*":
        who = 'everyone ("*")'
    else:
        whose = ("another account" if doc.owner_account is not None else
                 "taken as another account: no owner account given")
        who = f"{first} ({whose})"
    if len(outside) > 1:
        who += f" and {len(outside) - 1} other principal(s)"
    bucket_arns: list[str] = []
    for r in buckets:
        m = re.match(r"(arn:[^:]+:s3:::[^/]+)", r)
        if m:
            for arn in (m.group(1), m.group(1) + "/*"):
                if arn not in bucket_arns:
                    bucket_arns.append(arn)
    statement = json.dumps({"Sid": "DenyInsecureTransport", "Effect": "Deny",
                            "Principal": "*", "Action": "s3:*", "Resource": bucket_arns,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    if denies:
        message = (f"bucket policy grants {who}; its TLS-only Deny does not "
                   f"cover {', '.join(uncovered[:3])}")
        fix = f'make the Deny\'s Action "s3:*": {statement}'
    else:
        message = (f"bucket policy grants {who} but has no Deny for requests "
                   f"without TLS (aws:SecureTransport false)")
        fix = f"add a Deny statement with Condition Bool aws:SecureTransport=false: {statement}"
    yield _Hit(None, None, "" if doc.bare else "Statement", message, fix)


@_rule("CG107", "notprincipal-allow", "error",
       "NotPrincipal with Allow: grants to every principal except those listed, anonymous "
       "callers included.")
def _check_notprincipal(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        if st.allow and "NotPrincipal" in st.raw:
            yield st.hit(st.at("NotPrincipal"),
                         "Allow with NotPrincipal grants to every principal except those "
                         "listed, anonymous callers included",
                         "use Principal with the principals to allow; to exclude some, add a "
                         "Deny with a condition on aws:PrincipalArn")


def _size(doc: Mapping[str, Any]) -> int:
    return len("".join(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).split()))


def _resource_service(doc: _Doc) -> str | None:
    services: set[str] = set()
    for st in doc.statements:
        for value, _ in st.values("Resource", "NotResource"):
            parts = _arn_fields(value)
            if len(parts) > 2 and not _wild(parts[2]) and parts[2]:
                services.add(parts[2].lower())
    if not services:
        for st in doc.statements:
            for value, _ in st.values("Action"):
                services.add(value.partition(":")[0].lower())
    return services.pop() if len(services) == 1 else None


@_rule("CG108", "document-too-large", "error",
       "A document over AWS's size limit for its kind (counted without whitespace), which "
       "AWS refuses to store.")
def _check_size(doc: _Doc) -> Iterator[_Hit]:
    n = _size(doc.raw)
    what: str
    if doc.kind == "trust":
        limit, what = TRUST_MAX, "trust policy"
    elif doc.kind == "scp":
        limit, what = SCP_MAX, "service control policy"
    elif doc.kind == "boundary":
        limit, what = MANAGED_MAX, "managed policy (a boundary is one)"
    elif doc.kind == "identity":
        if n > INLINE_MAX:
            limit, what = INLINE_MAX, "role's inline policies together"
        elif n > MANAGED_MAX:
            yield _Hit(None, None, "", f"document is {n:,} characters: over the {MANAGED_MAX:,} "
                                       f"limit of a managed policy (it fits only inline, "
                                       f"where all of a role's inline policies share "
                                       f"{INLINE_MAX:,})",
                       "split it into several managed policies, or keep it inline and "
                       "under the role's total", "warning")
            return
        else:
            return
    else:
        service = _resource_service(doc)
        if service not in _RESOURCE_MAX:
            return
        limit, what = _RESOURCE_MAX[service]
    if n > limit:
        fix = ("ask AWS for the 4,096 quota, or trust fewer principals per role"
               if doc.kind == "trust" else
               "split it, or merge statements that share Effect, Principal and Condition")
        yield _Hit(None, None, "", f"document is {n:,} characters, over the {limit:,} limit "
                                   f"of a {what}", fix)


@_rule("CG109", "not-element-allow", "warning",
       "NotAction or NotResource with Allow: grants everything except what is listed.")
def _check_not_elements(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        if not st.allow:
            continue
        if "NotAction" in st.raw:
            yield st.hit(st.at("NotAction"),
                         "Allow with NotAction grants every action except those listed, "
                         "including actions of services added later",
                         "list the actions to allow in Action instead")
        if "NotResource" in st.raw:
            yield st.hit(st.at("NotResource"),
                         "Allow with NotResource grants on every resource except those listed",
                         "list the resources to allow in Resource instead")


@_rule("CG110", "public-principal", "error",
       'Principal "*" in an Allow of a resource policy with no condition narrowing who.')
def _check_public(doc: _Doc) -> Iterator[_Hit]:
    if doc.kind != "resource":
        return
    for st in doc.statements:
        if not st.allow:
            continue
        star = next((p for t, v, p in st.principals() if t == "AWS" and v == "*"), None)
        if star is None:
            continue
        actions = [a for a, _ in st.values("Action")] or ["*"]
        probe = actions[0].lower() if "*" not in actions[0] else "s3:getobject"
        if _narrowed(doc, st, lambda k: k in _PUBLIC_NARROWING, probe):
            continue
        yield st.hit(star, f"Principal \"*\" {st.verb} {', '.join(actions[:3])} to anyone, "
                           f"anonymous callers included: no condition narrows who",
                     "name the principals, or add a condition such as \"StringEquals\": "
                     "{\"aws:PrincipalOrgID\": \"o-xxxxxxxxxx\"} or on aws:SourceVpce")


def _object_rests(doc: _Doc) -> dict[tuple[str, str], list[str]]:
    """(partition, bucket) -> the key patterns object actions are granted on."""
    out: dict[tuple[str, str], list[str]] = {}
    for st in doc.statements:
        if not st.allow:
            continue
        infos = [i for v, _ in st.values("Action") for i in _infos(v)]
        if not any("object" in i.resource_types for i in infos if i.service == "s3"):
            continue
        for value, _ in st.values("Resource"):
            m = re.fullmatch(r"arn:([^:]+):s3:::([^/*?]+)/(.+)", value)
            if m:
                out.setdefault((m.group(1), m.group(2)), []).append(m.group(3))
    return out


@_rule("CG111", "unscoped-list-bucket", "info",
       "s3:ListBucket granted without an s3:prefix condition while object access is limited "
       "to key prefixes.")
def _check_list_prefix(doc: _Doc) -> Iterator[_Hit]:
    if doc.kind not in ("identity", "resource"):
        return
    rests = _object_rests(doc)
    for st in doc.statements:
        if not st.allow:
            continue
        if not any(i.qualified_name == "s3:ListBucket"
                   for v, _ in st.values("Action") for i in _infos(v)):
            continue
        if any(k == "s3:prefix" for _, k, _, _ in st.conditions()):
            continue
        for value, path in st.values("Resource"):
            m = re.fullmatch(r"arn:([^:]+):s3:::([^/*?]+)", value)
            keys = rests.get((m.group(1), m.group(2))) if m else None
            if not keys or any(k.startswith(("*", "?", "${")) for k in keys):
                continue
            yield st.hit(path, f"s3:ListBucket lists every key of {value}, while objects are "
                               f"granted only under {', '.join(keys)}",
                         f'add "Condition": {{"StringLike": {{"s3:prefix": '
                         f"{json.dumps(keys)}}}}} to this statement")


@_rule("CG112", "literal-policy-variable", "warning",
       "A policy variable (${...}) in a Version 2008-10-17 document, where it is literal "
       "text.")
def _check_old_variables(doc: _Doc) -> Iterator[_Hit]:
    version = doc.raw.get("Version")
    if version == "2012-10-17":
        return
    why = ("in a document without Version (read as 2008-10-17)" if version is None else
           "in a Version 2008-10-17 document")
    for st in doc.statements:
        places = st.values("Resource") + st.values("NotResource")
        places += [(v, f"{p}[{i}]") for _, _, vs, p in st.conditions()
                   for i, v in enumerate(vs)]
        for value, path in places:
            m = re.search(r"\$\{[^}]*\}", value)
            if m:
                yield st.hit(path, f"{value!r} uses policy variable {m.group(0)}, which is "
                                   f"literal text {why}",
                             'add "Version": "2012-10-17" at the top of the document')


@_rule("CG114", "unused-resource", "warning",
       "A Resource no action of its statement applies to: usually a missing action, such "
       "as s3:ListBucket for a bucket ARN.")
def _check_unused_resource(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        pairing = _pairing(st)
        if pairing is None or not pairing.complete:
            continue
        actions = [a for a, _, _ in pairing.actions]
        for j, (value, path) in enumerate(pairing.resources):
            if value == "*" or any(row[j] for row in pairing.matrix):
                continue
            types = _classify(value)
            if "bucket" in types and value.startswith("arn:") and ":s3:::" in value:
                fix = (f"remove {value} from Resource, or grant the bucket-level action it "
                       f"was meant for (s3:ListBucket) in a statement of its own")
            else:
                fix = f"remove {value} from Resource, or add the action meant for it"
            yield st.hit(path, f"{value} is {_describe(value)} and none of this statement's "
                               f"actions ({', '.join(actions[:4])}) applies to it: it has no "
                               f"effect here", fix)


@_rule("CG115", "mixed-resource-types", "info",
       "A statement pairing actions with resource types they do not take: IAM skips those "
       "pairs, so it reads as granting more than it does.")
def _check_mixed(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        pairing = _pairing(st)
        if pairing is None or not pairing.complete:
            continue
        if not all(any(row) for row in pairing.matrix) or not all(
                any(row[j] for row in pairing.matrix) for j in range(len(pairing.resources))):
            continue  # CG102 / CG114 report these
        if any(all(row) for row in pairing.matrix):
            continue  # one action spans them all (Query on a table and its indexes): by design
        misses = [f"{a} does not apply to {r}"
                  for (a, _, _), row in zip(pairing.actions, pairing.matrix, strict=True)
                  if "*" not in a and "?" not in a
                  for (r, _), ok in zip(pairing.resources, row, strict=True) if not ok]
        if not misses:
            continue
        groups: dict[tuple[str, ...], list[str]] = {}
        for j, (r, _) in enumerate(pairing.resources):
            acts = tuple(a for (a, _, _), row in zip(pairing.actions, pairing.matrix,
                                                     strict=True) if row[j])
            groups.setdefault(acts, []).append(r)
        plan = "; ".join(f"{', '.join(acts)} on {', '.join(rs)}" for acts, rs in groups.items())
        more = f" (and {len(misses) - 2} more)" if len(misses) > 2 else ""
        yield st.hit(st.at(), f"statement mixes resource types: {'; '.join(misses[:2])}{more}",
                     f"split it into one statement per resource type: {plan}")


_ACCOUNT_FIELD = re.compile(r"\d{12}|aws|")
_REGION_FIELD = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}|")
_PARTITION_FIELD = re.compile(r"aws(-[a-z]+)*")


def _wild(text: str) -> bool:
    return "*" in text or "?" in text or "${" in text


@_rule("CG116", "unmatchable-arn", "error",
       "A Resource ARN whose partition, region or account field can name no real resource "
       "(a placeholder left in).")
def _check_unmatchable(doc: _Doc) -> Iterator[_Hit]:
    for st in doc.statements:
        for value, path in st.values("Resource", "NotResource"):
            parts = _arn_fields(value)
            if len(parts) < 6:
                continue
            _, partition, _, region, account, _ = parts
            if not _wild(partition) and not _PARTITION_FIELD.fullmatch(partition):
                yield st.hit(path, f"{value}: partition {partition!r} is not an AWS "
                                   f"partition, so the ARN matches no resource",
                             "use aws (or aws-cn, aws-us-gov) as the partition")
            elif not _wild(region) and not _REGION_FIELD.fullmatch(region):
                yield st.hit(path, f"{value}: region {region!r} is not an AWS region "
                                   f"code, so the ARN matches no resource",
                             f"replace {region!r} with the region code (e.g. us-east-1), "
                             f"or * for every region")
            elif not _wild(account) and not _ACCOUNT_FIELD.fullmatch(account):
                yield st.hit(path, f"{value}: account {account!r} is not a 12-digit "
                                   f"account id, so the ARN matches no resource",
                             f"replace {account!r} with the owning account's 12-digit id")


# --------------------------------------------------------------------------- text blocks

@dataclass(frozen=True, slots=True)
class _Block:
    line: int
    start: int
    end: int
    value: Any
    replacements: dict[str, str]  # dummy value -> the placeholder it stands for


_PLACEHOLDER = re.compile(r"<[^<>\"\n]{1,80}>")
_BARE_PLACEHOLDER = re.compile(r"([:\[,]\s*)(<[^<>\"\n]{1,80}>)")
_FENCE = re.compile(r"^```[ \t]*(json|JSON|json5)[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _match_brace(text: str, start: int) -> int | None:
    """Index of the `}` closing the `{` at `start`, reading JSON strings; None if none."""
    depth = 0
    in_string = escaped = False
    for j in range(start, min(len(text), start + _MAX_BLOCK_CHARS)):
        c = text[j]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
            elif c == "\n":
                return None  # JSON strings hold no raw newline: this is not JSON
        elif c == '"':
            in_string = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j
    return None


def _is_policy(value: Any) -> bool:
    return isinstance(value, Mapping) and ("Statement" in value or "Effect" in value)


def _find_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    budget = _SEARCH_BUDGET
    i = text.find("{")
    while i >= 0 and budget > 0:
        j = _match_brace(text, i)
        budget -= (j + 1 - i) * 2 if j is not None else min(len(text) - i, _MAX_BLOCK_CHARS)
        value: Any = _NOT_JSON
        if j is not None:
            chunk = text[i:j + 1]
            for candidate in (chunk, _BARE_PLACEHOLDER.sub(r'\1"\2"', chunk)):
                try:
                    value = json.loads(candidate)
                    break
                except (json.JSONDecodeError, RecursionError):
                    continue
        if j is not None and _is_policy(value):
            replacements: dict[str, str] = {}
            filled = _fill(value, replacements)
            blocks.append(_Block(text.count("\n", 0, i) + 1, i, j + 1, filled, replacements))
            i = text.find("{", j + 1)
        else:
            i = text.find("{", i + 1)
    return blocks


def _broken_fences(text: str, blocks: Sequence[_Block]) -> list[Finding]:
    """CG100 for a ```json block that looks like a policy but yielded no document."""
    out: list[Finding] = []
    for m in _FENCE.finditer(text):
        body = m.group(2)
        if '"Effect"' not in body and '"Statement"' not in body:
            continue
        if any(m.start(2) <= b.start < m.end(2) for b in blocks):
            continue
        line = text.count("\n", 0, m.start(2)) + 1
        out.extend(lint_document(body, name=f"L{line}"))
    return out


def _valid_account(field: str) -> bool:
    return _wild(field) or bool(_ACCOUNT_FIELD.fullmatch(field))


def _valid_region(field: str) -> bool:
    return _wild(field) or bool(_REGION_FIELD.fullmatch(field))


def _dummy(original: str, what: str, replacements: dict[str, str]) -> str:
    for dummy, orig in replacements.items():
        if orig == original and dummy.startswith("9999" if what == "account" else "zz-"):
            return dummy
    n = sum(1 for d in replacements if d.startswith("9999" if what == "account" else "zz-"))
    dummy = f"9999{n + 1:08d}" if what == "account" else f"zz-placeholder-{n + 1}"
    replacements[dummy] = original
    return dummy


def _fill(value: Any, replacements: dict[str, str]) -> Any:
    """Replace placeholders where the engine needs a real value: account and region fields
    of ARNs, and a whole-string account placeholder (`"AWS": "<ACCOUNT_ID>"`)."""
    if isinstance(value, Mapping):
        return {k: _fill(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, replacements) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith("arn:"):
        parts = _arn_fields(value)
        if len(parts) == 6:
            if not _valid_region(parts[3]):
                parts[3] = _dummy(parts[3], "region", replacements)
            if not _valid_account(parts[4]):
                parts[4] = _dummy(parts[4], "account", replacements)
            return ":".join(parts)
        return value
    if _PLACEHOLDER.fullmatch(value) and "account" in value.lower():
        return _dummy(value, "account", replacements)
    return value


def _restore(f: Finding, replacements: Mapping[str, str]) -> Finding:
    if not replacements:
        return f
    message, fix = f.message, f.fix
    for dummy, original in replacements.items():
        message = message.replace(dummy, original)
        fix = fix.replace(dummy, original)
    return replace(f, message=message, fix=fix)


def _condition_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


"""What lint reads: a JSON document, a JSON list of documents, or prose with policy blocks.

Blog posts and READMEs are lintable too: every `{...}` block that parses as JSON and looks
like a policy is a document, and the placeholders such texts use (`<ACCOUNT_A_ID>`,
`AccountB` where an account id belongs) are replaced by dummy values for the check and put
back in the messages.

Input with no policy in it at all (an empty file, prose, a grant.yaml) is an error, not a
clean bill: "All checks passed" would say a file was checked that never was. With `lines`,
each finding also carries the line its statement (or document) starts on, for SARIF.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from crossgrant.errors import CrossgrantError
from crossgrant.findings import Finding
from crossgrant.findings.lines import JsonPath, json_lines, line_of, parse_path
from crossgrant.verify.lint.arns import account_ok, arn_fields, region_ok
from crossgrant.verify.lint.document import Kind
from crossgrant.verify.lint.engine import lint_document

__all__ = ["NoPolicyError", "lint_file", "lint_text"]

# The block search in text tries every `{`: one block is at most this long, and the
# search as a whole reads at most _SEARCH_BUDGET characters, so a hostile file (a million
# unmatched braces) costs seconds, not hours. Real policies are far below both.
_MAX_BLOCK_CHARS: Final = 200_000
_SEARCH_BUDGET: Final = 20_000_000

_NOT_JSON: Final = object()


class NoPolicyError(CrossgrantError):
    """The input holds no policy document (nor anything that tries to be one)."""


def lint_text(text: str, *, source: str = "<text>", kind: Kind | None = None,
              owner_account: str | None = None, lines: bool = False) -> list[Finding]:
    """Lint a JSON document, a JSON list of documents, or prose with JSON policy blocks.

    Document names: "policy" for a lone JSON document, "[i]" in a JSON list, "L<line>"
    for a block found in text or inside other JSON (a CloudFormation template). A `.json`
    source that does not parse is CG100, and so is JSON with no policy anywhere in it;
    anything else with no policy raises `NoPolicyError`. `lines`: set each finding's line.
    """
    def run(doc: Any, name: str, at: dict[JsonPath, int] | None = None,
            prefix: JsonPath = (), first: int = 1) -> list[Finding]:
        found = lint_document(doc, name=name, kind=kind, owner_account=owner_account)
        if not lines:
            return found
        return [_placed(f, at or {}, prefix, first) for f in found]

    stripped = text.lstrip()
    whole: dict[JsonPath, int] | None = None
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            value = _NOT_JSON
        if value is not _NOT_JSON:
            whole = json_lines(text) if lines else None
            if isinstance(value, list):
                out: list[Finding] = []
                for i, item in enumerate(value):
                    out.extend(run(item, f"[{i}]", whole, (i,)))
                if not value:
                    raise NoPolicyError(f"{source}: no policy document found (an empty JSON "
                                        f"list)")
                return out
            if _is_policy(value):
                return run(value, "policy", whole)
            # Not a policy itself (a CloudFormation template, a state file): look inside.
        elif source.endswith(".json"):
            return run(text, "policy", {})
    out = []
    blocks = _find_blocks(text)
    for block in blocks:
        at = json_lines(block.text, block.line) if lines else None
        findings = run(block.value, f"L{block.line}", at, (), block.line)
        out.extend(_restore(f, block.replacements) for f in findings)
    out.extend(_broken_fences(text, blocks, lines))
    if not blocks and not out and stripped.startswith(("{", "[")):
        return run(text, "policy", whole or {})
    if not blocks and not out:
        raise NoPolicyError(f"{source}: no policy document found (expected policy JSON, a "
                            f"JSON list of policies, or text with JSON policy blocks)")
    return out


def _statement_steps(path: str | None) -> JsonPath:
    """The part of a finding's path that leads to its statement: where code scanning should
    point ("Statement[1]"), or the document itself for document-level findings."""
    steps = parse_path(path or "")
    if not steps or steps[0] != "Statement":
        return ()
    return steps[:2] if len(steps) > 1 and isinstance(steps[1], int) else steps[:1]


def _placed(f: Finding, at: dict[JsonPath, int], prefix: JsonPath, first: int) -> Finding:
    line = line_of(at, (*prefix, *_statement_steps(f.path)))
    return f.at(line=line if line is not None else first)


def lint_file(path: str | Path, *, kind: Kind | None = None,
              owner_account: str | None = None, lines: bool = False) -> list[Finding]:
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
    return lint_text(text, source=str(p), kind=kind, owner_account=owner_account, lines=lines)


# --------------------------------------------------------------------------- text blocks

@dataclass(frozen=True, slots=True)
class _Block:
    line: int
    start: int
    end: int
    value: Any
    replacements: dict[str, str]  # dummy value -> the placeholder it stands for
    text: str  # the JSON that parsed (placeholders quoted), for the lines of its values


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
        parsed = ""
        if j is not None:
            chunk = text[i:j + 1]
            for candidate in (chunk, _BARE_PLACEHOLDER.sub(r'\1"\2"', chunk)):
                try:
                    value = json.loads(candidate)
                    parsed = candidate
                    break
                except (json.JSONDecodeError, RecursionError):
                    continue
        if j is not None and _is_policy(value):
            replacements: dict[str, str] = {}
            filled = _fill(value, replacements)
            blocks.append(_Block(text.count("\n", 0, i) + 1, i, j + 1, filled, replacements,
                                 parsed))
            i = text.find("{", j + 1)
        else:
            i = text.find("{", i + 1)
    return blocks


def _broken_fences(text: str, blocks: Sequence[_Block], lines: bool) -> list[Finding]:
    """CG100 for a ```json block that looks like a policy but yielded no document."""
    out: list[Finding] = []
    for m in _FENCE.finditer(text):
        body = m.group(2)
        if '"Effect"' not in body and '"Statement"' not in body:
            continue
        if any(m.start(2) <= b.start < m.end(2) for b in blocks):
            continue
        line = text.count("\n", 0, m.start(2)) + 1
        out.extend(f.at(line=line) if lines else f for f in lint_document(body, name=f"L{line}"))
    return out


# --------------------------------------------------------------------------- placeholders

# Dummies the engine and CG116 accept, unlike anything a text would write.
_DUMMY_PREFIX: Final = {"account": "9999", "region": "us-placeholder-"}


def _dummy(original: str, what: str, replacements: dict[str, str]) -> str:
    prefix = _DUMMY_PREFIX[what]
    for dummy, orig in replacements.items():
        if orig == original and dummy.startswith(prefix):
            return dummy
    n = sum(1 for d in replacements if d.startswith(prefix))
    dummy = f"9999{n + 1:08d}" if what == "account" else f"{prefix}{n + 1}"
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
        parts = arn_fields(value)
        if len(parts) == 6:
            if not region_ok(parts[3]):
                parts[3] = _dummy(parts[3], "region", replacements)
            if not account_ok(parts[4]):
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
        fix = fix.replace(dummy, original) if fix is not None else None
    return replace(f, message=message, fix=fix)

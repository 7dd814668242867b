"""Findings as text, JSON and SARIF 2.1.0: the three ways a finding leaves crossgrant.

Text is one line per finding, never wrapped, so that it greps and diffs; JSON is the same
findings for machines (`Finding.__json__`: file and line when known, then code, severity,
message, fix, document, statement, path and the finding's `data`); SARIF is what code
scanning (GitHub, GitLab, IDEs) reads: one rule per code and one result per finding,
placed in a file and line when the checker knows them and at the document and JSON path
in any case. Pure: the callers print.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from crossgrant import __version__
from crossgrant.findings.model import Finding, Rule, Severity
from crossgrant.serial import to_json as _plain

__all__ = [
    "SARIF_SCHEMA",
    "SARIF_VERSION",
    "sarif_result",
    "sarif_rule",
    "summary",
    "text_line",
    "to_json",
    "to_sarif",
    "to_text",
    "where",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


# --- text --------------------------------------------------------------------------------

def where(f: Finding) -> str:
    """`FILE:LINE:DOCUMENT:STATEMENT`, each part the checker knows (`-` for no document or
    statement), the way compilers lead a message so that editors can jump to it."""
    loc = f.location
    parts = [p for p in (loc.file, None if loc.line is None else str(loc.line)) if p is not None]
    parts += [loc.document or "-", loc.statement or "-"]
    return ":".join(parts)


def text_line(f: Finding) -> str:
    """One finding on one line: `WHERE CODE severity message (fix: ...)`."""
    fix = f" (fix: {f.fix})" if f.fix else ""
    return f"{where(f)} {f.code} {f.severity} {f.message}{fix}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary(findings: Iterable[Finding]) -> str:
    """`3 findings (1 error, 2 warnings, 0 info)`, or `All checks passed.` for none."""
    found = list(findings)
    if not found:
        return "All checks passed."
    n = {s: sum(1 for f in found if f.severity is s) for s in Severity}
    return (f"{_count(len(found), 'finding')} ({_count(n[Severity.ERROR], 'error')}, "
            f"{_count(n[Severity.WARNING], 'warning')}, {n[Severity.INFO]} info)")


def to_text(findings: Iterable[Finding]) -> str:
    """Every finding's line, then the summary; ends with a newline."""
    found = list(findings)
    return "".join(f"{line}\n" for line in [*map(text_line, found), summary(found)])


# --- JSON --------------------------------------------------------------------------------

def to_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """The findings as plain JSON data (a list of objects), in order."""
    return [_plain(f) for f in findings]


# --- SARIF -------------------------------------------------------------------------------

def sarif_rule(rule: Rule) -> dict[str, Any]:
    """A SARIF `reportingDescriptor` for one code."""
    out: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.description or rule.summary},
        "help": {"text": rule.help},
        "defaultConfiguration": {"level": rule.severity.sarif_level},
    }
    if rule.tags:
        out["properties"] = {"tags": list(rule.tags)}
    return out


def _uri(file: str) -> str:
    path = PurePath(file)
    if path.is_absolute():
        return path.as_uri()
    return quote(path.as_posix(), safe="/:@!$&'()*+,;=-._~")


def _is_artifact(file: str) -> bool:
    """Standard input ("-") and labels such as "<text>" are not files a tool can open."""
    return bool(file) and file != "-" and not file.startswith("<")


def _short_name(document: str) -> str:
    return document.rsplit(":", 1)[-1].rsplit("/", 1)[-1] or document


def _locations(f: Finding) -> list[dict[str, Any]]:
    loc = f.location
    out: dict[str, Any] = {}
    if loc.file is not None and _is_artifact(loc.file):
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.file)}}
        if loc.line is not None:
            physical["region"] = {"startLine": loc.line}
        out["physicalLocation"] = physical
    if loc.document is not None:
        if loc.path:
            logical = {"name": loc.path, "fullyQualifiedName": f"{loc.document}#{loc.path}",
                       "kind": "member"}
        else:
            logical = {"name": _short_name(loc.document), "fullyQualifiedName": loc.document,
                       "kind": "resource"}
        out["logicalLocations"] = [logical]
    return [out] if out else []


def _fingerprint(f: Finding) -> str:
    given = f.data.get("id")
    if isinstance(given, str) and given:
        return given
    loc = f.location
    text = "\n".join((f.code, loc.file or "", loc.document or "", loc.statement or "",
                      loc.path or "", f.message))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sarif_result(f: Finding, rule_index: Mapping[str, int]) -> dict[str, Any]:
    """A SARIF `result` for one finding; `rule_index` maps codes to their place in the
    run's rules (a code missing there gets no `ruleIndex`)."""
    out: dict[str, Any] = {"ruleId": f.code}
    if f.code in rule_index:
        out["ruleIndex"] = rule_index[f.code]
    fix = f" (fix: {f.fix})" if f.fix else ""
    out["level"] = f.severity.sarif_level
    out["message"] = {"text": f"{f.message}{fix}"}
    locations = _locations(f)
    if locations:
        out["locations"] = locations
    out["partialFingerprints"] = {"crossgrantFindingId/v1": _fingerprint(f)}
    if f.data:
        out["properties"] = _plain(f.data)
    return out


def to_sarif(findings: Iterable[Finding], rules: Iterable[Rule],
             tool: str = "crossgrant", *,
             suppressed: Iterable[tuple[Finding, str]] = ()) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: `rules` as the driver's rules (all of them, so a clean
    run still says what was checked), one result per finding, then one per `suppressed`
    finding with its justification (SARIF `suppressions`, kind "external": code scanning
    shows them as dismissed, not as alerts)."""
    listed = list(rules)
    index = {r.code: i for i, r in enumerate(listed)}
    results = [sarif_result(f, index) for f in findings]
    for f, why in suppressed:
        result = sarif_result(f, index)
        result["suppressions"] = [{"kind": "external", "justification": why}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": tool, "version": __version__,
                                "semanticVersion": __version__,
                                "rules": [sarif_rule(r) for r in listed]}},
            "results": results,
        }],
    }

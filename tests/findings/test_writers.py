"""The findings model and its writers: text lines that grep, JSON in a fixed key order, and
SARIF 2.1.0 that code-scanning tools accept (checked structurally: the required keys of
the OASIS schema, https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crossgrant import __version__
from crossgrant.findings import Finding, Location, Rule, Severity
from crossgrant.findings.writers import (
    SARIF_SCHEMA,
    summary,
    text_line,
    to_json,
    to_sarif,
    to_text,
    where,
)
from crossgrant.serial import to_json as plain

RULES = (
    Rule("CG101", "unknown-action", Severity.ERROR, "An action no service defines.",
         "Correct the action's spelling."),
    Rule("CG111", "unscoped-list-bucket", Severity.INFO, "ListBucket without s3:prefix.",
         "Add an s3:prefix condition.", description="Longer words.", tags=("s3",)),
)
IN_FILE = Finding("CG101", Severity.ERROR, "unknown action 's3:GetObjekt'",
                  "replace it with 's3:GetObject'",
                  Location("policies/a b.json", 7, "policy", "Statement[0].Action", "Reads"))
NO_FILE = Finding("CG111", Severity.NOTE, "s3:ListBucket lists every key", None,
                  Location(document="arn:aws:s3:::bucket-b"), data={"id": "abc123", "n": (1, 2)})
BARE = Finding("CG101", Severity.WARNING, "whole document", "fix it")


def test_severity_words_and_sarif_levels() -> None:
    assert [str(s) for s in Severity] == ["error", "warning", "info"]
    assert Severity.NOTE is Severity.INFO and Severity("note") is Severity.INFO
    assert [s.sarif_level for s in Severity] == ["error", "warning", "note"]
    assert Severity("warning") == "warning"
    with pytest.raises(ValueError, match="bogus"):
        Severity("bogus")


def test_finding_reads_its_location_and_moves() -> None:
    f = IN_FILE
    assert (f.file, f.line, f.document, f.path, f.statement) == (
        "policies/a b.json", 7, "policy", "Statement[0].Action", "Reads")
    moved = BARE.at(file="-", document="[0]")
    assert moved.location == Location(file="-", document="[0]") and BARE.file is None
    assert hash(NO_FILE) == hash(NO_FILE.at())  # data does not take part in the hash


def test_text_lines_lead_with_where() -> None:
    assert where(IN_FILE) == "policies/a b.json:7:policy:Reads"
    assert where(NO_FILE) == "arn:aws:s3:::bucket-b:-"
    assert where(BARE) == "-:-"
    assert text_line(IN_FILE) == ("policies/a b.json:7:policy:Reads CG101 error unknown "
                                  "action 's3:GetObjekt' (fix: replace it with 's3:GetObject')")
    assert text_line(NO_FILE).endswith("CG111 info s3:ListBucket lists every key")
    assert summary([IN_FILE, NO_FILE, BARE]) == "3 findings (1 error, 1 warning, 1 info)"
    assert summary([IN_FILE]) == "1 finding (1 error, 0 warnings, 0 info)"
    assert summary([]) == "All checks passed."
    assert to_text([IN_FILE]) == f"{text_line(IN_FILE)}\n{summary([IN_FILE])}\n"
    assert to_text([]) == "All checks passed.\n"


def test_json_keys_in_order_file_and_line_only_when_known() -> None:
    records = to_json([IN_FILE, NO_FILE, BARE])
    assert list(records[0]) == ["file", "line", "code", "severity", "message", "fix",
                                "document", "statement", "path"]
    assert records[0]["severity"] == "error" and records[0]["line"] == 7
    assert records[1] == {"code": "CG111", "severity": "info",
                          "message": "s3:ListBucket lists every key", "fix": None,
                          "document": "arn:aws:s3:::bucket-b", "statement": None,
                          "path": None, "id": "abc123", "n": [1, 2]}
    assert records[2]["document"] is None
    assert plain(IN_FILE) == records[0]
    assert json.loads(json.dumps(records)) == records


# The parts of the SARIF 2.1.0 schema a result log must satisfy to be accepted (required
# properties and types of sarifLog, run, tool, reportingDescriptor, result, location).
_MESSAGE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
_SARIF_SUBSET: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {
                    "driver": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"},
                        "rules": {"type": "array", "items": {
                            "type": "object", "required": ["id"], "properties": {
                                "id": {"type": "string"},
                                "shortDescription": _MESSAGE, "fullDescription": _MESSAGE,
                                "help": _MESSAGE,
                                "defaultConfiguration": {"type": "object", "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]}}},
                            }}},
                    }}}},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": _MESSAGE,
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {
                                "type": "object", "required": ["artifactLocation"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"],
                                                         "properties": {"uri": {
                                                             "type": "string"}}},
                                    "region": {"type": "object", "properties": {
                                        "startLine": {"type": "integer", "minimum": 1}}}}},
                            "logicalLocations": {"type": "array", "items": {
                                "type": "object", "properties": {
                                    "name": {"type": "string"},
                                    "fullyQualifiedName": {"type": "string"},
                                    "kind": {"type": "string"}}}},
                        }}},
                        "partialFingerprints": {"type": "object",
                                                "additionalProperties": {"type": "string"}},
                        "properties": {"type": "object"},
                    }}},
            }}},
    },
}


def _validate(log: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(log, _SARIF_SUBSET)


def test_sarif_log_shape() -> None:
    log = json.loads(json.dumps(to_sarif([IN_FILE, NO_FILE, BARE], RULES)))
    _validate(log)
    assert log["$schema"] == SARIF_SCHEMA and log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver == {"name": "crossgrant", "version": __version__,
                      "semanticVersion": __version__, "rules": driver["rules"]}
    first, second = driver["rules"]
    assert first == {"id": "CG101", "name": "unknown-action",
                     "shortDescription": {"text": "An action no service defines."},
                     "fullDescription": {"text": "An action no service defines."},
                     "help": {"text": "Correct the action's spelling."},
                     "defaultConfiguration": {"level": "error"}}
    assert second["fullDescription"] == {"text": "Longer words."}
    assert second["defaultConfiguration"] == {"level": "note"}
    assert second["properties"] == {"tags": ["s3"]}
    in_file, no_file, bare = run["results"]
    assert in_file["ruleId"] == "CG101" and in_file["ruleIndex"] == 0
    assert in_file["level"] == "error"
    assert in_file["message"]["text"] == ("unknown action 's3:GetObjekt' (fix: replace it "
                                          "with 's3:GetObject')")
    assert in_file["locations"] == [{
        "physicalLocation": {"artifactLocation": {"uri": "policies/a%20b.json"},
                             "region": {"startLine": 7}},
        "logicalLocations": [{"name": "Statement[0].Action",
                              "fullyQualifiedName": "policy#Statement[0].Action",
                              "kind": "member"}]}]
    assert len(in_file["partialFingerprints"]["crossgrantFindingId/v1"]) == 16
    assert "properties" not in in_file
    assert no_file["ruleIndex"] == 1 and no_file["level"] == "note"
    assert no_file["locations"] == [{"logicalLocations": [{
        "name": "bucket-b", "fullyQualifiedName": "arn:aws:s3:::bucket-b", "kind": "resource"}]}]
    assert no_file["partialFingerprints"] == {"crossgrantFindingId/v1": "abc123"}
    assert no_file["properties"] == {"id": "abc123", "n": [1, 2]}
    assert "locations" not in bare and bare["level"] == "warning"


def test_sarif_physical_locations_only_for_files() -> None:
    def locations(f: Finding) -> Any:
        return to_sarif([f], ())["runs"][0]["results"][0]["locations"]
    assert "physicalLocation" not in locations(IN_FILE.at(file="-"))[0]
    assert "physicalLocation" not in locations(IN_FILE.at(file="<stdin>"))[0]
    no_line = locations(IN_FILE.at(line=None))[0]["physicalLocation"]
    assert no_line == {"artifactLocation": {"uri": "policies/a%20b.json"}}
    absolute = locations(IN_FILE.at(file="/srv/x.json"))[0]["physicalLocation"]
    assert absolute["artifactLocation"]["uri"] == "file:///srv/x.json"
    whole = locations(IN_FILE.at(path=""))[0]["logicalLocations"][0]
    assert whole == {"name": "policy", "fullyQualifiedName": "policy", "kind": "resource"}


def test_sarif_without_findings_lists_the_rules_and_fingerprints_are_stable() -> None:
    log = to_sarif([], RULES, tool="crossgrant-lint")
    _validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["name"] == "crossgrant-lint"
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["CG101", "CG111"]
    unknown = to_sarif([IN_FILE], ())["runs"][0]["results"][0]
    assert "ruleIndex" not in unknown
    again = to_sarif([IN_FILE], RULES)["runs"][0]["results"][0]
    assert unknown["partialFingerprints"] == again["partialFingerprints"]

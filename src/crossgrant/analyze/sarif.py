"""The findings as a SARIF 2.1.0 log, for code-scanning tools."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crossgrant import __version__
from crossgrant.analyze.findings import RULES, Finding, FindingKind
from crossgrant.serial import to_json

__all__ = ["SARIF_SCHEMA", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_sarif(findings: Iterable[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log for code-scanning tools: one rule per finding kind, one result per
    finding, located at the resource (a logical location: policies have no file)."""
    kinds = list(FindingKind)
    rules = [{
        "id": RULES[k].id,
        "name": RULES[k].name,
        "shortDescription": {"text": RULES[k].short},
        "fullDescription": {"text": RULES[k].full},
        "help": {"text": f"{RULES[k].full} Remove the grant, name the principals meant, or "
                         f"narrow it with aws:PrincipalOrgID / aws:PrincipalAccount."},
        "defaultConfiguration": {"level": RULES[k].level},
        "properties": {"tags": ["security", "external-access", k.value]},
    } for k in kinds]
    results = []
    for f in findings:
        results.append({
            "ruleId": f.rule.id,
            "ruleIndex": kinds.index(f.kind),
            "level": f.rule.level,
            "message": {"text": f.message()},
            "locations": [{"logicalLocations": [{
                "name": f.resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1] or f.resource,
                "fullyQualifiedName": f.resource,
                "kind": "resource",
            }]}],
            "partialFingerprints": {"crossgrantFindingId/v1": f.id},
            "properties": to_json(f),
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "crossgrant", "version": __version__,
                                "semanticVersion": __version__, "rules": rules}},
            "results": results,
        }],
    }

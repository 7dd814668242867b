"""Access-Analyzer-style external-access findings over an `AccountState`.

`analyze(state, zone)` reads every bucket, table, stream, key and role trust policy and
reports, per principal pattern of each Allow statement, who outside the zone of trust can
reach the resource, with which actions, under which conditions, and whether it is public.
`to_sarif` turns the findings into a SARIF 2.1.0 log for code-scanning tools.
"""

from crossgrant.analyze.analysis import analyze
from crossgrant.analyze.expected import split_expected
from crossgrant.analyze.findings import (
    RULES,
    SARIF_SCHEMA,
    Analysis,
    Expected,
    Finding,
    FindingKind,
    Rule,
    to_sarif,
)
from crossgrant.analyze.zone import Zone

__all__ = [
    "RULES",
    "SARIF_SCHEMA",
    "Analysis",
    "Expected",
    "Finding",
    "FindingKind",
    "Rule",
    "Zone",
    "analyze",
    "split_expected",
    "to_sarif",
]

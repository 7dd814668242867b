"""Intended access: the findings a grant declares are not findings.

A cross-account grant exists to let another account in, so analysing the accounts it was
deployed to always reports it. `analyze --expected GRANT` reads what the grant's own
documents open (the caller analyses the grant applied to empty accounts, so "declared"
means exactly what analyze would report for the grant alone) and moves each finding that
access covers out of the findings: same resource, same principal as written, and no
action beyond the declared ones. Anything more (another principal, an extra action, the
same bucket opened to the public) stays a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from crossgrant.analyze.findings import Analysis, Expected, Finding

__all__ = ["split_expected"]


def _resource_key(f: Finding) -> str:
    # A grant names a table's stream without its label (rendered with a stand-in one):
    # the stream of a table is the same resource whatever its label.
    if f.resource_type == "AWS::DynamoDB::Stream":
        return f.resource.split("/stream/", 1)[0] + "/stream"
    return f.resource


def _covers(declared: Finding, f: Finding) -> bool:
    return (_resource_key(declared) == _resource_key(f) and declared.principal == f.principal
            and set(f.actions) <= set(declared.actions))


def split_expected(analysis: Analysis,
                   declared: Sequence[tuple[str, Iterable[Finding]]]) -> Analysis:
    """`analysis` with the findings some grant declares moved to `expected`; `declared`
    holds, per grant file, the findings of that grant alone."""
    by_grant = [(grant, list(found)) for grant, found in declared]
    kept: list[Finding] = []
    expected: list[Expected] = list(analysis.expected)
    for f in analysis.findings:
        grant = next((g for g, found in by_grant if any(_covers(d, f) for d in found)), None)
        if grant is None:
            kept.append(f)
        else:
            expected.append(Expected(f, grant))
    return replace(analysis, findings=tuple(kept), expected=tuple(expected),
                   declared_by=(*analysis.declared_by, *(g for g, _ in by_grant)))

"""The page's evidence: the verify matrix and the analyze findings about the grant.

Both are computed by the functions the commands use (`verify.prove.verify`, the engine
behind `crossgrant verify --json`, and `analyze.analyze`), so the page says what the
commands say; this module only picks the facts a reviewer reads off each row.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossgrant.analyze import Finding, analyze
from crossgrant.iam import StatementRef
from crossgrant.iam.arn import bucket_arn
from crossgrant.render.artifacts import Artifacts, ResourceKind
from crossgrant.report.documents import grant_documents
from crossgrant.verify.prove import Report, Row
from crossgrant.world import AccountState

__all__ = ["GrantFinding", "ProofRow", "grant_findings", "proof_rows"]


@dataclass(frozen=True, slots=True)
class ProofRow:
    """One probe: what was expected, what the engine decided, and which statements (or,
    for an implicit deny, which missing policy) decided it."""

    id: str
    group: str  # "intended" or "adversarial"
    description: str
    expect: str  # "Allow" or "Deny", as `verify --json` says
    result: str
    ok: bool
    action: str  # the deciding step's action
    decision: str  # its effect: Allow, ExplicitDeny, ImplicitDeny
    because: tuple[StatementRef, ...]
    reason: str  # the decision's reason in AccessDenied wording


def proof_rows(report: Report) -> tuple[ProofRow, ...]:
    return tuple(_row(r) for r in report.rows)


def _row(r: Row) -> ProofRow:
    found = r.deciding
    action, decision, reason = "", "", "no request"
    because: tuple[StatementRef, ...] = ()
    if found is not None:
        step, d = found
        action, decision, because = step.action, d.effect.value, d.because
        reason = d.reason(step.action)
    return ProofRow(r.probe.id, r.probe.group, r.probe.description,
                    "Allow" if r.probe.expect_allowed else "Deny",
                    "Allow" if r.allowed else "Deny", r.ok, action, decision, because, reason)


@dataclass(frozen=True, slots=True)
class GrantFinding:
    finding: Finding
    ours: bool  # raised by one of the grant's own statements (expected cross-account access)


def grant_findings(artifacts: Artifacts, applied: AccountState) -> tuple[GrantFinding, ...]:
    """Analyze's findings (zone: the resource's account) about the grant's roles, buckets,
    tables, streams and keys in `applied`, each marked as the grant's own or not."""
    resources = {r.arn for r in artifacts.roles}
    streams: list[str] = []
    for ps in artifacts.resource_policies:
        if ps.kind is ResourceKind.BUCKET:
            resources.add(bucket_arn(ps.resource, artifacts.grant.partition))
        elif ps.kind is ResourceKind.STREAM:
            streams.append(ps.resource.removesuffix("*"))
        else:
            resources.add(ps.resource)
    ours = {(d.address.label, s.ref.label) for d in grant_documents(artifacts, applied)
            for s in d.statements if d.whole or artifacts.owns(s.sid)}
    return tuple(GrantFinding(f, (f.document, f.statement) in ours)
                 for f in analyze(applied).findings
                 if f.resource in resources or f.resource.startswith(tuple(streams)))

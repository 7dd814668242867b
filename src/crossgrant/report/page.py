"""One Markdown review page per grant: the picture, the documents, the proof, the findings.

Reviewers work in pull requests, where Markdown and Mermaid render; the page puts what
they need in the order they look at it. Each section is a function of a `GrantReport`,
so other pages (a diff's) can take the parts they need.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossgrant.render.apply import apply
from crossgrant.render.artifacts import Artifacts, PolicyStatements, RoleArtifact
from crossgrant.render.jsonfiles import (
    dump,
    ordered,
    resource_policy_file,
    role_policy_file,
    role_trust_file,
    statements_document,
)
from crossgrant.report import markdown as md
from crossgrant.report.build import model_of_state
from crossgrant.report.mermaid import flowchart
from crossgrant.report.model import AccessModel, Highlight
from crossgrant.report.nodes import execution_roles
from crossgrant.report.proof import GrantFinding, ProofRow, grant_findings, proof_rows
from crossgrant.verify.prove import Report, RequirementRow, verify
from crossgrant.world import AccountState, DocAddress, DocKind

__all__ = ["GrantReport", "access_section", "build_report", "documents_section",
           "findings_section", "page", "summary_section", "verify_section"]


@dataclass(frozen=True, slots=True)
class GrantReport:
    artifacts: Artifacts
    model: AccessModel
    verification: Report
    proof: tuple[ProofRow, ...]
    findings: tuple[GrantFinding, ...] | None  # None: no state was given
    state_name: str | None = None


def build_report(artifacts: Artifacts, base: AccountState | None = None, *,
                 state_name: str | None = None) -> GrantReport:
    """Everything the page shows, for `artifacts` deployed over `base` (a snapshot)."""
    applied = apply(artifacts, base)
    verification = verify(artifacts, base)
    return GrantReport(artifacts, model_of_state(artifacts, applied), verification,
                       proof_rows(verification),
                       None if base is None else grant_findings(artifacts, applied),
                       state_name)


def page(report: GrantReport) -> str:
    sections = [summary_section(report), access_section(report),
                documents_section(report.artifacts), verify_section(report)]
    if report.findings is not None:
        sections.append(findings_section(report))
    return "\n".join(sections)


def summary_section(report: GrantReport) -> str:
    g = report.artifacts.grant
    where = f"target account {md.code(g.target.account)} ({g.target.region})"
    how = f"assumes role {md.code(g.target.role_name)} in {where}" if g.target.role_name \
        else f"is named directly by the resource policies of {where}"
    checks = len(report.proof) + len(report.verification.requirements)
    bad = sum(not r.ok for r in report.proof) + sum(
        not q.ok for q in report.verification.requirements)
    verdict = f"all {checks} checks as expected" if not bad else \
        f"**{bad} of {checks} checks NOT as expected**"
    over = f" over the state {md.code(report.state_name)}" if report.state_name else ""
    sources = [md.code(r.account) for r in execution_roles(report.artifacts)]
    where_from = f"source account {sources[0]}" if len(sources) == 1 else \
        f"{len(sources)} source accounts ({', '.join(sources)})"
    return (f"# crossgrant report: {md.code(g.name)}\n\n"
            f"Grant file {md.code(g.path)}, mode {md.code(g.mode.value)}: function "
            f"{md.code(g.source.function)} in {where_from} ({g.source.region}) runs as "
            f"{md.code(g.source.execution_role)} and {how}.\n\n"
            f"Verify{over}: {verdict}.\n")


def access_section(report: GrantReport, highlight: Highlight | None = None) -> str:
    m = report.model
    statements = {s for e in m.edges for s in e.statements}
    return ("## Access path\n\n"
            "Drawn from the statements the grant puts into the accounts (after applying it"
            + (" over the state" if report.state_name else "")
            + "), not from the grant file: every arrow is numbered as in the table below, "
              "which names the statements behind it.\n\n"
            + md.fence(flowchart(m, highlight), "mermaid") + "\n"
            + md.access_table(m)
            + f"\n{len(m.edges)} arrows from {len(statements)} statements.\n")


def documents_section(artifacts: Artifacts) -> str:
    """Each account's documents, the source accounts first (they are deployed first)."""
    target = artifacts.grant.target.account
    accounts = list(dict.fromkeys([*(r.account for r in artifacts.roles),
                                   *(p.account for p in artifacts.resource_policies)]))
    accounts.sort(key=lambda account: account == target)
    out = ["## Documents\n"]
    for account in accounts:
        side = "Target" if account == target else "Source"
        out.append(f"### {side} account {md.code(account)}\n")
        for role in artifacts.roles_in(account):
            out.extend(_role_documents(role))
        for ps in artifacts.policies_in(account):
            out.append(_resource_document(ps))
    return "\n".join(out)


def _role_documents(role: RoleArtifact) -> list[str]:
    out = []
    if role.trust_policy is not None:
        label = DocAddress(DocKind.TRUST, role.account, role.arn).label
        out.append(md.details(f"{label}: {role_trust_file(role)} (replaced whole)",
                              md.fence(dump(ordered(role.trust_policy)), "json")))
    for name, doc in role.inline_policies:
        label = DocAddress(DocKind.INLINE, role.account, role.arn, name).label
        out.append(md.details(f"{label}: {role_policy_file(role, name)} (replaced whole)",
                              md.fence(dump(ordered(doc)), "json")))
    return out


def _resource_document(ps: PolicyStatements) -> str:
    sids = ", ".join(str(st.get("Sid")) for st in ps.statements)
    return md.details(f"{ps.label}: {resource_policy_file(ps, False)} (statements {sids}, "
                      f"merged by Sid into the existing policy)",
                      md.fence(dump(statements_document(ps)), "json"))


def verify_section(report: GrantReport) -> str:
    rows = [[str(i), r.group, md.plain(r.description), r.expect,
             r.result + ("" if r.ok else " (NOT as expected)"), _decided_by(r)]
            for i, r in enumerate(report.proof, 1)]
    ok = sum(r.ok for r in report.proof)
    out = ["## Verify\n",
           f"The probe matrix of `crossgrant verify --json`: {ok} of {len(report.proof)} "
           f"probes as expected (intended accesses allowed, adversarial requests denied).\n",
           md.table(["#", "group", "probe", "expect", "result", "decided by"], rows)]
    requirements = report.verification.requirements
    if requirements:
        out.append("\nRequirements on existing resources:\n")
        out.append(md.table(["resource", "field", "required", "actual", "ok", "why"],
                            [_requirement(q) for q in requirements]))
    return "\n".join(out)


def _decided_by(r: ProofRow) -> str:
    head = f"{md.code(r.action)}: {r.decision}" if r.action else r.decision
    if not r.because:
        return f"{head} {md.plain(r.reason)}"
    return head + ": " + "; ".join(
        f"{ref.effect} in {md.code(ref.document)} statement {md.code(ref.label)}"
        for ref in r.because)


def _requirement(q: RequirementRow) -> list[str]:
    actual = "not in the state (assumed)" if q.actual is None else md.code(q.actual)
    return [md.code(q.requirement.resource), md.code(q.requirement.field),
            md.code(q.requirement.value), actual, "yes" if q.ok else "**NO**",
            md.plain(q.requirement.why)]


def findings_section(report: GrantReport) -> str:
    findings = report.findings or ()
    out = ["## Findings\n",
           f"What `crossgrant analyze` (zone: each resource's account) finds about the grant's "
           f"roles, buckets, tables and keys once the grant is applied over the state: "
           f"{len(findings)} finding{'s' if len(findings) != 1 else ''}. The grant's own "
           f"statements are expected to reach across accounts; any other is not the grant's "
           f"and worth a look.\n"]
    if findings:
        out.append(md.table(
            ["rule", "severity", "resource", "principal", "outside", "actions", "statement",
             "whose"],
            [[gf.finding.rule.code, gf.finding.rule.severity.value,
              md.code(gf.finding.resource), md.code(gf.finding.principal),
              md.code(", ".join(gf.finding.external)), md.code(", ".join(gf.finding.actions)),
              f"{md.code(gf.finding.document)} statement {md.code(gf.finding.statement)}",
              "this grant" if gf.ours else "**not this grant**"] for gf in findings]))
    return "\n".join(out)

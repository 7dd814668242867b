"""The finding records: one principal pattern of one Allow statement that reaches outside
the zone, its kind and rule, and the analysis that holds them.

Analyze keeps its own record (who, which actions, under which conditions) because its
table and tests read those facts; `Finding.finding` is the same finding in the shared model
(`crossgrant.findings`), whose writers make the SARIF log. A finding a grant declares
(`analyze --expected`) is kept apart as `Expected`: intended access, not a finding.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from crossgrant import findings as shared
from crossgrant.analyze.resources import document_path
from crossgrant.analyze.zone import Zone
from crossgrant.findings import Location, Rule, Severity
from crossgrant.findings.lines import JsonPath, line_of
from crossgrant.findings.writers import SARIF_SCHEMA
from crossgrant.findings.writers import to_sarif as _sarif_log
from crossgrant.serial import to_json

__all__ = ["RULES", "SARIF_SCHEMA", "Analysis", "Expected", "Finding", "FindingKind", "Rule",
           "to_sarif"]


class FindingKind(enum.StrEnum):
    """Who can reach a resource from outside the zone; each kind is a rule of its own."""

    PUBLIC = "public"
    EXTERNAL_ACCOUNT = "external-account"
    EXTERNAL_ORGANIZATION = "external-organization"
    EXTERNAL_FEDERATED = "external-federated"
    EXTERNAL_CONDITIONAL = "external-conditional"


_FIX = ("Remove the grant, name the principals meant, or narrow it with aws:PrincipalOrgID / "
        "aws:PrincipalAccount.")


def _rule(kind: FindingKind, code: str, name: str, severity: Severity, summary: str,
          description: str) -> Rule:
    return Rule(code, name, severity, summary, help=f"{description} {_FIX}",
                description=description, tags=("security", "external-access", kind.value))


RULES: dict[FindingKind, Rule] = {
    FindingKind.PUBLIC: _rule(
        FindingKind.PUBLIC, "CG301", "PublicAccess", Severity.ERROR,
        "Anyone can reach the resource",
        "An Allow statement names every principal (\"*\") and no condition narrows who: any "
        "AWS account, and for S3 anonymous callers too, can perform the actions listed."),
    FindingKind.EXTERNAL_ACCOUNT: _rule(
        FindingKind.EXTERNAL_ACCOUNT, "CG302", "ExternalAccountAccess", Severity.WARNING,
        "A principal of an account outside the zone of trust can reach the resource",
        "An Allow statement names an account, role or user of another account (or narrows "
        "\"*\" to such accounts): that account can perform the actions listed, as far as its "
        "own policies let its principals."),
    FindingKind.EXTERNAL_ORGANIZATION: _rule(
        FindingKind.EXTERNAL_ORGANIZATION, "CG303", "ExternalOrganizationAccess",
        Severity.WARNING, "Every principal of an organization can reach the resource",
        "An Allow statement grants to every principal whose aws:PrincipalOrgID matches: with "
        "the account as the zone of trust, that is every other account of the organization."),
    FindingKind.EXTERNAL_FEDERATED: _rule(
        FindingKind.EXTERNAL_FEDERATED, "CG304", "ExternalFederatedAccess", Severity.WARNING,
        "Identities of an outside identity provider can reach the resource",
        "An Allow statement grants to a web identity or SAML provider (or an S3 canonical "
        "user): identities that provider vouches for can perform the actions listed."),
    FindingKind.EXTERNAL_CONDITIONAL: _rule(
        FindingKind.EXTERNAL_CONDITIONAL, "CG305", "ConditionalExternalAccess",
        Severity.WARNING, "Anyone meeting the statement's conditions can reach the resource",
        "An Allow statement names every principal and narrows it only by conditions that do "
        "not pin an account or organization (a source IP range, say): not public in S3's "
        "sense, but open to principals of any account that meet them."),
}


@dataclass(frozen=True)
class Finding:
    """One principal pattern of one Allow statement that reaches outside the zone.

    `principal` is the pattern as written ("*", an account id, an ARN, "Federated:NAME");
    `external` says who outside it resolves to (account ids, organization ids, "*", an
    unresolved unique id); `conditions` is the statement's Condition block as written.
    """

    id: str
    kind: FindingKind
    resource: str
    resource_type: str
    resource_account: str
    principal: str
    external: tuple[str, ...]
    actions: tuple[str, ...]
    conditions: dict[str, Any] = field(hash=False)
    document: str
    statement: str
    statement_index: int
    public: bool
    denies: tuple[str, ...] = ()  # Deny statements that narrow but do not clearly cover it
    notes: tuple[str, ...] = ()

    @property
    def rule(self) -> Rule:
        return RULES[self.kind]

    def __json__(self) -> dict[str, Any]:
        # The fields in order, with the rule's code beside the kind for readers who filter
        # on codes.
        written = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"id": self.id, "kind": self.kind, "rule": self.rule.code, **written}

    @property
    def finding(self) -> shared.Finding:
        """This finding in the shared model: located at the resource, its JSON as data."""
        return shared.Finding(self.rule.code, self.rule.severity, self.message(), None,
                              Location(document=self.resource), to_json(self))

    def state_path(self) -> JsonPath:
        """Where its statement sits in the state file's JSON (a lone statement object has
        no index: `line_of` then finds "Statement" itself)."""
        return (*document_path(self.resource_type, self.resource_account, self.resource),
                "Statement", self.statement_index)

    def located(self, file: str | None, lines: Mapping[JsonPath, int] | None) -> shared.Finding:
        """`finding`, placed in the state file at its statement's line when known."""
        line = line_of(lines, self.state_path()) if lines else None
        return self.finding.at(file=file, line=line)

    def message(self) -> str:
        who = ", ".join(self.external)
        acts = short_list(self.actions)
        cond = " under conditions" if self.conditions else ""
        lead = "is public: anyone" if self.public else f"is reachable from outside the " \
                                                      f"zone: {who}"
        return (f"{self.resource} {lead} may {acts}{cond} ({self.document} statement "
                f"{self.statement}, principal {self.principal})")


@dataclass(frozen=True)
class Expected:
    """A finding whose access a grant declares: intended, so not reported as a finding."""

    finding: Finding
    grant: str  # the grant file that declares it

    def __json__(self) -> dict[str, Any]:
        return {**to_json(self.finding), "declared_by": self.grant}


@dataclass(frozen=True)
class Analysis:
    zone: Zone
    findings: tuple[Finding, ...]
    resources: int  # buckets, tables, streams, keys and roles looked at
    skipped: tuple[tuple[str, str], ...] = ()  # (document, why) for unreadable ones
    expected: tuple[Expected, ...] = ()
    declared_by: tuple[str, ...] = ()  # the grant files read for `expected`

    def __json__(self) -> dict[str, Any]:
        # Skipped documents read better as objects than as pairs; `expected` appears only
        # when grants were given, so the output without them is what it always was.
        out: dict[str, Any] = {"zone": self.zone, "resources": self.resources,
                               "findings": self.findings,
                               "skipped": [{"document": d, "reason": r}
                                           for d, r in self.skipped]}
        if self.declared_by:
            out["expected"] = self.expected
        return out


def short_list(items: tuple[str, ...], limit: int = 4) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" (+{len(items) - limit} more)"


def to_sarif(findings: Iterable[Finding], *, file: str | None = None,
             lines: Mapping[JsonPath, int] | None = None,
             expected: Iterable[Expected] = ()) -> dict[str, Any]:
    """A SARIF 2.1.0 log for code-scanning tools: one rule per finding kind, one result per
    finding, located at the resource and, given the state `file` (and its `lines`), at the
    line of the statement in it; `expected` ones are results suppressed as declared."""
    return _sarif_log((f.located(file, lines) for f in findings), RULES.values(),
                      suppressed=[(e.finding.located(file, lines),
                                   f"declared by the grant {e.grant}") for e in expected])

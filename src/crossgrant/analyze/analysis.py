"""Who outside the zone of trust can reach what: external-access findings over an AccountState.

The answer is read off the policies, in the manner of IAM Access Analyzer, rather than by
asking the engine about every principal there is: a resource policy is a statement about
sets of principals (a named account, a role, "everyone", everyone in an organization), and
its conditions narrow those sets (`aws:PrincipalOrgID`, `aws:PrincipalAccount`,
`aws:PrincipalArn`, `aws:SourceVpce`, ...). Reasoning over the sets is exact for the
patterns that matter and takes time linear in the size of the policies, which is what
lets a thousand-account organization be analysed in seconds.

Only Allow statements grant. A Deny removes a finding only when it clearly covers the
same principals, actions and resources: unconditionally, or with a single exception
condition on who the principal is (the data-perimeter pattern `StringNotEquals
aws:PrincipalOrgID`), which then narrows the grant instead. Any other overlapping Deny is
named in the finding, which stays: a Deny conditioned on something the policy cannot
tell (the source IP, TLS) does not make a grant internal.

Zones: "account" trusts only the resource's own account; "org" trusts every account of
the state's organization and any principal whose `aws:PrincipalOrgID` is the
organization's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from crossgrant.analyze.actions import granted_actions
from crossgrant.analyze.conditions import Narrowing, narrowing_from, narrowing_of
from crossgrant.analyze.denies import (
    complement,
    contexts_of,
    deny_action_cover,
    deny_covers_principal,
    deny_holds_everywhere,
    deny_resource_cover,
    residual_conditions,
)
from crossgrant.analyze.findings import Analysis, Finding
from crossgrant.analyze.principals import Entry, principal_entries, unique_ids
from crossgrant.analyze.reach import Reach, reach_of
from crossgrant.analyze.resources import Resource, resources
from crossgrant.analyze.zone import TrustZone, Zone, trust_zone
from crossgrant.errors import CrossgrantError
from crossgrant.iam import Policy
from crossgrant.iam.statement import Statement
from crossgrant.world import AccountState, UnknownPolicy

__all__ = ["analyze"]


def analyze(state: AccountState, zone: Zone | str = Zone.ACCOUNT) -> Analysis:
    """Every external-access finding of every resource policy in `state`."""
    try:
        kind = Zone(zone)
    except ValueError:
        raise CrossgrantError(f"zone must be \"account\" or \"org\", got {zone!r}") from None
    z = trust_zone(state, kind)
    ids = unique_ids(state)
    buckets = {name: acct_id for acct_id, acct in state.accounts.items() for name in acct.buckets}
    rcp_denies = _rcp_denies(state)
    findings: list[Finding] = []
    skipped: list[tuple[str, str]] = []
    count = 0
    for res in resources(state):
        count += 1
        if res.policy is None:
            continue
        if isinstance(res.policy, UnknownPolicy):
            skipped.append((res.label, res.policy.reason))
            continue
        findings.extend(_analyze_policy(res, res.policy, z, ids, buckets,
                                        rcp_denies.get(res.account, ())))
    return Analysis(z.kind, tuple(findings), count, tuple(skipped))


def _rcp_denies(state: AccountState) -> dict[str, tuple[Statement, ...]]:
    org = state.organization
    if org is None:
        return {}
    out: dict[str, tuple[Statement, ...]] = {}
    cache: dict[int, tuple[Statement, ...]] = {}
    for acct_id in state.accounts:
        stmts: list[Statement] = []
        for level in org.rcp_levels(acct_id):
            for doc in level:
                if isinstance(doc, Policy):
                    hit = cache.get(id(doc))
                    if hit is None:
                        hit = tuple(s for s in doc.statements if not s.allow)
                        cache[id(doc)] = hit
                    stmts.extend(hit)
        if stmts:
            out[acct_id] = tuple(stmts)
    return out


def _analyze_policy(res: Resource, policy: Policy, zone: TrustZone, ids: Mapping[str, str],
                    buckets: Mapping[str, str], rcp_denies: tuple[Statement, ...]
                    ) -> list[Finding]:
    denies = [s for s in policy.statements if not s.allow] + list(rcp_denies)
    out: list[Finding] = []
    for st in policy.statements:
        if not st.allow:
            continue
        entries = principal_entries(st.principal_element, ids)
        if not entries:
            continue
        own = narrowing_of(st.conditions, buckets, ids)
        actions = granted_actions(st.action_element, res.service)
        for entry in entries:
            reach = reach_of(entry, own, zone, res.account)
            if reach is None:
                continue
            reach, mentioned = _after_denies(reach, entry, own, st, actions, denies, res, zone,
                                             ids, buckets)
            if reach is None:
                continue
            notes = list(res.notes)
            if reach.public:
                notes.extend(res.public_notes)
            if entry.kind == "unresolved":
                notes.append(f"{entry.pattern} is not a principal of the state: a deleted "
                             f"role's unique id (then nobody can use this grant) or a "
                             f"principal outside the state")
            if st.principal_element is not None and st.principal_element.negated:
                notes.append("Allow with NotPrincipal grants everyone not listed")
            out.append(Finding(
                id=_finding_id(res.arn, res.label, st.ref.index, entry.pattern),
                kind=reach.kind, resource=res.arn, resource_type=res.type,
                resource_account=res.account, principal=entry.pattern,
                external=reach.external, actions=actions,
                conditions=dict(st.source.get("Condition") or {}), document=res.label,
                statement=st.ref.label, statement_index=st.ref.index, public=reach.public,
                denies=mentioned, notes=tuple(notes)))
    return out


def _after_denies(reach: Reach, entry: Entry, own: Narrowing, allow: Statement,
                  actions: tuple[str, ...], denies: list[Statement], res: Resource,
                  zone: TrustZone, ids: Mapping[str, str], buckets: Mapping[str, str]
                  ) -> tuple[Reach | None, tuple[str, ...]]:
    """What is left of `reach` once the Deny statements that clearly cover it have removed
    or narrowed it, and the labels of the overlapping ones that did not."""
    mentioned: list[str] = []
    narrowing = own
    for d in denies:
        every, some = deny_action_cover(d, actions)
        if not some or not deny_covers_principal(d, entry, zone, res.account):
            continue
        label = f"{d.ref.document} statement {d.ref.label}"
        if not every or not deny_resource_cover(d, allow):
            mentioned.append(label)
            continue
        residual = residual_conditions(d)
        if not residual:
            return None, ()
        comp = complement(residual[0]) if len(residual) == 1 else None
        if comp is not None:
            narrowing = narrowing.meet(narrowing_from([comp], buckets, ids))
            narrowed = reach_of(entry, narrowing, zone, res.account)
            if narrowed is None:
                return None, ()
            reach = narrowed
            mentioned.append(label)
            continue
        worlds = contexts_of(entry, zone, res.account)
        if worlds is not None and deny_holds_everywhere(residual, worlds):
            return None, ()
        mentioned.append(label)
    return reach, tuple(dict.fromkeys(mentioned))


def _finding_id(resource: str, document: str, index: int, principal: str) -> str:
    digest = hashlib.sha256(f"{resource}\n{document}\n{index}\n{principal}".encode())
    return digest.hexdigest()[:16]


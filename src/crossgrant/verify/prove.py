"""Prove a grant offline: apply its documents to a state in memory, then run every probe
through the one engine (`world.authorize`) and compare with what was meant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from crossgrant.iam import Decision, PolicyType, Request, parse_policy, parse_principal
from crossgrant.iam.arn import role_arn
from crossgrant.render.apply import apply
from crossgrant.render.artifacts import Artifacts, Requirement, ResourceKind
from crossgrant.render.documents import LAMBDA_SERVICE
from crossgrant.spec.model import Grant
from crossgrant.verify.adversarial import matrix
from crossgrant.verify.steps import (
    INTRUDER_ROLE,
    OTHER_BUCKET,
    OTHER_FUNCTION_ROLE,
    OTHER_TABLE,
    Probe,
    Step,
    outside_org_account,
    outside_units_account,
    third_account,
)
from crossgrant.world import Account, AccountState, Bucket, FrozenMap, Role, Table, authorize
from crossgrant.world.labels import inline_policy_label, trust_policy_label
from crossgrant.world.state import OrgAccount, Organization

_ADMIN = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE},
    "Action": "sts:AssumeRole"}]}


@dataclass(frozen=True, slots=True)
class Row:
    probe: Probe
    allowed: bool
    decisions: tuple[Decision, ...]

    @property
    def ok(self) -> bool:
        return self.allowed == self.probe.expect_allowed

    @property
    def deciding(self) -> tuple[Step, Decision] | None:
        """The step that denied the chain, or the last one when it was allowed."""
        for step, decision in zip(self.probe.steps, self.decisions, strict=False):
            if not decision.allowed:
                return step, decision
        if self.decisions:
            return self.probe.steps[len(self.decisions) - 1], self.decisions[-1]
        return None

    def explanation(self) -> str:
        found = self.deciding
        if found is None:
            return "no request"
        step, decision = found
        return f"{step.action}: {decision.explain(step.action)}"

    def __json__(self) -> dict[str, Any]:
        p = self.probe
        return {"id": p.id, "group": p.group, "description": p.description,
                "expect": _word(p.expect_allowed), "result": _word(self.allowed), "ok": self.ok,
                "steps": [_step_json(s, d) for s, d in zip(p.steps, self.decisions,
                                                           strict=False)]}


def _word(allowed: bool) -> str:
    return "Allow" if allowed else "Deny"


def _step_json(step: Step, decision: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {"principal": step.principal, "action": step.action,
                           "resource": step.resource, "decision": decision.effect,
                           "because": decision.because}
    if decision.missing:
        out["missing"] = decision.missing
    return out


@dataclass(frozen=True, slots=True)
class RequirementRow:
    requirement: Requirement
    actual: str | None  # None: the resource is not in the state, so assumed as required

    @property
    def ok(self) -> bool:
        return self.actual is None or self.actual == self.requirement.value

    def __json__(self) -> dict[str, Any]:
        r = self.requirement
        return {"resource": r.resource, "field": r.field, "required": r.value,
                "actual": self.actual, "ok": self.ok, "why": r.why}


@dataclass(frozen=True, slots=True)
class Report:
    artifacts: Artifacts
    rows: tuple[Row, ...]
    requirements: tuple[RequirementRow, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and all(r.ok for r in self.requirements)

    def __json__(self) -> dict[str, Any]:
        """What `crossgrant verify --json` prints (`crossgrant.serial.to_json(report)`)."""
        return {"grant": self.artifacts.grant.name, "ok": self.ok, "rows": self.rows,
                "requirements": self.requirements}


def _adversaries(g: Grant) -> list[tuple[str, tuple[str, ...]]]:
    """(account, admin role names): the probes' intruders; with many sources also the
    execution role's name where the grant must not reach (outside the accounts, the OUs,
    the organization)."""
    out = [(g.source.account, (INTRUDER_ROLE, OTHER_FUNCTION_ROLE)),
           (third_account(g), (INTRUDER_ROLE,))]
    if g.source.many and g.source.organization is None:
        out.append((third_account(g), (g.source.execution_role,)))
    if g.source.organization is not None:
        out += [(outside_units_account(g), (g.source.execution_role,)),
                (outside_org_account(g), (g.source.execution_role,))]
    return out


def _outside_units(state: AccountState, g: Grant) -> Organization | None:
    """The organization with the outside-the-OUs adversary placed under its root."""
    org = state.organization
    if org is None or g.source.organization is None or org.id != g.source.organization.id:
        return org
    accounts = dict(org.accounts)
    accounts.setdefault(outside_units_account(g), OrgAccount(parent=org.root_id))
    return replace(org, accounts=FrozenMap(accounts))


def verification_state(artifacts: Artifacts, base: AccountState | None = None) -> AccountState:
    """The applied grant plus the adversaries the matrix needs: admins in the source and a
    third account (and, with many sources, the execution role's name outside them), and a
    bucket and table in the target that the grant does not name."""
    state = apply(artifacts, base)
    g = artifacts.grant
    accounts = dict(state.accounts)
    for acct_id, names in _adversaries(g):
        acct = accounts.get(acct_id) or Account(id=acct_id)
        roles = dict(acct.roles)
        for name in names:
            roles.setdefault(name, _admin_role(acct_id, name))
        accounts[acct_id] = replace(acct, roles=FrozenMap(roles))
    target = accounts[g.target.account]
    buckets = dict(target.buckets)
    taken = {b for a in accounts.values() for b in a.buckets}
    if OTHER_BUCKET not in taken:
        buckets[OTHER_BUCKET] = Bucket(name=OTHER_BUCKET, region=g.target.region)
    tables = dict(target.tables)
    tables.setdefault(g.table_arn(OTHER_TABLE), Table(name=OTHER_TABLE, region=g.target.region,
                                                      arn=g.table_arn(OTHER_TABLE)))
    accounts[g.target.account] = replace(target, buckets=FrozenMap(buckets),
                                         tables=FrozenMap(tables))
    return AccountState(accounts=FrozenMap(accounts), organization=_outside_units(state, g))


def _admin_role(account: str, name: str) -> Role:
    arn = role_arn(account, name)
    return Role(name=name, arn=arn,
                trust_policy=parse_policy(_LAMBDA_TRUST, name=trust_policy_label(arn),
                                          policy_type=PolicyType.RESOURCE),
                inline_policies=FrozenMap({"admin": parse_policy(
                    _ADMIN, name=inline_policy_label(arn, "admin"))}))


def run_probe(state: AccountState, probe: Probe) -> Row:
    decisions: list[Decision] = []
    for step in probe.steps:
        request = Request.build(parse_principal(step.principal), step.action, step.resource,
                                context=dict(step.context))
        decision = authorize(state, request)
        decisions.append(decision)
        if not decision.allowed:
            break
    allowed = bool(decisions) and all(d.allowed for d in decisions) \
        and len(decisions) == len(probe.steps)
    return Row(probe, allowed, tuple(decisions))


def verify(artifacts: Artifacts, base: AccountState | None = None) -> Report:
    """Every intended access allowed, every adversarial one denied, requirements met."""
    state = verification_state(artifacts, base)
    rows = tuple(run_probe(state, p) for p in matrix(artifacts))
    reqs = tuple(_check_requirement(base, r) for r in artifacts.requirements)
    return Report(artifacts, rows, reqs)


def _check_requirement(base: AccountState | None, req: Requirement) -> RequirementRow:
    acct = base.account(req.account) if base is not None else None
    if acct is None:
        return RequirementRow(req, None)
    if req.kind is ResourceKind.BUCKET:
        bucket = acct.buckets.get(req.resource)
        value = getattr(bucket, req.field, None) if bucket else None
        return RequirementRow(req, None if value is None else str(value))
    if req.kind is ResourceKind.KEY:
        key = acct.keys.get(req.resource)
        return RequirementRow(req, None if key is None else str(key.aws_managed).lower())
    return RequirementRow(req, None)

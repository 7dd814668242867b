"""The state-backed diagnosis: decide, name the fault, fix it in a scratch state, again.

The request is rebuilt and decided by the same engine as everything else
(`world.authorize`), so the document named is the one the engine actually found wanting,
not the one the message merely hints at. Each fix is applied to a scratch copy of the
state and the request decided again, until it is allowed or no fix can be computed: the
fixes returned are then proven to be sufficient together (`Diagnosis.proven`), which a
list of suggestions written from experience never is.

Which causes explain a decision is the cause families' business (`diagnose/families/`);
this module runs their hooks at each stage (`diagnose/registry.py`) and keeps what they
share: the request, the scratch state, the caller as the state knows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crossgrant.diagnose.apply import apply_fix
from crossgrant.diagnose.explain import agrees
from crossgrant.diagnose.families import FAMILIES, NOTE_IDS
from crossgrant.diagnose.messages import ParsedMessage
from crossgrant.diagnose.model import Cause, Diagnosis, Fix, FixKind, RequestInfo
from crossgrant.diagnose.registry import MISSING_IDS, Step, cause
from crossgrant.diagnose.statements import canonical
from crossgrant.errors import CrossgrantError
from crossgrant.iam import Decision, Effect, Principal, PrincipalKind, Request
from crossgrant.world import (
    AccountState,
    Bucket,
    Collected,
    Role,
    UnknownDecision,
    User,
    authorize,
    collect,
)

__all__ = ["Scratch", "Solver"]

_SEARCH_ROUNDS = 8  # fix-and-decide rounds per request step; each names new causes


@dataclass
class Scratch:
    """The state of the search: the state fixes are applied to, and the request context."""

    state: AccountState
    context: dict[str, str]
    assume_identity: bool = False


class Solver:
    """One state-backed diagnosis; cause families read it, decide with it, fix through it."""

    def __init__(self, parsed: ParsedMessage, state: AccountState, caller: Principal,
                 action: str, resource: str, context: Mapping[str, str], meaning: str,
                 checklist: tuple[str, ...], causes: list[Cause]) -> None:
        self.parsed = parsed
        self.original = state
        self.caller = caller
        self.action = canonical(action)
        self.resource = resource
        self.meaning = meaning
        self.checklist = checklist
        self.causes = causes
        self.notes: list[str] = []
        self.step = Scratch(state, _base_context(state, resource, dict(context)))

    # -- the request -------------------------------------------------------------------

    def request(self, action: str, resource: str, extra: Mapping[str, str] | None = None,
                ) -> Request:
        ctx = self._request_context()
        if extra:
            ctx.update(extra)
        return Request.build(self.caller, action, resource, context=ctx)

    def _request_context(self) -> dict[str, str]:
        ctx = dict(self.step.context)
        ctx.pop("DurationSeconds", None)
        return ctx

    def decide(self, req: Request) -> tuple[Decision, Collected]:
        """The scratch state's answer, with the documents that applied."""
        got = collect(self.step.state, req, assume_identity_allows=self.step.assume_identity)
        return authorize(self.step.state, req,
                         assume_identity_allows=self.step.assume_identity), got

    # -- the caller and the resource as the state knows them ----------------------------

    def entity(self) -> tuple[str, Role | User] | None:
        """The caller's role or user in the scratch state, with "roles" or "users"."""
        p = self.caller
        acct = self.step.state.account(p.account)
        if acct is None or not p.name:
            return None
        if p.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE):
            role = acct.role(p.name)
            return ("roles", role) if role is not None else None
        if p.kind is PrincipalKind.USER:
            user = acct.user(p.name)
            return ("users", user) if user is not None else None
        return None

    def entity_arn(self) -> str | None:
        found = self.entity()
        return found[1].arn if found else None

    def who(self) -> str:
        """The caller as policies name it: the role's ARN with its real path."""
        return self.entity_arn() or self.caller.principal_arn

    def bucket(self) -> Bucket | None:
        """The bucket the request's resource is in, if the state holds it."""
        name = self.step.state.bucket_of(self.resource)
        return self.step.state.bucket(name) if name else None

    # -- the search ----------------------------------------------------------------------

    def run(self) -> Diagnosis:
        req = self.request(self.action, self.resource)
        first = authorize(self.original, req)
        info = RequestInfo(self.caller.arn, self.action, self.resource, self._request_context())
        found: list[Cause] = []
        for family in FAMILIES:
            if family.before is not None:
                found.extend(family.before(self))
        only_notes = len(found) if all(c.id in NOTE_IDS for c in found) else -1
        operation = (self.parsed.operation or "").lower()
        step = "list" if self.action.lower() == "s3:listbucket" and operation in (
            "getobject", "headobject") else "primary"
        found.extend(self.resolve(self.action, self.resource, None, step))
        for family in FAMILIES:
            if family.after is not None:
                found.extend(family.after(self, found))
        if len(found) == only_notes and first.allowed:
            allowed: list[Cause] = []
            for family in FAMILIES:
                if family.allowed is not None:
                    allowed.extend(family.allowed(self, allowed))
            found.extend(allowed)
        self.causes.extend(found)
        proven: bool | None = None
        if any(f.appliable or f.kind is FixKind.CHANGE_REQUEST for c in found
               for f in c.fixes):
            proven = self._prove()
        if not found and not self.causes:
            self.causes.extend(f.fallback(self) for f in FAMILIES if f.fallback is not None)
        return Diagnosis(self.parsed, self.meaning, self.checklist, tuple(self.causes),
                         info, first.explain(self.action), first.effect.value,
                         agrees(self.parsed.reason, first), proven, tuple(self.notes))

    def _prove(self) -> bool:
        decision, _ = self.decide(self.request(self.action, self.resource))
        if not decision.allowed:
            return False
        return all(f.proof(self) for f in FAMILIES if f.proof is not None)

    def apply(self, fixes: Iterable[Fix]) -> bool:
        """Make the fixes in the scratch state; False when one cannot be made."""
        for fix in fixes:
            if fix.kind is FixKind.CHANGE_REQUEST and fix.context:
                self.step.context.update(fix.context)
            elif fix.appliable:
                try:
                    self.step.state = apply_fix(self.step.state, fix)
                except CrossgrantError as exc:
                    self.notes.append(f"the fix \"{fix.summary}\" cannot be applied: {exc}")
                    return False
        return True

    def resolve(self, action: str, resource: str, extra: Mapping[str, str] | None,
                step: Step) -> list[Cause]:
        """Decide, name the fault, fix it in the scratch state, and again, until allowed."""
        found: list[Cause] = []
        seen: set[tuple[str, str | None, tuple[str, ...]]] = set()
        for _ in range(_SEARCH_ROUNDS):
            req = self.request(action, resource, extra)
            decision, got = self.decide(req)
            if decision.allowed:
                break
            causes = [c for c in self._faults(decision, got, req, step) if _key(c) not in seen]
            if not causes:
                break
            seen.update(_key(c) for c in causes)
            found.extend(causes)
            fixes = [f for c in causes for f in c.fixes]
            if not any(f.appliable or f.kind is FixKind.CHANGE_REQUEST for f in fixes) \
                    and not (len(causes) == 1 and causes[0].id in NOTE_IDS):
                break
            if not self.apply(fixes):
                break
        if found:
            for family in FAMILIES:
                regroup = family.regroup.get(step)
                if regroup is not None:
                    found = regroup(self, resource, found)
        return found

    def _faults(self, decision: Decision, got: Collected, req: Request, step: Step
                ) -> list[Cause]:
        if isinstance(decision, UnknownDecision):
            return next((f.unknown(self, decision) for f in FAMILIES if f.unknown), [])
        if decision.effect is Effect.EXPLICIT_DENY:
            return next((f.denied(self, decision, got, req) for f in FAMILIES if f.denied), [])
        missing = decision.missing
        if missing is None:
            return []
        for family in FAMILIES:
            hook = family.missing.get(missing)
            if hook is not None:
                return hook(self, req, got, step)
        cid = MISSING_IDS[missing]
        return [cause(cid, f"No {missing.value} allows {req.action}.", None,
                      (Fix(FixKind.ADVICE, f"allow {req.action} in the {missing.value}"),))]


def _key(c: Cause) -> tuple[str, str | None, tuple[str, ...]]:
    """What makes a cause new in the search: a missing policy at another level of the
    organization has the same id and no document, but another fix."""
    return c.id, c.document, tuple(f.summary for f in c.fixes)


def _base_context(state: AccountState, resource: str, given: dict[str, str]
                  ) -> dict[str, str]:
    """What can be inferred of the request's context: TLS (SDKs use it) and the Region."""
    ctx = {"aws:SecureTransport": "true"}
    region = _region_of(state, resource)
    if region:
        ctx["aws:RequestedRegion"] = region
    ctx.update(given)
    return ctx


def _region_of(state: AccountState, resource: str) -> str | None:
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    name = state.bucket_of(resource)
    bucket = state.bucket(name) if name else None
    return bucket.region if bucket is not None else None

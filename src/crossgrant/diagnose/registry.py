"""Cause families and the stages they hook into.

A cause family is one module under `diagnose/families/` that names its causes (stable id,
title) and says at which stages of a diagnosis it looks for them; the solver runs the
stages and never names a family. Adding a family is adding a module and listing its
`FAMILY` in `families/__init__.py` (the order there is the order hooks run in).

Stages, in the order a diagnosis runs them:

- `message`: what the message alone shows (session durations), with or without a state;
- `before`: facts of the state the engine does not decide (a caller the state does not
  hold, an AWS managed key); may make fixes in the scratch state;
- `missing[policy type]`, `denied`, `unknown`: why the engine denied a request step, by the
  policy type with no allow, an explicit deny, or a document the state does not know;
- `regroup[step]`: how the causes found for one step read together (a missing ListBucket);
- `after`: the further requests the first one entails (S3's calls to KMS);
- `allowed`: the state allows the request: what else explains the denial;
- `proof`: with the fixes made, the entailed requests are allowed too;
- `fallback`: nothing found at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crossgrant.diagnose.model import Cause, Fix
from crossgrant.iam import Decision, PolicyType, Request

if TYPE_CHECKING:
    from crossgrant.diagnose.messages import ParsedMessage
    from crossgrant.diagnose.solver import Solver
    from crossgrant.world import AccountState, Collected, UnknownDecision

__all__ = ["CAUSES", "DENY_IDS", "MISSING_IDS", "Family", "cause", "register"]

# A step of the search: "primary" (the request itself), "kms" (S3's KMS call for it),
# "list" (the s3:ListBucket that turns a missing key's 403 into a 404).
Step = str

MessageHook = Callable[["ParsedMessage", "AccountState | None", "int | None", "str | None",
                        "str | None"], list[Cause]]
BeforeHook = Callable[["Solver"], list[Cause]]
MissingHook = Callable[["Solver", Request, "Collected", Step], list[Cause]]
DeniedHook = Callable[["Solver", Decision, "Collected", Request], list[Cause]]
UnknownHook = Callable[["Solver", "UnknownDecision"], list[Cause]]
RegroupHook = Callable[["Solver", str, list[Cause]], list[Cause]]
FoundHook = Callable[["Solver", Sequence[Cause]], list[Cause]]
ProofHook = Callable[["Solver"], bool]
FallbackHook = Callable[["Solver"], Cause]


@dataclass(frozen=True)
class Family:
    """One family of causes: its ids with their titles, and its hooks (see the module)."""

    name: str
    causes: Mapping[str, str]
    message: MessageHook | None = None
    before: BeforeHook | None = None
    missing: Mapping[PolicyType, MissingHook] = field(default_factory=dict)
    denied: DeniedHook | None = None
    unknown: UnknownHook | None = None
    regroup: Mapping[Step, RegroupHook] = field(default_factory=dict)
    after: FoundHook | None = None
    allowed: FoundHook | None = None
    proof: ProofHook | None = None
    fallback: FallbackHook | None = None
    # ids of causes that say what the state cannot check, not why the request failed
    notes: frozenset[str] = frozenset()


# Every cause id with its title, filled by `register`; ids are stable, tests and docs hold
# them to the table in docs/diagnose.md.
CAUSES: dict[str, str] = {}
_OWNERS: dict[str, str] = {}

# The causes an engine decision names, by the policy type with no allow or with the deny.
MISSING_IDS = {
    PolicyType.IDENTITY: "identity-policy-missing",
    PolicyType.RESOURCE: "resource-policy-missing",
    PolicyType.BOUNDARY: "boundary-missing",
    PolicyType.SESSION: "session-policy-missing",
    PolicyType.VPC_ENDPOINT: "vpce-policy-missing",
    PolicyType.SCP: "scp-missing",
    PolicyType.RCP: "rcp-missing",
}
DENY_IDS = {
    PolicyType.IDENTITY: "identity-deny",
    PolicyType.RESOURCE: "resource-deny",
    PolicyType.BOUNDARY: "boundary-deny",
    PolicyType.SESSION: "session-deny",
    PolicyType.VPC_ENDPOINT: "vpce-deny",
    PolicyType.SCP: "scp-deny",
    PolicyType.RCP: "rcp-deny",
}


def register(families: Iterable[Family]) -> tuple[Family, ...]:
    """Add the families' causes to `CAUSES`; an id claimed twice is a programming error."""
    out = tuple(families)
    for family in out:
        for cid, title in family.causes.items():
            if _OWNERS.setdefault(cid, family.name) != family.name:
                raise ValueError(f"cause id {cid!r} is claimed by {_OWNERS[cid]} and "
                                 f"{family.name}")
            CAUSES[cid] = title
    return out


def cause(cid: str, explanation: str, document: str | None = None,
          fixes: Iterable[Fix] = (), alternatives: Iterable[Fix] = ()) -> Cause:
    """A cause with its registered title."""
    return Cause(cid, CAUSES[cid], explanation, document, tuple(fixes), tuple(alternatives))

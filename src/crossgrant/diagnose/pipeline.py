"""`diagnose`: from an AccessDenied message (and a state, when there is one) to a diagnosis.

Without a state only the message is known; the diagnosis then says what the message means
for a cross-account setup and lists the documents to read, in the order worth reading them.
With a state the request is rebuilt and the solver names the document at fault and proves
the fix.
"""

from __future__ import annotations

from collections.abc import Mapping

from crossgrant.diagnose.explain import meaning_of, message_causes
from crossgrant.diagnose.families import FAMILIES
from crossgrant.diagnose.messages import STS_FORMS, ParsedMessage, parse_message
from crossgrant.diagnose.model import Cause, Diagnosis
from crossgrant.diagnose.solver import Solver
from crossgrant.errors import CrossgrantError
from crossgrant.iam import parse_principal
from crossgrant.world import AccountState

__all__ = ["diagnose"]


def diagnose(message: str | ParsedMessage, state: AccountState | None = None, *,
             duration: int | None = None, principal: str | None = None,
             resource: str | None = None,
             context: Mapping[str, str] | None = None) -> Diagnosis:
    """Explain `message`; with `state`, find the document at fault and prove the fix.

    `duration` is the DurationSeconds the failing AssumeRole asked for, when known;
    `principal` and `resource` fill in what a terse message leaves out (S3's bare
    "Access Denied"); `context` adds request context keys (aws:SourceIp, ...), which win
    over the ones inferred.
    """
    parsed = message if isinstance(message, ParsedMessage) else parse_message(message)
    if not parsed.recognised:
        return Diagnosis(parsed, f"Not recognised: {parsed.note}.", ())
    meaning, checklist = meaning_of(parsed)
    who = principal or parsed.principal
    what = resource or parsed.resource
    action = parsed.action
    causes: list[Cause] = []
    for family in FAMILIES:
        if family.message is not None:
            causes.extend(family.message(parsed, state, duration, who, what))
    sts_only = parsed.form in STS_FORMS  # STS's own rules: no document to look for
    if state is None or who is None or action is None or sts_only:
        if not causes:
            causes.extend(message_causes(parsed, who, what))
        notes: tuple[str, ...] = ()
        if state is not None and not sts_only:
            missing = [n for n, v in (("caller", who), ("action", action)) if v is None]
            notes = (f"the message names no {' and no '.join(missing)}: pass --principal "
                     f"and --resource to check it against the state",)
        return Diagnosis(parsed, meaning, checklist, tuple(causes), notes=notes)
    try:
        caller = parse_principal(who)
        if what is not None and what != "*" and not what.startswith("arn:"):
            raise CrossgrantError(f"the resource {what!r} is not an ARN")
    except CrossgrantError as exc:
        return Diagnosis(parsed, meaning, checklist,
                         tuple(causes or message_causes(parsed, None, what)),
                         notes=(f"cannot rebuild the request: {exc}",))
    return Solver(parsed, state, caller, action, what or "*", context or {},
                  meaning, checklist, causes).run()

"""Sessions: their duration, and the session and VPC endpoint policies a state never holds.

AWS caps a session made with a role session's credentials (role chaining) at one hour,
whatever the target role's MaxSessionDuration, and refuses a DurationSeconds above that
maximum; no policy change lifts either. STS also refuses, before any policy is read, a
DurationSeconds outside 900-43200, the root user as caller, and a malformed or oversized
session policy. Session policies (passed to AssumeRole) and VPC
endpoint policies are not part of a state: when the message blames them and the state
allows the request, that is exactly what to expect, and the statement to add is given
unproven.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crossgrant.diagnose.messages import DURATION_RANGE_RE, Form, ParsedMessage
from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind
from crossgrant.diagnose.registry import DENY_IDS, MISSING_IDS, Family, cause
from crossgrant.diagnose.statements import (
    add_diff,
    identity_statement,
    principal_element,
    resource_statement,
)
from crossgrant.iam import PolicyType
from crossgrant.iam.arn import resource_account
from crossgrant.iam.facts import (
    CHAINED_SESSION_MAX_SECONDS,
    DEFAULT_MAX_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
)
from crossgrant.world import AccountState, Role

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver


def _ask_for(seconds: int, summary: str) -> Fix:
    """The change to the request: ask for `seconds` of session."""
    return Fix(FixKind.CHANGE_REQUEST, summary, context={"DurationSeconds": str(seconds)})


def _sts_causes(m: ParsedMessage, state: AccountState | None, duration: int | None,
                who: str | None, what: str | None) -> list[Cause]:
    if m.form is Form.STS_ROOT_CALLER:
        fix = Fix(FixKind.ADVICE, "call AssumeRole with an IAM user's or a role's credentials, "
                  "never the root user's access keys (delete those: root needs none)")
        return [cause("root-caller", "The caller is the account's root user. STS refuses "
                      "AssumeRole from the root user, whatever the role's trust policy says.",
                      None, (fix,))]
    if m.form is Form.STS_DURATION_RANGE:
        found = DURATION_RANGE_RE.search(m.text)
        asked = int(found.group("value")) if found else duration
        fit = MIN_SESSION_SECONDS if found and found.group("side").lower() == "greater" \
            else MAX_SESSION_SECONDS
        return [cause("duration-out-of-range",
                      f"DurationSeconds{f' {asked}' if asked is not None else ''} is outside "
                      f"the {MIN_SESSION_SECONDS}-{MAX_SESSION_SECONDS} seconds STS accepts; "
                      f"it is checked before the role's MaxSessionDuration.", None,
                      (_ask_for(fit, f"call AssumeRole with DurationSeconds between "
                                     f"{MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS} "
                                     f"(e.g. {fit})"),))]
    if m.form is Form.STS_SESSION_POLICY:
        fix = Fix(FixKind.CHANGE_REQUEST, "pass a valid, smaller session policy (Policy / "
                  "PolicyArns), or none: `crossgrant lint --kind identity POLICY` checks it")
        return [cause("session-policy-invalid",
                      f"STS refused the session policy passed to {m.operation or 'AssumeRole'} "
                      f"({m.error_code or 'malformed or too large'}): it must be a valid "
                      f"identity policy and fit, with the session tags, in STS's packed size "
                      f"limit.", None, (fix,))]
    return _duration_causes(m, state, duration, who, what)


def _duration_causes(m: ParsedMessage, state: AccountState | None, duration: int | None,
                     who: str | None, what: str | None) -> list[Cause]:
    chained = m.form is Form.STS_CHAINED_DURATION
    over_max = m.form is Form.STS_MAX_DURATION
    role: Role | None = None
    if state is not None and what and ":role/" in what:
        acct = state.account(resource_account(what))
        role = acct.role(what.rsplit("/", 1)[-1]) if acct else None
    if duration is not None and (m.action or "").lower() == "sts:assumerole":
        caller_is_session = bool(who and ":assumed-role/" in who)
        if caller_is_session and duration > CHAINED_SESSION_MAX_SECONDS:
            chained = True
        elif role is not None and duration > role.max_session_duration:
            over_max = True
    if chained:
        asked = f" (asked: {duration} s)" if duration is not None else ""
        cap = CHAINED_SESSION_MAX_SECONDS
        return [cause("chained-session-duration",
                      f"The caller is itself a role session, so this AssumeRole is role "
                      f"chaining, which AWS caps at one hour{asked}, whatever the target "
                      f"role's MaxSessionDuration. No policy change can lift the cap.",
                      None, (_ask_for(cap, f"call AssumeRole with DurationSeconds={cap} or "
                                           f"less, and refresh the chained session before "
                                           f"it expires"),))]
    if not over_max:
        return []
    cap = role.max_session_duration if role is not None else DEFAULT_MAX_SESSION_SECONDS
    fixes: tuple[Fix, ...]
    alt: tuple[Fix, ...] = ()
    lower = _ask_for(cap, f"call AssumeRole with DurationSeconds={cap} or less")
    if role is not None and duration is not None and duration <= MAX_SESSION_SECONDS:
        ref = DocRef("role", f"role {role.arn}", resource_account(role.arn), role.name)
        raise_fix = Fix(FixKind.CHANGE_SETTING, f"raise MaxSessionDuration of {role.arn} to "
                        f"{duration}", ref, setting="max_session_duration", value=duration,
                        diff=f"--- {role.arn}\n+++ {role.arn}\n"
                             f"-max_session_duration: {role.max_session_duration}\n"
                             f"+max_session_duration: {duration}")
        fixes, alt = (raise_fix,), (lower,)
    else:
        fixes = (lower,)
    asked = f"{duration} s" if duration is not None else "DurationSeconds"
    return [cause("max-session-duration",
                  f"The request asked for {asked}, over the role's MaxSessionDuration of "
                  f"{cap} s.", None, fixes, alt)]


def _message_only_types(s: Solver, found: Sequence[Cause]) -> list[Cause]:
    """Session and VPC endpoint policies are not in the state; if the message blames
    them, the state allowing the request is exactly what to expect."""
    reason = s.parsed.reason
    if found or reason is None or reason.policy_type not in (PolicyType.SESSION,
                                                             PolicyType.VPC_ENDPOINT):
        return []
    ptype = reason.policy_type
    assert ptype is not None
    cid = (DENY_IDS if reason.explicit else MISSING_IDS)[ptype]
    stmt = identity_statement(s.action, s.resource, set())
    what = "session policy (the Policy/PolicyArns passed to AssumeRole)" \
        if ptype is PolicyType.SESSION else "VPC endpoint policy"
    if ptype is PolicyType.VPC_ENDPOINT:
        stmt = resource_statement(s.action, s.resource,
                                  principal_element(s.caller, s.entity_arn()),
                                  "bucket", set(), None) or stmt
    verb = "remove the Deny covering" if reason.explicit else "allow"
    fix = Fix(FixKind.ADVICE if reason.explicit else FixKind.ADD_STATEMENT,
              f"{verb} {s.action} in the {what}",
              DocRef(ptype.name.lower(), f"the {what}"),
              None if reason.explicit else stmt,
              diff="" if reason.explicit else add_diff(f"the {what}", None, stmt))
    return [cause(cid, f"Every document in the state allows the request, and the message "
                  f"blames the {what}, which the state does not hold. {s.meaning}",
                  f"the {what}", (fix,))]


FAMILY = Family(
    "sessions",
    {"session-policy-missing": "The session policy does not allow the action",
     "vpce-policy-missing": "The VPC endpoint policy does not allow the action",
     "session-deny": "The session policy denies the action",
     "vpce-deny": "The VPC endpoint policy denies the action",
     "chained-session-duration": "Role chaining caps the session at one hour",
     "max-session-duration": "DurationSeconds exceeds the role's maximum session duration",
     "duration-out-of-range": "DurationSeconds is outside the 900-43200 seconds STS accepts",
     "root-caller": "STS refuses AssumeRole from the root user",
     "session-policy-invalid": "STS refused the session policy passed with the call"},
    message=_sts_causes, allowed=_message_only_types)

"""Diagnose AWS AccessDenied messages: parse them, find the document at fault, prove the fix.

`parse_message` reads every AWS message form into fields; `diagnose` explains a message,
and with an `AccountState` rebuilds the request, decides it with the one engine, names the
document at fault and the smallest change that makes the request allowed.

Layout: `messages` (the message model), `model` (the diagnosis: causes, fixes), `explain`
(what a message means without a state), `pipeline` (`diagnose`), `solver` (decide, fix,
decide again), `apply` (fixes made on a state), `statements` (the statements fixes add),
`registry` and `families/` (one module per cause family).
"""

from crossgrant.diagnose.apply import apply_fix, apply_fixes
from crossgrant.diagnose.families import CAUSES
from crossgrant.diagnose.messages import Form, ParsedMessage, Reason, parse_message
from crossgrant.diagnose.model import Cause, Diagnosis, DocRef, Fix, FixKind
from crossgrant.diagnose.pipeline import diagnose

__all__ = [
    "CAUSES",
    "Cause",
    "Diagnosis",
    "DocRef",
    "Fix",
    "FixKind",
    "Form",
    "ParsedMessage",
    "Reason",
    "apply_fix",
    "apply_fixes",
    "diagnose",
    "parse_message",
]

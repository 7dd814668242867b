"""Diagnose AWS AccessDenied messages: parse them, find the document at fault, prove the fix.

`parse_message` reads every AWS message form into fields; `diagnose` explains a message,
and with an `AccountState` rebuilds the request, decides it with the one engine, names the
document at fault and the smallest change that makes the request allowed.
"""

from crossgrant.diagnose.causes import (
    CAUSES,
    Cause,
    Diagnosis,
    DocRef,
    Fix,
    FixKind,
    apply_fix,
    apply_fixes,
    diagnose,
)
from crossgrant.diagnose.messages import Form, ParsedMessage, Reason, parse_message

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

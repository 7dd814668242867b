"""Exit codes: what a failed run exits with, the same for every command.

Several commands exit 1 to say "findings" (lint, verify, analyze, diff, diagnose's "not
recognised", eval --check), so an error, whether the user's (a `CrossgrantError`) or a bug,
must exit with something else, or CI could not tell a finding from a crash: 2, with one
line on stderr. The one command that follows another convention is `plan
--detailed-exitcode` (Terraform's: 0 no changes, 2 pending changes, 1 error); it says so
with `use_error_code(1)` before it can fail.
"""

from __future__ import annotations

__all__ = ["ERROR", "FINDINGS", "OK", "error_code", "use_error_code"]

OK = 0
FINDINGS = 1  # lint, verify, analyze, diff: something to look at
ERROR = 2  # bad input, unreadable files, crossgrant's own bugs

_error = [ERROR]


def error_code() -> int:
    """What this run exits with on an error: 2, unless a command chose otherwise."""
    return _error[0]


def use_error_code(code: int) -> None:
    """Make errors of this run exit with `code` (only `plan --detailed-exitcode`: 1)."""
    _error[0] = code

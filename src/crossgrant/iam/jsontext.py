"""JSON from users, read so that every failure is a one-line typed error naming the place.

Python's `json` raises more than `JSONDecodeError`: a number of more than 4,300 digits
is a `ValueError` (the int/str conversion limit, which also bites when such a number
is turned back into text), and nesting ten thousand deep a `RecursionError`. Policies,
evaluation cases and states are all read through here, so none of them can end the CLI
with a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from crossgrant.errors import CrossgrantError, PolicyError

__all__ = ["loads", "number_text", "shown", "too_many_digits"]


def too_many_digits() -> str:
    return f"a number has more than {sys.get_int_max_str_digits():,} digits"


def loads(text: str, where: str, error: type[CrossgrantError], *,
          line: bool = True) -> Any:
    """Decode `text`; `where` starts each message, `line` adds the line of a syntax error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno} column {exc.colno}" if line else f"column {exc.colno}"
        raise error(f"{where}: invalid JSON at {at}: {exc.msg}") from None
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except ValueError:  # the int/str conversion limit
        raise error(f"{where}: {too_many_digits()}") from None


def number_text(value: int | float, where: str) -> str:
    """`str(value)`, or a PolicyError naming `where` for an integer too long to print."""
    try:
        return str(value)
    except ValueError:
        raise PolicyError(f"{where}: {too_many_digits()}") from None


def shown(value: object) -> str:
    """`repr(value)` for a message, or what it is when that cannot be printed (an integer
    past the digit limit, a structure nested too deeply)."""
    try:
        return repr(value)
    except ValueError:
        return too_many_digits().replace("a number has", "a number with")
    except RecursionError:
        return f"a deeply nested {type(value).__name__}"

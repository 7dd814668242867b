"""What commands read from disk besides grants: state files, read so that every way a file
can be wrong (missing, a directory, binary, not a state) is one line and exit 2, never an
"internal error"."""

from __future__ import annotations

from pathlib import Path

from crossgrant.errors import CrossgrantError
from crossgrant.world import AccountState, load_state

__all__ = ["read_state", "read_state_text", "read_utf8"]


def read_utf8(path: Path, expected: str) -> str:
    """The text of `path`; `expected` names what it should hold, for the message when it
    is not text at all."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CrossgrantError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CrossgrantError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                              f"offset {exc.start}); expected {expected}") from None


def read_state_text(path: Path) -> tuple[str, AccountState]:
    """The state file's text (for the lines of its statements) and the state."""
    text = read_utf8(path, "the JSON of an AccountState (docs/state.md)")
    return text, load_state(text, source=str(path))


def read_state(path: Path | None) -> AccountState | None:
    """The state file at `path`, or None for no state."""
    return None if path is None else read_state_text(path)[1]

"""The lock file that keeps two applies or destroys of one journal from interleaving.

A lock is an advisory `flock` on `JOURNAL.lock`, which the system drops when its holder
dies, so a lock nobody holds is stale by definition: it is removed on release, and every
acquisition first sweeps the directory's lock files that no live process holds (a killed
deploy's, an older crossgrant's that never removed them). The file says who holds it
(pid, host, since when) for the message that names the running holder. Where there is no
`flock`, a lock whose pid is dead, or which is older than `STALE_AFTER`, is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crossgrant.errors import CrossgrantError

STALE_AFTER = 6 * 3600.0  # seconds; only where flock is missing
LOCK_SUFFIX = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - no advisory locks on this platform
    fcntl = None  # type: ignore[assignment]


def _holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_by_content(path: Path) -> bool:
    """Without flock: the holder's pid is dead (same host) or the lock is too old."""
    holder = _holder(path)
    started = holder.get("since")
    if isinstance(started, int | float) and time.time() - started > STALE_AFTER:
        return True
    return holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid"))


def _try_lock(fd: int, path: Path) -> bool:
    if fcntl is None:  # pragma: no cover
        return not _holder(path) or _stale_by_content(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Is `fd` still the file at `path`? A releasing holder unlinks it, and a file
    opened before that is no lock at all."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False


def sweep(directory: Path) -> list[Path]:
    """Remove the lock files in `directory` that no live process holds."""
    removed: list[Path] = []
    for path in sorted(directory.glob(f"*{LOCK_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            if _try_lock(fd, path) and _same_file(fd, path):
                path.unlink(missing_ok=True)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


def _since(holder: dict[str, Any]) -> str:
    if not holder:
        return ""
    since = holder.get("since")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)) \
        if isinstance(since, int | float) else "?"
    return f" (pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {when})"


def _acquire(path: Path, what: str) -> int:
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd, path):
            os.close(fd)
            raise CrossgrantError(f"{path}: another crossgrant {what} is running"
                                  f"{_since(_holder(path))}")
        if not _same_file(fd, path):
            os.close(fd)
            continue
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.write(fd, info)
        return fd
    raise CrossgrantError(f"{path}: could not take the lock: it keeps being replaced")


@contextlib.contextmanager
def hold(path: Path, what: str = "apply or destroy of this grant") -> Iterator[None]:
    """Hold the lock file `path` (removing stale ones beside it first); refuses at once
    when a live process holds it, naming that process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent)
    fd = _acquire(path, what)
    try:
        yield
    finally:
        try:
            if _same_file(fd, path):
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)


__all__ = ["LOCK_SUFFIX", "STALE_AFTER", "hold", "sweep"]

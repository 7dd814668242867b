"""The local journal of one grant's deploys: what crossgrant changed, and what was there
before it first touched it.

`destroy` must put back exactly what it found, and AWS keeps no history of a bucket policy
or a role's trust policy, so the first time crossgrant writes a document it records the
document as it was (a resource policy's exact text). Later applies never overwrite that
record. Every step is logged before and after its AWS call, so an apply that stopped
half-way shows what it did, and the next apply resumes from the live state.

The file is JSON, rewritten atomically after every step; one apply or destroy of a grant
at a time holds its lock file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crossgrant.errors import CrossgrantError

FORMAT_VERSION = 1


# The key of each record: one per thing crossgrant changes (each is its wording's format).
role_key: Callable[[str], str] = "role:{}".format  # role ARN
inline_key: Callable[[str, str], str] = "inline:{}:{}".format  # role ARN, policy name
policy_key: Callable[[str, str], str] = "policy:{}:{}".format  # resource kind, resource
function_key: Callable[[str], str] = "function:{}".format  # function name


def default_journal_path(grant_name: str, base: Path | None = None) -> Path:
    return (base or Path.cwd()) / ".crossgrant" / f"{grant_name}.journal.json"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Journal:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, grant: str, accounts: dict[str, str],
             grant_file: str = "") -> Journal:
        """The journal at `path`, or a new one; one of another grant is refused."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            data: dict[str, Any] = {"version": FORMAT_VERSION, "grant": grant,
                                    "grant_file": grant_file, "accounts": accounts,
                                    "status": "new", "updated": _now(), "resources": {},
                                    "entries": []}
            return cls(path, data)
        except OSError as exc:
            raise CrossgrantError(f"{path}: cannot read the journal: "
                                  f"{exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CrossgrantError(f"{path}: the journal is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise CrossgrantError(f"{path}: not a crossgrant journal (version "
                                  f"{FORMAT_VERSION})")
        if data.get("grant") != grant:
            raise CrossgrantError(f"{path}: this journal belongs to grant "
                                  f"{data.get('grant')!r}, not {grant!r}; pass --journal")
        if data.get("accounts") != accounts:
            raise CrossgrantError(f"{path}: this journal records accounts "
                                  f"{data.get('accounts')}, the grant names {accounts}")
        data.setdefault("resources", {})
        data.setdefault("entries", [])
        return cls(path, data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def status(self) -> str:
        return str(self.data.get("status", "new"))

    # -- what was there before ---------------------------------------------------------

    def original(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.data["resources"].get(key)
            return dict(found) if isinstance(found, dict) else None

    def remember(self, key: str, record: dict[str, Any]) -> None:
        """Record what `key` was before crossgrant's first change; a later call for the
        same key keeps the first record."""
        with self._lock:
            if key in self.data["resources"]:
                return
            self.data["resources"][key] = {**record, "recorded": _now()}
        self.save()

    def update(self, key: str, **fields: Any) -> None:
        with self._lock:
            if key in self.data["resources"]:
                self.data["resources"][key].update(fields)
        self.save()

    def forget(self, key: str) -> None:
        with self._lock:
            self.data["resources"].pop(key, None)
        self.save()

    def resources(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self.data["resources"].items()}

    # -- the log -------------------------------------------------------------------------

    def begin(self, operation: str, account: str, action: str, subject: str) -> int:
        with self._lock:
            entries = self.data["entries"]
            entries.append({"seq": len(entries) + 1, "time": _now(), "operation": operation,
                            "account": account, "action": action, "subject": subject,
                            "status": "started"})
            index = len(entries) - 1
        self.save()
        return index

    def finish(self, index: int, status: str, error: str | None = None) -> None:
        with self._lock:
            entry = self.data["entries"][index]
            entry["status"] = status
            entry["finished"] = _now()
            if error is not None:
                entry["error"] = error
        self.save()

    def set_status(self, status: str) -> None:
        with self._lock:
            self.data["status"] = status
        self.save()

    def save(self) -> None:
        with self._lock:
            self.data["updated"] = _now()
            text = json.dumps(self.data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.{threading.get_ident()}"
                                                  ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the grant's lock file: two applies of one grant must not interleave their
        journal records (applies of different grants may run at once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                import fcntl  # noqa: PLC0415 - POSIX only

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - no advisory locks on this platform
                pass
            except OSError:
                raise CrossgrantError(f"{lock_path}: another crossgrant apply or destroy of "
                                      f"this grant is running") from None
            yield
        finally:
            os.close(fd)


__all__ = ["FORMAT_VERSION", "Journal", "default_journal_path", "function_key", "inline_key",
           "policy_key", "role_key"]

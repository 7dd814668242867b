"""The sandbox's CloudTrail: one JSON line per request, with the decision and why.

Never a secret or a session token: only who, what, on what, and the answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO


@dataclass(frozen=True, slots=True)
class AuditRecord:
    time: str
    principal: str
    source_identity: str | None
    service: str
    operation: str
    action: str | None
    resource: str | None
    decision: str  # Allow, ExplicitDeny, ImplicitDeny, or an error code
    deciding: str | None  # document and statement, or the reason
    status: int

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_FIELDS = tuple(f.name for f in fields(AuditRecord))


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
        self.records: list[AuditRecord] = []  # the last few, for tests and `invoke`
        self._keep = 10_000

    def write(self, record: AuditRecord) -> None:
        # Field by field: dataclasses.asdict deep-copies, which shows on every request.
        line = json.dumps({f: getattr(record, f) for f in _FIELDS}, separators=(",", ":"))
        with self._lock:
            self.records.append(record)
            if len(self.records) > self._keep:
                del self.records[: len(self.records) - self._keep]
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

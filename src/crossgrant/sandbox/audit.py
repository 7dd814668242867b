"""The sandbox's CloudTrail: one JSON line per request, with the decision and why.

Never a secret or a session token: only who, what, on what, and the answer. Each sandbox
starts its log empty: a state directory is reused from one `sandbox up` to the next, and
records of a sandbox that is gone (its accounts, roles and keys gone with it) would be
read as this one's.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from crossgrant.serial import to_json


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


class AuditLog:
    """Records go to a queue; a background thread writes them, so no request waits on the
    disk. `records` keeps the latest in memory for tests and the demo."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")  # a new sandbox: a new log
        self.records: list[AuditRecord] = []
        self._keep = 10_000
        self._queue: queue.SimpleQueue[AuditRecord | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        if self._file is not None:
            self._writer = threading.Thread(target=self._drain, daemon=True,
                                            name="crossgrant-audit")
            self._writer.start()

    def write(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)
            if len(self.records) > self._keep:
                del self.records[: len(self.records) - self._keep]
        if self._writer is not None:
            self._queue.put(record)

    def _drain(self) -> None:
        assert self._file is not None
        while True:
            record = self._queue.get()
            if record is None:
                return
            self._file.write(json.dumps(to_json(record), separators=(",", ":")) + "\n")
            if self._queue.empty():
                self._file.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=5)
            self._writer = None
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

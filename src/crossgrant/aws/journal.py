"""The local journal of one grant's deploys to one place: what crossgrant created there,
what it changed, and what was there before it first touched it.

`destroy` must put back exactly what it found and delete only what crossgrant made, and
AWS keeps no history of a bucket policy or a role's trust policy, so the first time
crossgrant writes a document it records the document as it was (a resource policy's exact
text), and what it creates it records with the created object's identity (a role's
RoleId, the Sids it added). Later applies never overwrite the record of what was there
before. A journal is keyed by grant, accounts and place (`aws.place`): the journal of one
sandbox proves nothing about another sandbox with the same account ids. Every step is
logged before and after its AWS call, so an apply that stopped half-way shows what it did,
and the next apply resumes from the live state.

The file is JSON, rewritten atomically after every step; one apply or destroy of a
journal at a time holds its lock file (`aws.lock`).
"""

from __future__ import annotations

import glob
import json
import os
import threading
import uuid
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crossgrant.aws.lock import LOCK_SUFFIX, hold
from crossgrant.aws.place import Place
from crossgrant.errors import CrossgrantError
from crossgrant.serial import to_json

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: keyed by grant only, no created objects' identities
JOURNAL_DIR = ".crossgrant"
# The source of a journal whose source side is a StackSet (whatever accounts it reaches).
STACKSET_SOURCE = "stackset"


# The key of each record: one per thing crossgrant changes (each is its wording's format).
role_key: Callable[[str], str] = "role:{}".format  # role ARN
inline_key: Callable[[str, str], str] = "inline:{}:{}".format  # role ARN, policy name
policy_key: Callable[[str, str], str] = "policy:{}:{}".format  # resource kind, resource
function_key: Callable[[str], str] = "function:{}".format  # function name
stackset_key: Callable[[str], str] = "stackset:{}".format  # StackSet name


def default_journal_path(grant_name: str, base: Path | None = None, *,
                         accounts: dict[str, str] | None = None,
                         place: Place | None = None) -> Path:
    """`.crossgrant/GRANT.SOURCE-TARGET.PLACE.journal.json` in `base` (the current
    directory); without accounts and place, the path crossgrant used before journals were
    keyed by place (`.crossgrant/GRANT.journal.json`)."""
    directory = (base or Path.cwd()) / JOURNAL_DIR
    if accounts is None or place is None:
        return directory / f"{grant_name}.journal.json"
    return directory / (f"{grant_name}.{accounts.get('source')}-{accounts.get('target')}."
                        f"{place.slug}.journal.json")


def moved_journal(grant_name: str, place: Place, target: str, sources: Collection[str],
                  base: Path | None = None) -> tuple[Path, dict[str, str]] | None:
    """The journal of a grant with many source accounts whose first account changed (it
    was dropped from the list): kept under the first account it had, in this place, and
    recording what crossgrant deployed in one of `sources`. Several such journals are
    refused, as none proves more than another."""
    directory = (base or Path.cwd()) / JOURNAL_DIR
    found: list[tuple[Path, dict[str, str]]] = []
    for path in sorted(directory.glob(f"{glob.escape(grant_name)}.*-{target}."
                                      f"{glob.escape(place.slug)}.journal.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        recorded = data.get("accounts") if isinstance(data, dict) else None
        records = data.get("resources") if isinstance(data, dict) else None
        if data.get("grant") != grant_name or not isinstance(recorded, dict) or \
                recorded.get("target") != target or not isinstance(records, dict) or \
                recorded.get("source") == STACKSET_SOURCE:
            continue
        if any(isinstance(r, dict) and r.get("account") in sources for r in records.values()):
            found.append((path, {str(k): str(v) for k, v in recorded.items()}))
    if len(found) > 1:
        raise CrossgrantError(f"several journals record deploys of grant {grant_name} to "
                              f"these accounts ({', '.join(str(p) for p, _ in found)}): pass "
                              f"--journal")
    return found[0] if found else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Journal:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, grant: str, accounts: dict[str, str],
             grant_file: str = "", place: Place | None = None) -> Journal:
        """The journal at `path`, or a new one; one of another grant, other accounts or
        another place is refused."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            data: dict[str, Any] = {"version": FORMAT_VERSION, "id": uuid.uuid4().hex,
                                    "grant": grant, "grant_file": grant_file,
                                    "accounts": accounts, "place": to_json(place),
                                    "status": "new", "updated": _now(), "resources": {},
                                    "entries": []}
            return cls(path, data)
        except (OSError, UnicodeDecodeError) as exc:
            raise CrossgrantError(f"{path}: cannot read the journal: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CrossgrantError(f"{path}: the journal is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("version") not in READABLE_VERSIONS:
            raise CrossgrantError(f"{path}: not a crossgrant journal (version "
                                  f"{FORMAT_VERSION})")
        if data.get("grant") != grant:
            raise CrossgrantError(f"{path}: this journal belongs to grant "
                                  f"{data.get('grant')!r}, not {grant!r}; pass --journal")
        if data.get("accounts") != accounts:
            raise CrossgrantError(f"{path}: this journal records accounts "
                                  f"{data.get('accounts')}, the grant names {accounts}")
        recorded = data.get("place")
        if place is not None and recorded is not None and recorded != to_json(place):
            where = recorded.get("kind", "?") if isinstance(recorded, dict) else "?"
            raise CrossgrantError(
                f"{path}: this journal records deploys to another place ({where} "
                f"{recorded.get('id') if isinstance(recorded, dict) else recorded}), these "
                f"credentials reach {place.label}; pass another --journal")
        if place is not None and recorded is None:
            data["place"] = to_json(place)  # a legacy journal, now claimed for this place
        data.setdefault("id", uuid.uuid4().hex)
        data.setdefault("resources", {})
        data.setdefault("entries", [])
        return cls(path, data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def status(self) -> str:
        return str(self.data.get("status", "new"))

    @property
    def legacy(self) -> bool:
        """Written by a crossgrant that recorded no created object's identity (version 1)."""
        return self.data.get("version") == 1

    # -- what was there before, and what crossgrant created ------------------------------

    def original(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.data["resources"].get(key)
            return dict(found) if isinstance(found, dict) else None

    def remember(self, key: str, record: dict[str, Any], *, replace: bool = False) -> None:
        """Record what `key` was before crossgrant's first change; a later call for the
        same key keeps the first record, unless `replace` (the recorded object is gone and
        another one took its name)."""
        with self._lock:
            if key in self.data["resources"] and not replace:
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
            self.data["version"] = FORMAT_VERSION
            text = json.dumps(self.data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.{threading.get_ident()}"
                                                  ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def locked(self) -> AbstractContextManager[None]:
        """Hold the journal's lock file: two applies of one grant to one place must not
        interleave their records (applies of different grants may run at once)."""
        return hold(self.path.with_name(self.path.name + LOCK_SUFFIX))


__all__ = ["FORMAT_VERSION", "JOURNAL_DIR", "STACKSET_SOURCE", "Journal", "default_journal_path",
           "function_key", "inline_key", "moved_journal", "policy_key", "role_key",
           "stackset_key"]

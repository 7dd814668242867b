"""Saved plans: `crossgrant plan GRANT --out PLANFILE`, then `crossgrant deploy PLANFILE`.

As with Terraform, a saved plan is what was reviewed, so applying it must apply exactly
that or nothing. The file holds the grant's text (the grant file may change afterwards),
a digest of the documents it renders to (a crossgrant that renders them differently
refuses it), the place and journal it was planned against, and a fingerprint of each
account: a digest of every document the plan read. Deploy reads them all again and
refuses, changing nothing, when any differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crossgrant import __version__
from crossgrant.aws.clients import Accounts
from crossgrant.aws.functions import FunctionBundle
from crossgrant.aws.journal import Journal
from crossgrant.aws.place import place_of
from crossgrant.aws.plan import Plan
from crossgrant.errors import CrossgrantError
from crossgrant.render import render
from crossgrant.render.artifacts import Artifacts
from crossgrant.serial import OMIT, to_json
from crossgrant.spec import parse_grant
from crossgrant.spec.model import Grant

FORMAT = "crossgrant-plan"
VERSION = 1


def _digest(value: Any) -> str:
    text = json.dumps(to_json(value), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def artifacts_digest(artifacts: Artifacts) -> str:
    """The documents a grant renders to (not the grant's wording)."""
    return _digest([artifacts.sid_prefix, artifacts.roles, artifacts.resource_policies,
                    artifacts.requirements])


def journal_digest(journal: Journal) -> str:
    """What the journal records of the accounts, which a plan read as well."""
    return _digest(journal.resources())


@dataclass(frozen=True, slots=True)
class SavedPlan:
    grant: str
    grant_file: str
    grant_text: str
    artifacts: str  # artifacts_digest
    accounts: dict[str, str]
    place: dict[str, Any] | None
    journal: str  # the journal's path, as planned
    journal_digest: str
    adopt: bool
    function: dict[str, Any] | None  # zip path, sha256, handler, runtime, timeout, memory
    fingerprints: dict[str, str]
    plan: dict[str, Any] = field(default_factory=dict)  # `plan --json`, for reading
    path: str = field(default="", metadata=OMIT)

    def __json__(self) -> dict[str, Any]:
        """The format's name and version first, so the file says what it is."""
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                               "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "crossgrant": __version__}
        for name in SavedPlan.__dataclass_fields__:
            if name != "path":
                out[name] = getattr(self, name)
        return out


def write(path: Path, saved: SavedPlan) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(to_json(saved), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def is_saved_plan(path: Path) -> bool:
    """Does `path` hold a saved plan (well formed or not) rather than a grant?"""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return f'"{FORMAT}"' in text
    return isinstance(data, dict) and data.get("format") == FORMAT


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "grant": str, "grant_file": str, "grant_text": str, "artifacts": str, "accounts": dict,
    "place": (dict, type(None)), "journal": str, "journal_digest": str, "adopt": bool,
    "function": (dict, type(None)), "fingerprints": dict, "plan": dict}


def read(path: Path) -> SavedPlan:
    """The saved plan at `path`; anything malformed is one line naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CrossgrantError(f"{path}: cannot read the saved plan: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise CrossgrantError(f"{path}: not a saved plan: the file is not JSON: {exc}") \
            from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CrossgrantError(f"{path}: not a saved plan (format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise CrossgrantError(f"{path}: saved plan version {data.get('version')!r}; this "
                              f"crossgrant reads version {VERSION}: plan again")
    for name, kind in _FIELDS.items():
        if not isinstance(data.get(name), kind):
            raise CrossgrantError(f"{path}: malformed saved plan: {name!r} is missing or "
                                  f"not a {_kind(kind)}")
    if not all(isinstance(k, str) and isinstance(v, str)
               for k, v in {**data["accounts"], **data["fingerprints"]}.items()):
        raise CrossgrantError(f"{path}: malformed saved plan: accounts and fingerprints "
                              f"are objects of strings")
    return SavedPlan(**{name: data[name] for name in _FIELDS}, path=str(path))


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {dict: "JSON object", str: "string", bool: "boolean", type(None): "null"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def save(out: Path, plan: Plan, accounts: Accounts, journal: Journal, *, adopt: bool,
         bundle: FunctionBundle | None) -> None:
    """Write `plan` (made with `journal`, `adopt` and `bundle`) to `out`."""
    grant = plan.artifacts.grant
    try:
        text = Path(grant.path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CrossgrantError(f"{grant.path}: cannot read: {exc.strerror or exc}") from None
    function = None if bundle is None else {
        "zip": str(bundle.zip_path.resolve()), "sha256": bundle.sha256,
        "handler": bundle.handler, "runtime": bundle.runtime, "timeout": bundle.timeout,
        "memory": bundle.memory}
    write(out, SavedPlan(
        grant.name, grant.path, text, artifacts_digest(plan.artifacts),
        {"source": grant.source.account, "target": grant.target.account},
        to_json(place_of(accounts)), str(journal.path.resolve()), journal_digest(journal),
        adopt, function, dict(plan.fingerprints), to_json(plan)))


def load(path: Path, place: Callable[[Grant], Grant] | None = None) \
        -> tuple[SavedPlan, Artifacts, FunctionBundle | None]:
    """A saved plan, its grant rendered as it was planned, and its function package,
    which must not have changed either. `place` puts an organization grant's members
    where the plan found them (the sandbox's accounts in its OUs)."""
    saved = read(path)
    grant = parse_grant(saved.grant_text, saved.grant_file)
    artifacts = render(place(grant) if place is not None else grant)
    if artifacts_digest(artifacts) != saved.artifacts:
        raise CrossgrantError(f"{path}: this crossgrant renders {saved.grant_file} into other "
                              f"documents than the one that made the plan: plan again")
    bundle = None
    if saved.function is not None:
        fn = saved.function
        bundle = FunctionBundle.load(Path(str(fn.get("zip"))), handler=fn.get("handler"),
                                     runtime=fn.get("runtime"),
                                     timeout=int(fn.get("timeout", 30)),
                                     memory=int(fn.get("memory", 256)))
        if bundle.sha256 != fn.get("sha256"):
            raise CrossgrantError(f"{path}: the function package {bundle.zip_path} changed "
                                  f"since the plan was made: plan again")
    return saved, artifacts, bundle


def check(saved: SavedPlan, accounts: Accounts, journal: Journal) -> None:
    """Refuse a saved plan for another place, or made before the journal changed (the
    accounts' own documents are compared by `apply`, under the journal's lock)."""
    place = place_of(accounts)
    if saved.place != to_json(place):
        raise CrossgrantError(f"{saved.path}: the plan was made for another place than "
                              f"{place.label}: pass the credentials options it was made "
                              f"with, or plan again")
    if journal_digest(journal) != saved.journal_digest:
        raise CrossgrantError(f"{saved.path}: the journal {journal.path} changed since the "
                              f"plan was made; nothing was changed: plan again")


__all__ = ["FORMAT", "VERSION", "SavedPlan", "artifacts_digest", "check", "is_saved_plan",
           "journal_digest", "load", "read", "save", "write"]

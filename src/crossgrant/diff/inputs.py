"""What `diff` and `check` compare: policy documents, grant files or account states.

A file is read by what it is: YAML is a grant (rendered, then applied in memory to
empty accounts or to a base state), a JSON object with `Statement` is a policy document,
one with `accounts` an AccountState. A document's type is given (`--type`) or guessed:
a Principal makes it a resource policy, a trust policy if it only names role trust
actions; without one it is an identity policy.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossgrant.diff.automaton import Glob
from crossgrant.diff.sides import DocType
from crossgrant.errors import CrossgrantError
from crossgrant.iam import TRUST_ACTIONS, Policy, compile_glob
from crossgrant.iam.patterns import glob_tokens
from crossgrant.world import AccountState, load_state
from crossgrant.world.address import DocAddress, documents

__all__ = ["Input", "InputKind", "guess_type", "read_input", "state_statements", "world_globs"]


class InputKind(enum.StrEnum):
    """What a diff argument turned out to be, which decides how its requests are derived."""

    DOCUMENT = "document"
    GRANT = "grant"
    STATE = "state"


@dataclass(frozen=True, slots=True)
class Input:
    kind: InputKind
    path: str
    document: Mapping[str, Any] | None = None
    state: AccountState | None = None


def read_input(path: Path, *, base: AccountState | None = None) -> Input:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CrossgrantError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        return Input(InputKind.GRANT, str(path), state=grant_state(path, base))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CrossgrantError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                              f"{exc.msg} (expected a policy document, an AccountState or, "
                              f"as .yaml, a grant)") from None
    if isinstance(data, Mapping) and "Statement" in data:
        return Input(InputKind.DOCUMENT, str(path), document=data)
    if isinstance(data, Mapping) and "accounts" in data:
        return Input(InputKind.STATE, str(path), state=load_state(text, source=str(path)))
    raise CrossgrantError(f"{path}: neither a policy document (no Statement) nor an "
                          f"AccountState (no accounts)")


def grant_state(path: Path, base: AccountState | None) -> AccountState:
    """The accounts after deploying the grant in `path` over `base`, in memory."""
    from crossgrant.render import render  # noqa: PLC0415 - grants pull in pydantic and yaml
    from crossgrant.render.apply import apply  # noqa: PLC0415
    from crossgrant.spec import load_grant  # noqa: PLC0415

    return apply(render(load_grant(path)), base)


def guess_type(doc: Mapping[str, Any]) -> DocType:
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    named = [s for s in statements if isinstance(s, Mapping)
             and ("Principal" in s or "NotPrincipal" in s)]
    if not named:
        return DocType.IDENTITY
    actions: list[str] = []
    for s in statements:
        value = s.get("Action", []) if isinstance(s, Mapping) else []
        actions.extend([value] if isinstance(value, str) else value)
    if actions and all(any(compile_glob(a.lower())(t) for t in TRUST_ACTIONS)
                       and a.lower().startswith("sts:") for a in actions):
        return DocType.TRUST
    return DocType.RESOURCE


def state_statements(state: AccountState) -> Iterator[tuple[DocAddress, Policy]]:
    """The known documents of a state (unknown ones have no statements to read)."""
    for addr, doc in documents(state):
        if isinstance(doc, Policy):
            yield addr, doc


def _glob(text: str, *, ignore_case: bool = False) -> Glob:
    return Glob(tuple(glob_tokens(text)), arn=True, strict=True, ignore_case=ignore_case)


def world_globs(states: Iterable[AccountState], accounts: Iterable[str]
                ) -> tuple[list[Glob], list[str]]:
    """Patterns that split resources the way the world routes them (which account, which
    bucket, table, stream, key, alias or role), and example resources for each."""
    globs = [_glob("arn:*:s3:::*")]
    seeds: list[str] = []
    for account_id in sorted(set(accounts)):
        globs.append(_glob(f"arn:*:*:*:{account_id}:*"))
    for state in states:
        for acct in state.accounts.values():
            for name in acct.buckets:
                globs += [_glob(f"arn:aws:s3:::{name}"), _glob(f"arn:aws:s3:::{name}/*")]
                seeds += [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/example"]
            for arn, table in acct.tables.items():
                globs += [_glob(arn), _glob(f"{arn}/*")]
                seeds += [arn, f"{arn}/index/example"]
                if table.stream_arn:
                    globs.append(_glob(table.stream_arn))
                    seeds.append(table.stream_arn)
            for arn, key in acct.keys.items():
                globs.append(_glob(arn))
                seeds.append(arn)
                for alias in key.aliases:
                    alias_arn = f"arn:aws:kms:{key.region}:{acct.id}:{alias}"
                    globs.append(_glob(alias_arn))
                    seeds.append(alias_arn)
            for role in acct.roles.values():
                prefix = f"arn:aws:iam::{acct.id}:role/"
                globs += [_glob(prefix + role.name, ignore_case=True),
                          _glob(f"{prefix}*/{role.name}", ignore_case=True)]
                seeds.append(role.arn)
    return globs, seeds

"""Policy documents: parsed, validated and compiled once, then matched many times."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crossgrant.errors import PolicyError
from crossgrant.iam.statement import PolicyType, Statement, StatementRef, compile_statement

__all__ = ["MAX_DOCUMENT_CHARS", "Policy", "PolicyType", "StatementRef", "parse_bare_statement",
           "parse_policy"]

VERSIONS = ("2012-10-17", "2008-10-17")
MAX_DOCUMENT_CHARS = 1_000_000  # far above any AWS limit; guards against hostile input
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})


@dataclass(frozen=True, eq=False)
class Policy:
    name: str
    policy_type: PolicyType
    version: str
    statements: tuple[Statement, ...]
    document: dict[str, Any] = field(repr=False)
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, repr=False)
    _by_request: dict[tuple[str, str], tuple[Statement, ...]] = field(default_factory=dict,
                                                                     repr=False)

    def statements_for(self, action_key: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers a lower-cased action, memoised."""
        hit = self._by_action.get(action_key)
        if hit is None:
            hit = tuple(s for s in self.statements if s.covers_action(action_key))
            if len(self._by_action) < 4096:
                self._by_action[action_key] = hit
        return hit

    def candidates(self, action_key: str, resource: str) -> tuple[Statement, ...]:
        """Statements that cover the action and may cover the resource, memoised.

        A statement whose Resource holds a policy variable stays a candidate: only the
        request's context can decide it (see `Statement.resources.has_variables`).
        """
        key = (action_key, resource)
        hit = self._by_request.get(key)
        if hit is None:
            hit = tuple(s for s in self.statements_for(action_key)
                        if s.resources is None or s.resources.static_verdict(resource)
                        is not False)
            if len(self._by_request) < 16384:
                self._by_request[key] = hit
        return hit

    def canonical_json(self) -> str:
        """The document as compact JSON with sorted keys: equal documents, equal text."""
        return json.dumps(self.document, sort_keys=True, separators=(",", ":"))

    def __json__(self) -> dict[str, Any]:
        return self.document

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and self.document == other.document \
            and self.policy_type is other.policy_type

    def __hash__(self) -> int:
        return hash(self.canonical_json())


def parse_policy(doc: str | Mapping[str, Any], *, name: str = "policy",
                 policy_type: PolicyType = PolicyType.IDENTITY) -> Policy:
    """Parse a document (JSON text or an already-decoded object) for use as `policy_type`.

    `name` labels the document in errors and in decisions.
    """
    return _parse(doc, name, policy_type, bare=False)


def parse_bare_statement(statement: Mapping[str, Any], *, name: str = "policy",
                         policy_type: PolicyType = PolicyType.IDENTITY) -> Policy:
    """A statement pasted on its own, as a one-statement 2012-10-17 document.

    Its paths start at the element ("Action", not "Statement[0].Action"), so a finding
    points at what the author actually wrote.
    """
    return _parse({"Version": "2012-10-17", "Statement": [dict(statement)]}, name,
                  policy_type, bare=True)


def _parse(doc: str | Mapping[str, Any], name: str, policy_type: PolicyType, *,
           bare: bool) -> Policy:
    if isinstance(doc, str):
        if len(doc) > MAX_DOCUMENT_CHARS:
            raise PolicyError(f"{name}: document is {len(doc):,} characters, over the "
                              f"{MAX_DOCUMENT_CHARS:,} limit")
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                              f"{exc.msg}") from None
        except RecursionError:
            raise PolicyError(f"{name}: JSON nested too deeply") from None
    if not isinstance(doc, Mapping):
        raise PolicyError(f"{name}: a policy document must be a JSON object")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise PolicyError(f"{name}: unknown top-level field {sorted(unknown)[0]!r}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"{name}: Version must be \"2012-10-17\" or \"2008-10-17\", "
                          f"got {version!r}")
    if "Statement" not in doc:
        raise PolicyError(f"{name}: missing Statement")
    raw = doc["Statement"]
    single = isinstance(raw, Mapping)
    raws = [raw] if single else raw
    if not isinstance(raws, list):
        raise PolicyError(f"{name}: Statement must be an object or a list of objects")
    variables = version == "2012-10-17"
    statements = tuple(
        compile_statement(r, i, document=name, policy_type=policy_type, variables=variables,
                          path="" if bare else "Statement" if single
                          else f"Statement[{i}]")
        for i, r in enumerate(raws))
    seen: set[str] = set()
    for s in statements:
        sid = s.ref.sid
        if sid:
            if sid in seen:
                raise PolicyError(f"{name}: Statement[{s.ref.index}]: duplicate Sid {sid!r}")
            seen.add(sid)
    return Policy(name, policy_type, version, statements, _plain(doc))


def _plain(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-clean copy of the document, so serialising never sees foreign types."""
    try:
        result: dict[str, Any] = json.loads(json.dumps(doc))
    except (TypeError, ValueError, RecursionError) as exc:
        raise PolicyError(f"document is not plain JSON: {exc}") from None
    return result

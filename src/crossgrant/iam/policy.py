"""Policy documents: parsed, validated and compiled once, then matched many times."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crossgrant.errors import PolicyError
from crossgrant.iam.jsontext import loads, shown, too_many_digits
from crossgrant.iam.memo import Memo
from crossgrant.iam.statement import (
    PatternSet,
    PolicyType,
    Statement,
    StatementRef,
    compile_statement,
)

__all__ = ["MAX_DOCUMENT_CHARS", "Policy", "PolicyType", "StatementRef", "parse_bare_statement",
           "parse_policy"]

VERSIONS = ("2012-10-17", "2008-10-17")
MAX_DOCUMENT_CHARS = 1_000_000  # far above any AWS limit; guards against hostile input
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})


@dataclass(frozen=True, slots=True)
class _Selection:
    """The statements of one policy that cover one action, with their Resource elements
    deduplicated: `sets[index[i]]` is statement i's (shared) pattern set, -1 for none."""

    statements: tuple[Statement, ...]
    sets: tuple[PatternSet, ...]
    index: tuple[int, ...]

    @classmethod
    def of(cls, statements: tuple[Statement, ...]) -> _Selection:
        sets: dict[int, tuple[int, PatternSet]] = {}
        index = []
        for s in statements:
            rs = s.resources
            if rs is None:
                index.append(-1)
            else:
                index.append(sets.setdefault(id(rs), (len(sets), rs))[0])
        return cls(statements, tuple(rs for _, rs in sets.values()), tuple(index))

    def for_resource(self, resource: str) -> tuple[Statement, ...]:
        """The statements whose Resource may cover `resource`; each distinct Resource list
        is matched once."""
        sets = self.sets
        if not sets:
            return self.statements
        if len(sets) == 1 and -1 not in self.index:
            return self.statements if sets[0].static_verdict(resource) is not False else ()
        verdicts = [rs.static_verdict(resource) is not False for rs in sets]
        return tuple([s for s, i in zip(self.statements, self.index, strict=True)
                      if i < 0 or verdicts[i]])


_NO_SELECTION = _Selection((), (), ())


@dataclass(frozen=True, eq=False, slots=True)
class Policy:
    name: str
    policy_type: PolicyType
    version: str
    statements: tuple[Statement, ...]
    document: dict[str, Any] = field(repr=False)
    # Made on first use: most documents of a large state are never asked anything.
    _by_action: Memo[str, _Selection] | None = field(default=None, repr=False)
    _by_request: Memo[tuple[str, str], tuple[Statement, ...]] | None = field(
        default=None, repr=False)

    def _selection(self, action_key: str) -> _Selection:
        memo = self._by_action
        if memo is None:
            memo = Memo()
            object.__setattr__(self, "_by_action", memo)
        hit = memo.get(action_key)
        if hit is None:
            covering = tuple(s for s in self.statements if s.covers_action(action_key))
            hit = _Selection.of(covering) if covering else _NO_SELECTION
            memo.put(action_key, hit)
        return hit

    def statements_for(self, action_key: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers a lower-cased action, memoised."""
        return self._selection(action_key).statements

    def candidates(self, action_key: str, resource: str) -> tuple[Statement, ...]:
        """Statements that cover the action and may cover the resource, memoised.

        A statement whose Resource holds a policy variable stays a candidate: only the
        request's context can decide it (see `Statement.resources.has_variables`).
        """
        memo = self._by_request
        if memo is None:
            memo = Memo(16384)
            object.__setattr__(self, "_by_request", memo)
        key = (action_key, resource)
        hit = memo.get(key)
        if hit is None:
            hit = self._selection(action_key).for_resource(resource)
            memo.put(key, hit)
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
                 policy_type: PolicyType = PolicyType.IDENTITY,
                 handed_over: bool = False) -> Policy:
    """Parse a document (JSON text or an already-decoded object) for use as `policy_type`.

    `name` labels the document in errors and in decisions. A decoded document is copied,
    so that the caller's object can change afterwards; `handed_over=True` says it was just
    decoded from JSON text and will not change, so the Policy keeps it as it is (a state
    loader decoding a large file saves a second copy of every document).
    """
    plain = handed_over and isinstance(doc, dict)
    return _parse(doc, name, policy_type, bare=False, plain=plain)


def parse_bare_statement(statement: Mapping[str, Any], *, name: str = "policy",
                         policy_type: PolicyType = PolicyType.IDENTITY) -> Policy:
    """A statement pasted on its own, as a one-statement 2012-10-17 document.

    Its paths start at the element ("Action", not "Statement[0].Action"), so a finding
    points at what the author actually wrote.
    """
    return _parse({"Version": "2012-10-17", "Statement": [dict(statement)]}, name,
                  policy_type, bare=True)


def _parse(doc: str | Mapping[str, Any], name: str, policy_type: PolicyType, *,
           bare: bool, plain: bool = False) -> Policy:
    owned: Any = doc if plain else None  # the document as JSON values, owned by the Policy
    if isinstance(doc, str):
        if len(doc) > MAX_DOCUMENT_CHARS:
            raise PolicyError(f"{name}: document is {len(doc):,} characters, over the "
                              f"{MAX_DOCUMENT_CHARS:,} limit")
        doc = owned = loads(doc, name, PolicyError)  # fresh from the text: no copy needed
    if not isinstance(doc, Mapping):
        raise PolicyError(f"{name}: a policy document must be a JSON object")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise PolicyError(f"{name}: unknown top-level field {shown(sorted(unknown, key=str)[0])}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"{name}: Version must be \"2012-10-17\" or \"2008-10-17\", "
                          f"got {shown(version)}")
    if "Statement" not in doc:
        raise PolicyError(f"{name}: missing Statement")
    raw = doc["Statement"]
    single = isinstance(raw, Mapping)
    raws = [raw] if single else raw
    if not isinstance(raws, list):
        raise PolicyError(f"{name}: Statement must be an object or a list of objects")
    problem = None
    if owned is None:
        owned, problem = _plain(doc)
    # Each statement keeps its part of the owned document as its `source` (no copy).
    sources = (None if owned is None else
               [owned["Statement"]] if single else owned["Statement"])
    variables = version == "2012-10-17"
    statements = tuple(
        compile_statement(r, i, document=name, policy_type=policy_type, variables=variables,
                          path="" if bare else "Statement" if single
                          else f"Statement[{i}]",
                          source=None if sources is None else sources[i])
        for i, r in enumerate(raws))
    seen: set[str] = set()
    for s in statements:
        sid = s.ref.sid
        if sid:
            if sid in seen:
                raise PolicyError(f"{name}: Statement[{s.ref.index}]: duplicate Sid {sid!r}")
            seen.add(sid)
    if problem is not None:
        raise PolicyError(f"{name}: document is not plain JSON: {problem}")
    return Policy(name, policy_type, version, statements, owned)


def _plain(doc: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON-clean copy of the document, so serialising never sees foreign types; or
    None and why not."""
    try:
        result: dict[str, Any] = json.loads(json.dumps(doc))
    except ValueError:
        return None, too_many_digits()
    except RecursionError:
        return None, "nested too deeply"
    except TypeError as exc:
        return None, str(exc)
    return result, None

"""Action classes: the actions every Action/NotAction pattern of both sides treats alike.

For the services in crossgrant's action catalog the universe is closed: the catalog's
actions, every action a document names literally, and one action of each service that the
catalog does not know (AWS adds actions; `s3:*` grants them, a list of today's actions
does not). Such an unknown action matches exactly the patterns that match every action of
its service (`s3:*`, `*`), which is what makes a wildcard written for exactly the listed
catalog actions an equivalent rewrite. For every other service nothing is known, so the
patterns themselves split its actions, exactly, with the automaton the resources use. The
engine also reads the action itself (role trust actions, KMS), so those features split
classes too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from crossgrant.diff.automaton import Automaton, Glob
from crossgrant.iam import TRUST_ACTIONS, compile_glob
from crossgrant.iam.actions import (
    all_actions,
    expand_action_pattern,
    known_services,
    lookup_action,
)
from crossgrant.iam.patterns import glob_tokens

__all__ = ["ActionClass", "action_classes", "unknown_action"]

_ALIAS_ACTIONS = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})
_WILD = frozenset("*?")


@dataclass(frozen=True, slots=True)
class ActionClass:
    key: str  # the lower-cased action the representative requests use
    members: tuple[str, ...]  # every action it stands for, as AWS spells them
    patterns: frozenset[str]  # the (lower-cased) patterns that match it


def unknown_action(service: str) -> str:
    """An action of `service` that no catalog action and no plausible pattern names:
    `(` `)` cannot appear in an Action element, so only service-wide wildcards match."""
    return f"{service}:()"


def _label(key: str) -> str:
    service = key.split(":", 1)[0]
    if key == unknown_action(service):
        return f"{service}:* (an action not in crossgrant's catalog)"
    return key


def _features(key: str) -> tuple[bool, bool, bool]:
    return key in TRUST_ACTIONS, key.startswith("kms:"), key in _ALIAS_ACTIONS


def action_classes(patterns: Iterable[str], *,
                   only: frozenset[str] | None = None) -> tuple[ActionClass, ...]:
    """The classes of actions over `patterns` (as written); `only` limits the universe
    (trust policies: the role trust actions)."""
    pats = sorted({p.lower() for p in patterns})
    catalog = _catalog_keys()
    if only is not None:
        names = {k: _spelling(k) for k in only}
    else:
        names = {a.qualified_name.lower(): a.qualified_name for a in all_actions()}
        for service in known_services():
            names[unknown_action(service.lower())] = _label(unknown_action(service.lower()))
        for p in pats:
            if not _WILD & set(p):
                names.setdefault(p, p)  # named, not in the catalog (a typo, or newer)
        for key in _outside_catalog(pats):
            names.setdefault(key, f"{key} (an action not in crossgrant's catalog)")
    matched: dict[str, set[str]] = {k: set() for k in names}
    extra = [k for k in names if k not in catalog]
    for p in pats:
        for info in expand_action_pattern(p):
            key = info.qualified_name.lower()
            if key in matched:
                matched[key].add(p)
        glob = compile_glob(p)
        for key in extra:
            if glob(key):
                matched[key].add(p)
    classes: dict[tuple[frozenset[str], tuple[bool, bool, bool]], list[str]] = {}
    for key in names:
        classes.setdefault((frozenset(matched[key]), _features(key)), []).append(key)
    out = []
    for (vector, _), keys in classes.items():
        keys.sort(key=lambda k: (k not in catalog, k))
        out.append(ActionClass(keys[0], tuple(names[k] for k in keys), vector))
    return tuple(out)


def _spelling(key: str) -> str:
    info = lookup_action(key)
    return info.qualified_name if info is not None else key


def _outside_catalog(pats: list[str]) -> list[str]:
    """One action per class that the patterns make among services outside the catalog:
    each catalog service is a pattern of its own (`s3:*`), and only regions outside all of
    them are kept."""
    services = sorted(s.lower() for s in known_services())
    globs = [Glob(tuple(glob_tokens(p))) for p in pats]
    sinks = range(len(globs), len(globs) + len(services))
    globs += [Glob(tuple(glob_tokens(f"{s}:*"))) for s in services]
    seeds = [w for g in globs[: len(pats)] for w in g.examples()]
    regions = Automaton(globs, max_states=20_000).regions(seeds)
    return [w for accepted, w in regions.items() if not accepted & set(sinks)]


@cache
def _catalog_keys() -> frozenset[str]:
    return frozenset(a.qualified_name.lower() for a in all_actions())

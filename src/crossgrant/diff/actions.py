"""Action classes: the actions every Action/NotAction pattern of both sides treats alike.

The universe is crossgrant's action catalog, plus, for every service the documents or
the catalog name, one action the catalog does not know (AWS adds actions; a `s3:*` grants
them, a list of today's actions does not), plus one action of a service nobody names.
Such an unknown action matches exactly the patterns that match every action of its
service (`s3:*`, `*`), which is what makes a wildcard written for exactly the listed
catalog actions an equivalent rewrite. The engine also reads the action itself (role
trust actions, KMS), so those features split classes too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from crossgrant.iam import TRUST_ACTIONS, compile_glob
from crossgrant.iam.actions import all_actions, expand_action_pattern, known_services

__all__ = ["ActionClass", "action_classes", "unknown_action"]

_ALIAS_ACTIONS = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})
UNKNOWN_SERVICE = "crossgrant-other"


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
    names: dict[str, str] = {a.qualified_name.lower(): a.qualified_name for a in all_actions()}
    services = {s.lower() for s in known_services()} | {UNKNOWN_SERVICE}
    services |= {p.split(":", 1)[0] for p in pats if ":" in p and not set("*?") & set(
        p.split(":", 1)[0])}
    for s in services:
        names[unknown_action(s)] = _label(unknown_action(s))
    if only is not None:
        names = {k: names.get(k, k) for k in only}
    matched: dict[str, set[str]] = {k: set() for k in names}
    catalog = _catalog_keys()
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
        keys.sort(key=lambda k: (k.endswith(":()"), k))
        out.append(ActionClass(keys[0], tuple(names[k] for k in keys), vector))
    return tuple(out)


@cache
def _catalog_keys() -> frozenset[str]:
    return frozenset(a.qualified_name.lower() for a in all_actions())

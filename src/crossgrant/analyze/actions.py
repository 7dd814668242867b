"""The actions a statement grants on a resource of one service, expanded through the
action catalog where it knows them."""

from __future__ import annotations

from functools import lru_cache

from crossgrant.iam import Element
from crossgrant.iam.actions import expand_action_pattern, lookup_action

__all__ = ["granted_actions"]


def granted_actions(element: Element, service: str) -> tuple[str, ...]:
    """The actions an Action/NotAction element grants on a resource of `service`: expanded
    through the catalog where it knows them, as written where it does not."""
    return _expand(element.values, element.negated, service)


@lru_cache(maxsize=4096)
def _expand(written: tuple[str, ...], negated: bool, service: str) -> tuple[str, ...]:
    if negated:
        every = expand_action_pattern(f"{service}:*")
        excluded = {info.qualified_name for p in written for info in expand_action_pattern(p)}
        return tuple(sorted(i.qualified_name for i in every
                            if i.qualified_name not in excluded))
    out: set[str] = set()
    for p in written:
        if "*" in p or "?" in p:
            expanded = [i.qualified_name for i in expand_action_pattern(p)
                        if i.service == service]
            if expanded:
                out.update(expanded)
            else:
                out.add(p)
        else:
            info = lookup_action(p)
            out.add(info.qualified_name if info is not None else p)
    return tuple(sorted(out))


"""Catalog of the IAM actions crossgrant knows, loaded from ``data/actions.json``.

IAM never rejects an action name it does not know: a misspelt ``s3:GetObjekt``
is stored without complaint and grants nothing, so a typo shows up as an access
denial long after the policy was written. Checking every action in a user spec
and in lint rules against a catalog turns that silent failure into an
immediate error with a suggestion.

The catalog is a hand-checked subset of AWS's Service Authorization Reference,
shipped as data so that it can be reviewed and extended without touching code,
and read offline so that a check gives the same answer on every machine.
"Unknown" therefore means "unknown to crossgrant"; an action of a service that
is not in the file at all is reported as an unknown service prefix.

The file is parsed once, on first use, because most commands never need it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Final

from crossgrant.errors import UnknownActionError

__all__ = [
    "ACCESS_LEVELS",
    "NO_RESOURCE_TYPE",
    "ActionInfo",
    "all_actions",
    "canonical_action_name",
    "expand_action_pattern",
    "known_service",
    "known_services",
    "lookup_action",
    "service_resource_types",
]

ACCESS_LEVELS: Final = frozenset({"List", "Read", "Write", "Tagging", "Permissions management"})

# The resource-type entry of an action that takes no resource: such an action
# can only be granted with ``"Resource": "*"``.
NO_RESOURCE_TYPE: Final = "*"

_DATA_PACKAGE: Final = "crossgrant.iam"
_WILDCARDS: Final = frozenset("*?")


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One action as the Service Authorization Reference lists it: the resource types it
    can be scoped to and the condition keys it supports."""

    service: str
    name: str
    access_level: str
    resource_types: tuple[str, ...]
    condition_keys: tuple[str, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True, slots=True)
class _Service:
    prefix: str
    resource_types: Mapping[str, str]
    # Keyed by lower-cased name because IAM compares action names without case.
    actions: Mapping[str, ActionInfo]
    # API operation names that users write where an action belongs, keyed by
    # lower-cased name, with the operation's own spelling and the actions that
    # authorize it.
    api_hints: Mapping[str, tuple[str, tuple[str, ...]]]


def lookup_action(action: str) -> ActionInfo | None:
    """Return the catalog entry for ``service:Action`` in any letter case."""
    prefix, sep, name = action.partition(":")
    if not sep:
        return None
    service = _catalog().get(prefix.lower())
    if service is None:
        return None
    return service.actions.get(name.lower())


def known_service(prefix: str) -> bool:
    return prefix.lower() in _catalog()


def known_services() -> tuple[str, ...]:
    return tuple(service.prefix for service in _catalog().values())


def all_actions() -> tuple[ActionInfo, ...]:
    return tuple(info for service in _catalog().values() for info in service.actions.values())


def service_resource_types(prefix: str) -> Mapping[str, str]:
    """Map each resource type of a service to its ARN pattern.

    An unknown prefix gives an empty mapping, so callers that only want to
    match ARNs need not check the prefix first.
    """
    service = _catalog().get(prefix.lower())
    if service is None:
        return MappingProxyType({})
    return service.resource_types


def expand_action_pattern(pattern: str) -> tuple[ActionInfo, ...]:
    """Return the catalog actions an IAM ``Action`` pattern matches, in catalog order.

    Matching follows IAM: ``*`` and ``?`` are the only wildcards, they apply to
    the whole ``service:Action`` string, and case is ignored. Actions outside
    the catalog cannot be listed, so a pattern for an unknown service matches
    nothing rather than failing.
    """
    return _expand(pattern.lower())


def canonical_action_name(action: str) -> str:
    """Return ``action`` spelt as AWS spells it, e.g. ``s3:GetObject`` for ``S3:getobject``.

    Raises UnknownActionError, with a suggestion where one is close enough, for
    anything that is not exactly one catalog action: a wildcard pattern, a
    malformed name, an unknown service prefix or an unknown action.
    """
    if _WILDCARDS.intersection(action):
        raise UnknownActionError(f"'{action}' is a wildcard pattern, not a single action")
    prefix, sep, name = action.partition(":")
    if not sep or not prefix or not name:
        raise UnknownActionError(f"malformed action '{action}' (expected 'service:ActionName')")
    service = _catalog().get(prefix.lower())
    if service is None:
        raise UnknownActionError(f"unknown service prefix '{prefix}' in action '{action}'")
    info = service.actions.get(name.lower())
    if info is not None:
        return info.qualified_name
    raise UnknownActionError(f"unknown action '{action}'{_unknown_action_hint(service, name)}")


def _unknown_action_hint(service: _Service, name: str) -> str:
    hint = service.api_hints.get(name.lower())
    if hint is not None:
        operation, authorizing = hint
        actions = ", ".join(f"{service.prefix}:{action}" for action in authorizing)
        return (
            f" ({operation} is an API operation, not an IAM action;"
            f" the actions that authorize it are {actions})"
        )
    close = difflib.get_close_matches(name.lower(), list(service.actions), n=1)
    if close:
        return f" (did you mean {service.actions[close[0]].qualified_name}?)"
    return ""


@lru_cache(maxsize=4096)
def _expand(pattern: str) -> tuple[ActionInfo, ...]:
    # Lint passes expand the same few patterns for every statement they see.
    regex = re.compile(
        "".join(
            ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
        ),
        re.DOTALL,
    )
    prefix, sep, _ = pattern.partition(":")
    catalog = _catalog()
    if sep and not _WILDCARDS.intersection(prefix):
        only = catalog.get(prefix)
        services: tuple[_Service, ...] = () if only is None else (only,)
    else:
        services = tuple(catalog.values())
    return tuple(
        info
        for service in services
        for info in service.actions.values()
        if regex.fullmatch(info.qualified_name.lower())
    )


@cache
def _catalog() -> Mapping[str, _Service]:
    resource = files(_DATA_PACKAGE) / "data" / "actions.json"
    document = _mapping(json.loads(resource.read_text(encoding="utf-8")), "actions.json")
    services: dict[str, _Service] = {}
    for key, value in _mapping(document.get("services"), "services").items():
        service = _parse_service(key, _mapping(value, f"services.{key}"))
        services[service.prefix.lower()] = service
    return MappingProxyType(services)


def _parse_service(key: str, raw: Mapping[str, object]) -> _Service:
    where = f"services.{key}"
    prefix = _string(raw.get("prefix"), f"{where}.prefix")
    if prefix != key:
        raise ValueError(f"actions.json: {where} declares prefix {prefix!r}")
    resource_types = {
        name: _string(arn, f"{where}.resource_types.{name}")
        for name, arn in _mapping(raw.get("resource_types"), f"{where}.resource_types").items()
    }
    actions: dict[str, ActionInfo] = {}
    for name, value in _mapping(raw.get("actions"), f"{where}.actions").items():
        spec = _mapping(value, f"{where}.actions.{name}")
        actions[name.lower()] = ActionInfo(
            service=prefix,
            name=name,
            access_level=_string(spec.get("access_level"), f"{where}.actions.{name}.access_level"),
            resource_types=_strings(
                spec.get("resource_types"), f"{where}.actions.{name}.resource_types"
            ),
            condition_keys=_strings(
                spec.get("condition_keys"), f"{where}.actions.{name}.condition_keys"
            ),
        )
    hints = {
        operation.lower(): (
            operation,
            _strings(targets, f"{where}.api_operation_hints.{operation}"),
        )
        for operation, targets in _mapping(
            raw.get("api_operation_hints", {}), f"{where}.api_operation_hints"
        ).items()
    }
    return _Service(
        prefix=prefix,
        resource_types=MappingProxyType(resource_types),
        actions=MappingProxyType(actions),
        api_hints=MappingProxyType(hints),
    )


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"actions.json: {where} must be an object")
    return {str(key): item for key, item in value.items()}


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"actions.json: {where} must be a string")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"actions.json: {where} must be a list of strings")
    return tuple(_string(item, where) for item in value)

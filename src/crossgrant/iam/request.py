"""A request to authorize, and the context keys AWS derives from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

from crossgrant.errors import CaseError
from crossgrant.iam.arn import resource_account as arn_account
from crossgrant.iam.principal import Principal, PrincipalKind

ContextValue = str | list[str] | tuple[str, ...]


def normalize_context(context: Mapping[str, ContextValue] | None) -> dict[str, tuple[str, ...]]:
    """Lower-case the key names (AWS matches them case-insensitively) and make every value
    a tuple, so a single- and a multi-valued key look alike to the operators."""
    out: dict[str, tuple[str, ...]] = {}
    for key, value in (context or {}).items():
        if not isinstance(key, str) or not key:
            raise CaseError(f"context key {key!r} must be a non-empty string")
        if isinstance(value, str):
            out[key.lower()] = (value,)
        elif isinstance(value, bool):
            out[key.lower()] = ("true" if value else "false",)
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            out[key.lower()] = tuple(value)
        else:
            raise CaseError(f"context key {key!r}: value must be a string or a list of strings")
    return out


T = TypeVar("T")


class _once(Generic[T]):
    """`functools.cached_property` without its lock (Python 3.11 takes one on every first
    read): a request's derived values are read a few times each, on the engine's hot path,
    and computing one twice in a race is harmless."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _once[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | _once[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value  # later reads find it there, not here
        return value


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    resource_account: str | None = None
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, principal: Principal, action: str, resource: str, *,
              resource_account: str | None = None,
              context: Mapping[str, ContextValue] | None = None) -> Request:
        """Normalise the context once; the engine then reads it many times."""
        return cls(principal, action, resource, resource_account,
                   MappingProxyType(normalize_context(context)))

    @_once
    def action_key(self) -> str:
        return self.action.lower()

    @_once
    def owner_account(self) -> str | None:
        """The account that owns the resource: given, else read off the ARN."""
        return self.resource_account or arn_account(self.resource)

    @_once
    def is_cross_account(self) -> bool:
        owner = self.owner_account
        return bool(self.principal.account and owner and owner != self.principal.account)

    @_once
    def full_context(self) -> Mapping[str, tuple[str, ...]]:
        """The given context plus the keys AWS derives from the request, given ones winning."""
        derived = derive_context(self.principal, self.owner_account)
        derived.update(self.context)
        return derived


def derive_context(p: Principal, owner: str | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    if p.kind is PrincipalKind.ANONYMOUS:
        out["aws:principaltype"] = ("Anonymous",)
    elif p.kind is PrincipalKind.SERVICE:
        out["aws:principalservicename"] = (p.arn,)
        out["aws:principalisawsservice"] = ("true",)
    else:
        out["aws:principalisawsservice"] = ("false",)
        out["aws:principaltype"] = (p.kind.value,)
        if p.account:
            out["aws:principalaccount"] = (p.account,)
            out["aws:principalarn"] = (p.principal_arn,)
        if p.kind is PrincipalKind.USER and p.name:
            out["aws:username"] = (p.name,)
        if p.kind is PrincipalKind.ROOT and p.account:
            out["aws:userid"] = (p.account,)
        elif p.kind is PrincipalKind.FEDERATED_USER and p.account:
            out["aws:userid"] = (f"{p.account}:{p.name}",)
        elif p.unique_id:
            sess = f":{p.session}" if p.kind is PrincipalKind.ASSUMED_ROLE else ""
            out["aws:userid"] = (p.unique_id + sess,)
    if owner:
        out["aws:resourceaccount"] = (owner,)
    return out

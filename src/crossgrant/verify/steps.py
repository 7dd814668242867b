"""What the probe matrix is made of: steps and probes, the names of the adversaries, how a
function (in each of its source accounts) reaches an action, and what the grant's entries
allow taken together.

A probe is a chain of requests, the way the function really works: in assume-role mode
the execution role's session first assumes the target role, then the target session acts;
in resource-policy mode the execution role's session acts directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crossgrant.iam.arn import assumed_role_arn
from crossgrant.render.artifacts import Artifacts
from crossgrant.spec.model import Grant, Mode
from crossgrant.spec.placement import S3Grants, s3_grants, table_grants

PROBE_KEY = "crossgrant-probe.bin"  # the object key every S3 probe reads or writes
SESSION = "crossgrant-probe"  # the session name of the probes' own role sessions
STREAM_LABEL = "2024-01-01T00:00:00.000"  # the stream the probes read (render.apply's)
# What the grant never names, so that a probe allowed there shows access leaking past it.
OTHER_PREFIX, OTHER_BUCKET, OTHER_TABLE = ("crossgrant-probe-other/",
                                           "crossgrant-probe-other-bucket",
                                           "crossgrant-probe-other-table")
# The adversaries: an admin role and another function's role in the source account, the
# same admin in a third account (the first of these the grant does not use).
INTRUDER_ROLE, OTHER_FUNCTION_ROLE = "crossgrant-probe-admin", "crossgrant-probe-other-function"
THIRD_ACCOUNTS = ("333333333333", "444444444444", "555555555555", "666666666666",
                  "777777777777")
# An organization grant's adversaries: an account of the organization outside its OUs
# (placed under the root) and one outside the organization, each with a role of the
# execution role's name.
OUTSIDE_UNITS_ACCOUNTS = ("800000000001", "800000000002")
OUTSIDE_ORG_ACCOUNTS = ("810000000001", "810000000002")

Context = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a probe, as the engine sees it: `context` holds the condition keys
    the real call would carry (TLS, the external id, the S3 prefix listed)."""

    principal: str
    action: str
    resource: str
    context: Context = ()


@dataclass(frozen=True, slots=True)
class Probe:
    """A chain of steps that must end allowed (`expect_allowed`) or be refused somewhere;
    `group` is "intended" (what the grant is for) or "adversarial" (what it must stop)."""

    id: str
    description: str
    expect_allowed: bool
    steps: tuple[Step, ...]
    group: str = field(default="intended")


def session_arn(account: str, role: str, session: str = SESSION) -> str:
    """A role session of the probes (named `SESSION` unless a function's own)."""
    return assumed_role_arn(account, role, session)


def _unused(grant: Grant, candidates: tuple[str, ...]) -> str:
    used = {*grant.source.accounts, grant.target.account}
    return next(a for a in candidates if a not in used)


def third_account(grant: Grant) -> str:
    """An account that is neither a source nor the target."""
    return _unused(grant, THIRD_ACCOUNTS)


def outside_units_account(grant: Grant) -> str:
    return _unused(grant, OUTSIDE_UNITS_ACCOUNTS)


def outside_org_account(grant: Grant) -> str:
    return _unused(grant, OUTSIDE_ORG_ACCOUNTS)


def tls(secure: bool = True) -> Context:
    return (("aws:SecureTransport", "true" if secure else "false"),)


class Builder:
    """Builds steps for one grant: who acts, and how it got its session."""

    def __init__(self, artifacts: Artifacts, account: str | None = None) -> None:
        self.g = artifacts.grant
        self.account = account or self.g.source.account
        self.exec_session = session_arn(self.account, self.g.source.execution_role,
                                        self.g.source.function)
        self.target_session = session_arn(self.g.target.account, self.g.target.role_name,
                                          self.g.source.function) \
            if self.g.target.role_name else None

    def assume(self, principal: str, *, external_id: str | bool | None = True) -> Step:
        ctx: list[tuple[str, str]] = [("sts:SourceIdentity", self.g.source.function)]
        eid = self.g.target.external_id if external_id is True else external_id
        if isinstance(eid, str):
            ctx.append(("sts:ExternalId", eid))
        assert self.g.target_role_arn is not None
        return Step(principal, "sts:AssumeRole", self.g.target_role_arn, tuple(ctx))

    def as_function(self, action: str, resource: str, context: Context = ()) \
            -> tuple[Step, ...]:
        """The function's own path to `action`: assume first in assume-role mode."""
        if self.g.mode is Mode.ASSUME_ROLE:
            assert self.target_session is not None
            return (self.assume(self.exec_session),
                    Step(self.target_session, action, resource, context))
        return (Step(self.exec_session, action, resource, context),)


class Granted:
    """What the grant's entries allow taken together: a neighbour (write on a read-only
    prefix, DeleteItem where only PutItem was granted) is a denial probe only when no
    entry grants it."""

    def __init__(self, grant: Grant) -> None:
        self._s3: dict[str, list[tuple[tuple[str, ...], S3Grants]]] = {}
        for a in grant.s3:
            self._s3.setdefault(a.bucket, []).append((a.prefixes, s3_grants(a)))
        self._tables: dict[str, set[str]] = {}
        for t in grant.dynamodb:
            self._tables.setdefault(t.table, set()).update(table_grants(t).table)

    def entries_of(self, bucket: str) -> int:
        return len(self._s3.get(bucket, ()))

    def object(self, action: str, bucket: str, key: str) -> bool:
        return any(action in g.objects and any(key.startswith(p) for p in prefixes)
                   for prefixes, g in self._s3.get(bucket, ()))

    def listing(self, action: str, bucket: str, prefix: str) -> bool:
        """Is listing under `prefix` allowed (a prefix-narrowed bucket action)?"""
        return any(action in g.prefixed and any(prefix.startswith(p) for p in prefixes)
                   for prefixes, g in self._s3.get(bucket, ()))

    def bucket(self, action: str, bucket: str) -> bool:
        return any(action in g.bucket or action in g.prefixed
                   for _, g in self._s3.get(bucket, ()))

    def table(self, action: str, table: str) -> bool:
        return action in self._tables.get(table, ())


__all__ = ["INTRUDER_ROLE", "OTHER_BUCKET", "OTHER_FUNCTION_ROLE", "OTHER_PREFIX",
           "OTHER_TABLE", "OUTSIDE_ORG_ACCOUNTS", "OUTSIDE_UNITS_ACCOUNTS", "PROBE_KEY",
           "SESSION", "STREAM_LABEL", "THIRD_ACCOUNTS", "Builder", "Context", "Granted",
           "Probe", "Step", "outside_org_account", "outside_units_account", "session_arn",
           "third_account", "tls"]

"""The probe matrix: the accesses a grant must allow, and the ones it must not.

A probe is a chain of requests, the way the function really works: in assume-role mode
the execution role's session first assumes the target role, then the target session acts;
in resource-policy mode the execution role's session acts directly. The adversarial rows
are the mistakes the seeds' readers make: a trust policy or bucket policy that lets in
another role, another account or the whole account, actions and prefixes nobody asked
for, plain HTTP, a missing external id, the public.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crossgrant.iam.arn import (
    account_root_arn,
    assumed_role_arn,
    bucket_arn,
    index_arn,
    object_arn,
    stream_arn,
)
from crossgrant.render.artifacts import Artifacts
from crossgrant.spec.model import Grant, Mode, S3Access, S3Level, TableAccess, TableLevel

PROBE_KEY = "crossgrant-probe.bin"  # the object key every S3 probe reads or writes
SESSION = "crossgrant-probe"  # the session name of the probes' own role sessions
# What the grant never names, so that a probe allowed there shows access leaking past it.
OTHER_PREFIX, OTHER_BUCKET, OTHER_TABLE = ("crossgrant-probe-other/",
                                           "crossgrant-probe-other-bucket",
                                           "crossgrant-probe-other-table")
# The adversaries: an admin role and another function's role in the source account, the
# same admin in a third account (the first of these the grant does not use).
INTRUDER_ROLE, OTHER_FUNCTION_ROLE = "crossgrant-probe-admin", "crossgrant-probe-other-function"
THIRD_ACCOUNTS = ("333333333333", "444444444444", "555555555555")


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a probe, as the engine sees it: `context` holds the condition keys
    the real call would carry (TLS, the external id, the S3 prefix listed)."""

    principal: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Probe:
    """A chain of steps that must end allowed (`expect_allowed`) or be refused somewhere;
    `group` is "intended" (what the grant is for) or "adversarial" (what it must stop)."""

    id: str
    description: str
    expect_allowed: bool
    steps: tuple[Step, ...]
    group: str = field(default="intended")


# The object actions each S3 level stands for.
_OBJECT_ACTIONS = {S3Level.READ: "s3:GetObject", S3Level.WRITE: "s3:PutObject",
                   S3Level.DELETE: "s3:DeleteObject"}


def session_arn(account: str, role: str, session: str = SESSION) -> str:
    """A role session of the probes (named `SESSION` unless a function's own)."""
    return assumed_role_arn(account, role, session)


def third_account(grant: Grant) -> str:
    used = {grant.source.account, grant.target.account}
    return next(a for a in THIRD_ACCOUNTS if a not in used)


def _tls(secure: bool = True) -> tuple[tuple[str, str], ...]:
    return (("aws:SecureTransport", "true" if secure else "false"),)


class _Builder:
    """Builds steps for one grant: who acts, and how it got its session."""

    def __init__(self, artifacts: Artifacts) -> None:
        self.g = artifacts.grant
        self.exec_session = session_arn(self.g.source.account, self.g.source.execution_role,
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

    def as_function(self, action: str, resource: str,
                    context: tuple[tuple[str, str], ...] = ()) -> tuple[Step, ...]:
        """The function's own path to `action`: assume first in assume-role mode."""
        if self.g.mode is Mode.ASSUME_ROLE:
            assert self.target_session is not None
            return (self.assume(self.exec_session),
                    Step(self.target_session, action, resource, context))
        return (Step(self.exec_session, action, resource, context),)


def intended(artifacts: Artifacts) -> list[Probe]:
    b = _Builder(artifacts)
    g = b.g
    out: list[Probe] = []
    if g.mode is Mode.ASSUME_ROLE:
        out.append(Probe("assume", f"{g.source.function} assumes {g.target.role_name}", True,
                         (b.assume(b.exec_session),)))
    for access in g.s3:
        out.extend(_s3_intended(b, access))
    for table in g.dynamodb:
        out.extend(_table_intended(b, g, table))
    return out


def _s3_intended(b: _Builder, a: S3Access) -> list[Probe]:
    out = []
    for prefix in a.prefixes:
        obj = object_arn(a.bucket, f"{prefix}{PROBE_KEY}", b.g.partition)
        for level, action in _OBJECT_ACTIONS.items():
            if level in a.levels:
                out.append(Probe(f"s3-{level.value}:{a.bucket}/{prefix}",
                                 f"{action} in {a.bucket}/{prefix}", True,
                                 b.as_function(action, obj, _tls())))
        if S3Level.LIST in a.levels:
            out.append(Probe(f"s3-list:{a.bucket}/{prefix}", f"list {a.bucket}/{prefix}", True,
                             b.as_function("s3:ListBucket", bucket_arn(a.bucket, b.g.partition),
                                           (*_tls(), ("s3:prefix", prefix)))))
    if a.kms_key_arn is not None:
        via = (("kms:ViaService", f"s3.{b.g.target.region}.amazonaws.com"),)
        if S3Level.READ in a.levels:
            out.append(Probe(f"kms-decrypt:{a.bucket}", f"decrypt {a.bucket}'s objects", True,
                             b.as_function("kms:Decrypt", a.kms_key_arn, via)))
        if S3Level.WRITE in a.levels:
            out.append(Probe(f"kms-datakey:{a.bucket}", f"encrypt into {a.bucket}", True,
                             b.as_function("kms:GenerateDataKey", a.kms_key_arn, via)))
    return out


def _table_intended(b: _Builder, g: Grant, t: TableAccess) -> list[Probe]:
    arn = g.table_arn(t.table)
    out = []
    if TableLevel.READ in t.levels:
        out.append(Probe(f"ddb-read:{t.table}", f"GetItem on {t.table}", True,
                         b.as_function("dynamodb:GetItem", arn)))
        for ix in t.indexes:
            name = "crossgrant-probe-index" if ix == "*" else ix
            out.append(Probe(f"ddb-index:{t.table}/{name}", f"Query index {name}", True,
                             b.as_function("dynamodb:Query", index_arn(
                                 g.target.region, g.target.account, t.table, name,
                                 g.partition))))
    if TableLevel.WRITE in t.levels:
        out.append(Probe(f"ddb-write:{t.table}", f"PutItem on {t.table}", True,
                         b.as_function("dynamodb:PutItem", arn)))
    if t.streams:
        out.append(Probe(f"ddb-stream:{t.table}", f"read {t.table}'s stream", True,
                         b.as_function("dynamodb:GetRecords", stream_arn(
                             g.target.region, g.target.account, t.table,
                             "2024-01-01T00:00:00.000", g.partition))))
    return out


def adversarial(artifacts: Artifacts) -> list[Probe]:
    b = _Builder(artifacts)
    g = b.g
    out: list[Probe] = []
    a_acct, third = g.source.account, third_account(g)
    outsiders = [
        ("other-role", f"another role of {a_acct}", session_arn(a_acct, INTRUDER_ROLE)),
        ("other-function", f"another function of {a_acct}",
         session_arn(a_acct, OTHER_FUNCTION_ROLE, "other-fn")),
        ("whole-account", f"the root of {a_acct} (the whole account)",
         account_root_arn(a_acct, g.partition)),
        ("third-account", f"a role in a third account {third}", session_arn(third, INTRUDER_ROLE)),
    ]
    sample = _sample_access(b, g)
    for key, who, principal in outsiders:
        if g.mode is Mode.ASSUME_ROLE:
            out.append(Probe(f"deny:{key}:assume", f"{who} assumes {g.target.role_name}", False,
                             (b.assume(principal),), "adversarial"))
        if sample is not None:
            action, resource, ctx = sample
            out.append(Probe(f"deny:{key}:direct", f"{who} calls {action} directly", False,
                             (Step(principal, action, resource, ctx),), "adversarial"))
    if g.mode is Mode.ASSUME_ROLE:
        out.append(Probe("deny:public:assume", f"an anonymous caller assumes "
                         f"{g.target.role_name}", False, (b.assume("anonymous"),), "adversarial"))
    if sample is not None:
        action, resource, ctx = sample
        out.append(Probe("deny:public:direct", f"an anonymous caller calls {action}", False,
                         (Step("anonymous", action, resource, ctx),), "adversarial"))
    if g.mode is Mode.ASSUME_ROLE and g.target.external_id is not None:
        out.append(Probe("deny:no-external-id", "assume without the external id", False,
                         (b.assume(b.exec_session, external_id=None),), "adversarial"))
        out.append(Probe("deny:wrong-external-id", "assume with a wrong external id", False,
                         (b.assume(b.exec_session, external_id="wrong-external-id"),),
                         "adversarial"))
    for access in g.s3:
        out.extend(_s3_adversarial(b, access))
    other_object = object_arn(OTHER_BUCKET, PROBE_KEY, g.partition)
    out.extend(Probe(f"deny:other-bucket:{act}", f"{act} on a bucket not in the grant", False,
                     b.as_function(act, other_object, _tls()), "adversarial")
               for act in (_OBJECT_ACTIONS[S3Level.READ], _OBJECT_ACTIONS[S3Level.WRITE]))
    for t in g.dynamodb:
        arn = g.table_arn(t.table)
        undeclared = ["dynamodb:DeleteTable", "dynamodb:UpdateTable",
                      "dynamodb:PutResourcePolicy"]
        if TableLevel.WRITE not in t.levels:
            undeclared += ["dynamodb:PutItem", "dynamodb:DeleteItem"]
        if TableLevel.READ not in t.levels:
            undeclared += ["dynamodb:GetItem", "dynamodb:Scan"]
        out.extend(Probe(f"deny:{act}:{t.table}", f"{act} on {t.table} (not declared)", False,
                         b.as_function(act, arn), "adversarial") for act in undeclared)
    if g.dynamodb:
        other = g.table_arn(OTHER_TABLE)
        out.append(Probe("deny:other-table", "PutItem on a table not in the grant", False,
                         b.as_function("dynamodb:PutItem", other), "adversarial"))
    return out


def _s3_adversarial(b: _Builder, a: S3Access) -> list[Probe]:
    out: list[Probe] = []
    partition = b.g.partition
    bucket = bucket_arn(a.bucket, partition)
    first = object_arn(a.bucket, f"{a.prefixes[0]}{PROBE_KEY}", partition)
    undeclared = [("s3:PutObjectAcl", first), ("s3:PutBucketPolicy", bucket),
                  ("s3:DeleteBucketPolicy", bucket), ("s3:DeleteBucket", bucket),
                  ("s3:PutBucketAcl", bucket)]
    undeclared += [(_OBJECT_ACTIONS[level], first)
                   for level in (S3Level.DELETE, S3Level.WRITE, S3Level.READ)
                   if level not in a.levels]
    if S3Level.LIST not in a.levels:
        undeclared.append(("s3:ListBucket", bucket))
    out.extend(Probe(f"deny:{act}:{a.bucket}", f"{act} on {a.bucket} (not declared)", False,
                     b.as_function(act, res, _tls()), "adversarial") for act, res in undeclared)
    # Reads and writes the grant allows, tried where it does not allow them.
    granted = [_OBJECT_ACTIONS[level] for level in (S3Level.READ, S3Level.WRITE)
               if level in a.levels]
    if "" not in a.prefixes:
        other = object_arn(a.bucket, f"{OTHER_PREFIX}{PROBE_KEY}", partition)
        out.extend(Probe(f"deny:other-prefix:{act}:{a.bucket}",
                         f"{act} outside the declared prefixes", False,
                         b.as_function(act, other, _tls()), "adversarial") for act in granted)
        if S3Level.LIST in a.levels:
            out.append(Probe(f"deny:other-prefix:list:{a.bucket}",
                             "list outside the declared prefixes", False,
                             b.as_function("s3:ListBucket", bucket,
                                           (*_tls(), ("s3:prefix", OTHER_PREFIX))),
                             "adversarial"))
    if b.g.options.tls_only:
        out.extend(Probe(f"deny:plain-http:{act}:{a.bucket}", f"{act} over plain HTTP",
                         False, b.as_function(act, first, _tls(False)), "adversarial")
                   for act in granted)
    return out


def _sample_access(b: _Builder, g: Grant) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """One declared access, tried by outsiders directly against the resource."""
    for a in g.s3:
        obj = object_arn(a.bucket, f"{a.prefixes[0]}{PROBE_KEY}", g.partition)
        for level in (S3Level.WRITE, S3Level.READ):
            if level in a.levels:
                return _OBJECT_ACTIONS[level], obj, _tls()
    for t in g.dynamodb:
        action = "dynamodb:PutItem" if TableLevel.WRITE in t.levels else "dynamodb:GetItem"
        return action, g.table_arn(t.table), ()
    return None


def matrix(artifacts: Artifacts) -> list[Probe]:
    return intended(artifacts) + adversarial(artifacts)

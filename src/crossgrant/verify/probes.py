"""The probe matrix: the accesses a grant must allow, and the ones it must not.

Intended rows (here): each entry's accesses (a representative action per level, or each
exact action where it acts), from every source account the grant names (an
organization's members: one account per OU and one in an OU nested below the first). The
adversarial rows (`verify.adversarial`, which also assembles the whole `matrix`) are the
mistakes the seeds' readers make: a trust policy or bucket policy that lets in another
role, another account or the whole account, the same role name outside the listed
accounts or OUs, actions, prefixes and neighbours nobody asked for, plain HTTP, a missing
external id, the public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from crossgrant.iam.arn import bucket_arn, index_arn, object_arn, stream_arn
from crossgrant.render.artifacts import Artifacts
from crossgrant.render.documents import bucket_key
from crossgrant.spec.model import Grant, Mode, S3Access, S3Level, TableAccess, TableLevel
from crossgrant.spec.placement import s3_grants, table_grants
from crossgrant.verify.steps import PROBE_KEY, STREAM_LABEL, Builder, Context, Granted, Probe, tls

# The object actions each S3 level stands for (one representative each).
OBJECT_ACTIONS = {S3Level.READ: "s3:GetObject", S3Level.WRITE: "s3:PutObject",
                  S3Level.DELETE: "s3:DeleteObject"}


@dataclass(frozen=True, slots=True)
class Access:
    """One access an entry declares: a probe id and description, and the request."""

    id: str
    description: str
    action: str
    resource: str
    context: Context = ()


def entry_tag(granted: Granted, a: S3Access) -> str:
    """Told apart by their first prefix when a bucket has several entries (v1 ids
    otherwise)."""
    return f"/{a.prefixes[0]}" if granted.entries_of(a.bucket) > 1 else ""


def s3_accesses(g: Grant, granted: Granted, a: S3Access) -> list[Access]:
    out: list[Access] = []
    partition = g.partition
    placed = s3_grants(a)
    bucket = bucket_arn(a.bucket, partition)
    for prefix in a.prefixes:
        obj = object_arn(a.bucket, f"{prefix}{PROBE_KEY}", partition)
        listing = (*tls(), ("s3:prefix", prefix))
        if not a.actions:
            out.extend(Access(f"s3-{level.value}:{a.bucket}/{prefix}",
                              f"{action} in {a.bucket}/{prefix}", action, obj, tls())
                       for level, action in OBJECT_ACTIONS.items() if level in a.levels)
            if S3Level.LIST in a.levels:
                out.append(Access(f"s3-list:{a.bucket}/{prefix}", f"list {a.bucket}/{prefix}",
                                  "s3:ListBucket", bucket, listing))
            continue
        out.extend(Access(f"{action}:{a.bucket}/{prefix}", f"{action} in {a.bucket}/{prefix}",
                          action, obj, tls()) for action in placed.objects)
        out.extend(Access(f"{action}:{a.bucket}/{prefix}",
                          f"{action} on {a.bucket} for {prefix}", action, bucket, listing)
                   for action in placed.prefixed)
    out.extend(Access(f"{action}:{a.bucket}", f"{action} on {a.bucket}", action, bucket,
                      tls()) for action in placed.bucket)
    key = bucket_key(g, a.bucket)
    if key is not None:
        via = (("kms:ViaService", f"s3.{g.target.region}.amazonaws.com"),)
        tag = entry_tag(granted, a)
        reads = S3Level.READ in a.levels if not a.actions else "kms:Decrypt" in placed.kms
        writes = S3Level.WRITE in a.levels if not a.actions \
            else "kms:GenerateDataKey" in placed.kms
        if reads:
            out.append(Access(f"kms-decrypt:{a.bucket}{tag}", f"decrypt {a.bucket}'s objects",
                              "kms:Decrypt", key, via))
        if writes:
            out.append(Access(f"kms-datakey:{a.bucket}{tag}", f"encrypt into {a.bucket}",
                              "kms:GenerateDataKey", key, via))
    return out


def table_accesses(g: Grant, t: TableAccess) -> list[Access]:
    arn = g.table_arn(t.table)
    where = (g.target.region, g.target.account)
    stream = stream_arn(*where, t.table, STREAM_LABEL, g.partition)
    names = ["crossgrant-probe-index" if ix == "*" else ix for ix in t.indexes]
    out: list[Access] = []
    if t.actions:
        placed = table_grants(t)
        out.extend(Access(f"{a}:{t.table}", f"{a} on {t.table}", a, arn)
                   for a in placed.table)
        out.extend(Access(f"{a}:{t.table}/{ix}", f"{a} on index {ix}", a,
                          index_arn(*where, t.table, ix, g.partition))
                   for a in placed.indexes for ix in names)
        out.extend(Access(f"{a}:{t.table}/stream", f"{a} on {t.table}'s stream", a, stream)
                   for a in placed.stream)
        return out
    if TableLevel.READ in t.levels:
        out.append(Access(f"ddb-read:{t.table}", f"GetItem on {t.table}", "dynamodb:GetItem",
                          arn))
        out.extend(Access(f"ddb-index:{t.table}/{ix}", f"Query index {ix}", "dynamodb:Query",
                          index_arn(*where, t.table, ix, g.partition)) for ix in names)
    if TableLevel.WRITE in t.levels:
        out.append(Access(f"ddb-write:{t.table}", f"PutItem on {t.table}", "dynamodb:PutItem",
                          arn))
    if t.streams:
        out.append(Access(f"ddb-stream:{t.table}", f"read {t.table}'s stream",
                          "dynamodb:GetRecords", stream))
    return out


def accesses(g: Grant) -> list[Access]:
    """Every access the grant's entries declare, each once."""
    granted = Granted(g)
    found = [*(x for a in g.s3 for x in s3_accesses(g, granted, a)),
             *(x for t in g.dynamodb for x in table_accesses(g, t))]
    return once(found)


_Row = TypeVar("_Row", Access, Probe)


def once(rows: list[_Row]) -> list[_Row]:
    """The first row of each id (two entries may declare the same access)."""
    first: dict[str, _Row] = {}
    for x in rows:
        first.setdefault(x.id, x)
    return list(first.values())


def intended(artifacts: Artifacts) -> list[Probe]:
    g = artifacts.grant
    out: list[Probe] = []
    for account in g.source.accounts:
        b = Builder(artifacts, account)
        at, where = (f"@{account}", f" from {account}") if g.source.many else ("", "")
        if g.mode is Mode.ASSUME_ROLE:
            out.append(Probe(f"assume{at}", f"{g.source.function} assumes "
                                            f"{g.target.role_name}{where}", True,
                             (b.assume(b.exec_session),)))
        out.extend(Probe(f"{x.id}{at}", f"{x.description}{where}", True,
                         b.as_function(x.action, x.resource, x.context))
                   for x in accesses(g))
    return out


__all__ = ["OBJECT_ACTIONS", "Access", "accesses", "entry_tag", "intended", "once",
           "s3_accesses", "table_accesses"]

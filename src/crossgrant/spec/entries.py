"""The access entries: each bucket entry with its prefixes and levels or exact actions, each
table entry with its levels or actions, indexes and stream; and the rules between entries.

Several entries may name one bucket (read `in/`, write `reports/out/`) or one table (read
it with levels, put items with an exact action). Refused are only true duplicates: one
bucket prefix in two entries, and one table action on the same ARN granted by two
entries. Each failure names the entry's field and, for a clash, the other entry's line.
"""

from __future__ import annotations

import re

from crossgrant.errors import ArnError
from crossgrant.iam.arn import key_arn, parse_arn
from crossgrant.spec import model
from crossgrant.spec.placement import Scope, s3_scope, table_grants, table_scopes
from crossgrant.spec.schema import S3In, TableIn
from crossgrant.spec.source import Document, Loc, format_loc, short
from crossgrant.spec.sources import no_nulls

__all__ = ["KEY_ID_RE", "partition_of", "s3_entries", "table_entries"]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KEY_ID_RE = re.compile(rf"{_UUID}|mrk-[0-9a-f]{{32}}")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if "-gov-" in region:
        return "aws-us-gov"
    iso = re.match(r"[a-z]{2}-(iso[a-z]?)-", region)
    if iso:
        return {"iso": "aws-iso", "isob": "aws-iso-b", "isoe": "aws-iso-e",
                "isof": "aws-iso-f"}.get(iso.group(1), "aws-" + iso.group(1))
    return "aws"


def s3_entries(doc: Document, target: tuple[str, str],
               entries: list[S3In]) -> tuple[model.S3Access, ...]:
    """`target` is (account, region): where the buckets and their keys are."""
    out = tuple(_s3(doc, target, i, e) for i, e in enumerate(entries))
    _bucket_clashes(doc, entries, out)
    return out


def table_entries(doc: Document, entries: list[TableIn]) -> tuple[model.TableAccess, ...]:
    out = tuple(_table(doc, i, e) for i, e in enumerate(entries))
    _table_clashes(doc, out)
    return out


# --- one entry --------------------------------------------------------------------------

def _levels_or_actions(doc: Document, loc: Loc, entry: S3In | TableIn) \
        -> tuple[list[str], list[str]]:
    no_nulls(doc, loc, entry.model_fields_set, entry, {"levels": "a list", "actions": "a list"})
    levels, actions = entry.levels, entry.actions
    if levels is not None and actions is not None:
        doc.fail((*loc, "actions"), "give levels or actions, not both: levels stand for a "
                                    "fixed set of actions, actions name them exactly")
    if levels is None and actions is None:
        doc.fail((*loc, "levels"), "required key is missing (give levels, or actions to name "
                                   "exact actions)")
    for name, items in (("levels", levels), ("actions", actions)):
        if items is None:
            continue
        if not items:
            doc.fail((*loc, name), f"empty list; name at least one "
                                   f"{'level' if name == 'levels' else 'action'}")
        for j, item in enumerate(items):
            if item in items[:j]:
                kind = "level" if name == "levels" else "action"
                doc.fail((*loc, name, j), f"{kind} {item!r} is listed twice")
    return levels or [], actions or []


def _s3(doc: Document, target: tuple[str, str], i: int, e: S3In) -> model.S3Access:
    loc: Loc = ("access", "s3", i)
    if not e.prefixes:
        doc.fail((*loc, "prefixes"), 'empty list; write [""] for the whole bucket '
                                     "or leave prefixes out")
    for j, prefix in enumerate(e.prefixes):
        for k, other in enumerate(e.prefixes[:j]):
            if prefix.startswith(other):
                doc.fail((*loc, "prefixes", j),
                         f"{prefix!r} is already covered by {other!r} (prefixes[{k}])")
            if other.startswith(prefix):
                doc.fail((*loc, "prefixes", j),
                         f"{prefix!r} covers {other!r} (prefixes[{k}]); keep one")
    levels, actions = _levels_or_actions(doc, loc, e)
    for j, action in enumerate(actions):
        try:
            s3_scope(action)
        except ValueError as exc:
            doc.fail((*loc, "actions", j), str(exc))
    kms = _kms(doc, target, loc, e.kms_key) if e.kms_key is not None else None
    return model.S3Access(bucket=e.bucket, prefixes=tuple(e.prefixes),
                          levels=frozenset(model.S3Level(v) for v in levels),
                          kms_key_arn=kms, actions=tuple(actions))


def _table(doc: Document, i: int, e: TableIn) -> model.TableAccess:
    loc: Loc = ("access", "dynamodb", i)
    levels, actions = _levels_or_actions(doc, loc, e)
    for j, index in enumerate(e.indexes):
        if index in e.indexes[:j]:
            doc.fail((*loc, "indexes", j), f"index {index!r} is listed twice")
        if index == "*" and len(e.indexes) > 1:
            doc.fail((*loc, "indexes", j), "'*' already means every index; list it alone")
    scopes: set[Scope] = set()
    for j, action in enumerate(actions):
        try:
            scopes.update(table_scopes(action))
        except ValueError as exc:
            doc.fail((*loc, "actions", j), str(exc))
    if e.indexes and levels and model.TableLevel.READ.value not in levels:
        doc.fail((*loc, "indexes"), "indexes can only be read (Query, Scan); add level "
                                    "'read' or remove indexes")
    if e.indexes and actions and Scope.INDEX not in scopes:
        doc.fail((*loc, "indexes"), "none of the actions acts on an index (dynamodb:Query, "
                                    "dynamodb:Scan, ...); add one or remove indexes")
    return model.TableAccess(table=e.table,
                             levels=frozenset(model.TableLevel(v) for v in levels),
                             indexes=tuple(e.indexes), streams=e.streams,
                             actions=tuple(actions))


def _kms(doc: Document, target: tuple[str, str], loc: Loc, key: str) -> str:
    where = (*loc, "kms_key")
    account, region = target
    partition = partition_of(region)
    shape = key_arn(region, account, "<key-id>", partition)
    if key.startswith("alias/aws/") or re.fullmatch(r"arn:[\w-]+:kms:[^:]*:[^:]*:alias/aws/.*",
                                                   key):
        doc.fail(where, f"{key!r} is an AWS managed key; AWS managed keys cannot be "
                        f"shared cross-account (their key policy cannot be changed). "
                        f"Encrypt the bucket with a customer managed key and give "
                        f"its ARN ({shape})")
    if key.startswith("alias/") or ":alias/" in key:
        doc.fail(where, f"{key!r} is an alias; policies match the key itself, so "
                        f"give the key ARN ({shape})")
    if KEY_ID_RE.fullmatch(key):
        doc.fail(where, f"give the full key ARN: {key_arn(region, account, key, partition)}")
    try:
        arn = parse_arn(key)
    except ArnError:
        doc.fail(where, f"{short(key)} is not a KMS key ARN ({shape})")
    if arn.service != "kms" or not arn.resource.startswith("key/") \
            or not KEY_ID_RE.fullmatch(arn.resource.removeprefix("key/")):
        doc.fail(where, f"{short(key)} is not a KMS key ARN ({shape})")
    if arn.partition != partition:
        doc.fail(where, f"the key's partition {arn.partition!r} is not the target's "
                        f"({partition})")
    if arn.account != account:
        doc.fail(where, f"the key is in account {arn.account!r}; it must be the "
                        f"target account's key ({account}), the one the bucket uses")
    if arn.region != region:
        doc.fail(where, f"the key is in region {arn.region!r}; an SSE-KMS key is in "
                        f"the bucket's region, target.region ({region})")
    return key


# --- between entries ----------------------------------------------------------------------

def _where(doc: Document, loc: Loc) -> str:
    return f"{format_loc(loc)} (line {doc.line_of(loc)})"


def _bucket_clashes(doc: Document, raw: list[S3In], entries: tuple[model.S3Access, ...]) \
        -> None:
    """The same prefix of a bucket in two entries is a duplicate (merge them); different
    prefixes, even nested ones, are separate grants (read `in/`, write `in/tmp/`). A bucket
    has one default encryption key, so its entries may not name two."""
    seen: dict[tuple[str, str], int] = {}
    keys: dict[str, int] = {}
    for i, e in enumerate(entries):
        for j, prefix in enumerate(e.prefixes):
            first = seen.get((e.bucket, prefix))
            if first is not None:
                other: Loc = ("access", "s3", first)
                if "prefixes" in raw[i].model_fields_set:
                    doc.fail(("access", "s3", i, "prefixes", j),
                             f"prefix {prefix!r} of bucket {e.bucket!r} is already listed at "
                             f"{_where(doc, other)}; merge the two entries")
                doc.fail(("access", "s3", i, "bucket"),
                         f"bucket {e.bucket!r} is already listed at {_where(doc, other)}; "
                         f"merge the two entries")
            seen[(e.bucket, prefix)] = i
        if e.kms_key_arn is None:
            continue
        first = keys.get(e.bucket)
        if first is not None and entries[first].kms_key_arn != e.kms_key_arn:
            doc.fail(("access", "s3", i, "kms_key"),
                     f"bucket {e.bucket!r} is encrypted with "
                     f"{entries[first].kms_key_arn} at {_where(doc, ('access', 's3', first))}; "
                     f"a bucket has one default key")
        keys.setdefault(e.bucket, i)


def _table_scoped(e: model.TableAccess) -> set[tuple[str, str]]:
    """(action, where) pairs an entry grants."""
    grants = table_grants(e)
    index_names = e.indexes or ("",)
    return {*((a, "table") for a in grants.table),
            *((a, f"index {ix}") for a in grants.indexes for ix in index_names),
            *((a, "stream") for a in grants.stream)}


def _table_clashes(doc: Document, entries: tuple[model.TableAccess, ...]) -> None:
    """One table in several entries is fine when each grants something of its own; an
    action granted twice on the same ARN means two entries say the same thing."""
    granted: dict[tuple[str, str, str], int] = {}
    for i, e in enumerate(entries):
        for action, where in sorted(_table_scoped(e)):
            first = granted.get((e.table, action, where))
            if first is not None:
                doc.fail(("access", "dynamodb", i, "table"),
                         f"table {e.table!r} is already listed at "
                         f"{_where(doc, ('access', 'dynamodb', first))}, which grants "
                         f"{action} on its {where} too; merge the two entries or list each "
                         f"action once")
            granted[(e.table, action, where)] = i

"""The adversarial rows of the probe matrix, all of which must be denied:

- outsiders: another role and another function of a source account, its root, a role in a
  third account, the public, each trying to assume the target role and to call a declared
  access directly; with many sources also the execution role's own name in an account that
  is not a source (`accounts`), or in the organization outside the OUs and outside the
  organization altogether (`organization`);
- the external id missing or wrong;
- what the entries do not declare, taken together: bucket-policy and ACL changes, deleting
  the bucket or the table, the neighbours of each entry (write on a read-only prefix,
  DeleteItem where only PutItem was granted), other prefixes, plain HTTP, a bucket and a
  table not in the grant.
"""

from __future__ import annotations

from crossgrant.iam.arn import account_root_arn, bucket_arn, object_arn
from crossgrant.render.artifacts import Artifacts
from crossgrant.spec.model import Grant, Mode, S3Access, S3Level
from crossgrant.verify.probes import (
    OBJECT_ACTIONS,
    Access,
    entry_tag,
    intended,
    once,
    s3_accesses,
    table_accesses,
)
from crossgrant.verify.steps import (
    INTRUDER_ROLE,
    OTHER_BUCKET,
    OTHER_FUNCTION_ROLE,
    OTHER_PREFIX,
    OTHER_TABLE,
    PROBE_KEY,
    Builder,
    Granted,
    Probe,
    Step,
    outside_org_account,
    outside_units_account,
    session_arn,
    third_account,
    tls,
)

__all__ = ["adversarial", "matrix", "outsiders"]

_BUCKET_CHANGES = ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket",
                   "s3:PutBucketAcl")
_TABLE_CHANGES = ("dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:PutResourcePolicy")
# Item actions tried on a table where no entry grants them: v1's four, and with exact
# actions the other writes and reads a put-only or get-only entry must not lend.
_ITEM_NEIGHBOURS = ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                    "dynamodb:Scan")
_EXACT_NEIGHBOURS = ("dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:Query")


def matrix(artifacts: Artifacts) -> list[Probe]:
    return intended(artifacts) + adversarial(artifacts)


def _deny(id_: str, description: str, steps: tuple[Step, ...]) -> Probe:
    return Probe(id_, description, False, steps, "adversarial")


def outsiders(g: Grant) -> list[tuple[str, str, str]]:
    """(key, who, principal) of each caller that must get nothing."""
    a_acct, third = g.source.account, third_account(g)
    out = [
        ("other-role", f"another role of {a_acct}", session_arn(a_acct, INTRUDER_ROLE)),
        ("other-function", f"another function of {a_acct}",
         session_arn(a_acct, OTHER_FUNCTION_ROLE, "other-fn")),
        ("whole-account", f"the root of {a_acct} (the whole account)",
         account_root_arn(a_acct, g.partition)),
        ("third-account", f"a role in a third account {third}", session_arn(third, INTRUDER_ROLE)),
    ]
    if not g.source.many:
        return out
    role, fn = g.source.execution_role, g.source.function
    if g.source.organization is None:
        return [*out, ("same-role-other-account",
                       f"{role} in {third}, an account not in source.accounts",
                       session_arn(third, role, fn))]
    inside, outside = outside_units_account(g), outside_org_account(g)
    return [*out,
            ("same-role-outside-units", f"{role} in {inside}, in the organization but "
                                        f"outside its OUs", session_arn(inside, role, fn)),
            ("same-role-outside-org", f"{role} in {outside}, outside the organization",
             session_arn(outside, role, fn))]


def adversarial(artifacts: Artifacts) -> list[Probe]:
    b = Builder(artifacts)
    g = b.g
    out: list[Probe] = []
    sample = _sample_access(g)
    for key, who, principal in outsiders(g):
        if g.mode is Mode.ASSUME_ROLE:
            out.append(_deny(f"deny:{key}:assume", f"{who} assumes {g.target.role_name}",
                             (b.assume(principal),)))
        if sample is not None:
            out.append(_deny(f"deny:{key}:direct", f"{who} calls {sample.action} directly",
                             (Step(principal, sample.action, sample.resource,
                                   sample.context),)))
    if g.mode is Mode.ASSUME_ROLE:
        out.append(_deny("deny:public:assume", f"an anonymous caller assumes "
                                               f"{g.target.role_name}", (b.assume("anonymous"),)))
    if sample is not None:
        out.append(_deny("deny:public:direct", f"an anonymous caller calls {sample.action}",
                         (Step("anonymous", sample.action, sample.resource, sample.context),)))
    if g.mode is Mode.ASSUME_ROLE and g.target.external_id is not None:
        out.append(_deny("deny:no-external-id", "assume without the external id",
                         (b.assume(b.exec_session, external_id=None),)))
        out.append(_deny("deny:wrong-external-id", "assume with a wrong external id",
                         (b.assume(b.exec_session, external_id="wrong-external-id"),)))
    granted = Granted(g)
    seen_buckets: set[str] = set()
    for access in g.s3:
        out.extend(_s3_adversarial(b, granted, access, first=access.bucket not in seen_buckets))
        seen_buckets.add(access.bucket)
    other_object = object_arn(OTHER_BUCKET, PROBE_KEY, g.partition)
    out.extend(_deny(f"deny:other-bucket:{act}", f"{act} on a bucket not in the grant",
                     b.as_function(act, other_object, tls()))
               for act in (OBJECT_ACTIONS[S3Level.READ], OBJECT_ACTIONS[S3Level.WRITE]))
    out.extend(_table_adversarial(b, granted))
    if g.dynamodb:
        other = g.table_arn(OTHER_TABLE)
        out.append(_deny("deny:other-table", "PutItem on a table not in the grant",
                         b.as_function("dynamodb:PutItem", other)))
    return once(out)


def _s3_adversarial(b: Builder, granted: Granted, a: S3Access, *, first: bool) -> list[Probe]:
    """Rows for one entry; `first`: the bucket's first entry, which also tries the
    bucket-wide changes."""
    out: list[Probe] = []
    partition = b.g.partition
    bucket = bucket_arn(a.bucket, partition)
    tag = entry_tag(granted, a)
    start = object_arn(a.bucket, f"{a.prefixes[0]}{PROBE_KEY}", partition)
    undeclared: list[tuple[str, str, str]] = []  # (where, action, resource)
    if first:
        undeclared.append(("", "s3:PutObjectAcl", start))
        undeclared += [("", act, bucket) for act in _BUCKET_CHANGES
                       if not granted.bucket(act, a.bucket)]
    # the neighbours: each prefix of a bucket with several entries, the first otherwise
    for prefix in a.prefixes if tag else a.prefixes[:1]:
        key = f"{prefix}{PROBE_KEY}"
        undeclared += [(f"/{prefix}" if tag else "", act, object_arn(a.bucket, key, partition))
                       for act in (OBJECT_ACTIONS[level] for level in
                                   (S3Level.DELETE, S3Level.WRITE, S3Level.READ))
                       if not granted.object(act, a.bucket, key)]
    if first and not granted.bucket("s3:ListBucket", a.bucket):
        undeclared.append(("", "s3:ListBucket", bucket))
    out.extend(_deny(f"deny:{act}:{a.bucket}{where}",
                     f"{act} on {a.bucket}{where} (not declared)",
                     b.as_function(act, res, tls())) for where, act, res in undeclared)

    # What this entry allows, tried outside its prefixes and over plain HTTP.
    own = [x for x in s3_accesses(b.g, granted, a) if x.resource.startswith(f"{bucket}/")
           and x.resource.endswith(PROBE_KEY)]
    tried = _tried(a, own)
    other_key = f"{OTHER_PREFIX}{PROBE_KEY}"
    other = object_arn(a.bucket, other_key, partition)
    out.extend(_deny(f"deny:other-prefix:{act}:{a.bucket}{tag}",
                     f"{act} outside the declared prefixes", b.as_function(act, other, tls()))
               for act in tried if not granted.object(act, a.bucket, other_key))
    if any(x.action == "s3:ListBucket" for x in s3_accesses(b.g, granted, a)) \
            and not granted.listing("s3:ListBucket", a.bucket, OTHER_PREFIX):
        out.append(_deny(f"deny:other-prefix:list:{a.bucket}{tag}",
                         "list outside the declared prefixes",
                         b.as_function("s3:ListBucket", bucket,
                                       (*tls(), ("s3:prefix", OTHER_PREFIX)))))
    if b.g.options.tls_only:
        out.extend(_deny(f"deny:plain-http:{act}:{a.bucket}{tag}", f"{act} over plain HTTP",
                         b.as_function(act, start, tls(False))) for act in tried)
    return out


def _tried(a: S3Access, own: list[Access]) -> list[str]:
    """The object actions tried where this entry does not allow them: a level entry's
    read and write (as in v1), an exact entry's every object action."""
    if not a.actions:
        mine = {x.action for x in own}
        return [OBJECT_ACTIONS[level] for level in (S3Level.READ, S3Level.WRITE)
                if OBJECT_ACTIONS[level] in mine]
    return list(dict.fromkeys(x.action for x in own))


def _table_adversarial(b: Builder, granted: Granted) -> list[Probe]:
    g = b.g
    out: list[Probe] = []
    for name in dict.fromkeys(t.table for t in g.dynamodb):
        arn = g.table_arn(name)
        exact = any(t.actions for t in g.dynamodb if t.table == name)
        tried = [*_TABLE_CHANGES, *_ITEM_NEIGHBOURS, *(_EXACT_NEIGHBOURS if exact else ())]
        out.extend(_deny(f"deny:{act}:{name}", f"{act} on {name} (not declared)",
                         b.as_function(act, arn)) for act in tried
                   if not granted.table(act, name))
    return out


def _sample_access(g: Grant) -> Access | None:
    """One declared access, tried by outsiders directly against the resource: an object
    write (or else read) of the first bucket entry, else the first table's."""
    granted = Granted(g)
    for a in g.s3:
        own = [x for x in s3_accesses(g, granted, a) if x.resource.endswith(PROBE_KEY)
               and x.resource.startswith(object_arn(a.bucket, a.prefixes[0], g.partition))]
        for action in ("s3:PutObject", "s3:GetObject"):
            hit = next((x for x in own if x.action == action), None)
            if hit is not None:
                return hit
        if own:
            return own[0]
    for t in g.dynamodb:
        rows = [x for x in table_accesses(g, t) if x.resource == g.table_arn(t.table)]
        write = next((x for x in rows if x.action == "dynamodb:PutItem"), None)
        return write or (rows[0] if rows else None)
    return None

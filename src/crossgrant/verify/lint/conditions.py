"""Condition rules: the conditions a bucket grant should carry and does not.

A bucket policy granting other accounts should refuse plain HTTP (CG106: a Deny on
`aws:SecureTransport` false), and `s3:ListBucket` next to object access limited to key
prefixes should be limited to the same prefixes (CG111: an `s3:prefix` condition).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from crossgrant.findings import Severity
from crossgrant.iam.arn import bucket_arn, object_arn
from crossgrant.verify.lint.arns import action_infos
from crossgrant.verify.lint.document import Document, Stmt
from crossgrant.verify.lint.principals import account_of, everyone
from crossgrant.verify.lint.registry import Hit, rule


def _s3_resources(doc: Document) -> list[str]:
    out: list[str] = []
    for st in doc.statements:
        for value, _ in st.values("Resource", "NotResource"):
            if re.match(r"arn:[^:]+:s3:::", value) and value not in out:
                out.append(value)
    return out


def _is_tls_deny(st: Stmt) -> bool:
    if st.allow or not everyone(st):
        return False
    return any(c.key == "aws:securetransport" and c.base == "Bool"
               and any(v.lower() == "false" for v in c.values) for c in st.conditions)


@rule("CG106", "missing-tls-deny", Severity.WARNING,
      "A bucket policy granting principals of another account, with no Deny on "
      "aws:SecureTransport false.")
def check_tls_deny(doc: Document) -> Iterator[Hit]:
    if doc.kind != "resource":
        return
    buckets = _s3_resources(doc)
    if not buckets:
        return
    outside: list[str] = []
    granted: list[str] = []
    for st in doc.statements:
        if not st.allow:
            continue
        named = [v for t, v, _ in st.principals() if t == "AWS"
                 and (a := account_of(v)) is not None
                 and (a == "*" or doc.owner_account is None or a != doc.owner_account)]
        if not named:
            continue
        outside += [v for v in named if v not in outside]
        for value, _ in st.values("Action"):
            for name in [i.qualified_name for i in action_infos(value)] or [value]:
                if name not in granted:
                    granted.append(name)
    if not outside:
        return
    denies = [st for st in doc.statements if _is_tls_deny(st)]
    uncovered = [a for a in granted
                 if not any(d.compiled.covers_action(a.lower()) for d in denies)]
    if denies and not uncovered:
        return
    first = "*" if "*" in outside else outside[0]  # the widest grant says the most
    if first == "*":
        who = 'everyone ("*")'
    else:
        whose = ("another account" if doc.owner_account is not None else
                 "taken as another account: no owner account given")
        who = f"{first} ({whose})"
    if len(outside) > 1:
        who += f" and {len(outside) - 1} other principal(s)"
    bucket_arns: list[str] = []
    for r in buckets:
        m = re.match(r"arn:([^:]+):s3:::([^/]+)", r)
        if m:
            partition, bucket = m.groups()
            for arn in (bucket_arn(bucket, partition), object_arn(bucket, "*", partition)):
                if arn not in bucket_arns:
                    bucket_arns.append(arn)
    statement = json.dumps({"Sid": "DenyInsecureTransport", "Effect": "Deny",
                            "Principal": "*", "Action": "s3:*", "Resource": bucket_arns,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    if denies:
        message = (f"bucket policy grants {who}; its TLS-only Deny does not "
                   f"cover {', '.join(uncovered[:3])}")
        fix = f'make the Deny\'s Action "s3:*": {statement}'
    else:
        message = (f"bucket policy grants {who} but has no Deny for requests "
                   f"without TLS (aws:SecureTransport false)")
        fix = f"add a Deny statement with Condition Bool aws:SecureTransport=false: {statement}"
    yield Hit(None, None, "" if doc.bare else "Statement", message, fix)


def _object_rests(doc: Document) -> dict[tuple[str, str], list[str]]:
    """(partition, bucket) -> the key patterns object actions are granted on."""
    out: dict[tuple[str, str], list[str]] = {}
    for st in doc.statements:
        if not st.allow:
            continue
        infos = [i for v, _ in st.values("Action") for i in action_infos(v)]
        if not any("object" in i.resource_types for i in infos if i.service == "s3"):
            continue
        for value, _ in st.values("Resource"):
            m = re.fullmatch(r"arn:([^:]+):s3:::([^/*?]+)/(.+)", value)
            if m:
                out.setdefault((m.group(1), m.group(2)), []).append(m.group(3))
    return out


@rule("CG111", "unscoped-list-bucket", Severity.INFO,
      "s3:ListBucket granted without an s3:prefix condition while object access is limited "
      "to key prefixes.")
def check_list_prefix(doc: Document) -> Iterator[Hit]:
    if doc.kind not in ("identity", "resource"):
        return
    rests = _object_rests(doc)
    for st in doc.statements:
        if not st.allow:
            continue
        if not any(i.qualified_name == "s3:ListBucket"
                   for v, _ in st.values("Action") for i in action_infos(v)):
            continue
        if any(c.key == "s3:prefix" for c in st.conditions):
            continue
        for value, path in st.values("Resource"):
            m = re.fullmatch(r"arn:([^:]+):s3:::([^/*?]+)", value)
            keys = rests.get((m.group(1), m.group(2))) if m else None
            if not keys or any(k.startswith(("*", "?", "${")) for k in keys):
                continue
            yield st.hit(path, f"s3:ListBucket lists every key of {value}, while objects are "
                               f"granted only under {', '.join(keys)}",
                         f'add "Condition": {{"StringLike": {{"s3:prefix": '
                         f"{json.dumps(keys)}}}}} to this statement")

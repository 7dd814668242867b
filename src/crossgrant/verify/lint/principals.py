"""Principal rules: trust policies open to a whole account or everyone (CG105), Allow with
NotPrincipal (CG107), and resource policies open to everyone (CG110).

A wide Principal is fine when a condition narrows who (`aws:PrincipalOrgID`,
`aws:PrincipalArn`, `sts:ExternalId`...), in the statement itself or as the exception of
a Deny for everyone: these rules look for such a condition before reporting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

from crossgrant.findings import Severity
from crossgrant.iam.arn import is_account_id, role_arn
from crossgrant.iam.conditions import Condition
from crossgrant.verify.lint.document import Document, Stmt
from crossgrant.verify.lint.registry import Hit, statement_rule

__all__ = ["account_of", "everyone", "whole_account"]

_TRUST_NARROWING: Final = frozenset({
    "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "sts:externalid",
    "aws:userid", "aws:username"})
_PUBLIC_NARROWING: Final = frozenset({
    "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount",
    "aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourcevpce",
    "aws:sourcevpc", "aws:sourceip", "aws:userid", "aws:username", "aws:sourceorgid",
    "aws:sourceorgpaths", "aws:principalservicename", "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn", "kms:calleraccount", "kms:viaservice", "sts:externalid"})


def _positive(c: Condition) -> bool:
    """Does the condition demand its key be present and match (so it can narrow)?"""
    return c.qualifier != "ForAllValues" and not c.negated and c.base != "Null" \
        and not c.if_exists


def everyone(st: Stmt) -> bool:
    return any(t == "AWS" and v == "*" for t, v, _ in st.principals())


def _narrowed(doc: Document, st: Stmt, keys: Callable[[str], bool], action: str) -> bool:
    """Is the statement limited by a condition on one of `keys`, in it or in a Deny?"""
    if any(_positive(c) and keys(c.key) for c in st.conditions):
        return True
    for other in doc.statements:
        if other.allow or not everyone(other) or not other.compiled.covers_action(action):
            continue
        if any(c.negated and keys(c.key) for c in other.conditions):
            return True
    return False


def account_of(principal: str) -> str | None:
    """The account an AWS principal entry belongs to, "*" for everyone, None if unknown."""
    if principal == "*":
        return "*"
    if is_account_id(principal):
        return principal
    parts = principal.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("iam", "sts"):
        return parts[4]
    return None


def whole_account(principal: str) -> str | None:
    """The account a principal entry names as a whole (a bare id or its root), else None."""
    if is_account_id(principal):
        return principal
    m = re.fullmatch(r"arn:[^:]+:iam::([^:]*):root", principal)
    return m.group(1) if m and is_account_id(m.group(1)) else None


@statement_rule(
    "CG105", "open-trust-policy", Severity.ERROR,
    "A trust policy letting a whole account (root, bare id) or everyone (*) assume the "
    "role with no condition naming who.", kinds=("trust",), allow_only=True)
def check_open_trust(doc: Document, st: Stmt) -> Iterator[Hit]:
    if not st.compiled.covers_action("sts:assumerole"):
        return
    for ptype, value, path in st.principals():
        if ptype != "AWS":
            continue
        if value == "*":
            def public(k: str) -> bool:
                return k in _TRUST_NARROWING or k == "aws:principalaccount"
            if not _narrowed(doc, st, public, "sts:assumerole"):
                yield st.hit(path, "trust policy lets any principal of any AWS account "
                                   "assume the role: no condition narrows Principal \"*\"",
                             'name the trusting role in Principal ("AWS": '
                             f'"{role_arn("ACCOUNT_ID", "ROLE_NAME")}"), or add a '
                             'condition such as "StringEquals": {"aws:PrincipalOrgID": '
                             '"o-xxxxxxxxxx"}')
            continue
        account = whole_account(value)
        if account is None:
            continue

        def narrowing(k: str) -> bool:
            return k in _TRUST_NARROWING or k.startswith("aws:principaltag/")
        if _narrowed(doc, st, narrowing, "sts:assumerole"):
            continue
        example = role_arn(account, "ROLE_NAME")
        yield st.hit(path, f"trust policy lets every principal of account {account} "
                           f"assume the role ({value}) with no condition naming which: "
                           f"any user or role there whose own policies allow "
                           f"sts:AssumeRole can",
                     f'name the role instead ("AWS": "{example}"), or add "ArnEquals": '
                     f'{{"aws:PrincipalArn": "{example}"}} or "StringEquals": '
                     f'{{"sts:ExternalId": "..."}}')


@statement_rule(
    "CG107", "notprincipal-allow", Severity.ERROR,
    "NotPrincipal with Allow: grants to every principal except those listed, anonymous "
    "callers included.", allow_only=True)
def check_notprincipal(doc: Document, st: Stmt) -> Iterator[Hit]:
    if st.allow and st.has("NotPrincipal"):
        yield st.hit(st.at("NotPrincipal"),
                     "Allow with NotPrincipal grants to every principal except those "
                     "listed, anonymous callers included",
                     "use Principal with the principals to allow; to exclude some, add a "
                     "Deny with a condition on aws:PrincipalArn")


@statement_rule(
    "CG110", "public-principal", Severity.ERROR,
    'Principal "*" in an Allow of a resource policy with no condition narrowing who.',
    kinds=("resource",), allow_only=True)
def check_public(doc: Document, st: Stmt) -> Iterator[Hit]:
    star = next((p for t, v, p in st.principals() if t == "AWS" and v == "*"), None)
    if star is None:
        return
    actions = [a for a, _ in st.values("Action")] or ["*"]
    probe = actions[0].lower() if "*" not in actions[0] else "s3:getobject"
    if _narrowed(doc, st, lambda k: k in _PUBLIC_NARROWING, probe):
        return
    yield st.hit(star, f"Principal \"*\" {st.verb} {', '.join(actions[:3])} to anyone, "
                       f"anonymous callers included: no condition narrows who",
                 "name the principals, or add a condition such as \"StringEquals\": "
                 "{\"aws:PrincipalOrgID\": \"o-xxxxxxxxxx\"} or on aws:SourceVpce")

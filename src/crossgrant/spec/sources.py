"""`source`: one account (v1), a list of accounts, or the accounts of some organizational
units. Exactly one of the three; none of them may be the target account.
"""

from __future__ import annotations

from crossgrant.spec import model
from crossgrant.spec.schema import GrantIn, OrganizationIn
from crossgrant.spec.source import Document, Loc

__all__ = ["no_nulls", "source_accounts"]

_FORMS = ("account", "accounts", "organization")
_EXPECTED = {"account": "a string", "accounts": "a list", "organization": "a mapping"}


def no_nulls(doc: Document, loc: Loc, written: set[str], model_in: object,
             expected: dict[str, str]) -> None:
    """Fields that are optional only because another may replace them: a null written
    there is a mistake, not "leave it out"."""
    for name, what in expected.items():
        if name in written and getattr(model_in, name) is None:
            doc.fail((*loc, name), f"expected {what}, got nothing (null)")


def source_accounts(doc: Document, m: GrantIn) -> tuple[str, ...] | model.OrgSource:
    """The source accounts the grant declares, or its organization (members not placed)."""
    src = m.source
    no_nulls(doc, ("source",), src.model_fields_set, src, _EXPECTED)
    given = [name for name in _FORMS if getattr(src, name) is not None]
    if not given:
        doc.fail(("source", "account"), "required key is missing (give account, accounts "
                                        "or organization)")
    if len(given) > 1:
        doc.fail(("source", given[1]), f"give one of account, accounts and organization, "
                                       f"not both {given[0]} and {given[1]}")
    target = m.target.account
    if src.account is not None:
        _not_target(doc, ("source", "account"), src.account, target)
        return (src.account,)
    if src.accounts is not None:
        return _listed(doc, src.accounts, target)
    assert src.organization is not None
    return _organization(doc, m, src.organization)


def _not_target(doc: Document, loc: Loc, account: str, target: str) -> None:
    if account != target:
        return
    # v1 wording: the target is reported as the same as the one source account
    where, other = (("target", "account"), "source.account") if loc == ("source", "account") \
        else (loc, "target.account")
    doc.fail(where, f"same account as {other} ({account}): not cross-account; a "
                    f"same-account grant needs no crossgrant")


def _listed(doc: Document, accounts: list[str], target: str) -> tuple[str, ...]:
    if not accounts:
        doc.fail(("source", "accounts"), "empty list; name at least one account")
    for j, account in enumerate(accounts):
        if account in accounts[:j]:
            doc.fail(("source", "accounts", j), f"account {account} is listed twice")
        _not_target(doc, ("source", "accounts", j), account, target)
    return tuple(accounts)


def _organization(doc: Document, m: GrantIn, org: OrganizationIn) -> model.OrgSource:
    loc: Loc = ("source", "organization")
    if not org.units:
        doc.fail((*loc, "units"), "empty list; name the OUs whose accounts run the function "
                                  "(never the whole organization)")
    root = org.units[0].split("-")[1]
    for j, unit in enumerate(org.units):
        if unit in org.units[:j]:
            doc.fail((*loc, "units", j), f"OU {unit} is listed twice")
        if unit.split("-")[1] != root:
            doc.fail((*loc, "units", j), f"{unit} is under root r-{unit.split('-')[1]}, "
                                         f"{org.units[0]} under r-{root}; an organization "
                                         f"has one root, so they cannot both be in {org.id}")
    if m.options.organization_id not in (None, org.id):
        doc.fail(("options", "organization_id"),
                 f"{m.options.organization_id} differs from source.organization.id "
                 f"({org.id}); leave it out, the organization already requires its id")
    if m.options.trust_whole_account:
        doc.fail(("options", "trust_whole_account"),
                 "an organization grant names no account to trust; it already names the "
                 "execution role with aws:PrincipalArn in every account of the OUs")
    return model.OrgSource(org.id, tuple(org.units))

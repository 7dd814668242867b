"""The zone of trust: which accounts a finding's principal may belong to without being
"external". "account" trusts only the resource's own account; "org" trusts every account of
the state's organization and any principal whose `aws:PrincipalOrgID` is its id.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from crossgrant.errors import CrossgrantError
from crossgrant.world import AccountState

__all__ = ["TrustZone", "Zone", "trust_zone"]


class Zone(enum.StrEnum):
    ACCOUNT = "account"
    ORG = "org"



@dataclass(frozen=True)
class TrustZone:
    kind: Zone
    org_id: str | None
    org_accounts: frozenset[str]
    org_paths: Mapping[str, str]

    def trusted(self, account: str, resource_account: str) -> bool:
        if account == resource_account:
            return True
        return self.kind is Zone.ORG and account in self.org_accounts

    def org_of(self, account: str) -> str | None:
        return self.org_id if account in self.org_accounts else None


def trust_zone(state: AccountState, zone: Zone) -> TrustZone:
    org = state.organization
    if org is None:
        if zone is Zone.ORG:
            raise CrossgrantError("zone \"org\" needs an organization in the state "
                                  "(organization: id, root, accounts)")
        return TrustZone(zone, None, frozenset(), {})
    members = set(org.accounts)
    if org.management_account:
        members.add(org.management_account)
    paths = {a: p for a in members if (p := org.org_paths(a)) is not None}
    return TrustZone(zone, org.id, frozenset(members), paths)


"""Many source accounts: one source side, rolled out by CloudFormation StackSets.

The execution role's documents are the same in every source account but for the
account's own id (in its log group's ARN), so the source side is rendered once with
`${AWS::AccountId}` in its place and handed to AWS's fan-out engine: a service-managed
StackSet with automatic deployment for an organization's OUs (accounts that join later
get it, accounts that leave lose it), a self-managed one for a list of accounts.
crossgrant never loops over other accounts with credentials of its own.

StackSets concepts and permission models: AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from crossgrant.render.artifacts import Artifacts, RoleArtifact

__all__ = ["ACCOUNT_ID", "Rollout", "rollout", "source_role"]

ACCOUNT_ID = "${AWS::AccountId}"  # CloudFormation's pseudo parameter, resolved per account
SERVICE_MANAGED = "SERVICE_MANAGED"
SELF_MANAGED = "SELF_MANAGED"
# Self-managed StackSets: the administrator account's role and the role it assumes in
# each target account (AWS's default names).
ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"


@dataclass(frozen=True, slots=True)
class Rollout:
    """Where and how the StackSet puts the source side."""

    name: str  # the StackSet's name
    permission_model: str  # SERVICE_MANAGED (organization) or SELF_MANAGED (accounts)
    units: tuple[str, ...]  # OU ids (service-managed)
    accounts: tuple[str, ...]  # account ids (self-managed)
    regions: tuple[str, ...]
    description: str

    @property
    def service_managed(self) -> bool:
        return self.permission_model == SERVICE_MANAGED

    @property
    def targets(self) -> str:
        """The deployment targets in words."""
        if self.service_managed:
            return f"every account in {', '.join(self.units)} (nested OUs included)"
        return f"accounts {', '.join(self.accounts)}"


def rollout(artifacts: Artifacts) -> Rollout | None:
    """The StackSet of a grant with many sources; None for one source account."""
    grant = artifacts.grant
    if not grant.source.many:
        return None
    org = grant.source.organization
    description = (f"crossgrant {grant.name}: execution role {grant.source.execution_role} "
                   f"of function {grant.source.function}")
    return Rollout(
        name=f"crossgrant-{grant.name}",
        permission_model=SERVICE_MANAGED if org is not None else SELF_MANAGED,
        units=org.units if org is not None else (),
        accounts=() if org is not None else grant.source.accounts,
        regions=(grant.source.region,),
        description=description)


def source_role(artifacts: Artifacts) -> RoleArtifact:
    """The execution role as every source account gets it: the first account's, with its
    id replaced by `${AWS::AccountId}`."""
    grant = artifacts.grant
    first = next(r for r in artifacts.roles_in(grant.source.account)
                 if r.name == grant.source.execution_role)

    def general(document: Any) -> Any:
        text = json.dumps(document)
        return json.loads(text.replace(f":{grant.source.account}:", f":{ACCOUNT_ID}:"))

    return replace(first, account=ACCOUNT_ID,
                   trust_policy=general(first.trust_policy),
                   inline_policies=tuple((n, general(d)) for n, d in first.inline_policies))

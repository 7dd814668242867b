"""The CloudFormation template for the StackSet administrator: one
`AWS::CloudFormation::StackSet` whose TemplateBody is the source side (see
`render.rollout`).

- `organization`: `PermissionModel: SERVICE_MANAGED`, deployed from the management
  account or a delegated administrator (the `CallAs` parameter), targets the OUs, with
  `AutoDeployment` so accounts that join an OU later get the role and accounts that leave
  lose it (`RetainStacksOnAccountRemoval: false`);
- `accounts`: `PermissionModel: SELF_MANAGED`, deployed from an account holding
  AWSCloudFormationStackSetAdministrationRole, targets the account list, each of which
  holds AWSCloudFormationStackSetExecutionRole.

Resource reference: AWS CloudFormation Template Reference, AWS::CloudFormation::StackSet,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stackset.html
"""

from __future__ import annotations

from typing import Any

from crossgrant.render.artifacts import Artifacts
from crossgrant.render.rollout import ADMINISTRATION_ROLE, EXECUTION_ROLE, Rollout

__all__ = ["CALL_AS_PARAMETER", "STACKSET_LOGICAL_ID", "operation_preferences",
           "stackset_template"]

STACKSET_LOGICAL_ID = "SourceStackSet"
CALL_AS_PARAMETER = "CallAs"


def operation_preferences() -> dict[str, Any]:
    """All accounts at once; the first failure stops the operation, so a broken source
    side never spreads further than one wave."""
    return {"FailureToleranceCount": 0, "MaxConcurrentPercentage": 100,
            "RegionConcurrencyType": "PARALLEL"}


def stackset_template(artifacts: Artifacts, plan: Rollout, body: str,
                      capability: str) -> dict[str, Any]:
    """The administrator's template; `body` is the source side's template text."""
    grant = artifacts.grant
    targets: dict[str, Any] = ({"OrganizationalUnitIds": list(plan.units)}
                               if plan.service_managed else {"Accounts": list(plan.accounts)})
    props: dict[str, Any] = {
        "StackSetName": plan.name,
        "Description": plan.description[:1024],
        "PermissionModel": plan.permission_model,
    }
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    if plan.service_managed:
        props["AutoDeployment"] = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        props["CallAs"] = {"Ref": CALL_AS_PARAMETER}
        template["Parameters"] = {CALL_AS_PARAMETER: {
            "Type": "String", "Default": "SELF", "AllowedValues": ["SELF", "DELEGATED_ADMIN"],
            "Description": "SELF in the organization's management account, DELEGATED_ADMIN "
                           "in a delegated administrator account for CloudFormation "
                           "StackSets"}}
    else:
        props["AdministrationRoleARN"] = {
            "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/"
                       f"{ADMINISTRATION_ROLE}"}
        props["ExecutionRoleName"] = EXECUTION_ROLE
    props.update({
        "Capabilities": [capability],
        "ManagedExecution": {"Active": True},
        "OperationPreferences": operation_preferences(),
        "StackInstancesGroup": [{"DeploymentTargets": targets, "Regions": list(plan.regions)}],
    })
    if grant.options.tags:
        props["Tags"] = [{"Key": k, "Value": v} for k, v in grant.options.tags]
    props["TemplateBody"] = body
    template["Resources"] = {STACKSET_LOGICAL_ID: {
        "Type": "AWS::CloudFormation::StackSet", "Properties": props}}
    template["Outputs"] = {"StackSetId": {
        "Description": f"The StackSet that puts the execution role into {plan.targets}",
        "Value": {"Ref": STACKSET_LOGICAL_ID}}}
    return template

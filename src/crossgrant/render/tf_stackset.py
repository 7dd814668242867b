"""The Terraform blocks of a grant with many source accounts: a provider for the StackSet
administrator, `aws_cloudformation_stack_set` whose template body is the source side, and
`aws_cloudformation_stack_set_instance` for the OUs (service-managed) or one per account
(self-managed). The same StackSet as the CloudFormation export (`render.cfn_stackset`).

The instances name no region: with the administrator provider in the source region, both
the 5.x provider (`region`) and the 6.x one (`stack_set_instance_region`) default to it.
Resources: Terraform AWS provider, aws_cloudformation_stack_set and
aws_cloudformation_stack_set_instance,
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/cloudformation_stack_set
"""

from __future__ import annotations

from crossgrant.render.artifacts import Artifacts
from crossgrant.render.hcl import Attr, Block, escape_template, heredoc, quote, string_map
from crossgrant.render.rollout import ADMINISTRATION_ROLE, EXECUTION_ROLE, Rollout

__all__ = ["SIDE", "stackset_blocks", "stackset_outputs", "stackset_provider",
           "stackset_variables"]

SIDE = "stackset"  # the provider alias and variable prefix of the administrator account
_ACCOUNT = f"var.{SIDE}_account_id"
_CALL_AS = f"var.{SIDE}_call_as"


def stackset_variables(plan: Rollout) -> list[Block]:
    account: list[Attr | Block | str] = [
        Attr("description", quote(
            "The account that administers the StackSet: the organization's management "
            "account or a delegated administrator (null: whichever account the credentials "
            "reach)" if plan.service_managed else
            "The account that administers the StackSet; it holds "
            f"{ADMINISTRATION_ROLE}, and each source account {EXECUTION_ROLE}.")),
        Attr("type", "string"),
    ]
    if plan.service_managed:
        account.append(Attr("default", "null"))
    account.append(Block("validation", body=[
        Attr("condition", f"{_ACCOUNT} == null || can(regex({quote('^[0-9]{12}$')}, "
                          f"{_ACCOUNT}))"),
        Attr("error_message", quote(f"{SIDE}_account_id must be a 12-digit AWS account id."))]))
    blocks = [Block("variable", (f"{SIDE}_account_id",), account),
              Block("variable", (f"{SIDE}_profile",), [
                  Attr("description", quote("AWS CLI profile with credentials for the "
                                            "StackSet administrator (null: the default "
                                            "credential chain).")),
                  Attr("type", "string"),
                  Attr("default", "null")])]
    if plan.service_managed:
        blocks.append(Block("variable", (f"{SIDE}_call_as",), [
            Attr("description", quote("SELF in the management account, DELEGATED_ADMIN in a "
                                      "delegated administrator for CloudFormation StackSets.")),
            Attr("type", "string"),
            Attr("default", quote("SELF")),
            Block("validation", body=[
                Attr("condition", f"contains([{quote('SELF')}, {quote('DELEGATED_ADMIN')}], "
                                  f"{_CALL_AS})"),
                Attr("error_message", quote(f"{SIDE}_call_as is SELF or DELEGATED_ADMIN."))])]))
    return blocks


def stackset_provider(plan: Rollout) -> Block:
    return Block("provider", ("aws",), [
        Attr("alias", quote(SIDE)),
        Attr("region", quote(plan.regions[0])),
        Attr("profile", f"var.{SIDE}_profile"),
        Attr("allowed_account_ids", f"{_ACCOUNT} == null ? null : [{_ACCOUNT}]"),
    ])


def _preferences() -> Block:
    return Block("operation_preferences", body=[
        Attr("failure_tolerance_count", "0"),
        Attr("max_concurrent_percentage", "100"),
        Attr("region_concurrency_type", quote("PARALLEL"))])


def stackset_blocks(artifacts: Artifacts, plan: Rollout, body: str, capability: str) \
        -> list[Block]:
    """The StackSet and its instances; `body` is the source side's template text."""
    grant = artifacts.grant
    provider = Attr("provider", f"aws.{SIDE}")
    attrs: list[Attr | Block | str] = [
        provider,
        Attr("name", quote(plan.name)),
        Attr("description", quote(plan.description)),
        Attr("permission_model", quote(plan.permission_model)),
    ]
    if plan.service_managed:
        attrs.append(Attr("call_as", _CALL_AS))
    else:
        attrs += [Attr("administration_role_arn",
                       f'"arn:{grant.partition}:iam::${{{_ACCOUNT}}}:role/{ADMINISTRATION_ROLE}"'),
                  Attr("execution_role_name", quote(EXECUTION_ROLE))]
    attrs += [Attr("capabilities", f"[{quote(capability)}]"),
              Attr("template_body", heredoc(escape_template(body)))]
    if grant.options.tags:
        attrs.append(Attr("tags", string_map(grant.options.tags)))
    if plan.service_managed:
        attrs.append(Block("auto_deployment", body=[
            Attr("enabled", "true"), Attr("retain_stacks_on_account_removal", "false")]))
    attrs += [Block("managed_execution", body=[Attr("active", "true")]), _preferences()]
    if plan.service_managed:
        # AWS fills in the administration role of a service-managed StackSet itself.
        attrs.append(Block("lifecycle", body=[
            Attr("ignore_changes", "[administration_role_arn]")]))
    stack_set = Block("resource", ("aws_cloudformation_stack_set", "source"), attrs)

    instance: list[Attr | Block | str] = []
    if not plan.service_managed:
        instance.append(Attr("for_each", f"toset([{', '.join(quote(a) for a in plan.accounts)}])"))
    instance += [provider,
                 Attr("stack_set_name", "aws_cloudformation_stack_set.source.name")]
    if plan.service_managed:
        instance += [Attr("call_as", _CALL_AS),
                     Block("deployment_targets", body=[Attr(
                         "organizational_unit_ids",
                         f"[{', '.join(quote(u) for u in plan.units)}]")])]
    else:
        instance.append(Attr("account_id", "each.value"))
    instance.append(_preferences())
    return [stack_set,
            Block("resource", ("aws_cloudformation_stack_set_instance", "source"), instance)]


def stackset_outputs(plan: Rollout) -> list[Block]:
    return [Block("output", ("stack_set_id",), [
        Attr("description", quote(f"The StackSet that puts the execution role into "
                                  f"{plan.targets}")),
        Attr("value", "aws_cloudformation_stack_set.source.stack_set_id")])]

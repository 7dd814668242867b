"""Artifacts -> two CloudFormation templates, one stack per account.

The stacks link through a parameter, not an export: exports do not cross accounts, so the
target stack takes the source stack's `ExecutionRoleArn` output as `SourceExecutionRoleArn`
(its AllowedPattern only admits that role in the source account). Every place in the target
template that names the execution role refers to that parameter, so the target cannot be
deployed before the source has produced the role.

With many source accounts (`source.accounts`, `source.organization`) the source side is
one StackSet for the administrator account instead (`render.cfn_stackset`), its template
the execution role with `${AWS::AccountId}` for each account's id; the target template
then names the execution roles (or the OUs) itself and needs no parameter.

Resource policies of buckets, tables and keys that crossgrant does not create are shared
with other teams. A CloudFormation resource policy owns its whole document, so by default
this template does not touch them: it records crossgrant's statements under
`Metadata.crossgrant.statementsToMerge` and says so in an Output, and `crossgrant deploy`
merges them. Only a bucket named in `owned` gets an `AWS::S3::BucketPolicy`, which then
replaces whatever policy the bucket had. Tables, streams and keys cannot be owned here:
CloudFormation can only set their policies on resources the same template creates.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Mapping
from typing import Any

import yaml

from crossgrant.errors import RenderError
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind, RoleArtifact
from crossgrant.render.cfn_stackset import stackset_template
from crossgrant.render.jsonfiles import (
    MERGE_HINT,
    check_owned,
    generator,
    ordered,
    owned_policy_document,
    side_accounts,
    statements_document,
)
from crossgrant.render.rollout import ACCOUNT_ID, Rollout, rollout, source_role
from crossgrant.render.suppressions import trust_skips

Template = dict[str, Any]

SOURCE_ROLE_PARAMETER = "SourceExecutionRoleArn"
_KIND_LABEL = {ResourceKind.BUCKET: "Bucket", ResourceKind.TABLE: "Table",
               ResourceKind.STREAM: "Stream", ResourceKind.KEY: "Key"}


def template_names(artifacts: Artifacts) -> dict[str, str]:
    """side -> file name, so callers can say which file to deploy first."""
    names = {side: f"{side}-{account}.yaml"
             for side, account in side_accounts(artifacts).items()}
    if artifacts.grant.source.many:
        names["source"] = "source-stackset.yaml"
    return names


def source_template_body(artifacts: Artifacts) -> str:
    """The StackSet's template: the source side as each source account gets it."""
    return _dump(_source(artifacts, generic=True),
                 f"# crossgrant {artifacts.grant.name}: the source side as every source "
                 f"account gets it (a StackSet instance).\n")


def to_cloudformation(artifacts: Artifacts, owned: Collection[str] = ()) -> dict[str, str]:
    owned_set = check_owned(artifacts, owned)
    for ps in artifacts.resource_policies:
        if ps.resource in owned_set and ps.kind is not ResourceKind.BUCKET:
            raise RenderError(
                f"{ps.label}: CloudFormation can only set the policy of a {ps.kind.value} it "
                f"creates; leave it to `crossgrant deploy` (or use --format terraform)")
    names = template_names(artifacts)
    order = [names[side] for side in artifacts.deploy_order]
    plan = rollout(artifacts)
    source = _source(artifacts) if plan is None else _stackset(artifacts, plan)
    out: dict[str, str] = {}
    for side, template in (("source", source), ("target", _target(artifacts, owned_set))):
        out[names[side]] = _dump(template, _header(artifacts, side, order, owned_set, template))
    return out


# --- the two templates -----------------------------------------------------------------

def _stackset(artifacts: Artifacts, plan: Rollout) -> Template:
    existing = artifacts.grant.source.existing_role
    template = stackset_template(artifacts, plan, source_template_body(artifacts),
                                 "CAPABILITY_IAM" if existing else "CAPABILITY_NAMED_IAM")
    return {"AWSTemplateFormatVersion": template.pop("AWSTemplateFormatVersion"),
            "Description": _description(artifacts, "source"),
            "Metadata": {"crossgrant": _metadata(artifacts, "source", [])}, **template}


def _source(artifacts: Artifacts, *, generic: bool = False) -> Template:
    """The source account's template; `generic`: as every source account of a StackSet
    gets it, each account's id written `${AWS::AccountId}` (through Fn::Sub)."""
    grant = artifacts.grant
    roles = [source_role(artifacts)] if generic else list(
        artifacts.roles_in(grant.source.account))
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for role in roles:
        logical = _role_logical_id(artifacts, role)
        if role.create:
            resources[logical] = _role(role, artifacts, {})
            arn: Any = {"Fn::GetAtt": [logical, "Arn"]}
        else:
            # The role is someone else's: only crossgrant's inline policy is ours to manage.
            for policy_name, doc in role.inline_policies:
                resources[f"{logical}Policy{_camel(policy_name)}"] = {
                    "Type": "AWS::IAM::RolePolicy",
                    "Properties": {"RoleName": role.name, "PolicyName": policy_name,
                                   "PolicyDocument": ordered(doc)}}
            arn = role.arn
        description = f"ARN of {role.name} ({role.purpose})"
        if role.arn == grant.execution_role_arn and not grant.source.many:
            description += f"; pass it to the target stack as {SOURCE_ROLE_PARAMETER}"
            if not role.create:
                description += " (if the existing role has a path, pass its real ARN)"
        outputs[f"{logical}Arn"] = {
            "Description": description,
            "Value": arn,
            "Export": {"Name": f"crossgrant-{_slug(grant.name)}-{logical}Arn"}}
    if generic:
        return {"AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"crossgrant grant {grant.name}: execution role "
                               f"{grant.source.execution_role} of function "
                               f"{grant.source.function}"[:1024],
                "Resources": _sub_account(resources), "Outputs": _sub_account(outputs)}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": _description(artifacts, "source"),
        "Metadata": {"crossgrant": _metadata(artifacts, "source", [])},
        "Resources": resources,
        "Outputs": outputs,
    }


def _sub_account(value: Any) -> Any:
    """Strings holding `${AWS::AccountId}` as Fn::Sub, which resolves it per account."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if ACCOUNT_ID in value else value
    if isinstance(value, list):
        return [_sub_account(v) for v in value]
    if isinstance(value, dict):
        return {k: _sub_account(v) for k, v in value.items()}
    return value


def _target(artifacts: Artifacts, owned: frozenset[str]) -> Template:
    grant = artifacts.grant
    account = grant.target.account
    # One source stack hands its role's ARN over; a StackSet's many roles are named as
    # the grant names them (or, for OUs, not named at all).
    links: dict[str, Any] = {} if grant.source.many else {
        grant.execution_role_arn: {"Ref": SOURCE_ROLE_PARAMETER}}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for role in artifacts.roles_in(account):
        logical = _role_logical_id(artifacts, role)
        resources[logical] = _role(role, artifacts, links)
        outputs[f"{logical}Arn"] = {
            "Description": f"ARN of {role.name} ({role.purpose})",
            "Value": {"Fn::GetAtt": [logical, "Arn"]},
            "Export": {"Name": f"crossgrant-{_slug(grant.name)}-{logical}Arn"}}
        links[role.arn] = {"Fn::GetAtt": [logical, "Arn"]}

    to_merge: list[PolicyStatements] = []
    used: set[str] = set(resources)
    for ps in artifacts.policies_in(account):
        name = _unique(f"{_KIND_LABEL[ps.kind]}Policy{_camel(_short(ps))}", used)
        if ps.resource in owned:
            resources[name] = {
                "Type": "AWS::S3::BucketPolicy",
                "Metadata": {"crossgrant": {
                    "owns": f"the whole bucket policy of {ps.resource}: deploying this stack "
                            f"replaces any policy the bucket has"}},
                "Properties": {
                    "Bucket": ps.resource,
                    "PolicyDocument": _link(owned_policy_document(artifacts, ps), links)}}
        else:
            to_merge.append(ps)
            outputs[f"Merge{name}"] = {
                "Description": f"Not applied by this stack: the {ps.label}",
                "Value": f"crossgrant deploy merges "
                         f"{', '.join(st['Sid'] for st in ps.statements)} into the "
                         f"{ps.label}; see Metadata crossgrant.statementsToMerge"}

    template: Template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": _description(artifacts, "target"),
        "Metadata": {"crossgrant": _metadata(artifacts, "target", to_merge)},
    }
    if _refers_to(resources, SOURCE_ROLE_PARAMETER):
        template["Metadata"]["AWS::CloudFormation::Interface"] = {
            "ParameterGroups": [{"Label": {"default": "Link to the source stack"},
                                 "Parameters": [SOURCE_ROLE_PARAMETER]}],
            "ParameterLabels": {SOURCE_ROLE_PARAMETER: {
                "default": f"ExecutionRoleArn output of the source stack ({grant.source.account})"
            }}}
        template["Parameters"] = {SOURCE_ROLE_PARAMETER: _source_role_parameter(artifacts)}
    if not resources:
        # Nothing in this account is CloudFormation's to own (every policy is merged by
        # `crossgrant deploy`), but a stack needs one resource; this one does nothing and
        # carries the record of what is to be merged.
        resources["CrossgrantRecord"] = {
            "Type": "AWS::CloudFormation::WaitConditionHandle",
            "Metadata": {"crossgrant": "no-op: every resource policy here is merged by "
                                       "crossgrant deploy, not owned by this stack"}}
    template["Resources"] = resources
    if outputs:
        template["Outputs"] = outputs
    return template


def _source_role_parameter(artifacts: Artifacts) -> dict[str, Any]:
    grant = artifacts.grant
    # Role names hold `A-Za-z0-9+=,.@_-`; of these only `+` and `.` mean something in a
    # (Java) regex, and escaping just those keeps the pattern readable.
    name = re.sub(r"([+.])", r"\\\1", grant.source.execution_role)
    return {
        "Type": "String",
        "Description": f"ARN of the execution role {grant.source.execution_role} in account "
                       f"{grant.source.account}: the ExecutionRoleArn output of the source "
                       f"stack",
        # A role path may precede the name; the account and the name are the grant's.
        "AllowedPattern": rf"^arn:{grant.partition}:iam::{grant.source.account}:role/"
                          rf"(?:[\w+=,.@-]+/)*{name}$",
        "ConstraintDescription": f"must be the ARN of role {grant.source.execution_role} in "
                                 f"account {grant.source.account}",
    }


def _role(role: RoleArtifact, artifacts: Artifacts, links: Mapping[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "RoleName": role.name,
        "Description": f"crossgrant {artifacts.grant.name}: {role.purpose}"[:1000],
    }
    if role.trust_policy is not None:
        props["AssumeRolePolicyDocument"] = _link(ordered(role.trust_policy), links)
    props["MaxSessionDuration"] = role.max_session_duration
    props["Policies"] = [{"PolicyName": name, "PolicyDocument": _link(ordered(doc), links)}
                         for name, doc in role.inline_policies]
    if role.tags:
        props["Tags"] = [{"Key": k, "Value": v} for k, v in role.tags]
    resource: dict[str, Any] = {"Type": "AWS::IAM::Role"}
    skips = trust_skips(role.trust_policy)
    if skips:
        resource["Metadata"] = {"checkov": {"skip": [{"id": check_id, "comment": reason}
                                                     for check_id, reason in skips]}}
    resource["Properties"] = props
    return resource


# --- text around the templates ---------------------------------------------------------

def _where(artifacts: Artifacts, side: str) -> str:
    """The account a side's template is deployed in, in words."""
    plan = rollout(artifacts) if side == "source" else None
    if plan is None:
        return f"{side} account {side_accounts(artifacts)[side]}"
    admin = ("the organization's management account or a CloudFormation delegated "
             "administrator" if plan.service_managed else "the StackSet administrator account")
    return f"{admin}, for {plan.targets}"


def _metadata(artifacts: Artifacts, side: str,
              to_merge: list[PolicyStatements]) -> dict[str, Any]:
    grant = artifacts.grant
    meta: dict[str, Any] = {
        "generator": generator(),
        "grant": grant.name,
        "grantFile": grant.path,
        "side": side,
        "account": side_accounts(artifacts)[side],
        "deployOrder": [f"{side_} ({side_accounts(artifacts)[side_]})"
                        for side_ in artifacts.deploy_order],
    }
    plan = rollout(artifacts)
    if plan is not None:
        meta["deployOrder"][0] = f"source ({_where(artifacts, 'source')})"
        if side == "source":
            del meta["account"]
            meta["stackSet"] = {"name": plan.name, "permissionModel": plan.permission_model,
                                "targets": list(plan.units or plan.accounts),
                                "regions": list(plan.regions)}
    if artifacts.notes:
        meta["notes"] = list(artifacts.notes)
    requirements = [r for r in artifacts.requirements if r.account == meta.get("account")]
    if requirements:
        meta["requirements"] = [{"resource": r.resource, "kind": r.kind.value,
                                 "field": r.field, "value": r.value, "why": r.why}
                                for r in requirements]
    if to_merge:
        meta["statementsToMerge"] = [
            {"kind": ps.kind.value, "resource": ps.resource, "how": MERGE_HINT,
             "statements": statements_document(ps)["Statement"]} for ps in to_merge]
    return meta


def _description(artifacts: Artifacts, side: str) -> str:
    grant = artifacts.grant
    if side == "source":
        what = (f"execution role {grant.source.execution_role} of function "
                f"{grant.source.function}")
    else:
        what = (f"role {grant.target.role_name}" if grant.target.role_name
                else "resource policies") + " granting the source account's function access"
    return f"crossgrant grant {grant.name}: {_where(artifacts, side)}, {what}"[:1024]


def _header(artifacts: Artifacts, side: str, order: list[str], owned: frozenset[str],
            template: Template) -> str:
    grant = artifacts.grant
    step = list(artifacts.deploy_order).index(side) + 1
    lines = [
        f"Generated by {generator()} from grant {grant.name!r} ({grant.path}); do not edit,",
        "re-render with `crossgrant render`.",
        f"Stack {step} of {len(order)}, {_where(artifacts, side)}. "
        f"Deploy order: {', '.join(order)}.",
    ]
    plan = rollout(artifacts) if side == "source" else None
    roles = () if plan is not None else artifacts.roles_in(side_accounts(artifacts)[side])
    if plan is not None:
        lines.append(f"It creates StackSet {plan.name} ({plan.permission_model}), which "
                     f"deploys the source side (TemplateBody) to {plan.targets} in "
                     f"{', '.join(plan.regions)}.")
        if not plan.service_managed:
            lines.append("Self-managed: this account needs the role "
                         "AWSCloudFormationStackSetAdministrationRole and each target "
                         "account AWSCloudFormationStackSetExecutionRole trusting it.")
    if any(r.create for r in roles):
        lines.append("Needs CAPABILITY_NAMED_IAM: roles have fixed names, which the other "
                     "account's policies refer to.")
    elif roles:
        lines.append("Needs CAPABILITY_IAM: it adds an inline policy to an existing role.")
    if side == "target" and _refers_to(template.get("Resources"), SOURCE_ROLE_PARAMETER):
        lines.append(f"Pass the source stack's ExecutionRoleArn output as the "
                     f"{SOURCE_ROLE_PARAMETER} parameter.")
    if side == "target":
        for ps in artifacts.policies_in(grant.target.account):
            if ps.resource in owned:
                lines.append(f"The {ps.label} is OWNED by this stack: deploying it REPLACES "
                             f"the bucket's whole policy.")
            else:
                lines.append(f"The {ps.label} is not touched: crossgrant deploy merges its "
                             f"statements (Metadata crossgrant.statementsToMerge).")
    return "".join(f"# {line}\n" for line in lines)


class _Dumper(yaml.SafeDumper):
    """No `&id001` anchors: a reader (and cfn-lint) should see each value where it is used.
    Multi-line strings (a StackSet's TemplateBody) as literal blocks, readable as written."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _text)


def _dump(template: Template, header: str) -> str:
    # No line folding: ARNs and messages stay on one line, where grep finds them.
    return header + yaml.dump(template, Dumper=_Dumper, sort_keys=False,
                              default_flow_style=False, allow_unicode=True, width=1 << 16)


# --- helpers ---------------------------------------------------------------------------

def _link(value: Any, links: Mapping[str, Any]) -> Any:
    """`value` with every string that is a linked ARN replaced by its intrinsic function."""
    if isinstance(value, str):
        return copy.deepcopy(links[value]) if value in links else value
    if isinstance(value, list):
        return [_link(v, links) for v in value]
    if isinstance(value, dict):
        return {k: _link(v, links) for k, v in value.items()}
    return value


def _refers_to(value: Any, logical: str) -> bool:
    if isinstance(value, dict):
        return value.get("Ref") == logical or any(_refers_to(v, logical)
                                                  for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, logical) for v in value)
    return False


def _role_logical_id(artifacts: Artifacts, role: RoleArtifact) -> str:
    grant = artifacts.grant
    if role.name == grant.source.execution_role and role.account != grant.target.account:
        return "ExecutionRole"
    if role.arn == artifacts.grant.target_role_arn:
        return "TargetRole"
    return f"Role{_camel(role.name)}"


def _short(ps: PolicyStatements) -> str:
    if ps.kind is ResourceKind.BUCKET:
        return ps.resource
    if ps.kind is ResourceKind.KEY:
        return ps.resource.rsplit("/", 1)[-1]
    return ps.resource.split(":table/", 1)[-1].split("/", 1)[0]


def _camel(text: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", text) if p)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", text)


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}{n}", n + 1
    used.add(candidate)
    return candidate

"""The source side of a grant with many source accounts, rolled out by CloudFormation
StackSets from the management account (or a delegated administrator, or, for an account
list, a StackSet administrator account).

crossgrant holds credentials for that one account only: it creates or updates the
StackSet (its template is `render.cloudformation.source_template_body`, exactly what the
CloudFormation export holds), adds the stack instances the grant's OUs or accounts lack,
removes those of accounts the grant no longer lists, and follows each StackSet operation
to its end, reporting every account's instance as it changes. AWS's own engine does the
fan-out; crossgrant never loops over the source accounts with credentials of its own.

Polling: DescribeStackSetOperation for the operation, ListStackInstances for the accounts,
with backoff from `Polling.first` up to `Polling.cap` seconds until `Polling.timeout`. An
operation already running on the StackSet (OperationInProgressException) is waited out.
API reference: AWS CloudFormation API Reference, CreateStackSet, UpdateStackSet,
CreateStackInstances, DeleteStackInstances, DescribeStackSetOperation, ListStackInstances,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.clients import AwsError, answer, error_code
from crossgrant.render.artifacts import Artifacts
from crossgrant.render.cfn_stackset import operation_preferences
from crossgrant.render.cloudformation import source_template_body
from crossgrant.render.rollout import EXECUTION_ROLE, Rollout, rollout

__all__ = ["Instance", "Polling", "StackSetResult", "deploy_stackset", "stackset_request"]

DONE = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})  # an operation's final states
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Polling:
    first: float = 2.0  # seconds before the first poll
    factor: float = 1.5
    cap: float = 30.0
    timeout: float = 3600.0  # per operation
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class Instance:
    """One account's stack instance, as ListStackInstances reports it."""

    account: str
    region: str
    status: str  # CURRENT, OUTDATED, INOPERABLE
    detailed: str  # PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, INOPERABLE, SKIPPED...
    reason: str = ""
    unit: str = ""  # the OU it was deployed for (service-managed)

    @property
    def line(self) -> str:
        where = f" ({self.unit})" if self.unit else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.account}{where} {self.region}: {self.detailed or self.status}{why}"

    @property
    def failed(self) -> bool:
        return self.status == "INOPERABLE" or self.detailed in ("FAILED", "INOPERABLE")


@dataclass(frozen=True, slots=True)
class StackSetResult:
    name: str
    created: bool
    operations: tuple[tuple[str, str, str], ...]  # (what, operation id, final status)
    instances: tuple[Instance, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(status == "SUCCEEDED" for _, _, status in self.operations) and \
            not any(i.failed for i in self.instances)


def stackset_request(artifacts: Artifacts, plan: Rollout, *, call_as: str = "SELF",
                     administration_role_arn: str | None = None) -> dict[str, Any]:
    """The CreateStackSet parameters, the same StackSet as the CloudFormation export's."""
    grant = artifacts.grant
    request: dict[str, Any] = {
        "StackSetName": plan.name,
        "Description": plan.description[:1024],
        "TemplateBody": source_template_body(artifacts),
        "Capabilities": ["CAPABILITY_IAM" if grant.source.existing_role
                         else "CAPABILITY_NAMED_IAM"],
        "PermissionModel": plan.permission_model,
        "ManagedExecution": {"Active": True},
    }
    if plan.service_managed:
        request["AutoDeployment"] = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        request["CallAs"] = call_as
    else:
        request["ExecutionRoleName"] = EXECUTION_ROLE
        if administration_role_arn is not None:
            request["AdministrationRoleARN"] = administration_role_arn
    if grant.options.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in grant.options.tags]
    return request


class _Follower:
    """Calls on one StackSet, each operation followed to its end."""

    def __init__(self, client: Any, plan: Rollout, call_as: str | None, polling: Polling,
                 progress: Progress) -> None:
        self.client = client
        self.plan = plan
        self.call_as = {"CallAs": call_as} if call_as else {}
        self.polling = polling
        self.progress = progress
        self.operations: list[tuple[str, str, str]] = []

    def instances(self) -> list[Instance]:
        out: list[Instance] = []
        token: str | None = None
        while True:
            page = self.client.list_stack_instances(
                StackSetName=self.plan.name, **self.call_as,
                **({"NextToken": token} if token else {}))
            for s in page.get("Summaries", []):
                detail = s.get("StackInstanceStatus", {}).get("DetailedStatus", "")
                out.append(Instance(s["Account"], s["Region"], s.get("Status", ""), detail,
                                    s.get("StatusReason", ""),
                                    s.get("OrganizationalUnitId", "")))
            token = page.get("NextToken")
            if not token:
                return out

    def run(self, what: str, call: Callable[[], dict[str, Any]]) -> None:
        """Start an operation (waiting out one already running) and follow it."""
        started = self.polling.clock()
        delay = self.polling.first
        while True:
            try:
                operation = str(call()["OperationId"])
                break
            except ClientError as exc:
                if error_code(exc) != "OperationInProgressException" or \
                        self.polling.clock() - started > self.polling.timeout:
                    raise
                self.progress(f"{self.plan.name}: another operation is running; waiting")
                self.polling.sleep(delay)
                delay = min(self.polling.cap, delay * self.polling.factor)
        self.progress(f"{self.plan.name}: {what} (operation {operation})")
        self.operations.append((what, operation, self._follow(operation)))

    def _follow(self, operation: str) -> str:
        started = self.polling.clock()
        delay = self.polling.first
        seen: dict[tuple[str, str], str] = {}
        while True:
            self.polling.sleep(delay)
            status = str(self.client.describe_stack_set_operation(
                StackSetName=self.plan.name, OperationId=operation,
                **self.call_as)["StackSetOperation"]["Status"])
            for instance in self.instances():
                key = (instance.account, instance.region)
                if seen.get(key) != instance.line:
                    seen[key] = instance.line
                    self.progress(f"  {instance.line}")
            if status in DONE:
                self.progress(f"{self.plan.name}: operation {operation} {status}")
                return status
            if self.polling.clock() - started > self.polling.timeout:
                raise AwsError(f"StackSet {self.plan.name}: operation {operation} still "
                               f"{status} after {self.polling.timeout:.0f} s; it goes on in "
                               f"AWS, see DescribeStackSetOperation",
                               code="Timeout", operation="DescribeStackSetOperation")
            delay = min(self.polling.cap, delay * self.polling.factor)


def _current(client: Any, name: str, call_as: dict[str, str]) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = client.describe_stack_set(StackSetName=name,
                                                          **call_as)["StackSet"]
    except ClientError as exc:
        if error_code(exc) == "StackSetNotFoundException":
            return None
        raise
    return found if found.get("Status") != "DELETED" else None


def _changed(live: dict[str, Any], wanted: dict[str, Any]) -> Iterator[str]:
    for key in ("TemplateBody", "Description", "Capabilities", "ManagedExecution",
                "AutoDeployment", "Tags"):
        if key in wanted and _normal(live.get(key)) != _normal(wanted[key]):
            yield key


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normal(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def deploy_stackset(client: Any, artifacts: Artifacts, *, call_as: str = "SELF",
                    administration_role_arn: str | None = None,
                    polling: Polling | None = None,
                    progress: Progress | None = None) -> StackSetResult:
    """Create or update the grant's StackSet with `client` (CloudFormation, in the
    administrator account) and bring its instances to the grant's OUs or accounts,
    following every operation to its end; `progress` gets one line per change."""
    plan = rollout(artifacts)
    if plan is None:
        raise AwsError(f"{artifacts.grant.path}: grant {artifacts.grant.name} has one source "
                       f"account; it needs no StackSet")
    say = progress or (lambda _line: None)
    polling = polling or Polling()
    wanted = stackset_request(artifacts, plan, call_as=call_as,
                              administration_role_arn=administration_role_arn)
    follower = _Follower(client, plan, call_as if plan.service_managed else None, polling, say)
    try:
        live = _current(client, plan.name, follower.call_as)
        created = live is None
        if live is None:
            client.create_stack_set(**wanted)
            say(f"{plan.name}: created ({plan.permission_model})")
        else:
            changed = list(_changed(live, wanted))
            if changed:
                # No targets: UpdateStackSet then updates every instance the set has.
                update = {k: v for k, v in wanted.items() if k != "PermissionModel"}
                follower.run(f"update {', '.join(changed)} of every instance",
                             lambda: client.update_stack_set(
                                 **update, OperationPreferences=operation_preferences()))
        _instances(client, plan, follower)
    except ClientError as exc:
        raise AwsError(f"StackSet {plan.name}: {answer(exc)}", code=error_code(exc),
                       operation=str(exc.operation_name)) from None
    return StackSetResult(plan.name, created, tuple(follower.operations),
                          tuple(follower.instances()))


def _instances(client: Any, plan: Rollout, follower: _Follower) -> None:
    """Add what the grant's targets lack; remove accounts it no longer lists."""
    live = follower.instances()
    base = {"StackSetName": plan.name, "Regions": list(plan.regions),
            "OperationPreferences": operation_preferences(), **follower.call_as}
    if plan.service_managed:
        # An OU without accounts has no instance to show it is targeted: asking again is
        # a no-op for AWS, and accounts that join later arrive by AutoDeployment.
        targeted = {i.unit for i in live}
        missing = [u for u in plan.units if u not in targeted] or \
            ([] if live else list(plan.units))
        if missing:
            follower.run(f"deploy to {', '.join(missing)}", lambda: client.create_stack_instances(
                **base, DeploymentTargets={"OrganizationalUnitIds": missing}))
        gone = sorted(targeted - set(plan.units) - {""})
        if gone:
            follower.run(f"remove from {', '.join(gone)}", lambda: client.delete_stack_instances(
                **base, DeploymentTargets={"OrganizationalUnitIds": gone},
                RetainStacks=False))
        return
    have = {i.account for i in live}
    add = [a for a in plan.accounts if a not in have]
    if add:
        follower.run(f"deploy to {', '.join(add)}", lambda: client.create_stack_instances(
            **base, Accounts=add))
    drop = sorted(have - set(plan.accounts))
    if drop:
        follower.run(f"remove from {', '.join(drop)}", lambda: client.delete_stack_instances(
            **base, Accounts=drop, RetainStacks=False))

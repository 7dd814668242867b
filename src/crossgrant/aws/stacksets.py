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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.clients import AwsError, answer, error_code
from crossgrant.render.artifacts import Artifacts
from crossgrant.render.cfn_stackset import operation_preferences
from crossgrant.render.cloudformation import source_template_body
from crossgrant.render.rollout import (
    EXECUTION_ROLE,
    SELF_MANAGED,
    SERVICE_MANAGED,
    Rollout,
    rollout,
)
from crossgrant.serial import OMIT

__all__ = ["Instance", "LiveStackSet", "Polling", "StackSetResult", "changed_settings",
           "deploy_stackset", "destroy_stackset", "give_back_stackset", "list_instances",
           "read_stackset", "stackset_request"]

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

    @property
    def target(self) -> str:
        """What it was deployed for: its OU (service-managed) or its account."""
        return self.unit or self.account


@dataclass(frozen=True, slots=True)
class StackSetResult:
    name: str
    created: bool
    operations: tuple[tuple[str, str, str], ...]  # (what, operation id, final status)
    instances: tuple[Instance, ...] = field(default=())
    stack_set_id: str = ""

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


def _call_as(plan_or_model: Rollout | str, call_as: str) -> dict[str, str]:
    """CallAs goes with every call on a service-managed StackSet, never a self-managed one."""
    model = plan_or_model if isinstance(plan_or_model, str) else plan_or_model.permission_model
    return {"CallAs": call_as} if model == SERVICE_MANAGED else {}


def list_instances(client: Any, name: str, call_as: dict[str, str]) -> list[Instance]:
    """Every stack instance of the StackSet `name`, following the pages."""
    out: list[Instance] = []
    token: str | None = None
    while True:
        page = client.list_stack_instances(StackSetName=name, **call_as,
                                           **({"NextToken": token} if token else {}))
        for s in page.get("Summaries", []):
            detail = s.get("StackInstanceStatus", {}).get("DetailedStatus", "")
            out.append(Instance(s["Account"], s["Region"], s.get("Status", ""), detail,
                                s.get("StatusReason", ""), s.get("OrganizationalUnitId", "")))
        token = page.get("NextToken")
        if not token:
            return out


@dataclass(frozen=True, slots=True)
class LiveStackSet:
    """A StackSet as DescribeStackSet and ListStackInstances show it."""

    name: str
    id: str  # StackSetId: "name:uuid", a StackSet made again under the name gets another
    permission_model: str
    template_body: str
    description: str
    capabilities: tuple[str, ...]
    units: tuple[str, ...]  # the OUs it targets (service-managed), even those with no account
    regions: tuple[str, ...]
    instances: tuple[Instance, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False,
                                metadata=OMIT)

    @property
    def service_managed(self) -> bool:
        return self.permission_model == SERVICE_MANAGED

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted({i.account for i in self.instances}))

    @property
    def targets(self) -> tuple[str, ...]:
        """What it is deployed to: OU ids (service-managed) or account ids."""
        return self.units if self.service_managed else self.accounts

    @property
    def outdated(self) -> tuple[Instance, ...]:
        """Instances that do not hold the StackSet's current template (a failed or
        stopped operation left them behind)."""
        return tuple(i for i in self.instances if i.status != "CURRENT")

    def as_before(self) -> dict[str, Any]:
        """What the journal records of a StackSet crossgrant takes over, to give back."""
        return {"TemplateBody": self.template_body, "Description": self.description,
                "Capabilities": list(self.capabilities), "targets": list(self.targets),
                "permission_model": self.permission_model}


def read_stackset(client: Any, name: str, call_as: str = "SELF") -> LiveStackSet | None:
    """The StackSet `name` in the administrator account of `client`; None when there is
    none (or it was deleted). Raises ClientError."""
    try:
        found: dict[str, Any] = client.describe_stack_set(StackSetName=name,
                                                          CallAs=call_as)["StackSet"]
    except ClientError as exc:
        if error_code(exc) != "StackSetNotFoundException":
            raise
        if call_as == "SELF":
            return None
        # A self-managed StackSet refuses no CallAs but knows none under DELEGATED_ADMIN.
        return read_stackset(client, name)
    if found.get("Status") == "DELETED":
        return None
    model = str(found.get("PermissionModel") or SELF_MANAGED)
    instances = tuple(list_instances(client, name, _call_as(model, call_as)))
    # DescribeStackSet names the OUs a service-managed StackSet targets, also those with
    # no account yet (AutoDeployment serves them later); instances name theirs.
    units = sorted({*(str(u) for u in found.get("OrganizationalUnitIds") or ()),
                    *(i.unit for i in instances if i.unit)})
    regions = sorted({*(str(r) for r in found.get("Regions") or ()),
                      *(i.region for i in instances)})
    return LiveStackSet(name, str(found.get("StackSetId") or ""), model,
                        str(found.get("TemplateBody") or ""), str(found.get("Description") or ""),
                        tuple(str(c) for c in found.get("Capabilities") or ()),
                        tuple(units) if model == SERVICE_MANAGED else (), tuple(regions),
                        instances, found)


class _Follower:
    """Calls on one StackSet, each operation followed to its end."""

    def __init__(self, client: Any, name: str, call_as: dict[str, str], polling: Polling,
                 progress: Progress) -> None:
        self.client = client
        self.name = name
        self.call_as = call_as
        self.polling = polling
        self.progress = progress
        self.operations: list[tuple[str, str, str]] = []

    def instances(self) -> list[Instance]:
        return list_instances(self.client, self.name, self.call_as)

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
                self.progress(f"{self.name}: another operation is running; waiting")
                self.polling.sleep(delay)
                delay = min(self.polling.cap, delay * self.polling.factor)
        self.progress(f"{self.name}: {what} (operation {operation})")
        self.operations.append((what, operation, self._follow(operation)))

    def _follow(self, operation: str) -> str:
        started = self.polling.clock()
        delay = self.polling.first
        seen: dict[tuple[str, str], str] = {}
        while True:
            self.polling.sleep(delay)
            status = str(self.client.describe_stack_set_operation(
                StackSetName=self.name, OperationId=operation,
                **self.call_as)["StackSetOperation"]["Status"])
            for instance in self.instances():
                key = (instance.account, instance.region)
                if seen.get(key) != instance.line:
                    seen[key] = instance.line
                    self.progress(f"  {instance.line}")
            if status in DONE:
                self.progress(f"{self.name}: operation {operation} {status}")
                return status
            if self.polling.clock() - started > self.polling.timeout:
                raise AwsError(f"StackSet {self.name}: operation {operation} still "
                               f"{status} after {self.polling.timeout:.0f} s; it goes on in "
                               f"AWS, see DescribeStackSetOperation",
                               code="Timeout", operation="DescribeStackSetOperation")
            delay = min(self.polling.cap, delay * self.polling.factor)

    def remove(self, targets: Sequence[str], regions: Sequence[str],
               service_managed: bool) -> None:
        """Delete the stack instances of these OUs or accounts (their stacks too)."""
        if not targets:
            return
        where: dict[str, Any] = ({"DeploymentTargets": {"OrganizationalUnitIds": list(targets)}}
                                 if service_managed else {"Accounts": list(targets)})
        self.run(f"remove from {', '.join(targets)}", lambda: self.client.delete_stack_instances(
            StackSetName=self.name, Regions=list(regions),
            OperationPreferences=operation_preferences(), RetainStacks=False, **where,
            **self.call_as))

    def result(self, created: bool, stack_set_id: str = "") -> StackSetResult:
        return StackSetResult(self.name, created, tuple(self.operations),
                              tuple(self.instances()), stack_set_id)


def changed_settings(live: LiveStackSet, wanted: Mapping[str, Any]) -> list[str]:
    """Which of the grant's StackSet settings the live one does not hold."""
    return [key for key in ("TemplateBody", "Description", "Capabilities", "ManagedExecution",
                            "AutoDeployment", "Tags")
            if key in wanted and _normal(live.raw.get(key)) != _normal(wanted[key])]


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normal(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _failed(exc: ClientError, name: str) -> AwsError:
    return AwsError(f"StackSet {name}: {answer(exc)}", code=error_code(exc),
                    operation=str(exc.operation_name))


def deploy_stackset(client: Any, artifacts: Artifacts, *, call_as: str = "SELF",
                    administration_role_arn: str | None = None,
                    polling: Polling | None = None,
                    progress: Progress | None = None,
                    keep: Collection[str] = (),
                    on_create: Callable[[str], None] | None = None) -> StackSetResult:
    """Create or update the grant's StackSet with `client` (CloudFormation, in the
    administrator account) and bring its instances to the grant's OUs or accounts,
    following every operation to its end; `progress` gets one line per change. Targets
    in `keep` (a StackSet's own before crossgrant took it over) are never removed;
    `on_create` hears the StackSetId of a StackSet it creates, before anything else."""
    plan = rollout(artifacts)
    if plan is None:
        raise AwsError(f"{artifacts.grant.path}: grant {artifacts.grant.name} has one source "
                       f"account; it needs no StackSet")
    say = progress or (lambda _line: None)
    polling = polling or Polling()
    wanted = stackset_request(artifacts, plan, call_as=call_as,
                              administration_role_arn=administration_role_arn)
    follower = _Follower(client, plan.name, _call_as(plan, call_as), polling, say)
    try:
        live = read_stackset(client, plan.name, call_as)
        created = live is None
        stack_set_id = live.id if live is not None else ""
        if live is None:
            made = client.create_stack_set(**wanted)
            stack_set_id = str(made.get("StackSetId") or "")
            if on_create is not None:
                on_create(stack_set_id)
            say(f"{plan.name}: created ({plan.permission_model})")
        else:
            changed = changed_settings(live, wanted)
            behind = [i.account for i in live.outdated]
            if changed or behind:
                # No targets: UpdateStackSet then updates every instance the set has, which
                # also brings back those a failed operation left behind.
                what = ", ".join(changed) if changed else f"the template ({', '.join(behind)} " \
                                                           f"behind)"
                update = {k: v for k, v in wanted.items() if k != "PermissionModel"}
                follower.run(f"update {what} of every instance",
                             lambda: client.update_stack_set(
                                 **update, OperationPreferences=operation_preferences()))
        _instances(client, plan, follower, live, keep)
        return follower.result(created, stack_set_id)
    except ClientError as exc:
        raise _failed(exc, plan.name) from None


def _instances(client: Any, plan: Rollout, follower: _Follower, live: LiveStackSet | None,
               keep: Collection[str]) -> None:
    """Add what the grant's targets lack; remove targets it no longer names."""
    base = {"StackSetName": plan.name, "Regions": list(plan.regions),
            "OperationPreferences": operation_preferences(), **follower.call_as}
    have = set(live.targets) if live is not None else set()
    if plan.service_managed:
        missing = [u for u in plan.units if u not in have]
        if missing:
            # accounts that join these OUs later arrive by AutoDeployment
            follower.run(f"deploy to {', '.join(missing)}", lambda: client.create_stack_instances(
                **base, DeploymentTargets={"OrganizationalUnitIds": missing}))
        gone = sorted(have - set(plan.units) - set(keep))
    else:
        add = [a for a in plan.accounts if a not in have]
        if add:
            follower.run(f"deploy to {', '.join(add)}", lambda: client.create_stack_instances(
                **base, Accounts=add))
        gone = sorted(have - set(plan.accounts) - set(keep))
    follower.remove(gone, plan.regions, plan.service_managed)


def _on_live(client: Any, name: str, call_as: str, polling: Polling | None,
             progress: Progress | None,
             act: Callable[[LiveStackSet, _Follower], None]) -> StackSetResult:
    """`act` on the live StackSet `name`, its operations followed; nothing when it is
    gone (`operations` empty)."""
    try:
        live = read_stackset(client, name, call_as)
        if live is None:
            return StackSetResult(name, False, ())
        follower = _Follower(client, name, _call_as(live.permission_model, call_as),
                             polling or Polling(), progress or (lambda _line: None))
        act(live, follower)
        return follower.result(False, live.id)
    except ClientError as exc:
        raise _failed(exc, name) from None


def destroy_stackset(client: Any, name: str, *, call_as: str = "SELF",
                     polling: Polling | None = None,
                     progress: Progress | None = None) -> StackSetResult:
    """Delete every stack instance of the StackSet `name` (their stacks too), following
    the operation, then the StackSet, once no instance is left."""
    def delete(live: LiveStackSet, follower: _Follower) -> None:
        follower.remove(live.targets, live.regions, live.service_managed)
        if follower.result(False).ok:
            client.delete_stack_set(StackSetName=name, **follower.call_as)
            follower.progress(f"{name}: deleted")
    return _on_live(client, name, call_as, polling, progress, delete)


def give_back_stackset(client: Any, name: str, before: Mapping[str, Any], *,
                       call_as: str = "SELF", polling: Polling | None = None,
                       progress: Progress | None = None) -> StackSetResult:
    """Put a StackSet crossgrant took over back as `before` (`LiveStackSet.as_before`):
    remove the targets crossgrant added, and its earlier template on every instance."""
    def give_back(live: LiveStackSet, follower: _Follower) -> None:
        earlier = {str(t) for t in before.get("targets") or ()}
        follower.remove([t for t in live.targets if t not in earlier], live.regions,
                        live.service_managed)
        update = {k: before[k] for k in ("TemplateBody", "Description", "Capabilities")
                  if k in before}
        if any(_normal(live.raw.get(k)) != _normal(v) for k, v in update.items()):
            follower.run("give back the earlier template of every instance",
                         lambda: client.update_stack_set(
                             StackSetName=name, OperationPreferences=operation_preferences(),
                             **update, **follower.call_as))
    return _on_live(client, name, call_as, polling, progress, give_back)

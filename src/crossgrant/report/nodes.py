"""Principals and resources as nodes: one node per thing, however a statement spells it.

A trust policy names the execution role by ARN, the role's own policy names the target
role by ARN, a key policy says `"*"` for "this key", a role policy names a stream as
`table/T/stream/*` while the stream policy's address holds the stream's label: each
spelling of one thing must land on the one node, or the picture would show two arrows
where AWS sees one path. Accounts become groups, nested in their OUs and organization
when the state knows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crossgrant.errors import ArnError
from crossgrant.iam import Condition, PrincipalElement, Statement, compile_glob
from crossgrant.iam.arn import Arn, bucket_arn, is_account_id, parse_arn, role_arn
from crossgrant.render.artifacts import Artifacts, RoleArtifact
from crossgrant.report.model import Group, GroupKind, Node, NodeKind
from crossgrant.world import AccountState, DocAddress, DocKind

__all__ = ["LAMBDA_SERVICE", "Nodes", "Resolved", "execution_roles"]

LAMBDA_SERVICE = "lambda.amazonaws.com"
# Operators under which `aws:PrincipalArn` pins who an account principal is.
_PINNING = frozenset({"ArnEquals", "ArnLike", "StringEquals", "StringLike"})


@dataclass(frozen=True, slots=True)
class Resolved:
    node: str  # node key
    written: str  # the value as the statement wrote it ("*" for an implied resource)
    note: str = ""


@dataclass
class Nodes:
    """The nodes and groups met so far, in the order first met (the diagram's order).

    Without `artifacts` (a state's documents, as a diff draws them) no account is a
    grant's source or target and no function is known: the Lambda service stays a service.
    """

    artifacts: Artifacts | None
    state: AccountState
    nodes: dict[str, Node] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    # --- groups -------------------------------------------------------------------------

    def account_group(self, account: str | None) -> str | None:
        if not account:
            return None
        key = f"account:{account}"
        if key not in self.groups:
            side = "account "
            if self.artifacts is not None:
                sources = {r.account for r in execution_roles(self.artifacts)}
                side = "target account " if account == self.artifacts.grant.target.account \
                    else "source account " if account in sources else side
            self.groups[key] = Group(key, GroupKind.ACCOUNT, side + account,
                                     self._org_parent(account))
        return key

    def _org_parent(self, account: str) -> str | None:
        org = self.state.organization
        path = org.path(account) if org is not None else None
        if org is None or path is None:
            return None
        parent = f"org:{org.id}"
        self.groups.setdefault(parent, Group(parent, GroupKind.ORGANIZATION,
                                             f"organization {org.id}"))
        for ou_id in path[1:]:
            key = f"ou:{ou_id}"
            ou = org.ous.get(ou_id)
            label = f"OU {ou.name} ({ou_id})" if ou is not None and ou.name != ou_id \
                else f"OU {ou_id}"
            self.groups.setdefault(key, Group(key, GroupKind.OU, label, parent))
            parent = key
        return parent

    # --- nodes --------------------------------------------------------------------------

    def add(self, key: str, kind: NodeKind, label: str, account: str | None = None,
            arn: str | None = None) -> str:
        if key not in self.nodes:
            self.nodes[key] = Node(key, kind, label, self.account_group(account), arn)
        return key

    def function(self, account: str, name: str) -> str:
        return self.add(f"function:{account}:{name}", NodeKind.FUNCTION, f"function {name}",
                        account)

    def role(self, arn: str) -> str:
        return self.add(f"role:{arn}", NodeKind.ROLE, f"role {arn.rsplit('/', 1)[-1]}",
                        _account_of(arn), arn)

    def user(self, arn: str) -> str:
        return self.add(f"user:{arn}", NodeKind.USER, f"user {arn.rsplit('/', 1)[-1]}",
                        _account_of(arn), arn)

    def by_arn(self, text: str) -> str:
        """The node of a resource (or principal) ARN."""
        try:
            arn = parse_arn(text)
        except ArnError:
            return self.add(f"resource:{text}", NodeKind.RESOURCE, text)
        handler = _BY_SERVICE.get(arn.service)
        if handler is not None:
            key = handler(self, arn, text)
            if key is not None:
                return key
        return self.add(f"resource:{text}", NodeKind.RESOURCE, arn.resource,
                        arn.account or None, text)

    def owner(self, addr: DocAddress) -> str:
        """The node of the resource a resource-based document is attached to."""
        if addr.kind is DocKind.TRUST:
            return self.role(addr.owner)
        if addr.kind is DocKind.BUCKET:
            return self.by_arn(bucket_arn(addr.owner))
        return self.by_arn(addr.owner)

    # --- a statement's two sides -----------------------------------------------------------

    def principals(self, addr: DocAddress, st: Statement) -> list[Resolved]:
        """Who the statement is about: the policy's owner for an identity policy, else
        each principal it names (an account narrowed by `aws:PrincipalArn` to the roles
        the condition names)."""
        if addr.kind is DocKind.INLINE:
            return [Resolved(self._entity(addr.owner), addr.owner)]
        if addr.kind is DocKind.MANAGED:
            return [Resolved(self._entity(arn), arn) for arn in self._attached(addr)]
        element = st.principal_element
        if element is None:
            return []
        if element.negated:
            text = ", ".join(v for _, v in element.entries)
            return [Resolved(self.add(f"principal:not:{text}", NodeKind.PRINCIPAL,
                                      f"everyone except {text}"), text)]
        out: list[Resolved] = []
        for ptype, value in element.entries:
            out.extend(self._principal(addr, st, element, ptype, value))
        return out

    def _principal(self, addr: DocAddress, st: Statement, element: PrincipalElement,
                   ptype: str, value: str) -> list[Resolved]:
        if ptype == "Service":
            if value == LAMBDA_SERVICE and addr.kind is DocKind.TRUST:
                functions = self._functions_of(addr.owner)
                if functions:
                    return [Resolved(f, value, "the Lambda service assumes the role for "
                                     "the function") for f in functions]
            return [Resolved(self.add(f"service:{value}", NodeKind.SERVICE, f"service {value}"),
                             value)]
        if ptype != "AWS":
            return [Resolved(self.add(f"principal:{ptype}:{value}", NodeKind.PRINCIPAL,
                                      f"{ptype} {value}"), value)]
        account = value if is_account_id(value) else _root_account(value)
        if value == "*" or account is not None:
            who = "anyone" if value == "*" else "account root"
            pinned = self._pinned_roles(st.conditions, account)
            if pinned:
                return [Resolved(self.role(arn), value, f"{who} narrowed by aws:PrincipalArn")
                        for arn in pinned]
        if value == "*":
            return [Resolved(self.add("anyone", NodeKind.ANYONE, "anyone (*)"), value)]
        if account is None:
            return [Resolved(self._aws_principal(value), value)]
        return [Resolved(self.add(f"account:{account}", NodeKind.ACCOUNT,
                                  f"account {account} (root)", account), value)]

    def _pinned_roles(self, conditions: tuple[Condition, ...],
                      account: str | None) -> tuple[str, ...]:
        """The roles of the state (of `account`, for an account principal) that a positive
        `aws:PrincipalArn` condition admits; () when there is none or it admits none of
        them (then the principal is drawn as written, the condition on its label)."""
        for c in conditions:
            if c.key != "aws:principalarn" or c.base not in _PINNING or c.negated \
                    or c.if_exists or c.qualifier is not None:
                continue
            tests = [_arn_test(c.base, v) for v in c.values]
            return tuple(arn for acct_id, acct in self.state.accounts.items()
                         if account in (None, acct_id)
                         for arn in (r.arn for r in acct.roles.values())
                         if any(t(arn) for t in tests))
        return ()

    def _aws_principal(self, value: str) -> str:
        try:
            arn = parse_arn(value)
        except ArnError:  # a unique id (AROA...) the engine resolves, not an ARN
            return self.add(f"principal:AWS:{value}", NodeKind.PRINCIPAL, f"principal {value}")
        if arn.service == "sts" and arn.resource.startswith("assumed-role/"):
            role = arn.resource.split("/")[1]
            return self.role(role_arn(arn.account, role, partition=arn.partition))
        if arn.service == "iam" and arn.resource.startswith("user/"):
            return self.user(value)
        return self.by_arn(value)

    def _functions_of(self, role: str) -> list[str]:
        """The function node of each source account whose execution role is `role`."""
        art = self.artifacts
        return [] if art is None else [self.function(r.account, art.grant.source.function)
                                       for r in execution_roles(art) if r.arn == role]

    def _entity(self, arn: str) -> str:
        """The node of the role or user an identity policy is attached to."""
        return self.user(arn) if ":user/" in arn else self.role(arn)

    def _attached(self, addr: DocAddress) -> list[str]:
        """The roles and users of the managed policy's account that attach it."""
        acct = self.state.account(addr.account)
        if acct is None:
            return []
        attached = [(r.arn, r.managed_policy_arns) for r in acct.roles.values()]
        attached += [(u.arn, u.managed_policy_arns) for u in acct.users.values()]
        return [arn for arn, policies in attached if addr.name in policies]

    def resources(self, addr: DocAddress, st: Statement) -> list[Resolved]:
        """What the statement is about: its Resource values, or for a resource-based
        document the resource it is attached to when the statement names none or `"*"`."""
        element = st.resource_element
        identity = addr.kind in (DocKind.INLINE, DocKind.MANAGED)
        if element is None:
            return [] if identity else [Resolved(self.owner(addr), "*")]
        if element.negated:
            text = ", ".join(element.values)
            return [Resolved(self.add(f"resource:not:{text}", NodeKind.RESOURCE,
                                      f"every resource except {text}"), text)]
        out: list[Resolved] = []
        for value in element.values:
            if value == "*":
                key = self.add("resource:*", NodeKind.RESOURCE, "every resource (*)") \
                    if identity else self.owner(addr)
            else:
                key = self.by_arn(value)
            out.append(Resolved(key, value))
        return out

    def bucket_account(self, bucket: str) -> str | None:
        return next((acct_id for acct_id, acct in self.state.accounts.items()
                     if bucket in acct.buckets), None)


def _s3(nodes: Nodes, arn: Arn, text: str) -> str:
    bucket, _, key = arn.resource.partition("/")
    account = nodes.bucket_account(bucket)
    if key in ("", "*"):  # the bucket itself, or every object in it
        return nodes.add(f"bucket:{bucket}", NodeKind.BUCKET, f"bucket {bucket}", account,
                         bucket_arn(bucket, arn.partition))
    return nodes.add(f"objects:{text}", NodeKind.OBJECTS, arn.resource, account, text)


def _dynamodb(nodes: Nodes, arn: Arn, text: str) -> str | None:
    parts = arn.resource.split("/")
    if parts[0] != "table" or len(parts) < 2:
        return None
    table = parts[1]
    table_arn = text.split(":table/", 1)[0] + f":table/{table}"
    if len(parts) == 2:
        return nodes.add(f"table:{table_arn}", NodeKind.TABLE, f"table {table}", arn.account,
                         table_arn)
    if parts[2] == "index" and len(parts) >= 4:
        index = "/".join(parts[3:])
        label = f"every index of table {table}" if index == "*" else \
            f"index {index} of table {table}"
        return nodes.add(f"index:{text}", NodeKind.INDEX, label, arn.account, text)
    if parts[2] == "stream":  # the pattern and each stream label: one stream per table
        return nodes.add(f"stream:{table_arn}", NodeKind.STREAM, f"stream of table {table}",
                         arn.account, f"{table_arn}/stream/*")
    return None


def _kms(nodes: Nodes, arn: Arn, text: str) -> str:
    kind, _, name = arn.resource.partition("/")
    label = f"KMS key {name}" if kind == "key" else f"KMS {kind} {name}"
    return nodes.add(f"key:{text}", NodeKind.KEY, label, arn.account, text)


def _iam(nodes: Nodes, arn: Arn, text: str) -> str | None:
    if arn.resource.startswith("role/"):
        return nodes.role(text)
    if arn.resource.startswith("user/"):
        return nodes.user(text)
    if arn.resource == "root":
        return nodes.add(f"account:{arn.account}", NodeKind.ACCOUNT,
                         f"account {arn.account} (root)", arn.account)
    return None


def _logs(nodes: Nodes, arn: Arn, text: str) -> str | None:
    if not arn.resource.startswith("log-group:"):
        return None
    group = arn.resource.removeprefix("log-group:").split(":", 1)[0]  # the group's streams
    return nodes.add(f"log-group:{arn.region}:{arn.account}:{group}", NodeKind.LOG_GROUP,
                     f"log group {group}", arn.account, text.removesuffix(":*"))


_BY_SERVICE = {"s3": _s3, "dynamodb": _dynamodb, "kms": _kms, "iam": _iam, "logs": _logs}


def _account_of(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


def _root_account(value: str) -> str | None:
    try:
        arn = parse_arn(value)
    except ArnError:
        return None
    return arn.account if arn.service == "iam" and arn.resource == "root" else None


def _arn_test(base: str, value: str) -> Callable[[str], bool]:
    """How a PrincipalArn condition value matches an ARN: ArnEquals and ArnLike both take
    wildcards (IAM User Guide, "IAM JSON policy elements: Condition operators", ARN
    condition operators); StringLike takes them; StringEquals does not."""
    if base.startswith("Arn"):
        return compile_glob(value, arn=True)
    if base == "StringLike":
        return compile_glob(value)
    return value.__eq__


def execution_roles(artifacts: Artifacts) -> tuple[RoleArtifact, ...]:
    """The function's execution role in each source account it runs in."""
    grant = artifacts.grant
    return tuple(r for r in artifacts.roles if r.name == grant.source.execution_role
                 and r.account != grant.target.account)

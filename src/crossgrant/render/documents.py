"""Grant -> Artifacts: the least-privilege documents for the source and target accounts.

Every statement names exact actions (the level table or the entry's own actions, placed by
`render.actions`) on exact ARNs, one statement per entry and ARN kind, so an entry that
reads `in/` and one that writes `out/` never lend each other an action. The only `*`s
left are the one a key policy's Resource must hold (it means "this key") and, for an
organization, the wildcard principal that `render.principals` narrows by OU and role name.
"""

from __future__ import annotations

from collections.abc import Iterable

from crossgrant.errors import RenderError
from crossgrant.iam.arn import (
    bucket_arn,
    index_arn,
    log_group_arn,
    object_arn,
    stream_arn,
)
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS
from crossgrant.render import actions as table
from crossgrant.render.artifacts import (
    Artifacts,
    Document,
    PolicyStatements,
    Requirement,
    ResourceKind,
    RoleArtifact,
    Statement,
    sid_prefix,
)
from crossgrant.render.limits import check_sizes
from crossgrant.render.principals import Admitted, admitted, merge_conditions
from crossgrant.spec.model import Grant, Mode, S3Access

VERSION = "2012-10-17"
LAMBDA_SERVICE = "lambda.amazonaws.com"


def render(grant: Grant) -> Artifacts:
    """All documents for `grant`; raises RenderError (naming the document) when a document
    would break an AWS limit or a known pitfall makes the grant unworkable."""
    prefix = sid_prefix(grant.name)
    resource_side = [*_s3_statements(grant, prefix), *_table_statements(grant, prefix)]
    policy_name = f"crossgrant-{grant.name}"
    notes: list[str] = []

    reach: list[Statement] = []
    if grant.mode is Mode.ASSUME_ROLE:
        target_arn = grant.target_role_arn
        if target_arn is None:
            raise RenderError(f"{grant.path}: assume-role mode needs role.name")
        reach.append({"Sid": f"{prefix}Assume", "Effect": "Allow",
                      "Action": list(table.ASSUME_ACTIONS), "Resource": target_arn})
    else:
        reach.extend(st for _, st in resource_side)
    # One execution role per source account, the same documents but for the account's
    # own log group (an organization's are its members: stand-ins until placed).
    roles: list[RoleArtifact] = [RoleArtifact(
        account=account, name=grant.source.execution_role,
        trust_policy=None if grant.source.existing_role else _lambda_trust(),
        inline_policies=((policy_name, _doc([_logs_statement(grant, prefix, account),
                                             *reach])),),
        tags=grant.options.tags, create=not grant.source.existing_role,
        purpose="execution role of the function") for account in grant.source.accounts]

    if grant.mode is Mode.ASSUME_ROLE:
        assert grant.target.role_name is not None
        roles.append(RoleArtifact(
            account=grant.target.account, name=grant.target.role_name,
            trust_policy=_target_trust(grant, prefix),
            inline_policies=((policy_name, _doc([st for _, st in resource_side])),),
            max_session_duration=max(DEFAULT_MAX_SESSION_SECONDS, grant.target.session_duration),
            tags=grant.options.tags, purpose="role the function assumes in the target account"))
        if grant.source.organization is None:
            notes.append("deploy the source account first: the target role's trust policy "
                         "names the execution role, and IAM rejects a principal that does "
                         "not exist yet")
        grantee: Admitted = ({"AWS": grant.target_role_arn}, {})
    else:
        if grant.source.organization is None:
            notes.append("deploy the source account first: bucket, table and key policies "
                         "name the execution role, and AWS rejects a principal that does not "
                         "exist yet")
        grantee = admitted(grant, trust=False)
    if grant.source.many:
        notes.append(_rollout_note(grant))

    resource_policies = _resource_policies(grant, prefix, resource_side, grantee)
    artifacts = Artifacts(grant=grant, sid_prefix=prefix, roles=tuple(roles),
                          resource_policies=resource_policies,
                          requirements=_requirements(grant), notes=tuple(notes))
    check_sizes(artifacts)
    return artifacts


def _rollout_note(grant: Grant) -> str:
    org = grant.source.organization
    if org is not None:
        return (f"the source side reaches every account in {', '.join(org.units)} (nested "
                f"OUs included) through a service-managed StackSet with automatic deployment; "
                f"the target's documents admit them by aws:PrincipalOrgPaths and "
                f"aws:PrincipalArn, so the two sides may be deployed in either order")
    return (f"the source side reaches the {len(grant.source.accounts)} source accounts "
            f"through a self-managed StackSet, deployed before the target")


def _doc(statements: Iterable[Statement]) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def _lambda_trust() -> Document:
    return _doc([{"Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE},
                  "Action": "sts:AssumeRole"}])


def _target_trust(grant: Grant, prefix: str) -> Document:
    principal, conditions = admitted(grant, trust=True)
    statement: Statement = {"Sid": f"{prefix}Assume", "Effect": "Allow",
                            "Principal": principal, "Action": list(table.ASSUME_ACTIONS)}
    if grant.target.external_id is not None:
        conditions.setdefault("StringEquals", {})["sts:ExternalId"] = grant.target.external_id
    if grant.options.organization_id is not None:
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = \
            grant.options.organization_id
    if conditions:
        statement["Condition"] = conditions
    return _doc([statement])


def _logs_statement(grant: Grant, prefix: str, account: str) -> Statement:
    src = grant.source
    group = log_group_arn(src.region, account, f"/aws/lambda/{src.function}",
                          grant.partition)
    # CreateLogGroup is authorized on the group's ARN, the stream actions on `group:*`.
    return {"Sid": f"{prefix}Logs", "Effect": "Allow", "Action": list(table.LOG_ACTIONS),
            "Resource": [group, f"{group}:*"]}


# Each resource-side statement travels with the resource whose policy it belongs in:
# (kind, resource id) -> statement without Principal.
Keyed = tuple[tuple[ResourceKind, str], Statement]


def _s3_statements(grant: Grant, prefix: str) -> list[Keyed]:
    out: list[Keyed] = []
    for i, access in enumerate(grant.s3):
        bucket = access.bucket
        key = (ResourceKind.BUCKET, bucket)
        grants = table.s3_grants(access)
        if grants.objects:
            out.append((key, {"Sid": f"{prefix}S3Object{i}", "Effect": "Allow",
                              "Action": _one(grants.objects),
                              "Resource": _one([object_arn(bucket, f"{p}*", grant.partition)
                                                for p in access.prefixes])}))
        if grants.prefixed:
            st: Statement = {"Sid": f"{prefix}S3List{i}", "Effect": "Allow",
                             "Action": _one(grants.prefixed),
                             "Resource": bucket_arn(bucket, grant.partition)}
            if "" not in access.prefixes:
                st["Condition"] = {"StringLike": {"s3:prefix": _one(
                    [f"{p}*" for p in access.prefixes])}}
            out.append((key, st))
        if grants.bucket:
            out.append((key, {"Sid": f"{prefix}S3Bucket{i}", "Effect": "Allow",
                              "Action": _one(grants.bucket),
                              "Resource": bucket_arn(bucket, grant.partition)}))
        out.extend(_kms_statement(grant, prefix, i, access, grants.kms))
    return out


def bucket_key(grant: Grant, bucket: str) -> str | None:
    """A bucket's SSE-KMS key: named once, in any of its entries, it is the key every
    entry of that bucket reads and writes through (a bucket has one default key)."""
    return next((a.kms_key_arn for a in grant.s3 if a.bucket == bucket and a.kms_key_arn),
                None)


def _kms_statement(grant: Grant, prefix: str, i: int, access: S3Access,
                   kms: tuple[str, ...]) -> list[Keyed]:
    key = bucket_key(grant, access.bucket)
    if key is None or not kms:
        return []
    return [((ResourceKind.KEY, key), {
        "Sid": f"{prefix}Kms{i}", "Effect": "Allow", "Action": _one(kms),
        "Resource": key,
        "Condition": {"StringEquals": {
            "kms:ViaService": f"s3.{grant.target.region}.amazonaws.com"}}})]


def _table_statements(grant: Grant, prefix: str) -> list[Keyed]:
    out: list[Keyed] = []
    where = (grant.target.region, grant.target.account)
    for i, access in enumerate(grant.dynamodb):
        arn = grant.table_arn(access.table)
        key = (ResourceKind.TABLE, arn)
        grants = table.table_grants(access)
        if grants.table:
            out.append((key, {"Sid": f"{prefix}Table{i}", "Effect": "Allow",
                              "Action": _one(grants.table), "Resource": arn}))
        if grants.indexes:
            out.append((key, {"Sid": f"{prefix}Index{i}", "Effect": "Allow",
                              "Action": _one(grants.indexes),
                              "Resource": _one([index_arn(*where, access.table, ix,
                                                          grant.partition)
                                                for ix in access.indexes])}))
        if grants.stream:
            streams = stream_arn(*where, access.table, partition=grant.partition)
            out.append(((ResourceKind.STREAM, streams), {
                "Sid": f"{prefix}Stream{i}", "Effect": "Allow",
                "Action": _one(grants.stream), "Resource": streams}))
    return out


def _resource_policies(grant: Grant, prefix: str, resource_side: list[Keyed],
                       grantee: Admitted) -> tuple[PolicyStatements, ...]:
    """Statements for B's bucket, table, stream and key policies.

    Resource-policy mode grants there; assume-role mode needs no bucket or table grant
    (the target role is in the resource's account), but a key policy must always name its
    users, and the TLS-only deny belongs on every bucket either way.
    """
    principal, admit = grantee
    grouped: dict[tuple[ResourceKind, str], list[Statement]] = {}
    for key, st in resource_side:
        kind = key[0]
        if grant.mode is Mode.RESOURCE_POLICY or kind is ResourceKind.KEY:
            with_principal = {"Sid": st["Sid"], "Effect": "Allow",
                              "Principal": principal, "Action": st["Action"],
                              "Resource": "*" if kind is ResourceKind.KEY else st["Resource"]}
            condition = merge_conditions(st.get("Condition"), admit)
            if condition:
                with_principal["Condition"] = condition
            grouped.setdefault(key, []).append(with_principal)
    if grant.options.tls_only:
        for bucket in dict.fromkeys(a.bucket for a in grant.s3):
            grouped.setdefault((ResourceKind.BUCKET, bucket), []).append({
                "Sid": f"{prefix}DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*", "Resource": [bucket_arn(bucket, grant.partition),
                                               object_arn(bucket, "*", grant.partition)],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    return tuple(PolicyStatements(grant.target.account, kind, resource, tuple(statements))
                 for (kind, resource), statements in grouped.items())


def _requirements(grant: Grant) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    if grant.mode is Mode.RESOURCE_POLICY:
        writes = [a.bucket for a in grant.s3 if "s3:PutObject" in table.s3_grants(a).objects]
        for bucket in dict.fromkeys(writes):
            out.append(Requirement(
                grant.target.account, ResourceKind.BUCKET, bucket,
                "object_ownership", "BucketOwnerEnforced",
                "objects written by the source account's role must belong to the bucket "
                "owner; with ACLs enabled they stay owned by the writer and the target "
                "account cannot read them"))
    for key in dict.fromkeys(a.kms_key_arn for a in grant.s3 if a.kms_key_arn is not None):
        out.append(Requirement(
            grant.target.account, ResourceKind.KEY, key, "aws_managed",
            "false", "an AWS managed key (aws/s3) cannot be shared across accounts"))
    return tuple(out)


def _one(values: Iterable[str]) -> str | list[str]:
    """A single value as a string, several as a list: the form people write by hand."""
    items = list(values)
    return items[0] if len(items) == 1 else items


__all__ = ["bucket_key", "render"]

"""Grant -> Artifacts: the least-privilege documents for both accounts.

Every statement names exact actions (the table in `render.actions`) on exact ARNs; the
only `*` left is the one a key policy's Resource must hold (it means "this key").
"""

from __future__ import annotations

from collections.abc import Iterable

from crossgrant.errors import RenderError
from crossgrant.iam.arn import (
    account_root_arn,
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
from crossgrant.spec.model import Grant, Mode, S3Access, S3Level, TableLevel

VERSION = "2012-10-17"
LAMBDA_SERVICE = "lambda.amazonaws.com"


def render(grant: Grant) -> Artifacts:
    """All documents for `grant`; raises RenderError (naming the document) when a document
    would break an AWS limit or a known pitfall makes the grant unworkable."""
    prefix = sid_prefix(grant.name)
    resource_side = [*_s3_statements(grant, prefix), *_table_statements(grant, prefix)]
    policy_name = f"crossgrant-{grant.name}"
    roles: list[RoleArtifact] = []
    notes: list[str] = []

    source_statements: list[Statement] = [_logs_statement(grant, prefix)]
    if grant.mode is Mode.ASSUME_ROLE:
        target_arn = grant.target_role_arn
        if target_arn is None:
            raise RenderError(f"{grant.path}: assume-role mode needs role.name")
        source_statements.append({"Sid": f"{prefix}Assume", "Effect": "Allow",
                                  "Action": list(table.ASSUME_ACTIONS), "Resource": target_arn})
    else:
        source_statements.extend(st for _, st in resource_side)
    roles.append(RoleArtifact(
        account=grant.source.account, name=grant.source.execution_role,
        trust_policy=None if grant.source.existing_role else _lambda_trust(),
        inline_policies=((policy_name, _doc(source_statements)),),
        tags=grant.options.tags, create=not grant.source.existing_role,
        purpose="execution role of the function"))

    if grant.mode is Mode.ASSUME_ROLE:
        assert grant.target.role_name is not None
        roles.append(RoleArtifact(
            account=grant.target.account, name=grant.target.role_name,
            trust_policy=_target_trust(grant, prefix),
            inline_policies=((policy_name, _doc([st for _, st in resource_side])),),
            max_session_duration=max(DEFAULT_MAX_SESSION_SECONDS, grant.target.session_duration),
            tags=grant.options.tags, purpose="role the function assumes in the target account"))
        notes.append("deploy the source account first: the target role's trust policy names "
                     "the execution role, and IAM rejects a principal that does not exist yet")
        grantee = grant.target_role_arn
    else:
        grantee = grant.execution_role_arn
        notes.append("deploy the source account first: bucket, table and key policies name "
                     "the execution role, and AWS rejects a principal that does not exist yet")
    assert grantee is not None

    resource_policies = _resource_policies(grant, prefix, resource_side, grantee)
    artifacts = Artifacts(grant=grant, sid_prefix=prefix, roles=tuple(roles),
                          resource_policies=resource_policies,
                          requirements=_requirements(grant), notes=tuple(notes))
    check_sizes(artifacts)
    return artifacts


def _doc(statements: Iterable[Statement]) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def _lambda_trust() -> Document:
    return _doc([{"Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE},
                  "Action": "sts:AssumeRole"}])


def _target_trust(grant: Grant, prefix: str) -> Document:
    exec_arn = grant.execution_role_arn
    statement: Statement = {"Sid": f"{prefix}Assume", "Effect": "Allow",
                            "Action": list(table.ASSUME_ACTIONS)}
    conditions: dict[str, dict[str, str]] = {}
    if grant.options.trust_whole_account:
        statement["Principal"] = {"AWS": account_root_arn(grant.source.account,
                                                          grant.partition)}
        conditions["ArnEquals"] = {"aws:PrincipalArn": exec_arn}
    else:
        statement["Principal"] = {"AWS": exec_arn}
    if grant.target.external_id is not None:
        conditions["StringEquals"] = {"sts:ExternalId": grant.target.external_id}
    if grant.options.organization_id is not None:
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = \
            grant.options.organization_id
    if conditions:
        statement["Condition"] = conditions
    return _doc([statement])


def _logs_statement(grant: Grant, prefix: str) -> Statement:
    src = grant.source
    group = log_group_arn(src.region, src.account, f"/aws/lambda/{src.function}",
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
        obj_actions = table.s3_object_actions(access.levels)
        if obj_actions:
            out.append((key, {"Sid": f"{prefix}S3Object{i}", "Effect": "Allow",
                              "Action": _one(obj_actions),
                              "Resource": _one([object_arn(bucket, f"{p}*", grant.partition)
                                                for p in access.prefixes])}))
        if S3Level.LIST in access.levels:
            st: Statement = {"Sid": f"{prefix}S3List{i}", "Effect": "Allow",
                             "Action": "s3:ListBucket",
                             "Resource": bucket_arn(bucket, grant.partition)}
            if "" not in access.prefixes:
                st["Condition"] = {"StringLike": {"s3:prefix": _one(
                    [f"{p}*" for p in access.prefixes])}}
            out.append((key, st))
        out.extend(_kms_statement(grant, prefix, i, access))
    return out


def _kms_statement(grant: Grant, prefix: str, i: int, access: S3Access) -> list[Keyed]:
    kms = table.kms_actions(access.levels)
    if access.kms_key_arn is None or not kms:
        return []
    return [((ResourceKind.KEY, access.kms_key_arn), {
        "Sid": f"{prefix}Kms{i}", "Effect": "Allow", "Action": _one(kms),
        "Resource": access.kms_key_arn,
        "Condition": {"StringEquals": {
            "kms:ViaService": f"s3.{grant.target.region}.amazonaws.com"}}})]


def _table_statements(grant: Grant, prefix: str) -> list[Keyed]:
    out: list[Keyed] = []
    where = (grant.target.region, grant.target.account)
    for i, access in enumerate(grant.dynamodb):
        arn = grant.table_arn(access.table)
        key = (ResourceKind.TABLE, arn)
        out.append((key, {"Sid": f"{prefix}Table{i}", "Effect": "Allow",
                          "Action": _one(table.table_actions(access.levels)), "Resource": arn}))
        if access.indexes and TableLevel.READ in access.levels:
            out.append((key, {"Sid": f"{prefix}Index{i}", "Effect": "Allow",
                              "Action": _one(table.INDEX_ACTIONS),
                              "Resource": _one([index_arn(*where, access.table, ix,
                                                          grant.partition)
                                                for ix in access.indexes])}))
        if access.streams:
            streams = stream_arn(*where, access.table, partition=grant.partition)
            out.append(((ResourceKind.STREAM, streams), {
                "Sid": f"{prefix}Stream{i}", "Effect": "Allow",
                "Action": _one(table.STREAM_ACTIONS), "Resource": streams}))
    return out


def _resource_policies(grant: Grant, prefix: str, resource_side: list[Keyed],
                       grantee: str) -> tuple[PolicyStatements, ...]:
    """Statements for B's bucket, table, stream and key policies.

    Resource-policy mode grants there; assume-role mode needs no bucket or table grant
    (the target role is in the resource's account), but a key policy must always name its
    users, and the TLS-only deny belongs on every bucket either way.
    """
    grouped: dict[tuple[ResourceKind, str], list[Statement]] = {}
    for key, st in resource_side:
        kind = key[0]
        if grant.mode is Mode.RESOURCE_POLICY or kind is ResourceKind.KEY:
            with_principal = {"Sid": st["Sid"], "Effect": "Allow",
                              "Principal": {"AWS": grantee}, "Action": st["Action"],
                              "Resource": "*" if kind is ResourceKind.KEY else st["Resource"]}
            if "Condition" in st:
                with_principal["Condition"] = st["Condition"]
            grouped.setdefault(key, []).append(with_principal)
    if grant.options.tls_only:
        for access in grant.s3:
            grouped.setdefault((ResourceKind.BUCKET, access.bucket), []).append({
                "Sid": f"{prefix}DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*", "Resource": [bucket_arn(access.bucket, grant.partition),
                                               object_arn(access.bucket, "*", grant.partition)],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    return tuple(PolicyStatements(grant.target.account, kind, resource, tuple(statements))
                 for (kind, resource), statements in grouped.items())


def _requirements(grant: Grant) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    if grant.mode is Mode.RESOURCE_POLICY:
        for access in grant.s3:
            if S3Level.WRITE in access.levels:
                out.append(Requirement(
                    grant.target.account, ResourceKind.BUCKET, access.bucket,
                    "object_ownership", "BucketOwnerEnforced",
                    "objects written by the source account's role must belong to the bucket "
                    "owner; with ACLs enabled they stay owned by the writer and the target "
                    "account cannot read them"))
    for access in grant.s3:
        if access.kms_key_arn is not None:
            out.append(Requirement(
                grant.target.account, ResourceKind.KEY, access.kms_key_arn, "aws_managed",
                "false", "an AWS managed key (aws/s3) cannot be shared across accounts"))
    return tuple(out)


def _one(values: Iterable[str]) -> str | list[str]:
    """A single value as a string, several as a list: the form people write by hand."""
    items = list(values)
    return items[0] if len(items) == 1 else items


__all__ = ["render"]

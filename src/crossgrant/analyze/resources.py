"""The resources whose policies can let someone in: buckets, tables, streams, keys and role
trust policies, each with the label its findings name it by."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from crossgrant.world import AccountState, PolicyDoc
from crossgrant.world.labels import (
    bucket_policy_label,
    key_policy_label,
    stream_policy_label,
    table_policy_label,
    trust_policy_label,
)

__all__ = ["Resource", "document_path", "resources"]


@dataclass(frozen=True)
class Resource:
    arn: str
    type: str
    account: str
    service: str
    policy: PolicyDoc | None
    label: str
    notes: tuple[str, ...] = ()
    public_notes: tuple[str, ...] = ()


def resources(state: AccountState) -> Iterator[Resource]:
    """Every resource of the state in a stable order, labelled as decisions label it."""
    for acct_id, acct in sorted(state.accounts.items()):
        for name, bucket in sorted(acct.buckets.items()):
            pab = bucket.public_access_block
            public_notes: tuple[str, ...] = ()
            if pab.restrict_public_buckets:
                public_notes = ("S3 Block Public Access (RestrictPublicBuckets) is on for this "
                                "bucket: while its policy is public, only AWS services and "
                                "the owner account are let in",)
            yield Resource(bucket.arn, "AWS::S3::Bucket", acct_id, "s3", bucket.policy,
                            bucket_policy_label(name), public_notes=public_notes)
        for arn, table in sorted(acct.tables.items()):
            yield Resource(arn, "AWS::DynamoDB::Table", acct_id, "dynamodb", table.policy,
                            table_policy_label(arn))
            if table.stream_arn is not None:
                yield Resource(table.stream_arn, "AWS::DynamoDB::Stream", acct_id, "dynamodb",
                                table.stream_policy, stream_policy_label(table.stream_arn))
        for arn, key in sorted(acct.keys.items()):
            yield Resource(arn, "AWS::KMS::Key", acct_id, "kms", key.policy,
                            key_policy_label(arn))
        for _name, role in sorted(acct.roles.items()):
            yield Resource(role.arn, "AWS::IAM::Role", acct_id, "sts", role.trust_policy,
                            trust_policy_label(role.arn))



def document_path(resource_type: str, account: str, arn: str) -> tuple[str, ...]:
    """Where the policy of a resource `resources` yields sits in a state file's JSON
    (docs/state.md): buckets by name, tables and keys by ARN, roles by name."""
    where: dict[str, tuple[str, str, str]] = {
        "AWS::S3::Bucket": ("buckets", arn.rsplit(":", 1)[-1], "policy"),
        "AWS::DynamoDB::Table": ("tables", arn, "policy"),
        "AWS::DynamoDB::Stream": ("tables", arn.split("/stream/", 1)[0], "stream_policy"),
        "AWS::KMS::Key": ("keys", arn, "policy"),
        "AWS::IAM::Role": ("roles", arn.rsplit("/", 1)[-1], "trust_policy"),
    }
    return ("accounts", account, *where[resource_type])

"""The AWS services the sandbox serves, one module (or package) each, as moto splits them.

Each holds its request mapper (`operation`: HTTP request -> operation, IAM checks,
condition keys) and its `Service` (error codes, local answers, after-response hooks; see
`base`). `registry` builds the set a sandbox serves; `MAPPERS` is the mappers alone, keyed
by the service name of the SigV4 credential scope. DynamoDB Streams signs as "dynamodb"
and is told apart by its X-Amz-Target inside the dynamodb mapper.
"""

from __future__ import annotations

from crossgrant.sandbox import fidelity
from crossgrant.sandbox.credentials import CredentialStore
from crossgrant.sandbox.operations import Mapper
from crossgrant.sandbox.services import dynamodb, iam, kms, s3, sts
from crossgrant.sandbox.services.base import Registry, Service
from crossgrant.sandbox.services.s3.policies import BucketPolicies
from crossgrant.sandbox.state import StateCache

MAPPERS: dict[str, Mapper] = {
    "s3": s3.operation,
    "dynamodb": dynamodb.operation,
    "sts": sts.operation,
    "iam": iam.operation,
    "kms": kms.operation,
}


# What the sandbox enforces as AWS does, and what it does not: the authorizer's own rules
# and every service's (docs/sandbox.md's table lists exactly these).
RULES: tuple[fidelity.Rule, ...] = (
    *fidelity.GENERIC, *s3.S3.rules, *dynamodb.DynamoDB.rules, *sts.Sts.rules,
    *iam.Iam.rules, *kms.Kms.rules)


def registry(state: StateCache, credentials: CredentialStore,
             bucket_policies: BucketPolicies, region: str) -> Registry:
    """The services of one sandbox, sharing its state, sessions and bucket policies."""
    return Registry([s3.S3(state, bucket_policies, region), sts.Sts(state, credentials, region),
                     dynamodb.DynamoDB(),
                     kms.Kms(), iam.Iam()],
                    unsigned=s3.SERVICE)


__all__ = ["MAPPERS", "RULES", "Registry", "Service", "registry"]

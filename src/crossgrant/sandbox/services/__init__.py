"""Request -> Operation mappers, one module per service, as moto splits its services.

`MAPPERS` is keyed by the service name of the SigV4 credential scope, which is how the
authorizer knows which mapper a request is for. DynamoDB Streams signs as "dynamodb" and
is told apart by its X-Amz-Target inside the dynamodb mapper.
"""

from __future__ import annotations

from crossgrant.sandbox.operations import Mapper
from crossgrant.sandbox.services import dynamodb, iam, kms, s3, sts

MAPPERS: dict[str, Mapper] = {
    "s3": s3.operation,
    "dynamodb": dynamodb.operation,
    "sts": sts.operation,
    "iam": iam.operation,
    "kms": kms.operation,
}

__all__ = ["MAPPERS"]

"""DynamoDB and DynamoDB Streams (both sign as "dynamodb"): the request mapper (`mapping`,
with PartiQL's statement reader in `partiql`, fine-grained keys in `keys` and
`expressions`) and the service (`service`: key schemas from moto)."""

from crossgrant.sandbox.services.dynamodb.mapping import SERVICE, operation
from crossgrant.sandbox.services.dynamodb.service import DynamoDB

__all__ = ["SERVICE", "DynamoDB", "operation"]

"""DynamoDB and DynamoDB Streams (both sign as "dynamodb"): the request mapper (`mapping`,
with PartiQL's statement reader in `partiql`)."""

from crossgrant.sandbox.services.dynamodb.mapping import SERVICE, operation

__all__ = ["SERVICE", "operation"]

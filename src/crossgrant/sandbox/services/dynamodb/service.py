"""DynamoDB as the sandbox serves it: JSON errors, and the tables' key schemas (read from
moto) that dynamodb:LeadingKeys needs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from moto.dynamodb.models import dynamodb_backends

from crossgrant.sandbox.fidelity import ATTRIBUTES, LEADING_KEYS, PARTIQL_KEYS, Rule
from crossgrant.sandbox.operations import HttpRequest, KeySchema, MapContext, Operation
from crossgrant.sandbox.services.base import JsonService
from crossgrant.sandbox.services.dynamodb.mapping import SERVICE, operation


def key_schema(account: str, region: str, table: str) -> KeySchema | None:
    """The table's key attributes and its indexes', as moto holds them."""
    backend = dynamodb_backends[account][region] if account in dynamodb_backends else None
    found: Any = backend.tables.get(table) if backend is not None else None
    if found is None or not found.hash_key_attr:
        return None
    indexes: dict[str, tuple[str, str | None]] = {}
    for index in [*getattr(found, "indexes", []), *getattr(found, "global_indexes", [])]:
        schema = {k["KeyType"]: k["AttributeName"] for k in index.schema}
        if "HASH" in schema:
            indexes[index.name] = (schema["HASH"], schema.get("RANGE"))
    return KeySchema(found.hash_key_attr, found.range_key_attr, indexes)


class DynamoDB(JsonService):
    rules: ClassVar[tuple[Rule, ...]] = (LEADING_KEYS, ATTRIBUTES, PARTIQL_KEYS)

    def __init__(self) -> None:
        super().__init__(SERVICE, operation)

    def operation(self, req: HttpRequest, ctx: MapContext) -> Operation:
        region = ctx.region
        return super().operation(req, replace(
            ctx, table_keys=lambda account, table: key_schema(account, region, table)))

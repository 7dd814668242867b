"""DynamoDB and DynamoDB Streams JSON requests -> the IAM checks AWS makes for them.

Both APIs are signed with the service name "dynamodb"; X-Amz-Target tells them apart.
Most operations are authorized by the action of the same name on the table they name.
The exceptions follow the DynamoDB developer guide: a transaction is authorized item by
item with the item action (dynamodb:EnclosingOperation says which transaction), PartiQL by
dynamodb:PartiQL<Verb> on the table of each statement, batches once per table.

A table may be named by ARN, and the ARN may belong to another account. moto only finds
tables of the account that signs the request, so such a request is forwarded as the
owning account with the ARN replaced by the plain table name; a request that touches
tables of two accounts cannot be forwarded at all and is refused.

dynamodb:LeadingKeys (`keys`) is the partition key of every item a request touches, read
with the table's key schema (`MapContext.table_keys`); dynamodb:Attributes
(`expressions`) every attribute a request names, its expressions included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crossgrant.iam.arn import index_arn, table_arn
from crossgrant.sandbox.operations import Check, HttpRequest, MapContext, Operation
from crossgrant.sandbox.services._common import (
    Context,
    Extra,
    JsonRequest,
    global_context,
    tag_context,
    unsupported,
)
from crossgrant.sandbox.services.dynamodb import keys
from crossgrant.sandbox.services.dynamodb.expressions import request_attributes
from crossgrant.sandbox.services.dynamodb.partiql import NAME, parse_partiql

SERVICE = "dynamodb"
_TARGET = "DynamoDB_20120810."
_STREAMS_TARGET = "DynamoDBStreams_20120810."
_NO_LEADING_KEYS = ("dynamodb:LeadingKeys left out: the partition key of the item is not "
                    "knowable without the table's key schema")
_TABLE_SUBRESOURCES = frozenset({"index", "stream", "backup", "export", "import"})


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    account: str
    arn: str
    by_arn: bool  # named by ARN in the request, so a forwarded body must rename it


class _Request(JsonRequest):
    service = SERVICE

    # --- resources ---------------------------------------------------------------

    def table(self, value: object, what: str = "TableName") -> _Table:
        if not isinstance(value, str):
            raise self.fail(f"{what} missing or not a string")
        if value.startswith("arn:"):
            account, parts = self._arn_parts(value, what)
            if len(parts) != 2:
                raise self.fail(f"{what} {value!r} is not a table ARN")
            table = _Table(parts[1], account, table_arn(self.ctx.region, account, parts[1]), True)
        elif NAME.match(value):
            account = self.ctx.caller_account
            table = _Table(value, account, table_arn(self.ctx.region, account, value), False)
        else:
            raise self.fail(f"malformed {what} {value!r}")
        self.accounts.add(table.account)
        return table

    def resource_arn(self, value: object, what: str, kinds: frozenset[str]) -> tuple[str, str]:
        """A table, stream, backup, export or import ARN: (ARN, owning account)."""
        if not isinstance(value, str) or not value.startswith("arn:"):
            raise self.fail(f"{what} missing or not an ARN")
        account, parts = self._arn_parts(value, what)
        if len(parts) != 2 and not (len(parts) >= 4 and parts[2] in kinds):
            raise self.fail(f"{what} {value!r} is not one of: table, "
                            + ", ".join(sorted(kinds)))
        self.accounts.add(account)
        return value, account

    def index(self, table: _Table, name: object) -> str:
        if name is None:
            return table.arn
        if not isinstance(name, str) or not NAME.match(name):
            raise self.fail(f"malformed IndexName {name!r}")
        return index_arn(self.ctx.region, table.account, table.name, name)

    def partition_key(self, table: _Table, index: str | None = None) -> str | None:
        """The partition key attribute of the table (or of its index), when known."""
        schema = self.ctx.table_keys(table.account, table.name)
        found = schema.of(index) if schema is not None else None
        return found[0] if found is not None else None

    def leading_keys(self, table: _Table, items: list[object], *, index: str | None = None,
                     query: Mapping[str, object] | None = None) -> Context:
        """dynamodb:LeadingKeys of the keys or items a request names (or of a Query's
        key condition); left out, with a note, when no value can be known."""
        attribute = self.partition_key(table, index)
        values: tuple[str, ...] | None
        if query is not None:
            value = keys.query_partition(query, attribute) if attribute else \
                keys.guessed_query_partition(query)
            values = (value,) if value is not None else None
        elif attribute is not None:
            values = keys.partition_values(items, attribute)
        else:
            guessed = [keys.single_key_value(i) for i in items]
            values = tuple(dict.fromkeys(v for v in guessed if v is not None)) \
                if guessed and None not in guessed else None
        if values is None:
            self.notes.append(_NO_LEADING_KEYS)
            return []
        return [("dynamodb:LeadingKeys", values)]

    def _arn_parts(self, value: str, what: str) -> tuple[str, list[str]]:
        arn = self.own_arn(value, what, "DynamoDB")
        parts = arn.resource.split("/")
        if parts[0] != "table" or len(parts) < 2 or not NAME.match(parts[1]):
            raise self.fail(f"{what} {value!r} names no table")
        return arn.account, parts

    # --- checks and the operation -----------------------------------------------------

    def check(self, action: str, resource: str, account: str | None, extra: Extra = ()
              ) -> Check:
        context = [*global_context(self.req), *extra]
        return Check(f"dynamodb:{action}", resource, tuple(context), account)

    def op(self, name: str, checks: Sequence[Check], changes_state: bool = False
           ) -> Operation:
        if not checks:
            raise self.fail("the request names nothing to authorize")
        forward_as = self.forward_as("spans accounts")
        forward_body = None
        if forward_as is not None:
            renamed = _rename_tables(self.body)
            if renamed != self.body:
                forward_body = json.dumps(renamed, separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8")
        return self.operation(name, checks, changes_state=changes_state,
                              forward_as=forward_as, forward_body=forward_body)


def operation(req: HttpRequest, ctx: MapContext) -> Operation:
    target = req.header("x-amz-target") or ""
    if target.startswith(_STREAMS_TARGET):
        name, table = target[len(_STREAMS_TARGET):], _STREAM_OPERATIONS
    elif target.startswith(_TARGET):
        name, table = target[len(_TARGET):], _OPERATIONS
    else:
        raise unsupported(SERVICE, req, "unknown X-Amz-Target", target=target or "(none)")
    handler = table.get(name)
    if handler is None:
        raise unsupported(SERVICE, req, f"unknown operation {name!r}", target=target)
    return handler(_Request.parse(req, ctx, target), name)


# --- item operations -------------------------------------------------------------------


def _item(action: str, field: str) -> Callable[[_Request, str], Operation]:
    """An item action on the one item named by `field` ("Key", or "Item" for PutItem)."""
    def handler(r: _Request, name: str) -> Operation:
        table = r.table(r.body.get("TableName"))
        extra = _item_context(r, table, r.body, field)
        return r.op(name, [r.check(action, table.arn, table.account, extra)])
    return handler


def _query_or_scan(r: _Request, name: str) -> Operation:
    table = r.table(r.body.get("TableName"))
    index = r.body.get("IndexName")
    resource = r.index(table, index)
    extra: Context = []
    if name == "Query":  # a Scan reads every partition: it has no leading keys
        extra += r.leading_keys(table, [], index=index if isinstance(index, str) else None,
                                query=r.body)
    extra += _attributes_context(r.body)
    extra += _scalar_context(r.body, ("Select", "ReturnValues", "ReturnConsumedCapacity"))
    return r.op(name, [r.check(name, resource, table.account, extra)])


def _batch_get(r: _Request, name: str) -> Operation:
    checks = []
    for table_ref, request in _request_items(r).items():
        table = r.table(table_ref, "RequestItems table")
        if not isinstance(request, dict):
            raise r.fail("malformed RequestItems")
        listed = request.get("Keys")
        extra = r.leading_keys(table, list(listed) if isinstance(listed, list) else [None])
        extra += _attributes_context(request)
        extra += _scalar_context(r.body, ("ReturnConsumedCapacity",))
        checks.append(r.check("BatchGetItem", table.arn, table.account, extra))
    return r.op(name, checks)


def _batch_write(r: _Request, name: str) -> Operation:
    checks = []
    for table_ref, writes in _request_items(r).items():
        table = r.table(table_ref, "RequestItems table")
        if not isinstance(writes, list) or not writes:
            raise r.fail("malformed RequestItems")
        puts = [w["PutRequest"] for w in writes
                if isinstance(w, dict) and isinstance(w.get("PutRequest"), dict)]
        deletes = [w["DeleteRequest"] for w in writes
                   if isinstance(w, dict) and isinstance(w.get("DeleteRequest"), dict)]
        touched: list[object] = [p.get("Item") for p in puts] + [d.get("Key") for d in deletes]
        if r.partition_key(table) is None and puts:
            r.notes.append(_NO_LEADING_KEYS)  # an item's partition key needs the schema
            extra: Context = []
        else:
            extra = r.leading_keys(table, touched)
        names = [a for p in puts if isinstance(p.get("Item"), dict) for a in p["Item"]]
        if names:
            extra.append(("dynamodb:Attributes", tuple(dict.fromkeys(names))))
        extra += _scalar_context(r.body, ("ReturnConsumedCapacity",))
        checks.append(r.check("BatchWriteItem", table.arn, table.account, extra))
    return r.op(name, checks)


_TRANSACT_ACTIONS = {
    "Get": ("GetItem", "Key"),
    "Put": ("PutItem", "Item"),
    "Update": ("UpdateItem", "Key"),
    "Delete": ("DeleteItem", "Key"),
    "ConditionCheck": ("ConditionCheckItem", "Key"),
}


def _transact(r: _Request, name: str) -> Operation:
    items = r.body.get("TransactItems")
    if not isinstance(items, list) or not items:
        raise r.fail("TransactItems missing")
    allowed = ("Get",) if name == "TransactGetItems" else ("Put", "Update", "Delete",
                                                            "ConditionCheck")
    checks = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise r.fail("each transact item needs exactly one action")
        ((kind, spec),) = item.items()
        if kind not in allowed or not isinstance(spec, dict):
            raise r.fail(f"{kind!r} is not an item action of {name}")
        action, field = _TRANSACT_ACTIONS[kind]
        table = r.table(spec.get("TableName"))
        extra = [("dynamodb:EnclosingOperation", name),
                 *_item_context(r, table, spec, field)]
        extra += _scalar_context(r.body, ("ReturnConsumedCapacity",))
        checks.append(r.check(action, table.arn, table.account, extra))
    return r.op(name, checks)


def _partiql(r: _Request, name: str) -> Operation:
    if name == "ExecuteStatement":
        statements = [r.body.get("Statement")]
        enclosing = None
    else:
        field_name = "Statements" if name == "BatchExecuteStatement" else "TransactStatements"
        listed = r.body.get(field_name)
        if not isinstance(listed, list) or not listed:
            raise r.fail(f"{field_name} missing")
        statements = [s.get("Statement") if isinstance(s, dict) else None for s in listed]
        enclosing = "ExecuteTransaction" if name == "ExecuteTransaction" else None
    checks = []
    for statement in statements:
        if not isinstance(statement, str):
            raise r.fail("Statement missing")
        parsed = parse_partiql(statement)
        if parsed is None:
            raise r.fail(f"cannot read the table of PartiQL statement {statement!r}")
        verb, table_name, index_name, has_where = parsed
        table = r.table(table_name, "PartiQL table")
        extra: Context = []
        if enclosing:
            extra.append(("dynamodb:EnclosingOperation", enclosing))
        if verb == "Select" and not has_where:
            extra.append(("dynamodb:FullTableScan", "true"))
        r.notes.append(_NO_LEADING_KEYS)
        checks.append(r.check(f"PartiQL{verb}", r.index(table, index_name), table.account,
                              extra))
    return r.op(name, checks)


# --- control plane ---------------------------------------------------------------------


def _on_table(action: str | None = None, changes_state: bool = False
              ) -> Callable[[_Request, str], Operation]:
    def handler(r: _Request, name: str) -> Operation:
        table = r.table(r.body.get("TableName"))
        resource = r.index(table, r.body.get("IndexName")) if "Contributor" in name else table.arn
        return r.op(name, [r.check(action or name, resource, table.account)], changes_state)
    return handler


def _create_table(r: _Request, name: str) -> Operation:
    table = r.table(r.body.get("TableName"))
    tags = r.tags("Key", "Value")
    checks = [r.check("CreateTable", table.arn, table.account, tag_context(tags))]
    if tags:
        # Tagging on create is authorized as tagging, as elsewhere in AWS (ABAC).
        checks.append(r.check("TagResource", table.arn, table.account, tag_context(tags)))
    return r.op(name, checks, changes_state=True)


def _everything(r: _Request, name: str) -> Operation:
    return r.op(name, [r.check(name, "*", None)])


def _on_resource_arn(changes_state: bool = False) -> Callable[[_Request, str], Operation]:
    def handler(r: _Request, name: str) -> Operation:
        arn, account = r.resource_arn(r.body.get("ResourceArn"), "ResourceArn",
                                      frozenset({"stream"}))
        extra: Context = []
        if name == "TagResource":
            extra = tag_context(r.tags("Key", "Value"))
        elif name == "UntagResource":
            extra = r.untag_context()
        return r.op(name, [r.check(name, arn, account, extra)], changes_state)
    return handler


def _on_arn(param: str, kind: str) -> Callable[[_Request, str], Operation]:
    def handler(r: _Request, name: str) -> Operation:
        arn, account = r.resource_arn(r.body.get(param), param, frozenset({kind}))
        return r.op(name, [r.check(name, arn, account)])
    return handler


def _export(r: _Request, name: str) -> Operation:
    arn, account = r.resource_arn(r.body.get("TableArn"), "TableArn", frozenset())
    return r.op(name, [r.check(name, arn, account)])


def _import(r: _Request, name: str) -> Operation:
    params = r.body.get("TableCreationParameters")
    table = r.table(params.get("TableName") if isinstance(params, dict) else None)
    return r.op(name, [r.check(name, table.arn, table.account)], changes_state=True)


def _restore_from_backup(r: _Request, name: str) -> Operation:
    backup, backup_account = r.resource_arn(r.body.get("BackupArn"), "BackupArn",
                                            frozenset({"backup"}))
    target = r.table(r.body.get("TargetTableName"), "TargetTableName")
    r.notes.append("AWS also requires item-level write permissions on the target table; "
                   "only the restore action is checked")
    return r.op(name, [r.check(name, backup, backup_account),
                       r.check(name, target.arn, target.account)], changes_state=True)


def _restore_to_point_in_time(r: _Request, name: str) -> Operation:
    source_ref = r.body.get("SourceTableArn") or r.body.get("SourceTableName")
    source = r.table(source_ref, "SourceTable")
    target = r.table(r.body.get("TargetTableName"), "TargetTableName")
    r.notes.append("AWS also requires item-level write permissions on the target table; "
                   "only the restore action is checked")
    return r.op(name, [r.check(name, source.arn, source.account),
                       r.check(name, target.arn, target.account)], changes_state=True)


# --- streams ---------------------------------------------------------------------------


def _stream(r: _Request, name: str) -> Operation:
    if name == "GetRecords":
        iterator = r.body.get("ShardIterator")
        if not isinstance(iterator, str) or "|" not in iterator:
            raise r.fail("ShardIterator is not one moto issued")
        # moto's iterators are "<stream ARN>|1|<random>", and moto serves only iterators it
        # issued (an exact dictionary lookup), so the ARN inside cannot be forged.
        value: object = iterator.split("|", 1)[0]
        what = "ShardIterator"
    else:
        value, what = r.body.get("StreamArn"), "StreamArn"
    arn, account = r.resource_arn(value, what, frozenset({"stream"}))
    if "/stream/" not in arn:
        raise r.fail(f"{what} is not a stream ARN")
    return r.op(name, [r.check(name, arn, account)])


def _list_streams(r: _Request, name: str) -> Operation:
    return r.op(name, [r.check(name, "*", None)])


_Handler = Callable[[_Request, str], Operation]

_OPERATIONS: Mapping[str, _Handler] = {
    "GetItem": _item("GetItem", "Key"),
    "PutItem": _item("PutItem", "Item"),
    "UpdateItem": _item("UpdateItem", "Key"),
    "DeleteItem": _item("DeleteItem", "Key"),
    "Query": _query_or_scan,
    "Scan": _query_or_scan,
    "BatchGetItem": _batch_get,
    "BatchWriteItem": _batch_write,
    "TransactGetItems": _transact,
    "TransactWriteItems": _transact,
    "ExecuteStatement": _partiql,
    "BatchExecuteStatement": _partiql,
    "ExecuteTransaction": _partiql,
    "CreateTable": _create_table,
    "DeleteTable": _on_table(changes_state=True),
    "UpdateTable": _on_table(changes_state=True),
    "DescribeTable": _on_table(),
    "DescribeTimeToLive": _on_table(),
    "UpdateTimeToLive": _on_table(),
    "DescribeContinuousBackups": _on_table(),
    "UpdateContinuousBackups": _on_table(),
    "DescribeContributorInsights": _on_table(),
    "UpdateContributorInsights": _on_table(),
    "DescribeKinesisStreamingDestination": _on_table(),
    "EnableKinesisStreamingDestination": _on_table(),
    "DisableKinesisStreamingDestination": _on_table(),
    "UpdateKinesisStreamingDestination": _on_table(),
    "DescribeTableReplicaAutoScaling": _on_table(),
    "UpdateTableReplicaAutoScaling": _on_table(),
    "CreateBackup": _on_table(),
    "DescribeBackup": _on_arn("BackupArn", "backup"),
    "DeleteBackup": _on_arn("BackupArn", "backup"),
    "RestoreTableFromBackup": _restore_from_backup,
    "RestoreTableToPointInTime": _restore_to_point_in_time,
    "ExportTableToPointInTime": _export,
    "DescribeExport": _on_arn("ExportArn", "export"),
    "ImportTable": _import,
    "DescribeImport": _on_arn("ImportArn", "import"),
    "TagResource": _on_resource_arn(changes_state=True),
    "UntagResource": _on_resource_arn(changes_state=True),
    "ListTagsOfResource": _on_resource_arn(),
    "PutResourcePolicy": _on_resource_arn(changes_state=True),
    "GetResourcePolicy": _on_resource_arn(),
    "DeleteResourcePolicy": _on_resource_arn(changes_state=True),
    "ListTables": _everything,
    "ListBackups": _everything,
    "ListGlobalTables": _everything,
    "ListExports": _everything,
    "ListImports": _everything,
    "ListContributorInsights": _everything,
    "DescribeLimits": _everything,
    "DescribeEndpoints": _everything,
}
_STREAM_OPERATIONS: Mapping[str, _Handler] = {
    "DescribeStream": _stream,
    "GetShardIterator": _stream,
    "GetRecords": _stream,
    "ListStreams": _list_streams,
}


# --- context -------------------------------------------------------------------------


def _item_context(r: _Request, table: _Table, spec: Mapping[str, object],
                  field: str) -> Context:
    """LeadingKeys of the one item (`field`: its Key, or the Item of a put), the
    attributes the request names, and its scalar keys."""
    extra = r.leading_keys(table, [spec.get(field)])
    extra += _attributes_context(spec)
    extra += _scalar_context(spec, ("Select", "ReturnValues", "ReturnConsumedCapacity"))
    return extra


def _attributes_context(spec: Mapping[str, object]) -> Context:
    """dynamodb:Attributes: the top-level attribute names the request reads or writes."""
    names = request_attributes(spec)
    return [("dynamodb:Attributes", names)] if names else []


def _scalar_context(spec: Mapping[str, object], params: tuple[str, ...]) -> Context:
    return [(f"dynamodb:{p}", v) for p in params if isinstance(v := spec.get(p), str)]


def _request_items(r: _Request) -> dict[str, object]:
    items = r.body.get("RequestItems")
    if not isinstance(items, dict) or not items:
        raise r.fail("RequestItems missing")
    return items


def _rename_tables(body: dict[str, object]) -> dict[str, object]:
    """The body with every table ARN in a table-name position replaced by the name, which
    is what moto resolves in the account the request is forwarded as."""

    def plain(value: object) -> object:
        if isinstance(value, str) and value.startswith("arn:") and ":table/" in value:
            return value.split(":table/", 1)[1]
        return value

    out = dict(body)
    for name_field in ("TableName", "SourceTableName", "TargetTableName"):
        if name_field in out:
            out[name_field] = plain(out[name_field])
    if isinstance(items := out.get("RequestItems"), dict):
        out["RequestItems"] = {plain(k): v for k, v in items.items()}
    if isinstance(transact := out.get("TransactItems"), list):
        out["TransactItems"] = [
            {kind: ({**spec, "TableName": plain(spec["TableName"])}
                    if isinstance(spec, dict) and "TableName" in spec else spec)
             for kind, spec in item.items()} if isinstance(item, dict) else item
            for item in transact
        ]
    return out

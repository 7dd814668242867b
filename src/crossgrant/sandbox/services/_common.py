"""What every service mapper shares: the global context keys, ARN parsing, the query
protocol's list and tag encodings, and the guards that keep a mapper's reading of a request
identical to moto's.

The guards exist because the authorizer checks what the mapper *thinks* a request does and
then hands the bytes to moto: wherever moto reads a parameter from somewhere a mapper would
not look (a URL query on a JSON request, a form body beside a URL query), an attacker could
get one thing authorized and another thing executed. Such requests are refused instead of
guessed at; botocore and the AWS CLI never send them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl

from crossgrant.errors import ArnError
from crossgrant.iam.arn import Arn, is_account_id, parse_arn
from crossgrant.sandbox.operations import (
    Check,
    ContextValue,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Operation,
    UnsupportedOperation,
)

Context = list[tuple[str, ContextValue]]
Extra = Sequence[tuple[str, ContextValue]]


def global_context(req: HttpRequest) -> Context:
    return [
        ("aws:SecureTransport", "true" if req.secure else "false"),
        ("aws:SourceIp", req.source_ip),
    ]


def describe(req: HttpRequest) -> str:
    """The request as a log line, so a refusal names exactly what was refused."""
    query = "&".join(f"{k}={v}" if v else k for k, v in req.query)
    return f"{req.method} {req.path}" + (f"?{query}" if query else "")


def unsupported(service: str, req: HttpRequest, why: str, *, target: str | None = None
                ) -> UnsupportedOperation:
    where = describe(req) + (f" (X-Amz-Target {target})" if target else "")
    return UnsupportedOperation(f"{service}: cannot authorize {where}: {why}")


def arn_of(text: str) -> Arn | None:
    """`text` parsed as an ARN, or None when it is none (the mapper refuses it in its own
    words). Only ASCII: no service's resource names allow more."""
    if not text.isascii():
        return None
    try:
        return parse_arn(text)
    except ArnError:
        return None


def content_type(req: HttpRequest) -> str:
    return (req.header("content-type") or "").split(";", 1)[0].strip().lower()


def json_body(service: str, req: HttpRequest, target: str) -> dict[str, object]:
    """The body of a JSON-protocol request, as moto will read it.

    moto takes the operation from an `Action` query parameter before it looks at
    X-Amz-Target, and when the URL carries no query it builds one from the body with
    `parse_qsl` (so `{"x": "&Action=DeleteTable&"}` names an action) or, failing that,
    from the headers. Any of those would let moto run an operation other than the one
    authorized, so they are refused.
    """
    if req.query:
        raise unsupported(service, req, "a JSON-protocol request carries no URL query",
                          target=target)
    try:
        text = req.body.decode("utf-8")
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise unsupported(service, req, f"body is not JSON ({exc})", target=target) from exc
    if not isinstance(body, dict):
        raise unsupported(service, req, "body is not a JSON object", target=target)
    if any(key == "Action" for key, _ in parse_qsl(text, keep_blank_values=True)):
        raise unsupported(service, req, "body smuggles an Action parameter", target=target)
    if req.header("action") is not None:
        raise unsupported(service, req, "an Action header overrides the target in moto",
                          target=target)
    return body


@dataclass
class JsonRequest:
    """One JSON-protocol request being mapped (DynamoDB, KMS): the parsed body and what the
    checks found on the way. A service's subclass sets `service` and adds its resources."""

    service: ClassVar[str]

    req: HttpRequest
    ctx: MapContext
    target: str
    body: dict[str, object]
    accounts: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, req: HttpRequest, ctx: MapContext, target: str) -> Self:
        return cls(req, ctx, target, json_body(cls.service, req, target))

    def fail(self, why: str) -> Exception:
        return unsupported(self.service, self.req, why, target=self.target)

    def own_arn(self, value: str, what: str, label: str) -> Arn:
        """`value` as an ARN of this service with an account, in the request's region:
        moto serves the request in its region, where the same name may be another
        resource than the one authorized."""
        arn = arn_of(value)
        if arn is None or arn.service != self.service or arn.partition != "aws":
            raise self.fail(f"{what} {value!r} is not a {label} ARN")
        if not is_account_id(arn.account):
            raise self.fail(f"{what} {value!r} has no account")
        if arn.region != self.ctx.region:
            raise self.fail(f"{what} {value!r} is in another region than the request "
                            f"({self.ctx.region})")
        return arn

    def forward_as(self, uses: str) -> str | None:
        """The account moto must serve the request as (None: the caller's). A request that
        uses resources of two accounts cannot be served at all: refused."""
        if len(self.accounts) > 1:
            raise self.fail(f"the request {uses} " + ", ".join(sorted(self.accounts))
                            + "; moto can serve it as one account only")
        return next(iter(self.accounts - {self.ctx.caller_account}), None)

    def operation(self, name: str, checks: Sequence[Check], *, changes_state: bool,
                  forward_as: str | None, forward_body: bytes | None = None) -> Operation:
        return Operation(self.service, name, tuple(checks), ErrorStyle.JSON,
                         changes_state=changes_state, forward_as_account=forward_as,
                         forward_body=forward_body, notes=tuple(dict.fromkeys(self.notes)))

    def tags(self, key_field: str, value_field: str) -> list[tuple[str, str]]:
        """The body's `Tags`: a list of {key_field: ..., value_field: ...} objects."""
        value = self.body.get("Tags")
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail("malformed Tags")
        tags = []
        for tag in value:
            if not isinstance(tag, dict) or not isinstance(tag.get(key_field), str):
                raise self.fail("malformed Tags")
            tag_value = tag.get(value_field, "")
            tags.append((tag[key_field], tag_value if isinstance(tag_value, str) else ""))
        return tags

    def untag_context(self) -> Context:
        """aws:TagKeys of the body's `TagKeys` (an untag request)."""
        keys = self.body.get("TagKeys")
        return tag_keys_context([k for k in keys if isinstance(k, str)]
                                if isinstance(keys, list) else [])


def query_params(service: str, req: HttpRequest) -> dict[str, str]:
    """The parameters of a query-protocol request (STS, IAM), as moto will read them.

    moto takes the operation from the form body when there is one and the parameters from
    URL and body merged (URL first), so a request that carries parameters in both places
    could be authorized for one role and executed for another: refused. So are repeated
    names, which moto and a dict would resolve differently.
    """
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unsupported(service, req, "body is not UTF-8") from exc
    body_pairs = parse_qsl(text, keep_blank_values=True) if text.strip() else []
    if body_pairs and req.query:
        raise unsupported(service, req, "parameters in both the URL and the body")
    if body_pairs:
        if content_type(req) != "application/x-www-form-urlencoded":
            raise unsupported(service, req, "a body that is not form-encoded")
        pairs = body_pairs
    else:
        pairs = list(req.query)
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise unsupported(service, req, "a parameter given twice")
    return dict(pairs)


def query_action(service: str, req: HttpRequest, known: Collection[str]
                 ) -> tuple[dict[str, str], str]:
    """A query-protocol request's parameters and its Action, which must be one of `known`."""
    params = query_params(service, req)
    action = params.get("Action", "")
    if action not in known:
        raise unsupported(service, req, f"unknown Action {action!r}")
    return params, action


def query_operation(service: str, name: str, checks: Iterable[Check], **options: Any
                    ) -> Operation:
    """An Operation of a query-protocol service (errors as XML ErrorResponse)."""
    return Operation(service, name, tuple(checks), ErrorStyle.QUERY_XML, **options)


def query_tags(service: str, req: HttpRequest, params: Mapping[str, str]
               ) -> list[tuple[str, str]]:
    """The `Tags.member.N.Key`/`.Value` pairs; a tag without a Key is refused."""
    tags = member_structs(params, "Tags", ("Key", "Value"))
    if any("Key" not in tag for tag in tags):
        raise unsupported(service, req, "a tag without a Key")
    return [(tag["Key"], tag.get("Value", "")) for tag in tags]


def member_list(params: Mapping[str, str], name: str) -> list[str]:
    """`Name.member.1`, `Name.member.2`, ... up to the first gap, as moto's parser reads."""
    out: list[str] = []
    while (value := params.get(f"{name}.member.{len(out) + 1}")) is not None:
        out.append(value)
    return out


def member_structs(params: Mapping[str, str], name: str, fields: tuple[str, ...]
                   ) -> list[dict[str, str]]:
    """`Name.member.N.Field` structures up to the first index that has none of `fields`."""
    out: list[dict[str, str]] = []
    while True:
        prefix = f"{name}.member.{len(out) + 1}."
        item = {f: params[prefix + f] for f in fields if prefix + f in params}
        if not item:
            return out
        out.append(item)


def tag_context(tags: list[tuple[str, str]]) -> Context:
    """aws:RequestTag/K for each tag and aws:TagKeys (multi-valued) for all of them."""
    if not tags:
        return []
    ctx: Context = [(f"aws:RequestTag/{key}", value) for key, value in tags]
    ctx.append(("aws:TagKeys", tuple(key for key, _ in tags)))
    return ctx


def tag_keys_context(keys: list[str]) -> Context:
    return [("aws:TagKeys", tuple(keys))] if keys else []

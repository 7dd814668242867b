"""S3 event notifications delivered to the sandbox's functions, as S3 delivers them to Lambda.

moto keeps a bucket's notification configuration but can only deliver to its own Lambda
emulation, which needs Docker. This hook runs after each request the authorizer forwarded:
for a successful object write or delete it reads the bucket's `LambdaFunctionConfigurations`
from moto, applies the event-type and prefix/suffix rules, and queues one AWS-format event
record per matching configuration as an asynchronous (`Event`) invocation, with Lambda's
retries.

What AWS checks and the sandbox does not: S3 calls a function only if the function's
resource policy lets `s3.amazonaws.com` invoke it (and S3 refuses a configuration whose
function it cannot validate). The sandbox has no Lambda resource policies: it delivers to
any function registered with its runner, same account or not, and writes each delivery to
the audit log (principal `s3.amazonaws.com`, decision `Delivered`) so the cross-account
hop is visible. A configuration naming a function that is not registered is recorded as
`NoSuchFunction` and delivers nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit

from crossgrant.iam import PrincipalKind
from crossgrant.iam.arn import bucket_arn
from crossgrant.sandbox.audit import AuditLog, AuditRecord
from crossgrant.sandbox.lambdas.model import AsyncInvocation, LambdaError, parse_function_arn
from crossgrant.sandbox.lambdas.runner import Runner
from crossgrant.sandbox.services.base import Outcome
from crossgrant.sandbox.services.s3.arns import split_arn
from crossgrant.serial import OMIT

_log = logging.getLogger(__name__)

# API operation -> S3 event name (without "s3:").
_CREATED = {"PutObject": "ObjectCreated:Put", "PostObject": "ObjectCreated:Post",
            "CopyObject": "ObjectCreated:Copy",
            "CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload"}
_REMOVED = frozenset({"DeleteObject", "DeleteObjects"})
_WRITE_ACTIONS = {"PutObject": "s3:PutObject", "PostObject": "s3:PutObject",
                  "CopyObject": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
                  "DeleteObject": "s3:DeleteObject"}
S3_SERVICE = "s3.amazonaws.com"


def event_key(key: str) -> str:
    """An object key as S3 writes it in an event: form-encoded like Java's URLEncoder
    (space -> '+', '*' kept, '~' encoded), with '/' kept."""
    return quote_plus(key, safe="/*").replace("~", "%7E")


def owner_id(account: str) -> str:
    """A stable stand-in for the bucket owner's Amazon customer id (AWS writes an opaque
    id such as A3NL1KOZZKExample, never the account number)."""
    digest = hashlib.sha256(f"crossgrant-owner:{account}".encode()).hexdigest().upper()
    return "A" + "".join(c for c in digest if c.isalnum())[:13]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True, eq=False)
class Delivery:
    """One event record handed (or not) to one function: what tests and the demo read."""

    id: int
    time: str
    bucket: str
    key: str  # as stored, not encoded
    event_name: str  # ObjectCreated:Put, ...
    configuration_id: str
    function_arn: str  # as the configuration names it
    function: str | None  # the registered function's ARN, None when none matches
    cross_account: bool
    status: str = "queued"  # queued, running, retrying, succeeded, failed, undeliverable
    request_id: str | None = None
    attempts: int = 0
    error: str | None = None
    result: Any = None
    event: dict[str, Any] = field(default_factory=dict, repr=False, metadata=OMIT)
    invocation: AsyncInvocation | None = field(default=None, repr=False, metadata=OMIT)

    @property
    def settled(self) -> bool:
        return self.status in ("succeeded", "failed", "undeliverable")

    def __json__(self) -> dict[str, Any]:
        """The fields, with status and attempts read live from a running invocation; the
        event (large) and the invocation stay out (the control API adds the event on
        request)."""
        inv = self.invocation
        live = {"status": self.status if inv is None or self.settled else inv.status,
                "attempts": len(inv.attempts) if inv is not None else self.attempts}
        return {f.name: live.get(f.name, getattr(self, f.name)) for f in fields(self)
                if f.metadata.get("json", True)}


@dataclass(frozen=True, slots=True)
class _Change:
    key: str
    event_name: str
    version_id: str | None = None


class S3Events:
    """The authorizer hook that turns object writes and deletes into function events."""

    def __init__(self, runner: Runner, audit: AuditLog | None, *, region: str) -> None:
        self.runner = runner
        self.audit = audit
        self.region = region
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._sequence = 0
        self._keep = 50_000

    # -- the hook --------------------------------------------------------------------------

    def __call__(self, outcome: Outcome) -> None:
        op = outcome.operation
        if op.service != "s3" or (op.name not in _CREATED and op.name not in _REMOVED):
            return
        if not 200 <= outcome.status < 300:
            return
        try:
            self._handle(outcome)
        except Exception:  # the client already has its answer; never turn it into a 500
            _log.exception("S3 event delivery for %s %s failed", op.name,
                           outcome.request.path)

    def _handle(self, outcome: Outcome) -> None:
        located = self._locate(outcome)
        if located is None:
            return
        bucket_name, changes = located
        found = _moto_bucket(bucket_name)
        if found is None:
            return
        owner, bucket = found
        config = getattr(bucket, "notification_configuration", None)
        functions = list(getattr(config, "cloud_function", None) or [])
        if not functions:
            return
        region = str(getattr(bucket, "region_name", "") or self.region)
        for change in changes:
            for notification in functions:
                if not _matches(notification, change):
                    continue
                self._deliver(outcome, owner, bucket, region, notification, change)

    def _locate(self, outcome: Outcome) -> tuple[str, list[_Change]] | None:
        """The bucket and the objects the request changed, with their event names."""
        op = outcome.operation
        if op.name == "DeleteObjects":
            bucket = _bucket_of(outcome, None)
            return (bucket, _deleted(outcome.response_body)) if bucket else None
        action = _WRITE_ACTIONS[op.name]
        target = next((located for check in op.checks
                       if check.action in (action, "s3:DeleteObjectVersion")
                       and (located := split_arn(check.resource)) is not None
                       and "/" in check.resource), None) or _path_target(outcome)
        if target is None:
            return None
        bucket, key = target
        headers = {k.lower(): v for k, v in outcome.response_headers}
        if op.name in _CREATED:
            return bucket, [_Change(key, _CREATED[op.name], headers.get("x-amz-version-id"))]
        marker = headers.get("x-amz-delete-marker", "").lower() == "true"
        versioned_request = outcome.request.param("versionId") is not None
        name = "ObjectRemoved:DeleteMarkerCreated" if marker and not versioned_request \
            else "ObjectRemoved:Delete"
        return bucket, [_Change(key, name, headers.get("x-amz-version-id"))]

    # -- one delivery ----------------------------------------------------------------------

    def _next_sequencer(self) -> str:
        with self._lock:
            self._sequence = max(self._sequence + 1, time.time_ns())
            return f"{self._sequence:018X}"

    def _record(self, outcome: Outcome, owner: str, bucket: Any, region: str,
                notification: Any, change: _Change) -> dict[str, Any]:
        obj: dict[str, Any] = {"key": event_key(change.key)}
        if change.event_name.startswith("ObjectCreated"):
            stored = _stored_key(bucket, change.key)
            if stored is not None:
                obj["size"] = int(getattr(stored, "size", 0) or 0)
                obj["eTag"] = str(getattr(stored, "etag", "") or "").strip('"')
        version = change.version_id
        if version and version != "null":
            obj["versionId"] = version
        obj["sequencer"] = self._next_sequencer()
        headers = {k.lower(): v for k, v in outcome.response_headers}
        request_id = headers.get("x-amz-request-id") or uuid.uuid4().hex[:16].upper()
        return {"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": _now(),
            "eventName": change.event_name,
            "userIdentity": {"principalId": _principal_id(outcome)},
            "requestParameters": {"sourceIPAddress": outcome.request.source_ip},
            "responseElements": {"x-amz-request-id": request_id,
                                 "x-amz-id-2": headers.get("x-amz-id-2")
                                 or uuid.uuid4().hex},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": str(notification.id),
                "bucket": {"name": bucket.name,
                           "ownerIdentity": {"principalId": owner_id(owner)},
                           "arn": bucket_arn(bucket.name)},
                "object": obj,
            },
        }]}

    def _deliver(self, outcome: Outcome, owner: str, bucket: Any, region: str,
                 notification: Any, change: _Change) -> None:
        target_arn = str(notification.arn)
        spec = self.runner.registry.find(target_arn)
        parsed = parse_function_arn(target_arn)
        fn_account = spec.account if spec is not None else (parsed[1] if parsed else None)
        event = self._record(outcome, owner, bucket, region, notification, change)
        delivery = Delivery(0, _now(), bucket.name, change.key, change.event_name,
                            str(notification.id), target_arn,
                            spec.arn if spec is not None else None,
                            fn_account is not None and fn_account != owner, event=event)
        with self._cv:
            delivery.id = next(self._ids)
            self._deliveries.append(delivery)
            if len(self._deliveries) > self._keep:
                del self._deliveries[: len(self._deliveries) - self._keep]
        where = (f"S3 event notification {notification.id} on {bucket_arn(bucket.name)} "
                 f"({change.event_name} {change.key!r})")
        if spec is None:
            delivery.status = "undeliverable"
            delivery.error = (f"no function {target_arn} is registered with the sandbox "
                              f"(AWS refuses such a configuration when it is put)")
            self._audit(target_arn, "NoSuchFunction", f"{where}: not delivered: no such "
                                                      f"function is registered", 404)
            self._settled()
            return
        note = "; Lambda resource policies are not emulated: delivered because the " \
               "function is registered"
        if delivery.cross_account:
            note += (f" (cross-account: AWS would also require the function's policy in "
                     f"{fn_account} to allow {S3_SERVICE} from {owner})")
        def finished(job: AsyncInvocation) -> None:
            self._finished(delivery, job)

        try:
            job = self.runner.invoke_async(spec, event, on_done=finished)
        except LambdaError as exc:
            delivery.status = "undeliverable"
            delivery.error = f"{exc.code}: {exc.message}"
            self._audit(spec.arn, exc.code, f"{where}: {exc.message}", exc.status)
            self._settled()
            return
        delivery.request_id = job.request_id
        delivery.invocation = job
        self._audit(spec.arn, "Delivered", where + note, 202)

    def _finished(self, delivery: Delivery, job: AsyncInvocation) -> None:
        delivery.attempts = len(job.attempts)
        delivery.status = job.status
        if job.result is not None:
            value = job.result.value
            delivery.result = value
        last = job.attempts[-1] if job.attempts else None
        if job.status == "failed" and last is not None:
            delivery.error = f"{last.error_type}: {last.error_message}"
        self._settled()

    def _settled(self) -> None:
        with self._cv:
            self._cv.notify_all()

    def _audit(self, function_arn: str, decision: str, deciding: str, status: int) -> None:
        if self.audit is None:
            return
        self.audit.write(AuditRecord(AuditRecord.now(), S3_SERVICE, None, "lambda",
                                     "Invoke", "lambda:InvokeFunction", function_arn, decision,
                                     deciding, status))

    # -- reading back ----------------------------------------------------------------------

    def deliveries(self, bucket: str | None = None) -> list[Delivery]:
        with self._lock:
            found = list(self._deliveries)
        return [d for d in found if bucket is None or d.bucket == bucket]

    def wait(self, timeout: float = 30.0, *, count: int | None = None) -> bool:
        """Block until every delivery so far has settled (and, with `count`, until at
        least that many exist): events are asynchronous, tests and the demo wait here."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                pending = any(not d.settled for d in self._deliveries)
                enough = count is None or len(self._deliveries) >= count
                if not pending and enough:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.5))


# -- reading moto and the request ----------------------------------------------------------


def _moto_bucket(name: str) -> tuple[str, Any] | None:
    """(owner account, moto's bucket) for a bucket name, whoever owns it."""
    from moto.s3.models import s3_backends  # noqa: PLC0415 - moto is the sandbox's, not a worker's

    where = s3_backends.bucket_accounts.get(name)
    if where is None:
        return None
    partition, account = where
    try:
        bucket = s3_backends[account][partition].buckets.get(name)
    except KeyError:
        return None
    return (account, bucket) if bucket is not None else None


def _stored_key(bucket: Any, key: str) -> Any:
    try:
        return bucket.keys.get(key)
    except Exception:
        return None


def _rules(notification: Any) -> Iterator[tuple[str, str]]:
    filters = getattr(notification, "filters", None) or {}
    s3key = filters.get("S3Key") or {}
    rules = s3key.get("FilterRule") or []
    if isinstance(rules, dict):
        rules = [rules]
    for rule in rules:
        yield str(rule.get("Name", "")).lower(), str(rule.get("Value", ""))


def _matches(notification: Any, change: _Change) -> bool:
    wanted = {str(e) for e in getattr(notification, "events", []) or []}
    name = change.event_name
    family = name.split(":", 1)[0]
    if not ({f"s3:{name}", name, f"s3:{family}:*", f"{family}:*"} & wanted):
        return False
    for rule, value in _rules(notification):
        # AWS asks for special characters percent-encoded in filter values; accept both.
        options = {value, unquote(value)}
        if rule == "prefix" and not any(change.key.startswith(v) for v in options):
            return False
        if rule == "suffix" and not any(change.key.endswith(v) for v in options):
            return False
    return True


def _principal_id(outcome: Outcome) -> str:
    """userIdentity.principalId as S3 writes it: AWS:<unique id>[:<session>]."""
    p = outcome.caller.principal
    if p.kind is PrincipalKind.ANONYMOUS:
        return "Anonymous"
    if p.kind is PrincipalKind.SERVICE:
        return p.arn
    uid = p.unique_id or p.account or p.arn
    if p.kind is PrincipalKind.ASSUMED_ROLE and p.session:
        return f"AWS:{uid}:{p.session}"
    return f"AWS:{uid}"


def _path_target(outcome: Outcome) -> tuple[str, str] | None:
    """bucket/key from a path-style URL, when the mapper's checks did not name them."""
    path = unquote(urlsplit(outcome.request.path).path).lstrip("/")
    if "/" not in path:
        return None
    bucket, key = path.split("/", 1)
    return (bucket, key) if bucket and key else None


def _bucket_of(outcome: Outcome, default: str | None) -> str | None:
    for check in outcome.operation.checks:
        located = split_arn(check.resource)
        if located is not None:
            return located[0] or default
    path = unquote(outcome.request.path).lstrip("/")
    return path.split("/", 1)[0] or default


def _deleted(body: bytes) -> list[_Change]:
    """The keys a DeleteObjects response reports deleted (errors deliver nothing)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    out = []
    for node in root:
        if node.tag.rsplit("}", 1)[-1] != "Deleted":
            continue
        parts = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in node}
        if "Key" not in parts:
            continue
        marker = parts.get("DeleteMarker", "").lower() == "true"
        version = parts.get("DeleteMarkerVersionId") if marker else parts.get("VersionId")
        name = "ObjectRemoved:DeleteMarkerCreated" if marker and not parts.get("VersionId") \
            else "ObjectRemoved:Delete"
        out.append(_Change(parts["Key"], name, version or None))
    return out

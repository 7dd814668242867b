"""Reading, merging into and restoring the resource policies other teams share with us.

A bucket, table, stream or key policy holds other teams' statements too, so crossgrant
never writes a whole document it computed from scratch: it reads the policy, merges its own
statements by Sid (`world.merge`), writes, and reads back. Two writers can interleave:

- DynamoDB's PutResourcePolicy takes `ExpectedRevisionId`, so a write based on a stale
  read is refused and simply redone.
- S3 and KMS have no conditional write. A concurrent writer that read the policy before
  our write can overwrite it, but only within its own read-to-write window. So after
  writing we wait `settle` seconds and read again; if our statements are gone we merge
  again. Our own read-to-write window is kept under half of `settle` (a slower round is
  restarted from a fresh read), so the same argument holds for the other writer's
  statements when it runs this code too.

Equality of statements is semantic (`canonical`): AWS may hand a policy back with a
single-element list as a string, or lists in another order, and neither is a change.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.clients import (
    AccountSession,
    AwsError,
    answer,
    error_code,
    error_message,
)
from crossgrant.errors import CrossgrantError
from crossgrant.iam.facts import default_key_policy
from crossgrant.render.artifacts import ResourceKind
from crossgrant.world.merge import merge, strip

Document = dict[str, Any]
Owns = Callable[[object], bool]

_LIST_KEYS = frozenset({"Action", "NotAction", "Resource", "NotResource"})


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical(value: Any) -> Any:
    """A statement or document in a form where AWS's rewrites compare equal."""
    if isinstance(value, Mapping) and "Statement" in value:
        out = {k: v for k, v in value.items() if k != "Statement"}
        out["Statement"] = [canonical(s) for s in _as_list(value["Statement"])]
        return out
    if not isinstance(value, Mapping):
        return value
    st: dict[str, Any] = {}
    for key, item in value.items():
        if key in _LIST_KEYS:
            st[key] = sorted(_scalar(v) for v in _as_list(item))
        elif key in ("Principal", "NotPrincipal") and isinstance(item, Mapping):
            st[key] = {k: sorted(_scalar(v) for v in _as_list(p)) for k, p in item.items()}
        elif key == "Condition" and isinstance(item, Mapping):
            st[key] = {op: {k: sorted(_scalar(v) for v in _as_list(vals))
                            for k, vals in (keys.items() if isinstance(keys, Mapping)
                                            else ())}
                       for op, keys in item.items()}
        else:
            st[key] = item
    return st


def statements(doc: Mapping[str, Any] | None) -> list[Any]:
    if doc is None:
        return []
    return _as_list(doc.get("Statement", []))


def by_sid(doc: Mapping[str, Any] | None, owns: Owns) -> dict[str, Any]:
    """The statements of `doc` that `owns` recognises, by Sid."""
    return {s["Sid"]: s for s in statements(doc) if isinstance(s, Mapping) and owns(s.get("Sid"))}


def compact(doc: Mapping[str, Any]) -> str:
    """The text crossgrant writes: compact, because resource policies have a size cap."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class LivePolicy:
    """One resource policy as read: its exact text (None: there is none)."""

    kind: ResourceKind
    resource: str  # as the artifacts name it: bucket, table ARN, stream ARN pattern, key ARN
    address: str  # what the API is called with: bucket, table ARN, stream ARN, key ARN
    exists: bool  # does the resource itself exist
    text: str | None = None
    revision: str | None = None  # DynamoDB's RevisionId
    problem: str | None = None  # why it could not be read

    @property
    def document(self) -> Document | None:
        if self.text is None:
            return None
        try:
            doc = json.loads(self.text)
        except ValueError as exc:
            raise CrossgrantError(f"{self.label}: the stored policy is not JSON: {exc}") \
                from None
        if not isinstance(doc, dict):
            raise CrossgrantError(f"{self.label}: the stored policy is not a JSON object")
        return doc

    @property
    def label(self) -> str:
        return f"{self.kind.value} policy of {self.address}"


class Conflict(Exception):
    """A conditional write lost to a concurrent one: read again and redo."""


class PolicyStore:
    """The three calls on one resource policy; `conditional` when writes carry a revision."""

    conditional = False

    def __init__(self, session: AccountSession, kind: ResourceKind, resource: str,
                 region: str) -> None:
        self.session = session
        self.kind = kind
        self.resource = resource
        self.region = region

    def read(self) -> LivePolicy:
        raise NotImplementedError

    def put(self, text: str, current: LivePolicy) -> None:
        raise NotImplementedError

    def delete(self, current: LivePolicy) -> None:
        raise NotImplementedError

    def _live(self, address: str, **kw: Any) -> LivePolicy:
        return LivePolicy(self.kind, self.resource, address, **kw)

    def _read(self, address: str, call: Callable[[], Mapping[str, Any]], *, missing: str,
              empty: str | None = None) -> LivePolicy:
        """The policy `call` returns ("Policy", and DynamoDB's "RevisionId"), read at
        `address`; AWS's error code `missing` says the resource does not exist, `empty`
        that it has no policy."""
        try:
            got = call()
        except ClientError as exc:
            code = error_code(exc)
            if code == empty:
                return self._live(address, exists=True)
            if code == missing:
                return self._live(address, exists=False,
                                  problem=f"{self.kind.value} {address} does not exist")
            return self._live(address, exists=True,
                              problem=f"cannot read the {self.kind.value} policy: "
                                      f"{answer(exc)}")
        return self._live(address, exists=True, text=got["Policy"],
                          revision=got.get("RevisionId"))


class BucketPolicyStore(PolicyStore):
    def read(self) -> LivePolicy:
        s3 = self.session.client("s3", self.region)
        return self._read(self.resource, lambda: s3.get_bucket_policy(Bucket=self.resource),
                          missing="NoSuchBucket", empty="NoSuchBucketPolicy")

    def put(self, text: str, current: LivePolicy) -> None:
        self.session.client("s3", self.region).put_bucket_policy(Bucket=self.resource,
                                                                 Policy=text)

    def delete(self, current: LivePolicy) -> None:
        self.session.client("s3", self.region).delete_bucket_policy(Bucket=self.resource)


class DynamoPolicyStore(PolicyStore):
    """A table's policy, or its stream's: the stream ARN is looked up on each read, since
    the artifacts name every stream of the table (`table/T/stream/*`)."""

    conditional = True

    def _address(self) -> tuple[str | None, str | None]:
        if self.kind is ResourceKind.TABLE:
            return self.resource, None
        table_arn = self.resource.split("/stream/")[0]
        ddb = self.session.client("dynamodb", self.region)
        try:
            table = ddb.describe_table(TableName=table_arn)["Table"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None, f"table {table_arn} does not exist"
            return None, f"cannot describe table {table_arn}: {answer(exc)}"
        stream = table.get("LatestStreamArn")
        if not stream or not (table.get("StreamSpecification") or {}).get("StreamEnabled",
                                                                          True):
            return None, f"table {table_arn} has no stream: enable DynamoDB Streams first"
        return str(stream), None

    def read(self) -> LivePolicy:
        address, problem = self._address()
        if address is None:
            return self._live(self.resource, exists=False, problem=problem)
        ddb = self.session.client("dynamodb", self.region)
        return self._read(address, lambda: ddb.get_resource_policy(ResourceArn=address),
                          missing="ResourceNotFoundException",
                          empty="PolicyNotFoundException")

    def put(self, text: str, current: LivePolicy) -> None:
        ddb = self.session.client("dynamodb", self.region)
        try:
            ddb.put_resource_policy(ResourceArn=current.address, Policy=text,
                                    ExpectedRevisionId=current.revision or "NO_POLICY")
        except ClientError as exc:
            if error_code(exc) in ("PolicyNotFoundException", "ConditionalCheckFailedException"):
                raise Conflict(error_message(exc)) from None
            raise

    def delete(self, current: LivePolicy) -> None:
        ddb = self.session.client("dynamodb", self.region)
        kwargs = {"ExpectedRevisionId": current.revision} if current.revision else {}
        try:
            ddb.delete_resource_policy(ResourceArn=current.address, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "PolicyNotFoundException":
                raise Conflict(error_message(exc)) from None
            raise


class KeyPolicyStore(PolicyStore):
    def read(self) -> LivePolicy:
        kms = self.session.client("kms", self.region)
        return self._read(self.resource, lambda: kms.get_key_policy(
            KeyId=self.resource, PolicyName="default"), missing="NotFoundException")

    def put(self, text: str, current: LivePolicy) -> None:
        self.session.client("kms", self.region).put_key_policy(
            KeyId=self.resource, PolicyName="default", Policy=text)

    def delete(self, current: LivePolicy) -> None:
        account = self.resource.split(":")[4]
        self.put(compact(default_key_policy(account)), current)


def store_for(session: AccountSession, kind: ResourceKind, resource: str,
              region: str) -> PolicyStore:
    if kind is ResourceKind.BUCKET:
        return BucketPolicyStore(session, kind, resource, region)
    if kind is ResourceKind.KEY:
        return KeyPolicyStore(session, kind, resource, region)
    return DynamoPolicyStore(session, kind, resource, region)


def is_invalid_principal(exc: BaseException) -> bool:
    """AWS refuses a policy naming a principal it cannot see yet (IAM propagation)."""
    return isinstance(exc, ClientError) and "principal" in error_message(exc).lower() and \
        error_code(exc) in ("MalformedPolicy", "MalformedPolicyDocument",
                            "MalformedPolicyDocumentException", "ValidationException",
                            "InvalidParameterValueException", "InvalidRequest")


@dataclass(frozen=True, slots=True)
class WriteResult:
    first: LivePolicy  # as read before crossgrant's first write in this call
    final: LivePolicy  # as read back at the end
    writes: int  # PUT/DELETE calls made (0: it already was as wanted)


@dataclass(frozen=True, slots=True)
class Timing:
    settle: float = 1.0  # seconds between a write and the read that checks it stayed
    timeout: float = 120.0  # overall, including waiting out IAM propagation
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def _ours_ok(doc: Mapping[str, Any] | None, ours: Sequence[Mapping[str, Any]],
             owns: Owns) -> bool:
    live = by_sid(doc, owns)
    want = {s["Sid"]: s for s in ours}
    return live.keys() == want.keys() and all(
        canonical(live[sid]) == canonical(st) for sid, st in want.items())


def _converge(store: PolicyStore, want: Callable[[LivePolicy], str | None],
              done: Callable[[LivePolicy], bool], timing: Timing,
              before_write: Callable[[LivePolicy], None] | None) -> WriteResult:
    """Read, compute the wanted text (None: delete), write, read back: until `done` holds
    on a read taken `settle` seconds after our last write."""
    deadline = timing.clock() + timing.timeout
    first: LivePolicy | None = None
    writes = 0
    delay = 0.25
    rounds = 0
    while True:
        if rounds and store.conditional:
            # A conflict, or a read that does not show our write yet (DynamoDB applies a
            # policy asynchronously): back off instead of hammering the API.
            timing.sleep(min(2.0, 0.05 * 2 ** (rounds - 1)) * (0.5 + random.random()))
        rounds += 1
        started = timing.clock()
        current = store.read()
        if current.problem is not None:
            raise AwsError(f"{current.label}: {current.problem}")
        if first is None:
            first = current
        if done(current):
            return WriteResult(first, current, writes)
        if timing.clock() > deadline:
            raise AwsError(f"{current.label}: gave up after {timing.timeout:.0f} s: the "
                           f"policy kept changing under concurrent writers")
        text = want(current)
        if not store.conditional and timing.clock() - started > timing.settle / 2:
            continue  # too slow a round: another writer could not see our write in time
        if before_write is not None:
            before_write(current)
        try:
            if text is None:
                if current.text is not None:
                    store.delete(current)
            else:
                store.put(text, current)
        except Conflict:
            continue
        except ClientError as exc:
            if is_invalid_principal(exc) and timing.clock() + delay < deadline:
                timing.sleep(delay)  # IAM has not propagated the principal yet
                delay = min(delay * 2, 8.0)
                continue
            raise AwsError(f"{current.label}: {answer(exc)}", code=error_code(exc)) from None
        writes += 1
        if not store.conditional:
            timing.sleep(timing.settle)


def merge_into(store: PolicyStore, ours: Sequence[Mapping[str, Any]], owns: Owns,
               timing: Timing, before_write: Callable[[LivePolicy], None] | None = None
               ) -> WriteResult:
    """Make the policy hold exactly `ours` among the statements `owns` recognises, keeping
    every foreign statement as it is."""

    def want(current: LivePolicy) -> str:
        return compact(merge(current.document, ours, owns, current.label))

    return _converge(store, want, lambda p: _ours_ok(p.document, ours, owns), timing,
                     before_write)


def restore(store: PolicyStore, owns: Owns, original_text: str | None, recorded: bool,
            timing: Timing, originals: Mapping[str, Any] | None = None) -> WriteResult:
    """Take crossgrant's statements (those `owns` recognises) out again, and give the ones
    it adopted (`originals`: Sid -> the statement as it was) back as they were.

    When the foreign statements are still those of the policy as it was before crossgrant
    first touched it (`original_text`, from the journal), that text is written back byte
    for byte (or the policy deleted, if there was none); when someone changed them since,
    their current version is kept, crossgrant's statements go and the adopted ones are
    put back.
    """
    given_back = dict(originals or {})

    def want(current: LivePolicy) -> str | None:
        foreign = strip(current.document, owns, current.label)
        if recorded:
            orig_doc = json.loads(original_text) if original_text is not None else None
            if canonical(strip(orig_doc, owns, current.label)) == canonical(foreign):
                return original_text
        back = [given_back[sid] for sid in by_sid(current.document, owns) if sid in given_back]
        if foreign is None and not back:
            return None
        doc = foreign or {"Version": "2012-10-17", "Statement": []}
        return compact({**doc, "Statement": statements(doc) + back})

    def done(current: LivePolicy) -> bool:
        return all(sid in given_back and canonical(st) == canonical(given_back[sid])
                   for sid, st in by_sid(current.document, owns).items())

    return _converge(store, want, done, timing, None)


__all__ = ["BucketPolicyStore", "Conflict", "DynamoPolicyStore", "KeyPolicyStore",
           "LivePolicy", "PolicyStore", "Timing", "WriteResult", "by_sid", "canonical",
           "compact", "merge_into", "restore", "statements", "store_for"]

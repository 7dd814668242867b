"""The sandbox's Lambda: functions run in local worker processes, as their execution role.

moto cannot run function code without Docker, and a test that calls the handler in-process
proves nothing about the role: it runs with whatever credentials the test holds. Here the
runner does what the Lambda service does. It assumes the execution role over HTTP against
the sandbox, signing as the service principal `lambda.amazonaws.com`, so the role's trust
policy is really evaluated; it hands the role's session to the handler through the
standard environment variables, so every AWS call the handler makes is authorized as that
role; and it enforces the timeout by killing the worker, as Lambda ends an execution
environment.

Workers are `spawn`ed (never forked from a threaded server) and reused while they keep
running the same function with the same credentials: a warm start keeps module state, as
Lambda's does. A different function, new credentials or a re-registration is a cold start:
the previous function's modules are dropped and its code directory leaves `sys.path`.

This module is what every worker imports, so it keeps to the standard library at import
time (boto3 is imported only by the credential source, in the sandbox process).
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import importlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import queue
import re
import resource
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from crossgrant.errors import CrossgrantError

DEFAULT_WORKERS = 4
DEFAULT_TIMEOUT = 30
DEFAULT_MEMORY = 128
MAX_TIMEOUT = 900
MIN_MEMORY, MAX_MEMORY = 128, 10240
RETRY_DELAYS = (1.0, 2.0)  # Lambda waits 1 and 2 minutes; the sandbox, seconds
CREDENTIAL_MARGIN = timedelta(minutes=5)
LOG_TAIL = 4096  # LogResult carries the last 4 KB, as Lambda's LogType=Tail
MAX_PAYLOAD = 6 * 1024 * 1024
VERSION = "$LATEST"
LAMBDA_SERVICE = "lambda.amazonaws.com"

_log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HANDLER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_ROLE_RE = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_ACCOUNT_RE = re.compile(r"\d{12}")
_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ENV_KEY_RE = re.compile(r"[a-zA-Z]\w+")
_FUNCTION_ARN_RE = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[A-Za-z0-9$_-]+))?")

# Lambda refuses these in a function's environment; AWS_ENDPOINT_URL and AWS_CA_BUNDLE are
# the sandbox's own: a function that overrode them could not reach the sandbox.
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE"})
# What a worker keeps from the sandbox's own environment; everything else (the user's
# AWS_PROFILE, AWS_* credentials, ...) must not leak into a function.
_INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME", "PYTHONHASHSEED",
                  "SYSTEMROOT")


class LambdaError(CrossgrantError):
    """An error the Lambda API itself returns (not a function error): the invocation
    never ran the handler. `code` and `status` are AWS's."""

    def __init__(self, code: str, message: str, status: int = 400,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.reason = reason  # the sandbox's explanation, e.g. the STS denial

    def __json__(self) -> dict[str, Any]:
        body: dict[str, Any] = {"__type": self.code, "message": self.message,
                                "Type": "User" if self.status < 500 else "Service"}
        if self.reason:
            body["Reason"] = self.reason
        return body


# -- what a function is ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A registered function: what CreateFunction would be given, minus the zip.

    `account` defaults to the execution role's account (Lambda cannot pass a role of
    another account); `region` to the sandbox's, filled in when the runner registers it.
    """

    name: str
    handler: str  # "package.module.function", importable from sys.path or code_dir
    role_arn: str
    account: str = ""
    region: str = ""
    code_dir: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    timeout: int = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name):
            raise LambdaError("InvalidParameterValueException",
                              f"function name {self.name!r}: 1-64 letters, digits, '-' or "
                              f"'_'")
        if not _HANDLER_RE.fullmatch(self.handler):
            raise LambdaError("InvalidParameterValueException",
                              f"handler {self.handler!r}: expected module.function "
                              f"(e.g. app.handler or package.module.handler)")
        m = _ROLE_RE.fullmatch(self.role_arn)
        if m is None:
            raise LambdaError("ValidationException",
                              f"1 validation error detected: Value '{self.role_arn}' at "
                              f"'role' failed to satisfy constraint: Member must satisfy "
                              f"regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::"
                              f"\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")
        if not self.account:
            object.__setattr__(self, "account", m.group(1))
        if not _ACCOUNT_RE.fullmatch(self.account):
            raise LambdaError("InvalidParameterValueException",
                              f"account {self.account!r} is not a 12-digit account id")
        if self.account != m.group(1):
            raise LambdaError("InvalidParameterValueException",
                              f"the execution role {self.role_arn} is in account "
                              f"{m.group(1)}, the function in {self.account}: Lambda can "
                              f"only use a role of the function's own account")
        if self.region and not _REGION_RE.fullmatch(self.region):
            raise LambdaError("InvalidParameterValueException",
                              f"region {self.region!r} is not a region name")
        if not 1 <= self.timeout <= MAX_TIMEOUT:
            raise LambdaError("InvalidParameterValueException",
                              f"timeout {self.timeout}: between 1 and {MAX_TIMEOUT} seconds")
        if not MIN_MEMORY <= self.memory <= MAX_MEMORY:
            raise LambdaError("InvalidParameterValueException",
                              f"memory {self.memory}: between {MIN_MEMORY} and {MAX_MEMORY} "
                              f"MB")
        env = tuple((str(k), str(v)) for k, v in self.env)
        object.__setattr__(self, "env", env)
        bad = [k for k, _ in env if not _ENV_KEY_RE.fullmatch(k)]
        if bad:
            raise LambdaError("InvalidParameterValueException",
                              f"environment variable names must match [a-zA-Z]([a-zA-Z0-9_])+:"
                              f" {', '.join(bad)}")
        reserved = sorted({k for k, _ in env if k in RESERVED_ENV})
        if reserved:
            raise LambdaError(
                "InvalidParameterValueException",
                "Lambda was unable to configure your environment variables because the "
                "environment variables you have provided contains reserved keys that are "
                "currently not supported for modification. Reserved keys used in this "
                f"request: {','.join(reserved)}")

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    def __json__(self) -> dict[str, Any]:
        """The fields with the ARN after the name, and env as an object."""
        written = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"name": self.name, "arn": self.arn} | written | {"env": dict(self.env)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FunctionSpec:
        """Read what `POST /_crossgrant/functions` and the CLI send; strict about keys so
        a typo (`timout`) is an error rather than a silent default."""
        if not isinstance(data, Mapping):
            raise LambdaError("InvalidRequestContentException",
                              "a function is a JSON object")
        allowed = {"name", "handler", "role_arn", "role", "account", "region", "code_dir",
                   "code", "env", "timeout", "memory", "arn"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise LambdaError("InvalidParameterValueException",
                              f"unknown function field(s): {', '.join(unknown)}")
        missing = [k for k in ("name", "handler") if not data.get(k)]
        if not (data.get("role_arn") or data.get("role")):
            missing.append("role_arn")
        if missing:
            raise LambdaError("InvalidParameterValueException",
                              f"missing function field(s): {', '.join(missing)}")
        raw_env = data.get("env") or {}
        if isinstance(raw_env, Mapping):
            env = tuple((str(k), str(v)) for k, v in raw_env.items())
        elif isinstance(raw_env, list) and all(isinstance(p, list | tuple) and len(p) == 2
                                               for p in raw_env):
            env = tuple((str(k), str(v)) for k, v in raw_env)
        else:
            raise LambdaError("InvalidParameterValueException",
                              "env: an object of name: value pairs")
        try:
            timeout = int(data.get("timeout", DEFAULT_TIMEOUT))
            memory = int(data.get("memory", DEFAULT_MEMORY))
        except (TypeError, ValueError):
            raise LambdaError("InvalidParameterValueException",
                              "timeout and memory are whole numbers") from None
        code = data.get("code_dir") or data.get("code")
        return cls(name=str(data["name"]), handler=str(data["handler"]),
                   role_arn=str(data.get("role_arn") or data.get("role")),
                   account=str(data.get("account") or ""), region=str(data.get("region") or ""),
                   code_dir=str(code) if code else None, env=env, timeout=timeout,
                   memory=memory)


def parse_function_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a function ARN, qualifier dropped; None if not one."""
    m = _FUNCTION_ARN_RE.fullmatch(arn)
    if m is None:
        return None
    return m.group("region"), m.group("account"), m.group("name")


class FunctionRegistry:
    """Functions by ARN, as Lambda keys them: the same name may exist in two accounts."""

    def __init__(self, region: str, default_account: str | None = None) -> None:
        self.region = region
        self.default_account = default_account  # names the account in "not found" errors
        self._lock = threading.Lock()
        self._functions: dict[str, FunctionSpec] = {}
        self._revisions: dict[str, int] = {}
        self._counter = itertools.count(1)

    def put(self, spec: FunctionSpec) -> FunctionSpec:
        """Add or replace a function; replacing makes its next invocation a cold start."""
        if not spec.region:
            spec = replace(spec, region=self.region)
        if spec.code_dir is not None:
            code = Path(spec.code_dir).expanduser()
            if not code.is_dir():
                raise LambdaError("InvalidParameterValueException",
                                  f"code directory {spec.code_dir} does not exist")
            spec = replace(spec, code_dir=str(code.resolve()))
        with self._lock:
            self._functions[spec.arn] = spec
            self._revisions[spec.arn] = next(self._counter)
        return spec

    def remove(self, name_or_arn: str) -> FunctionSpec:
        spec = self.get(name_or_arn)
        with self._lock:
            self._functions.pop(spec.arn, None)
            self._revisions.pop(spec.arn, None)
        return spec

    def revision(self, spec: FunctionSpec) -> int:
        with self._lock:
            return self._revisions.get(spec.arn, 0)

    def find(self, name_or_arn: str) -> FunctionSpec | None:
        """By ARN (any qualifier), else by name when exactly one account has that name."""
        parsed = parse_function_arn(name_or_arn)
        with self._lock:
            if parsed is not None:
                region, account, name = parsed
                return self._functions.get(
                    f"arn:aws:lambda:{region}:{account}:function:{name}")
            hits = [s for s in self._functions.values() if s.name == name_or_arn]
        return hits[0] if len(hits) == 1 else None

    def get(self, name_or_arn: str) -> FunctionSpec:
        spec = self.find(name_or_arn)
        if spec is not None:
            return spec
        with self._lock:
            same_name = [s.arn for s in self._functions.values() if s.name == name_or_arn]
        if len(same_name) > 1:
            raise LambdaError("InvalidParameterValueException",
                              f"{name_or_arn!r} is registered in several accounts; use one "
                              f"of its ARNs: {', '.join(sorted(same_name))}")
        arn = name_or_arn if name_or_arn.startswith("arn:") else \
            f"arn:aws:lambda:{self.region}:{self.default_account or '?'}:function:{name_or_arn}"
        raise LambdaError("ResourceNotFoundException", f"Function not found: {arn}", 404)

    def all(self) -> list[FunctionSpec]:
        with self._lock:
            return sorted(self._functions.values(), key=lambda s: (s.account, s.name))


# -- the execution role's session --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def __repr__(self) -> str:  # never the secret or the token
        return f"RoleCredentials({self.access_key_id}, expires={self.expiration.isoformat()})"


class CredentialSource(Protocol):
    def __call__(self, spec: FunctionSpec) -> RoleCredentials: ...


class AssumeRoleAsLambda:
    """sts:AssumeRole on the execution role, signed as lambda.amazonaws.com.

    It goes over HTTP through the sandbox's authorizer like any other request, so a role
    whose trust policy does not name the Lambda service fails exactly as it would in AWS,
    and the call is in the audit log.
    """

    def __init__(self, endpoint: Callable[[], str], key: tuple[str, str], region: str,
                 ca_bundle: str | None = None) -> None:
        self._endpoint = endpoint
        self._key = key
        self._region = region
        self._ca_bundle = ca_bundle
        self._client: Any = None
        self._lock = threading.Lock()

    def _sts(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3  # noqa: PLC0415 - the sandbox process only, never a worker
                from botocore.config import Config  # noqa: PLC0415

                self._client = boto3.Session(
                    aws_access_key_id=self._key[0], aws_secret_access_key=self._key[1],
                    region_name=self._region).client(
                    "sts", endpoint_url=self._endpoint(), verify=self._ca_bundle,
                    config=Config(connect_timeout=5, read_timeout=30,
                                  retries={"max_attempts": 2, "mode": "standard"}))
            return self._client

    def __call__(self, spec: FunctionSpec) -> RoleCredentials:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        session_name = spec.name if len(spec.name) >= 2 else f"{spec.name}_"
        try:
            resp = self._sts().assume_role(RoleArn=spec.role_arn, RoleSessionName=session_name)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise LambdaError(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.", 400,
                reason=f"sts:AssumeRole on {spec.role_arn} as {LAMBDA_SERVICE}: "
                       f"{err.get('Code', '?')}: {err.get('Message', '')}") from None
        except BotoCoreError as exc:
            raise LambdaError("ServiceException",
                              f"the sandbox's STS did not answer: {exc}", 500) from None
        c = resp["Credentials"]
        expiration = c["Expiration"]
        if not isinstance(expiration, datetime):
            expiration = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return RoleCredentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"],
                               expiration)


class _CredentialCache:
    """One session per function, reused until five minutes before it expires (as Lambda
    keeps an environment's credentials), so 1,000 invocations make one STS call."""

    def __init__(self, source: CredentialSource) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._cached: dict[tuple[str, int], RoleCredentials] = {}
        self._locks: dict[str, threading.Lock] = {}
        self.fetches = 0

    def get(self, spec: FunctionSpec, revision: int) -> RoleCredentials:
        key = (spec.arn, revision)
        with self._lock:
            lock = self._locks.setdefault(spec.arn, threading.Lock())
        with lock:
            hit = self._cached.get(key)
            if hit is not None and datetime.now(UTC) < hit.expiration - CREDENTIAL_MARGIN:
                return hit
            creds = self._source(spec)
            with self._lock:
                self.fetches += 1
                for old in [k for k in self._cached if k[0] == spec.arn]:
                    del self._cached[old]
                self._cached[key] = creds
            return creds

    def forget(self, arn: str) -> None:
        with self._lock:
            for old in [k for k in self._cached if k[0] == arn]:
                del self._cached[old]


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """One run of a handler, shaped like Lambda's Invoke response."""

    request_id: str
    function_arn: str
    payload: bytes  # JSON text, as Lambda returns it
    function_error: str | None  # "Unhandled" when the handler failed, else None
    logs: str  # START ... REPORT, with the handler's stdout and stderr between
    duration_ms: float
    init_ms: float | None = None
    max_memory_mb: int = 0
    status_code: int = 200

    @property
    def value(self) -> Any:
        """The payload as a Python value."""
        return json.loads(self.payload) if self.payload else None

    @property
    def error(self) -> dict[str, Any] | None:
        """errorType/errorMessage/stackTrace when the function failed."""
        if self.function_error is None:
            return None
        v = self.value
        return v if isinstance(v, dict) else {"errorMessage": str(v)}

    @property
    def log_result(self) -> str:
        """Lambda's LogResult: base64 of the last 4 KB of the log."""
        return base64.b64encode(self.logs.encode("utf-8")[-LOG_TAIL:]).decode("ascii")

    def __json__(self) -> dict[str, Any]:
        """Lambda's Invoke response."""
        out: dict[str, Any] = {"StatusCode": self.status_code, "ExecutedVersion": VERSION,
                               "RequestId": self.request_id}
        if self.function_error:
            out["FunctionError"] = self.function_error
        out["Payload"] = self.value
        out["LogResult"] = self.log_result
        return out


@dataclass(frozen=True, slots=True)
class Attempt:
    time: str
    ok: bool
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float = 0.0  # to 0.01 ms, as reported

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_ms", round(self.duration_ms, 2))


@dataclass(slots=True, eq=False)
class AsyncInvocation:
    """An `Event` invocation: queued, run, and retried twice on error, as Lambda does."""

    request_id: str
    function_arn: str
    payload: bytes
    max_attempts: int = 3
    status: str = "queued"  # queued, running, retrying, succeeded, failed
    attempts: list[Attempt] = field(default_factory=list)
    result: InvocationResult | None = None  # the last run's, when the handler ran
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    callbacks: list[Callable[[AsyncInvocation], None]] = field(default_factory=list,
                                                               repr=False)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def __json__(self) -> dict[str, Any]:
        out: dict[str, Any] = {"RequestId": self.request_id, "FunctionArn": self.function_arn,
                               "Status": self.status, "Attempts": self.attempts}
        if self.result is not None and self.status in ("succeeded", "failed"):
            out["Payload"] = self.result.value
        return out


# -- the worker process ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Task:
    request_id: str
    handler: str
    code_dir: str | None
    env: dict[str, str]
    payload: bytes
    deadline_ms: int  # epoch milliseconds
    cold: bool
    context: dict[str, str]

    def __repr__(self) -> str:  # the environment holds the role's secret and token
        return f"_Task({self.request_id}, {self.handler}, cold={self.cold})"


class LambdaContext:
    """The handler's `context`, with the attributes and types of Lambda's Python runtime
    (whose memory_limit_in_mb is the environment variable's string)."""

    def __init__(self, request_id: str, deadline_ms: int, values: Mapping[str, str]) -> None:
        self.aws_request_id = request_id
        self.function_name = values["function_name"]
        self.function_version = values["function_version"]
        self.invoked_function_arn = values["invoked_function_arn"]
        self.memory_limit_in_mb = values["memory_limit_in_mb"]
        self.log_group_name = values["log_group_name"]
        self.log_stream_name = values["log_stream_name"]
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: str) -> None:
        sys.stdout.write(msg)

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"function_name={self.function_name},"
                f"function_version={self.function_version}])")


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _HandlerFault(Exception):
    """The runtime's own errors (import, missing handler), with Lambda's errorType."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


@dataclass(slots=True)
class _WorkerState:
    code_dir: str | None = None
    module: str | None = None
    fn: Callable[..., Any] | None = None


def _load_handler(handler: str) -> Callable[..., Any]:
    modname, fname = handler.rsplit(".", 1)
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _HandlerFault("Runtime.BuiltInModuleConflict",
                            f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        raise _HandlerFault("Runtime.ImportModuleError",
                            f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        raise _HandlerFault("Runtime.UserCodeSyntaxError",
                            f"Syntax error in module '{modname}': {exc}",
                            [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
                            ) from None
    fn = getattr(module, fname, None)
    if fn is None or not callable(fn):
        raise _HandlerFault("Runtime.HandlerNotFound",
                            f"Handler '{fname}' missing on module '{modname}'")
    return fn  # type: ignore[no-any-return]


def _cold_reset(state: _WorkerState, task: _Task) -> None:
    """A new execution environment: forget the previous function's code and clients."""
    old = state.code_dir
    if old is not None:
        prefix = old.rstrip(os.sep) + os.sep
        for name, mod in list(sys.modules.items()):
            path = getattr(mod, "__file__", None) or ""
            if path.startswith(prefix):
                del sys.modules[name]
        with contextlib.suppress(ValueError):
            sys.path.remove(old)
    if state.module is not None:
        sys.modules.pop(state.module, None)
    if task.code_dir is not None:
        sys.path.insert(0, task.code_dir)
    importlib.invalidate_caches()
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None  # type: ignore[attr-defined]
    state.code_dir = task.code_dir
    state.module = task.handler.rsplit(".", 1)[0]
    state.fn = None


def _error_body(request_id: str, error_type: str, message: str,
                trace: list[str]) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": trace}


def _run_task(task: _Task, state: _WorkerState, out_fd: int,
              request_filter: _RequestIdFilter) -> dict[str, Any]:
    os.ftruncate(out_fd, 0)
    os.lseek(out_fd, 0, os.SEEK_SET)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    reply: dict[str, Any] = {"ok": False, "payload": None, "init_ms": None, "reset": False}
    try:
        os.environ.clear()
        os.environ.update(task.env)
        time.tzset()
        request_filter.request_id = task.request_id
        if task.cold:
            _cold_reset(state, task)
        if state.fn is None:
            started = time.perf_counter()
            try:
                state.fn = _load_handler(task.handler)
            finally:
                reply["init_ms"] = (time.perf_counter() - started) * 1000
        context = LambdaContext(task.request_id, task.deadline_ms, task.context)
        event = json.loads(task.payload) if task.payload else None
        result = state.fn(event, context)
        try:
            reply["payload"] = json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise _HandlerFault("Runtime.MarshalError",
                                f"Unable to marshal response: {exc}") from None
        reply["ok"] = True
    except _HandlerFault as fault:
        print(f"[ERROR] {fault.error_type}: {fault.message}", file=sys.stderr)
        reply["payload"] = json.dumps(_error_body(task.request_id, fault.error_type,
                                                  fault.message, fault.trace))
    except SystemExit as exc:
        # The runtime process itself would have exited: the next run is a cold start.
        state.fn = None
        reply["reset"] = True
        message = (f"RequestId: {task.request_id} Error: Runtime exited with error: exit "
                   f"status {exc.code if isinstance(exc.code, int) else 1}")
        reply["payload"] = json.dumps({"errorType": "Runtime.ExitError",
                                       "errorMessage": message})
    except BaseException as exc:  # a handler's error is a result, not a crash
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this runner's frame
        trace = traceback.format_list(frames)
        print(f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n"
              f"{''.join(trace)}", file=sys.stderr, end="")
        reply["payload"] = json.dumps(_error_body(task.request_id, type(exc).__name__,
                                                  str(exc), trace))
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        request_filter.request_id = ""
    reply["max_rss_mb"] = math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return reply


def _worker_main(conn: Connection, out_path: str) -> None:
    """A worker: import nothing heavy, say ready, then run tasks until told to stop."""
    out_fd = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # Lambda's Python runtime logs through the root logger with this format.
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    state = _WorkerState()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        reply = _run_task(task, state, out_fd, request_filter)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


# -- the pool ----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Worker:
    index: int
    process: Any  # multiprocessing.context.SpawnProcess
    conn: Connection
    out_path: str
    env_key: tuple[str, int, str] | None = None
    log_stream: str | None = None


_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_not_inherited() -> Iterator[None]:
    """Spawn re-imports the parent's __main__ in every child; for `python -m
    crossgrant.sandbox.server` that is moto and the server (~1.5 s and ~55 MB per worker),
    under pytest it is pytest. The worker's code lives in this module, so the child needs
    none of it: while the process starts, __main__ is a bare module with neither a spec
    nor a file, which tells multiprocessing there is nothing to re-import."""
    with _SPAWN_LOCK:
        real = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Runner:
    """Runs registered functions in a pool of spawned worker processes."""

    def __init__(self, *, endpoint: Callable[[], str], credentials: CredentialSource,
                 region: str, workers: int = DEFAULT_WORKERS, log_dir: Path | None = None,
                 ca_bundle: str | None = None, retry_delays: Iterable[float] = RETRY_DELAYS,
                 queue_wait: float = 300.0, default_account: str | None = None) -> None:
        if workers < 1:
            raise LambdaError("InvalidParameterValueException", "at least one worker")
        self.registry = FunctionRegistry(region, default_account)
        self.region = region
        self.retry_delays = tuple(retry_delays)
        self.queue_wait = queue_wait
        self._endpoint = endpoint
        self._ca_bundle = ca_bundle  # the sandbox's own CA, for its HTTPS endpoint
        self._credentials = _CredentialCache(credentials)
        self._target = workers
        self._log_dir = log_dir
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._live = 0
        self._indexes = itertools.count()
        self._tmp: str | None = None
        self._closed = False
        self._workers: set[_Worker] = set()
        self._log_locks: dict[str, threading.Lock] = {}
        # asynchronous invocations
        self._jobs: queue.Queue[AsyncInvocation | None] = queue.Queue()
        self._dispatchers: list[threading.Thread] = []
        self._retries: list[tuple[float, int, AsyncInvocation]] = []
        self._retry_cv = threading.Condition()
        self._retry_seq = itertools.count()
        self._retry_thread: threading.Thread | None = None
        self._pending = 0
        self._pending_cv = threading.Condition()
        self._invocations: dict[str, AsyncInvocation] = {}
        self._keep = 10_000

    # -- functions -------------------------------------------------------------------------

    def register(self, spec: FunctionSpec) -> FunctionSpec:
        spec = self.registry.put(spec)
        self._credentials.forget(spec.arn)
        return spec

    def unregister(self, name_or_arn: str) -> FunctionSpec:
        spec = self.registry.remove(name_or_arn)
        self._credentials.forget(spec.arn)
        return spec

    @property
    def sts_calls(self) -> int:
        """AssumeRole calls made so far (for tests and the demo's "STS calls made")."""
        return self._credentials.fetches

    # -- the pool --------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._target

    def resize(self, workers: int) -> None:
        """Change the pool size; extra workers retire when they next become idle."""
        if workers < 1:
            raise LambdaError("InvalidParameterValueException", "at least one worker")
        with self._lock:
            self._target = workers
            started = self._tmp is not None
        if started:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise LambdaError("ServiceException", "the runner is closed", 500)
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix="crossgrant-lambda-")
            missing = self._target - self._live
            self._live += max(0, missing)
            while len(self._dispatchers) < self._target:
                t = threading.Thread(target=self._dispatch, daemon=True,
                                     name=f"crossgrant-lambda-async-{len(self._dispatchers)}")
                self._dispatchers.append(t)
                t.start()
            if self._retry_thread is None:
                self._retry_thread = threading.Thread(target=self._retry_loop, daemon=True,
                                                      name="crossgrant-lambda-retries")
                self._retry_thread.start()
        for _ in range(missing):
            self._spawn()

    def _spawn(self) -> None:
        """Start a worker; it joins the idle queue once it has booted, so its boot time
        never counts against a function's timeout."""
        assert self._tmp is not None
        index = next(self._indexes)
        out_path = os.path.join(self._tmp, f"worker-{index}.out")
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, out_path), daemon=True,
                                 name=f"crossgrant-lambda-{index}")
        with _main_not_inherited():
            proc.start()
        child.close()
        worker = _Worker(index, proc, parent, out_path)
        with self._lock:
            self._workers.add(worker)

        def await_ready() -> None:
            ok = False
            try:
                if parent.poll(120):
                    msg = parent.recv()
                    ok = isinstance(msg, tuple) and msg[0] == "ready"
            except (EOFError, OSError):
                ok = False
            if ok and not self._closed:
                self._idle.put(worker)
                return
            self._discard(worker)
            if not self._closed:
                _log.error("lambda worker %s failed to start (exit code %s)", index,
                           proc.exitcode)
                time.sleep(1.0)
                with self._lock:
                    self._live += 1
                self._spawn()

        threading.Thread(target=await_ready, daemon=True,
                         name=f"crossgrant-lambda-boot-{index}").start()

    def _discard(self, worker: _Worker) -> None:
        """End a worker (timed out, crashed, or surplus) and forget it."""
        with contextlib.suppress(Exception):
            worker.process.kill()
        with contextlib.suppress(Exception):
            worker.process.join(5)
        with contextlib.suppress(Exception):
            worker.conn.close()
        with self._lock:
            if worker in self._workers:
                self._workers.discard(worker)
                self._live -= 1

    def _replace(self, worker: _Worker) -> None:
        self._discard(worker)
        if not self._closed:
            with self._lock:
                self._live += 1
            self._spawn()

    def _acquire(self) -> _Worker:
        if self._tmp is None or self._live < self._target:
            self._start()
        deadline = time.monotonic() + self.queue_wait
        while not self._closed:
            try:
                return self._idle.get(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise LambdaError("TooManyRequestsException", "Rate Exceeded.", 429,
                                      reason=f"no worker became free within "
                                             f"{self.queue_wait:.0f} s") from None
        raise LambdaError("ServiceException", "the sandbox is shutting down", 500)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            surplus = self._live > self._target
        if surplus or self._closed:
            self._discard(worker)
        else:
            self._idle.put(worker)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(w.process.pid for w in self._workers if w.process.pid)

    # -- running ---------------------------------------------------------------------------

    def _environment(self, spec: FunctionSpec, creds: RoleCredentials, stream: str,
                     request_id: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
        py = f"python{sys.version_info.major}.{sys.version_info.minor}"
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": VERSION,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{py}",
            "_HANDLER": spec.handler,
            "_X_AMZN_TRACE_ID": (f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
                                 f"Parent={secrets.token_hex(8)};Sampled=0"),
            "LAMBDA_TASK_ROOT": spec.code_dir or os.getcwd(),
            "LAMBDA_RUNTIME_DIR": os.path.dirname(sys.executable),
            "TZ": ":UTC",
            "AWS_ENDPOINT_URL": self._endpoint(),
            # The user's ~/.aws files must not reach a function (profiles, endpoints).
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_SESSION_TOKEN": creds.session_token,
        })
        if self._ca_bundle:
            env["AWS_CA_BUNDLE"] = self._ca_bundle
        env.update(dict(spec.env))
        return env

    @staticmethod
    def _payload_bytes(payload: Any) -> bytes:
        if isinstance(payload, bytes | bytearray):
            data = bytes(payload)
            try:
                json.loads(data or b"null")
            except ValueError as exc:
                raise LambdaError("InvalidRequestContentException",
                                  f"Could not parse request body into json: Could not parse "
                                  f"payload into json: {exc}") from None
        else:
            try:
                data = json.dumps(payload).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise LambdaError("InvalidRequestContentException",
                                  f"Could not serialize the payload into json: {exc}"
                                  ) from None
        if len(data) > MAX_PAYLOAD:
            raise LambdaError("RequestTooLargeException",
                              f"{len(data)} byte payload is too large for the RequestResponse "
                              f"invocation type ({MAX_PAYLOAD} bytes)", 413)
        return data

    def invoke(self, function: str, payload: Any = None) -> InvocationResult:
        """RequestResponse: run the handler now and return its result.

        Raises LambdaError when Lambda itself would refuse (unknown function, a role that
        cannot be assumed); a handler's failure is a result with `function_error`.
        """
        spec = self.registry.get(function)
        return self._run(spec, self._payload_bytes(payload), str(uuid.uuid4()))

    def _run(self, spec: FunctionSpec, payload: bytes, request_id: str) -> InvocationResult:
        revision = self.registry.revision(spec)
        creds = self._credentials.get(spec, revision)
        worker = self._acquire()
        env_key = (spec.arn, revision, creds.access_key_id)
        cold = worker.env_key != env_key
        if cold or worker.log_stream is None:
            day = datetime.now(UTC).strftime("%Y/%m/%d")
            worker.log_stream = f"{day}/[{VERSION}]{uuid.uuid4().hex}"
        stream = worker.log_stream
        started_wall = time.time()
        deadline_ms = int((started_wall + spec.timeout) * 1000)
        task = _Task(request_id, spec.handler, spec.code_dir,
                     self._environment(spec, creds, stream, request_id), payload, deadline_ms,
                     cold, {"function_name": spec.name, "function_version": VERSION,
                            "invoked_function_arn": spec.arn,
                            "memory_limit_in_mb": str(spec.memory),
                            "log_group_name": spec.log_group, "log_stream_name": stream})
        started = time.monotonic()
        reply: dict[str, Any] | None = None
        outcome = "ok"
        try:
            worker.conn.send(task)
            if worker.conn.poll(spec.timeout):
                reply = worker.conn.recv()
            else:
                outcome = "timeout"
        except (EOFError, OSError, ValueError):
            outcome = "died"
        duration = (time.monotonic() - started) * 1000
        if outcome != "ok":
            worker.process.kill()
            worker.process.join(5)
        output = self._read_output(worker.out_path)
        if outcome == "ok" and reply is not None:
            worker.env_key = None if reply.get("reset") else env_key
            self._release(worker)
            result = InvocationResult(
                request_id, spec.arn, str(reply["payload"]).encode("utf-8"),
                None if reply["ok"] else "Unhandled", "", duration, reply.get("init_ms"),
                int(reply.get("max_rss_mb") or 0))
        else:
            exitcode = worker.process.exitcode
            self._replace(worker)
            if outcome == "timeout":
                message = (f"RequestId: {request_id} Error: Task timed out after "
                           f"{spec.timeout:.2f} seconds")
                body = {"errorType": "Sandbox.Timedout", "errorMessage": message}
                output += (f"{_now_iso()} {request_id} Task timed out after "
                           f"{spec.timeout:.2f} seconds\n")
            else:
                why = f"signal: {-exitcode}" if isinstance(exitcode, int) and exitcode < 0 \
                    else f"exit status {exitcode}"
                message = f"RequestId: {request_id} Error: Runtime exited with error: {why}"
                body = {"errorType": "Runtime.ExitError", "errorMessage": message}
                output += message + "\n"
            result = InvocationResult(request_id, spec.arn, json.dumps(body).encode("utf-8"),
                                      "Unhandled", "", duration, None, 0)
        logs = self._compose_logs(spec, result, output, outcome)
        result = replace(result, logs=logs)
        self._append_log(spec, logs)
        return result

    @staticmethod
    def _read_output(path: str) -> str:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    @staticmethod
    def _compose_logs(spec: FunctionSpec, result: InvocationResult, output: str,
                      outcome: str) -> str:
        rid = result.request_id
        if output and not output.endswith("\n"):
            output += "\n"
        report = (f"REPORT RequestId: {rid}\tDuration: {result.duration_ms:.2f} ms\t"
                  f"Billed Duration: {math.ceil(result.duration_ms)} ms\t"
                  f"Memory Size: {spec.memory} MB\tMax Memory Used: {result.max_memory_mb} MB\t")
        if result.init_ms is not None:
            report += f"Init Duration: {result.init_ms:.2f} ms\t"
        if outcome == "timeout":
            report += "Status: timeout"
        elif outcome == "died":
            report += "Status: error\tError Type: Runtime.ExitError"
        return (f"START RequestId: {rid} Version: {VERSION}\n{output}END RequestId: {rid}\n"
                f"{report}\n")

    def _append_log(self, spec: FunctionSpec, logs: str) -> None:
        if self._log_dir is None:
            return
        path = self._log_dir / f"{spec.name}.log"
        with self._lock:
            lock = self._log_locks.setdefault(spec.name, threading.Lock())
        with lock:
            try:
                self._log_dir.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as f:
                    f.write(logs)
            except OSError as exc:
                _log.warning("cannot append to %s: %s", path, exc)

    # -- asynchronous invocations ----------------------------------------------------------

    def invoke_async(self, function: str | FunctionSpec, payload: Any = None, *,
                     on_done: Callable[[AsyncInvocation], None] | None = None
                     ) -> AsyncInvocation:
        """Event: queue the invocation and return at once (Lambda's 202)."""
        spec = function if isinstance(function, FunctionSpec) else self.registry.get(function)
        job = AsyncInvocation(str(uuid.uuid4()), spec.arn, self._payload_bytes(payload),
                              max_attempts=1 + len(self.retry_delays))
        if on_done is not None:
            job.callbacks.append(on_done)
        with self._pending_cv:
            self._pending += 1
            self._invocations[job.request_id] = job
            if len(self._invocations) > self._keep:
                for old in list(self._invocations)[: len(self._invocations) - self._keep]:
                    if self._invocations[old].done.is_set():
                        del self._invocations[old]
        self._start()
        self._jobs.put(job)
        return job

    def invocation(self, request_id: str) -> AsyncInvocation | None:
        with self._pending_cv:
            return self._invocations.get(request_id)

    def invocations(self) -> list[AsyncInvocation]:
        with self._pending_cv:
            return list(self._invocations.values())

    def _dispatch(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._attempt(job)

    def _attempt(self, job: AsyncInvocation) -> None:
        job.status = "running"
        failed: str | None = None
        try:
            spec = self.registry.get(job.function_arn)
            result = self._run(spec, job.payload, job.request_id)
        except LambdaError as exc:
            job.attempts.append(Attempt(_now_iso(), False, exc.code,
                                        exc.message + (f" ({exc.reason})" if exc.reason
                                                       else "")))
            failed = exc.code
        except Exception as exc:  # a bug in the runner must not kill the dispatcher
            _log.exception("async invocation %s failed in the runner", job.request_id)
            job.attempts.append(Attempt(_now_iso(), False, "ServiceException", str(exc)))
            failed = "ServiceException"
        else:
            job.result = result
            err = result.error or {}
            job.attempts.append(Attempt(_now_iso(), result.function_error is None,
                                        err.get("errorType"), err.get("errorMessage"),
                                        result.duration_ms))
            failed = result.function_error
        retry = failed is not None and len(job.attempts) < job.max_attempts \
            and not self._closed and failed != "ResourceNotFoundException"
        if retry:
            job.status = "retrying"
            delay = self.retry_delays[len(job.attempts) - 1]
            with self._retry_cv:
                heapq.heappush(self._retries, (time.monotonic() + delay,
                                               next(self._retry_seq), job))
                self._retry_cv.notify()
            return
        job.status = "failed" if failed else "succeeded"
        for cb in job.callbacks:
            try:
                cb(job)
            except Exception:
                _log.exception("callback for %s failed", job.request_id)
        job.done.set()
        with self._pending_cv:
            self._pending -= 1
            self._pending_cv.notify_all()

    def _retry_loop(self) -> None:
        while True:
            with self._retry_cv:
                while not self._closed and (
                        not self._retries or self._retries[0][0] > time.monotonic()):
                    wait = self._retries[0][0] - time.monotonic() if self._retries else None
                    self._retry_cv.wait(wait)
                if self._closed:
                    return
                _, _, job = heapq.heappop(self._retries)
            job.status = "queued"
            self._jobs.put(job)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every Event invocation has finished (retries included)."""
        deadline = time.monotonic() + timeout
        with self._pending_cv:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending_cv.wait(left)
        return True

    @property
    def pending(self) -> int:
        with self._pending_cv:
            return self._pending

    # -- shutdown --------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            dispatchers = list(self._dispatchers)
        with self._retry_cv:
            self._retry_cv.notify_all()
        for _ in dispatchers:
            self._jobs.put(None)
        idle = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for w in idle:  # a busy worker's pipe belongs to its invocation: it is just killed
            with contextlib.suppress(Exception):
                w.conn.send(None)
        for w in idle:
            with contextlib.suppress(Exception):
                w.process.join(2)
        for w in workers:
            self._discard(w)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

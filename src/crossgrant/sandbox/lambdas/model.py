"""What a function is to the sandbox's Lambda, what running it gives back, and the errors
the Lambda API itself answers with (never a function's own failure, which is a result).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from crossgrant.errors import CrossgrantError
from crossgrant.iam.arn import PARTITION, is_account_id
from crossgrant.iam.facts import REGION_RE

DEFAULT_TIMEOUT = 30
DEFAULT_MEMORY = 128
MAX_TIMEOUT = 900
MIN_MEMORY, MAX_MEMORY = 128, 10240
LOG_TAIL = 4096  # LogResult carries the last 4 KB, as Lambda's LogType=Tail
MAX_PAYLOAD = 6 * 1024 * 1024
VERSION = "$LATEST"
LAMBDA_SERVICE = "lambda.amazonaws.com"

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HANDLER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_ROLE_RE = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
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
        if not is_account_id(self.account):
            raise LambdaError("InvalidParameterValueException",
                              f"account {self.account!r} is not a 12-digit account id")
        if self.account != m.group(1):
            raise LambdaError("InvalidParameterValueException",
                              f"the execution role {self.role_arn} is in account "
                              f"{m.group(1)}, the function in {self.account}: Lambda can "
                              f"only use a role of the function's own account")
        if self.region and not REGION_RE.fullmatch(self.region):
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
        return function_arn(self.region, self.account, self.name)

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


def function_arn(region: str, account: str, name: str) -> str:
    """A function's unqualified ARN, as Lambda keys it."""
    return f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}"


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
                return self._functions.get(function_arn(*parsed))
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
            function_arn(self.region, self.default_account or "?", name_or_arn)
        raise LambdaError("ResourceNotFoundException", f"Function not found: {arn}", 404)

    def all(self) -> list[FunctionSpec]:
        with self._lock:
            return sorted(self._functions.values(), key=lambda s: (s.account, s.name))


# -- what running it gives back ----------------------------------------------------------


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

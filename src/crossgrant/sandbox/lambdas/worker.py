"""The worker: the child process that runs handlers, one invocation at a time.

A worker is `spawn`ed by the runner and imports only this module and the standard library
(tests/sandbox/test_lambda_worker.py holds it to that): a function's dependencies are its
own, a worker boots in tens of milliseconds, and nothing of the sandbox (moto, boto3, the
engine) is loaded into a function's process. Between invocations it keeps the handler's
module loaded (a warm start); a cold start drops the previous function's modules and its
code directory from `sys.path`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import math
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


@dataclass(frozen=True, slots=True)
class Task:
    request_id: str
    handler: str
    code_dir: str | None
    env: dict[str, str]
    payload: bytes
    deadline_ms: int  # epoch milliseconds
    cold: bool
    context: dict[str, str]

    def __repr__(self) -> str:  # the environment holds the role's secret and token
        return f"Task({self.request_id}, {self.handler}, cold={self.cold})"


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


def _cold_reset(state: _WorkerState, task: Task) -> None:
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


def _run_task(task: Task, state: _WorkerState, out_fd: int,
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


def worker_main(conn: Connection, out_path: str) -> None:
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

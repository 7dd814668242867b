"""The pool of worker processes and what Lambda does around a handler: the execution
role's environment, the timeout (the worker is killed, as Lambda ends an execution
environment), logs, and asynchronous invocations with their two retries.

Workers are `spawn`ed (never forked from a threaded server) and reused while they keep
running the same function with the same credentials: a warm start keeps module state, as
Lambda's does. A different function, new credentials or a re-registration is a cold start.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import math
import multiprocessing
import os
import queue
import secrets
import shutil
import sys
import tempfile
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from crossgrant.sandbox.lambdas.credentials import (
    CredentialCache,
    CredentialSource,
    RoleCredentials,
)
from crossgrant.sandbox.lambdas.model import (
    MAX_PAYLOAD,
    VERSION,
    AsyncInvocation,
    Attempt,
    FunctionRegistry,
    FunctionSpec,
    InvocationResult,
    LambdaError,
)
from crossgrant.sandbox.lambdas.worker import Task, worker_main

DEFAULT_WORKERS = 4
RETRY_DELAYS = (1.0, 2.0)  # Lambda waits 1 and 2 minutes; the sandbox, seconds

_log = logging.getLogger(__name__)

# What a worker keeps from the sandbox's own environment; everything else (the user's
# AWS_PROFILE, AWS_* credentials, ...) must not leak into a function.
_INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME", "PYTHONHASHSEED",
                  "SYSTEMROOT")


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
    under pytest it is pytest. The worker's code lives in `worker`, so the child needs
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
        self._credentials = CredentialCache(credentials)
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
        proc = self._ctx.Process(target=worker_main, args=(child, out_path), daemon=True,
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
        task = Task(request_id, spec.handler, spec.code_dir,
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

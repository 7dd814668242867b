"""The grant's Lambda function: created or updated from a `crossgrant package` zip.

In AWS that is Lambda's CreateFunction / UpdateFunctionCode. The sandbox has no Lambda API
(it runs functions itself), so there the zip is unpacked next to the journal and the
function registered with the sandbox's runner through its control API, which is guarded
by the token the sandbox writes to its state directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from crossgrant.aws.clients import AccountSession, AwsError, answer, error_code, error_message
from crossgrant.errors import CrossgrantError
from crossgrant.sandbox import protocol
from crossgrant.serial import OMIT, to_json

MANIFEST = "crossgrant-package.json"  # optional: {"handler": "...", "runtime": "..."}
SHA_FILE = ".crossgrant-code-sha256"


@dataclass(frozen=True, slots=True)
class FunctionBundle:
    """A deployable zip and how Lambda runs it."""

    zip_path: Path
    handler: str
    sha256: str  # hex digest of the zip
    runtime: str = "python3.11"
    timeout: int = 30
    memory: int = 256

    @classmethod
    def load(cls, zip_path: Path, *, handler: str | None = None, runtime: str | None = None,
             timeout: int = 30, memory: int = 256) -> FunctionBundle:
        try:
            data = zip_path.read_bytes()
        except OSError as exc:
            raise CrossgrantError(f"{zip_path}: cannot read: {exc.strerror or exc}") from None
        manifest: dict[str, Any] = {}
        try:
            with zipfile.ZipFile(zip_path) as zf:
                if MANIFEST in zf.namelist():
                    raw = json.loads(zf.read(MANIFEST))
                    manifest = raw if isinstance(raw, dict) else {}
        except (zipfile.BadZipFile, ValueError) as exc:
            raise CrossgrantError(f"{zip_path}: not a function package: {exc}") from None
        chosen = handler or manifest.get("handler")
        if not isinstance(chosen, str) or not chosen:
            raise CrossgrantError(f"{zip_path}: give --handler (module.function); the zip has "
                                  f"no {MANIFEST} naming one")
        return cls(zip_path, chosen, hashlib.sha256(data).hexdigest(),
                   runtime or str(manifest.get("runtime") or "python3.11"), timeout, memory)

    @property
    def lambda_sha(self) -> str:
        """Lambda's CodeSha256: the digest in base64."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


@dataclass(frozen=True, slots=True)
class LiveFunction:
    """A function's settings as deploy compares them; its JSON is what plans show and
    the journal keeps to restore."""

    name: str = field(metadata=OMIT)
    role: str  # the execution role's ARN
    handler: str
    code_sha256: str | None  # hex
    runtime: str | None = None
    timeout: int | None = None
    memory: int | None = None


def wanted(bundle: FunctionBundle, role_arn: str, *, sandbox: bool) -> dict[str, Any]:
    """The settings deploy gives the function (the sandbox has one runtime: not compared)."""
    result: dict[str, Any] = to_json(LiveFunction(
        "", role_arn, bundle.handler, bundle.sha256, None if sandbox else bundle.runtime,
        bundle.timeout, bundle.memory))
    return result


class FunctionTarget(Protocol):
    sandbox: bool

    def read(self, name: str) -> LiveFunction | None: ...

    def put(self, name: str, bundle: FunctionBundle, role_arn: str,
            live: LiveFunction | None) -> None: ...

    def delete(self, name: str) -> None: ...


class LambdaFunctions:
    sandbox = False

    def __init__(self, session: AccountSession, region: str) -> None:
        self.session = session
        self.region = region

    def _client(self) -> Any:
        return self.session.client("lambda", self.region)

    def read(self, name: str) -> LiveFunction | None:
        try:
            cfg = self._client().get_function_configuration(FunctionName=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise AwsError(f"function {name}: {answer(exc)}", code=error_code(exc)) from None
        sha = cfg.get("CodeSha256")
        return LiveFunction(name, cfg.get("Role", ""), cfg.get("Handler", ""),
                            base64.b64decode(sha).hex() if sha else None, cfg.get("Runtime"),
                            cfg.get("Timeout"), cfg.get("MemorySize"))

    def put(self, name: str, bundle: FunctionBundle, role_arn: str,
            live: LiveFunction | None) -> None:
        client = self._client()
        code = bundle.zip_path.read_bytes()
        if live is None:
            client.create_function(FunctionName=name, Runtime=bundle.runtime, Role=role_arn,
                                   Handler=bundle.handler, Code={"ZipFile": code},
                                   Timeout=bundle.timeout, MemorySize=bundle.memory,
                                   Publish=False)
            client.get_waiter("function_active_v2").wait(FunctionName=name)
            return
        if live.code_sha256 != bundle.sha256:
            client.update_function_code(FunctionName=name, ZipFile=code)
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
        if (live.role, live.handler, live.runtime, live.timeout, live.memory) != (
                role_arn, bundle.handler, bundle.runtime, bundle.timeout, bundle.memory):
            client.update_function_configuration(
                FunctionName=name, Role=role_arn, Handler=bundle.handler,
                Runtime=bundle.runtime, Timeout=bundle.timeout, MemorySize=bundle.memory)
            client.get_waiter("function_updated_v2").wait(FunctionName=name)

    def delete(self, name: str) -> None:
        try:
            self._client().delete_function(FunctionName=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise


def control(url: str, token: str, ca_bundle: str | None, method: str, path: str,
            body: Any = None) -> tuple[int, Any]:
    """One call of the sandbox's control API (`body` sent as JSON): status and answer."""
    data = None if body is None else json.dumps(body).encode()
    try:
        return protocol.call(url, token, method, path, data, ca_bundle=ca_bundle)
    except OSError as exc:
        raise CrossgrantError(f"cannot reach the sandbox's control API at {url}: "
                              f"{exc}") from None


class SandboxFunctions:
    """The sandbox's runner, through its control API (POST/GET/DELETE functions)."""

    sandbox = True

    def __init__(self, control_url: str, token: str, ca_bundle: str | None,
                 code_root: Path) -> None:
        self.control_url = control_url.rstrip("/")
        self._token = token
        self.ca_bundle = ca_bundle
        self.code_root = code_root

    def __repr__(self) -> str:
        return f"SandboxFunctions({self.control_url})"

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return control(self.control_url, self._token, self.ca_bundle, method, path, body)

    def read(self, name: str) -> LiveFunction | None:
        status, got = self._call("GET", f"functions/{name}")
        if status == 404:
            return None
        if status >= 400 or not isinstance(got, dict):
            raise AwsError(f"function {name}: the sandbox answered {status}: {got}")
        sha = None
        code_dir = got.get("code_dir")
        if code_dir:
            try:
                sha = (Path(code_dir) / SHA_FILE).read_text(encoding="utf-8").strip()
            except OSError:
                sha = None
        return LiveFunction(name, str(got.get("role_arn", "")), str(got.get("handler", "")),
                            sha, None, got.get("timeout"), got.get("memory"))

    def put(self, name: str, bundle: FunctionBundle, role_arn: str,
            live: LiveFunction | None) -> None:
        target = self.code_root / name
        _unpack(bundle, target)
        status, got = self._call("POST", "functions", {
            "name": name, "handler": bundle.handler, "role_arn": role_arn,
            "code_dir": str(target), "timeout": bundle.timeout, "memory": bundle.memory})
        if status >= 400:
            err = got if isinstance(got, dict) else {}
            raise AwsError(f"function {name}: {err.get('__type', status)}: "
                           f"{err.get('message', '')}", code=str(err.get("__type", "")))

    def delete(self, name: str) -> None:
        status, got = self._call("DELETE", f"functions/{name}")
        if status >= 400 and status != 404:
            raise AwsError(f"function {name}: the sandbox answered {status}: {got}")
        shutil.rmtree(self.code_root / name, ignore_errors=True)


def _unpack(bundle: FunctionBundle, target: Path) -> None:
    """Unzip into `target`, replacing what was there; refuses paths that leave it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(bundle.zip_path) as zf:
            root = staging.resolve()
            for member in zf.infolist():
                dest = (staging / member.filename).resolve()
                if root != dest and root not in dest.parents:
                    raise CrossgrantError(f"{bundle.zip_path}: {member.filename!r} would be "
                                          f"written outside the function's directory")
            zf.extractall(staging)
        (staging / SHA_FILE).write_text(bundle.sha256 + "\n", encoding="utf-8")
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def is_role_not_ready(exc: BaseException) -> bool:
    """Lambda refuses an execution role IAM has not propagated yet."""
    return isinstance(exc, ClientError) and error_code(exc) == \
        "InvalidParameterValueException" and "cannot be assumed" in error_message(exc)


__all__ = ["FunctionBundle", "FunctionTarget", "LambdaFunctions", "LiveFunction",
           "SandboxFunctions", "control", "is_role_not_ready", "wanted"]

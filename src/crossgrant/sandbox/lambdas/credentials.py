"""The execution role's session, as the Lambda service gets it: sts:AssumeRole over HTTP
against the sandbox, signed as lambda.amazonaws.com, so the role's trust policy is really
evaluated; one session per function, reused until shortly before it expires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from crossgrant.sandbox.lambdas.model import LAMBDA_SERVICE, FunctionSpec, LambdaError

CREDENTIAL_MARGIN = timedelta(minutes=5)


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


class CredentialCache:
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

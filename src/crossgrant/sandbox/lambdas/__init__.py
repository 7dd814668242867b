"""The sandbox's Lambda: functions run in local worker processes, as their execution role.

moto cannot run function code without Docker, and a test that calls the handler in-process
proves nothing about the role: it runs with whatever credentials the test holds. Here the
runner does what the Lambda service does. It assumes the execution role over HTTP against
the sandbox, signing as the service principal `lambda.amazonaws.com`, so the role's trust
policy is really evaluated; it hands the role's session to the handler through the
standard environment variables, so every AWS call the handler makes is authorized as that
role; and it enforces the timeout by killing the worker, as Lambda ends an execution
environment.

    model        what a function is, what an invocation gives back, the Lambda API's errors
    credentials  the execution role's session, assumed as lambda.amazonaws.com and cached
    worker       the child process that runs handlers (standard library only)
    runner       the pool of workers, timeouts, logs, asynchronous invocations and retries

The names are re-exported here lazily: every worker process imports this package on its
way to `worker`, and must not pay for what the runner and the model import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossgrant.sandbox.lambdas.credentials import RoleCredentials
    from crossgrant.sandbox.lambdas.model import (
        FunctionRegistry,
        FunctionSpec,
        LambdaError,
        parse_function_arn,
    )
    from crossgrant.sandbox.lambdas.runner import Runner

# The names used outside the package; everything else is imported from its module.
__all__ = ["FunctionRegistry", "FunctionSpec", "LambdaError", "RoleCredentials", "Runner",
           "parse_function_arn"]
_HOME = {"RoleCredentials": "credentials", "Runner": "runner"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOME.get(name, 'model')}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

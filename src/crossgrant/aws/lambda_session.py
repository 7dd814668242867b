"""The handler `crossgrant probe` registers for a moment with the sandbox's Lambda runner.

The sandbox's runner is the sandbox's own way of becoming an execution role as
`lambda.amazonaws.com` does (sts:AssumeRole signed as the Lambda service, through the
authorizer, so the role's trust policy is really evaluated). The probe cannot sign as a
service itself, so where its caller may not assume the execution role it registers this
handler under that role, invokes it once through the control API and unregisters it: the
handler hands back the session the runner gave it. Standard library only: the runner's
worker imports it without boto3.
"""

from __future__ import annotations

import os
from typing import Any

HANDLER = f"{__name__}.handler"
_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def handler(event: Any, context: Any) -> dict[str, str]:
    """The execution role's session, as the function's environment holds it."""
    return {key: os.environ.get(key, "") for key in _KEYS}


__all__ = ["HANDLER", "handler"]

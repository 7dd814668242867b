"""What ships inside a Lambda function: assumed-role sessions with cached credentials that
botocore refreshes before they expire.

Imports boto3 and botocore only, never the rest of crossgrant, so a function's cold start
pays for nothing else (benchmarks/runtime_import.py measures it).
"""

from crossgrant.runtime.names import session_name_from, source_identity_from
from crossgrant.runtime.sessions import (
    MAX_CHAINED_DURATION,
    NO_SOURCE_IDENTITY,
    assumed_session,
    caller_is_role_session,
    clear_cache,
    default_session_name,
    default_source_identity,
)

__all__ = [
    "MAX_CHAINED_DURATION",
    "NO_SOURCE_IDENTITY",
    "assumed_session",
    "caller_is_role_session",
    "clear_cache",
    "default_session_name",
    "default_source_identity",
    "session_name_from",
    "source_identity_from",
]

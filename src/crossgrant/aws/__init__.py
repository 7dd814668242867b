"""The boto3 edge: plan, apply and destroy a grant in two live accounts, probe the access it
grants, and snapshot live accounts into the `AccountState` every other feature reads.

Everything here talks to AWS (or the sandbox, which answers like AWS); everything it
decides with comes from `render` (what should exist, and which statements are ours) and
`world` (what a state is). Nothing else in crossgrant does network I/O.

The names below are imported when first used: importing a module of this package (the
handler the sandbox's Lambda runner imports for `probe`, `aws.place`) must not load boto3
and every other module with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossgrant.aws.clients import (
        AccountMismatchError,
        Accounts,
        AccountSession,
        AwsError,
        Connection,
        connect,
    )
    from crossgrant.aws.deploy import ApplyResult, DestroyResult, apply, destroy, plan_destroy
    from crossgrant.aws.journal import Journal, default_journal_path
    from crossgrant.aws.plan import Action, Change, ChangeKind, Plan, make_plan
    from crossgrant.aws.probe import ProbeReport, probe
    from crossgrant.aws.snapshot import SnapshotResult, snapshot

_HOMES = {
    "clients": ("AccountMismatchError", "AccountSession", "Accounts", "AwsError", "Connection",
                "connect"),
    "deploy": ("ApplyResult", "DestroyResult", "apply", "destroy", "plan_destroy"),
    "journal": ("Journal", "default_journal_path"),
    "plan": ("Action", "Change", "ChangeKind", "Plan", "make_plan"),
    "probe": ("ProbeReport", "probe"),
    "snapshot": ("SnapshotResult", "snapshot"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "AccountMismatchError",
    "AccountSession",
    "Accounts",
    "Action",
    "ApplyResult",
    "AwsError",
    "Change",
    "ChangeKind",
    "Connection",
    "DestroyResult",
    "Journal",
    "Plan",
    "ProbeReport",
    "SnapshotResult",
    "apply",
    "connect",
    "default_journal_path",
    "destroy",
    "make_plan",
    "plan_destroy",
    "probe",
    "snapshot",
]

"""The boto3 edge: plan, apply and destroy a grant in two live accounts, probe the access it
grants, and snapshot live accounts into the `AccountState` every other feature reads.

Everything here talks to AWS (or the sandbox, which answers like AWS); everything it
decides with comes from `render` (what should exist, and which statements are ours) and
`world` (what a state is). Nothing else in crossgrant does network I/O.
"""

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

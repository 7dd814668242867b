"""The cause families, in the order their hooks run (see `diagnose/registry.py`).

To add a family: write a module here holding its causes and hooks as a `FAMILY`, and list
it below; the solver needs no change.
"""

from crossgrant.diagnose.families import (
    denies,
    identity,
    kms,
    org,
    resource,
    s3,
    sessions,
    state,
    trust,
)
from crossgrant.diagnose.registry import CAUSES, Family, register

__all__ = ["CAUSES", "FAMILIES", "NOTE_IDS"]

# `before` hooks: the caller outside the state first (its side is then assumed to allow),
# then AWS managed keys; `allowed` hooks: S3's own answers before the documents the state
# does not hold.
FAMILIES: tuple[Family, ...] = register((
    state.FAMILY,
    identity.FAMILY,
    resource.FAMILY,
    trust.FAMILY,
    kms.FAMILY,
    org.FAMILY,
    denies.FAMILY,
    s3.FAMILY,
    sessions.FAMILY,
))
NOTE_IDS = frozenset(cid for family in FAMILIES for cid in family.notes)

"""`grant.yaml`: the declaration of one cross-account grant, loaded with precise errors."""

from crossgrant.spec.load import load_grant, parse_grant
from crossgrant.spec.model import (
    Grant,
    Mode,
    Options,
    OrgSource,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
)

__all__ = ["Grant", "Mode", "Options", "OrgSource", "S3Access", "S3Level", "Source",
           "TableAccess", "TableLevel", "Target", "load_grant", "parse_grant"]

"""`grant.yaml`: the declaration of one cross-account grant, loaded with precise errors."""

from crossgrant.spec.model import (
    Grant,
    Mode,
    Options,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
)

__all__ = ["Grant", "Mode", "Options", "S3Access", "S3Level", "Source", "TableAccess",
           "TableLevel", "Target"]

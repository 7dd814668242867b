"""S3: the request mapper (`mapping`), the bucket policies the sandbox keeps (`policies`)
and the service's answers and hooks (`service`)."""

from crossgrant.sandbox.services.s3.mapping import SERVICE, operation
from crossgrant.sandbox.services.s3.service import S3

__all__ = ["S3", "SERVICE", "operation"]

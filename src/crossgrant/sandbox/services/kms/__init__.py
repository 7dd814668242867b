"""KMS: the request mapper (`mapping`), grants (`grants`: a call a grant allows is allowed)
and the service (`service`: a missing key is NotFoundException, not AccessDenied)."""

from crossgrant.sandbox.services.kms.mapping import SERVICE, operation
from crossgrant.sandbox.services.kms.service import Kms

__all__ = ["SERVICE", "Kms", "operation"]

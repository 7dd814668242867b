"""crossgrant: cross-account AWS access for Lambda functions, declared, rendered and proven."""

__version__ = "0.1.0"

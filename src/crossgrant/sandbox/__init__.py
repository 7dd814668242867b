"""A local two-account AWS on loopback: moto server as storage and API, crossgrant's
authorizer in front of it so IAM is really enforced, a Lambda runner and S3 events."""

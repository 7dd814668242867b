"""The sandbox's accounts: an administrator per account, created straight in moto's
backends (there is nobody yet who could be authorized to create it over HTTP)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from moto.iam.models import iam_backends

from crossgrant.iam.arn import check_account_id

ADMIN_USER = "crossgrant-admin"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "SandboxAdministrator", "Effect": "Allow", "Action": "*", "Resource": "*"}]})


@dataclass(frozen=True, slots=True)
class AdminKey:
    account: str
    access_key: str
    secret: str

    def __repr__(self) -> str:
        return f"AdminKey({self.account}, {self.access_key})"


def bootstrap(account: str, region: str) -> AdminKey:
    """Create (or reuse) the account's administrator and return a fresh access key."""
    check_account_id(account, "sandbox account")
    iam = iam_backends[account]["aws"]
    if ADMIN_USER not in iam.users:
        iam.create_user(region, ADMIN_USER)
        iam.put_user_policy(ADMIN_USER, "administrator", ADMIN_POLICY)
    for old in list(iam.users[ADMIN_USER].access_keys):
        iam.delete_access_key(old.access_key_id, ADMIN_USER)
    key = iam.create_access_key(ADMIN_USER)
    return AdminKey(account, key.access_key_id, key.secret_access_key)

"""The sandbox's accounts: an administrator per account, created straight in moto's
backends (there is nobody yet who could be authorized to create it over HTTP)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from moto.iam.models import iam_backends

from crossgrant.iam.arn import PARTITION, check_account_id

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


_LOCK = threading.Lock()
_ISSUED: dict[str, AdminKey] = {}  # per process: the key bootstrap last handed out


def bootstrap(account: str, region: str) -> AdminKey:
    """Create (or reuse) the account's administrator and return its access key.

    moto's backends belong to the process, so every sandbox of a process (tests start
    several) has the same administrator: a key this process issued and moto still holds
    is handed out again, so a second sandbox never invalidates the first one's key. A
    new process (`sandbox up`) always starts with a fresh key."""
    check_account_id(account, "sandbox account")
    with _LOCK:
        iam = iam_backends[account][PARTITION]
        if ADMIN_USER not in iam.users:
            iam.create_user(region, ADMIN_USER)
            iam.put_user_policy(ADMIN_USER, "administrator", ADMIN_POLICY)
        user = iam.users[ADMIN_USER]
        issued = _ISSUED.get(account)
        if issued is not None and any(k.access_key_id == issued.access_key
                                      and k.status == "Active" for k in user.access_keys):
            return issued
        for old in list(user.access_keys):
            iam.delete_access_key(old.access_key_id, ADMIN_USER)
        key = iam.create_access_key(ADMIN_USER)
        _ISSUED[account] = AdminKey(account, key.access_key_id, key.secret_access_key)
        return _ISSUED[account]

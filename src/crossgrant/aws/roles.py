"""A role as IAM has it now: what plan compares with the rendered role, and what destroy
checks before it deletes one (the RoleId, which no role made later under the same name
shares)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from crossgrant.aws.clients import AccountSession, answer, error_code
from crossgrant.aws.ownership import GRANT_TAG
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS
from crossgrant.render.artifacts import RoleArtifact


@dataclass(frozen=True, slots=True)
class LiveRole:
    name: str
    arn: str
    exists: bool
    trust: dict[str, Any] | None = None
    max_session_duration: int = DEFAULT_MAX_SESSION_SECONDS
    path: str = "/"
    tags: Mapping[str, str] = field(default_factory=dict)
    inline: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)
    problem: str | None = None
    role_id: str | None = None  # IAM's unique id: a role made again gets another

    def owned_by(self, grant: str) -> bool:
        return self.tags.get(GRANT_TAG) == grant


def read_role(session: AccountSession, art: RoleArtifact) -> LiveRole:
    iam = session.client("iam")
    try:
        role = iam.get_role(RoleName=art.name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return LiveRole(art.name, art.arn, exists=False)
        return LiveRole(art.name, art.arn, exists=True,
                        problem=f"cannot read role {art.arn}: {answer(exc)}")
    inline: dict[str, dict[str, Any] | None] = {}
    for name, _ in art.inline_policies:
        try:
            inline[name] = decoded(iam.get_role_policy(RoleName=art.name,
                                                       PolicyName=name)["PolicyDocument"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                return LiveRole(art.name, art.arn, exists=True,
                                problem=f"cannot read inline policy {name!r} of {art.arn}: "
                                        f"{answer(exc)}")
            inline[name] = None
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    return LiveRole(art.name, role["Arn"], exists=True,
                    trust=decoded(role.get("AssumeRolePolicyDocument")),
                    max_session_duration=int(role.get("MaxSessionDuration",
                                                      DEFAULT_MAX_SESSION_SECONDS)),
                    path=role.get("Path", "/"), tags=tags, inline=inline,
                    role_id=role.get("RoleId"))


def decoded(doc: Any) -> dict[str, Any] | None:
    """IAM documents come back as dicts from boto3, or URL-encoded text from elsewhere."""
    if doc is None:
        return None
    if isinstance(doc, dict):
        return doc
    text = str(doc)
    parsed = json.loads(unquote(text) if text.startswith("%7B") else text)
    return parsed if isinstance(parsed, dict) else None


def role_tags(art: RoleArtifact, grant: str) -> dict[str, str]:
    return {**dict(art.tags), GRANT_TAG: grant}


__all__ = ["LiveRole", "decoded", "read_role", "role_tags"]

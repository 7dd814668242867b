"""Artifacts -> plain JSON files, one per document, plus a manifest.

The JSON export is the lowest common denominator: what a reviewer diffs, what a pipeline
that is neither CloudFormation nor Terraform feeds to the AWS CLI. The names, the
canonical statement order and the ownership rule defined here are shared by the other
exporters, so every format names and orders the same documents the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from crossgrant import __version__
from crossgrant.errors import RenderError
from crossgrant.iam.facts import default_key_statement
from crossgrant.render.artifacts import (
    Artifacts,
    Document,
    PolicyStatements,
    ResourceKind,
    RoleArtifact,
)
from crossgrant.render.rollout import ACCOUNT_ID, rollout, source_role
from crossgrant.serial import to_json

# IAM prints statements in this order; a fixed order keeps diffs between renders minimal.
_STATEMENT_ORDER = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                    "Resource", "NotResource", "Condition")

MERGE_HINT = ("crossgrant deploy merges these statements (by Sid) into the existing policy, "
              "keeping every other statement")


def generator() -> str:
    return f"crossgrant {__version__}"


def ordered(document: Mapping[str, Any]) -> Document:
    """A copy with `Version` first and each statement's keys in IAM's order."""
    out: Document = {}
    for key in ("Version", "Id"):
        if key in document:
            out[key] = document[key]
    for key, value in document.items():
        if key in out:
            continue
        if key == "Statement":
            items = value if isinstance(value, list) else [value]
            out[key] = [ordered_statement(st) for st in items]
        else:
            out[key] = value
    return out


def ordered_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    head = {k: statement[k] for k in _STATEMENT_ORDER if k in statement}
    return {**head, **{k: v for k, v in statement.items() if k not in head}}


def statements_document(ps: PolicyStatements) -> Document:
    return ordered({"Version": "2012-10-17", "Statement": list(ps.statements)})


def owned_policy_document(artifacts: Artifacts, ps: PolicyStatements) -> Document:
    """The whole policy when an export owns it: crossgrant's statements and nothing else,
    except on a key, which also keeps AWS's default administration statement (without it
    KMS's lockout safety check rejects the policy and, bypassed, the key would become
    unmanageable)."""
    statements = list(ps.statements)
    if ps.kind is ResourceKind.KEY:
        statements.insert(0, default_key_statement(ps.account, artifacts.grant.partition))
    return ordered({"Version": "2012-10-17", "Statement": statements})


def check_owned(artifacts: Artifacts, owned: Collection[str]) -> frozenset[str]:
    """`owned` names resources by `PolicyStatements.resource`; a name that is not one of
    the grant's would silently own nothing, so it is an error."""
    known = {ps.resource for ps in artifacts.resource_policies}
    unknown = sorted(set(owned) - known)
    if unknown:
        raise RenderError(f"{artifacts.grant.path}: --own-policy {unknown[0]!r} is not a "
                          f"bucket, table or key of grant {artifacts.grant.name!r}")
    return frozenset(owned)


def resource_slug(ps: PolicyStatements) -> str:
    """`bucket-b-thumbnails`, `table-thumbnails`, `stream-thumbnails`, `key-<key id>`:
    short, unique within one account, and safe as a file name."""
    if ps.kind is ResourceKind.BUCKET:
        name = ps.resource
    elif ps.kind in (ResourceKind.TABLE, ResourceKind.STREAM):
        name = ps.resource.split(":table/", 1)[-1].split("/", 1)[0]
    else:
        name = ps.resource.rsplit(":", 1)[-1].split("/", 1)[-1]
    return f"{ps.kind.value}-{re.sub(r'[^A-Za-z0-9._-]', '-', name)}"


STACKSET_DIR = "stackset"  # the source side of many accounts, written once


def _directory(account: str) -> str:
    return STACKSET_DIR if account == ACCOUNT_ID else account


def role_trust_file(role: RoleArtifact) -> str:
    return f"{_directory(role.account)}/role-{role.name}.trust.json"


def role_policy_file(role: RoleArtifact, policy_name: str) -> str:
    return f"{_directory(role.account)}/role-{role.name}.policy-{policy_name}.json"


def resource_policy_file(ps: PolicyStatements, owned: bool) -> str:
    return f"{ps.account}/{resource_slug(ps)}.{'policy' if owned else 'statements'}.json"


def dump(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def side_accounts(artifacts: Artifacts) -> dict[str, str]:
    grant = artifacts.grant
    return {"source": grant.source.account, "target": grant.target.account}


def to_json_files(artifacts: Artifacts, owned: Collection[str] = ()) -> dict[str, str]:
    """Every document as its own file under its account's directory, and `manifest.json`
    saying what each file is, where it goes and in which order.

    A resource policy the export does not own is written as `*.statements.json`: a
    policy-shaped document holding only crossgrant's statements, to be merged, never put
    as is. One it owns is `*.policy.json`, the complete policy.

    With many source accounts the source side is written once, under `stackset/`, with
    `${AWS::AccountId}` where each account's id goes (as the StackSet deploys it).
    """
    owned_set = check_owned(artifacts, owned)
    files: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    plan = rollout(artifacts)
    roles = artifacts.roles if plan is None else (
        source_role(artifacts), *artifacts.roles_in(artifacts.grant.target.account))

    for role in roles:
        if role.trust_policy is not None:
            path = role_trust_file(role)
            files[path] = dump(ordered(role.trust_policy))
            entries.append({"file": path, "account": role.account, "kind": "trust-policy",
                            "role": role.name, "apply": "replace"})
        for policy_name, doc in role.inline_policies:
            path = role_policy_file(role, policy_name)
            files[path] = dump(ordered(doc))
            entries.append({"file": path, "account": role.account, "kind": "inline-policy",
                            "role": role.name, "policy_name": policy_name,
                            "apply": "replace"})
    for ps in artifacts.resource_policies:
        own = ps.resource in owned_set
        path = resource_policy_file(ps, own)
        if path in files:
            raise RenderError(f"{ps.label}: its file name {path!r} is already taken")
        files[path] = dump(owned_policy_document(artifacts, ps) if own else statements_document(ps))
        entries.append({"file": path, "account": ps.account, "kind": f"{ps.kind.value}-policy",
                        "resource": ps.resource, "apply": "replace" if own else "merge",
                        "sids": [st["Sid"] for st in ps.statements]})

    accounts = side_accounts(artifacts)
    if plan is not None:
        accounts["source"] = ACCOUNT_ID
    manifest: dict[str, Any] = {
        "generator": generator(),
        "grant": artifacts.grant.name,
        "grant_file": artifacts.grant.path,
        "mode": artifacts.grant.mode.value,
        "sid_prefix": artifacts.sid_prefix,
        "roles": [{"account": r.account, "name": r.name, "arn": r.arn, "create": r.create,
                   "max_session_duration": r.max_session_duration,
                   "tags": dict(r.tags), "purpose": r.purpose} for r in roles],
        "files": entries,
        "deploy_order": [
            {"step": i, "side": side, "account": accounts[side],
             "files": [e["file"] for e in entries if e["account"] == accounts[side]]}
            for i, side in enumerate(artifacts.deploy_order, start=1)],
    }
    if plan is not None:
        manifest["stackset"] = {
            "name": plan.name, "permission_model": plan.permission_model,
            "organizational_units": list(plan.units), "accounts": list(plan.accounts),
            "regions": list(plan.regions),
            "how": f"the files under {STACKSET_DIR}/ go to {plan.targets} through the "
                   f"StackSet (see the cloudformation export); {ACCOUNT_ID} stands for each "
                   f"account's id"}
    manifest.update({
        "merge": MERGE_HINT,
        "notes": list(artifacts.notes),
        "requirements": to_json(artifacts.requirements),
    })
    files["manifest.json"] = dump(manifest)
    return files

"""What `apply` would change: the rendered artifacts against the live accounts.

The plan mirrors the in-memory apply (`render.apply`) exactly, so what `verify` proved is
what gets deployed: a role crossgrant creates gets the rendered trust policy, tags and
session length; an existing role gets its trust policy replaced (unless the grant leaves
an existing execution role's trust alone), the inline policy put, and its maximum session
raised if needed; each resource policy gets crossgrant's statements merged in by Sid, with
every foreign statement kept. Changes are listed per account in deploy order, one per
role, trust policy, inline policy, resource-policy statement and function.

Problems are what would make `apply` fail or do harm: a bucket, table or key the grant
names that does not exist (crossgrant does not create them), a policy it cannot read (it
would not know what to keep), a foreign statement already using one of its Sids.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.clients import Accounts, AccountSession, answer, error_code
from crossgrant.aws.functions import FunctionBundle, FunctionTarget, wanted
from crossgrant.aws.journal import Journal, function_key, policy_key, role_key
from crossgrant.aws.policies import LivePolicy, by_sid, canonical, store_for
from crossgrant.errors import CrossgrantError
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind, RoleArtifact
from crossgrant.serial import to_json
from crossgrant.world.merge import merge

GRANT_TAG = "crossgrant:grant"  # on every role crossgrant creates: whose it is


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-change"


class ChangeKind(enum.StrEnum):
    ROLE = "role"
    TRUST = "trust policy"
    INLINE = "inline policy"
    BUCKET = "bucket policy statement"
    TABLE = "table policy statement"
    STREAM = "stream policy statement"
    KEY = "key policy statement"
    FUNCTION = "function"


STATEMENT_KIND = {ResourceKind.BUCKET: ChangeKind.BUCKET, ResourceKind.TABLE: ChangeKind.TABLE,
                  ResourceKind.STREAM: ChangeKind.STREAM, ResourceKind.KEY: ChangeKind.KEY}


@dataclass(frozen=True, slots=True)
class Change:
    account: str
    kind: ChangeKind
    subject: str  # role ARN, bucket name, table ARN, stream ARN pattern, key ARN, function
    name: str  # the inline policy's name or the statement's Sid; "" otherwise
    action: Action
    before: Any = None
    after: Any = None
    note: str = ""

    @property
    def label(self) -> str:
        if self.kind is ChangeKind.ROLE:
            return f"role {self.subject}"
        if self.kind is ChangeKind.TRUST:
            return f"trust policy of {self.subject}"
        if self.kind is ChangeKind.INLINE:
            return f"inline policy {self.name!r} of {self.subject}"
        if self.kind is ChangeKind.FUNCTION:
            return f"function {self.subject}"
        return f"statement {self.name} in the {self.kind.value.split()[0]} policy of " \
               f"{self.subject}"


@dataclass(frozen=True, slots=True)
class Plan:
    artifacts: Artifacts
    changes: tuple[Change, ...]
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    order: tuple[tuple[str, str], ...] = field(default=())  # (side, account), deploy order

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for c in self.changes:
            counts[c.action.value] += 1
        return counts

    def __json__(self) -> dict[str, Any]:
        """Changes grouped by account in deploy order, with counts, for `plan --json`."""
        grant = self.artifacts.grant
        return {
            "grant": grant.name,
            "grant_file": grant.path,
            "accounts": [{"side": side, "account": account,
                          "changes": [c for c in self.changes if c.account == account]}
                         for side, account in self.order],
            "summary": self.summary(),
            "pending": len(self.pending),
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


# --- live roles ------------------------------------------------------------------------

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
            inline[name] = _decoded(iam.get_role_policy(RoleName=art.name,
                                                        PolicyName=name)["PolicyDocument"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                return LiveRole(art.name, art.arn, exists=True,
                                problem=f"cannot read inline policy {name!r} of {art.arn}: "
                                        f"{answer(exc)}")
            inline[name] = None
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    return LiveRole(art.name, role["Arn"], exists=True,
                    trust=_decoded(role.get("AssumeRolePolicyDocument")),
                    max_session_duration=int(role.get("MaxSessionDuration",
                                                      DEFAULT_MAX_SESSION_SECONDS)),
                    path=role.get("Path", "/"), tags=tags, inline=inline)


def _decoded(doc: Any) -> dict[str, Any] | None:
    """IAM documents come back as dicts from boto3, or URL-encoded text from elsewhere."""
    if doc is None:
        return None
    if isinstance(doc, dict):
        return doc
    from urllib.parse import unquote  # noqa: PLC0415

    text = str(doc)
    parsed = json.loads(unquote(text) if text.startswith("%7B") else text)
    return parsed if isinstance(parsed, dict) else None


def role_tags(art: RoleArtifact, grant: str) -> dict[str, str]:
    return {**dict(art.tags), GRANT_TAG: grant}


def _role_changes(art: RoleArtifact, live: LiveRole, grant: str, changes: list[Change],
                  problems: list[str], warnings: list[str]) -> None:
    if live.problem is not None:
        problems.append(live.problem)
        return
    if not live.exists:
        if not art.create:
            problems.append(f"role {art.arn} does not exist; the grant says it does "
                            f"(source.existing_role), so crossgrant only adds a policy to it")
            return
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.CREATE,
                              None, {"trust_policy": art.trust_policy,
                                     "max_session_duration": art.max_session_duration,
                                     "tags": role_tags(art, grant)}, art.purpose))
        for name, doc in art.inline_policies:
            changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name,
                                  Action.CREATE, None, doc))
        return
    foreign = not live.owned_by(grant)
    if live.path != "/":
        warnings.append(f"role {live.arn} has path {live.path}: the grant's documents name "
                        f"{art.arn}")
    if art.trust_policy is not None:
        same = canonical(live.trust) == canonical(art.trust_policy)
        note = ""
        if foreign and not same:
            note = "the role was not created by crossgrant: destroy puts this trust back"
            warnings.append(f"role {art.arn} exists and was not created by crossgrant: its "
                            f"trust policy will be replaced (the journal keeps the old one "
                            f"and destroy restores it; the role itself stays)")
        changes.append(Change(art.account, ChangeKind.TRUST, art.arn, "",
                              Action.NOOP if same else Action.UPDATE, live.trust,
                              art.trust_policy, note))
    if live.max_session_duration < art.max_session_duration:
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.UPDATE,
                              {"max_session_duration": live.max_session_duration},
                              {"max_session_duration": art.max_session_duration}))
    else:
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.NOOP))
    for name, doc in art.inline_policies:
        before = live.inline.get(name)
        if before is None:
            action = Action.CREATE
        else:
            action = Action.NOOP if canonical(before) == canonical(doc) else Action.UPDATE
        changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name, action, before,
                              doc))


def _statement_changes(artifacts: Artifacts, live: LivePolicy, statements: tuple[Any, ...],
                       changes: list[Change], problems: list[str]) -> None:
    kind = STATEMENT_KIND[live.kind]
    account = artifacts.grant.target.account
    if live.problem is not None:
        problems.append(f"{live.label}: {live.problem}"
                        + ("; crossgrant does not create buckets, tables, streams or keys"
                           if not live.exists else ""))
        return
    try:
        doc = live.document
        merge(doc, statements, artifacts.owns, live.label)
    except CrossgrantError as exc:
        problems.append(str(exc))
        return
    ours = by_sid(doc, artifacts.owns)
    for st in statements:
        before = ours.get(st["Sid"])
        if before is None:
            action = Action.CREATE
        else:
            action = Action.NOOP if canonical(before) == canonical(st) else Action.UPDATE
        changes.append(Change(account, kind, live.resource, st["Sid"], action, before, st))
    wanted_sids = {st["Sid"] for st in statements}
    for sid, st in ours.items():
        if sid not in wanted_sids:
            changes.append(Change(account, kind, live.resource, sid, Action.DELETE, st, None,
                                  "no longer part of the grant"))


def _requirement_warnings(artifacts: Artifacts, accounts: Accounts) -> list[str]:
    out: list[str] = []
    target = accounts.target
    region = artifacts.grant.target.region
    for req in artifacts.requirements:
        actual: str | None = None
        try:
            if req.kind is ResourceKind.BUCKET and req.field == "object_ownership":
                try:
                    rules = target.client("s3", region).get_bucket_ownership_controls(
                        Bucket=req.resource)["OwnershipControls"]["Rules"]
                    actual = rules[0]["ObjectOwnership"] if rules else "ObjectWriter"
                except ClientError as exc:
                    if error_code(exc) != "OwnershipControlsNotFoundError":
                        raise
                    actual = "ObjectWriter"
            elif req.kind is ResourceKind.KEY and req.field == "aws_managed":
                meta = target.client("kms", region).describe_key(KeyId=req.resource)
                actual = str(meta["KeyMetadata"].get("KeyManager") == "AWS").lower()
        except ClientError as exc:
            out.append(f"could not check that {req.resource} has {req.field} {req.value}: "
                       f"{answer(exc)}")
            continue
        if actual is not None and actual != req.value:
            out.append(f"{req.resource}: {req.field} is {actual}, the grant needs "
                       f"{req.value}: {req.why}")
    return out


def make_plan(artifacts: Artifacts, accounts: Accounts, *,
              function: FunctionBundle | None = None,
              functions: FunctionTarget | None = None,
              journal: Journal | None = None) -> Plan:
    """Read what the grant touches in both accounts and list what apply would change.

    With the journal, what an earlier version of the grant deployed and this one no longer
    renders (a bucket dropped from the grant, the target role after a switch to
    resource-policy mode) is listed for removal too."""
    grant = artifacts.grant
    changes: list[Change] = []
    problems: list[str] = []
    warnings: list[str] = []
    sides = {"source": grant.source.account, "target": grant.target.account}
    order = tuple((side, sides[side]) for side in artifacts.deploy_order)
    for _, account in order:
        session = accounts.session(account)
        for art in artifacts.roles_in(account):
            _role_changes(art, read_role(session, art), grant.name, changes, problems,
                          warnings)
        if account == grant.source.account and function is not None:
            changes.extend(_function_changes(artifacts, function, functions, problems))
        for ps in artifacts.policies_in(account):
            live = store_for(session, ps.kind, ps.resource, grant.target.region).read()
            _statement_changes(artifacts, live, ps.statements, changes, problems)
    warnings.extend(_requirement_warnings(artifacts, accounts))
    if journal is not None:
        gone, notes = undo_changes(artifacts, accounts, journal, orphans(artifacts, journal))
        changes.extend(replace(c, note=c.note or "no longer part of the grant") for c in gone)
        warnings.extend(notes)
    return Plan(artifacts, tuple(changes), tuple(problems), tuple(warnings), order)


# --- undoing: destroy, and what the grant no longer renders -----------------------------

@dataclass(frozen=True, slots=True)
class Scope:
    """The roles and resource policies an undo covers."""

    policies: tuple[PolicyStatements, ...] = ()
    roles: tuple[RoleArtifact, ...] = ()
    function: bool = False

    @property
    def empty(self) -> bool:
        return not (self.policies or self.roles or self.function)


def everything(artifacts: Artifacts, journal: Journal) -> Scope:
    """What destroy covers: the grant as rendered now, and what the journal adds."""
    extra = orphans(artifacts, journal)
    return Scope(artifacts.resource_policies + extra.policies, artifacts.roles + extra.roles,
                 True)


def orphans(artifacts: Artifacts, journal: Journal) -> Scope:
    """What the journal says crossgrant put somewhere the grant no longer renders."""
    policies: list[PolicyStatements] = []
    roles: dict[str, RoleArtifact] = {}
    rendered = {policy_key(p.kind.value, p.resource) for p in artifacts.resource_policies}
    rendered_roles = {r.arn for r in artifacts.roles}
    records = journal.resources()
    for key, record in records.items():
        kind = record.get("kind")
        if key.startswith("policy:") and key not in rendered:
            try:
                policies.append(PolicyStatements(str(record["account"]),
                                                 ResourceKind(str(kind)),
                                                 str(record["resource"]), ()))
            except (KeyError, ValueError):
                continue
        elif kind in ("role", "inline-policy"):
            arn = str(record.get("arn") or record.get("role") or "")
            if not arn or arn in rendered_roles or arn in roles:
                continue
            names = tuple(sorted({str(r["name"]) for r in records.values()
                                  if r.get("kind") == "inline-policy" and r.get("role") == arn}))
            created = bool((records.get(role_key(arn)) or {}).get("created"))
            roles[arn] = RoleArtifact(account=arn.split(":")[4], name=arn.rsplit("/", 1)[-1],
                                      trust_policy=None,
                                      inline_policies=tuple((n, {}) for n in names),
                                      create=created)
    return Scope(tuple(policies), tuple(roles.values()))


def undo_changes(artifacts: Artifacts, accounts: Accounts, journal: Journal,
                 scope: Scope) -> tuple[list[Change], list[str]]:
    """What taking `scope` out again would change, target account first (its policies name
    the source's role), and notes on what stays."""
    grant = artifacts.grant
    changes: list[Change] = []
    notes: list[str] = []
    for account in (grant.target.account, grant.source.account):
        session = accounts.session(account)
        for ps in (p for p in scope.policies if p.account == account):
            live = store_for(session, ps.kind, ps.resource, grant.target.region).read()
            if live.problem is not None:
                if live.exists:
                    notes.append(f"{live.label}: {live.problem}")
                continue
            ours = by_sid(live.document, artifacts.owns)
            for sid, st in ours.items():
                changes.append(Change(account, STATEMENT_KIND[ps.kind], ps.resource, sid,
                                      Action.DELETE, st, None))
            if ours and journal.original(policy_key(ps.kind.value, ps.resource)) is None:
                notes.append(f"{live.label}: the journal has no record of it before "
                             f"crossgrant, so its other statements are kept but the text is "
                             f"not restored byte for byte")
        if account == grant.source.account and scope.function:
            record = journal.original(function_key(grant.source.function))
            if record is not None and record.get("created"):
                changes.append(Change(account, ChangeKind.FUNCTION, grant.source.function, "",
                                      Action.DELETE))
            elif record is not None:
                notes.append(f"function {grant.source.function} existed before crossgrant "
                             f"deployed it: left in place")
        for art in (r for r in scope.roles if r.account == account):
            _role_undo(art, read_role(session, art), journal, grant.name, changes, notes)
    return changes, notes


def _role_undo(art: RoleArtifact, live: LiveRole, journal: Journal, grant: str,
               changes: list[Change], notes: list[str]) -> None:
    if live.problem is not None:
        notes.append(live.problem)
        return
    if not live.exists:
        return
    record = journal.original(role_key(art.arn))
    # Created by crossgrant: by this grant (journal, tag), or by another grant that shares
    # the role; it goes once no grant's policy is left on it.
    created = bool(record is not None and record.get("created")) or GRANT_TAG in live.tags
    for name, _ in art.inline_policies:
        if live.inline.get(name) is not None:
            changes.append(Change(art.account, ChangeKind.INLINE, art.arn, name, Action.DELETE,
                                  live.inline[name], None))
    if created:
        changes.append(Change(art.account, ChangeKind.ROLE, art.arn, "", Action.DELETE, None,
                              None, "unless other policies are left on it"))
    elif record is not None and record.get("trust_policy") is not None:
        if canonical(record["trust_policy"]) != canonical(live.trust):
            changes.append(Change(art.account, ChangeKind.TRUST, art.arn, "", Action.UPDATE,
                                  live.trust, record["trust_policy"],
                                  "restored as it was before crossgrant"))
    elif art.trust_policy is not None and art.create:
        notes.append(f"role {art.arn} was not created by crossgrant and the journal has no "
                     f"earlier trust policy: its trust policy is left as is")


def _function_changes(artifacts: Artifacts, bundle: FunctionBundle,
                      functions: FunctionTarget | None, problems: list[str]) -> list[Change]:
    grant = artifacts.grant
    if functions is None:
        problems.append("a function package was given but there is no way to deploy it here")
        return []
    try:
        live = functions.read(grant.source.function)
    except CrossgrantError as exc:
        problems.append(str(exc))
        return []
    after = wanted(bundle, grant.execution_role_arn, sandbox=functions.sandbox)
    if live is None:
        return [Change(grant.source.account, ChangeKind.FUNCTION, grant.source.function, "",
                       Action.CREATE, None, after)]
    before = {k: v for k, v in to_json(live).items() if k in after}
    action = Action.NOOP if before == after else Action.UPDATE
    return [Change(grant.source.account, ChangeKind.FUNCTION, grant.source.function, "",
                   action, before, after)]


__all__ = ["GRANT_TAG", "STATEMENT_KIND", "Action", "Change", "ChangeKind", "LiveRole", "Plan",
           "Scope", "everything", "make_plan", "orphans", "read_role", "role_tags",
           "undo_changes"]

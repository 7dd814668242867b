"""Artifacts -> one Terraform configuration spanning both accounts.

Two aliased AWS providers, each pinned with `allowed_account_ids`, so credentials for the
wrong account fail at plan time instead of creating roles there. Policies are heredoc
JSON rather than `jsonencode(...)`: both HCL parsers in use (python-hcl2 and the fork
checkov bundles) hand heredocs back as the exact JSON text, which is what reviewers,
tests and checkov's policy checks read; a `jsonencode` object comes back as unevaluated
expression text. Where a document names a role this configuration manages, it refers to
the role's `arn` attribute, so Terraform creates the execution role before the policies
that name it (the ordering the notes demand) and uses the role's real ARN.

Resource policies follow the same ownership rule as the CloudFormation export: only
resources named in `owned` get an `aws_s3_bucket_policy`, `aws_dynamodb_resource_policy` or
`aws_kms_key_policy`, which replaces the whole policy; every other policy's statements
are emitted as an output for `crossgrant deploy` to merge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crossgrant.errors import RenderError
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind, RoleArtifact
from crossgrant.render.jsonfiles import (
    ACCOUNT_TRUST_SKIP,
    MERGE_HINT,
    check_owned,
    generator,
    narrowed_account_trust,
    ordered,
    owned_policy_document,
    resource_slug,
    statements_document,
)

AWS_PROVIDER_VERSION = ">= 5.43.0"  # aws_dynamodb_resource_policy first shipped in 5.43.0
TERRAFORM_VERSION = ">= 1.3.0"

_POLICY_RESOURCE = {ResourceKind.BUCKET: ("aws_s3_bucket_policy", "bucket"),
                    ResourceKind.TABLE: ("aws_dynamodb_resource_policy", "resource_arn"),
                    ResourceKind.KEY: ("aws_kms_key_policy", "key_id")}


def to_terraform(artifacts: Artifacts, owned: Collection[str] = ()) -> dict[str, str]:
    owned_set = check_owned(artifacts, owned)
    for ps in artifacts.resource_policies:
        if ps.resource in owned_set and ps.kind is ResourceKind.STREAM:
            raise RenderError(
                f"{ps.label}: a stream's policy attaches to one stream ARN, which changes "
                f"whenever the stream is re-enabled; leave it to `crossgrant deploy`")
    config = _Config(artifacts, owned_set)
    return {"versions.tf": config.versions(), "variables.tf": config.variables(),
            "main.tf": config.main(), "outputs.tf": config.outputs()}


# --- a small HCL writer ----------------------------------------------------------------

@dataclass
class Attr:
    name: str
    value: str  # a rendered expression; may span lines (heredoc, object)


@dataclass
class Block:
    type: str
    labels: tuple[str, ...] = ()
    body: list[Attr | Block | str] = field(default_factory=list)  # str: a comment line

    def render(self, indent: int = 0) -> str:
        pad = " " * indent
        head = " ".join([self.type, *(_quote(label) for label in self.labels)])
        lines = [f"{pad}{head} {{"]
        run: list[Attr] = []

        def flush() -> None:
            # Like `terraform fmt`: the `=` of adjacent attributes line up.
            width = max((len(_key(a.name)) for a in run), default=0)
            for a in run:
                value = _reindent(a.value, indent + 2)
                lines.append(f"{pad}  {_key(a.name).ljust(width)} = {value}")
            run.clear()

        for item in self.body:
            if isinstance(item, Attr):
                run.append(item)
                continue
            flush()
            if isinstance(item, Block):
                if len(lines) > 1:
                    lines.append("")
                lines.append(item.render(indent + 2))
            else:
                # Comments are written as `#text` when they are directives (checkov reads
                # `#checkov:skip=...`), `# text` otherwise.
                sep = "" if item.startswith("checkov:") else " "
                lines.append(f"{pad}  #{sep}{item}" if item else "")
        flush()
        lines.append(f"{pad}}}")
        return "\n".join(lines)


def _reindent(value: str, indent: int) -> str:
    """Continuation lines of a multi-line expression are written relative to column 0 and
    shifted to the attribute's depth here."""
    first, *rest = value.split("\n")
    return "\n".join([first, *((" " * indent + line) if line else line for line in rest)])


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _key(name: str) -> str:
    return name if _IDENT.fullmatch(name) else _quote(name)


def _escape_template(text: str) -> str:
    """`${` and `%{` start interpolations in every HCL string; IAM policy variables such as
    `${aws:username}` must reach AWS literally."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _quote(text: str) -> str:
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return f'"{_escape_template(body)}"'


def _ref(expression: str) -> str:
    return "${" + expression + "}"


def _heredoc(text: str) -> str:
    body = text.rstrip("\n").split("\n")
    return "\n".join(["<<-EOT", *("  " + line for line in body), "EOT"])


def _string_map(pairs: Iterable[tuple[str, str]]) -> str:
    items = list(pairs)
    width = max(len(_key(k)) for k, _ in items)
    return "\n".join(["{", *(f"  {_key(k).ljust(width)} = {_quote(v)}" for k, v in items),
                      "}"])


def _comment_lines(text: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


# --- the configuration -----------------------------------------------------------------

class _Config:
    """What the four files say, built from one set of names so they cannot disagree."""

    def __init__(self, artifacts: Artifacts, owned: frozenset[str]) -> None:
        self.artifacts = artifacts
        self.grant = artifacts.grant
        self.owned = owned
        # side -> (account, region)
        self.sides: dict[str, tuple[str, str]] = {
            "source": (self.grant.source.account, self.grant.source.region),
            "target": (self.grant.target.account, self.grant.target.region)}
        # ARN -> Terraform expression, for every role this configuration manages or reads.
        self.links: dict[str, str] = {}
        self.role_names: dict[str, str] = {}
        for role in artifacts.roles:
            local = self._role_local(role)
            self.role_names[role.arn] = local
            kind = "aws_iam_role" if role.create else "data.aws_iam_role"
            self.links[role.arn] = f"{kind}.{local}.arn"

    # names

    def _role_local(self, role: RoleArtifact) -> str:
        if role.arn == self.grant.execution_role_arn:
            return "execution"
        if role.arn == self.grant.target_role_arn:
            return "target"
        return "role_" + _local(role.name)

    def _header(self, what: str) -> str:
        lines = [f"Generated by {generator()} from grant {self.grant.name!r} "
                 f"({self.grant.path}): {what}.",
                 "Do not edit; re-render with `crossgrant render`."]
        return "".join(f"# {line}\n" for line in lines) + "\n"

    def _policy_json(self, document: Mapping[str, Any], *, compact: bool = False,
                     skip: str | None = None) -> str:
        """The document as heredoc JSON, with managed roles' ARNs as references (except
        `skip`, the role whose own document this is: a role cannot depend on itself)."""
        text = json.dumps(ordered(document), indent=None if compact else 2,
                          separators=(",", ":") if compact else None, ensure_ascii=False)
        text = _escape_template(text)
        for arn, expression in self.links.items():
            if arn != skip:
                text = text.replace(json.dumps(arn), json.dumps(_ref(expression)))
        return _heredoc(text)

    def _merged(self) -> list[PolicyStatements]:
        return [ps for ps in self.artifacts.resource_policies if ps.resource not in self.owned]

    # files

    def versions(self) -> str:
        terraform = Block("terraform", body=[
            Attr("required_version", _quote(TERRAFORM_VERSION)),
            Block("required_providers", body=[Attr("aws", _string_map(
                [("source", "hashicorp/aws"), ("version", AWS_PROVIDER_VERSION)]))])])
        return self._header("Terraform and provider versions") + terraform.render() + "\n"

    def variables(self) -> str:
        blocks: list[Block] = []
        for side, (account, _region) in self.sides.items():
            blocks.append(Block("variable", (f"{side}_account_id",), [
                Attr("description", _quote(
                    f"The {side} account. Pinned: every ARN in this configuration was "
                    f"rendered for {account}; a different account needs a re-render.")),
                Attr("type", "string"),
                Attr("default", _quote(account)),
                Block("validation", body=[
                    Attr("condition", f"can(regex({_quote('^[0-9]{12}$')}, "
                                      f"var.{side}_account_id))"),
                    Attr("error_message", _quote(f"{side}_account_id must be a 12-digit AWS "
                                                 f"account id."))]),
                Block("validation", body=[
                    Attr("condition", f"var.{side}_account_id == {_quote(account)}"),
                    Attr("error_message", _quote(
                        f"This configuration was rendered for {side} account {account}; "
                        f"re-render the grant instead of overriding {side}_account_id."))]),
            ]))
            blocks.append(Block("variable", (f"{side}_profile",), [
                Attr("description", _quote(
                    f"AWS CLI profile with credentials for the {side} account {account} "
                    f"(null: the default credential chain).")),
                Attr("type", "string"),
                Attr("default", "null"),
            ]))
        return (self._header("input variables")
                + "\n\n".join(b.render() for b in blocks) + "\n")

    def main(self) -> str:
        parts: list[str] = [self._preamble()]
        for side, (_account, region) in self.sides.items():
            parts.append(Block("provider", ("aws",), [
                Attr("alias", _quote(side)),
                Attr("region", _quote(region)),
                Attr("profile", f"var.{side}_profile"),
                Attr("allowed_account_ids", f"[var.{side}_account_id]"),
            ]).render())
        for side, (account, _region) in self.sides.items():
            roles = self.artifacts.roles_in(account)
            owned = [ps for ps in self.artifacts.policies_in(account)
                     if ps.resource in self.owned]
            if not roles and not owned:
                continue
            parts.append(f"# --- {side} account {account} " + "-" * 40)
            for role in roles:
                parts.extend(b.render() for b in self._role_blocks(side, role))
            for ps in owned:
                parts.append(self._owned_policy(side, ps))
        return "\n\n".join(parts) + "\n"

    def _preamble(self) -> str:
        lines = [f"Generated by {generator()} from grant {self.grant.name!r} "
                 f"({self.grant.path}).",
                 "Do not edit; re-render with `crossgrant render`.",
                 "",
                 f"One configuration for both accounts: source {self.grant.source.account}, "
                 f"target {self.grant.target.account}. Set source_profile and "
                 f"target_profile (or the default credential chain) so that each provider "
                 f"reaches its own account; allowed_account_ids refuses any other."]
        for note in self.artifacts.notes:
            lines += ["", f"Note: {note}. Terraform keeps that order by itself: documents refer "
                          f"to the roles' arn attributes."]
        for req in self.artifacts.requirements:
            lines += ["", f"Requires: {req.kind.value} {req.resource} has {req.field} = "
                          f"{req.value}: {req.why}."]
        merged = self._merged()
        if merged:
            lines += ["", "NOT applied by this configuration (see outputs.tf; "
                          f"{MERGE_HINT}):"]
            lines += [f"  - the {ps.label}" for ps in merged]
        out: list[str] = []
        for line in lines:
            if not line:
                out.append("#")
            elif line.startswith("  - "):  # list items stay one per line
                out.append(f"# {line}")
            else:
                out.extend(f"# {part}" for part in _comment_lines(line))
        return "\n".join(out)

    def _role_blocks(self, side: str, role: RoleArtifact) -> list[Block]:
        local = self.role_names[role.arn]
        provider = Attr("provider", f"aws.{side}")
        blocks: list[Block] = []
        if role.create:
            body: list[Attr | Block | str] = []
            if narrowed_account_trust(role.trust_policy):
                body.append("checkov:skip={}:{}".format(*ACCOUNT_TRUST_SKIP))
            body += [
                provider,
                Attr("name", _quote(role.name)),
                Attr("description", _quote(f"crossgrant {self.grant.name}: {role.purpose}")),
                Attr("max_session_duration", str(role.max_session_duration)),
            ]
            if role.trust_policy is not None:
                body.append(Attr("assume_role_policy",
                                 self._policy_json(role.trust_policy, skip=role.arn)))
            if role.tags:
                body.append(Attr("tags", _string_map(role.tags)))
            blocks.append(Block("resource", ("aws_iam_role", local), body))
            role_ref = f"aws_iam_role.{local}.name"
        else:
            # Reading the role makes plan fail early if it is missing and yields its real
            # ARN (with its path) for the target account's documents.
            blocks.append(Block("data", ("aws_iam_role", local), [
                provider, Attr("name", _quote(role.name))]))
            role_ref = f"data.aws_iam_role.{local}.name"
        for policy_name, doc in role.inline_policies:
            blocks.append(Block("resource", ("aws_iam_role_policy",
                                             f"{local}_{_local(policy_name)}"), [
                provider,
                Attr("name", _quote(policy_name)),
                Attr("role", role_ref),
                Attr("policy", self._policy_json(doc, skip=role.arn)),
            ]))
        return blocks

    def _owned_policy(self, side: str, ps: PolicyStatements) -> str:
        resource_type, target_attr = _POLICY_RESOURCE[ps.kind]
        head = [f"OWNS the whole {ps.label}: applying replaces any policy it has."]
        if ps.kind is ResourceKind.KEY:
            head.append("AWS's default key administration statement stays in it, so that "
                        "the account can still manage the key.")
        block = Block("resource", (resource_type, _local(resource_slug(ps))), [
            Attr("provider", f"aws.{side}"),
            Attr(target_attr, _quote(ps.resource)),
            "Compact JSON: the service counts whitespace against its policy size limit.",
            Attr("policy", self._policy_json(owned_policy_document(self.artifacts, ps),
                                              compact=True)),
        ])
        return "".join(f"# {line}\n" for line in head) + block.render()

    def outputs(self) -> str:
        blocks: list[Block] = []
        for role in self.artifacts.roles:
            local = self.role_names[role.arn]
            blocks.append(Block("output", (f"{local}_role_arn",), [
                Attr("description", _quote(f"ARN of {role.name} ({role.purpose})")),
                Attr("value", self.links[role.arn]),
            ]))
        for ps in self._merged():
            blocks.append(Block("output", (f"merge_{_local(resource_slug(ps))}",), [
                Attr("description", _quote(
                    f"NOT applied by this configuration: the {ps.label}. {MERGE_HINT}.")),
                Attr("value", _heredoc(_escape_template(
                    json.dumps(statements_document(ps), indent=2, ensure_ascii=False)))),
            ]))
        return (self._header("outputs")
                + "\n\n".join(b.render() for b in blocks) + "\n")


def _local(text: str) -> str:
    """A Terraform name: letters, digits and underscores, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return name if name[:1].isalpha() else f"r_{name}"

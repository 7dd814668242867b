"""Which documents of the applied world are the grant's, and which of their statements.

The picture is drawn from what a deploy leaves in the accounts: the grant's roles' trust
and inline policies (put whole) and, in the bucket, table, stream and key policies the
grant merges into, the statements whose Sid it owns (the others belong to other teams).
Reading them back from the applied `AccountState` rather than from the artifacts' raw
JSON means each statement is the compiled one the engine evaluates, with the label and
JSON path that `verify` and `diagnose` name.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossgrant.iam import Policy, Statement
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind
from crossgrant.world import AccountState, DocAddress, DocKind, documents, get

__all__ = ["GrantDocument", "grant_documents"]

@dataclass(frozen=True, slots=True)
class GrantDocument:
    address: DocAddress
    policy: Policy
    statements: tuple[Statement, ...]  # the grant's statements in it, in document order
    whole: bool  # put whole by the grant (a role's), or merged into by Sid


def grant_documents(artifacts: Artifacts, state: AccountState) -> tuple[GrantDocument, ...]:
    """The grant's documents in `state` (the state after applying `artifacts`).

    An existing role's trust policy is not the grant's, but it decides who runs as the
    role, so it is read from the state when the state holds it; a document the state
    could not read is left out (the picture then says so instead of guessing).
    """
    out: list[GrantDocument] = []
    for role in artifacts.roles:
        addresses = [DocAddress(DocKind.TRUST, role.account, role.arn)]
        addresses += [DocAddress(DocKind.INLINE, role.account, role.arn, name)
                      for name, _ in role.inline_policies]
        for addr in addresses:
            doc = get(state, addr)
            if isinstance(doc, Policy):
                whole = addr.kind is DocKind.INLINE or role.trust_policy is not None
                out.append(GrantDocument(addr, doc, doc.statements, whole))
    for addr, doc in documents(state):
        if isinstance(doc, Policy) and any(_merged_into(addr, ps)
                                           for ps in artifacts.resource_policies):
            owned = tuple(s for s in doc.statements if artifacts.owns(s.sid))
            if owned:
                out.append(GrantDocument(addr, doc, owned, False))
    return tuple(out)


def _merged_into(addr: DocAddress, ps: PolicyStatements) -> bool:
    """Is `addr` the document `ps` merges into? (A stream policy's address names the
    table's actual stream, `ps` the pattern `table/stream/*`.)"""
    if addr.kind.value != ps.kind.value or addr.account != ps.account:  # same names
        return False
    if ps.kind is ResourceKind.STREAM:
        return addr.owner.startswith(ps.resource.removesuffix("*"))
    return addr.owner == ps.resource

"""Run the registered rules over one document and order what they find."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossgrant.findings import Finding, Location
from crossgrant.verify.lint.document import Kind, prepare
from crossgrant.verify.lint.registry import RULES

__all__ = ["lint_document"]


def lint_document(doc: Mapping[str, Any] | str, *, name: str, kind: Kind | None = None,
                  owner_account: str | None = None) -> list[Finding]:
    """Every rule's findings for one document, doc-level first, then by statement.

    `kind` is inferred when None (`infer_kind`). `owner_account` is the account that owns
    the resource of a resource policy; without it, every account a bucket policy names is
    taken as another account.
    """
    ctx = prepare(doc, name, kind, owner_account)
    rules = [RULES["CG100"]] if ctx.error is not None else list(RULES.values())
    found: list[tuple[int, str, Finding]] = []
    for rule in rules:
        for h in rule.check(ctx):
            found.append((-1 if h.index is None else h.index, rule.code,
                          Finding(rule.code, h.severity or rule.severity, h.message, h.fix,
                                  Location(document=name, path=h.path, statement=h.label))))
    found.sort(key=lambda t: (t[0], t[1]))
    return [f for _, _, f in found]

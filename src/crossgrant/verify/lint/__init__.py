"""Lint IAM policy documents: the mistakes AWS stores without a word.

AWS rejects a malformed document, but it accepts one that grants nothing (`s3:ListBucket`
on an object ARN), or far more than meant (`s3:*`, a trust policy open to a whole
account). Such mistakes surface months later as an AccessDenied, or never. Each check has
a stable code (`CG1xx`), so a team can select, ignore and discuss them by name as with
ruff, and every finding says how to fix it.

The package keeps one module per rule family, as ruff keeps one file per rule:
`registry` (codes -> rules, selectors), `document` (a document and its statements as the
checks read them), `engine` (runs the registry over a document), `inputs` (JSON files,
lists of documents, prose with policy blocks), `arns` (resource types from the catalog),
and the rules: `invalid` (CG100), `actions` (CG101, CG103), `resources` (CG102, CG104,
CG114-CG116), `principals` (CG105, CG107, CG110), `conditions` (CG106, CG111), `size`
(CG108), `structure` (CG109, CG112).
"""

from __future__ import annotations

from crossgrant.findings import Finding

# Importing a rule module registers its rules; the registry is then put in code order.
from crossgrant.verify.lint import (  # noqa: F401
    actions,
    conditions,
    invalid,
    principals,
    resources,
    size,
    structure,
)
from crossgrant.verify.lint.document import KINDS, Kind, infer_kind
from crossgrant.verify.lint.engine import lint_document
from crossgrant.verify.lint.inputs import NoPolicyError, lint_file, lint_text
from crossgrant.verify.lint.registry import RULES, SEVERITIES, Rule, Severity, select_codes

__all__ = [
    "KINDS",
    "RULES",
    "SEVERITIES",
    "Finding",
    "Kind",
    "NoPolicyError",
    "Rule",
    "Severity",
    "infer_kind",
    "lint_document",
    "lint_file",
    "lint_text",
    "select_codes",
]

for _code in sorted(RULES):
    RULES[_code] = RULES.pop(_code)

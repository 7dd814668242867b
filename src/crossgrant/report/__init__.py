"""`crossgrant report`: one Markdown review page per grant (docs/report.md).

The page's parts are functions other pages reuse: `build_model` (the access graph from
the documents in the applied world), `mermaid.flowchart(model, highlight=...)`,
`markdown.access_table` / `markdown.table`, `model_of_documents` (a state's documents
drawn without a grant, for `crossgrant diff --format markdown`), and the sections `page` joins
(`summary_section`, `access_section(report, highlight)`, `documents_section`,
`verify_section`, `findings_section`).
"""

from crossgrant.report import markdown, mermaid
from crossgrant.report.build import build_model, model_of_documents, model_of_state
from crossgrant.report.model import (
    AccessLine,
    AccessModel,
    Edge,
    EdgeEffect,
    EdgeKey,
    Group,
    GroupKind,
    Highlight,
    Node,
    NodeKind,
    StatementSource,
    changes,
    removed_edges,
)
from crossgrant.report.page import (
    GrantReport,
    access_section,
    build_report,
    documents_section,
    findings_section,
    page,
    summary_section,
    verify_section,
)

__all__ = [
    "AccessLine",
    "AccessModel",
    "Edge",
    "EdgeEffect",
    "EdgeKey",
    "GrantReport",
    "Group",
    "GroupKind",
    "Highlight",
    "Node",
    "NodeKind",
    "StatementSource",
    "access_section",
    "build_model",
    "build_report",
    "changes",
    "documents_section",
    "findings_section",
    "markdown",
    "mermaid",
    "model_of_documents",
    "model_of_state",
    "page",
    "removed_edges",
    "summary_section",
    "verify_section",
]

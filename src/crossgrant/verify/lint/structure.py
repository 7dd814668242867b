"""Structure rules: elements that turn a statement inside out (CG109: NotAction or
NotResource with Allow) and policy variables that a document's Version makes literal text
(CG112)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from crossgrant.findings import Severity
from crossgrant.verify.lint.document import Document, Stmt
from crossgrant.verify.lint.registry import Hit, rule, statement_rule


@statement_rule(
    "CG109", "not-element-allow", Severity.WARNING,
    "NotAction or NotResource with Allow: grants everything except what is listed.",
    allow_only=True)
def check_not_elements(doc: Document, st: Stmt) -> Iterator[Hit]:
    if st.has("NotAction"):
        yield st.hit(st.at("NotAction"),
                     "Allow with NotAction grants every action except those listed, "
                     "including actions of services added later",
                     "list the actions to allow in Action instead")
    if st.has("NotResource"):
        yield st.hit(st.at("NotResource"),
                     "Allow with NotResource grants on every resource except those listed",
                     "list the resources to allow in Resource instead")


@rule("CG112", "literal-policy-variable", Severity.WARNING,
      "A policy variable (${...}) in a Version 2008-10-17 document, where it is literal "
      "text.")
def check_old_variables(doc: Document) -> Iterator[Hit]:
    version = doc.raw.get("Version")
    if version == "2012-10-17":
        return
    why = ("in a document without Version (read as 2008-10-17)" if version is None else
           "in a Version 2008-10-17 document")
    for st in doc.statements:
        places = st.values("Resource") + st.values("NotResource")
        places += [(v, f"{c.path}[{i}]") for c in st.conditions
                   for i, v in enumerate(c.values)]
        for value, path in places:
            m = re.search(r"\$\{[^}]*\}", value)
            if m:
                yield st.hit(path, f"{value!r} uses policy variable {m.group(0)}, which is "
                                   f"literal text {why}",
                             'add "Version": "2012-10-17" at the top of the document')

"""Read `grant.yaml` into a `Grant`, or fail with one line naming the file, line and field.

Three passes, each owning one kind of mistake:

1. YAML (`spec.source`): composed into a node tree, so every value keeps its line.
2. Shape and per-field rules (`spec.schema`, `spec.rules`): strict pydantic models whose
   error locations are mapped back to lines.
3. Rules that span fields (`spec.checks`): cross-account, mode, role chaining, KMS key
   owner, duplicates, checked on the validated models with explicit locations.

Loading writes nothing anywhere.
"""

from __future__ import annotations

from pathlib import Path

from crossgrant.spec.checks import build_grant
from crossgrant.spec.model import Grant
from crossgrant.spec.schema import validate
from crossgrant.spec.source import MAX_BYTES, Document, check_size, read_text

__all__ = ["MAX_BYTES", "load_grant", "parse_grant"]


def load_grant(path: str | Path) -> Grant:
    """Read and validate a grant file; the size cap is enforced before reading it all."""
    return parse_grant(read_text(path), str(path))


def parse_grant(text: str, path: str = "grant.yaml") -> Grant:
    """Validate grant text; `path` only names the source in messages and in `Grant.path`."""
    if len(text) > MAX_BYTES:  # cheap bound before encoding a huge string
        check_size(len(text), path)
    check_size(len(text.encode("utf-8", "surrogatepass")), path)
    if text.startswith("\ufeff"):
        text = text[1:]
    doc = Document(text, path)
    return build_grant(doc, validate(doc, doc.read()))

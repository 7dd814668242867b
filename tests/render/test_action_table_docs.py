"""The action table in docs/grants.md is the one in render/actions.py, level by level."""

from __future__ import annotations

import re
from pathlib import Path

from crossgrant.render import actions as table
from crossgrant.spec import S3Level, TableLevel

DOC = Path(__file__).resolve().parents[2] / "docs" / "grants.md"


def _doc_rows() -> dict[tuple[str, str], tuple[str, ...]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Rendering", 1)[1].split("\n\n", 3)[2]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("service", "---"):
            rows[(cells[0], cells[1])] = tuple(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", cells[2]))
    return rows


def test_docs_table_matches_code() -> None:
    rows = _doc_rows()
    for level in S3Level:
        expected = table.S3_OBJECT_ACTIONS[level] + table.S3_BUCKET_ACTIONS.get(level, ())
        assert rows[("s3", level.value)] == expected
    for level, actions in table.KMS_ACTIONS.items():
        assert rows[("kms", level.value)] == actions
    for tlevel in TableLevel:
        assert rows[("dynamodb", tlevel.value)] == table.TABLE_ACTIONS[tlevel]
    assert rows[("dynamodb", "read (indexes)")] == table.INDEX_ACTIONS
    assert rows[("dynamodb", "streams")] == table.STREAM_ACTIONS
    assert rows[("sts", "assume-role mode")] == table.ASSUME_ACTIONS
    assert rows[("logs", "always")] == table.LOG_ACTIONS

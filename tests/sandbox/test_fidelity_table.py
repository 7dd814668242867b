"""docs/sandbox.md's table "What the sandbox enforces, and what it does not" says what the
code declares: the same rule ids with the same verdicts, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path

from crossgrant.sandbox.services import RULES, registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
HEADING = "## What the sandbox enforces, and what it does not"
ROW = re.compile(r"^\| `([a-z0-9.-]+)` \| (yes|no) \| (.+) \|$")


def _table() -> list[tuple[str, bool, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2) == "yes", m.group(3))
            for line in section.splitlines() if (m := ROW.match(line))]


def test_the_table_lists_exactly_the_rules_the_code_declares() -> None:
    rows = _table()
    assert len({rule for rule, _, _ in rows}) == len(rows), "a rule is listed twice"
    assert {(rule, enforced) for rule, enforced, _ in rows} == \
        {(r.id, r.enforced) for r in RULES}
    assert len({r.id for r in RULES}) == len(RULES)


def test_every_rule_says_what_it_covers() -> None:
    written = {rule: what for rule, _, what in _table()}
    assert all(written[r.id] == r.summary for r in RULES)


def test_every_service_the_sandbox_serves_declares_its_rules() -> None:
    from crossgrant.sandbox.credentials import CredentialStore  # noqa: PLC0415
    from crossgrant.sandbox.services.s3.policies import BucketPolicies  # noqa: PLC0415
    from crossgrant.sandbox.state import StateCache  # noqa: PLC0415

    served = registry(StateCache((), ()), CredentialStore(), BucketPolicies(), "eu-west-1")
    declared = {r.id for r in RULES}
    for service in served:
        assert service.rules, f"{service.name} declares no rules"
        assert {r.id for r in service.rules} <= declared

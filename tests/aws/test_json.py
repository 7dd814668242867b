"""The `--json` output of plan, deploy, destroy, probe and snapshot is a contract for
scripts: `crossgrant.serial.to_json` of each result must give exactly the text in
golden/results.json (written by the hand-made `as_json` methods these replaced)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crossgrant.aws.deploy import ApplyResult, DestroyResult, StepResult
from crossgrant.aws.functions import FunctionBundle, LiveFunction, wanted
from crossgrant.aws.plan import Action, Change, ChangeKind, Plan
from crossgrant.aws.probe import ProbeReport, ProbeStep
from crossgrant.aws.snapshot import SnapshotResult
from crossgrant.render import render
from crossgrant.serial import to_json
from crossgrant.spec import parse_grant
from crossgrant.world import AccountState

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden") / "results.json"


def results() -> dict[str, Any]:
    """One value of each result type, with every field set to something telling."""
    text = (ROOT / "examples" / "thumbnails.yaml").read_text(encoding="utf-8")
    art = render(parse_grant(text, "examples/thumbnails.yaml"))
    src, tgt = art.grant.source.account, art.grant.target.account
    changes = (
        Change(src, ChangeKind.ROLE, f"arn:aws:iam::{src}:role/X", "", Action.CREATE, None,
               {"a": 1}),
        Change(tgt, ChangeKind.BUCKET, "b", "CgS3Object0", Action.NOOP, {"Sid": "x"},
               {"Sid": "x"}, "n"),
        Change(tgt, ChangeKind.INLINE, "r", "p", Action.UPDATE, [1, (2, 3)], None, "é"),
    )
    plan = Plan(art, changes, ("p1",), ("w1",), (("source", src), ("target", tgt)))
    steps = (StepResult(src, "create role", "r", "done", "ok", 1.23456),
             StepResult(tgt, "merge statements", "b", "failed"))
    bundle = FunctionBundle(Path("fn.zip"), "h.handler", "ab", "python3.12", 3, 128)
    return {
        "plan": plan,
        "apply": ApplyResult(plan, steps, False, "boom", "waited"),
        "destroy": DestroyResult(changes=changes, steps=steps, ok=True, error=None,
                                 notes=("left",)),
        "probe": ProbeReport("g", (ProbeStep("AssumeRole", "p", "r", "ok", "fine"),
                                   ProbeStep("GetObject", "p", "o", "skipped", "why"))),
        "live": LiveFunction("fn", "arn:aws:iam::1:role/r", "h.handler", "ab", None, 3, 128),
        "wanted": wanted(bundle, "arn:aws:iam::1:role/r", sandbox=True),
        "snapshot": SnapshotResult(AccountState(), "{}", ("u1",), ("w",),
                                   {src: {"roles": 2, "users": 0}}),
    }


@pytest.mark.parametrize("name", ["plan", "apply", "destroy", "probe", "live", "wanted",
                                  "snapshot"])
def test_json_output_is_unchanged(name: str) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    # The CLI prints json.dumps(to_json(result), indent=2): compare that text.
    assert json.dumps(to_json(results()[name]), indent=2) == json.dumps(golden[name], indent=2)

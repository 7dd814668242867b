"""`crossgrant verify --format sarif` (issue 14, item 10): each check that did not come out
as meant is a result placed in grant.yaml, at the entry it is about."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossgrant.cli.main import main
from crossgrant.render import render
from crossgrant.render.apply import apply
from crossgrant.spec import load_grant
from crossgrant.world import dump_state

ROOT = Path(__file__).resolve().parents[2]
THUMBS = ROOT / "examples" / "thumbnails.yaml"
BUCKET = "account-b-thumb-bucket"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    out, err = capsys.readouterr()
    return code, out, err


def test_a_clean_grant_gives_an_empty_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", str(THUMBS), "--format", "sarif")
    assert code == 0
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["runs"][0]["results"] == []
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == [
        "CG201", "CG202", "CG203"]


def _state_with(tmp_path: Path, grant: Path, bucket_name: str, **changes: object) -> Path:
    """The grant applied to empty accounts, with the bucket changed as given."""
    raw = json.loads(dump_state(apply(render(load_grant(grant)))))
    target = load_grant(grant).target.account
    bucket = raw["accounts"][target]["buckets"][bucket_name]
    extra = changes.pop("statement", None)
    if extra is not None:
        bucket["policy"]["Statement"].append(extra)
    bucket.update(changes)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def _line_of(grant: Path, needle: str) -> int:
    text = grant.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(text, 1) if needle in line)


def _placed(out: str) -> list[tuple[str, str, int]]:
    # Code scanning needs a file and a line on each result:
    # https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
    return [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in json.loads(out)["runs"][0]["results"]]


def test_an_allowed_attack_is_placed_at_its_bucket_entry(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    state = _state_with(tmp_path, THUMBS, BUCKET, statement={
        "Sid": "Oops", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    code, out, _ = run(capsys, "verify", str(THUMBS), "--state", str(state),
                       "--format", "sarif")
    assert code == 1
    placed = _placed(out)
    assert placed and {c for c, _, _ in placed} == {"CG202"}
    assert all(uri.endswith("examples/thumbnails.yaml") for _, uri, _ in placed)
    assert ("CG202", placed[0][1], _line_of(THUMBS, f"bucket: {BUCKET}")) in placed
    # Text output is the table, as before; --json and sarif are one choice.
    code, out, _ = run(capsys, "verify", str(THUMBS), "--state", str(state))
    assert code == 1 and "checks as expected" in out
    code, _, err = run(capsys, "verify", str(THUMBS), "--json", "--format", "sarif")
    assert code == 2 and "pick one" in err


def test_an_unmet_requirement_is_placed_at_its_bucket_entry(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    grant = ROOT / "examples" / "s3-bucket-policy.yaml"
    bucket = load_grant(grant).s3[0].bucket
    state = _state_with(tmp_path, grant, bucket, object_ownership="ObjectWriter")
    code, out, _ = run(capsys, "verify", str(grant), "--state", str(state),
                       "--format", "sarif")
    assert code == 1
    placed = _placed(out)
    assert ("CG203", placed[0][1], _line_of(grant, f"bucket: {bucket}")) in placed

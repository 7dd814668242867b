"""`crossgrant analyze` as issue 14 asks: exit 2 with one line for anything that is not a
finding (a binary state, a crash), SARIF results placed at their statement's line in the
state file, and `--expected GRANT` keeping a grant's declared access out of the findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import crossgrant.cli.analyze as analyze_cmd
from crossgrant.analyze import analyze, split_expected
from crossgrant.cli.analyze import declared_findings
from crossgrant.cli.main import main
from crossgrant.render import render
from crossgrant.render.apply import apply
from crossgrant.spec import load_grant
from crossgrant.world import dump_state, load_state

ROOT = Path(__file__).resolve().parents[2]
THUMBS = ROOT / "examples" / "thumbnails.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    code = stop.value.code
    return (code if isinstance(code, int) else 0), out, err


def run_ok(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`run` for runs that may end without SystemExit (exit 0 inside Typer)."""
    try:
        main(list(args))
    except SystemExit as stop:
        out, err = capsys.readouterr()
        return (stop.code if isinstance(stop.code, int) else 0), out, err
    out, err = capsys.readouterr()
    return 0, out, err


@pytest.mark.parametrize("content", [bytes(range(256)), b"\x8d\xff\x00garbage", b"\x00\x01"])
def test_a_binary_state_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    for command in (["analyze", str(path)], ["verify", str(THUMBS), "--state", str(path)],
                    ["diagnose", "Access Denied", "--state", str(path)]):
        code, out, err = run(capsys, *command)
        assert code == 2, (command, out, err)
        assert err.count("\n") == 1 and err.startswith(f"crossgrant: error: {path}: ")
        assert "internal error" not in err


def test_a_crash_in_analyze_is_exit_2_not_1(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    def crash(*_: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(analyze_cmd, "analyze", crash)
    path = tmp_path / "state.json"
    path.write_text(dump_state(apply(render(load_grant(THUMBS)))), encoding="utf-8")
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2  # 1 is "findings"
    assert err.count("\n") == 1 and "ZeroDivisionError: division by zero" in err


def _public_state(tmp_path: Path) -> tuple[Path, str]:
    """The thumbnail grant deployed, plus a public statement added to its bucket policy."""
    st = apply(render(load_grant(THUMBS)))
    raw = json.loads(dump_state(st))
    bucket = raw["accounts"]["222222222222"]["buckets"]["account-b-thumb-bucket"]
    bucket["policy"]["Statement"].append({
        "Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::account-b-thumb-bucket/public/*"})
    text = json.dumps(raw, indent=2)
    load_state(text)  # still a valid state
    path = tmp_path / "state.json"
    path.write_text(text, encoding="utf-8")
    return path, text


def _statement_line(text: str, needle: str) -> int:
    """The line of the flat statement holding `needle`."""
    return text[:text.rindex("{", 0, text.index(needle))].count("\n") + 1


def test_sarif_places_each_finding_at_its_statement(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    # Code scanning needs physicalLocation (artifactLocation.uri, region.startLine):
    # https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
    path, text = _public_state(tmp_path)
    for args in (["--sarif"], ["--format", "sarif"]):
        code, out, _ = run(capsys, "analyze", str(path), *args)
        assert code == 1
        results = json.loads(out)["runs"][0]["results"]
        placed = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
                  for r in results}
        assert ("CG301", _statement_line(text, '"Sid": "Everyone"')) in placed
        role = text.index('"ThumbXRole": {')
        trust = text.index('"Statement": [', text.index('"trust_policy"', role))
        first = text[:text.index("{", trust)].count("\n") + 1  # its first statement
        assert ("CG302", first) in placed
        for r in results:
            physical = r["locations"][0]["physicalLocation"]
            assert physical["artifactLocation"]["uri"] == path.as_uri()
            assert r["locations"][0]["logicalLocations"]  # the resource, as before


def test_expected_grants_are_intended_access(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    path, _ = _public_state(tmp_path)
    code, out, _ = run(capsys, "analyze", str(path), "--json")
    assert code == 1
    found = json.loads(out)
    assert sorted(f["rule"] for f in found["findings"]) == ["CG301", "CG302"]
    assert "expected" not in found  # unchanged without --expected
    code, out, _ = run(capsys, "analyze", str(path), "--json", "--expected", str(THUMBS))
    assert code == 1  # the public statement is not the grant's
    found = json.loads(out)
    assert [f["rule"] for f in found["findings"]] == ["CG301"]
    (expected,) = found["expected"]
    assert expected["rule"] == "CG302" and expected["declared_by"] == str(THUMBS)
    code, out, _ = run(capsys, "analyze", str(path), "--sarif", "--expected", str(THUMBS))
    results = json.loads(out)["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["CG302"]
    assert suppressed[0]["suppressions"][0]["kind"] == "external"
    code, out, _ = run(capsys, "analyze", str(path), "--expected", str(THUMBS))
    assert "1 finding (1 public)" in out and "1 expected" in out
    # Only the grant's own access: deployed alone, nothing is left to report.
    alone = tmp_path / "alone.json"
    alone.write_text(dump_state(apply(render(load_grant(THUMBS)))), encoding="utf-8")
    code, out, _ = run_ok(capsys, "analyze", str(alone), "--expected", str(THUMBS))
    assert code == 0 and "0 findings" in out


def test_expected_does_not_cover_more_than_declared(tmp_path: Path) -> None:
    st = apply(render(load_grant(THUMBS)))
    raw = json.loads(dump_state(st))
    trust = raw["accounts"]["222222222222"]["roles"]["ThumbXRole"]["trust_policy"]
    trust["Statement"][0]["Action"] = ["sts:AssumeRole", "sts:SetSourceIdentity",
                                       "sts:TagSession"]  # one action more than declared
    result = split_expected(analyze(load_state(raw)), [("g", declared_findings(THUMBS))])
    assert [f.rule.code for f in result.findings] == ["CG302"] and result.expected == ()


def test_output_formats_are_one_choice(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    path, _ = _public_state(tmp_path)
    code, _, err = run(capsys, "analyze", str(path), "--json", "--format", "sarif")
    assert code == 2 and "pick one" in err

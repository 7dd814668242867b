"""`crossgrant diff` and `crossgrant check` from the command line: exit codes and formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crossgrant.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
V = "2012-10-17"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    out, err = capsys.readouterr()
    return (0 if code is None else int(code)), out, err


def write(tmp_path: Path, name: str, *statements: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"Version": V, "Statement": list(statements)}), encoding="utf-8")
    return str(path)


READ = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
WRITE = {"Sid": "Write", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::b/*"}


def test_nothing_new_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "diff", write(tmp_path, "a.json", READ, WRITE),
                       write(tmp_path, "b.json", WRITE, READ))
    assert code == 0
    assert "nothing new is allowed" in out


def test_new_access_exits_1_and_names_the_statement(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    after = write(tmp_path, "after.json", READ, WRITE)
    code, out, _ = run(capsys, "diff", write(tmp_path, "before.json", READ), after)
    assert code == 1
    assert "NEW ACCESS" in out
    assert f"Allow {after} statement Write (Statement[1])" in out
    assert "s3:PutObject" in out


def test_json_and_sarif(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    before, after = write(tmp_path, "before.json", READ), write(tmp_path, "after.json", READ, WRITE)
    code, out, _ = run(capsys, "diff", "--format", "json", before, after)
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "new-access" and data["new_accesses"] >= 1
    assert data["groups"][0]["granted_by"][0]["statement"] == "Write"
    code, out, _ = run(capsys, "diff", "--format", "sarif", before, after)
    sarif = json.loads(out)
    assert code == 1 and sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert results[0]["ruleId"] == "CG401"
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] \
        .endswith("after.json")


def test_cannot_prove_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    home = {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::home/${aws:username}/*"}
    path = write(tmp_path, "home.json", home)
    code, out, _ = run(capsys, "diff", path, path)
    assert code == 2
    assert "CANNOT PROVE" in out and "policy variable" in out


def test_type_guess_and_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trust = {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}
    path = write(tmp_path, "trust.json", trust)
    code, out, _ = run(capsys, "diff", path, path)
    assert code == 0 and "trust policy" in out
    code, out, _ = run(capsys, "diff", "--type", "resource", path, path)
    assert code == 0 and "resource policy" in out


def test_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    code, _, err = run(capsys, "diff", str(bad), str(bad))
    assert code == 2 and err.startswith("crossgrant: error:") and err.count("\n") == 1
    code, _, err = run(capsys, "diff", str(tmp_path / "missing.json"), str(bad))
    assert code == 2 and "cannot read" in err
    grant = ROOT / "examples" / "s3-bucket-policy.yaml"
    code, _, err = run(capsys, "diff", write(tmp_path, "p.json", READ), str(grant))
    assert code == 2 and "cannot be compared" in err


def test_grant_files(capsys: pytest.CaptureFixture[str]) -> None:
    before = str(ROOT / "examples" / "s3-bucket-policy.yaml")
    code, out, _ = run(capsys, "diff", before, before)
    assert code == 0 and "grant" in out
    code, out, _ = run(capsys, "diff", before, str(ROOT / "examples" / "s3-assume-role.yaml"))
    assert code == 1 and "CrossAccountS3Role" in out


def test_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", READ, WRITE)
    code, out, _ = run(capsys, "check", "--not-granted", "s3:DeleteObject", "s3:PutObject",
                       path)
    assert code == 1 and "ACCESS GRANTED" in out and "s3:PutObject" in out
    code, out, _ = run(capsys, "check", "--not-granted", "s3:DeleteObject", path)
    assert code == 0
    code, _, _ = run(capsys, "check", "--not-granted", "s3:PutObject", "--resource",
                     "arn:aws:s3:::other/*", path)
    assert code == 0
    code, out, _ = run(capsys, "check", "--not-granted", "s3:PutObject", "--json", path)
    assert code == 1 and json.loads(out)["verdict"] == "new-access"

"""`crossgrant eval`: the case runner's outside contract (docs/eval.md)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crossgrant import __version__
from crossgrant.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CROSSGRANT = ROOT / ".venv" / "bin" / "crossgrant"

IDENTITY_GET = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadUploads", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::uploads/*"}]}


def case(name: str, expect: str | None, *, identity: list[Any] | None = None,
         resource: Any = None, principal: Any = "arn:aws:iam::111111111111:user/alice",
         owner: str = "111111111111") -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "request": {"principal": principal, "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::uploads/a.txt", "resource_account": owner,
                    "context": {}},
        "policies": {"identity": identity if identity is not None else [IDENTITY_GET],
                     "resource": resource, "permission_boundaries": None, "session": None,
                     "scps": [], "rcps": [], "vpc_endpoint": None},
    }
    if expect is not None:
        out["expect"] = expect
    return out


ALLOWED = case("identity policy allows", "Allow")
DENIED = case("nothing allows", "ImplicitDeny", identity=[])
WRONG = case("expects the wrong thing", "ExplicitDeny")


def jsonl(*cases: dict[str, Any]) -> str:
    return "".join(json.dumps(c) + "\n" for c in cases)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    """Run the CLI in-process; (exit code, stdout lines, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    out, err = capsys.readouterr()
    return (0 if code is None else int(code)), out.splitlines(), err


def write(tmp_path: Path, text: str, name: str = "cases.jsonl") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def decoded(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


# -- Output ------------------------------------------------------------------------------

def test_one_json_line_per_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "eval", write(tmp_path, jsonl(ALLOWED, DENIED)))
    assert code == 0
    assert err == ""
    rows = decoded(lines)
    assert [r["name"] for r in rows] == ["identity policy allows", "nothing allows"]
    assert rows[0] == {"name": "identity policy allows", "decision": "Allow",
                       "expect": "Allow", "ok": True,
                       "because": [{"document": "identity[0]", "statement": "ReadUploads",
                                    "effect": "Allow"}]}
    assert rows[1]["decision"] == "ImplicitDeny"
    assert rows[1]["ok"] is True
    assert rows[1]["because"] == []
    assert rows[1]["missing"] == "identity-based policy"


def test_without_check_a_mismatch_is_reported_but_exits_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "eval", write(tmp_path, jsonl(WRONG)))
    assert code == 0
    assert len(lines) == 1  # no summary line without --check
    row = json.loads(lines[0])
    assert row["decision"] == "Allow"
    assert row["expect"] == "ExplicitDeny"
    assert row["ok"] is False


def test_case_without_expect_is_not_ok(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "eval", "--check", write(tmp_path, jsonl(case("x", None))))
    rows = decoded(lines[:-1])
    assert rows[0]["expect"] is None
    assert rows[0]["ok"] is False
    assert lines[-1] == "0 passed, 1 failed"
    assert code == 1


def test_a_single_pretty_printed_object_is_one_case(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "eval", write(tmp_path, json.dumps(ALLOWED, indent=2),
                                               "case.json"))
    assert code == 0
    assert [json.loads(line)["decision"] for line in lines] == ["Allow"]


def test_blank_lines_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n" + json.dumps(ALLOWED) + "\n\n   \n" + json.dumps(DENIED) + "\n\n"
    _, lines, _ = run(capsys, "eval", write(tmp_path, text))
    assert len(lines) == 2


# -- --check -------------------------------------------------------------------------------

def test_check_all_passing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "eval", "--check", write(tmp_path, jsonl(ALLOWED, DENIED)))
    assert code == 0
    assert lines[-1] == "2 passed, 0 failed"
    assert len(decoded(lines[:-1])) == 2


def test_check_exits_1_on_a_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "eval", "--check", write(tmp_path, jsonl(ALLOWED, WRONG,
                                                                          DENIED)))
    assert code == 1
    assert lines[-1] == "2 passed, 1 failed"


def test_check_with_no_cases_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "eval", "--check", write(tmp_path, "\n\n"))
    assert code == 1
    assert lines == ["0 passed, 0 failed"]


# -- Errors in the cases ---------------------------------------------------------------------

def test_malformed_json_line_is_an_error_row_and_counts_as_failed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(ALLOWED) + "\n" + '{"name": "broken", "request": \n' + json.dumps(DENIED)
    path = write(tmp_path, text)
    code, lines, err = run(capsys, "eval", "--check", path)
    assert err == ""
    rows = decoded(lines[:-1])
    assert [r["decision"] for r in rows] == ["Allow", "Error", "ImplicitDeny"]
    broken = rows[1]
    assert broken["ok"] is False
    assert f"{path}:2" in broken["error"]
    assert lines[-1] == "2 passed, 1 failed"
    assert code == 1


def test_bad_policy_in_a_case_is_an_error_row(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Odd", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"StringEqualz": {"aws:username": "alice"}}}]}
    code, lines, _ = run(capsys, "eval", "--check",
                         write(tmp_path, jsonl(case("bad operator", "Allow", identity=[bad]))))
    row = json.loads(lines[0])
    assert row["decision"] == "Error"
    assert row["name"] == "bad operator"
    assert row["expect"] == "Allow"
    assert row["ok"] is False
    assert "StringEqualz" in row["error"]
    assert "Odd" in row["error"]
    assert lines[-1] == "0 passed, 1 failed"
    assert code == 1


@pytest.mark.parametrize("broken", [
    {"name": "no request"},
    {"name": "bad principal", "request": {"principal": "bob", "action": "s3:GetObject",
                                          "resource": "arn:aws:s3:::b/k"}},
    {"name": "bad expect", **{k: v for k, v in ALLOWED.items() if k != "name"},
     "expect": "Maybe"},
    ["not", "an", "object"],
])
def test_malformed_cases_are_error_rows(broken: Any, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "eval", "--check", write(tmp_path, jsonl(ALLOWED)
                                                                + json.dumps(broken) + "\n"))
    assert err == ""
    rows = decoded(lines[:-1])
    assert rows[0]["decision"] == "Allow"
    assert rows[1]["decision"] == "Error"
    assert rows[1]["ok"] is False
    assert rows[1]["error"]
    assert lines[-1] == "1 passed, 1 failed"
    assert code == 1


# -- Only typed errors (issue 11) -----------------------------------------------------------
# Python's json raises ValueError for integers of more than 4,300 digits and RecursionError
# for deep nesting; a case whose `expect` is a list used to raise TypeError. Each is now an
# Error row with a one-line message naming the place, never a traceback.

BIG = "9" * 5000


@pytest.mark.parametrize(("label", "line", "says"), [
    ("expect is a list", json.dumps({**ALLOWED, "expect": ["Allow"]}), "expect must be one of"),
    ("expect is an object", json.dumps({**ALLOWED, "expect": {"a": 1}}), "expect must be one of"),
    ("huge name", json.dumps(ALLOWED).replace('"identity policy allows"', BIG, 1), "4,300 digits"),
    ("huge number in a policy", json.dumps(ALLOWED).replace(
        '"Resource": "arn:aws:s3:::uploads/*"',
        '"Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": ' + BIG + "}}", 1),
     "4,300 digits"),
    ("huge context value", json.dumps(ALLOWED).replace('"context": {}',
                                                       '"context": {"k": ' + BIG + "}", 1),
     "4,300 digits"),
    ("deep array", "[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ("deep policy", json.dumps(ALLOWED).replace(
        '"resource": null', '"resource": ' + "[" * 10_000 + "]" * 10_000, 1),
     "nested too deeply"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_hostile_cases_are_one_line_error_rows(label: str, line: str, says: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, jsonl(ALLOWED) + line + "\n")
    code, lines, err = run(capsys, "eval", "--check", path)
    assert err == ""
    rows = decoded(lines[:-1])
    assert rows[0]["decision"] == "Allow"
    bad = rows[1]
    assert bad["decision"] == "Error", label
    assert bad["ok"] is False
    assert says in bad["error"]
    assert "\n" not in bad["error"]
    assert path in bad["error"] or "case 'identity policy allows'" in bad["error"]
    assert lines[-1] == "1 passed, 1 failed"
    assert code == 1


def test_a_deeply_nested_single_object_file_is_an_error_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '{"a":' * 10_000 + "1" + "}" * 10_000, "deep.json")
    code, lines, err = run(capsys, "eval", "--check", path)
    assert err == ""
    assert "nested too deeply" in json.loads(lines[0])["error"]
    assert code == 1


def test_a_rule_that_no_policy_can_change_is_shown(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # IAM User Guide, "Managed policies and inline policies": you cannot change the
    # permissions defined in AWS managed policies; the row names the rule, and keeps
    # the contract's keys (docs/eval.md).
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html
    admin = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    owned = case("AWS managed policy", "ImplicitDeny", identity=[admin])
    owned["request"]["action"] = "iam:CreatePolicyVersion"
    owned["request"]["resource"] = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    code, lines, _ = run(capsys, "eval", "--check", write(tmp_path, jsonl(owned)))
    row = json.loads(lines[0])
    assert code == 0
    assert row["decision"] == "ImplicitDeny" and row["ok"] is True
    assert row["because"] == []
    assert row["rule"].startswith("aws-managed-policy: ")
    assert "missing" not in row


# -- Inputs --------------------------------------------------------------------------------

def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(jsonl(ALLOWED, DENIED)))
    code, lines, _ = run(capsys, "eval", "--check", "-")
    assert code == 0
    assert lines[-1] == "2 passed, 0 failed"


def test_stdin_errors_name_stdin(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("{oops\n"))
    _, lines, _ = run(capsys, "eval", "-")
    row = json.loads(lines[0])
    assert row["decision"] == "Error"
    assert "<stdin>:1" in row["error"]


def test_missing_file_is_one_line_on_stderr_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.jsonl")
    code, lines, err = run(capsys, "eval", "--check", missing)
    assert code == 2
    assert lines == []
    assert err.count("\n") == 1
    assert err.startswith("crossgrant: error:")
    assert missing in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "--version")
    assert code == 0
    assert lines == [f"crossgrant {__version__}"]


# -- The installed entry point ---------------------------------------------------------------

@pytest.mark.skipif(not CROSSGRANT.exists(), reason="no .venv/bin/crossgrant")
def test_installed_command_reads_stdin_and_checks() -> None:
    done = subprocess.run([str(CROSSGRANT), "eval", "--check", "-"], input=jsonl(ALLOWED, WRONG),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert [json.loads(line)["ok"] for line in lines[:-1]] == [True, False]


@pytest.mark.skipif(not CROSSGRANT.exists(), reason="no .venv/bin/crossgrant")
def test_installed_command_missing_file_and_version(tmp_path: Path) -> None:
    done = subprocess.run([str(CROSSGRANT), "eval", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
    version = subprocess.run([str(CROSSGRANT), "--version"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert version.returncode == 0
    assert version.stdout.strip() == f"crossgrant {__version__}"

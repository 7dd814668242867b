"""The journal's key (grant, accounts, place), its lock files, saved-plan files and the
probe's verdict, without AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from crossgrant.aws import lock, planfile
from crossgrant.aws.clients import Connection
from crossgrant.aws.journal import Journal, default_journal_path, policy_key
from crossgrant.aws.ownership import statements_of
from crossgrant.aws.place import Place, sandbox_place
from crossgrant.aws.probe import ProbeReport, ProbeStep
from crossgrant.errors import CrossgrantError
from crossgrant.serial import to_json

ACCOUNTS = {"source": "111111111111", "target": "222222222222"}
ENDPOINT = "https://127.0.0.1:4566"


def owns(sid: object) -> bool:
    return isinstance(sid, str) and sid.startswith("CgDemo")


# --- places --------------------------------------------------------------------------------

def test_each_sandbox_start_is_another_place() -> None:
    one = sandbox_place(Connection(endpoint_url=ENDPOINT, control_token="a", sandbox=True))
    again = sandbox_place(Connection(endpoint_url=ENDPOINT, control_token="a", sandbox=True))
    restarted = sandbox_place(Connection(endpoint_url=ENDPOINT, control_token="b",
                                         sandbox=True))
    assert one == again and one != restarted
    assert one.slug.startswith("sandbox-") and len(one.slug) == len("sandbox-") + 16
    assert "a" not in one.id  # the token itself never reaches a file name or a journal
    assert Place("aws", "aws").slug == "aws"


def test_the_default_journal_is_keyed_by_grant_accounts_and_place(tmp_path: Path) -> None:
    place = Place("sandbox", "0123456789abcdef", ENDPOINT)
    path = default_journal_path("thumbs", tmp_path, accounts=ACCOUNTS, place=place)
    assert path == tmp_path / ".crossgrant" / \
        "thumbs.111111111111-222222222222.sandbox-0123456789abcdef.journal.json"
    assert default_journal_path("thumbs", tmp_path) == \
        tmp_path / ".crossgrant" / "thumbs.journal.json"  # an older crossgrant's


def test_a_journal_of_another_place_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    here = Place("sandbox", "1111111111111111", ENDPOINT)
    there = Place("aws", "aws")
    journal = Journal.open(path, "g", ACCOUNTS, "g.yaml", here)
    journal.set_status("applied")
    assert json.loads(path.read_text())["place"] == to_json(here)
    assert Journal.open(path, "g", ACCOUNTS, "g.yaml", here).status == "applied"
    with pytest.raises(CrossgrantError, match="another place"):
        Journal.open(path, "g", ACCOUNTS, "g.yaml", there)


def test_an_older_journal_is_read_and_claimed_for_the_place_given(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    text = '{"Version":"2012-10-17","Statement":[{"Sid":"CgDemoS3List0","Effect":"Allow"}]}'
    path.write_text(json.dumps({
        "version": 1, "grant": "g", "accounts": ACCOUNTS, "status": "applied",
        "resources": {policy_key("bucket", "b"): {"kind": "bucket", "text": text}},
        "entries": []}))
    here = Place("aws", "aws")
    journal = Journal.open(path, "g", ACCOUNTS, place=here)
    # its statements: those added since the recorded text are crossgrant's, one that was
    # already there was taken over (the older crossgrant overwrote it)
    live = {"Statement": [{"Sid": "CgDemoS3List0"}, {"Sid": "CgDemoS3Object0"},
                          {"Sid": "Team"}]}
    mine = statements_of(journal, "bucket", "b", live, owns)
    assert mine.created == {"CgDemoS3Object0"} and mine.adopted == {"CgDemoS3List0"}
    journal.save()
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["place"] == to_json(here)


# --- lock files ----------------------------------------------------------------------------

def test_a_lock_is_removed_when_released_and_refused_while_held(tmp_path: Path) -> None:
    path = tmp_path / "j.json.lock"
    with lock.hold(path):
        holder = json.loads(path.read_text())
        assert holder["pid"] == os.getpid()
        refused = pytest.raises(CrossgrantError, match=f"is running \\(pid {os.getpid()} on ")
        with refused, lock.hold(path):
            pass
    assert not path.exists()


def test_stale_lock_files_are_swept(tmp_path: Path) -> None:
    # left by a process that died (no one holds them), one of them by an older crossgrant
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "a.journal.json.lock").write_text(json.dumps(
        {"pid": int(dead), "host": "here", "since": time.time() - 7 * 86400}))
    (tmp_path / "old.journal.json.lock").write_text("")
    with lock.hold(tmp_path / "b.journal.json.lock"):
        assert sorted(p.name for p in tmp_path.glob("*.lock")) == ["b.journal.json.lock"]
    assert not list(tmp_path.glob("*.lock"))


def test_a_held_lock_is_not_swept(tmp_path: Path) -> None:
    held = tmp_path / "held.journal.json.lock"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from crossgrant.aws.lock import hold\n"
         f"with hold(Path({str(held)!r})):\n    print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert lock.sweep(tmp_path) == []
        with pytest.raises(CrossgrantError, match=f"pid {child.pid}"), lock.hold(held):
            pass
    finally:
        child.kill()
        child.wait()
    assert lock.sweep(tmp_path) == [held]  # its holder died: stale


# --- saved plans ---------------------------------------------------------------------------

def saved() -> planfile.SavedPlan:
    return planfile.SavedPlan("g", "g.yaml", "name: g\n", "0" * 64, ACCOUNTS,
                              {"kind": "aws", "id": "aws", "endpoint": None}, "/j.json",
                              "1" * 64, False, None, {"111111111111": "2" * 64}, {"pending": 1})


def test_a_saved_plan_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "p.plan"
    planfile.write(path, saved())
    data = json.loads(path.read_text())
    assert list(data)[:2] == ["format", "version"]
    assert planfile.is_saved_plan(path)
    assert planfile.read(path) == replace(saved(), path=str(path))


@pytest.mark.parametrize(("text", "message"), [
    ('{"format": "crossgrant-plan", "version": 7}', "saved plan version 7"),
    ('{"format": "crossgrant-plan", "version": 1, "grant": 3}', "'grant' is missing or not"),
    ('{"format": "crossgrant-plan", "ver', "not JSON"),
    ('[1, 2]', "not a saved plan"),
])
def test_a_malformed_saved_plan_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.plan"
    path.write_text(text)
    with pytest.raises(CrossgrantError, match=message) as caught:
        planfile.read(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_grant_is_not_a_saved_plan(tmp_path: Path) -> None:
    grant = tmp_path / "g.yaml"
    grant.write_text("name: g\n")
    binary = tmp_path / "g.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    assert not planfile.is_saved_plan(grant) and not planfile.is_saved_plan(binary)


# --- the probe's verdict -------------------------------------------------------------------

def test_a_probe_that_skipped_every_check_is_not_ok() -> None:
    skipped = ProbeReport("g", (
        ProbeStep("GetCallerIdentity", "me", "", "ok", "account 1", check=False),
        ProbeStep("AssumeRole", "me", "r", "skipped", "may not assume r; run as r",
                  check=False),
        ProbeStep("HeadBucket", "", "b", "skipped", "the probe needs to run as r")))
    assert not skipped.ok
    assert skipped.nothing_exercised == "nothing was exercised: may not assume r; run as r"
    assert to_json(skipped)["error"] == skipped.nothing_exercised
    ran = ProbeReport("g", (*skipped.steps[:1], ProbeStep("HeadBucket", "r", "b", "ok", "200")))
    assert ran.ok and "error" not in to_json(ran)

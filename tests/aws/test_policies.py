"""The merge/restore loop and the journal, without AWS: fake policy stores that misbehave
the way concurrent writers do, a fake clock, and a journal on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crossgrant.aws.clients import retry
from crossgrant.aws.journal import Journal
from crossgrant.aws.policies import (
    Conflict,
    LivePolicy,
    PolicyStore,
    Timing,
    canonical,
    merge_into,
    restore,
)
from crossgrant.errors import CrossgrantError
from crossgrant.render.artifacts import ResourceKind

PREFIX = "CgDemo"


def owns(sid: object) -> bool:
    return isinstance(sid, str) and sid.startswith(PREFIX)


FOREIGN_TEXT = ('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Sid": "TeamX", '
                '"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, '
                '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}\n  ]\n}\n')
OURS = ({"Sid": f"{PREFIX}S3Object0", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111111111111:role/R"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"},)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeStore(PolicyStore):
    """An S3-like store (no conditional writes). `interfere` runs after each of our puts,
    as a concurrent writer's stale write would."""

    def __init__(self, text: str | None, *, conditional: bool = False) -> None:
        self.text = text
        self.revision = 1
        self.conditional = conditional
        self.puts: list[str | None] = []
        self.interfere: list[Any] = []

    def read(self) -> LivePolicy:
        return LivePolicy(ResourceKind.BUCKET, "b", "b", True, self.text, str(self.revision))

    def put(self, text: str, current: LivePolicy) -> None:
        if self.conditional and current.revision != str(self.revision):
            raise Conflict("stale revision")
        self.text = text
        self.revision += 1
        self.puts.append(text)
        if self.interfere:
            self.interfere.pop(0)(self)

    def delete(self, current: LivePolicy) -> None:
        self.text = None
        self.revision += 1
        self.puts.append(None)


def timing(clock: FakeClock) -> Timing:
    return Timing(settle=1.0, timeout=60.0, sleep=clock.sleep, clock=clock.clock)


def test_canonical_ignores_aws_rewrites() -> None:
    a = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "x",
         "Principal": {"AWS": "arn:aws:iam::1:root"},
         "Condition": {"Bool": {"aws:SecureTransport": False}}}
    b = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["x"],
         "Principal": {"AWS": ["arn:aws:iam::1:root"]},
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert canonical(a) == canonical(b)
    assert canonical(a) != canonical({**b, "Resource": "y"})


def test_merge_keeps_foreign_statement_and_restore_gives_text_back() -> None:
    clock = FakeClock()
    store = FakeStore(FOREIGN_TEXT)
    result = merge_into(store, OURS, owns, timing(clock))
    assert result.first.text == FOREIGN_TEXT and result.writes == 1
    merged = json.loads(store.text or "")
    assert merged["Statement"][0] == json.loads(FOREIGN_TEXT)["Statement"][0]
    assert merged["Statement"][1] == OURS[0]
    # the second merge is a no-op
    assert merge_into(store, OURS, owns, timing(clock)).writes == 0
    restore(store, owns, FOREIGN_TEXT, True, timing(clock))
    assert store.text == FOREIGN_TEXT  # byte for byte


def test_restore_deletes_a_policy_crossgrant_brought() -> None:
    clock = FakeClock()
    store = FakeStore(None)
    merge_into(store, OURS, owns, timing(clock))
    restore(store, owns, None, True, timing(clock))
    assert store.text is None


def test_restore_keeps_foreign_changes_made_since() -> None:
    clock = FakeClock()
    store = FakeStore(FOREIGN_TEXT)
    merge_into(store, OURS, owns, timing(clock))
    doc = json.loads(store.text or "")
    doc["Statement"].append({"Sid": "Later", "Effect": "Deny", "Principal": "*",
                             "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"})
    store.text = json.dumps(doc)
    restore(store, owns, FOREIGN_TEXT, True, timing(clock))
    sids = [s["Sid"] for s in json.loads(store.text or "")["Statement"]]
    assert sids == ["TeamX", "Later"]


def test_lost_update_is_detected_after_settle_and_merged_again() -> None:
    """A concurrent writer that read before our write puts its own merge over ours: the
    read after `settle` sees our statement gone, and we merge into its version."""
    clock = FakeClock()
    store = FakeStore(FOREIGN_TEXT)
    theirs = {"Sid": "CgOtherS3Object0", "Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/x"}

    def stale_write(s: FakeStore) -> None:
        doc = json.loads(FOREIGN_TEXT)
        doc["Statement"].append(theirs)
        s.text = json.dumps(doc)

    store.interfere.append(stale_write)
    result = merge_into(store, OURS, owns, timing(clock))
    assert result.writes == 2
    sids = [s["Sid"] for s in json.loads(store.text or "")["Statement"]]
    assert sids == ["TeamX", "CgOtherS3Object0", f"{PREFIX}S3Object0"]


def test_conditional_store_retries_on_conflict() -> None:
    clock = FakeClock()
    store = FakeStore(FOREIGN_TEXT, conditional=True)
    original_read = store.read
    calls = {"n": 0}

    def racing_read() -> LivePolicy:
        live = original_read()
        calls["n"] += 1
        if calls["n"] == 1:
            store.revision += 1  # someone wrote between our read and our put
        return live

    store.read = racing_read  # type: ignore[method-assign]
    result = merge_into(store, OURS, owns, timing(clock))
    assert result.writes == 1 and calls["n"] >= 3
    assert clock.now < 1.0  # a short backoff, never the settle wait


def test_unreadable_policy_is_an_error_not_an_empty_policy() -> None:
    class Denied(FakeStore):
        def read(self) -> LivePolicy:
            return LivePolicy(ResourceKind.BUCKET, "b", "b", True,
                              problem="cannot read the bucket policy: AccessDenied")

    with pytest.raises(CrossgrantError, match="AccessDenied"):
        merge_into(Denied(None), OURS, owns, timing(FakeClock()))


def test_retry_gives_up_at_the_timeout() -> None:
    clock = FakeClock()
    attempts = {"n": 0}

    def call() -> str:
        attempts["n"] += 1
        raise ValueError("not yet")

    with pytest.raises(ValueError, match="not yet"):
        retry(call, retry_on=lambda e: isinstance(e, ValueError), timeout=10,
              sleep=clock.sleep, clock=clock.clock)
    assert 3 <= attempts["n"] <= 8 and clock.now <= 10


def test_journal_keeps_the_first_original(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    accounts = {"source": "111111111111", "target": "222222222222"}
    journal = Journal.open(path, "demo", accounts)
    journal.remember("policy:bucket:b", {"text": "first"})
    journal.remember("policy:bucket:b", {"text": "second"})
    index = journal.begin("apply", "222222222222", "merge statements", "b")
    journal.finish(index, "failed", "AccessDenied")
    again = Journal.open(path, "demo", accounts)
    assert again.original("policy:bucket:b")["text"] == "first"  # type: ignore[index]
    assert again.data["entries"][0]["status"] == "failed"
    with pytest.raises(CrossgrantError, match="belongs to grant 'demo'"):
        Journal.open(path, "other", accounts)
    with journal.locked(), pytest.raises(CrossgrantError, match="another crossgrant"), \
            Journal.open(path, "demo", accounts).locked():
        pass

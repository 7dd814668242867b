"""Issue 14: diagnose recognises STS's own refusals, and with `--grant` says the fix in
grant.yaml terms (and that hand edits to crossgrant's documents do not last)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossgrant.cli.main import main
from crossgrant.diagnose import CAUSES, Form, diagnose, parse_message
from crossgrant.diagnose.grant import entry_of, grant_advice
from crossgrant.diagnose.messages import STS_FORMS
from crossgrant.render import render
from crossgrant.render.apply import apply
from crossgrant.spec import load_grant
from crossgrant.spec.source import Document, read_text
from crossgrant.world import dump_state

ROOT = Path(__file__).resolve().parents[2]
THUMBS = ROOT / "examples" / "thumbnails.yaml"
WRAP = "An error occurred ({code}) when calling the {op} operation: "
TARGET = "arn:aws:sts::222222222222:assumed-role/ThumbXRole/thumbnailer"
BUCKET = "account-b-thumb-bucket"


# --- STS's own refusals --------------------------------------------------------------------

# Each text is AWS's, each cause cited:
# - root: "You cannot use AWS account root user credentials to call this operation",
#   https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
# - DurationSeconds "Minimum value of 900. Maximum value of 43200", same page, Request
#   Parameters; the message is AWS's generic ValidationError wording,
#   https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
# - MalformedPolicyDocument / PackedPolicyTooLarge: the session policy, same page, Errors
# - role chaining caps the session at one hour,
#   https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles.html#iam-term-role-chaining
# - DurationSeconds over the role's MaxSessionDuration,
#   https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html
STS_CASES = [
    (WRAP.format(code="AccessDenied", op="AssumeRole")
     + "Roles may not be assumed by root accounts.", Form.STS_ROOT_CALLER, "root-caller"),
    (WRAP.format(code="ValidationError", op="AssumeRole") + "1 validation error detected: "
     "Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value "
     "greater than or equal to 900", Form.STS_DURATION_RANGE, "duration-out-of-range"),
    (WRAP.format(code="ValidationError", op="AssumeRole") + "1 validation error detected: "
     "Value '86400' at 'durationSeconds' failed to satisfy constraint: Member must have "
     "value less than or equal to 43200", Form.STS_DURATION_RANGE, "duration-out-of-range"),
    (WRAP.format(code="MalformedPolicyDocument", op="AssumeRole") + "Syntax errors in policy.",
     Form.STS_SESSION_POLICY, "session-policy-invalid"),
    (WRAP.format(code="PackedPolicyTooLarge", op="AssumeRole") + "Packed policy consumes 112% "
     "of allotted space, please use smaller policy.", Form.STS_SESSION_POLICY,
     "session-policy-invalid"),
    (WRAP.format(code="ValidationError", op="AssumeRole") + "The requested DurationSeconds "
     "exceeds the 1 hour session limit for roles assuming other roles.",
     Form.STS_CHAINED_DURATION, "chained-session-duration"),
    (WRAP.format(code="ValidationError", op="AssumeRole") + "The requested DurationSeconds "
     "exceeds the MaxSessionDuration set for this role.", Form.STS_MAX_DURATION,
     "max-session-duration"),
]


@pytest.mark.parametrize(("text", "form", "cause_id"), STS_CASES,
                         ids=[c[2] + str(i) for i, c in enumerate(STS_CASES)])
def test_sts_refusals_are_recognised(text: str, form: Form, cause_id: str) -> None:
    m = parse_message(text)
    assert m.form is form and form in STS_FORMS and m.service == "sts"
    assert m.action == "sts:AssumeRole"
    state = apply(render(load_grant(THUMBS)))
    for st in (None, state):  # a state cannot explain STS's own rules: same answer
        d = diagnose(text, st)
        assert d.recognised and [c.id for c in d.causes] == [cause_id], d
        assert cause_id in CAUSES and d.meaning and d.checklist
        assert d.decision is None  # nothing was decided by policies


def test_the_asked_duration_and_its_bound_are_read() -> None:
    (cause,) = diagnose(STS_CASES[1][0]).causes
    assert "600" in cause.explanation
    assert cause.fixes[0].context == {"DurationSeconds": "900"}
    (cause,) = diagnose(STS_CASES[2][0]).causes
    assert cause.fixes[0].context == {"DurationSeconds": "43200"}


def test_iam_s_own_malformed_policy_is_not_a_session_policy() -> None:
    # IAM raises MalformedPolicyDocument for its own documents (PutRolePolicy): not STS's.
    m = parse_message(WRAP.format(code="MalformedPolicyDocument", op="PutRolePolicy")
                      + "Syntax errors in policy.")
    assert not m.recognised


# --- --grant: the fix in grant.yaml terms ---------------------------------------------------

def _lines() -> dict[tuple[str | int, ...], int]:
    doc = Document(read_text(THUMBS), str(THUMBS))
    doc.read()
    return doc.lines


def not_authorized(action: str, resource: str, who: str = TARGET,
                   why: str = " because no identity-based policy allows the {a} action") -> str:
    return (f"User: {who} is not authorized to perform: {action} on resource: \"{resource}\""
            + why.format(a=action))


def advice(message: str, with_state: bool = False) -> tuple[list[tuple[str, int | None]],
                                                          list[str]]:
    artifacts = render(load_grant(THUMBS))
    d = diagnose(message, apply(artifacts) if with_state else None)
    a = grant_advice(d, artifacts, _lines())
    return [(c.summary, c.line) for c in a.changes], list(a.notes)


def test_a_key_outside_the_prefixes() -> None:
    changes, notes = advice(not_authorized("s3:PutObject", f"arn:aws:s3:::{BUCKET}/other/x.jpg"),
                            with_state=True)
    assert changes == [('add "other/" to access.s3[0].prefixes', 21)]
    # The state's fix goes into the target role's inline policy, which deploy rewrites.
    assert any("reverted by the next deploy" in n and "crossgrant-thumbnails" in n
               for n in notes)


def test_a_missing_level_and_a_missing_bucket() -> None:
    changes, _ = advice(not_authorized("s3:DeleteObject",
                                       f"arn:aws:s3:::{BUCKET}/thumbs/x.jpg"))
    assert changes == [("add delete to access.s3[0].levels", 22)]
    changes, _ = advice(not_authorized("s3:GetObject", "arn:aws:s3:::another-bucket/in/a.jpg"))
    ((summary, line),) = changes
    assert summary == "add an entry for bucket another-bucket under access.s3" and line == 19


def test_tables_indexes_and_streams() -> None:
    table = "arn:aws:dynamodb:eu-west-1:222222222222:table/thumbnail-metadata"
    assert advice(not_authorized("dynamodb:GetItem", table))[0] == [
        ("add read to access.dynamodb[0].levels", 25)]
    assert advice(not_authorized("dynamodb:Query", f"{table}/index/by-date"))[0] == [
        ("add by-date to access.dynamodb[0].indexes", 24)]
    assert advice(not_authorized("dynamodb:GetRecords", f"{table}/stream/2024"))[0] == [
        ("set streams: true on access.dynamodb[0]", 24)]


def test_declared_access_and_other_callers() -> None:
    changes, notes = advice(not_authorized("s3:PutObject",
                                           f"arn:aws:s3:::{BUCKET}/thumbs/a.jpg"))
    assert changes == [] and "already declares" in notes[0]
    other = "arn:aws:sts::111111111111:assumed-role/SomeoneElse/x"
    changes, notes = advice(not_authorized("s3:PutObject", f"arn:aws:s3:::{BUCKET}/thumbs/a",
                                           who=other))
    assert changes == [] and "neither the function's execution role" in notes[0]
    changes, notes = advice(not_authorized("sts:AssumeRole",
                                           "arn:aws:iam::222222222222:role/ThumbXRole",
                                           who=other, why=""))
    assert changes == [] and "trusts the function's execution role only" in notes[0]


def test_session_duration_in_grant_terms() -> None:
    changes, notes = advice(STS_CASES[5][0])
    assert changes == [] and notes  # the message names no role: nothing to tie to it
    artifacts = render(load_grant(THUMBS))
    target = artifacts.grant.target_role_arn
    d = diagnose(STS_CASES[5][0], None, resource=target)
    assert d.causes[0].id == "chained-session-duration"
    a = grant_advice(d, artifacts, _lines(), resource=target)
    ((change),) = a.changes
    assert (change.field, change.line) == ("role.session_duration", 17)
    assert "at most 3600" in change.summary


def test_entries_of_arns() -> None:
    grant = load_grant(THUMBS)
    assert entry_of(grant, f"arn:aws:s3:::{BUCKET}/thumbs/x") == ("access", "s3", 0)
    assert entry_of(grant, "arn:aws:dynamodb:eu-west-1:222222222222:table/thumbnail-metadata"
                    ) == ("access", "dynamodb", 0)
    assert entry_of(grant, "arn:aws:iam::222222222222:role/ThumbXRole") == ("role",)
    assert entry_of(grant, "arn:aws:s3:::elsewhere/x") is None
    assert entry_of(grant, "not an arn") is None


def test_cli_grant_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(dump_state(apply(render(load_grant(THUMBS)))), encoding="utf-8")
    message = not_authorized("s3:PutObject", f"arn:aws:s3:::{BUCKET}/other/x.jpg")
    try:
        main(["diagnose", message, "--state", str(state), "--grant", str(THUMBS)])
    except SystemExit as stop:
        assert stop.code in (0, None)
    out = capsys.readouterr().out
    assert f"change ({THUMBS}:21): add \"other/\" to access.s3[0].prefixes" in out
    assert "reverted by the next deploy" in out
    try:
        main(["diagnose", message, "--grant", str(THUMBS), "--json"])
    except SystemExit as stop:
        assert stop.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["grant"]["changes"][0]["field"] == "access.s3[0].prefixes"
    assert data["grant"]["changes"][0]["line"] == 21
    try:
        main(["diagnose", message, "--json"])
    except SystemExit as stop:
        assert stop.code in (0, None)
    assert "grant" not in json.loads(capsys.readouterr().out)  # unchanged without --grant

"""assumed_session against a fake STS with a simulated clock: lazy, cached per argument
set, refreshed before expiry without a failed call, retried on throttling, and never a
secret in a log line."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from crossgrant.runtime import (
    NO_SOURCE_IDENTITY,
    assumed_session,
    caller_is_role_session,
)

ROLE = "arn:aws:iam::222222222222:role/ThumbXRole"
OTHER = "arn:aws:iam::222222222222:role/ArchiveRole"
STREAM = "2030/01/01/[$LATEST]3f2a9c1b0d4e5f6a7b8c9d0e1f2a3b4c"


def whoami(session: boto3.Session) -> str:
    arn: str = session.client("sts").get_caller_identity()["Arn"]
    return arn


def credentials_of(session: boto3.Session) -> Any:
    return session._session.get_credentials()


def test_nothing_is_fetched_until_first_use(fake_sts: Any) -> None:
    session = assumed_session(ROLE)
    assert isinstance(session, boto3.Session)
    assert fake_sts.attempts == 0
    assert whoami(session).startswith("arn:aws:sts::222222222222:assumed-role/ThumbXRole/")
    assert fake_sts.attempts == 1


def test_one_sts_call_for_many_uses_of_the_same_arguments(fake_sts: Any) -> None:
    for _ in range(50):
        whoami(assumed_session(ROLE, external_id="ext-123"))
    assert fake_sts.attempts == 1
    assert assumed_session(ROLE, external_id="ext-123") is \
        assumed_session(ROLE, external_id="ext-123")


@pytest.mark.parametrize("variant", [
    {"role_arn": OTHER},
    {"external_id": "other-ext"},
    {"session_name": "other-name"},
    {"source_identity": "other-fn"},
    {"duration": 1800},
    {"region": "us-east-1"},
    {"tags": {"team": "media"}},
])
def test_every_argument_is_part_of_the_cache_key(fake_sts: Any,
                                                 variant: dict[str, Any]) -> None:
    base: dict[str, Any] = {"role_arn": ROLE, "external_id": "ext-123"}
    first = assumed_session(**base)
    second = assumed_session(**{**base, **variant})
    assert first is not second
    whoami(first)
    whoami(second)
    assert fake_sts.granted == 2
    assert credentials_of(first) is not credentials_of(second)
    assert credentials_of(first).get_frozen_credentials().access_key != \
        credentials_of(second).get_frozen_credentials().access_key


def test_two_roles_never_share_credentials(fake_sts: Any) -> None:
    thumbs, archive = assumed_session(ROLE), assumed_session(OTHER)
    assert whoami(thumbs).split("/")[1] == "ThumbXRole"
    assert whoami(archive).split("/")[1] == "ArchiveRole"
    assert whoami(thumbs).split("/")[1] == "ThumbXRole"
    assert [c["RoleArn"] for c in fake_sts.assume_calls] == [ROLE, OTHER]


def test_new_source_credentials_get_a_new_session(fake_sts: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = assumed_session(ROLE)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKESOURCE000002")
    assert assumed_session(ROLE) is not first


def test_threads_share_credentials_but_not_session_objects(fake_sts: Any) -> None:
    got: list[boto3.Session] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        session = assumed_session(ROLE)
        whoami(session)
        got.append(session)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in got}) == 8
    assert len({id(credentials_of(s)) for s in got}) == 1
    assert fake_sts.granted == 1


def test_refreshed_before_expiry_without_a_failed_call(fake_sts: Any) -> None:
    # 900 s sessions: advisory refresh from 300 s before expiry, mandatory from 150 s.
    session = assumed_session(ROLE, duration=900)
    sts = session.client("sts")
    sts.get_caller_identity()
    assert fake_sts.granted == 1
    for _ in range(59):  # ten simulated minutes of warm invocations, 10 s apart
        fake_sts.advance(10)
        sts.get_caller_identity()
    assert fake_sts.granted == 1
    first_key = credentials_of(session).get_frozen_credentials().access_key
    fake_sts.advance(15)  # 605 s in: 295 s left, inside the advisory window
    sts.get_caller_identity()
    assert fake_sts.granted == 2
    assert credentials_of(session).get_frozen_credentials().access_key != first_key
    for _ in range(120):  # a simulated hour more, a call every 30 s
        fake_sts.advance(30)
        sts.get_caller_identity()
    expiries = sorted(i.expires for i in fake_sts.issued.values())
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(expiries)]
    # Each refresh came once the advisory window opened (600 s after the last), within
    # one call of it, and long before expiry: no refresh storm, no expired call.
    assert len(gaps) == 6
    assert all(600 <= gap <= 630 for gap in gaps)
    assert fake_sts.failures == []


def test_hour_long_sessions_keep_botocores_windows(fake_sts: Any) -> None:
    session = assumed_session(ROLE)
    sts = session.client("sts")
    sts.get_caller_identity()
    fake_sts.advance(3600 - 15 * 60 - 1)
    sts.get_caller_identity()
    assert fake_sts.granted == 1
    fake_sts.advance(2)
    sts.get_caller_identity()
    assert fake_sts.granted == 2


def test_an_idle_environment_refreshes_on_its_next_call(fake_sts: Any) -> None:
    session = assumed_session(ROLE, duration=900)
    sts = session.client("sts")
    sts.get_caller_identity()
    fake_sts.advance(5000)  # long past expiry: a frozen, then thawed, execution environment
    sts.get_caller_identity()
    assert fake_sts.granted == 2
    assert fake_sts.failures == []


def test_a_failed_advisory_refresh_keeps_the_valid_credentials(fake_sts: Any) -> None:
    session = assumed_session(ROLE, duration=900)
    sts = session.client("sts")
    sts.get_caller_identity()
    fake_sts.advance(700)  # advisory window (200 s left), outside the mandatory one
    fake_sts.deny_next = 1
    sts.get_caller_identity()  # STS refused the refresh; the call still works
    assert fake_sts.granted == 1
    fake_sts.advance(60)  # 140 s left: mandatory, and STS answers again
    sts.get_caller_identity()
    assert fake_sts.granted == 2
    assert fake_sts.failures == []


def test_throttling_is_retried_with_backoff(fake_sts: Any) -> None:
    fake_sts.throttle_next = 2
    assert whoami(assumed_session(ROLE)).endswith("/ThumbXRole/crossgrant")
    assert fake_sts.attempts == 3
    assert fake_sts.granted == 1


def test_retries_are_bounded(fake_sts: Any) -> None:
    fake_sts.throttle_next = 100
    with pytest.raises(ClientError) as failed:
        whoami(assumed_session(ROLE))
    assert failed.value.response["Error"]["Code"] == "Throttling"
    assert fake_sts.attempts == 4


def test_sts_client_is_regional_with_short_timeouts(fake_sts: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS")
    session = assumed_session(ROLE, region="ap-southeast-2")
    fetch = credentials_of(session).fetch
    client = fetch.client()
    assert client.meta.endpoint_url == "https://sts.ap-southeast-2.amazonaws.com"
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert session.region_name == "ap-southeast-2"


def test_sts_endpoint_follows_aws_endpoint_url(fake_sts: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake_sts.endpoint)
    assert whoami(assumed_session(ROLE)).endswith("/ThumbXRole/crossgrant")


def test_lambda_defaults_name_the_function(fake_sts: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "thumbnailer")
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", STREAM)
    assert whoami(assumed_session(ROLE)).endswith("/ThumbXRole/thumbnailer@3f2a9c1b0d4e")
    call = fake_sts.assume_calls[-1]
    assert call["RoleSessionName"] == "thumbnailer@3f2a9c1b0d4e"
    assert call["SourceIdentity"] == "thumbnailer"
    assert call["DurationSeconds"] == "3600"


def test_source_identity_can_be_left_out(fake_sts: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "thumbnailer")
    whoami(assumed_session(ROLE, source_identity=NO_SOURCE_IDENTITY, external_id="x-1",
                           tags={"team": "media"}))
    call = fake_sts.assume_calls[-1]
    assert "SourceIdentity" not in call
    assert call["ExternalId"] == "x-1"
    assert (call["Tags.member.1.Key"], call["Tags.member.1.Value"]) == ("team", "media")


def test_role_chaining_cap_is_an_error_before_any_call(
        fake_sts: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "thumbnailer")
    assert caller_is_role_session()
    with pytest.raises(ValueError, match="role chaining"):
        assumed_session(ROLE, duration=7200)
    assert fake_sts.attempts == 0
    assumed_session(ROLE, duration=3600)  # the cap itself is fine


@pytest.mark.parametrize("var", ["AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"])
def test_role_session_callers_outside_lambda_are_capped_too(
        fake_sts: Any, monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, "x")
    with pytest.raises(ValueError, match="role chaining"):
        assumed_session(ROLE, duration=3601)


def test_long_term_keys_may_ask_for_long_sessions(fake_sts: Any) -> None:
    assert not caller_is_role_session()
    whoami(assumed_session(ROLE, duration=43_200))
    assert fake_sts.assume_calls[-1]["DurationSeconds"] == "43200"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role_arn": "arn:aws:iam::222222222222:user/bob"}, "not an IAM role ARN"),
    ({"role_arn": "ThumbXRole"}, "not an IAM role ARN"),
    ({"duration": 899}, "between 900 and 43200"),
    ({"duration": 43_201}, "between 900 and 43200"),
    ({"session_name": "has space"}, "session_name"),
    ({"session_name": "x" * 65}, "session_name"),
    ({"source_identity": "a/b"}, "source_identity"),
    ({"external_id": "x"}, "external_id"),
    ({"tags": {"": "v"}}, "session tag"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "at most 50"),
])
def test_bad_arguments_fail_before_any_call(fake_sts: Any, kwargs: dict[str, Any],
                                            message: str) -> None:
    args: dict[str, Any] = {"role_arn": ROLE, **kwargs}
    with pytest.raises(ValueError, match=message):
        assumed_session(**args)
    assert fake_sts.attempts == 0


def test_no_region_is_a_clear_error(fake_sts: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ValueError, match="needs a region"):
        assumed_session(ROLE)


def test_no_secret_in_any_log_line(fake_sts: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = assumed_session(ROLE, duration=900)
    sts = session.client("sts")
    sts.get_caller_identity()
    fake_sts.advance(700)
    fake_sts.deny_next = 1  # a failed refresh logs a warning with its traceback
    sts.get_caller_identity()
    fake_sts.advance(100)
    sts.get_caller_identity()
    secrets = fake_sts.secrets()
    assert len(secrets) == 4
    ours = [r for r in caplog.records if r.name.startswith("crossgrant")]
    assert any("assumed arn:aws:iam::222222222222:role/ThumbXRole" in r.getMessage()
               for r in ours)
    shown = [r for r in caplog.records if r.name.startswith("crossgrant")
             or r.levelno >= logging.INFO]
    text = "\n".join(r.getMessage() + (caplog.handler.format(r) if r.exc_info else "")
                     for r in shown)
    for secret in secrets:
        assert secret not in text
    assert all(secret not in repr(credentials_of(session)) for secret in secrets)

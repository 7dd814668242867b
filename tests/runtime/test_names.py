"""Session names and source identities derived from Lambda's environment: always valid
for STS, never longer than 64 characters, the same for the same inputs, and informative."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from crossgrant.runtime.names import environment_id, session_name_from, source_identity_from

VALID = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
LAMBDA_NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
STREAMS = st.builds(
    lambda d, v, h: f"{d:%Y/%m/%d}/[{v}]{h}",
    st.dates(), st.sampled_from(["$LATEST", "1", "42"]),
    st.text("0123456789abcdef", min_size=32, max_size=32))


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_any_input_gives_a_valid_name(function: str | None, stream: str | None) -> None:
    name = session_name_from(function, stream)
    assert VALID.fullmatch(name), name
    assert name == session_name_from(function, stream)


@given(LAMBDA_NAMES, STREAMS)
def test_lambda_inputs_name_function_and_environment(function: str, stream: str) -> None:
    name = session_name_from(function, stream)
    assert VALID.fullmatch(name)
    env_id = stream.rsplit("]", 1)[1][:12]
    assert name.endswith(f"@{env_id}")
    if len(function) <= 51:
        assert name == f"{function}@{env_id}" or len(function) < 2


@given(st.text(min_size=52, max_size=200).map(lambda s: "f" + s), STREAMS)
def test_long_names_keep_a_hash_of_the_whole_name(function: str, stream: str) -> None:
    name = session_name_from(function, stream)
    assert len(name) == 64
    assert session_name_from(function + "x", stream) != name


@given(st.one_of(st.none(), st.text()))
def test_source_identity_is_valid_or_absent(function: str | None) -> None:
    identity = source_identity_from(function)
    if not function:
        assert identity is None
    else:
        assert identity is not None
        assert VALID.fullmatch(identity)


def test_examples() -> None:
    stream = "2024/05/01/[$LATEST]3f2a9c1b0d4e5f6a7b8c9d0e1f2a3b4c"
    assert session_name_from("thumbnailer", stream) == "thumbnailer@3f2a9c1b0d4e"
    assert session_name_from(None, None) == "crossgrant"
    assert session_name_from("a", None) == "a@lambda"
    assert session_name_from("my fn/é", None) == "my-fn--"
    assert source_identity_from("thumbnailer") == "thumbnailer"
    assert environment_id("not a lambda stream") is not None

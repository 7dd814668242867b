"""Shared by every test package: one sandbox for the whole test session.

A sandbox costs a second or two to start (certificates, moto's apps, the Lambda runner's
workers), and moto's backends belong to the process anyway, so tests that need *a*
sandbox with the two default accounts share this one: they ask for the `sandbox` fixture
and name what they create uniquely (each module's TAG), because every other module sees
it too. It has a state directory (credentials, control token, audit log, function logs).
A test that needs a sandbox of its own (other accounts, a pool it resizes, state it must
not share) starts one itself; the administrator keys stay valid across both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from crossgrant.sandbox.server import Sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The session's sandbox: accounts 111111111111 and 222222222222 in eu-west-1."""
    from crossgrant.sandbox.protocol import DEFAULT_ACCOUNTS, DEFAULT_REGION  # noqa: PLC0415
    from crossgrant.sandbox.server import Sandbox  # noqa: PLC0415 - moto: only when used

    shared = Sandbox(port=0, accounts=DEFAULT_ACCOUNTS, region=DEFAULT_REGION,
                     state_dir=tmp_path_factory.mktemp("sandbox")).start()
    yield shared
    shared.stop()

"""Fixtures: a sandbox per test. Shared helpers live in tests/helpers.py."""

from __future__ import annotations

import typing as t

import pytest

from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import API_KEY


@pytest.fixture
def make_sandbox() -> t.Iterator[t.Callable[..., Sandbox]]:
    """Start sandboxes for a test (fast extension by default); all stop afterwards."""
    started: list[Sandbox] = []

    def make(**options: t.Any) -> Sandbox:
        options = {"api_key": API_KEY, "pickup_delay": 0.001, "work_time": 0.001, **options}
        sandbox = Sandbox(**options)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()

"""The client's retry error says whether a failed create may have queued a task.

A create retried after a failure the service may have acted on (a 5xx, a lost answer)
may repeat a LinkedIn action and is counted; one after a failure that proves nothing
reached OutX (HTTP 429, a refused connection) is not.
"""

from __future__ import annotations

import socket

import pytest

from tap_linkedin_connections.outx.client import ServiceUnavailable
from tap_linkedin_connections.outx.kinds import CONNECTIONS_PAGE
from tests.helpers import outx_client
from tests.scripted_server import Answer, ScriptedServer, task_created

PAGES = CONNECTIONS_PAGE.path


def _retries_after(answer: Answer) -> tuple[list[bool], int]:
    seen: list[bool] = []
    with ScriptedServer([answer, task_created("t1")], []) as server:
        client = outx_client(server.url, attempts=2)
        task_id = client.create_task(PAGES, {"start": 0, "count": 10}, before_retry=seen.append)
        assert task_id == "t1"
        client.close()
    return seen, client.counters["ambiguous_create_retries"]


def test_a_create_retried_after_a_5xx_may_have_queued_a_task() -> None:
    assert _retries_after(Answer(status=502, body={"error": "bad gateway"})) == ([True], 1)


def test_a_create_retried_after_a_429_queued_nothing() -> None:
    assert _retries_after(Answer(status=429, body={"error": "slow down"})) == ([False], 0)


def test_a_refused_connection_queued_nothing() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen: list[bool] = []
    client = outx_client(f"http://127.0.0.1:{port}", attempts=2)
    with pytest.raises(ServiceUnavailable, match="connection refused"):
        client.create_task(PAGES, {"start": 0, "count": 10}, before_retry=seen.append)
    client.close()
    assert seen == [False]
    assert client.counters["ambiguous_create_retries"] == 0

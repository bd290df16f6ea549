"""HTTP to OutX: the key goes to the configured host only, and each request ends in time.

Real loopback servers: one that redirects, one that would receive the key; one that
trickles its answer a byte at a time.
"""

from __future__ import annotations

import logging
import time

import pytest

from tap_linkedin_connections.outx.client import OutXClient, ServiceUnavailable
from tap_linkedin_connections.outx.kinds import TaskStatus
from tests.helpers import API_KEY, run_tap, tap_config
from tests.scripted_server import (
    Answer,
    ScriptedServer,
    TricklingServer,
    task_created,
    task_state,
)

OUTX_NOT_FOUND = Answer(404, {"error": "Agent task not found"})


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


def _with_key(server: ScriptedServer) -> list[str]:
    return [r.path for r in server.received if any(API_KEY in v for v in r.headers.values())]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_test_does_not_follow_a_redirect_to_another_host(tmp_path, status):
    # The elsewhere server answers like OutX: following the redirect would pass --test.
    with ScriptedServer([task_created("t1")], [OUTX_NOT_FOUND]) as elsewhere:
        redirect = Answer(status, headers={"Location": f"{elsewhere.url}/linkedin-agent/x?k=1"})
        with ScriptedServer([redirect], [redirect]) as configured:
            run = run_tap(tap_config(configured.url), tmp_path, extra_args=["--test"])
    assert elsewhere.received == [], "a request went to the host the redirect named"
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = _error_lines(run.stderr)
    assert f"answered HTTP {status} pointing to {elsewhere.url} while polling a task" in line
    assert "/linkedin-agent/x" not in line  # the host only, not where on it
    assert "set the 'api_url' setting" in line
    assert API_KEY not in run.stderr + run.stdout


def test_a_sync_does_not_follow_a_redirect_with_its_create(tmp_path):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as elsewhere:
        redirect = Answer(307, headers={"Location": f"{elsewhere.url}/linkedin-agent/x"})
        with ScriptedServer([redirect], [redirect]) as configured:
            run = run_tap(tap_config(configured.url), tmp_path)
    assert _with_key(elsewhere) == []
    assert elsewhere.received == []
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = _error_lines(run.stderr)
    assert f"answered HTTP 307 pointing to {elsewhere.url} while creating a task" in line
    assert run.records == []


def test_a_redirect_names_the_host_and_never_the_key(tmp_path):
    # A Location holding a user, a path and a query (the key among them) shows its host.
    location = f"https://{API_KEY}:x@api.example.org:8443/{API_KEY}?k={API_KEY}"
    with ScriptedServer([], [Answer(302, headers={"Location": location})]) as configured:
        run = run_tap(tap_config(configured.url), tmp_path, extra_args=["--test"])
    assert run.returncode == 1
    (line,) = _error_lines(run.stderr)
    assert "pointing to https://api.example.org:8443 while" in line
    assert API_KEY not in run.stderr + run.stdout


def _client(url: str, *, timeout: float, attempts: int = 1) -> OutXClient:
    return OutXClient(
        api_url=url,
        api_key=API_KEY,
        request_timeout=timeout,
        max_request_attempts=attempts,
        retry_initial_wait=0.001,
        retry_max_wait=0.001,
        user_agent="test",
        logger=logging.getLogger("tests"),
    )


@pytest.mark.parametrize("headers_first", [False, True], ids=["headers-trickle", "body-trickles"])
def test_a_trickling_answer_ends_at_the_request_deadline(headers_first):
    # A byte every 0.25 s: each read is well within the 1 s timeout, the whole is not.
    with TricklingServer(interval=0.25, for_seconds=8, headers_first=headers_first) as server:
        client = _client(server.url, timeout=1.0)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match=r"no complete answer within 1s"):
            client.task_status("t1")
        elapsed = time.monotonic() - started
        client.close()
    assert elapsed < 1.0 + 0.5, f"the request took {elapsed:.2f}s for a 1s deadline"
    assert len(server.received_at) == 1


def test_a_request_over_its_deadline_is_retried_like_a_timeout():
    with TricklingServer(interval=0.2, for_seconds=8, headers_first=True) as server:
        client = _client(server.url, timeout=0.5, attempts=3)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="gave up after 3 attempts"):
            client.task_status("t1")
        elapsed = time.monotonic() - started
        client.close()
    assert len(server.received_at) == 3
    assert client.counters["retries"] == 2
    assert elapsed < 3 * 0.5 + 0.75


def test_a_run_against_a_trickling_server_ends_within_its_deadlines(tmp_path):
    with TricklingServer(interval=0.25, for_seconds=30, headers_first=True) as server:
        config = tap_config(server.url, request_timeout_seconds=1, max_request_attempts=2)
        started = time.monotonic()
        run = run_tap(config, tmp_path, timeout=60)
        elapsed = time.monotonic() - started
    assert run.returncode == 1
    assert "no complete answer within 1s" in run.stderr
    # Two attempts of 1 s and one short retry wait, plus the interpreter's start.
    assert elapsed < 10, f"the run took {elapsed:.1f}s"
    assert len(server.received_at) == 2


def test_a_whole_answer_within_the_deadline_is_read():
    with ScriptedServer([], [task_state("t1", "processing")]) as server:
        client = _client(server.url, timeout=1.0)
        for _ in range(20):  # a kept-alive connection, request after request
            assert client.task_status("t1").status is TaskStatus.PROCESSING
        client.close()
    assert len(server.received) == 20


def test_a_trickling_account_does_not_hold_the_others(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=10)
    with TricklingServer(interval=0.25, for_seconds=30, headers_first=True) as slow:
        config = tap_config(sandbox.url, request_timeout_seconds=1, max_request_attempts=2)
        del config["api_key"]
        config["accounts"] = [
            {"name": "sales", "api_key": API_KEY},
            {"name": "slow", "api_key": API_KEY, "api_url": slow.url},
        ]
        started = time.monotonic()
        run = run_tap(config, tmp_path, timeout=60)
        elapsed = time.monotonic() - started
    assert run.returncode == 1
    assert len(run.records) == 10  # the other account was read
    (line,) = [ln for ln in run.stderr.splitlines() if "Account 'slow' failed" in ln]
    assert "no complete answer within 1s" in line
    assert elapsed < 10, f"the run took {elapsed:.1f}s"

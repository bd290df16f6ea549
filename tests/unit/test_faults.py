"""Every fault the service and the network throw, injected by the sandbox."""

from __future__ import annotations

import threading

import pytest

from tap_linkedin_connections.sandbox.drill import (
    HEAVY_FAULT_PROFILE,
    RESILIENT_SETTINGS,
    extra_tasks_by_offset,
)
from tests.helpers import API_KEY, run_tap_in_process, tap_config


def wasted_tasks(sandbox) -> dict[int, int]:
    """Per offset, tasks beyond the first that no fault explains."""
    extra = extra_tasks_by_offset(
        sandbox.stats()["tasks"], RESILIENT_SETTINGS["task_timeout_seconds"]
    )
    return {offset: avoidable for offset, (_, avoidable) in extra.items() if avoidable}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_full_sync_under_heavy_mixed_faults_gets_every_connection(make_sandbox, tmp_path, seed):
    sandbox = make_sandbox(
        connections=600,
        seed=seed,
        faults=HEAVY_FAULT_PROFILE,
        retry_after=0.01,
        hang_seconds=0.4,
        slow_factor=400,
        work_time=0.002,
    )
    run = run_tap_in_process(tap_config(sandbox.url, **RESILIENT_SETTINGS), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    urns = [r["entity_urn"] for r in run.records]
    assert len(urns) == len(set(urns)) == 600
    assert urns == [c["entity_urn"] for c in sandbox.connections(sort_type="RECENTLY_ADDED")]
    injected = sandbox.stats()["faults_injected"]
    assert sum(injected.values()) > 50, injected
    assert wasted_tasks(sandbox) == {}
    assert API_KEY not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "kind", ["http_500", "http_502_html", "http_503_empty", "http_504", "connection_reset"]
)
def test_persistent_server_errors_end_in_one_line_naming_what_was_tried(
    make_sandbox, tmp_path, kind
):
    sandbox = make_sandbox(connections=10, faults={kind: 1.0})
    run = run_tap_in_process(tap_config(sandbox.url, max_request_attempts=3), tmp_path)

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = [ln for ln in run.stderr.splitlines() if ln.startswith("tap-linkedin-connections:")]
    assert "while creating a task" in line
    assert "gave up after 3 attempts" in line
    assert sandbox.stats()["requests"]["create"] == 3


def test_a_read_timeout_is_retried(make_sandbox, tmp_path):
    sandbox = make_sandbox(
        connections=10, faults={"read_timeout": 1.0, "endpoints": ["poll"]}, hang_seconds=0.3
    )
    run = run_tap_in_process(
        tap_config(sandbox.url, request_timeout_seconds=0.1, max_request_attempts=2), tmp_path
    )
    assert run.returncode == 1
    assert "OutX kept failing while polling a task: read timed out" in run.stderr


def test_an_inactive_extension_is_explained(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=10, extension_active=False)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path)
    assert run.returncode == 1
    assert "no team member's OutX Chrome extension has been active" in run.stderr
    assert sandbox.stats()["tasks_created"] == 0


def test_a_wrong_key_is_explained(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=10)
    run = run_tap_in_process({**tap_config(sandbox.url), "api_key": "not-the-key"}, tmp_path)
    assert run.returncode == 1
    assert "OutX rejected the API key (HTTP 401 (Invalid API Key))" in run.stderr
    assert "not-the-key" not in run.stderr


def test_a_task_lost_twice_fails(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=10, work_time=0.3)
    # Forget every task as soon as it exists: OutX keeps answering 404.
    stop = threading.Event()

    def forget_all() -> None:
        while not stop.is_set():
            ids = [t["id"] for t in sandbox.stats()["tasks"]]
            if ids:
                sandbox.forget(ids)
            stop.wait(0.001)

    forgetter = threading.Thread(target=forget_all)
    forgetter.start()
    try:
        run = run_tap_in_process(
            tap_config(sandbox.url, poll_interval_min_seconds=0.05, poll_interval_max_seconds=0.1),
            tmp_path,
        )
    finally:
        stop.set()
        forgetter.join()
    assert run.returncode == 1
    assert "OutX lost the task for offset 0 twice" in run.stderr
    assert sandbox.stats()["tasks_created"] == 2

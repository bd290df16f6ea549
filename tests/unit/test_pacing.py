"""Account safety: tasks per rolling hour across runs, tasks in flight, progress lines."""

from __future__ import annotations

import datetime
import time

import pytest

from tests.helpers import bookmark, run_tap_in_process, tap_config


def iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat()


def max_in_any_hour(moments: list[float]) -> int:
    moments = sorted(moments)
    return max(
        (sum(1 for m in moments if start <= m < start + 3600) for start in moments), default=0
    )


def test_a_full_hour_window_in_state_makes_the_tap_wait(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=2)
    # Room for the tap to start on a loaded machine before the oldest entry leaves the hour.
    frees_at = time.time() - 3600 + 4
    window = [iso(frees_at + i * 0.01) for i in range(4)]
    state = {"bookmarks": {"connections": {"task_window": window}}}

    config = tap_config(sandbox.url, max_tasks_per_hour=4, task_ledger="none")
    run = run_tap_in_process(config, tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 150
    created = [task["created_wall"] for task in sandbox.stats()["tasks"]]
    # Neither task before the first creation in the window has left the hour.
    assert created[0] >= frees_at + 3600
    assert created[1] >= frees_at + 3600 + 0.01
    assert "Pacing: 4 tasks were created in the last hour (max_tasks_per_hour=4)" in run.stderr
    assert (
        max_in_any_hour([datetime.datetime.fromisoformat(w).timestamp() for w in window] + created)
        <= 4
    )


@pytest.mark.parametrize("in_flight", [1, 2, 3])
def test_tasks_in_flight_are_bounded(make_sandbox, tmp_path, in_flight):
    sandbox = make_sandbox(connections=1000, seed=4, work_time=0.05)
    run = run_tap_in_process(tap_config(sandbox.url, max_tasks_in_flight=in_flight), tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 1000
    for state in run.states:
        assert len(bookmark(state).get("pass", {}).get("tasks", [])) <= in_flight
    tasks = sandbox.stats()["tasks"]
    most = max(
        sum(
            1
            for other in tasks
            if other["created_at"] <= task["created_at"] < (other["completed_at"] or 1e9)
        )
        for task in tasks
    )
    assert most == in_flight
    # A full pass creates at most in_flight - 1 tasks beyond the end of the list (11
    # pages, one confirming the end, one re-reading the top).
    assert len(tasks) <= 13 + in_flight - 1


def test_progress_lines_go_to_stderr_and_stdout_stays_singer(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=400, seed=6, work_time=0.03)
    run = run_tap_in_process(
        tap_config(sandbox.url, progress_interval_seconds=0.05, page_size=50), tmp_path
    )

    assert run.returncode == 0, run.stderr
    progress = [line for line in run.stderr.splitlines() if "Progress:" in line]
    assert len(progress) >= 3
    assert "pages" in progress[-1]
    assert "connections" in progress[-1]
    assert "tasks created" in progress[-1]
    assert "waiting for" in progress[-1]
    assert {m["type"] for m in run.messages} <= {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION"}

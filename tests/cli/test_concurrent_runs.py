"""Runs as separate processes: two at once on one account's budget, a run killed with
SIGKILL and resumed from the task ledger. The tap is run as its users run it (the CLI)."""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import threading
import time
import typing as t
from collections import Counter

import pytest

from tap_linkedin_connections.connections.passes import tasks_for_full_pass
from tests.helpers import bookmark, run_tap, start_tap, tap_config


def test_two_runs_in_one_hour_share_the_budget(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1234, seed=3)
    # The ledger off: the window in STATE is the only memory of the first run.
    config = tap_config(sandbox.url, max_tasks_per_hour=3, task_ledger="none")
    first = run_tap({**config, "max_tasks_per_run": 3}, tmp_path, state=None)
    assert first.returncode == 0, first.stderr
    assert sandbox.stats()["tasks_created"] == 3
    assert len(bookmark(first.last_state)["task_window"]) == 3

    second = start_tap(config, tmp_path / "second", state=first.last_state)
    try:
        assert second.stderr is not None
        deadline = time.monotonic() + 30
        pacing_line = ""
        while time.monotonic() < deadline and not pacing_line:
            line = second.stderr.readline()
            if "Pacing:" in line:
                pacing_line = line
    finally:
        second.kill()
        second.communicate()
    assert "3 tasks were created in the last hour (max_tasks_per_hour=3)" in pacing_line
    first_task = sandbox.stats()["tasks"][0]["created_wall"]
    until = datetime.datetime.fromtimestamp(first_task + 3600, datetime.timezone.utc)
    assert f"until {until:%Y-%m-%d %H:%M}" in pacing_line
    # The second run waited instead of creating a fourth task within the hour.
    assert sandbox.stats()["tasks_created"] == 3


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        process.kill()
    return out, err


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_runs_with_separate_state_share_the_accounts_budget(
    make_sandbox, tmp_path, backend, request
):
    """Two pipelines on one key at once (dev and prod, an inherited extractor...)."""
    sandbox = make_sandbox(connections=1234, seed=21, work_time=0.02)
    ledger = (
        str(tmp_path / "ledger.sqlite")
        if backend == "sqlite"
        else request.getfixturevalue("pg_ledger_url")
    )
    # A daily cap of 6: a 13-page list cannot finish, and each run stops once the
    # account's budget is spent (the next slot is a day away).
    config = tap_config(sandbox.url, max_tasks_per_day=6, task_ledger=ledger)
    runs = [
        start_tap(config, tmp_path / name, stdout=subprocess.DEVNULL) for name in ("dev", "prod")
    ]
    outputs = [finish(run) for run in runs]

    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-2000:]
        assert "Stopped creating tasks: the pacing budget allows the next task at" in err
        assert "Traceback" not in err
    created = sandbox.stats()["tasks_created"]
    print(f"two concurrent runs, max_tasks_per_day=6: {created} tasks created together")
    assert created == 6


def test_a_killed_run_without_state_is_resumed_from_the_ledger(make_sandbox, tmp_path):
    """SIGKILL after some pages; the rerun has no STATE (as after a killed pipeline)."""
    sandbox = make_sandbox(connections=1234, seed=25, work_time=0.1)
    config = tap_config(sandbox.url, page_size=50, task_ledger=str(tmp_path / "ledger.sqlite"))
    killed = start_tap(config, tmp_path / "killed")
    # Read its output as it comes, as a target would (a full pipe would stall the tap).
    pipes = [t.cast("t.IO[str]", killed.stdout), t.cast("t.IO[str]", killed.stderr)]
    readers = [threading.Thread(target=pipe.read, daemon=True) for pipe in pipes]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        completed = sandbox.stats()["tasks_by_status"]["completed"]
        if completed >= 10:
            break
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    for reader, pipe in zip(readers, pipes, strict=True):
        reader.join()
        pipe.close()
    before = sandbox.stats()["tasks_created"]

    rerun = run_tap(config, tmp_path)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert len({r["entity_urn"] for r in rerun.records}) == 1234
    created = sandbox.stats()["tasks_created"]
    pages = tasks_for_full_pass(1234, 50)  # pages overlap (passes.py)
    print(f"killed after {before} tasks, rerun without state: {created} tasks for {pages} pages")
    assert before >= 10
    assert created <= pages + 1  # at most the task in flight at the kill, again
    assert "found in the task ledger, instead of creating one" in rerun.stderr


def test_two_runs_with_an_hourly_cap_of_6_create_6_tasks_together(make_sandbox, tmp_path):
    """The issue's case: two runs at once, max_tasks_per_hour 6 (12 tasks before)."""
    sandbox = make_sandbox(connections=1234, seed=28, work_time=0.02)
    config = tap_config(
        sandbox.url, max_tasks_per_hour=6, task_ledger=str(tmp_path / "ledger.sqlite")
    )
    runs = [start_tap(config, tmp_path / name, stdout=subprocess.DEVNULL) for name in ("a", "b")]
    try:
        # Both runs reach the cap and wait for the hour to roll on.
        deadline = time.monotonic() + 60
        waiting: list[str] = []
        for run in runs:
            stderr = t.cast("t.IO[str]", run.stderr)
            while time.monotonic() < deadline:
                line = stderr.readline()
                if "Pacing: 6 tasks were created in the last hour" in line:
                    waiting.append(line)
                    break
        assert len(waiting) == 2
        assert sandbox.stats()["tasks_created"] == 6
    finally:
        for run in runs:
            run.kill()
            run.communicate()


def test_sigkill_mid_sync_then_resume_loses_nothing_and_repeats_no_task(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1234, seed=23, work_time=0.03)
    # The test's own task ledger and state directory, as run_tap gives the resumed run.
    config = tap_config(
        sandbox.url, max_tasks_in_flight=2, task_ledger=str(tmp_path / "ledger.sqlite")
    )
    tap = start_tap(config, tmp_path, stderr=subprocess.DEVNULL)
    assert tap.stdout is not None
    first_records = []
    last_state = None
    for line in tap.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            first_records.append(message["record"])
        elif message["type"] == "STATE":
            last_state = message["value"]
            progress = bookmark(last_state).get("pass", {})
            # Kill once several pages are in and two tasks are in flight.
            if progress.get("next_offset", 0) >= 500 and len(progress.get("tasks", [])) == 2:
                tap.send_signal(signal.SIGKILL)
                break
    tap.wait()
    tap.stdout.close()
    assert tap.returncode == -signal.SIGKILL
    in_flight = [t["id"] for t in bookmark(last_state)["pass"]["tasks"]]
    assert len(in_flight) == 2

    resumed = run_tap(config, tmp_path, state=last_state)

    assert resumed.returncode == 0, resumed.stderr
    urns = [r["entity_urn"] for r in first_records + resumed.records]
    assert set(urns) == set(newest_urns(sandbox, 2000))
    # Only the page that was in flight may repeat.
    repeats = [urn for urn, n in Counter(urns).items() if n > 1]
    assert len(repeats) <= 100
    # No offset was asked for twice (but the top, re-read once the end is confirmed):
    # the resumed run polled the tasks in flight.
    starts = task_starts(sandbox)
    assert starts[-1] == 0
    assert len(starts) - 1 == len(set(starts))
    assert max(starts) <= 1300
    polled = {t["id"] for t in sandbox.stats()["tasks"] if t["polls"] > 0}
    assert set(in_flight) <= polled


def newest_urns(sandbox, k: int) -> list[str]:
    return [c["entity_urn"] for c in sandbox.connections(sort_type="RECENTLY_ADDED")[:k]]


def task_starts(sandbox) -> list[int]:
    return [task["input"]["start"] for task in sandbox.stats()["tasks"]]

"""One budget per LinkedIn account, whatever the runs and their STATE: the tap's CLI
against the sandbox, with the task ledger in the test's own directory."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import pytest

from tap_linkedin_connections.passes import tasks_for_full_pass
from tests.helpers import bookmark, run_tap, tap_config
from tests.scripted_server import Answer, ScriptedServer, task_created, task_state


def ledger_rows(path: Path) -> list[dict[str, t.Any]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM tap_linkedin_connections_task_ledger ORDER BY id")
        return [dict(row) for row in rows]


def start_tap(
    config: dict[str, t.Any], workdir: Path, stdout: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """The tap's CLI in the background, with no state, its own files."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "config.json"
    config_file.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_LINKEDIN_CONNECTIONS_")}
    env["XDG_STATE_HOME"] = str(workdir / "xdg-state")
    return subprocess.Popen(
        [sys.executable, "-m", "tap_linkedin_connections", "--config", str(config_file)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


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
    runs = [start_tap(config, tmp_path / name, subprocess.DEVNULL) for name in ("dev", "prod")]
    outputs = [finish(run) for run in runs]

    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-2000:]
        assert "Stopped creating tasks: the pacing budget allows the next task at" in err
        assert "Traceback" not in err
    created = sandbox.stats()["tasks_created"]
    print(f"two concurrent runs, max_tasks_per_day=6: {created} tasks created together")
    assert created == 6


def test_lost_create_answers_count_against_the_budget(make_sandbox, tmp_path):
    """Half the create answers lost after OutX queued the task: each attempt counts."""
    sandbox = make_sandbox(connections=1234, seed=22, faults={"create_lost": 0.5})
    config = tap_config(sandbox.url, max_tasks_per_day=10, max_request_attempts=10)
    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    stats = sandbox.stats()
    assert stats["faults_injected"]["create_lost"] >= 2
    # Every task OutX queued is within the budget, the lost ones included.
    assert stats["tasks_created"] == 10
    rows = ledger_rows(tmp_path / "ledger.sqlite")
    assert len(rows) == 10
    assert (
        sum(1 for row in rows if row["outcome"] == "sending")
        == (stats["faults_injected"]["create_lost"])
    )


def test_a_slow_pickup_costs_no_extra_task(make_sandbox, tmp_path):
    """The extension picks each task up after 1 s, three times the task timeout."""
    sandbox = make_sandbox(connections=150, seed=23, pickup_delay=1.0)
    run = run_tap(tap_config(sandbox.url, task_timeout_seconds=0.3), tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records) == 150
    # Two pages, one confirming the end, one re-reading the top: none twice.
    assert sandbox.stats()["tasks_created"] == 4
    assert "submitting it again" not in run.stderr


def test_a_sleeping_extension_ends_the_run_and_the_next_run_polls_the_same_task(
    make_sandbox, tmp_path
):
    sandbox = make_sandbox(connections=150, seed=24, extension_active=True, pickup_delay=60)
    config = tap_config(sandbox.url, task_timeout_seconds=0.2, pickup_timeout_seconds=1)
    first = run_tap(config, tmp_path)

    assert first.returncode == 0, first.stderr[-2000:]
    assert "the extension has not picked up a task for 1 seconds" in first.stderr
    assert "is Chrome open on the team's oldest admin's account?" in first.stderr
    assert sandbox.stats()["tasks_created"] == 1

    sandbox.configure(pickup_delay=0.001)
    second = run_tap(config, tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(second.records) == 150
    # The kept task, then the last page, one confirming the end, one re-reading the top.
    assert sandbox.stats()["tasks_created"] == 4


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


def test_no_task_outside_active_hours(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=26)
    now = time.gmtime()
    # A one-hour window that opens two hours from now (UTC).
    opens = (now.tm_hour + 2) % 24
    window = f"{opens:02d}:00-{(opens + 1) % 24:02d}:00"
    run = run_tap(tap_config(sandbox.url, active_hours=window, timezone="UTC"), tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert sandbox.stats()["tasks_created"] == 0
    assert f"outside active_hours {window} UTC; the window opens again at" in run.stderr
    assert bookmark(run.last_state)["pass"]["next_offset"] == 0


def test_spacing_holds_between_creations(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=450, seed=27)
    config = tap_config(sandbox.url, task_spacing_min_seconds=0.2, task_spacing_max_seconds=0.3)
    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    created = [task["created_wall"] for task in sandbox.stats()["tasks"]]
    assert len(created) == 7  # 5 pages, one confirming the end, one re-reading the top
    assert min(b - a for a, b in itertools.pairwise(created)) >= 0.2


def test_two_runs_with_an_hourly_cap_of_6_create_6_tasks_together(make_sandbox, tmp_path):
    """The issue's case: two runs at once, max_tasks_per_hour 6 (12 tasks before)."""
    sandbox = make_sandbox(connections=1234, seed=28, work_time=0.02)
    config = tap_config(
        sandbox.url, max_tasks_per_hour=6, task_ledger=str(tmp_path / "ledger.sqlite")
    )
    runs = [start_tap(config, tmp_path / name, subprocess.DEVNULL) for name in ("a", "b")]
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


def test_a_throttled_create_costs_no_budget(tmp_path):
    """A 429 queued nothing: its ledger row does not count; the retry's does."""
    throttled = Answer(429, {"error": "Rate limit exceeded."}, {"Retry-After": "0"})
    page = [
        {"entity_urn": "urn:li:fsd_profile:P1", "name": "P 1", "public_identifier": "p-1"},
    ]
    with ScriptedServer(
        [throttled, task_created("t1")], [task_state("t1", "completed", page)]
    ) as server:
        run = run_tap(tap_config(server.url, page_size=3), tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    rows = ledger_rows(tmp_path / "ledger.sqlite")
    # The throttled create, the page, and the page read again to confirm the end (and
    # re-read the top: a list of one fits in both).
    assert [row["outcome"] for row in rows] == ["not_queued", "completed", "completed"]
    assert rows[1]["task_id"] == "t1"

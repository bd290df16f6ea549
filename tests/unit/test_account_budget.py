"""One budget per LinkedIn account, whatever the runs and their STATE: the tap's CLI
against the sandbox, with the task ledger in the test's own directory."""

from __future__ import annotations

import itertools
import sqlite3
import time
import typing as t
from pathlib import Path

from tap_linkedin_connections.engine.ledger import TaskLedger, account_fingerprint
from tests.helpers import API_KEY, bookmark, run_tap_in_process, tap_config
from tests.scripted_server import Answer, ScriptedServer, task_created, task_state


def ledger_rows(path: Path) -> list[dict[str, t.Any]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM tap_linkedin_connections_task_ledger ORDER BY id")
        return [dict(row) for row in rows]


def test_lost_create_answers_count_against_the_budget(make_sandbox, tmp_path):
    """Half the create answers lost after OutX queued the task: each attempt counts."""
    sandbox = make_sandbox(connections=1234, seed=22, faults={"create_lost": 0.5})
    config = tap_config(sandbox.url, max_tasks_per_day=10, max_request_attempts=10)
    run = run_tap_in_process(config, tmp_path)

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
    run = run_tap_in_process(tap_config(sandbox.url, task_timeout_seconds=0.3), tmp_path)

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
    first = run_tap_in_process(config, tmp_path)

    assert first.returncode == 0, first.stderr[-2000:]
    assert "the extension has not picked up a task for 1 seconds" in first.stderr
    assert "is Chrome open on the team's oldest admin's account?" in first.stderr
    assert sandbox.stats()["tasks_created"] == 1

    sandbox.configure(pickup_delay=0.001)
    second = run_tap_in_process(config, tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(second.records) == 150
    # The kept task, then the last page, one confirming the end, one re-reading the top.
    assert sandbox.stats()["tasks_created"] == 4


def test_no_task_outside_active_hours(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=26)
    now = time.gmtime()
    # A one-hour window that opens two hours from now (UTC).
    opens = (now.tm_hour + 2) % 24
    window = f"{opens:02d}:00-{(opens + 1) % 24:02d}:00"
    run = run_tap_in_process(tap_config(sandbox.url, active_hours=window, timezone="UTC"), tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert sandbox.stats()["tasks_created"] == 0
    assert f"outside active_hours {window} UTC; the window opens again at" in run.stderr
    assert bookmark(run.last_state)["pass"]["next_offset"] == 0


def test_spacing_holds_between_creations(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=450, seed=27)
    config = tap_config(sandbox.url, task_spacing_min_seconds=0.2, task_spacing_max_seconds=0.3)
    run = run_tap_in_process(config, tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert sandbox.stats()["tasks_created"] == 7  # 5 pages, the end confirmed, the top re-read
    # The spacing holds between the moments creates were counted and sent (the ledger's
    # times): what reaches the sandbox can come closer on a loaded machine.
    ledger = TaskLedger(
        f"sqlite:///{tmp_path / 'ledger.sqlite'}", account_fingerprint(sandbox.url, API_KEY)
    )
    created = sorted(row["created_at"] for row in ledger.rows())
    ledger.close()
    assert len(created) == 7
    assert min(b - a for a, b in itertools.pairwise(created)) >= 0.2


def test_a_throttled_create_costs_no_budget(tmp_path):
    """A 429 queued nothing: its ledger row does not count; the retry's does."""
    throttled = Answer(429, {"error": "Rate limit exceeded."}, {"Retry-After": "0"})
    page = [
        {"entity_urn": "urn:li:fsd_profile:P1", "name": "P 1", "public_identifier": "p-1"},
    ]
    with ScriptedServer(
        [throttled, task_created("t1")], [task_state("t1", "completed", page)]
    ) as server:
        run = run_tap_in_process(tap_config(server.url, page_size=3), tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    rows = ledger_rows(tmp_path / "ledger.sqlite")
    # The throttled create, the page, and the page read again to confirm the end (and
    # re-read the top: a list of one fits in both).
    assert [row["outcome"] for row in rows] == ["not_queued", "completed", "completed"]
    assert rows[1]["task_id"] == "t1"

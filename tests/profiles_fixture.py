"""What the profile tests share: the tap run with a catalog selecting streams, the
sandbox's profile tasks, and days passing for the task ledger's database."""

from __future__ import annotations

import sqlite3
import typing as t
from contextlib import closing
from pathlib import Path

from tap_linkedin_connections.sandbox import Sandbox
from tap_linkedin_connections.sandbox.profiles import PROFILE_TASK_TYPE
from tap_linkedin_connections.tap import TapLinkedInConnections
from tests.helpers import TapRun, run_tap_in_process, tap_config

DAY = 86_400.0

#: Every column of the tap's tables that holds a moment (seconds since the epoch).
TIMES = {
    "tap_linkedin_connections_task_ledger": ("created_at", "answered_at"),
    "tap_linkedin_connections_profile_fetches": ("fetched_at", "failed_at"),
    "tap_linkedin_connections_job_changes": ("observed_at",),
    "tap_linkedin_connections_listed_connections": ("pass_seq", "seen_at"),
    "tap_linkedin_connections_listed_passes": ("pass_seq", "whole_at"),
}


def catalog(config: dict[str, t.Any], *streams: str) -> dict[str, t.Any]:
    """The discovered catalog with these streams selected and the others not."""
    found = TapLinkedInConnections(config=config, validate_config=True).catalog_dict
    for entry in found["streams"]:
        for metadata in entry["metadata"]:
            metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return t.cast("dict[str, t.Any]", found)


def profile_tasks(sandbox: Sandbox) -> list[dict[str, t.Any]]:
    """The fetch-profile tasks the sandbox received, oldest first."""
    return [
        task
        for task in sandbox.stats()["tasks"]
        if task["input"].get("task_type") == PROFILE_TASK_TYPE
    ]


def profile_slugs(sandbox: Sandbox) -> list[str]:
    return [str(task["input"]["profile_slug"]) for task in profile_tasks(sandbox)]


def days_pass(ledger: Path, days: float) -> None:
    """Move every moment in the ledger's database back by ``days``: the next run sees
    what was done as done that long ago (pacing windows, pauses, refresh ages)."""
    with closing(sqlite3.connect(ledger)) as conn, conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        for table, columns in TIMES.items():
            if table in tables:
                shifts = ", ".join(f"{c} = {c} - {days * DAY}" for c in columns)
                conn.execute(f"UPDATE {table} SET {shifts}")


def ledger_kinds(ledger: Path) -> list[str]:
    """The kind of every task in the ledger, oldest first."""
    with closing(sqlite3.connect(ledger)) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT kind FROM tap_linkedin_connections_task_ledger ORDER BY id"
            )
        ]


#: Every stream of the tap.
ALL = ("connections", "profiles", "connection_events", "job_changes")


def config_for(sandbox: Sandbox, tmp_path: Path, **overrides: t.Any) -> dict[str, t.Any]:
    """A fast config against the sandbox, its own ledger, 20 profiles a day."""
    settings = {"task_ledger": str(tmp_path / "ledger.sqlite"), "max_profile_fetches_per_day": 20}
    return tap_config(sandbox.url, **{**settings, **overrides})


def run(
    config: dict[str, t.Any],
    tmp_path: Path,
    *,
    state: dict[str, t.Any] | None = None,
    streams: tuple[str, ...] = ALL,
) -> TapRun:
    """The tap in this process with these streams selected; it must succeed."""
    done = run_tap_in_process(config, tmp_path, state=state, catalog=catalog(config, *streams))
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def records(done: TapRun, stream: str) -> list[dict[str, t.Any]]:
    return [
        m["record"] for m in done.all_messages if m["type"] == "RECORD" and m["stream"] == stream
    ]


def newest_slugs(sandbox: Sandbox, count: int) -> list[str]:
    return [str(c["public_identifier"]) for c in sandbox.connections()[:count]]

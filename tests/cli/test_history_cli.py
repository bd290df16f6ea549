"""The network history as only separate processes show it: a run killed mid-pass."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess

from tests.helpers import bookmark, run_tap, start_tap, tap_config


def test_a_killed_cli_run_mid_pass_doubles_no_event(make_sandbox, tmp_path):
    """SIGKILL during a full pass whose pages find events; the rerun starts from the
    STATE before it (what Meltano keeps of a killed run) and reads those pages again."""
    sandbox = make_sandbox(connections=600, seed=67, work_time=0.03)
    config = tap_config(sandbox.url, page_size=50)
    base = run_tap(config, tmp_path)
    assert base.returncode == 0, base.stderr
    listing = sandbox.connections()
    changes = [listing[i]["entity_urn"] for i in (40, 120, 300, 500)]
    for urn in changes:
        sandbox.profiles.change_job(entity_urn=urn, title="Partner", company="Hooli")
    tap = start_tap(
        {"task_ledger": str(tmp_path / "ledger.sqlite"), **config, "full_refresh": True},
        tmp_path,
        state=base.last_state,
        stderr=subprocess.DEVNULL,
    )
    assert tap.stdout is not None
    for line in tap.stdout:
        message = json.loads(line)
        if (
            message["type"] == "STATE"
            and bookmark(message["value"]).get("pass", {}).get("next_offset", 0) >= 188
        ):
            tap.send_signal(signal.SIGKILL)
            break
    tap.wait()
    tap.stdout.close()
    assert tap.returncode == -signal.SIGKILL
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        before = conn.execute(
            "SELECT count(*) FROM tap_linkedin_connections_history_events"
        ).fetchone()[0]
    assert 1 <= before < 4  # the kill came after some of the changes were read

    rerun = run_tap({**config, "full_refresh": True}, tmp_path, state=base.last_state)

    assert rerun.returncode == 0, rerun.stderr
    assert sorted(e["entity_urn"] for e in rerun.events) == sorted(changes)
    assert {e["event"] for e in rerun.events} == {"headline_changed"}
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        after = conn.execute(
            "SELECT count(*) FROM tap_linkedin_connections_history_events"
        ).fetchone()[0]
    assert after == 4

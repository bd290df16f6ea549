"""A pass that proves itself: shifts under a pass, guards before ACTIVATE_VERSION,
incremental boundaries, runs that recover, keys and state from the real world.

Every test runs the tap (the CLI) against the sandbox over HTTP.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import (
    API_KEY,
    bookmark,
    connected,
    key_forms,
    live,
    run_tap_in_process,
    starts,
    summary,
    tap_config,
    urns,
)

# Shifts under a pass


def test_removals_one_at_a_time_during_a_pass_miss_nothing(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1000, seed=41)
    for task in range(2, 11):
        sandbox.schedule_change(task, remove_positions=[5])

    run = run_tap_in_process(tap_config(sandbox.url), tmp_path)

    assert run.returncode == 0, run.stderr
    assert live(sandbox) <= set(urns(run.records))
    assert len(run.of_type("ACTIVATE_VERSION")) == 1
    assert "ACTIVATE_VERSION sent" in summary(run)


def test_3000_connections_with_20_removed_at_once_during_the_pass(make_sandbox, tmp_path):
    """The measurement of the issue: live connections missed, ACTIVATE_VERSION, tasks."""
    sandbox = make_sandbox(connections=3000, seed=43)
    # Once task 6 exists, 20 connections above the read position go: every later page
    # is pulled up by 20, which an overlap of 3 cannot absorb.
    sandbox.schedule_change(6, remove_positions=list(range(100, 120)))

    run = run_tap_in_process(tap_config(sandbox.url, max_tasks_in_flight=1), tmp_path)

    assert run.returncode == 0, run.stderr
    missed = live(sandbox) - set(urns(run.records))
    tasks = sandbox.stats()["tasks_created"]
    print(f"\n3000 - 20 removed: missed {len(missed)}, tasks {tasks} (minimum 30)")
    assert missed == set()
    assert len(run.of_type("ACTIVATE_VERSION")) == 1
    assert "does not join the one before" in run.stderr
    # 31 pages to see the end of 2,980 (the last one short), one bridge, one page that
    # confirms the end and one re-read of the top.
    assert tasks == 34


def test_a_pass_over_runs_with_removals_between_runs(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1234, seed=47)
    state, records, activations = None, [], []
    for _ in range(10):
        run = run_tap_in_process(
            tap_config(sandbox.url, max_tasks_per_run=3), tmp_path, state=state
        )
        assert run.returncode == 0, run.stderr
        records += run.records
        activations += run.of_type("ACTIVATE_VERSION")
        state = run.last_state
        if activations:
            break
        # Ten removed above the next run's read position.
        sandbox.remove_connections(positions=list(range(10)))

    assert len(activations) == 1
    assert live(sandbox) <= set(urns(records))
    assert len(urns(records)) == len(set(urns(records)))  # nothing emitted twice


def test_a_gap_no_bridge_can_close_keeps_every_record_and_deletes_nothing(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1500, seed=53)
    # Once page 3 exists, 700 connections above it go: the pages read so far are gone
    # from the list, no bridge reaches back to them.
    sandbox.schedule_change(4, remove_positions=list(range(0, 700)))

    run = run_tap_in_process(tap_config(sandbox.url, max_tasks_in_flight=1), tmp_path)

    assert run.returncode == 0, run.stderr
    assert live(sandbox) <= set(urns(run.records))
    assert run.of_type("ACTIVATE_VERSION") == []
    assert "Continuity lost" in run.stderr
    assert "ACTIVATE_VERSION not sent: continuity was lost" in summary(run)


def test_page_size_changed_on_resume_goes_on_with_the_passes_own(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1000, seed=59)
    first = run_tap_in_process(tap_config(sandbox.url, page_size=40, max_tasks_per_run=2), tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_tap_in_process(
        tap_config(sandbox.url, page_size=100), tmp_path, state=first.last_state
    )

    assert second.returncode == 0, second.stderr
    assert "page_size changed from 40 to 100" in second.stderr
    assert set(urns(first.records + second.records)) == live(sandbox)
    assert len(second.of_type("ACTIVATE_VERSION")) == 1
    assert {task["input"]["count"] for task in sandbox.stats()["tasks"]} == {40}
    # The next pass uses the new size.
    assert "page_size" not in bookmark(second.last_state)


# Guards before ACTIVATE_VERSION


@pytest.fixture
def loaded(make_sandbox, tmp_path):
    """A sandbox of 1,234 connections and the state of a first, full run over it."""
    sandbox = make_sandbox(connections=1234, seed=61)
    first = run_tap_in_process(tap_config(sandbox.url), tmp_path)
    assert first.returncode == 0, first.stderr
    sandbox.reset_stats()
    return sandbox, first.last_state


def test_an_empty_first_page_after_a_full_list_deletes_nothing(loaded, tmp_path):
    sandbox, state = loaded
    sandbox.remove_connections(positions=list(range(1234)))
    run = run_tap_in_process(tap_config(sandbox.url, full_refresh=True), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert run.records == []
    assert run.of_type("ACTIVATE_VERSION") == []
    assert "it found no connections, where the last complete pass found 1234" in summary(run)
    # The next pass is still held to the last complete total.
    assert bookmark(run.last_state)["bookmark"]["total"] == 1234


@pytest.mark.parametrize(("fraction", "activated"), [(0.1, False), (0.2, True), (1, True)])
def test_max_deleted_fraction(loaded, tmp_path, fraction, activated):
    sandbox, state = loaded
    sandbox.remove_connections(positions=list(range(0, 1234, 7)))  # 177 of 1,234: 14 %
    config = tap_config(sandbox.url, full_refresh=True, max_deleted_fraction=fraction)
    run = run_tap_in_process(config, tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    # removed_connections mark: a proven pass also sends the removed ones, marked.
    assert set(urns(connected(run.records))) == live(sandbox)
    assert len(run.of_type("ACTIVATE_VERSION")) == int(activated)
    if not activated:
        assert "177 fewer than the last complete pass's 1234" in summary(run)


# Incremental runs


def test_a_contact_who_reconnected_above_new_ones_does_not_hide_them(loaded, tmp_path):
    sandbox, state = loaded
    sandbox.add_connections(10)
    top = urns(sandbox.connections(sort_type="RECENTLY_ADDED"))
    # As if the contact now at position 3 were remembered from the last pass and had
    # re-connected (the sandbox gives new connections new identities).
    state["bookmarks"]["connections"]["bookmark"]["newest"] = [top[3], *top[10:34]]

    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    new = [urn for i, urn in enumerate(top[:10]) if i != 3]
    assert urns(run.records) == new
    assert sandbox.stats()["tasks_created"] == 1
    # The bookmark holds only connections that were emitted (now or before), in the
    # list's order: the re-connected contact where it is now.
    remembered = bookmark(run.last_state)["bookmark"]["newest"]
    assert remembered == top[:25]
    assert set(remembered) <= set(new) | {top[3], *top[10:34]}


# Every run is a new chance


def test_a_poisoned_page_recovers_in_the_next_run(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=300, seed=67, faults={"task_fail": 1.0})
    config = tap_config(sandbox.url, max_task_attempts=2, max_tasks_in_flight=1)
    failed = run_tap_in_process(config, tmp_path)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert sandbox.stats()["tasks_created"] == 2

    sandbox.configure(faults={})
    fixed = run_tap_in_process(config, tmp_path, state=failed.last_state)

    assert fixed.returncode == 0, fixed.stderr
    assert set(urns(fixed.records)) == live(sandbox)
    assert len(fixed.of_type("ACTIVATE_VERSION")) == 1
    # The failed task was polled again, and re-created once: not twice more (the last
    # task at offset 0 is the re-read of the top, once the end is confirmed).
    tasks = sandbox.stats()["tasks"]
    assert tasks[1]["polls"] >= 2
    assert starts(sandbox).count(0) == 4


# Keys and state from the real world


@pytest.mark.parametrize("key", [API_KEY + "\n", f"  {API_KEY}\t\r\n"])
def test_a_key_with_surrounding_whitespace_is_stripped(make_sandbox, tmp_path, key):
    sandbox = make_sandbox(connections=150, seed=71)
    run = run_tap_in_process({**tap_config(sandbox.url), "api_key": key}, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 150
    for form in key_forms(key):
        assert form not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("stream_state", "problem"),
    [
        ({"pass": {"kind": "full", "identity": {}, "next_offset": -100}}, "'pass.next_offset'"),
        ({"bookmark": {"newest": "urn:li:fsd_profile:X"}}, "'bookmark.newest'"),
        ({"bookmark": ["x"]}, "'bookmark' is a list"),
        ({"pass": "full"}, "'pass' is a str"),
        ({"task_window": "2026-01-01T00:00:00+00:00"}, "'task_window'"),
    ],
)
def test_state_of_the_wrong_shape_warns_once_and_starts_afresh(
    make_sandbox, tmp_path, stream_state, problem
):
    sandbox = make_sandbox(connections=150, seed=79)
    state = {"bookmarks": {"connections": stream_state}}
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    (warning,) = [ln for ln in run.stderr.splitlines() if "state cannot be used" in ln]
    assert problem in warning
    assert "Starting a full pass" in run.stderr
    assert min(starts(sandbox)) == 0
    assert len(run.records) == 150
    assert len(run.of_type("ACTIVATE_VERSION")) == 1


def test_offsets_from_a_state_file_are_logged_as_integers(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=300, seed=83)
    first = run_tap_in_process(tap_config(sandbox.url, max_tasks_per_run=1), tmp_path)
    assert first.returncode == 0, first.stderr
    # A state file written as 1E+2 loads as Decimal("1E+2"), which prints as such.
    text = json.dumps(first.last_state).replace('"next_offset": 97', '"next_offset": 1E+2')
    assert "1E+2" in text
    second = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=json.loads(text))

    assert second.returncode == 0, second.stderr
    assert "1E+2" not in second.stderr
    assert "at offset 100" in second.stderr
    # Offset 100 skipped 97-99: the page does not join up, and a bridge reads them.
    assert live(sandbox) <= set(urns(first.records + second.records))
    assert len(second.of_type("ACTIVATE_VERSION")) == 1


# The smaller items


def test_a_stream_mapped_to_null_costs_no_task(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=89)
    run = run_tap_in_process(tap_config(sandbox.url, stream_maps={"connections": None}), tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.records == []
    assert sandbox.stats()["requests"]["create"] == 0


def test_a_tls_failure_is_named_and_not_a_possible_duplicate(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=97)
    https = sandbox.url.replace("http://", "https://")  # TLS spoken to a plain-HTTP port
    run = run_tap_in_process(tap_config(https, max_request_attempts=2), tmp_path)

    assert run.returncode != 0
    assert "TLS error" in run.stderr
    assert "may have queued a task" not in run.stderr
    assert "0 create retries after a lost answer" in summary(run)


def test_the_readme_recipe_turns_output_into_the_next_state(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=101)
    first = run_tap_in_process(tap_config(sandbox.url), tmp_path)
    assert first.returncode == 0, first.stderr
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    recipe = re.search(r"`(python3 -c '[^`]*?') < connections\.jsonl > state\.json`", readme)
    assert recipe is not None
    command = recipe.group(1).replace("\n", " ").replace("python3", shlex.quote(sys.executable), 1)
    recipes = [command]
    if shutil.which("jq"):
        recipes.append("""jq -c 'select(.type == "STATE") | .value' | tail -1""")
    for recipe_command in recipes:
        done = subprocess.run(
            recipe_command,
            shell=True,
            input=first.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        state = json.loads(done.stdout)
        assert state == first.last_state
    sandbox.reset_stats()
    again = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)
    assert again.records == []
    assert sandbox.stats()["tasks_created"] == 1

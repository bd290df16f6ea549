"""What a pass must read before it may delete, and where an incremental run stops: the
cases of issue 17 (points 1-5, 7 and the size of STATE), against the sandbox.

Every test runs the tap (the CLI) against the sandbox over HTTP. The numbers in the
comments were measured on the release before (ea9066f) and after.
"""

from __future__ import annotations

import json
import time

import pytest

from tap_linkedin_connections.connections.passes import tasks_for_full_pass
from tests.helpers import (
    FAST_SETTINGS,
    bookmark,
    connected,
    live,
    run_tap_in_process,
    starts,
    summary,
    tap_config,
    urns,
)


def activated(run) -> bool:
    return len(run.of_type("ACTIVATE_VERSION")) == 1


# 1. A contact who re-connects during a full pass moves to the top


def test_contacts_who_reconnect_from_the_unread_part_are_read_before_activate_version(
    make_sandbox, tmp_path
):
    """Before: 2,995 of 3,000 emitted, ACTIVATE_VERSION sent (5 live rows deleted)."""
    sandbox = make_sandbox(connections=3000, seed=43)
    for i, task in enumerate((5, 10, 15, 20, 25)):
        # From deep in the part not yet read, to the top the pass has read already.
        sandbox.schedule_change(task, reconnect_positions=[2990 - i])

    run = run_tap_in_process(tap_config(sandbox.url, max_tasks_in_flight=1), tmp_path)

    assert run.returncode == 0, run.stderr
    assert live(sandbox) <= set(urns(run.records))
    assert len(urns(run.records)) == len(set(urns(run.records))) == 3000
    assert activated(run)
    assert "re-reading the top for contacts added meanwhile" in run.stderr
    # 31 pages, one confirming the end, one re-reading the top: the five fit in it.
    assert sandbox.stats()["tasks_created"] == 33 == tasks_for_full_pass(3000, 100)
    assert starts(sandbox)[-1] == 0
    # The bookmark's newest are the list's newest now: the five on top.
    newest = urns(sandbox.connections(sort_type="RECENTLY_ADDED")[:25])
    assert bookmark(run.last_state)["bookmark"]["newest"] == newest


def test_a_pass_spread_over_runs_still_reads_the_contacts_who_reconnected(make_sandbox, tmp_path):
    """Before: 4 live connections missed, ACTIVATE_VERSION sent, 13 tasks."""
    sandbox = make_sandbox(connections=1234, seed=47)
    state, records, activations = None, [], 0
    for run_number in range(10):
        run = run_tap_in_process(
            tap_config(sandbox.url, max_tasks_per_run=3), tmp_path, state=state
        )
        assert run.returncode == 0, run.stderr
        records += run.records
        activations += activated(run)
        state = run.last_state
        if "pass" not in bookmark(state):
            break
        # Between two runs, a contact from deep in the list re-connects.
        sandbox.reconnect_connections([1200 - run_number])

    assert activations == 1
    assert live(sandbox) <= set(urns(records))
    assert sandbox.stats()["tasks_created"] == tasks_for_full_pass(1234, 100)


# 2. A short page in the middle of the list is not the end


@pytest.mark.parametrize("first_pass", [True, False])
@pytest.mark.parametrize(
    ("kind", "times"), [("drop_row", 1), ("duplicate_row", 1), ("drop_row", None)]
)
def test_a_page_short_in_the_middle_is_not_taken_for_the_end(
    make_sandbox, tmp_path, first_pass, kind, times
):
    """Before: "Full pass complete: 972", 28 live rows deleted (one for a row shown twice)."""
    sandbox = make_sandbox(connections=1000, seed=61)
    state = None
    if not first_pass:
        state = run_tap_in_process(tap_config(sandbox.url), tmp_path).last_state
        sandbox.reset_stats()
    sandbox.spoil_page(873, kind, times=times)
    listing = urns(sandbox.connections(sort_type="RECENTLY_ADDED"))

    run = run_tap_in_process(
        tap_config(sandbox.url, full_refresh=not first_pass), tmp_path, state=state
    )

    assert run.returncode == 0, run.stderr
    # A member hidden on every reading cannot be read; everyone else is.
    hidden = {listing[873 + 50]} if times is None else set()
    assert set(listing) - hidden == set(urns(connected(run.records)))
    assert activated(run)
    assert f"Full pass complete: {1000 - len(hidden)} connections" in run.stderr
    # One task more than an undisturbed pass: the short page, or the page holding a
    # connection twice, is read again.
    assert sandbox.stats()["tasks_created"] == tasks_for_full_pass(1000, 100) + 1
    assert starts(sandbox).count(873) == 2


def test_an_undisturbed_pass_pays_one_task_to_confirm_its_end(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1000, seed=62)
    run = run_tap_in_process(tap_config(sandbox.url, sort_type="RELEVANCE"), tmp_path)

    assert run.returncode == 0, run.stderr
    assert activated(run)
    # Pages 0..970, then one from the short page's last rows (970 + 30 - 3): no top
    # re-read in LinkedIn's relevance order (new contacts land anywhere in it).
    assert starts(sandbox) == [*range(0, 1067, 97), 997]


# 3. Contacts who re-connect in their old order do not hide new ones


@pytest.mark.parametrize(("new", "tasks"), [(10, 1), (150, 2)])
def test_two_contacts_reconnected_in_their_old_order_hide_no_new_connection(
    make_sandbox, tmp_path, new, tasks
):
    """Before: 0 of 10 (or 150) new connections emitted in three incremental runs."""
    sandbox = make_sandbox(connections=1234, seed=61)
    state = run_tap_in_process(tap_config(sandbox.url), tmp_path).last_state
    added = sandbox.add_connections(new)
    # The 6th and 7th newest of the last pass re-connect, the older one first: they sit
    # on top, in their old order, above the new ones.
    sandbox.reconnect_connections([new + 6, new + 5])
    sandbox.reset_stats()

    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert urns(run.records) == urns(added)
    assert sandbox.stats()["tasks_created"] == tasks
    again = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=run.last_state)
    assert again.records == []


# 4. Hundreds added at once


def test_250_added_mid_pass_do_not_lose_the_pass(make_sandbox, tmp_path):
    """Before: 5 bridges wasted, continuity lost, no ACTIVATE_VERSION, 39 tasks."""
    sandbox = make_sandbox(connections=3000, seed=71)
    sandbox.schedule_change(8, add=250)  # the 8th page is read after them

    run = run_tap_in_process(tap_config(sandbox.url, max_tasks_in_flight=1), tmp_path)

    assert run.returncode == 0, run.stderr
    assert live(sandbox) <= set(urns(run.records))
    assert activated(run)
    assert "does not join the one before" not in run.stderr
    assert "the page lies wholly in what this pass read" in run.stderr
    # As many pages as 3,250 connections take, and two more to re-read the top.
    assert sandbox.stats()["tasks_created"] == tasks_for_full_pass(3250, 100) + 2 == 38


# 5. Table versions only grow


def test_a_clock_set_back_still_gives_a_newer_table_version(make_sandbox, tmp_path):
    """Before: the full refresh's version was 3 hours older than the rows loaded."""
    sandbox = make_sandbox(connections=150, seed=73)
    first = run_tap_in_process(tap_config(sandbox.url), tmp_path)
    # As if the first run's clock had been 3 hours ahead.
    future = int(time.time() * 1000) + 3 * 3600 * 1000
    state = json.loads(
        json.dumps(first.last_state).replace(
            str(bookmark(first.last_state)["table"]["version"]), str(future)
        )
    )

    run = run_tap_in_process(tap_config(sandbox.url, full_refresh=True), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    (activate,) = run.of_type("ACTIVATE_VERSION")
    assert activate["version"] == future + 1
    assert {m["version"] for m in run.of_type("RECORD")} == {future + 1}


# 7. STATE held to the config's rules


@pytest.mark.parametrize("page_size", [0, 1, 101])
def test_a_pass_with_a_page_size_the_config_refuses_is_dropped(make_sandbox, tmp_path, page_size):
    """Before: page_size 1 looped (200 tasks in 5 s here, stopped by the budget)."""
    sandbox = make_sandbox(connections=1234, seed=79)
    first = run_tap_in_process(tap_config(sandbox.url, max_tasks_per_run=2), tmp_path)
    state = first.last_state
    bookmark(state)["pass"]["page_size"] = page_size
    sandbox.reset_stats()

    run = run_tap_in_process(tap_config(sandbox.url, max_tasks_per_run=200), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    (warning,) = [ln for ln in run.stderr.splitlines() if "state cannot be used" in ln]
    assert "'pass.page_size' is not a whole number from 2 to 100" in warning
    assert activated(run)
    # A new pass; the two pages the dropped one had read are polled from the task
    # ledger, not created again.
    assert sandbox.stats()["tasks_created"] == tasks_for_full_pass(1234, 100) - 2
    assert "2 tasks re-polled from the task ledger" in summary(run)


# 15. STATE stays small, and a STATE of the last release still resumes


def test_state_is_small_with_several_accounts(make_sandbox, tmp_path):
    """Before: 3.8 MB of STATE for 3.0 MB of records, 8 KB per account and message."""
    boxes = [
        make_sandbox(connections=1000, seed=200 + i, api_key=f"key-{i}-0123456789abcdef")
        for i in range(5)
    ]
    accounts = [
        {"name": f"a{i}", "api_key": f"key-{i}-0123456789abcdef", "api_url": box.url}
        for i, box in enumerate(boxes)
    ]
    config = {"api_url": boxes[0].url, **FAST_SETTINGS, "accounts": accounts}
    run = run_tap_in_process(config, tmp_path)

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    state_sizes = [len(ln) for ln in lines if ln.startswith('{"type":"STATE"')]
    record_bytes = sum(len(ln) for ln in lines if ln.startswith('{"type":"RECORD"'))
    assert state_sizes
    # A pass's part is about 4.7 KB: 25 newest URNs, two pages as 11-character marks.
    assert max(state_sizes) < 5 * 5500
    assert sum(state_sizes) < record_bytes


def test_a_pass_written_by_the_last_release_resumes(make_sandbox, tmp_path):
    """The last release kept whole URNs in ``tail``; they read as marks."""
    sandbox = make_sandbox(connections=1234, seed=83)
    listing = urns(sandbox.connections(sort_type="RECENTLY_ADDED"))
    identity = {"account": "default", "keyword": None, "sort_type": "RECENTLY_ADDED"}
    version = int(time.time() * 1000) - 60_000
    state = {
        "bookmarks": {
            "connections": {
                "table": {"version": version, "activated": False},
                "pass": {
                    "identity": identity,
                    "kind": "full",
                    "version": version,
                    "page_size": 100,
                    "next_offset": 194,
                    "tasks": [],
                    "newest": listing[:25],
                    "emitted": 197,
                    "tail": listing[97:197],
                },
            }
        }
    }

    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert "Resuming the unfinished full pass at offset 194" in run.stderr
    assert urns(run.records) == listing[197:]  # no page read twice, no record repeated
    assert activated(run)
    assert bookmark(run.last_state)["bookmark"]["total"] == 1234

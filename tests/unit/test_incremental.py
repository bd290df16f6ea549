"""Incremental, resumable and budgeted runs, and deletions, against the sandbox."""

from __future__ import annotations

import math

import pytest

from tests.helpers import bookmark, run_tap_in_process, tap_config


def newest_urns(sandbox, k: int) -> list[str]:
    return [c["entity_urn"] for c in sandbox.connections(sort_type="RECENTLY_ADDED")[:k]]


def task_starts(sandbox) -> list[int]:
    return [task["input"]["start"] for task in sandbox.stats()["tasks"]]


@pytest.fixture
def loaded(make_sandbox, tmp_path):
    """A sandbox of 1,234 connections and the state of a first, full run over it."""
    sandbox = make_sandbox(connections=1234, seed=17)
    first = run_tap_in_process(tap_config(sandbox.url), tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(first.records) == 1234
    sandbox.reset_stats()
    return sandbox, first.last_state


def test_nothing_new_costs_one_task_and_no_record(loaded, tmp_path):
    sandbox, state = loaded
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert run.records == []
    assert sandbox.stats()["tasks_created"] == 1
    assert run.of_type("ACTIVATE_VERSION") == []


@pytest.mark.parametrize("new", [1, 42, 99, 100, 250])
def test_k_new_connections_cost_the_pages_down_to_two_known_ones(loaded, tmp_path, new):
    sandbox, state = loaded
    added = sandbox.add_connections(new)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert [r["entity_urn"] for r in run.records] == newest_urns(sandbox, new)
    assert {r["entity_urn"] for r in run.records} == {c["entity_urn"] for c in added}
    # The old list is recognised by two known connections in a row (a re-connected
    # contact is one known connection alone); pages overlap by 3.
    assert sandbox.stats()["tasks_created"] == 1 + max(0, math.ceil((new + 2 - 100) / 97))
    assert run.of_type("ACTIVATE_VERSION") == []
    # Incremental records keep the last full pass's version.
    assert {m["version"] for m in run.of_type("RECORD")} == {bookmark(state)["bookmark"]["version"]}
    assert bookmark(run.last_state)["bookmark"]["newest"] == newest_urns(sandbox, 25)


def test_removed_newest_connections_do_not_hide_the_new_ones(loaded, tmp_path):
    sandbox, state = loaded
    sandbox.remove_connections(positions=[0, 1, 2])
    added = sandbox.add_connections(5)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert [r["entity_urn"] for r in run.records] == newest_urns(sandbox, 5)
    assert {r["entity_urn"] for r in run.records} == {c["entity_urn"] for c in added}
    assert sandbox.stats()["tasks_created"] == 1


def test_a_bookmark_whose_connections_were_all_removed_reads_everything(loaded, tmp_path):
    sandbox, state = loaded
    remembered = bookmark(state)["bookmark"]["newest"]
    sandbox.remove_connections(entity_urns=remembered)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert [r["entity_urn"] for r in run.records] == newest_urns(sandbox, 2000)
    assert len(run.records) == 1234 - len(remembered)
    assert "None of the 25 remembered connections was found" in run.stderr
    # Later runs are incremental again.
    sandbox.reset_stats()
    again = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=run.last_state)
    assert again.records == []
    assert sandbox.stats()["tasks_created"] == 1


@pytest.mark.parametrize(
    "change", [{"keyword": "a"}, {"sort_type": "RELEVANCE"}, {"full_refresh": True}]
)
def test_a_new_keyword_order_or_full_refresh_means_a_full_pass(loaded, tmp_path, change):
    sandbox, state = loaded
    run = run_tap_in_process(tap_config(sandbox.url, **change), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    sort_type = change.get("sort_type", "RECENTLY_ADDED")
    expected = sandbox.connections(
        sort_type=None if sort_type == "RELEVANCE" else sort_type, keyword=change.get("keyword")
    )
    assert [r["entity_urn"] for r in run.records] == [c["entity_urn"] for c in expected]
    (activate,) = run.of_type("ACTIVATE_VERSION")
    assert activate["version"] > bookmark(state)["bookmark"]["version"]


def test_a_budget_spreads_a_full_pass_over_runs_without_repeating_a_task(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=1234, seed=19)
    state = None
    records: list[dict] = []
    versions = set()
    activations = []
    for _ in range(6):
        run = run_tap_in_process(
            tap_config(sandbox.url, max_tasks_per_run=3), tmp_path, state=state
        )
        assert run.returncode == 0, run.stderr
        records += run.records
        versions |= {m["version"] for m in run.of_type("RECORD")}
        activations += run.of_type("ACTIVATE_VERSION")
        state = run.last_state
        if activations:
            break

    assert sandbox.stats()["tasks_created"] == 15
    # Consecutive pages overlap by 3, so page k starts at 97 * k; then one page from the
    # short page's last rows (1164 + 70 - 3) confirms the end, and the top is re-read.
    assert task_starts(sandbox) == [*range(0, 13 * 97, 97), 1231, 0]
    assert [r["entity_urn"] for r in records] == newest_urns(sandbox, 2000)
    # One version from the first run of the pass to its last, activated once at the end.
    assert len(versions) == 1
    assert [a["version"] for a in activations] == list(versions)


def test_a_task_in_flight_that_outx_forgot_is_created_again(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=350, seed=29)
    config = tap_config(sandbox.url, max_tasks_per_run=2)
    first = run_tap_in_process(config, tmp_path)
    assert first.returncode == 0, first.stderr
    # Leave a task in flight in the state, as a killed run would.
    state = first.last_state
    progress = bookmark(state)["pass"]
    (task,) = [t for t in sandbox.stats()["tasks"] if t["input"]["start"] == 97]
    progress["next_offset"] = 97
    progress["tasks"] = [{"offset": 97, "id": task["id"], "attempt": 1, "ids": [task["id"]]}]
    sandbox.forget([task["id"]])

    run = run_tap_in_process(tap_config(sandbox.url), tmp_path, state=state)

    assert run.returncode == 0, run.stderr
    assert "is unknown to OutX (HTTP 404)" in run.stderr
    starts = task_starts(sandbox)
    assert starts.count(97) == 2
    urns = {r["entity_urn"] for r in first.records + run.records}
    assert urns == set(newest_urns(sandbox, 350))

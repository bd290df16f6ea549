"""The history of a network through the tap, against the sandbox, in process.

A scripted sequence of changes (adds, headline changes, removals during a pass, a pass
spread over runs, runs whose STATE was lost as a killed `meltano run` loses it,
re-connections) and the events it must give: each exactly once, as a loader that
upserts on ``event_id`` holds them. Then the removal modes, ``task_ledger: none``, the
first-seen dates and several accounts; and a real SIGKILL of the CLI mid-pass.
"""

from __future__ import annotations

import collections
import sqlite3
import typing as t
from datetime import datetime

import jsonschema
import pytest

from tap_linkedin_connections.history.recorder import NO_MEMORY_FOR_MARK
from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import (
    EVENTS_STREAM,
    FAST_SETTINGS,
    TapRun,
    bookmark,
    connected,
    run_tap_in_process,
    tap_config,
)

Event = tuple[str, str]  # (event, entity_urn)


class Pipeline:
    """The tap run after run as Meltano runs it: STATE carried from a run that ended;
    a killed run's STATE lost. Events are kept as a loader that upserts on event_id."""

    def __init__(self, sandbox: Sandbox, tmp_path: t.Any, **config: t.Any) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.config = tap_config(sandbox.url, page_size=50, **config)
        self.state: dict[str, t.Any] | None = None
        self.loaded: dict[str, dict[str, t.Any]] = {}  # event_id -> event
        self.sent = 0  # event records sent, re-sent ones included

    def run(self, *, killed: bool = False, **overrides: t.Any) -> TapRun:
        run = run_tap_in_process({**self.config, **overrides}, self.tmp_path, state=self.state)
        assert run.returncode == 0, run.stderr
        for event in run.events:
            self.loaded[event["event_id"]] = event
        self.sent += len(run.events)
        if not killed:
            self.state = run.last_state
        return run

    def events(self) -> collections.Counter[Event]:
        return collections.Counter((e["event"], e["entity_urn"]) for e in self.loaded.values())

    def stored_events(self) -> int:
        with sqlite3.connect(self.tmp_path / "ledger.sqlite") as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM tap_linkedin_connections_history_events"
            ).fetchone()
        return int(count)


def urns_of(connections: t.Iterable[t.Mapping[str, t.Any]]) -> list[str]:
    return [str(c["entity_urn"]) for c in connections]


def marked(run: TapRun) -> set[str]:
    return {r["entity_urn"] for r in run.records if r["is_connected"] is False}


def test_a_scripted_history_gives_each_event_once(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=300, seed=41)
    pipe = Pipeline(sandbox, tmp_path)
    expected: collections.Counter[Event] = collections.Counter()

    # 1. The first pass is the baseline: every row, no event.
    first = pipe.run()
    assert len(first.records) == 300
    assert first.events == []
    listing = sandbox.connections()

    # 2. Two new connections, a headline changed deep in the list, and an old contact
    # re-connected (removed and added again: now on top). An incremental run reads only
    # the top: the new ones and the re-connection, not the headline.
    new = urns_of(sandbox.add_connections(2))
    deep = listing[120]["entity_urn"]
    sandbox.reconnect_connections([deep])
    changed = listing[200]["entity_urn"]
    sandbox.profiles.change_job(entity_urn=changed, title="Chief Data Officer", company="Globex")
    second = pipe.run()
    assert {r["entity_urn"] for r in second.records} == {*new, deep}
    expected.update([("added", new[0]), ("added", new[1]), ("reconnected", deep)])
    assert pipe.events() == expected

    # 3. A full pass over three runs of 3 tasks each. During it, two connections are
    # removed (one far below where the pass is, one above it, already read) and one is
    # added. The second run is killed: its STATE is lost, and the next run goes on from
    # the first's, reading its pages again.
    listing = sandbox.connections()
    below, above = listing[280]["entity_urn"], listing[3]["entity_urn"]
    tasks = sandbox.stats()["tasks_created"]
    sandbox.schedule_change(tasks + 3, remove_positions=[280, 3], add=1)
    runs = [pipe.run(full_refresh=True, max_tasks_per_run=3)]
    killed = pipe.run(max_tasks_per_run=3, killed=True)
    assert "pass" in bookmark(killed.last_state)  # killed mid-pass
    while "pass" in bookmark(pipe.state):
        runs.append(pipe.run(max_tasks_per_run=3))
        assert len(runs) < 6
    assert len(runs) >= 2  # the pass spread over runs after the killed one
    # The killed run had sent an event; the run after it found it in the memory (no
    # new one) and sent it again, under the same id, from the bookmark before the kill.
    assert killed.events
    assert {e["event_id"] for e in killed.events} <= {e["event_id"] for e in runs[1].events}
    assert runs[-1].of_type("ACTIVATE_VERSION")
    added_during = sandbox.connections()[0]["entity_urn"]
    # The pass read `above` before it went; it missed `below`: gone, proven. The one
    # added during the pass is found by its re-read of the top, before it may say so.
    expected.update([("headline_changed", changed), ("removed", below), ("added", added_during)])
    assert pipe.events() == expected
    assert set().union(*(marked(run) for run in runs)) == {below}

    # 4. A removed contact back (re-connected after a proven removal), and one of the 25
    # newest re-connected: an incremental run skips that one, remembered by its bookmark
    # (the next full pass finds it).
    recent = sandbox.connections()[6]["entity_urn"]
    sandbox.reconnect_connections([below, recent])
    fourth = pipe.run()
    assert recent not in {r["entity_urn"] for r in fourth.records}
    expected.update([("reconnected", below)])
    assert pipe.events() == expected

    # 5. A full pass: `above`, removed after the last pass read it, is gone now; the
    # recent re-connection is found above connections newer than it.
    fifth = pipe.run(full_refresh=True)
    expected.update([("removed", above), ("reconnected", recent)])
    assert pipe.events() == expected
    assert marked(fifth) == {above}
    assert {r["entity_urn"] for r in connected(fifth.records)} == set(
        urns_of(sandbox.connections())
    )

    # 6. Nothing changed: nothing found, nothing sent again.
    sixth = pipe.run(full_refresh=True)
    assert sixth.events == []
    assert pipe.events() == expected

    # Once each, in the memory too; the killed run's events were sent again by the run
    # after it (its bookmark was lost with its STATE), under the same ids.
    assert pipe.stored_events() == sum(expected.values()) == len(pipe.loaded)
    assert pipe.sent >= len(pipe.loaded)
    print(
        f"events expected {sum(expected.values())}, stored {pipe.stored_events()}, loaded "
        f"{len(pipe.loaded)}, sent {pipe.sent}; the full pass: {len(runs) + 1} runs, the "
        f"killed one sent {len(killed.events)}"
    )
    by_kind = collections.Counter(event for event, _ in expected)
    assert by_kind == {"added": 3, "reconnected": 3, "removed": 2, "headline_changed": 1}


def test_events_carry_what_changed_and_match_their_schema(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=120, seed=43)
    pipe = Pipeline(sandbox, tmp_path)
    pipe.run()
    listing = sandbox.connections()
    changed = listing[50]
    sandbox.profiles.change_job(entity_urn=changed["entity_urn"], title="CTO", company="Initech")
    sandbox.remove_connections(entity_urns=[listing[60]["entity_urn"]])
    run = pipe.run(full_refresh=True)

    (schema,) = [
        m for m in run.all_messages if m["type"] == "SCHEMA" and m["stream"] == EVENTS_STREAM
    ]
    assert schema["key_properties"] == ["event_id"]
    assert schema["bookmark_properties"] == ["sequence"]
    for event in run.events:
        jsonschema.validate(event, schema["schema"])
    by_kind = {e["event"]: e for e in run.events}
    assert by_kind["headline_changed"]["previous"] == changed["headline"]
    assert by_kind["headline_changed"]["current"] == "CTO at Initech"
    assert by_kind["headline_changed"]["public_identifier"] == changed["public_identifier"]
    assert by_kind["removed"]["previous"] == listing[60]["headline"]
    assert by_kind["removed"]["current"] is None
    assert [e["sequence"] for e in run.events] == sorted(e["sequence"] for e in run.events)
    assert {e["account"] for e in run.events} == {"default"}
    # The events follow the connections, and their bookmark is the last one sent.
    kinds = [(m["type"], m.get("stream")) for m in run.all_messages]
    assert kinds.index(("RECORD", EVENTS_STREAM)) > kinds.index(("ACTIVATE_VERSION", "connections"))
    sent = bookmark_value(run.last_state)
    assert sent == max(e["sequence"] for e in run.events)
    again = pipe.run()
    assert again.events == []


def bookmark_value(state: dict[str, t.Any] | None) -> int:
    assert state is not None
    return int(state["bookmarks"][EVENTS_STREAM]["replication_key_value"])


@pytest.mark.parametrize("mode", ["mark", "delete"])
def test_removal_modes(make_sandbox, tmp_path, mode):
    sandbox = make_sandbox(connections=200, seed=47)
    pipe = Pipeline(sandbox, tmp_path, removed_connections=mode)
    pipe.run()
    removed = urns_of(sandbox.remove_connections(positions=[10, 150]))
    run = pipe.run(full_refresh=True)

    kinds = [m["type"] for m in run.messages]
    (activate,) = run.of_type("ACTIVATE_VERSION")
    if mode == "mark":
        rows = [r for r in run.records if r["is_connected"] is False]
        assert {r["entity_urn"] for r in rows} == set(removed)
        for row in rows:
            assert row["removed_at"] is not None
            assert row["name"]  # the row as last sent, not an empty one
            assert row["last_seen_at"] < row["removed_at"]
        # Sent before ACTIVATE_VERSION, under its version: they survive it.
        last_record = max(i for i, k in enumerate(kinds) if k == "RECORD")
        assert kinds.index("ACTIVATE_VERSION") > last_record
        versions = {m["version"] for m in run.of_type("RECORD")}
        assert versions == {activate["version"]}
    else:
        assert marked(run) == set()
    assert {r["entity_urn"] for r in connected(run.records)} == set(urns_of(sandbox.connections()))
    assert collections.Counter(e["event"] for e in run.events) == {"removed": 2}
    # An incremental run sends no removed row again; the next proven pass sends all.
    sandbox.add_connections(1)
    assert marked(pipe.run()) == set()
    again = pipe.run(full_refresh=True)
    assert marked(again) == (set(removed) if mode == "mark" else set())


def test_without_a_ledger_rows_say_only_what_a_read_tells(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=120, seed=53)
    config = tap_config(sandbox.url, task_ledger="none")
    first = run_tap_in_process(config, tmp_path)
    sandbox.remove_connections(positions=[5])
    second = run_tap_in_process({**config, "full_refresh": True}, tmp_path, state=first.last_state)

    for run in (first, second):
        assert run.returncode == 0, run.stderr
        assert run.events == []
        assert {r["first_seen_at"] for r in run.records} == {None}
        assert {r["removed_at"] for r in run.records} == {None}
        assert {r["is_connected"] for r in run.records} == {True}
        assert all(r["last_seen_at"] for r in run.records)
        assert run.stderr.count(NO_MEMORY_FOR_MARK) == 1
        assert "no connection event is sent" in run.stderr
    assert len(second.records) == 119  # no removed row: mark acts as delete
    assert second.of_type("ACTIVATE_VERSION")
    assert not (tmp_path / "ledger.sqlite").exists()


def test_first_seen_is_the_connection_date_for_the_baseline_only(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=100, seed=59)
    pipe = Pipeline(sandbox, tmp_path)
    first = pipe.run()
    # The sandbox passes a connection date (OutX may one day): the baseline's rows
    # were first seen that day; the tap read them only now.
    for row in first.records:
        assert row["first_seen_at"] == f"{row['connected_on']}T00:00:00.000000+00:00"
        assert row["last_seen_at"] > row["first_seen_at"]
    (new,) = urns_of(sandbox.add_connections(1))
    second = pipe.run()
    (row,) = second.records
    assert row["entity_urn"] == new
    # Added after the baseline: when the tap first read it (its date is only a day).
    read_at = datetime.fromisoformat(row["first_seen_at"])
    assert read_at > datetime.fromisoformat(first.records[0]["last_seen_at"])
    assert row["first_seen_at"] == row["last_seen_at"]
    third = pipe.run(full_refresh=True)
    again = {r["entity_urn"]: r for r in third.records}
    assert again[new]["first_seen_at"] == row["first_seen_at"]
    assert again[new]["last_seen_at"] > row["last_seen_at"]


def test_two_accounts_have_lists_and_events_of_their_own(make_sandbox, tmp_path):
    sales = make_sandbox(connections=120, seed=61, api_key="outx-sales-key-history-0001")
    recruiting = make_sandbox(connections=90, seed=62, api_key="outx-recruit-key-history-0002")
    config = {
        **FAST_SETTINGS,
        "page_size": 50,
        "accounts": [
            {"name": "sales", "api_key": sales.api_key, "api_url": sales.url},
            {"name": "recruiting", "api_key": recruiting.api_key, "api_url": recruiting.url},
        ],
    }
    first = run_tap_in_process(config, tmp_path)
    assert first.returncode == 0, first.stderr
    (sales_new,) = urns_of(sales.add_connections(1))
    recruiting_gone = urns_of(recruiting.remove_connections(positions=[30]))
    second = run_tap_in_process({**config, "full_refresh": True}, tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr
    got = {(e["account"], e["event"], e["entity_urn"]) for e in second.events}
    assert got == {("sales", "added", sales_new), ("recruiting", "removed", recruiting_gone[0])}
    rows = [r for r in second.records if r["is_connected"] is False]
    assert [(r["account"], r["entity_urn"]) for r in rows] == [("recruiting", recruiting_gone[0])]


def test_a_pass_that_bridges_a_gap_finds_no_false_reconnection(make_sandbox, tmp_path):
    """Removals above the page being read shift the list by more than the overlap: the
    pass reads the page beyond the gap, then a bridge page above it. Read out of order,
    the bridge's older-looking connections must not make the ones beyond look risen."""
    sandbox = make_sandbox(connections=600, seed=71)
    pipe = Pipeline(sandbox, tmp_path)
    pipe.run()
    removed = set(urns_of(sandbox.connections()[:6]))
    sandbox.schedule_change(sandbox.stats()["tasks_created"] + 4, remove_positions=list(range(6)))
    bridged = pipe.run(full_refresh=True)
    assert "does not join the one before" in bridged.stderr
    assert bridged.of_type("ACTIVATE_VERSION")
    # The six were read before they went: this pass saw them; the next one finds them gone.
    assert pipe.events() == {}
    after = pipe.run(full_refresh=True)
    assert pipe.events() == {("removed", urn): 1 for urn in removed}
    assert marked(after) == removed

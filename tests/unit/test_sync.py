"""Full syncs against the sandbox, over real HTTP, with the tap run in process."""

from __future__ import annotations

import threading
import time

import jsonschema
import pytest

from tap_linkedin_connections.connections.passes import tasks_for_full_pass
from tap_linkedin_connections.outx.kinds import CONNECTION_FIELDS
from tests.helpers import (
    HISTORY_COLUMNS,
    bookmark,
    expected_records,
    read_fields,
    run_tap_in_process,
    tap_config,
)

SCHEMA_FIELDS = {
    *CONNECTION_FIELDS,
    "profile_url",
    "account",
    *("connected_on", "company", "position", "email_address", "extra"),
    *HISTORY_COLUMNS,
}


@pytest.mark.parametrize("result_shape", ["object", "list"])
@pytest.mark.parametrize("sort_type", ["RECENTLY_ADDED", "RELEVANCE"])
def test_1234_connections_in_13_pages(make_sandbox, tmp_path, result_shape, sort_type):
    sandbox = make_sandbox(connections=1234, seed=11, result_shape=result_shape)
    run = run_tap_in_process(tap_config(sandbox.url, sort_type=sort_type), tmp_path)

    assert run.returncode == 0, run.stderr
    listing = sandbox.connections(sort_type="RECENTLY_ADDED" if sort_type != "RELEVANCE" else None)
    assert read_fields(run.records) == expected_records(listing)
    assert len({r["entity_urn"] for r in run.records}) == 1234
    # Each task asked for the next offset, 97 on (pages overlap by 3), in the chosen order;
    # then one from the short page's last rows (1164 + 70 - 3) confirms the end, and
    # newest first the top is read again.
    inputs = [task["input"] for task in sandbox.stats()["tasks"]]
    checks = [1231, 0] if sort_type == "RECENTLY_ADDED" else [1231]
    assert [i["start"] for i in inputs] == [*range(0, 13 * 97, 97), *checks]
    assert sandbox.stats()["tasks_created"] == 13 + len(checks)
    assert {i["count"] for i in inputs} == {100}
    assert {i.get("sort_type") for i in inputs} == (
        {"RECENTLY_ADDED"} if sort_type == "RECENTLY_ADDED" else {None}
    )


@pytest.mark.parametrize(
    ("connections", "tasks"),
    [(0, 2), (1, 2), (3, 2), (4, 3), (99, 3), (100, 4), (101, 4), (250, 5)],
)
def test_exact_counts_at_page_boundaries(make_sandbox, tmp_path, connections, tasks):
    """The pages down to the first short one, one confirming the end, one re-reading the
    top (the same page as the confirmation for a list of three or fewer)."""
    sandbox = make_sandbox(connections=connections, seed=3)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path)

    assert run.returncode == 0, run.stderr
    assert read_fields(run.records) == expected_records(
        sandbox.connections(sort_type="RECENTLY_ADDED")
    )
    assert sandbox.stats()["tasks_created"] == tasks


def test_smaller_pages_and_keyword(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=400, seed=5)
    listing = sandbox.connections(sort_type="RECENTLY_ADDED")
    # A keyword that matches some but not all names.
    keyword = listing[0]["first_name"][:2]
    matching = sandbox.connections(sort_type="RECENTLY_ADDED", keyword=keyword)
    assert 0 < len(matching) < len(listing)

    run = run_tap_in_process(tap_config(sandbox.url, keyword=keyword, page_size=7), tmp_path)

    assert run.returncode == 0, run.stderr
    assert read_fields(run.records) == expected_records(matching)
    # Pages of 7 overlap by 1: page k covers [6k, 6k + 7) and the first short one ends;
    # then one confirms the end and one re-reads the top.
    assert sandbox.stats()["tasks_created"] == (len(matching) - 7) // 6 + 2 + 2
    assert sandbox.stats()["tasks_created"] == tasks_for_full_pass(len(matching), 7)
    assert {task["input"]["keyword"] for task in sandbox.stats()["tasks"]} == {keyword}


def test_records_match_the_schema_and_read_the_passed_date(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=300, seed=9)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path)

    assert run.returncode == 0, run.stderr
    (schema_message,) = run.of_type("SCHEMA")
    assert schema_message["key_properties"] == ["account", "entity_urn"]
    for record in run.records:
        jsonschema.validate(record, schema_message["schema"])
        assert set(record) == SCHEMA_FIELDS
    # The sandbox adds a field OutX does not document: a connection date, which fills
    # connected_on, so it is no unknown key (extra stays null, no warning).
    first = sandbox.connections(sort_type="RECENTLY_ADDED")[0]
    assert set(first) - set(CONNECTION_FIELDS) == {"connected_at"}
    assert {r["extra"] for r in run.records} == {None}
    assert all(r["connected_on"] for r in run.records)
    assert "does not know" not in run.stderr
    # The data's variety survives unchanged: scripts, empty and long headlines, no picture.
    names = " ".join(r["name"] or "" for r in run.records)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in names), "no CJK name"
    assert any("\u0600" <= ch <= "\u06ff" for ch in names), "no Arabic name"
    assert any(ch in names for ch in "éëñåöü"), "no accented name"
    headlines = [r["headline"] for r in run.records]
    assert "" in headlines
    assert max(len(h or "") for h in headlines) > 1000
    assert any(r["profile_image_url"] is None for r in run.records)


def test_no_connection_twice_when_connections_are_added_during_the_sync(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=500, seed=21, work_time=0.05)
    original = {c["entity_urn"] for c in sandbox.connections(sort_type="RECENTLY_ADDED")}

    def add_while_syncing() -> None:
        while sandbox.stats()["tasks_created"] < 2:
            time.sleep(0.005)
        sandbox.add_connections(7)

    adder = threading.Thread(target=add_while_syncing)
    adder.start()
    run = run_tap_in_process(tap_config(sandbox.url, page_size=50), tmp_path)
    adder.join()

    assert run.returncode == 0, run.stderr
    urns = [r["entity_urn"] for r in run.records]
    assert len(urns) == len(set(urns)), "a connection was emitted twice"
    # The new connections shifted every later page down by 7; none of the original
    # connections may be lost to that shift.
    assert original <= set(urns)


def test_state_after_a_full_pass(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=4)
    run = run_tap_in_process(tap_config(sandbox.url), tmp_path)

    assert run.returncode == 0, run.stderr
    stream_state = bookmark(run.last_state)
    newest = [c["entity_urn"] for c in sandbox.connections(sort_type="RECENTLY_ADDED")[:25]]
    assert stream_state["bookmark"]["newest"] == newest
    assert stream_state["bookmark"]["total"] == 150
    assert "pass" not in stream_state
    (activate,) = run.of_type("ACTIVATE_VERSION")
    assert activate["version"] == stream_state["bookmark"]["version"]
    assert {m["version"] for m in run.of_type("RECORD")} == {activate["version"]}
    # ACTIVATE_VERSION comes after the last record, never before.
    kinds = [m["type"] for m in run.messages]
    assert kinds.index("ACTIVATE_VERSION") > max(i for i, k in enumerate(kinds) if k == "RECORD")

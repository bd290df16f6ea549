"""End to end: the history of the network through `meltano run` and the real loaders.

The removal modes on target-postgres (each) and on target-duckdb 0.8.0 (which ignores
ACTIVATE_VERSION), the events table upserted on its key when events are sent again,
and the dbt example built from the events and the history columns through a removal
and a re-connection. Fixtures and helpers: tests/test_e2e_meltano.py.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from datetime import datetime, timezone

import pytest

from tests.e2e import test_e2e_meltano as e2e
from tests.e2e.test_e2e_meltano import (
    ROOT,
    STATE_ID,
    Pipeline,
    _connect,
    _dbt,
    _drop_schemas,
    _pg_rows,
    _urns,
)

# The end-to-end fixtures, found by pytest under these names.
meltano_bin, project, pg_available = e2e.meltano_bin, e2e.project, e2e.pg_available
pipeline, dbt_bin = e2e.pipeline, e2e.dbt_bin

pytestmark = pytest.mark.e2e

RUN = ("run", "tap-linkedin-connections")
FULL_REFRESH = "TAP_LINKEDIN_CONNECTIONS_FULL_REFRESH"
MODE = "TAP_LINKEDIN_CONNECTIONS_REMOVED_CONNECTIONS"


def _pg_events(schema: str) -> list[dict[str, t.Any]]:
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}"."connection_events" ORDER BY "sequence"')
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _remove_and_refresh(pipe: Pipeline, loader: str) -> set[str]:
    """A first load, three connections removed (newest, middle, oldest), a full pass."""
    pipe.meltano(*RUN, loader)
    removed = _urns(pipe.sandbox.remove_connections(positions=[0, 150, 299]))
    pipe.env[FULL_REFRESH] = "true"
    pipe.meltano(*RUN, loader)
    del pipe.env[FULL_REFRESH]
    return removed


@pytest.mark.parametrize("mode", ["mark", "delete"])
def test_postgres_removal_modes(
    pipeline: t.Callable[..., Pipeline], pg_available: None, mode: str
) -> None:
    pipe = pipeline(connections=300)
    pipe.env[MODE] = mode
    removed = _remove_and_refresh(pipe, "target-postgres")

    rows = _pg_rows(pipe.schema)
    live = _urns(pipe.sandbox.connections())
    if mode == "mark":
        # Kept, marked, under the activated version: ACTIVATE_VERSION deleted none.
        assert set(rows) == live | removed
        assert {u for u, r in rows.items() if r["is_connected"] is False} == removed
        for urn in removed:
            assert rows[urn]["removed_at"] is not None
            assert rows[urn]["name"]
            assert rows[urn]["_sdc_deleted_at"] is None
    else:
        assert set(rows) == live  # hard_delete true (this project's choice): gone
    assert all(rows[u]["is_connected"] is True and rows[u]["removed_at"] is None for u in live)
    events = _pg_events(pipe.schema)
    assert {(e["event"], e["entity_urn"]) for e in events} == {("removed", u) for u in removed}
    print(f"{mode}: {len(rows)} rows, {len(removed)} removed, events {len(events)}")


def test_postgres_events_sent_again_stay_one_row_each(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """The STATE of a run that loaded events is lost (as after a kill before Meltano
    stored it): the next run sends them again; the loader upserts them on event_id."""
    pipe = pipeline(connections=300)
    pipe.meltano(*RUN, "target-postgres")
    before = pipe.state()
    listing = pipe.sandbox.connections()
    for index in (10, 120, 250):
        pipe.sandbox.profiles.change_job(
            entity_urn=listing[index]["entity_urn"], title="Partner", company="Hooli"
        )
    pipe.env[FULL_REFRESH] = "true"
    pipe.meltano(*RUN, "target-postgres")
    loaded = _pg_events(pipe.schema)
    assert [e["event"] for e in loaded] == ["headline_changed"] * 3

    pipe.meltano("state", "set", "--force", STATE_ID, json.dumps(before))
    pipe.meltano(*RUN, "target-postgres")

    again = _pg_events(pipe.schema)
    assert [e["event_id"] for e in again] == [e["event_id"] for e in loaded]
    log = (pipe.workdir / f"meltano-{pipe.runs}.log").read_text(encoding="utf-8")
    assert '"connection_events"' in log or "connection_events" in log


def _duckdb(pipe: Pipeline, query: str) -> list[list[t.Any]]:
    python = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    script = (
        "import duckdb, json, sys\n"
        "db = duckdb.connect(sys.argv[1], read_only=True)\n"
        "rows = db.execute(sys.argv[2]).fetchall()\n"
        "print(json.dumps([[str(v) if v is not None else None for v in r] for r in rows]))\n"
    )
    done = subprocess.run(
        [str(python), "-c", script, str(pipe.workdir / "linkedin.duckdb"), query],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return t.cast("list[list[t.Any]]", json.loads(done.stdout))


@pytest.mark.parametrize("mode", ["mark", "delete"])
def test_duckdb_shows_removals_only_when_marked(
    pipeline: t.Callable[..., Pipeline], mode: str
) -> None:
    """target-duckdb 0.8.0 ignores ACTIVATE_VERSION: with delete a removed connection
    stays a live-looking row; with mark (the default) it is marked."""
    pipe = pipeline(connections=300)
    pipe.env[MODE] = mode
    removed = _remove_and_refresh(pipe, "target-duckdb")

    rows = _duckdb(
        pipe,
        "SELECT entity_urn, is_connected, removed_at FROM linkedin.linkedin.connections",
    )
    assert len(rows) == 300  # every row the first load wrote is still there
    not_connected = {urn for urn, connected, _ in rows if connected == "False"}
    if mode == "mark":
        assert not_connected == removed
        assert all(removed_at for urn, _, removed_at in rows if urn in removed)
    else:
        assert not_connected == set()
    events = _duckdb(pipe, "SELECT event, entity_urn FROM linkedin.linkedin.connection_events")
    assert {(event, urn) for event, urn in events} == {("removed", u) for u in removed}
    print(f"duckdb {mode}: {len(not_connected)} rows marked of {len(removed)} removed")


@pytest.mark.parametrize("mode", ["mark", "delete"])
def test_dbt_example_builds_the_history_through_a_removal_and_a_reconnection(
    pipeline: t.Callable[..., Pipeline], pg_available: None, dbt_bin: t.Any, mode: str
) -> None:
    pipe = pipeline(connections=300)
    pipe.env[MODE] = mode
    dbt_schema = f"{pipe.schema}_dbt"
    try:
        pipe.meltano(*RUN, "target-postgres")
        # target-postgres stores date-times in UTC without a time zone.
        first_load = datetime.now(timezone.utc).replace(tzinfo=None)
        _dbt(dbt_bin, pipe.workdir, pipe.schema, "build")
        history = _history(dbt_schema)
        assert len(history) == 300
        assert all(r["is_connected"] and r["times_removed"] == 0 for r in history.values())
        # There at the first pass: first seen the day it was made (the sandbox dates them).
        for row in history.values():
            assert row["first_seen_at"] == datetime.combine(
                row["connected_on"], datetime.min.time()
            )

        gone = pipe.sandbox.connections()[150]
        pipe.sandbox.remove_connections(entity_urns=[gone["entity_urn"]])
        added = _urns(pipe.sandbox.add_connections(2))
        pipe.env[FULL_REFRESH] = "true"
        pipe.meltano(*RUN, "target-postgres")
        del pipe.env[FULL_REFRESH]
        _dbt(dbt_bin, pipe.workdir, pipe.schema, "build")
        history = _history(dbt_schema)
        assert len(history) == 302
        row = history[gone["entity_urn"]]
        assert row["is_connected"] is False
        assert row["removed_at"] > first_load
        assert row["times_removed"] == 1
        assert row["headline"] == gone["headline"]
        # With delete (hard_delete true here) the row is gone: the events tell the rest.
        assert (row["first_seen_at"] is None) is (mode == "delete")
        for urn in added:
            assert history[urn]["first_seen_at"] > first_load
            assert history[urn]["is_connected"] is True

        pipe.sandbox.reconnect_connections([gone["entity_urn"]])
        pipe.meltano(*RUN, "target-postgres")  # incremental: it is on top again
        _dbt(dbt_bin, pipe.workdir, pipe.schema, "build")
        history = _history(dbt_schema)
        assert len(history) == 302
        back = history[gone["entity_urn"]]
        assert back["is_connected"] is True
        assert back["removed_at"] is None
        assert (back["times_removed"], back["times_reconnected"]) == (1, 1)
        assert back["reconnected_at"] > row["removed_at"]
        assert back["connected_since"] == back["reconnected_at"]
        assert 0 <= back["days_connected"] < 1
        stayed = history[pipe.sandbox.connections()[-1]["entity_urn"]]
        assert stayed["days_connected"] > 365  # connected since 2012 in the sandbox
    finally:
        _drop_schemas([dbt_schema])


def _history(schema: str) -> dict[str, dict[str, t.Any]]:
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}".connections_history')
        names = [d.name for d in cur.description]
        return {row[2]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}

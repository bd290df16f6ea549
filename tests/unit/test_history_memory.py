"""The memory of a list, on SQLite and PostgreSQL: sequences of passes, the events each
must find (each change once), by table; and its tables' creation and version."""

from __future__ import annotations

import collections
import typing as t
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from tap_linkedin_connections.engine.ledger import LedgerError
from tap_linkedin_connections.history.memory import ListMemory, PassRef
from tap_linkedin_connections.history.store import HistoryStore, events, schema

BASE = list("abcdef")  # the list at the baseline, newest first


@dataclass
class Pass:
    """One pass in a scenario: its pages (each a list of URNs, or (URN, headline)), how
    it ends, and the events it must find."""

    pages: list[list[t.Any]]
    end: str  # "proven", "unproven", "reached" (an incremental run on the old list), "stop"
    expect: list[tuple[str, str]] = field(default_factory=list)  # (event, urn)
    ranked: bool = True
    pass_id: str | None = None  # the same id again: the pass resumed after a kill
    anchors: list[str] = field(default_factory=lambda: ["a", "b"])


def baseline() -> Pass:
    return Pass([BASE], "proven")


SCENARIOS: dict[str, list[Pass]] = {
    "the baseline finds nothing": [baseline()],
    "added at the top of a full pass": [
        baseline(),
        Pass([["n", *BASE]], "proven", [("added", "n")]),
    ],
    "added by an incremental run": [
        baseline(),
        Pass([["n1", "n2"]], "reached", [("added", "n1"), ("added", "n2")]),
    ],
    "re-connected, deep in the list, seen by a full pass": [
        baseline(),
        Pass([["d", "a", "b", "c", "e", "f"]], "proven", [("reconnected", "d")]),
    ],
    "re-connected, seen by an incremental run": [
        baseline(),
        Pass([["d"]], "reached", [("reconnected", "d")]),
    ],
    "re-connected, then someone new": [
        baseline(),
        Pass(
            [["n", "d", "a", "b", "c", "e", "f"]],
            "proven",
            [("added", "n"), ("reconnected", "d")],
        ),
    ],
    "someone new, then re-connected": [
        baseline(),
        Pass(
            [["d", "n", "a", "b", "c", "e", "f"]],
            "proven",
            [("added", "n"), ("reconnected", "d")],
        ),
    ],
    "someone new, then re-connected, incremental": [
        baseline(),
        Pass([["d", "n"]], "reached", [("added", "n"), ("reconnected", "d")]),
    ],
    "new deep in the list (a keyword list it entered): no re-connection above it": [
        baseline(),
        Pass([["a", "b", "z", "c", "d", "e", "f"]], "proven", [("added", "z")]),
    ],
    "the newest re-added looks unchanged": [baseline(), Pass([BASE], "proven")],
    "a rise split over pages": [
        baseline(),
        Pass([["d", "a"], ["a", "b", "c"], ["c", "e", "f"]], "proven", [("reconnected", "d")]),
    ],
    "removed, found by a proven pass, once": [
        baseline(),
        Pass([["a", "b", "d", "e", "f"]], "proven", [("removed", "c")]),
        Pass([["a", "b", "d", "e", "f"]], "proven"),
    ],
    "missing from an unproven pass: no removal": [
        baseline(),
        Pass([["a", "b", "d", "e", "f"]], "unproven"),
        Pass([["a", "b", "d", "e", "f"]], "proven", [("removed", "c")]),
    ],
    "back after a proven removal, where it was": [
        baseline(),
        Pass([["a", "b", "d", "e", "f"]], "proven", [("removed", "c")]),
        Pass([BASE], "proven", [("reconnected", "c")]),
    ],
    "back after a proven removal, on top: one event": [
        baseline(),
        Pass([["a", "b", "d", "e", "f"]], "proven", [("removed", "c")]),
        Pass([["c", "a", "b", "d", "e", "f"]], "proven", [("reconnected", "c")]),
        Pass([["c", "a", "b", "d", "e", "f"]], "proven"),
    ],
    "back after a proven removal, seen by an incremental run": [
        baseline(),
        Pass([["a", "b", "d", "e", "f"]], "proven", [("removed", "c")]),
        Pass([["c"]], "reached", [("reconnected", "c")]),
    ],
    "a headline changed, once": [
        baseline(),
        Pass(
            [["a", ("b", "CEO at Globex"), "c", "d", "e", "f"]],
            "proven",
            [("headline_changed", "b")],
        ),
        Pass([["a", ("b", "CEO at Globex"), "c", "d", "e", "f"]], "proven"),
    ],
    "pages read again after a kill, by the same pass": [
        baseline(),
        Pass([["n", "a", "b"], ["b", "c", "d"]], "stop", [("added", "n")], pass_id="P"),
        Pass([["n", "a", "b"], ["b", "c", "d"], ["d", "e", "f"]], "proven", pass_id="P"),
    ],
    "a rise found after a kill, by the same pass": [
        baseline(),
        Pass([["d", "a"]], "stop", [("reconnected", "d")], pass_id="P"),
        Pass([["d", "a"], ["a", "b", "c", "e", "f"]], "proven", pass_id="P"),
    ],
    "a pass spread over runs, another pipeline's incremental run between": [
        baseline(),
        Pass([["a", "b", "c"]], "stop", pass_id="P"),
        Pass([["n"]], "reached", [("added", "n")]),
        Pass([["c", "d", "e", "f"]], "proven", pass_id="P"),
    ],
    "the top read again at a pass's end, a new one there: no rise later": [
        baseline(),
        Pass([BASE, ["n", "a", "b"]], "proven", [("added", "n")]),
        Pass([["n", *BASE]], "proven"),
        Pass([["m", "n", *BASE]], "proven", [("added", "m")]),
    ],
    "a bridge page read after the page beyond a gap: no rise": [
        Pass([list("abcdefghij")], "proven"),
        # The pass reads a-c, then (the list shifted) h-j beyond a gap, then the bridge
        # d-g: older than a-c, newer than h-j, read last.
        Pass([["a", "b", "c"], ["h", "i", "j"], ["c", "d", "e", "f", "g", "h"]], "proven"),
        Pass([["k", *"abcdefghij"]], "proven", [("added", "k")]),
    ],
    "a bridge page after re-connections at the top": [
        Pass([list("abcdefghij")], "proven"),
        Pass(
            [["e", "a", "b"], ["h", "i", "j"], ["b", "c", "d", "f", "g", "h"]],
            "proven",
            [("reconnected", "e")],
        ),
    ],
    "relevance order: no rise": [
        Pass([BASE], "proven", ranked=False),
        Pass([["f", "a", "d", "b", "c", "e"]], "proven", ranked=False),
    ],
    "no event before the baseline": [
        Pass([["a", "b", "c"]], "unproven"),
        Pass([["n"]], "reached"),
        Pass([["n", "a", "b", "c"]], "proven"),
        Pass([["m", "n", "a", "b"]], "proven", [("added", "m"), ("removed", "c")]),
    ],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[HistoryStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        url = request.getfixturevalue("pg_ledger_url")
    opened = HistoryStore(url)
    yield opened
    opened.close()


def record(item: t.Any) -> dict[str, t.Any]:
    urn, headline = item if isinstance(item, tuple) else (item, f"headline of {item}")
    return {"entity_urn": urn, "headline": headline, "public_identifier": f"slug-{urn}"}


def play(memory: ListMemory, step: Pass, number: int, now: float, starts: dict[str, float]) -> None:
    """Run one pass's pages and its end; a pass resumed by id keeps its first start."""
    pass_id = step.pass_id or f"pass-{number}"
    ref = PassRef(pass_id, starts.setdefault(pass_id, now), step.ranked)
    for offset, page in enumerate(step.pages):
        memory.remember_page(ref, [record(item) for item in page], now + offset)
    end = now + len(step.pages)
    if step.end == "proven":
        memory.end_proven(ref, end)
    elif step.end == "reached":
        memory.end_incremental(ref, step.anchors, end)
    elif step.end == "unproven":
        memory.end_pass(ref)


def found(store: HistoryStore, after: int) -> tuple[collections.Counter[tuple[str, str]], int]:
    with store.reading() as conn:
        rows = conn.execute(
            sa.select(events.c.seq, events.c.event, events.c.entity_urn).where(events.c.seq > after)
        ).all()
    return collections.Counter((r.event, r.entity_urn) for r in rows), max(
        [after, *(int(r.seq) for r in rows)]
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_change_is_found_once(store: HistoryStore, name: str) -> None:
    memory = ListMemory.open(store, account="acct", name="default", keyword="", now=0.0)
    seen = 0
    starts: dict[str, float] = {}
    for number, step in enumerate(SCENARIOS[name]):
        play(memory, step, number, 1_000_000.0 + 3600 * number, starts)  # hours apart
        events_now, seen = found(store, seen)
        assert events_now == collections.Counter(step.expect), (name, number)


def test_removed_rows_keep_what_was_sent_without_the_email(store: HistoryStore) -> None:
    memory = ListMemory.open(store, account="acct", name="sales", keyword="", now=0.0)
    first = PassRef("p1", 100.0, True)
    rows = [{**record(u), "email_address": "x@example.com", "name": u.upper()} for u in BASE]
    memory.remember_page(first, rows, 101.0)
    memory.end_proven(first, 102.0)
    second = PassRef("p2", 200.0, True)
    memory.remember_page(second, [r for r in rows if r["entity_urn"] != "c"], 201.0)
    assert memory.end_proven(second, 202.0) == 1

    (removed,) = memory.removed_records()
    assert removed["entity_urn"] == "c"
    assert removed["name"] == "C"
    assert removed["email_address"] is None
    assert removed["is_connected"] is False
    assert removed["removed_at"] == "1970-01-01T00:03:22.000000+00:00"
    assert removed["last_seen_at"] == "1970-01-01T00:01:41.000000+00:00"
    assert removed["first_seen_at"] == removed["last_seen_at"]


def test_lists_are_kept_apart_by_account_name_and_keyword(store: HistoryStore) -> None:
    ids = {
        (account, name, keyword): ListMemory.open(
            store, account=account, name=name, keyword=keyword, now=0.0
        ).list_id
        for account in ("k1", "k2")
        for name in ("default", "sales")
        for keyword in ("", "Smith")
    }
    assert len(set(ids.values())) == 8
    again = ListMemory.open(store, account="k1", name="sales", keyword="Smith", now=5.0)
    assert again.list_id == ids[("k1", "sales", "Smith")]


def test_a_newer_schema_is_refused_in_one_line(tmp_path: t.Any) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    HistoryStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.update().values(version=99))
    engine.dispose()
    with pytest.raises(LedgerError, match=r"newer release \(schema 99, this one reads 1\)"):
        HistoryStore(url)


def test_the_tables_sit_beside_the_ledger_and_are_made_once(tmp_path: t.Any) -> None:
    from tap_linkedin_connections.engine.ledger import TaskLedger

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    TaskLedger(url, "acct").close()
    for _ in range(2):
        HistoryStore(url).close()
    names = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {
        "tap_linkedin_connections_task_ledger",
        "tap_linkedin_connections_history_lists",
        "tap_linkedin_connections_history_connections",
        "tap_linkedin_connections_history_passes",
        "tap_linkedin_connections_history_events",
        "tap_linkedin_connections_history_schema",
    } <= names

"""Upgrading from the release before task kinds: its ledger and its STATE go on.

The ledger of that release (one table, ``tap_linkedin_connections_tasks``, keyed by query,
page size and offset) is written here with that release's own DDL, on a SQLite file and
on PostgreSQL; the STATE is one that release wrote, run against the sandbox.
"""

from __future__ import annotations

import copy
import logging
import subprocess
import sys
import textwrap
import time
import typing as t

import pytest
import sqlalchemy as sa

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.connections import passes
from tap_linkedin_connections.connections.pager import ConnectionsPager, Page
from tap_linkedin_connections.engine.ledger import V1_TABLE, TaskLedger, key_text
from tap_linkedin_connections.engine.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.engine.timing import PollSettings
from tap_linkedin_connections.outx.kinds import CONNECTIONS_PAGE, PageKey
from tests.fake_outx import FakeOutX

LOGGER = logging.getLogger("test_ledger_migration")
QUERY = {"sort_type": "RECENTLY_ADDED"}
ACCOUNT = "3f2a9c1d7e5b4a8c9f0e1d2c"
POLL = PollSettings(
    interval_min=5.0, interval_max=60.0, task_timeout=300.0, max_attempts=3, pickup_timeout=900.0
)

#: The release's DDL, as SQLAlchemy emitted it for each database.
OLD_DDL = {
    "sqlite": """
        CREATE TABLE tap_linkedin_connections_tasks (
            id INTEGER NOT NULL,
            account VARCHAR(32) NOT NULL,
            "query" TEXT NOT NULL,
            page_size INTEGER NOT NULL,
            start_offset INTEGER NOT NULL,
            created_at FLOAT NOT NULL,
            answered_at FLOAT,
            task_id VARCHAR(100),
            outcome VARCHAR(20) NOT NULL,
            pass_done BOOLEAN NOT NULL,
            PRIMARY KEY (id)
        )""",
    "postgresql": """
        CREATE TABLE tap_linkedin_connections_tasks (
            id SERIAL NOT NULL,
            account VARCHAR(32) NOT NULL,
            query TEXT NOT NULL,
            page_size INTEGER NOT NULL,
            start_offset INTEGER NOT NULL,
            created_at FLOAT NOT NULL,
            answered_at FLOAT,
            task_id VARCHAR(100),
            outcome VARCHAR(20) NOT NULL,
            pass_done BOOLEAN NOT NULL,
            PRIMARY KEY (id)
        )""",
}
OLD_INDEX = (
    "CREATE INDEX ix_tap_linkedin_connections_tasks_account "
    "ON tap_linkedin_connections_tasks (account, created_at)"
)

#: (minutes ago, offset, task id, outcome, pass_done, account) as that release wrote them.
OLD_ROWS = [
    (130, 0, "ended-0", "completed", True, ACCOUNT),  # a pass that ended
    (125, 8, "ended-8", "completed", True, ACCOUNT),
    (20, 0, "run-0", "completed", False, ACCOUNT),  # a pass whose STATE was lost
    (15, 8, "run-8", "completed", False, ACCOUNT),
    (10, 16, "run-16", "queued", False, ACCOUNT),
    (5, 24, None, "sending", False, ACCOUNT),  # its answer never came: it counts
    (4, 24, None, "not_queued", False, ACCOUNT),  # a 429: it does not count
    (3, 0, "elsewhere", "queued", False, "another-account-fingerprint"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_ledger_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return str(request.getfixturevalue("pg_ledger_url"))


def write_old_ledger(url: str, now: float) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(OLD_DDL[engine.dialect.name]))
        conn.execute(sa.text(OLD_INDEX))
        for minutes, offset, task_id, outcome, done, account in OLD_ROWS:
            conn.execute(
                sa.text(
                    f"INSERT INTO {V1_TABLE} (account, query, page_size, start_offset, "
                    "created_at, answered_at, task_id, outcome, pass_done) VALUES (:account, "
                    ":query, 10, :offset, :at, :answered, :task_id, :outcome, :done)"
                ),
                {
                    "account": account,
                    "query": '{"sort_type":"RECENTLY_ADDED"}',
                    "offset": offset,
                    "at": now - minutes * 60,
                    "answered": now - minutes * 60 + 1 if task_id else None,
                    "task_id": task_id,
                    "outcome": outcome,
                    "done": done,
                },
            )
    engine.dispose()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def page_key(offset: int) -> str:
    return key_text(CONNECTIONS_PAGE.key_fields(PageKey.of(QUERY, 10, offset)))


def pager(
    outx: FakeOutX, pacer: TaskPacer, progress: dict[str, t.Any], ledger: TaskLedger | None
) -> ConnectionsPager:
    return ConnectionsPager(
        outx,
        pacer,
        ledger=ledger,
        query=QUERY,
        page_size=10,
        lookahead=1,
        poll=POLL,
        budget=None,
        progress=progress,  # type: ignore[arg-type]
        checkpoint=lambda: None,
        logger=LOGGER,
        clock=outx.clock,
    )


def read(pipe: ConnectionsPager, pages: int) -> list[Page]:
    """Up to ``pages`` pages, each consumed as the stream does."""
    found: list[Page] = []
    while len(found) < pages and (page := pipe.next_page()) is not None:
        found.append(page)
        pipe.consumed(page, len(page.connections))
    return found


def test_the_last_releases_ledger_keeps_its_budget_and_its_unfinished_pass(old_ledger_url):
    clock = FakeClock()
    write_old_ledger(old_ledger_url, clock.now())

    ledger = TaskLedger(old_ledger_url, ACCOUNT, clock)

    assert V1_TABLE not in tables(old_ledger_url)
    assert len(ledger.rows()) == 7  # the other account's row is its own
    # The budget: the four creates of the last hour (the lost answer among them, the
    # 429 not) and the two of the ended pass count as before the upgrade.
    pacer = TaskPacer(PacingRules(per_hour=4, per_day=10), ledger, clock=clock)
    assert pacer.counts() == (4, 6)
    wait, reservation = pacer.try_reserve(CONNECTIONS_PAGE.name, page_key(32))
    assert reservation is None
    assert wait == pytest.approx(3600 - 20 * 60)
    # The unfinished pass, its STATE lost, finds its three tasks by the new key.
    outx = FakeOutX(clock, total=40)
    for offset in (0, 8, 16):
        outx.adopt(f"run-{offset}", CONNECTIONS_PAGE.body(PageKey.of(QUERY, 10, offset)))
    rerun = pager(outx, TaskPacer(PacingRules(), ledger, clock=clock), {}, ledger)
    pages = read(rerun, 3)
    assert [p.task_id for p in pages] == ["run-0", "run-8", "run-16"]
    assert rerun.tasks_created == 0
    assert rerun.tasks_reused == 3
    # What an ended pass used up stays used up.
    assert ledger.reusable_task(CONNECTIONS_PAGE.name, page_key(0), exclude={"run-0"}) is None
    ledger.close()

    # Opened again (another run, or a run beside it): nothing moves twice.
    again = TaskLedger(old_ledger_url, ACCOUNT, clock)
    assert len(again.rows()) == 7
    again.close()


MIGRATOR = textwrap.dedent(
    """
    import sys, time
    from tap_linkedin_connections.engine.ledger import TaskLedger
    url, start_at = sys.argv[1], float(sys.argv[2])
    while time.time() < start_at:
        time.sleep(0.001)
    ledger = TaskLedger(url, sys.argv[3])
    print(len(ledger.rows()))
    """
)


def test_two_runs_opening_the_last_releases_ledger_at_once_migrate_it_once(old_ledger_url):
    write_old_ledger(old_ledger_url, time.time())
    start_at = time.time() + 1.5
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, old_ledger_url, str(start_at), ACCOUNT],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    counts = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        counts.append(int(out))
    assert counts == [7, 7]


#: STATE written by the release before task kinds (0.1.0, ea9066f) against the sandbox:
#: a full pass at page_size 10 that read two pages, then met a sleeping extension with
#: two tasks in flight (max_tasks_in_flight 2). ``newest`` shortened.
LAST_RELEASES_STATE: dict[str, t.Any] = {
    "bookmarks": {
        "connections": {
            "table": {"version": 1796139443820, "activated": False},
            "pass": {
                "identity": {"account": "default", "keyword": None, "sort_type": "RECENTLY_ADDED"},
                "kind": "full",
                "version": 1796139443820,
                "page_size": 10,
                "next_offset": 16,
                "tasks": [
                    {
                        "offset": 16,
                        "id": "4ae14013-6383-4708-90b1-6b83cc867c86",
                        "attempt": 1,
                        "ids": ["4ae14013-6383-4708-90b1-6b83cc867c86"],
                    },
                    {
                        "offset": 24,
                        "id": "242c606c-d50f-4a07-8469-40cee7cdcc11",
                        "attempt": 1,
                        "ids": ["242c606c-d50f-4a07-8469-40cee7cdcc11"],
                    },
                ],
                "newest": [
                    "urn:li:fsd_profile:ACoAAgde-5MxmBwoCr5jTlKs7u9Jiu35dSWl5-Q",
                    "urn:li:fsd_profile:ACoAAFvb8echOuNsFrBht04Akzj67KgjsmDG-n5",
                ],
                "emitted": 18,
                "tail": [
                    "urn:li:fsd_profile:ACoAAntYScb1a8-J7pm_gg_TIGbdHDQGEc9Dl8h",
                    "urn:li:fsd_profile:ACoAAunWz6s1pMY97XByvV0gFcos033E3dwaEHZ",
                    "urn:li:fsd_profile:ACoAALTggfoEOKTwoOx7-pXC0rqj_bTx8MAo5re",
                    "urn:li:fsd_profile:ACoAADkRUXDwHzs_SPtl-VFkL8w7bZ6wA8z9-5Q",
                    "urn:li:fsd_profile:ACoAA5ZObBUH_OJSqkOMSgaxZ2i6Qxiy2Ht-TOP",
                    "urn:li:fsd_profile:ACoAAT-F3FLn1Kr84QKZSC_AeQnDKmI2mGjTVCa",
                    "urn:li:fsd_profile:ACoAAd2LOwDefDI09-8Ur1ZfTZzIi9oVljvUZvW",
                    "urn:li:fsd_profile:ACoAAIlINaM83LjB5jeCEvl_U_Ei5nqJ7OL9ouf",
                    "urn:li:fsd_profile:ACoAAz0al8NIyIDaX-DRPfD-3A7wP2iO5qSX-_5",
                    "urn:li:fsd_profile:ACoAA8zGVemIpLHM1VBHfxpupUY0l1rmG0gE7J3",
                ],
            },
            "task_window": [
                "2026-12-01T15:37:23.821297+00:00",
                "2026-12-01T15:37:23.824666+00:00",
            ],
        }
    }
}


def test_a_pass_the_last_release_wrote_to_state_resumes():
    state = copy.deepcopy(LAST_RELEASES_STATE)["bookmarks"]["connections"]
    assert passes.state_problems(state) == {}
    current = state["pass"]
    keys = {key: set(value) for key, value in [("pass", current), ("task", current["tasks"][0])]}
    kept = [entry["id"] for entry in current["tasks"]]
    clock = FakeClock()
    outx = FakeOutX(clock, total=34)
    for entry in current["tasks"]:
        outx.adopt(entry["id"], CONNECTIONS_PAGE.body(PageKey.of(QUERY, 10, entry["offset"])))
    saved: list[dict[str, t.Any]] = []
    pipe = pager(outx, TaskPacer(PacingRules(), StateWindow([]), clock=clock), current, None)
    pipe.checkpoint = lambda: saved.append(copy.deepcopy(current))

    pages = read(pipe, 10)

    # The two tasks it kept are polled, not paid for again; the pass reads on to its end.
    assert [p.offset for p in pages] == [16, 24, 32]
    assert [p.task_id for p in pages[:2]] == kept
    assert [task["body"]["start"] for task in outx.tasks.values()] == [16, 24, 32]
    assert pipe.end_reached
    # STATE keeps its shape: no key the last release would not know.
    assert set(saved[0]) == keys["pass"]
    assert all(set(entry) == keys["task"] for s in saved for entry in s["tasks"])

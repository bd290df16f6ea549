"""The task engine in process: a scripted OutX and a fake clock, in milliseconds.

The fake extension (tests/fake_outx.py) runs tasks one at a time, as the real one does.
"""

from __future__ import annotations

import itertools
import json
import logging
import typing as t

import pytest
import sqlalchemy as sa

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.connections.pager import ConnectionsPager, Page
from tap_linkedin_connections.connections.passes import stride_for
from tap_linkedin_connections.engine.ledger import LedgerError, TaskLedger, key_text
from tap_linkedin_connections.engine.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.engine.poller import TaskSlot
from tap_linkedin_connections.engine.runner import Queue, StopCause, TaskRunner
from tap_linkedin_connections.engine.timing import PollSettings, PollTiming
from tap_linkedin_connections.outx.client import TaskGaveUp
from tap_linkedin_connections.outx.kinds import (
    CONNECTIONS_PAGE,
    PageKey,
    TaskAnswer,
    TaskKind,
    UnreadableOutput,
)
from tests.fake_outx import FakeOutX

QUERY = {"sort_type": "RECENTLY_ADDED"}
LOGGER = logging.getLogger("test_engine")
POLL = PollSettings(
    interval_min=5.0, interval_max=60.0, task_timeout=300.0, max_attempts=3, pickup_timeout=900.0
)


def pipeline(
    outx: FakeOutX,
    *,
    page_size: int = 10,
    lookahead: int = 2,
    poll: PollSettings = POLL,
    progress: dict[str, t.Any] | None = None,
    expected_total: int | None = None,
    reads_to_end: bool = False,
    ledger: TaskLedger | None = None,
    budget: int | None = None,
    pacer: TaskPacer | None = None,
) -> ConnectionsPager:
    if pacer is None:
        log = ledger if ledger is not None else StateWindow([])
        pacer = TaskPacer(PacingRules(), log, clock=outx.clock)
    return ConnectionsPager(
        outx,
        pacer,
        ledger=ledger,
        query=QUERY,
        page_size=page_size,
        lookahead=lookahead,
        poll=poll,
        budget=budget,
        progress=progress if progress is not None else {},  # type: ignore[arg-type]
        checkpoint=lambda: None,
        logger=LOGGER,
        expected_total=expected_total,
        reads_to_end=reads_to_end,
        clock=outx.clock,
    )


def read_all(pipe: ConnectionsPager) -> list[Page]:
    pages = []
    while (page := pipe.next_page()) is not None:
        pages.append(page)
        pipe.consumed(page, len(page.connections))
    return pages


def test_pages_come_in_offset_order_with_at_most_lookahead_tasks_in_flight():
    outx = FakeOutX(FakeClock(), total=40)
    pipe = pipeline(outx, lookahead=3)
    in_flight_at_create: list[int] = []
    outx.on_create = lambda: in_flight_at_create.append(len(pipe.in_flight))

    pages = read_all(pipe)

    stride = stride_for(10)
    assert [p.offset for p in pages] == list(range(0, 40, stride))
    assert max(in_flight_at_create) == 3
    assert pipe.end_reached
    assert pipe.progress["tasks"] == []


def test_a_failed_task_is_submitted_again(caplog):
    outx = FakeOutX(FakeClock(), total=5, script=["failed"])
    with caplog.at_level(logging.WARNING):
        (page,) = read_all(pipeline(outx, lookahead=1))
    assert page.task_id == "t2"
    assert len(page.connections) == 5
    assert [task["body"]["start"] for task in outx.tasks.values()] == [0, 0]
    assert "failed (attempt 1 of 3, task t1); submitting it again" in caplog.text


def test_a_task_failing_every_attempt_names_offset_attempts_and_ids():
    outx = FakeOutX(FakeClock(), total=5, script=["failed"] * 3)
    with pytest.raises(TaskGaveUp, match=r"offset 0 failed on all 3 attempts \(tasks t1, t2, t3\)"):
        read_all(pipeline(outx, lookahead=1))


def test_a_task_unknown_to_outx_is_submitted_again_once(caplog):
    outx = FakeOutX(FakeClock(), total=5, script=["404"])
    with caplog.at_level(logging.WARNING):
        (page,) = read_all(pipeline(outx, lookahead=1))
    assert page.task_id == "t2"
    assert "offset 0 is unknown to OutX (HTTP 404) (attempt 1 of 3" in caplog.text

    twice = FakeOutX(FakeClock(), total=5, script=["404", "404"])
    with pytest.raises(TaskGaveUp, match=r"lost the task for offset 0 twice \(tasks t1, t2\)"):
        read_all(pipeline(twice, lookahead=1))


def test_a_stalled_task_times_out_and_is_submitted_again(caplog):
    clock = FakeClock()
    outx = FakeOutX(clock, total=5, script=["stall"])
    start = clock.monotonic()
    with caplog.at_level(logging.WARNING):
        (page,) = read_all(pipeline(outx, lookahead=1))
    assert page.task_id == "t2"
    assert len(page.connections) == 5
    assert "timed out after 300s (last status: processing)" in caplog.text
    assert len(outx.tasks) == 2
    assert outx.tasks["t2"]["created"] - start >= POLL.task_timeout


def test_an_unknown_status_is_not_success(caplog):
    outx = FakeOutX(FakeClock(), total=5, script=["cancelled", "cancelled"])
    two_attempts = PollSettings(**{**POLL.__dict__, "max_attempts": 2})
    with (
        caplog.at_level(logging.WARNING),
        pytest.raises(TaskGaveUp) as gave_up,
    ):
        read_all(pipeline(outx, lookahead=1, poll=two_attempts))
    for needle in ("offset 0", "timed out", "last status: cancelled", "t1, t2"):
        assert needle in str(gave_up.value)
    # Said once per task (t1, t2), however often each was polled.
    assert len(outx.polls["t1"]) > 2
    assert caplog.text.count("has the unknown status 'cancelled'") == 2


def test_a_timed_out_task_stays_a_candidate_and_its_page_is_taken():
    clock = FakeClock()
    # t1 runs 400 s, past the 300 s timeout; its replacement t2 queues behind it.
    outx = FakeOutX(clock, total=5, script=["slow"])
    (page,) = read_all(pipeline(outx, lookahead=1))
    assert page.task_id == "t1"
    assert set(outx.tasks) == {"t1", "t2"}
    assert outx.polls["t1"][-1] >= outx.tasks["t1"]["ends"]


def test_a_pending_task_is_never_created_again_and_the_run_ends_at_the_pickup_timeout():
    clock = FakeClock()
    outx = FakeOutX(clock, total=50, asleep=True)
    progress: dict[str, t.Any] = {}
    pipe = pipeline(outx, lookahead=2, progress=progress)
    start = clock.monotonic()

    assert pipe.next_page() is None

    # Pending for 900 s, three times the task timeout: still the same two tasks.
    assert set(outx.tasks) == {"t1", "t2"}
    assert clock.monotonic() - start == pytest.approx(POLL.pickup_timeout, abs=POLL.interval_max)
    assert pipe.stop_reason is not None
    assert pipe.stop_reason.cause is StopCause.EXTENSION_ASLEEP
    assert "has not picked up a task for 15 minutes" in str(pipe.stop_reason)
    assert "task t1 for offset 0 is kept for the next run" in str(pipe.stop_reason)
    assert [e["id"] for e in progress["tasks"]] == ["t1", "t2"]


def test_the_first_poll_comes_when_the_task_is_expected_to_end():
    clock = FakeClock()
    outx = FakeOutX(clock, total=25, duration=30.0)
    read_all(pipeline(outx, lookahead=1))
    # t1 teaches the engine that tasks take 30 s; t2 is then polled once, at its end.
    assert len(outx.polls["t1"]) > 1
    assert outx.polls["t2"] == [outx.tasks["t2"]["created"] + 30.0]


def test_the_head_is_polled_often_while_a_task_waits_behind_it():
    def longest_gap(lookahead: int) -> float:
        outx = FakeOutX(FakeClock(), total=5, duration=250.0)
        read_all(pipeline(outx, lookahead=lookahead))
        polls = outx.polls["t1"]
        return max(b - a for a, b in itertools.pairwise(polls))

    assert longest_gap(1) == POLL.interval_max
    # Queued behind the head: at most every 4 minimum intervals, so the next task is
    # created before the extension runs dry.
    assert longest_gap(2) == 4 * POLL.interval_min


def test_poll_timing_alone():
    timing = PollTiming(POLL)
    wait = timing.begin(100.0, None, queued=False)
    assert wait.next_poll == 100.0 + POLL.interval_min  # nothing learnt yet
    timing.still_running(wait, 105.0, queued=False)
    timing.completed(wait, 115.0)  # running at 105, done at 115: ended about 110
    assert timing.duration_estimate == 10.0
    assert timing.begin(200.0, 190.0, queued=False).next_poll == 200.0  # due already
    assert timing.ceiling(queued=True) == POLL.interval_min  # half a task, at least min


def test_progress_lines_count_the_run_and_estimate_the_time_left(caplog):
    clock = FakeClock()
    outx = FakeOutX(clock, total=40, duration=50.0)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        read_all(pipeline(outx, lookahead=1, expected_total=40))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Progress:")]
    assert lines[0] == (
        "Progress: 0 pages, 0 connections, 1 tasks created, 4 polls in 60s; "
        "waiting for the task for offset 0; time left: unknown (no earlier pass to "
        "compare with)"
    )
    # Tasks take 50 s: five pages of 40 connections at a stride of 8 are about 5 min.
    assert lines[1] == (
        "Progress: 1 pages, 10 connections, 2 tasks created, 5 polls in 120s; "
        "waiting for the task for offset 8; time left: about 5 min (5 pages)"
    )


def test_a_task_id_reaches_state_before_its_first_poll():
    outx = FakeOutX(FakeClock(), total=5)
    saved: list[str] = []
    pipe = pipeline(outx, lookahead=1)
    pipe.checkpoint = lambda: saved.append(json.dumps(pipe.progress))
    outx_status = outx.task_status

    def status(task_id: str) -> TaskAnswer:
        # What an interrupted run would find in STATE: the task, with its id.
        assert f'"id": "{task_id}"' in saved[-1]
        return outx_status(task_id)

    outx.task_status = status  # type: ignore[method-assign]
    read_all(pipe)
    # STATE keeps the layout users' state files have.
    assert saved[0] == (
        '{"next_offset": 0, "tasks": [{"offset": 0, "id": "t1", "attempt": 1, "ids": ["t1"]}]}'
    )


# Lost tasks: pending for ever while the extension works on (issue 17, point 6)


def offsets_created(outx: FakeOutX) -> list[int]:
    return [task["body"]["start"] for task in outx.tasks.values()]


def queue_in_ledger(outx: FakeOutX, ledger: TaskLedger, offset: int) -> str:
    """A page's task queued by another run, as that run writes it to the ledger."""
    key = PageKey.of(QUERY, 10, offset)
    with ledger.locked() as conn:
        row = ledger.record(
            conn,
            kind=CONNECTIONS_PAGE.name,
            key=key_text(CONNECTIONS_PAGE.key_fields(key)),
            at=outx.clock.now(),
        )
    task_id = outx.create_task(CONNECTIONS_PAGE.path, CONNECTIONS_PAGE.body(key))
    ledger.answered(row, task_id)
    return task_id


def test_a_task_overtaken_by_the_one_behind_it_is_created_again(caplog):
    clock = FakeClock()
    outx = FakeOutX(clock, total=40, script=["lost"])
    pipe = pipeline(outx, lookahead=2)
    start = clock.monotonic()
    with caplog.at_level(logging.WARNING):
        pages = read_all(pipe)

    assert [p.offset for p in pages] == list(range(0, 40, stride_for(10)))
    # One action more than the pass's six (two in flight past the end): the lost
    # task's replacement (t3).
    assert offsets_created(outx) == [0, 8, 0, 16, 24, 32, 40]
    assert pipe.tasks_lost == 1
    assert pipe.stop_reason is None
    assert (
        "The task for offset 0 was lost by OutX (task t2, queued after it, was picked up "
        "while it stayed pending) (attempt 1 of 3, task t1); submitting it again"
    ) in caplog.text
    # Seen at the second poll of the head, not after the 900 s pickup timeout.
    assert outx.tasks["t3"]["created"] - start <= 3 * POLL.interval_min


def test_with_one_task_in_flight_the_next_page_the_pass_needs_anyway_finds_a_lost_one():
    clock = FakeClock()
    outx = FakeOutX(clock, total=40, script=["lost"])
    # A full pass over a list of 40 (the last pass's total): the page at offset 8 is
    # read whatever the head holds.
    pipe = pipeline(outx, lookahead=1, expected_total=40, reads_to_end=True)
    start = clock.monotonic()
    pages = read_all(pipe)

    assert [p.offset for p in pages] == list(range(0, 40, stride_for(10)))
    assert offsets_created(outx) == [0, 8, 0, 16, 24, 32]
    assert pipe.tasks_lost == 1
    # The spare waits a task timeout; the run ends well before the pickup timeout would.
    assert outx.tasks["t2"]["created"] - start == pytest.approx(POLL.task_timeout, abs=60)
    assert outx.tasks["t3"]["created"] - start < POLL.pickup_timeout / 2


def test_a_sleeping_extension_costs_no_second_task_for_any_page():
    clock = FakeClock()
    outx = FakeOutX(clock, total=40, asleep=True)
    progress: dict[str, t.Any] = {}
    pipe = pipeline(outx, lookahead=1, progress=progress, expected_total=40, reads_to_end=True)

    assert pipe.next_page() is None
    assert pipe.stop_reason is not None
    assert pipe.stop_reason.cause is StopCause.EXTENSION_ASLEEP
    # The spare (offset 8) is a page the pass reads anyway; offset 0 is not copied.
    assert offsets_created(outx) == [0, 8]
    assert [e["id"] for e in progress["tasks"]] == ["t1", "t2"]

    # Chrome opens; the next run polls both kept tasks: the pass costs its five tasks.
    outx.wake()
    pages = read_all(pipeline(outx, lookahead=1, progress=progress, expected_total=40))
    assert [p.offset for p in pages] == list(range(0, 40, stride_for(10)))
    assert offsets_created(outx) == [0, 8, 16, 24, 32]


def test_no_spare_when_the_pass_may_end_at_the_head():
    """No earlier total, or an incremental pass: a spare might be a wasted action."""
    for expected_total, reads_to_end in ((None, True), (40, False), (12, True)):
        outx = FakeOutX(FakeClock(), total=40, asleep=True)
        pipe = pipeline(outx, lookahead=1, expected_total=expected_total, reads_to_end=reads_to_end)
        assert pipe.next_page() is None
        assert offsets_created(outx) == [0], (expected_total, reads_to_end)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return str(request.getfixturevalue("pg_ledger_url"))


def test_a_ledger_task_overtaken_by_another_runs_task_is_not_handed_back(ledger_url):
    clock = FakeClock()
    outx = FakeOutX(clock, total=40, script=["lost"])
    ledger = TaskLedger(ledger_url, "acct", clock)
    # A killed run queued the page at offset 0 (OutX lost it); a run beside it queued
    # a task after it, which the extension did, and read.
    lost = queue_in_ledger(outx, ledger, 0)
    clock.advance(10)
    other = queue_in_ledger(outx, ledger, 80)
    clock.advance(60)
    ledger.read(other, "another pass")

    # One task in flight and no spare (an incremental pass): the ledger tells.
    pipe = pipeline(outx, lookahead=1, ledger=ledger)
    start = clock.monotonic()
    page = pipe.next_page()

    assert page is not None
    assert page.offset == 0
    assert page.task_id not in (lost, other)
    assert pipe.tasks_reused == 1
    assert pipe.tasks_lost == 1
    assert clock.monotonic() - start < 120  # not the pickup timeout
    rows = {row["task_id"]: row["outcome"] for row in ledger.rows()}
    assert rows[lost] == "lost"
    # No later run is handed the lost task again.
    page_0 = key_text(CONNECTIONS_PAGE.key_fields(PageKey.of(QUERY, 10, 0)))
    assert ledger.reusable_task(CONNECTIONS_PAGE.name, page_0) == page.task_id
    ledger.close()


# The task id reaches STATE first, whatever the ledger does (issue 17, point 9)


class LedgerFailingOnAnswers(TaskLedger):
    """A ledger whose database goes away while a create's answer arrives."""

    def answered(self, row: int, task_id: str) -> None:
        raise LedgerError("the task ledger failed: OperationalError: server closed")


def test_a_task_id_reaches_state_before_the_ledger_hears_of_it(tmp_path):
    clock = FakeClock()
    outx = FakeOutX(clock, total=5)
    ledger = LedgerFailingOnAnswers(f"sqlite:///{tmp_path / 'ledger.sqlite'}", "acct", clock)
    progress: dict[str, t.Any] = {}
    pipe = pipeline(outx, lookahead=1, ledger=ledger, progress=progress)
    saved: list[str] = []
    pipe.checkpoint = lambda: saved.append(json.dumps(progress))

    with pytest.raises(LedgerError):
        pipe.next_page()

    assert list(outx.tasks) == ["t1"]
    assert '"id": "t1"' in saved[-1]
    # The rerun polls it instead of paying for the page again.
    (page,) = read_all(pipeline(outx, lookahead=1, progress=json.loads(saved[-1])))
    assert page.task_id == "t1"
    assert list(outx.tasks) == ["t1"]


# A second kind of task through the same runner and the same budget (issue 18)


def read_profile(output: t.Any) -> dict[str, t.Any]:
    profile = output.get("profile") if isinstance(output, dict) else None
    if not isinstance(profile, dict):
        raise UnreadableOutput("the task result holds no profile")
    return profile


#: A stub kind, declared as a real one would be: key, endpoint, body, reader.
PROFILE: TaskKind[str, dict[str, t.Any]] = TaskKind(
    name="profile",
    path="/linkedin-agent/fetch-profile",
    body=lambda slug: {"profile_slug": slug},
    key_fields=lambda slug: {"slug": slug},
    describe=lambda slug: f"profile {slug}",
    read=read_profile,
)


def profile_runner(outx: FakeOutX, pacer: TaskPacer, ledger: TaskLedger) -> TaskRunner[str, t.Any]:
    return TaskRunner(
        outx,
        PROFILE,
        pacer=pacer,
        ledger=ledger,
        poll=POLL,
        budget=None,
        reader="profiles of today",
        saved=lambda: None,
        sleep=outx.clock.sleep,
        logger=LOGGER,
        clock=outx.clock,
    )


def test_a_second_kind_runs_through_the_same_runner_and_budget(tmp_path, caplog):
    clock = FakeClock()
    outx = FakeOutX(clock, total=40, script=["ok", "ok", "failed"])
    ledger = TaskLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", "acct", clock)
    pacer = TaskPacer(PacingRules(per_hour=4), ledger, clock=clock)
    pages = read_all(pipeline(outx, lookahead=1, ledger=ledger, pacer=pacer, budget=2))
    assert [p.offset for p in pages] == [0, 8]

    runner = profile_runner(outx, pacer, ledger)
    slot: TaskSlot = {"id": None, "attempt": 0, "ids": []}
    with caplog.at_level(logging.WARNING):
        assert runner.prepare(slot, "jane-doe", block=True)
        done = runner.wait(slot, "jane-doe", Queue(behind=list))

    assert done is not None
    assert done.result == {"slug": "jane-doe"}
    assert "The task for profile jane-doe failed (attempt 1 of 3, task t3)" in caplog.text
    assert [task["path"] for task in outx.tasks.values()] == [
        "/linkedin-agent/fetch-connections",
        "/linkedin-agent/fetch-connections",
        "/linkedin-agent/fetch-profile",
        "/linkedin-agent/fetch-profile",
    ]
    assert outx.tasks["t4"]["body"] == {"profile_slug": "jane-doe"}
    # One budget for the account: four creates of two kinds fill the hour.
    wait, reservation = pacer.try_reserve(PROFILE.name, key_text({"slug": "john-roe"}))
    assert reservation is None
    assert wait > 3000
    # The ledger hands a profile task back by its key, never a page's.
    again: TaskSlot = {"id": None, "attempt": 0, "ids": []}
    assert profile_runner(outx, pacer, ledger).prepare(again, "jane-doe", block=False)
    assert again["id"] == "t4"
    kinds = {row["task_id"]: row["kind"] for row in ledger.rows()}
    assert kinds == {
        "t1": "connections_page",
        "t2": "connections_page",
        "t3": "profile",
        "t4": "profile",
    }


def test_a_postgresql_ledger_going_away_as_a_create_answers_loses_no_task_id(pg_ledger_url):
    """The database refuses connections from the moment the create is sent."""
    import psycopg

    url = sa.make_url(pg_ledger_url)
    clock = FakeClock()
    outx = FakeOutX(clock, total=5)
    ledger = TaskLedger(pg_ledger_url, "acct", clock)
    admin = {"host": url.host, "port": url.port, "user": url.username, "dbname": "postgres"}

    def database_goes_away() -> None:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [url.database],
            )

    outx.on_create = database_goes_away
    progress: dict[str, t.Any] = {}
    pipe = pipeline(outx, lookahead=1, ledger=ledger, progress=progress)
    saved: list[str] = []
    pipe.checkpoint = lambda: saved.append(json.dumps(progress))
    try:
        with pytest.raises(LedgerError, match=r"the task ledger .* failed"):
            pipe.next_page()
    finally:
        ledger.close()
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')

    assert '"id": "t1"' in saved[-1]
    (page,) = read_all(pipeline(outx, lookahead=1, progress=json.loads(saved[-1])))
    assert page.task_id == "t1"
    assert list(outx.tasks) == ["t1"]


# Ending a pass uses up only what it read (issue 17, point 8)


def read_pages(pipe: ConnectionsPager, count: int) -> list[Page]:
    pages = []
    while len(pages) < count and (page := pipe.next_page()) is not None:
        pages.append(page)
        pipe.consumed(page, len(page.connections))
    return pages


def test_an_ended_pass_uses_up_only_the_tasks_it_read(tmp_path):
    clock = FakeClock()
    outx = FakeOutX(clock, total=40)
    ledger = TaskLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", "acct", clock)
    identity = {"account": "default", "keyword": None, "sort_type": "RECENTLY_ADDED"}
    full = {"identity": identity, "version": 2, "kind": "full", "page_size": 10}
    daily = {"identity": identity, "version": 1, "kind": "incremental", "page_size": 10}

    # A --full-refresh pipeline reads three pages, then is killed: its STATE is lost.
    read_pages(pipeline(outx, lookahead=1, ledger=ledger, progress=dict(full)), 3)
    # The daily pipeline beside it reads the top of the list and ends its pass.
    daily_pass = pipeline(outx, lookahead=1, ledger=ledger, progress=dict(daily))
    top = daily_pass.next_page()
    assert top is not None
    daily_pass.consumed(top, 1, end=True)
    daily_pass.pass_done()

    # The full refresh's rerun polls its own tasks again; only the page the daily
    # pass read (and used up) is paid for twice.
    rerun = pipeline(outx, lookahead=1, ledger=ledger, progress=dict(full))
    created = len(outx.tasks)
    assert [p.offset for p in read_pages(rerun, 3)] == [0, 8, 16]
    assert len(outx.tasks) - created == 1
    assert rerun.tasks_reused == 2

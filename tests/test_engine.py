"""The task engine in process: a scripted OutX and a fake clock, in milliseconds.

The fake extension runs tasks one at a time, as the real one does: a task starts once
it exists and the one before it has ended, and takes ``duration`` seconds.
"""

from __future__ import annotations

import itertools
import json
import logging
import typing as t

import pytest

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.connections.pager import ConnectionsPager, Page
from tap_linkedin_connections.engine.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.engine.runner import StopCause
from tap_linkedin_connections.engine.timing import PollSettings, PollTiming
from tap_linkedin_connections.outx.client import TaskGaveUp, TaskNotFound
from tap_linkedin_connections.outx.kinds import TaskAnswer, status_of
from tap_linkedin_connections.passes import stride_for

QUERY = {"sort_type": "RECENTLY_ADDED"}
LOGGER = logging.getLogger("test_engine")
POLL = PollSettings(
    interval_min=5.0, interval_max=60.0, task_timeout=300.0, max_attempts=3, pickup_timeout=900.0
)


class FakeOutX:
    """Answers create and poll from a script, on the fake clock.

    Args:
        clock: the fake clock.
        total: connections in the list.
        script: how each created task behaves, in creation order ("ok", "failed",
            "404", "cancelled": an unknown status, "stall": running for ever,
            "slow": ``slow`` seconds long);
            tasks beyond the script are "ok".
        duration: how long an ordinary task runs.
        asleep: the extension picks nothing up.
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        total: int,
        script: t.Sequence[str] = (),
        duration: float = 30.0,
        slow: float = 400.0,
        asleep: bool = False,
    ) -> None:
        self.clock = clock
        self.total = total
        self.script = list(script)
        self.duration = duration
        self.slow = slow
        self.asleep = asleep
        self.tasks: dict[str, dict[str, t.Any]] = {}
        self.polls: dict[str, list[float]] = {}
        self.on_create: t.Callable[[], None] = lambda: None
        self._free_at = 0.0  # when the extension finishes its queue

    def create_task(
        self,
        path: str,
        body: dict[str, t.Any],
        before_retry: t.Callable[[bool], None] | None = None,
    ) -> str:
        self.on_create()
        task_id = f"t{len(self.tasks) + 1}"
        kind = self.script.pop(0) if self.script else "ok"
        now = self.clock.monotonic()
        starts = float("inf") if self.asleep else max(now, self._free_at)
        runs = {"slow": self.slow, "stall": float("inf")}.get(kind, self.duration)
        if kind != "stall":  # a stalled task's replacement is not held up here
            self._free_at = starts + runs
        self.tasks[task_id] = {
            "path": path,
            "body": body,
            "kind": kind,
            "created": now,
            "starts": starts,
            "ends": starts + runs,
        }
        return task_id

    def task_status(self, task_id: str) -> TaskAnswer:
        now = self.clock.monotonic()
        self.polls.setdefault(task_id, []).append(now)
        task = self.tasks[task_id]
        if task["kind"] == "404":
            raise TaskNotFound("HTTP 404")
        if now < task["starts"]:
            return answer("pending")
        if now < task["ends"]:
            return answer("processing")
        if task["kind"] in ("failed", "cancelled"):
            return answer(task["kind"])
        start, count = task["body"]["start"], task["body"]["count"]
        page = [{"entity_urn": f"urn:li:fsd_profile:P{n}"} for n in range(start, self.total)]
        return answer("completed", page[:count])


def answer(said: str, output: t.Any = None) -> TaskAnswer:
    """OutX's answer as the client reads it."""
    return TaskAnswer(status_of(said), said, output)


def pipeline(
    outx: FakeOutX,
    *,
    page_size: int = 10,
    lookahead: int = 2,
    poll: PollSettings = POLL,
    progress: dict[str, t.Any] | None = None,
    expected_total: int | None = None,
) -> ConnectionsPager:
    pacer = TaskPacer(PacingRules(), StateWindow([]), clock=outx.clock)
    return ConnectionsPager(
        outx,
        pacer,
        ledger=None,
        query=QUERY,
        page_size=page_size,
        lookahead=lookahead,
        poll=poll,
        budget=None,
        progress=progress if progress is not None else {},  # type: ignore[arg-type]
        checkpoint=lambda: None,
        logger=LOGGER,
        expected_total=expected_total,
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

"""Profile tasks in the task engine, in process: a scripted OutX on a fake clock.

A failed fetch is an answer (never created again), a kind may have a daily cap of its
own within the account's budget, and a profile given up on stops the day's profiles.
"""

from __future__ import annotations

import logging
import typing as t

import pytest

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.engine.ledger import Outcome, TaskLedger, key_text
from tap_linkedin_connections.engine.pacing import (
    DAY,
    HOUR,
    KindCap,
    PacingRules,
    PacingStop,
    StateWindow,
    TaskPacer,
    cap_wait,
)
from tap_linkedin_connections.engine.poller import TaskSlot
from tap_linkedin_connections.engine.runner import Queue, TaskRunner
from tap_linkedin_connections.engine.timing import PollSettings
from tap_linkedin_connections.outx.kinds import FETCH_PROFILE, ProfileAnswer, ProfileKey
from tap_linkedin_connections.profiles.fetcher import PROFILE_READER, ProfileFetcher, Wanted
from tap_linkedin_connections.profiles.memory import ProfileMemory
from tap_linkedin_connections.profiles.records import FailureKind
from tests.fake_outx import FakeOutX

LOGGER = logging.getLogger("test_profiles_engine")
POLL = PollSettings(
    interval_min=5.0, interval_max=60.0, task_timeout=300.0, max_attempts=3, pickup_timeout=900.0
)
CAPPED = PacingRules(per_hour=50, kind_caps={"profile": KindCap(3, "max_profile_fetches_per_day")})
JANE = ProfileKey("urn:li:fsd_profile:JANE", "jane-doe")


def runner(outx: FakeOutX, pacer: TaskPacer, ledger: TaskLedger | None) -> TaskRunner[t.Any, t.Any]:
    return TaskRunner(
        outx,
        FETCH_PROFILE,
        pacer=pacer,
        ledger=ledger,
        poll=POLL,
        budget=None,
        reader=PROFILE_READER,
        saved=lambda: None,
        sleep=outx.clock.sleep,
        logger=LOGGER,
        clock=outx.clock,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(tmp_path, clock) -> t.Iterator[TaskLedger]:
    opened = TaskLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", "acct", clock)
    yield opened
    opened.close()


def test_a_failed_profile_task_is_an_answer_and_is_not_created_again(clock, ledger):
    outx = FakeOutX(clock, total=0, script=["failed"])
    run = runner(outx, TaskPacer(PacingRules(), ledger, clock=clock), ledger)
    slot: TaskSlot = {"id": None, "attempt": 0, "ids": []}

    assert run.prepare(slot, JANE, block=True)
    done = run.wait(slot, JANE, Queue(behind=list))

    assert done is not None
    assert done.result == ProfileAnswer(None, failed=True)
    assert list(outx.tasks) == ["t1"]  # a page's failed task would be created again
    assert outx.tasks["t1"]["body"] == {"profile_slug": "jane-doe"}
    (row,) = ledger.rows()
    assert (row["kind"], row["key"], row["outcome"]) == (
        "profile",
        key_text({"entity_urn": JANE.entity_urn}),
        Outcome.FAILED.value,
    )
    assert ledger.unfinished_keys("profile") == []


def test_a_kind_cap_holds_its_kind_and_leaves_the_others(clock, ledger):
    pacer = TaskPacer(CAPPED, ledger, clock=clock)
    for n in range(3):
        assert pacer.try_reserve("profile", f"p{n}")[1] is not None
    wait, refused = pacer.try_reserve("profile", "p3")
    assert refused is None
    assert wait == pytest.approx(DAY)
    assert pacer.cap_note("profile") == (
        "3 profile tasks were created in the last 24 hours (max_profile_fetches_per_day=3)"
    )
    with pytest.raises(PacingStop, match=r"\(3 profile tasks were created in the last 24 hours"):
        pacer.check_wait(wait, "profile")
    # A page is another kind: the account's own caps still allow it.
    assert pacer.try_reserve("connections_page", "o0")[1] is not None
    assert pacer.wait_now("profile") == pytest.approx(DAY)
    assert pacer.wait_now("connections_page") == 0
    clock.advance(DAY)
    assert pacer.try_reserve("profile", "p3")[1] is not None


def test_every_kind_counts_in_the_account_caps(clock, ledger):
    pacer = TaskPacer(PacingRules(per_hour=4, kind_caps=CAPPED.kind_caps), ledger, clock=clock)
    for n in range(3):
        assert pacer.try_reserve("connections_page", f"o{n}")[1] is not None
    assert pacer.try_reserve("profile", "p0")[1] is not None
    wait, refused = pacer.try_reserve("profile", "p1")
    assert refused is None
    assert wait == pytest.approx(HOUR)
    assert pacer.kind_count("profile") == 1


def test_without_the_ledger_a_kind_cap_counts_every_task(clock):
    """STATE keeps no kinds: the cautious side (profiles need the ledger anyway)."""
    pacer = TaskPacer(CAPPED, StateWindow([]), clock=clock)
    for n in range(3):
        assert pacer.try_reserve("connections_page", f"o{n}")[1] is not None
    assert pacer.try_reserve("profile", "p0")[1] is None


@pytest.mark.parametrize(
    ("times", "cap", "wait"),
    [
        ([], 3, 0.0),
        ([100.0, 200.0], 3, 0.0),
        ([100.0, 200.0, 300.0], 3, 100.0 + HOUR - 1000.0),
        ([100.0, 200.0, 300.0], None, 0.0),
        ([-HOUR, 100.0, 200.0, 300.0], 3, 100.0 + HOUR - 1000.0),  # out of the window
        ([5000.0, 200.0, 300.0], 3, 200.0 + HOUR - 1000.0),  # a future one counts as now
    ],
)
def test_cap_wait(times: list[float], cap: int | None, wait: float) -> None:
    assert cap_wait(times, 1000.0, cap, HOUR) == pytest.approx(wait)


def test_a_profile_given_up_on_stops_the_days_profiles(clock, ledger):
    """Three timeouts in a row: something is wrong beyond the profile; no more views."""
    outx = FakeOutX(clock, total=0, script=["stall", "stall", "stall"])
    memory = ProfileMemory(ledger)
    state: dict[str, t.Any] = {}
    fetcher = ProfileFetcher(
        runner(outx, TaskPacer(PacingRules(), ledger, clock=clock), ledger),
        memory,
        account="default",
        slot_state=state,
        checkpoint=lambda: None,
        logger=LOGGER,
        clock=clock,
    )
    assert not fetcher.fetch(Wanted(JANE, "Engineer at Acme"))
    assert "was given up" in fetcher.stopped
    assert len(outx.tasks) == 3  # max_task_attempts, then no more
    assert not fetcher.fetch(Wanted(ProfileKey("urn:li:fsd_profile:JOHN", "john"), None))
    assert len(outx.tasks) == 3
    remembered = memory.remembered()[JANE.entity_urn]
    assert (remembered.failure, remembered.failures) == (FailureKind.UNEXPLAINED, 1)
    assert "task" not in state

"""The task ledger and account-wide pacing, in process on a fake clock (milliseconds).

Two processes sharing one ledger run for real, against SQLite and the local PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.engine.ledger import (
    FRESH_TASK_SECONDS,
    Outcome,
    TaskLedger,
    account_fingerprint,
    key_text,
    ledger_url,
)
from tap_linkedin_connections.engine.pacing import (
    DAY,
    HOUR,
    ActiveHours,
    PacingRules,
    PacingStop,
    StateWindow,
    TaskPacer,
    seconds_until_allowed,
)
from tap_linkedin_connections.outx.kinds import CONNECTIONS_PAGE, PageKey
from tests.helpers import API_KEY

QUERY = {"sort_type": "RECENTLY_ADDED"}
KIND = CONNECTIONS_PAGE.name


def page(offset: int, page_size: int = 100, query: dict[str, str] = QUERY) -> str:
    """The ledger key of a page of connections."""
    return key_text(CONNECTIONS_PAGE.key_fields(PageKey.of(query, page_size, offset)))


def sqlite_url(tmp_path: Path) -> str:
    return t_url(tmp_path / "ledger.sqlite")


def t_url(path: Path) -> str:
    return f"sqlite:///{path}"


def run_paced(pacer: TaskPacer, clock: FakeClock, creates: int) -> list[float]:
    """Create ``creates`` tasks as the task pipeline does: reserve, or sleep the wait."""
    moments = []
    offset = 0
    while len(moments) < creates:
        wait, reservation = pacer.try_reserve(KIND, page(offset))
        if reservation is None:
            clock.sleep(wait)
            continue
        moments.append(clock.now())
        offset += 100
        clock.advance(0.5)  # the request itself
    return moments


def most_in_any(moments: list[float], window: float) -> int:
    return max(sum(1 for m in moments if start <= m < start + window) for start in moments)


# The account and where the ledger lives


def test_the_account_is_a_fingerprint_never_the_key():
    account = account_fingerprint("https://api.outx.ai", API_KEY)
    assert API_KEY not in account
    assert len(account) == 24
    assert account == account_fingerprint("https://api.outx.ai/", f"{API_KEY}\n")
    assert account != account_fingerprint("http://127.0.0.1:8765", API_KEY)
    assert account != account_fingerprint("https://api.outx.ai", API_KEY + "x")


def test_ledger_setting_forms(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    default = ledger_url(None)
    assert default is not None
    assert default == f"sqlite:///{tmp_path / 'state' / 'tap-linkedin-connections'}/ledger.sqlite"
    assert ledger_url("none") is None
    assert ledger_url("NONE") is None
    assert ledger_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    url = "postgresql+psycopg://u:secret@db:5432/ops"
    assert ledger_url(url) == url


def test_a_bad_ledger_url_is_one_line_without_the_password(tmp_path):
    from tap_linkedin_connections.engine.ledger import LedgerError

    with pytest.raises(LedgerError) as caught:
        TaskLedger("postgresql+psycopg://u:hunter2@127.0.0.1:1/x", "a" * 24)
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "cannot be opened" in str(caught.value)


# Recording and re-reading tasks


def test_a_create_is_recorded_before_its_answer_and_completed_after(tmp_path):
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    with ledger.locked() as conn:
        row = ledger.record(conn, kind=KIND, key=page(0), at=clock.now())
    (sending,) = ledger.rows()
    assert sending["outcome"] == "sending"
    assert sending["task_id"] is None
    # A lost answer leaves the row counting against the budget.
    with ledger.locked() as conn:
        assert ledger.creation_times(conn, clock.now() - 10) == [clock.now()]

    clock.advance(1)
    ledger.answered(row, "t-1")
    (queued,) = ledger.rows()
    assert (queued["task_id"], queued["outcome"], queued["answered_at"]) == (
        "t-1",
        "queued",
        clock.now(),
    )
    assert ledger.reusable_task(KIND, page(0)) == "t-1"
    assert ledger.reusable_task(KIND, page(100)) is None
    assert ledger.reusable_task(KIND, page(0, 50)) is None  # another page size, another page
    assert ledger.reusable_task(KIND, page(0, query={"sort_type": "RELEVANCE"})) is None
    assert ledger.reusable_task(KIND, page(0), exclude=["t-1"]) is None
    # Another account never sees it.
    assert TaskLedger(sqlite_url(tmp_path), "other", clock).reusable_task(KIND, page(0)) is None


def test_failed_stale_and_used_up_tasks_are_not_reread(tmp_path):
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    for offset, task_id in ((0, "t-0"), (100, "t-1"), (200, "t-2")):
        with ledger.locked() as conn:
            row = ledger.record(conn, kind=KIND, key=page(offset), at=clock.now())
        ledger.answered(row, task_id)
    ledger.task_outcome("t-1", Outcome.FAILED)
    assert ledger.reusable_task(KIND, page(0)) == "t-0"
    assert ledger.reusable_task(KIND, page(100)) is None

    clock.advance(FRESH_TASK_SECONDS + 1)
    assert ledger.reusable_task(KIND, page(200)) is None  # too old to trust

    clock.moment -= FRESH_TASK_SECONDS + 1
    ledger.read("t-0", "the pass")
    ledger.pass_ended("the pass")
    assert ledger.reusable_task(KIND, page(0)) is None


def test_a_not_queued_answer_costs_no_budget(tmp_path):
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    with ledger.locked() as conn:
        row = ledger.record(conn, kind=KIND, key=page(0), at=clock.now())
    ledger.not_queued(row)
    with ledger.locked() as conn:
        assert ledger.creation_times(conn, clock.now() - 10) == []


# Pacing rules, pure


def test_caps_and_gap_pure():
    rules = PacingRules(per_hour=3, per_day=5)
    now = 10 * DAY
    assert seconds_until_allowed([], now, rules, 0) == 0
    assert seconds_until_allowed([now - 10, now - 20], now, rules, 0) == 0
    assert seconds_until_allowed([now - 10, now - 20, now - 30], now, rules, 0) == HOUR - 30
    day = [now - 5 * HOUR, now - 4 * HOUR, now - 3 * HOUR, now - 2 * HOUR, now - 1.5 * HOUR]
    assert seconds_until_allowed(day, now, rules, 0) == DAY - 5 * HOUR
    assert seconds_until_allowed([now - 4], now, PacingRules(), 10) == 6


def test_future_creation_times_are_taken_as_now():
    now = 10 * DAY
    year_2099 = 4_102_444_800.0
    rules = PacingRules(per_hour=1)
    # Not a 72-year wait: the stamp counts as a create made just now.
    assert seconds_until_allowed([year_2099], now, rules, 0) == HOUR
    assert seconds_until_allowed([year_2099], now, PacingRules(), 10) == 10


def test_the_state_window_stands_in_for_the_ledger():
    clock = FakeClock()
    window: list[str] = []
    pacer = TaskPacer(PacingRules(per_hour=2), StateWindow(window), clock=clock)
    moments = run_paced(pacer, clock, 5)
    assert most_in_any(moments, HOUR) == 2
    assert len(window) == 5  # a day's creates are kept in STATE


# The account's budget over time, on a fake clock


def test_hourly_cap_holds_in_every_rolling_hour(tmp_path):
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    pacer = TaskPacer(PacingRules(per_hour=50), ledger, clock=clock)
    moments = run_paced(pacer, clock, 160)
    assert most_in_any(moments, HOUR) == 50
    assert moments[-1] - moments[0] >= 3 * HOUR


def test_daily_cap_holds_in_every_rolling_day(tmp_path):
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    rules = PacingRules(per_hour=50, per_day=400)
    pacer = TaskPacer(rules, ledger, clock=clock)
    moments = run_paced(pacer, clock, 900)
    assert most_in_any(moments, DAY) == 400
    assert most_in_any(moments, HOUR) <= 50


def test_default_spacing_spreads_creates(tmp_path):
    """Spacing 10-30 s alone: never a gap below 10 s, the median near 20 s."""
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    rules = PacingRules(spacing_min=10, spacing_max=30)
    pacer = TaskPacer(rules, ledger, clock=clock, rng=random.Random(5))
    gaps = [b - a for a, b in itertools.pairwise(run_paced(pacer, clock, 300))]
    print(
        f"spacing 10-30 s alone: smallest gap {min(gaps):.1f} s, "
        f"median {statistics.median(gaps):.1f} s, largest {max(gaps):.1f} s"
    )
    assert min(gaps) >= 10
    assert max(gaps) <= 30
    assert 18 <= statistics.median(gaps) <= 22


def test_default_pacing_over_a_day(tmp_path):
    """All defaults (50/hour, 400/day, 10-30 s): the caps and the gap hold together."""
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    rules = PacingRules(per_hour=50, per_day=400, spacing_min=10, spacing_max=30)
    pacer = TaskPacer(rules, ledger, clock=clock, rng=random.Random(5))
    moments = run_paced(pacer, clock, 450)
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    first_fifty = moments[49] - moments[0]
    print(
        f"defaults: smallest gap {min(gaps):.1f} s, median {statistics.median(gaps):.1f} s; "
        f"first 50 tasks in {first_fifty / 60:.0f} min; most in an hour "
        f"{most_in_any(moments, HOUR)}, in a day {most_in_any(moments, DAY)}"
    )
    assert min(gaps) >= 10
    assert most_in_any(moments, HOUR) == 50
    assert most_in_any(moments, DAY) == 400


def test_spacing_is_account_wide_not_per_run(tmp_path):
    clock = FakeClock()
    rules = PacingRules(spacing_min=10, spacing_max=10)
    first = TaskPacer(rules, TaskLedger(sqlite_url(tmp_path), "acct", clock), clock=clock)
    second = TaskPacer(rules, TaskLedger(sqlite_url(tmp_path), "acct", clock), clock=clock)
    assert first.try_reserve(KIND, page(0))[1] is not None
    clock.advance(3)
    wait, reservation = second.try_reserve(KIND, page(0))
    assert reservation is None
    assert wait == pytest.approx(7)


def test_lost_answers_count_against_the_budget(tmp_path):
    """Half the answers lost: every attempt counts, so the hour still holds 10 creates."""
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    pacer = TaskPacer(PacingRules(per_hour=10), ledger, clock=clock)
    for attempt in range(10):
        wait, reservation = pacer.try_reserve(KIND, page(0))
        assert wait == 0
        assert reservation is not None
        if attempt % 2 == 0:
            assert reservation.row is not None
            ledger.answered(reservation.row, f"t-{attempt}")
    wait, reservation = pacer.try_reserve(KIND, page(0))
    assert reservation is None
    assert wait == pytest.approx(HOUR)


def test_active_hours():
    hours = ActiveHours.parse("08:00-20:00", "Europe/Paris")
    # 2026-07-01 06:30 UTC is 08:30 in Paris (summer time).
    morning = 1782887400.0
    assert hours.contains(morning)
    assert not hours.contains(morning - 3600)
    assert hours.next_opening(morning - 3600) == morning - 1800
    assert hours.closing(morning) == morning + 11.5 * 3600
    night = ActiveHours.parse("22:00-06:00", "UTC")
    assert night.contains(1782864000.0)  # 00:00 UTC
    assert not night.contains(1782864000.0 + 12 * 3600)
    assert ActiveHours.parse("00:00-24:00", "UTC").contains(1782864000.0 - 1)
    for bad, tz in (("8-20", "UTC"), ("08:00-08:00", "UTC"), ("08:00-20:00", "Mars/Olympus")):
        with pytest.raises(ValueError, match=r"active_hours|timezone"):
            ActiveHours.parse(bad, tz)


def test_no_create_outside_active_hours_and_the_run_ends_when_they_close(tmp_path):
    clock = FakeClock(1782887400.0 - 3600)  # 07:30 in Paris
    rules = PacingRules(
        spacing_min=2400,
        spacing_max=2400,
        active_hours=ActiveHours.parse("08:00-09:00", "Europe/Paris"),
    )
    pacer = TaskPacer(rules, TaskLedger(sqlite_url(tmp_path), "acct", clock), clock=clock)
    with pytest.raises(
        PacingStop, match=r"outside active_hours 08:00-09:00 Europe/Paris; .*06:00:00 UTC"
    ):
        pacer.try_reserve(KIND, page(0))
    clock.moment = 1782887400.0  # 08:30
    assert pacer.try_reserve(KIND, page(0))[1] is not None
    clock.advance(600)  # 08:40: the next create would fall at 09:10
    wait, reservation = pacer.try_reserve(KIND, page(100))
    assert reservation is None
    with pytest.raises(PacingStop, match="end before the next task"):
        pacer.check_wait(wait)
    # The time-left line says so when the rest will not fit in the window.
    assert pacer.window_note(600) == ""
    assert pacer.window_note(3600) == (
        "; active_hours close at 2026-07-01 07:00:00 UTC, the next run goes on from there"
    )


def test_a_wait_beyond_an_hour_ends_the_run(tmp_path):
    clock = FakeClock()
    pacer = TaskPacer(
        PacingRules(per_day=2), TaskLedger(sqlite_url(tmp_path), "acct", clock), clock=clock
    )
    run_paced(pacer, clock, 2)
    wait, reservation = pacer.try_reserve(KIND, page(200))
    assert reservation is None
    with pytest.raises(PacingStop, match="allows the next task at"):
        pacer.check_wait(wait)
    pacer.check_wait(HOUR)  # an hour is slept through


# Two processes at once, one ledger

RESERVER = textwrap.dedent(
    """
    import sys, time
    from tap_linkedin_connections.engine.ledger import TaskLedger
    from tap_linkedin_connections.engine.pacing import PacingRules, TaskPacer
    url, start_at = sys.argv[1], float(sys.argv[2])
    pacer = TaskPacer(PacingRules(per_hour=15), TaskLedger(url, "shared"))
    while time.time() < start_at:
        time.sleep(0.001)
    made = 0
    for attempt in range(40):
        wait, reservation = pacer.try_reserve("connections_page", str(attempt))
        made += reservation is not None
    print(made)
    """
)


def two_processes_share_one_budget(url: str) -> tuple[int, int]:
    import time

    TaskLedger(url, "shared").close()  # tables exist before the race
    start_at = time.time() + 1.5
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVER, url, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    made = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            made.append(int(out))
    finally:
        for process in processes:
            process.kill()
            process.communicate()
    ledger = TaskLedger(url, "shared")
    rows = ledger.rows()
    ledger.close()
    return sum(made), len(rows)


def test_two_processes_share_one_sqlite_budget(tmp_path):
    made, rows = two_processes_share_one_budget(sqlite_url(tmp_path))
    assert made == rows == 15


def test_two_processes_share_one_postgresql_budget(pg_ledger_url):
    made, rows = two_processes_share_one_budget(pg_ledger_url)
    assert made == rows == 15


def test_postgresql_ledger_reads_back_like_sqlite(pg_ledger_url):
    clock = FakeClock()
    ledger = TaskLedger(pg_ledger_url, "acct", clock)
    with ledger.locked() as conn:
        row = ledger.record(conn, kind=KIND, key=page(0), at=clock.now())
    ledger.answered(row, "t-1")
    assert ledger.reusable_task(KIND, page(0)) == "t-1"
    (row,) = ledger.rows()
    assert row["kind"] == "connections_page"
    assert json.loads(row["key"]) == {"query": QUERY, "page_size": 100, "offset": 0}
    ledger.close()


def test_a_clock_set_back_never_makes_a_wait_longer_than_its_window(tmp_path):
    """50 creates in the last hour, then the clock goes back 3 h (issue 17, point 10)."""
    clock = FakeClock()
    ledger = TaskLedger(sqlite_url(tmp_path), "acct", clock)
    pacer = TaskPacer(PacingRules(per_hour=50), ledger, clock=clock)
    for offset in range(50):
        assert pacer.try_reserve(KIND, page(offset))[1] is not None
        clock.advance(60)
    clock.moment -= 3 * HOUR
    set_back = clock.now()

    first, second = run_paced(pacer, clock, 2)

    # The creates "in the future" count from when this run first saw them, and age:
    # one hour's wait, not until the clock catches up with them (3 h and more).
    print(f"clock set back 3 h: the next create after {(first - set_back) / HOUR:.2f} h")
    assert first - set_back <= HOUR
    assert max(clock.slept) <= HOUR
    assert second - first < 1  # they have all left the hour: no second wait

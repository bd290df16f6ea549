"""Which profiles a run fetches, in what order, and job changes (profiles/choose.py)."""

from __future__ import annotations

import typing as t

import pytest

from tap_linkedin_connections.profiles.choose import (
    DAY,
    JOB_CHANGED,
    WEEK,
    Limit,
    ListedConnection,
    Reason,
    RememberedFetch,
    choose_profiles,
    failure_pause,
    headline_changed,
    job_change,
)
from tap_linkedin_connections.profiles.records import FailureKind

NOW = 1_800_000_000.0


def listed(count: int, prefix: str = "p") -> list[ListedConnection]:
    """``count`` connections, newest first, with slug and headline."""
    return [
        ListedConnection(f"urn:{prefix}{i}", f"{prefix}{i}", f"Role {i} at Co", position=i)
        for i in range(count)
    ]


def fetched(
    connections: list[ListedConnection], at: float = NOW - DAY
) -> dict[str, RememberedFetch]:
    """Every connection fetched at ``at``, with the headline it has now."""
    return {c.entity_urn: RememberedFetch(fetched_at=at, headline=c.headline) for c in connections}


def choose(
    connections: t.Iterable[ListedConnection],
    remembered: t.Mapping[str, RememberedFetch] | None = None,
    **options: t.Any,
) -> t.Any:
    options = {
        "now": NOW,
        "refresh_age": None,
        "profile_cap_left": None,
        "task_budget_left": None,
        **options,
    }
    return choose_profiles(connections, remembered or {}, **options)


def slugs(plan: t.Any) -> list[str]:
    return [choice.public_identifier for choice in plan.fetch]


# -- order ---------------------------------------------------------------------------------


def test_never_fetched_come_newest_first() -> None:
    connections = listed(5)[::-1]  # handed in oldest first: the position decides
    plan = choose(connections)
    assert slugs(plan) == ["p0", "p1", "p2", "p3", "p4"]
    assert {c.reason for c in plan.fetch} == {Reason.NEW}


@pytest.mark.parametrize(
    ("connections", "order"),
    [
        # No position: the connection date decides, newest first.
        (
            [
                ListedConnection(f"u{i}", f"s{i}", "h", connected_at=at)
                for i, at in enumerate((10.0, 30.0, 20.0))
            ],
            ["s1", "s2", "s0"],
        ),
        # Neither: the order handed in.
        ([ListedConnection(f"u{i}", f"s{i}", "h") for i in range(3)], ["s0", "s1", "s2"]),
        # A known position comes before an unknown one.
        (
            [ListedConnection("u0", "s0", "h"), ListedConnection("u1", "s1", "h", position=7)],
            ["s1", "s0"],
        ),
    ],
)
def test_newness_when_the_position_is_not_known(
    connections: list[ListedConnection], order: list[str]
) -> None:
    assert slugs(choose(connections)) == order


def test_new_then_headline_changed_then_refresh() -> None:
    connections = listed(6)
    remembered = {
        # p0, p1: never fetched. p2, p3: headline changed since their fetch (p3 longer ago).
        "urn:p2": RememberedFetch(fetched_at=NOW - 2 * DAY, headline="Role 2 at Old Co"),
        "urn:p3": RememberedFetch(fetched_at=NOW - 9 * DAY, headline="Role 3 at Old Co"),
        # p4 fetched long ago, p5 fetched recently, both with the same headline.
        "urn:p4": RememberedFetch(fetched_at=NOW - 40 * DAY, headline="Role 4 at Co"),
        "urn:p5": RememberedFetch(fetched_at=NOW - 2 * DAY, headline="Role 5 at Co"),
    }
    without_refresh = choose(connections, remembered)
    assert [(c.public_identifier, c.reason) for c in without_refresh.fetch] == [
        ("p0", Reason.NEW),
        ("p1", Reason.NEW),
        ("p3", Reason.HEADLINE_CHANGED),  # the older fetch first
        ("p2", Reason.HEADLINE_CHANGED),
    ]
    with_refresh = choose(connections, remembered, refresh_age=30 * DAY)
    assert slugs(with_refresh) == ["p0", "p1", "p3", "p2", "p4"]
    assert with_refresh.due == {Reason.NEW: 2, Reason.HEADLINE_CHANGED: 2, Reason.REFRESH: 1}


def test_refresh_takes_the_oldest_fetches_first() -> None:
    connections = listed(4)
    ages = {"urn:p0": 31, "urn:p1": 90, "urn:p2": 10, "urn:p3": 45}
    remembered = {
        c.entity_urn: RememberedFetch(NOW - ages[c.entity_urn] * DAY, c.headline)
        for c in connections
    }
    assert slugs(choose(connections, remembered, refresh_age=30 * DAY)) == ["p1", "p3", "p0"]
    assert slugs(choose(connections, remembered, refresh_age=30 * DAY, profile_cap_left=1)) == [
        "p1"
    ]
    assert slugs(choose(connections, remembered)) == []  # no refresh age: never


@pytest.mark.parametrize(
    ("at_fetch", "now", "changed"),
    [
        ("Engineer at Acme", "Director at Acme", True),
        ("Engineer at Acme", "engineer  at\nACME ", False),  # case and blanks
        ("", "Engineer at Acme", True),  # known empty, now filled
        ("Engineer at Acme", "", True),
        (None, "Engineer at Acme", False),  # not known at fetch
        ("Engineer at Acme", None, False),  # not in the list now
    ],
)
def test_headline_changed(at_fetch: str | None, now: str | None, changed: bool) -> None:
    assert headline_changed(at_fetch, now) is changed


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "failures", "pause"),
    [
        (FailureKind.NOT_FOUND, 1, WEEK),
        (FailureKind.NOT_VISIBLE, 5, WEEK),
        (FailureKind.UNEXPLAINED, 1, DAY),
        (FailureKind.UNEXPLAINED, 2, 2 * DAY),
        (FailureKind.UNEXPLAINED, 3, 4 * DAY),
        (FailureKind.UNEXPLAINED, 4, WEEK),
        (FailureKind.UNEXPLAINED, 40, WEEK),
        (FailureKind.UNEXPLAINED, 0, DAY),
    ],
)
def test_failure_pauses(kind: FailureKind, failures: int, pause: float) -> None:
    assert failure_pause(kind, failures) == pause


@pytest.mark.parametrize(
    ("memory", "tried"),
    [
        (
            RememberedFetch(failure=FailureKind.NOT_FOUND, failed_at=NOW - 6 * DAY, failures=1),
            False,
        ),
        (RememberedFetch(failure=FailureKind.NOT_FOUND, failed_at=NOW - 7 * DAY, failures=1), True),
        (RememberedFetch(failure=FailureKind.NOT_VISIBLE, failed_at=NOW - DAY, failures=1), False),
        (
            RememberedFetch(failure=FailureKind.UNEXPLAINED, failed_at=NOW - 2 * DAY, failures=1),
            True,
        ),
        (
            RememberedFetch(failure=FailureKind.UNEXPLAINED, failed_at=NOW - 2 * DAY, failures=3),
            False,
        ),
        # A success after the failure ends the pause (here: a headline change is due).
        (
            RememberedFetch(
                fetched_at=NOW - DAY,
                headline="old",
                failure=FailureKind.NOT_FOUND,
                failed_at=NOW - 2 * DAY,
                failures=1,
            ),
            True,
        ),
    ],
)
def test_a_failed_profile_waits_out_its_pause(memory: RememberedFetch, tried: bool) -> None:
    [connection] = listed(1)
    plan = choose([connection], {connection.entity_urn: memory})
    assert (slugs(plan) == ["p0"]) is tried
    assert plan.paused == (0 if tried else 1)


def test_a_week_of_runs_tries_a_missing_profile_once() -> None:
    """A profile that is gone does not eat every day's budget: one try a week."""
    connections = listed(3)
    remembered: dict[str, RememberedFetch] = {}
    tries = 0
    for day in range(14):
        now = NOW + day * DAY
        plan = choose(connections, remembered, now=now, profile_cap_left=3)
        for choice in plan.fetch:
            if choice.public_identifier == "p1":  # always fails as not found
                tries += 1
                previous = remembered.get(choice.entity_urn, RememberedFetch())
                remembered[choice.entity_urn] = RememberedFetch(
                    failure=FailureKind.NOT_FOUND, failed_at=now, failures=previous.failures + 1
                )
            else:
                headline = next(
                    c.headline for c in connections if c.entity_urn == choice.entity_urn
                )
                remembered[choice.entity_urn] = RememberedFetch(fetched_at=now, headline=headline)
    assert tries == 2  # day 0 and day 7


# -- budget ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "budget", "connection_tasks", "fetched", "limit"),
    [
        (None, None, 0, 10, Limit.NONE),
        (20, None, 0, 10, Limit.NONE),  # all fit
        (4, None, 0, 4, Limit.PROFILE_CAP),
        (None, 6, 0, 6, Limit.TASK_BUDGET),
        (None, 6, 4, 2, Limit.TASK_BUDGET),  # connection work first
        (5, 6, 4, 2, Limit.TASK_BUDGET),
        (1, 6, 4, 1, Limit.PROFILE_CAP),
        (5, 6, 9, 0, Limit.TASK_BUDGET),  # nothing left after the connections
        (0, 50, 0, 0, Limit.PROFILE_CAP),  # the day's profiles spent
        (-3, None, 0, 0, Limit.PROFILE_CAP),
    ],
)
def test_profiles_get_what_the_budget_leaves(
    cap: int | None, budget: int | None, connection_tasks: int, fetched: int, limit: Limit
) -> None:
    plan = choose(
        listed(10),
        profile_cap_left=cap,
        task_budget_left=budget,
        connection_tasks_due=connection_tasks,
    )
    assert slugs(plan) == [f"p{i}" for i in range(fetched)]  # always the first in order
    assert plan.limited_by is limit
    assert plan.left_over == 10 - fetched


def test_without_slug_or_twice_listed() -> None:
    connections = [
        ListedConnection("u0", None, "h", position=0),
        ListedConnection("u1", "", "h", position=1),
        ListedConnection("u2", "s2", "h", position=2),
        ListedConnection("u2", "s2", "h", position=3),  # the same person twice
    ]
    plan = choose(connections)
    assert slugs(plan) == ["s2"]
    assert plan.no_slug == 2


def test_remembered_fetches_of_removed_connections_are_ignored() -> None:
    remembered = {"urn:gone": RememberedFetch(fetched_at=NOW - 99 * DAY, headline="x")}
    plan = choose([], remembered, refresh_age=DAY)
    assert plan.fetch == ()
    assert sum(plan.due.values()) == 0


def test_three_hundred_connections_at_twenty_a_day() -> None:
    """The closing note's numbers, in process: day one the 20 newest, a second run the
    same day none, and once all are fetched, three job changes cost exactly three."""
    connections = listed(300)
    day_one = choose(connections, profile_cap_left=20)
    assert slugs(day_one) == [f"p{i}" for i in range(20)]
    remembered = fetched([c for c in connections if c.public_identifier in slugs(day_one)])
    second_run = choose(connections, remembered, profile_cap_left=0)
    assert second_run.fetch == ()
    assert second_run.due[Reason.NEW] == 280

    remembered = fetched(connections, at=NOW - 20 * DAY)
    changed = {5, 150, 299}
    after_changes = [
        ListedConnection(c.entity_urn, c.public_identifier, f"New job {i} at Else", c.position)
        if i in changed
        else c
        for i, c in enumerate(connections)
    ]
    plan = choose(after_changes, remembered, profile_cap_left=20)
    assert sorted(slugs(plan)) == ["p150", "p299", "p5"]
    assert {c.reason for c in plan.fetch} == {Reason.HEADLINE_CHANGED}


# -- job changes -------------------------------------------------------------------------------


def record(title: str | None, company: str | None, **other: t.Any) -> dict[str, t.Any]:
    return {
        "account": "default",
        "entity_urn": "urn:x",
        "public_identifier": "x",
        "current_title": title,
        "current_company": company,
        "fetched_at": "2026-03-01T00:00:00Z",
        **other,
    }


@pytest.mark.parametrize(
    ("previous", "current", "changed"),
    [
        (("Engineer", "Acme"), ("Director", "Acme"), True),
        (("Engineer", "Acme"), ("Engineer", "Globex"), True),
        (("Engineer", "Acme"), ("engineer ", " ACME"), False),  # case and blanks
        (("Data  Scientist", "Acme"), ("Data Scientist", "Acme"), False),
        (("Engineer", "Acme"), ("Engineer", "Acme"), False),
        (("Engineer", None), ("Director", None), True),  # compared where both show it
        (("Engineer", "Acme"), ("Engineer", None), False),  # company not shown now
        (("Engineer", None), (None, "Acme"), False),  # nothing shown on both sides
        ((None, None), ("Engineer", "Acme"), False),  # first readable fetch: no baseline
        (("Engineer", "Acme"), (None, None), False),  # unreadable now: no claim
        (("Engineer", ""), ("Engineer", "Acme"), False),  # empty text is not shown
    ],
)
def test_job_change(
    previous: tuple[str | None, str | None], current: tuple[str | None, str | None], changed: bool
) -> None:
    event = job_change(record(*previous), record(*current))
    assert (event is not None) is changed


@pytest.mark.parametrize(
    ("previous", "current", "changed"),
    [
        ((None, None), ("Engineer", "Acme"), True),  # started a job
        (("Engineer", "Acme"), (None, None), True),  # left it
        ((None, None), (None, None), False),
        (("Engineer", "Acme"), ("Engineer", "Acme"), False),
    ],
)
def test_starting_or_leaving_a_job_is_a_change_where_both_fetches_read_the_experience(
    previous: tuple[str | None, str | None], current: tuple[str | None, str | None], changed: bool
) -> None:
    read = {"positions": []}
    assert (job_change(record(*previous, **read), record(*current, **read)) is not None) is changed


def test_a_result_of_unknown_shape_tells_nothing_of_starting_or_leaving() -> None:
    unknown = {"positions": None}  # records.py: the shape was not read
    read = {"positions": []}
    assert job_change(record(None, None, **unknown), record("Engineer", "Acme", **read)) is None
    assert job_change(record("Engineer", "Acme", **read), record(None, None, **unknown)) is None


def test_job_change_event_payload() -> None:
    previous = record("Engineer", "Acme", fetched_at="2026-01-01T00:00:00Z")
    current = record("Director", "Globex", fetched_at="2026-03-01T00:00:00Z")
    assert job_change(previous, current) == {
        "account": "default",
        "entity_urn": "urn:x",
        "public_identifier": "x",
        "event": JOB_CHANGED,
        "observed_at": "2026-03-01T00:00:00Z",
        "previous": {"title": "Engineer", "company": "Acme"},
        "current": {"title": "Director", "company": "Globex"},
    }


def test_no_job_change_on_a_first_fetch_or_across_people() -> None:
    assert job_change(None, record("Director", "Globex")) is None
    with pytest.raises(ValueError, match="same profile"):
        job_change(record("a", "b"), record("a", "b", entity_urn="urn:other"))

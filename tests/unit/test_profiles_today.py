"""The day's profile budget and the plan's page count: pure decisions, by table."""

from __future__ import annotations

import typing as t

import pytest

from tap_linkedin_connections.connections.passes import tasks_for_full_pass
from tap_linkedin_connections.engine.pacing import KindCap, PacingRules
from tap_linkedin_connections.plan import PagesDue, pages_due
from tap_linkedin_connections.profiles.choose import (
    Choice,
    Limit,
    ProfilePlan,
    Reason,
)
from tap_linkedin_connections.profiles.today import (
    ProfileSettings,
    Used,
    budget_left,
    describe_plan,
    room_after,
)


def settings(per_day: int | None = 50, per_run: int | None = None) -> ProfileSettings:
    return ProfileSettings(per_day=per_day, refresh_age=None, per_run=per_run)


@pytest.mark.parametrize(
    ("profile_cap", "account_day_cap", "per_run", "used", "left"),
    [
        (50, 400, None, Used(day=0, profiles_day=0, this_run=0), (50, 400)),
        (50, 400, None, Used(day=30, profiles_day=20, this_run=0), (30, 370)),
        (20, 400, None, Used(day=30, profiles_day=20, this_run=0), (0, 370)),
        (20, 400, None, Used(day=30, profiles_day=25, this_run=0), (0, 370)),  # never < 0
        (None, None, None, Used(day=999, profiles_day=999, this_run=9), (None, None)),
        (50, 24, None, Used(day=4, profiles_day=0, this_run=4), (50, 20)),
        (50, 400, 10, Used(day=4, profiles_day=0, this_run=4), (50, 6)),  # max_tasks_per_run
        (50, 8, 10, Used(day=4, profiles_day=0, this_run=4), (50, 4)),  # the smaller one
    ],
)
def test_budget_left(
    profile_cap: int | None,
    account_day_cap: int | None,
    per_run: int | None,
    used: Used,
    left: tuple[int | None, int | None],
) -> None:
    assert budget_left(settings(profile_cap, per_run), account_day_cap, used) == left


@pytest.mark.parametrize(
    ("profile_cap", "account_day_cap", "pages", "room"),
    [
        (20, None, 4, 20),  # only the profiles' own cap
        (50, 24, 4, 20),  # the pages come first out of the account's day
        (50, 24, 30, 0),
        (None, None, 4, None),
    ],
)
def test_room_after_the_pages(
    profile_cap: int | None, account_day_cap: int | None, pages: int, room: int | None
) -> None:
    used = Used(day=0, profiles_day=0, this_run=0)
    assert room_after(settings(profile_cap), account_day_cap, used, pages) == room


def test_settings_from_the_config() -> None:
    read = ProfileSettings.from_config(
        {"max_profile_fetches_per_day": 0, "profile_refresh_days": 30, "max_tasks_per_run": 12}
    )
    assert read == ProfileSettings(per_day=None, refresh_age=30 * 86400.0, per_run=12)
    assert read.rules(PacingRules(per_hour=50)) == PacingRules(per_hour=50)  # no cap: as is
    capped = ProfileSettings.from_config({"max_profile_fetches_per_day": 20}).rules(PacingRules())
    assert capped.kind_caps == {"profile": KindCap(20, "max_profile_fetches_per_day")}
    assert ProfileSettings.from_config({}).per_day is None  # the schema's default fills it


def test_the_plan_in_one_line() -> None:
    plan = ProfilePlan(
        fetch=(
            Choice("urn:a", "a", Reason.NEW),
            Choice("urn:b", "b", Reason.NEW),
            Choice("urn:c", "c", Reason.HEADLINE_CHANGED),
        ),
        due={Reason.NEW: 40, Reason.HEADLINE_CHANGED: 1, Reason.REFRESH: 0},
        paused=2,
        no_slug=1,
        limited_by=Limit.PROFILE_CAP,
    )
    assert describe_plan(plan, settings(3)) == (
        "3 profile tasks (2 new, 1 headline changed, 0 refresh); 38 more wait for another "
        "day (max_profile_fetches_per_day=3); 2 paused after a failed fetch; 1 without a "
        "profile slug"
    )


# The plan's page count

IDENTITY: t.Any = {"account": "default", "keyword": None, "sort_type": "RECENTLY_ADDED"}
CONFIG = {"page_size": 100, "sort_type": "RECENTLY_ADDED"}
BOOKMARK = {"identity": IDENTITY, "newest": ["urn:1"], "version": 1, "total": 300}
#: A full pass of 300 (passes.py: the pages to the end, its confirmation, the top again).
FULL = tasks_for_full_pass(300, 100)


@pytest.mark.parametrize(
    ("slot", "config", "known", "due"),
    [
        ({}, CONFIG, None, (None, True)),  # first run: the size is not known yet
        ({}, CONFIG, 300, (FULL, True)),  # ... unless the profiles' listing knows it
        ({"bookmark": BOOKMARK}, CONFIG, None, (1, False)),  # incremental
        ({"bookmark": BOOKMARK}, {**CONFIG, "full_refresh": True}, None, (FULL, True)),
        (
            {"bookmark": BOOKMARK},
            {**CONFIG, "max_tasks_per_run": 2, "full_refresh": True},
            None,
            (2, True),
        ),
        (
            {
                "bookmark": BOOKMARK,
                "pass": {
                    "identity": IDENTITY,
                    "kind": "full",
                    "page_size": 100,
                    "next_offset": 194,
                    "tasks": [{"offset": 194, "id": "t9", "attempt": 1, "ids": ["t9"]}],
                },
            },
            CONFIG,
            None,
            (FULL - 3, True),  # 2 pages read, the third in flight: the rest to create
        ),
        (
            {"bookmark": BOOKMARK, "pass": {"identity": IDENTITY, "kind": "incremental"}},
            CONFIG,
            None,
            (1, False),
        ),
    ],
)
def test_pages_due(
    slot: dict[str, t.Any],
    config: dict[str, t.Any],
    known: int | None,
    due: tuple[int | None, bool],
) -> None:
    found = pages_due(slot, IDENTITY, config, known=known)
    assert isinstance(found, PagesDue)
    assert (found.tasks, found.full) == due

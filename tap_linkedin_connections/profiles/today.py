"""The day's profile budget, and the plan it allows: shared by a run and by ``--plan``.

Profiles take what the account's budget leaves (engine/pacing.py: one budget per
account, every kind of task counted in the task ledger) and no more than their own
``max_profile_fetches_per_day``. ``budget_left`` is the arithmetic, pure; ``plan_for_today``
reads the numbers and hands them to choose.choose_profiles.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, replace

from tap_linkedin_connections.engine.pacing import KindCap, PacingRules
from tap_linkedin_connections.outx.kinds import FETCH_PROFILE
from tap_linkedin_connections.profiles.choose import DAY, ProfilePlan, choose_profiles

if t.TYPE_CHECKING:
    from tap_linkedin_connections.engine.pacing import TaskPacer
    from tap_linkedin_connections.profiles.listing import ConnectionListing
    from tap_linkedin_connections.profiles.memory import ProfileMemory

PROFILE_CAP_SETTING = "max_profile_fetches_per_day"
REFRESH_SETTING = "profile_refresh_days"


@dataclass(frozen=True)
class ProfileSettings:
    """The profile settings of an account."""

    per_day: int | None  # max_profile_fetches_per_day; None: no cap of their own
    refresh_age: float | None  # profile_refresh_days in seconds; None: never refresh
    per_run: int | None  # max_tasks_per_run, shared with the connection pages

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> ProfileSettings:
        days = config.get(REFRESH_SETTING)
        return cls(
            per_day=int(config.get(PROFILE_CAP_SETTING) or 0) or None,
            refresh_age=float(days) * DAY if days else None,
            per_run=int(config.get("max_tasks_per_run") or 0) or None,
        )

    def rules(self, rules: PacingRules) -> PacingRules:
        """The account's pacing rules with the profiles' own daily cap added."""
        if self.per_day is None:
            return rules
        caps = {**rules.kind_caps, FETCH_PROFILE.name: KindCap(self.per_day, PROFILE_CAP_SETTING)}
        return replace(rules, kind_caps=caps)


@dataclass(frozen=True)
class Used:
    """Tasks that count already: in the last 24 hours (all kinds, and profiles), and
    since this run began (all kinds, for max_tasks_per_run)."""

    day: int
    profiles_day: int
    this_run: int


def budget_left(
    settings: ProfileSettings, per_day: int | None, used: Used
) -> tuple[int | None, int | None]:
    """(profile fetches left today under the profiles' own cap, tasks the account may
    still create under max_tasks_per_day and max_tasks_per_run); None: no such limit.

    The hourly cap and the spacing only make a run wait, so they limit no count.
    """
    profile_cap_left = None if settings.per_day is None else settings.per_day - used.profiles_day
    limits = []
    if per_day:
        limits.append(per_day - used.day)
    if settings.per_run is not None:
        limits.append(settings.per_run - used.this_run)
    task_budget_left = min(limits) if limits else None
    return (
        None if profile_cap_left is None else max(0, profile_cap_left),
        None if task_budget_left is None else max(0, task_budget_left),
    )


def plan_for_today(
    listing: ConnectionListing,
    memory: ProfileMemory,
    pacer: TaskPacer,
    settings: ProfileSettings,
    *,
    this_run: int,
    connection_tasks_due: int = 0,
    apart: t.Collection[str] = (),
) -> ProfilePlan:
    """Which profiles the account fetches now, in order, under its budget as it stands.

    ``apart``: connections whose tasks are in flight already (a stopped run's): polled
    apart from the plan, and paid for already (their tasks count in the budget).
    """
    profile_cap_left, task_budget_left = budget_left(
        settings, pacer.rules.per_day, used_now(pacer, this_run)
    )
    return choose_profiles(
        [c for c in listing.connections() if c.entity_urn not in apart],
        memory.remembered(),
        now=pacer.clock.now(),
        refresh_age=settings.refresh_age,
        profile_cap_left=profile_cap_left,
        task_budget_left=task_budget_left,
        connection_tasks_due=connection_tasks_due,
    )


def used_now(pacer: TaskPacer, this_run: int) -> Used:
    """The tasks that count against the account's budget now."""
    _, day = pacer.counts()
    return Used(day=day, profiles_day=pacer.kind_count(FETCH_PROFILE.name), this_run=this_run)


def room_after(
    settings: ProfileSettings, per_day: int | None, used: Used, connection_tasks: int
) -> int | None:
    """How many profiles the budget leaves once ``connection_tasks`` pages are created;
    None: no limit."""
    profile_cap_left, task_budget_left = budget_left(settings, per_day, used)
    rooms = [room for room in (profile_cap_left,) if room is not None]
    if task_budget_left is not None:
        rooms.append(max(0, task_budget_left - connection_tasks))
    return min(rooms) if rooms else None


def describe_plan(plan: ProfilePlan, settings: ProfileSettings) -> str:
    """The plan in one line, for the log and ``--plan``."""
    reasons = ", ".join(
        f"{sum(1 for c in plan.fetch if c.reason is reason)} {reason.value.replace('_', ' ')}"
        for reason in plan.due
    )
    line = f"{len(plan.fetch)} profile tasks ({reasons})"
    if plan.left_over:
        limit = {
            "profile_cap": f"{PROFILE_CAP_SETTING}={settings.per_day}",
            "task_budget": "the account's task budget after the connection pages",
        }.get(plan.limited_by.value, "the budget")
        line += f"; {plan.left_over} more wait for another day ({limit})"
    if plan.paused:
        line += f"; {plan.paused} paused after a failed fetch"
    if plan.no_slug:
        line += f"; {plan.no_slug} without a profile slug"
    return line

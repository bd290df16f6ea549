"""Which profiles to fetch today, in what order, and when a re-fetch is a job change.

Pure: no clock, no I/O. Every profile fetch is one profile view on the user's LinkedIn
account, so the order is the design:

1. connections never fetched, newest connection first (the people a user asks about);
2. connections whose headline in the list changed since their last fetch: the cheap
   signal of a job change, seen by every pass of the list at no extra cost;
3. only with a refresh age set, fetches older than it, oldest first.

A profile whose last fetch failed waits before it is tried again (``FAILURE_PAUSES``),
so that a deleted or hidden profile does not eat every day's budget. Profiles get what
the account's budget has left once the run's connection work is counted.
"""

from __future__ import annotations

import enum
import math
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.profiles.records import FailureKind, Record

DAY = 86_400.0
WEEK = 7 * DAY
#: A profile LinkedIn says is gone or hidden stays so for a while: a week between tries.
#: A failure without a reason may be passing (the extension, LinkedIn's throttle): a day,
#: doubled with each failure in a row, never more than a week.
FAILURE_PAUSES = {FailureKind.NOT_FOUND: WEEK, FailureKind.NOT_VISIBLE: WEEK}
UNEXPLAINED_FAILURE_PAUSE = DAY

JOB_CHANGED = "job_changed"


class Reason(enum.Enum):
    """Why a profile is due, in the order the tiers are served."""

    NEW = "new"
    HEADLINE_CHANGED = "headline_changed"
    REFRESH = "refresh"


class Limit(enum.Enum):
    """What stopped the day's profiles short of every due one."""

    NONE = "none"  # every due profile fits
    PROFILE_CAP = "profile_cap"  # max_profile_fetches_per_day
    TASK_BUDGET = "task_budget"  # the account's tasks, after the connection work


@dataclass(frozen=True)
class ListedConnection:
    """A connection as the latest pass of the list gave it."""

    entity_urn: str
    public_identifier: str | None
    headline: str | None
    #: Place in the newest-first list, 0 = newest; None if not known.
    position: int | None = None
    #: When the connection was made, seconds since the epoch; None if not known.
    connected_at: float | None = None


@dataclass(frozen=True)
class RememberedFetch:
    """What the tap remembers of a connection's profile fetches."""

    #: The last fetch that succeeded, seconds since the epoch; None: never.
    fetched_at: float | None = None
    #: The connection's headline in the list at that fetch.
    headline: str | None = None
    #: The last fetch that failed, if later than ``fetched_at``.
    failure: FailureKind | None = None
    failed_at: float | None = None
    #: Failed fetches in a row (since the last success).
    failures: int = 0


@dataclass(frozen=True)
class Choice:
    """One profile to fetch."""

    entity_urn: str
    public_identifier: str
    reason: Reason


@dataclass(frozen=True)
class ProfilePlan:
    """The day's profile fetches, and what waits."""

    fetch: tuple[Choice, ...]
    #: Profiles due, by reason, fetched today or not.
    due: dict[Reason, int]
    #: Profiles waiting out the pause after a failed fetch.
    paused: int
    #: Connections without a profile slug: fetch-profile cannot ask for them.
    no_slug: int
    limited_by: Limit

    @property
    def left_over(self) -> int:
        """Due profiles that wait for another day."""
        return sum(self.due.values()) - len(self.fetch)


def choose_profiles(
    connections: t.Iterable[ListedConnection],
    remembered: t.Mapping[str, RememberedFetch],
    *,
    now: float,
    refresh_age: float | None,
    profile_cap_left: int | None,
    task_budget_left: int | None,
    connection_tasks_due: int = 0,
) -> ProfilePlan:
    """The profiles to fetch now, in order.

    ``profile_cap_left``: profile fetches left today under max_profile_fetches_per_day;
    ``task_budget_left``: tasks the account may still create (its hourly, daily and
    per-run limits); None means no such limit. ``connection_tasks_due``: tasks the run's
    connection work will still create, served first out of ``task_budget_left``.
    """
    tiers: dict[Reason, list[tuple[tuple[float, ...], ListedConnection]]] = {r: [] for r in Reason}
    paused = no_slug = 0
    seen: set[str] = set()
    for order, connection in enumerate(connections):
        if connection.entity_urn in seen:
            continue
        seen.add(connection.entity_urn)
        memory = remembered.get(connection.entity_urn, RememberedFetch())
        reason = _reason(connection, memory, now, refresh_age)
        if reason is None:
            continue
        if not connection.public_identifier:
            no_slug += 1
        elif _paused(memory, now):
            paused += 1
        else:
            tiers[reason].append((_rank(reason, connection, memory, order), connection))
    ordered = [
        Choice(connection.entity_urn, str(connection.public_identifier), reason)
        for reason in Reason
        for _, connection in sorted(tiers[reason], key=lambda ranked: ranked[0])
    ]
    room, limit = _room(profile_cap_left, task_budget_left, connection_tasks_due)
    short = room is not None and room < len(ordered)
    return ProfilePlan(
        fetch=tuple(ordered[:room]),
        due={reason: len(tiers[reason]) for reason in Reason},
        paused=paused,
        no_slug=no_slug,
        limited_by=limit if short else Limit.NONE,
    )


def _reason(
    connection: ListedConnection, memory: RememberedFetch, now: float, refresh_age: float | None
) -> Reason | None:
    if memory.fetched_at is None:
        return Reason.NEW
    if headline_changed(memory.headline, connection.headline):
        return Reason.HEADLINE_CHANGED
    if refresh_age is not None and memory.fetched_at <= now - refresh_age:
        return Reason.REFRESH
    return None


def headline_changed(at_fetch: str | None, now: str | None) -> bool:
    """Whether the list's headline differs from the one seen at the last fetch; an
    unknown headline on either side is no change. Case and blanks do not count."""
    if at_fetch is None or now is None:
        return False
    return _normal(at_fetch) != _normal(now)


def failure_pause(kind: FailureKind, failures_in_a_row: int) -> float:
    """How long after a failed fetch the profile may be tried again."""
    if kind in FAILURE_PAUSES:
        return FAILURE_PAUSES[kind]
    doublings = min(max(0, failures_in_a_row - 1), 3)  # 1, 2, 4 days, then a week
    return min(WEEK, UNEXPLAINED_FAILURE_PAUSE * float(2**doublings))


def _paused(memory: RememberedFetch, now: float) -> bool:
    if memory.failure is None or memory.failed_at is None:
        return False
    if memory.fetched_at is not None and memory.fetched_at >= memory.failed_at:
        return False  # a later success ended the failure
    return now < memory.failed_at + failure_pause(memory.failure, memory.failures)


def _rank(
    reason: Reason, connection: ListedConnection, memory: RememberedFetch, order: int
) -> tuple[float, ...]:
    """Sort key within a tier: new ones newest first; re-fetches oldest fetch first."""
    newness = (
        math.inf if connection.position is None else connection.position,
        -connection.connected_at if connection.connected_at is not None else math.inf,
        order,
    )
    if reason is Reason.NEW:
        return newness
    return (memory.fetched_at or 0.0, *newness)


def _room(
    profile_cap_left: int | None, task_budget_left: int | None, connection_tasks_due: int
) -> tuple[int | None, Limit]:
    """How many profiles fit (None: no limit), and which limit sets that."""
    limits: list[tuple[int, Limit]] = []
    if profile_cap_left is not None:
        limits.append((max(0, profile_cap_left), Limit.PROFILE_CAP))
    if task_budget_left is not None:
        limits.append((max(0, task_budget_left - max(0, connection_tasks_due)), Limit.TASK_BUDGET))
    if not limits:
        return None, Limit.NONE
    return min(limits, key=lambda pair: pair[0])


# -- job changes -----------------------------------------------------------------------


def job_change(previous: Record | None, current: Record) -> Record | None:
    """The ``job_changed`` event of a re-fetched profile, or None.

    A change is a current title or company that differs between the two fetches (case and
    blanks aside). Only what both fetches show is compared: a field null on either side
    (not shown, or a result of unknown shape) is no change, and neither is a first fetch.
    Where both fetches read the experience (``positions`` a list), a current job on one
    side and none on the other is a change too: someone started a job, or left one.
    """
    if previous is None:
        return None
    if previous.get("entity_urn") != current.get("entity_urn"):
        raise ValueError("a job change compares two fetches of the same profile")
    compared = [
        _normal(previous.get(field)) != _normal(current.get(field))
        for field in ("current_title", "current_company")
        if _normal(previous.get(field)) and _normal(current.get(field))
    ]
    started_or_left = all(
        isinstance(r.get("positions"), list) for r in (previous, current)
    ) and _has_job(previous) != _has_job(current)
    if not any(compared) and not started_or_left:
        return None
    return {
        "account": current.get("account"),
        "entity_urn": current.get("entity_urn"),
        "public_identifier": current.get("public_identifier"),
        "event": JOB_CHANGED,
        "observed_at": current.get("fetched_at"),
        "previous": _job(previous),
        "current": _job(current),
    }


def _has_job(record: Record) -> bool:
    return any(_normal(record.get(field)) for field in ("current_title", "current_company"))


def _job(record: Record) -> dict[str, t.Any]:
    return {"title": record.get("current_title"), "company": record.get("current_company")}


def _normal(text: t.Any) -> str:
    return " ".join(text.split()).casefold() if isinstance(text, str) else ""

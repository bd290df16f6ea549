"""Pacing: the account's budget of LinkedIn actions, spread out like a careful human's.

Every task is a real action in the user's LinkedIn session, and LinkedIn flags accounts
that burst. OutX advises about 50 actions an hour *combined*, spread over the day. The
rules, per account (every run on the same key and API URL shares them):

- at most ``max_tasks_per_hour`` creates in any rolling hour and ``max_tasks_per_day``
  in any rolling 24 hours;
- a random gap between consecutive creates, drawn from ``task_spacing_min_seconds`` to
  ``task_spacing_max_seconds`` (never below the minimum, whichever run created the last);
- no create outside ``active_hours`` in ``timezone``;
- for a kind with a cap of its own (``PacingRules.kind_caps``, e.g. profile views),
  at most that many creates of the kind in any rolling 24 hours, within the rest.

Every create that may have reached OutX counts, whatever its kind, a retry after a lost
answer included: each attempt is a reservation here, of one task key. The creation times
come from the task ledger (all runs on the account) or, with the ledger off, from STATE
(this state's runs only). A time in the future (a clock set back, state moved between
hosts) counts as made when this run first saw it, and ages from there (see
``counted_at``): no wait is longer than its window.
"""

from __future__ import annotations

import contextlib
import datetime
import random
import re
import typing as t
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_linkedin_connections.clock import REAL_CLOCK, Clock

HOUR = 3600.0
DAY = 86400.0

#: A pacing wait longer than this ends the run (its state saved) instead of sleeping
#: through it: the next scheduled run goes on. Waits for the hourly cap are shorter.
LONGEST_PACING_SLEEP = HOUR

ACTIVE_HOURS = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)\s*$")


class PacingStop(Exception):
    """No task may be created in this run any more; the message says until when."""


@dataclass(frozen=True)
class ActiveHours:
    """A daily window of local time, e.g. 08:00-20:00; start after end spans midnight."""

    start: datetime.time
    end: datetime.time  # 24:00 is datetime.time.max
    zone: ZoneInfo
    text: str

    @classmethod
    def parse(cls, text: str, timezone: str) -> ActiveHours:
        """ValueError (naming the setting) if ``text`` or ``timezone`` is not valid."""
        found = ACTIVE_HOURS.match(text)
        if found is None:
            msg = "'active_hours' must look like 08:00-20:00 (local times, 24-hour clock)"
            raise ValueError(msg)
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        if h2 == 24 and m2:
            raise ValueError("'active_hours' must end at 24:00 at the latest")
        start = datetime.time(h1, m1)
        end = datetime.time.max if h2 == 24 else datetime.time(h2, m2)
        if start == end:
            raise ValueError("'active_hours' must not start and end at the same time")
        return cls(start, end, zone(timezone), text.strip())

    def _local(self, moment: float) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(moment, self.zone)

    def contains(self, moment: float) -> bool:
        now = self._local(moment).time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_opening(self, moment: float) -> float:
        """When the window next opens after ``moment`` (epoch seconds)."""
        local = self._local(moment)
        for days in range(3):
            day = (local + datetime.timedelta(days=days)).date()
            opening = datetime.datetime.combine(day, self.start, self.zone)
            if opening.timestamp() > moment:
                return opening.timestamp()
        raise AssertionError("a daily window opens within two days")

    def closing(self, moment: float) -> float:
        """When the window that holds ``moment`` closes (epoch seconds)."""
        local = self._local(moment)
        for days in range(3):
            day = (local + datetime.timedelta(days=days)).date()
            if self.end == datetime.time.max:
                closes = datetime.datetime.combine(
                    day + datetime.timedelta(days=1), datetime.time(0), self.zone
                )
            else:
                closes = datetime.datetime.combine(day, self.end, self.zone)
            if closes.timestamp() > moment:
                return closes.timestamp()
        raise AssertionError("a daily window closes within two days")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone; ValueError naming the setting if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = "'timezone' must be an IANA time zone name such as UTC or Europe/Paris"
        raise ValueError(msg) from None


@dataclass(frozen=True)
class KindCap:
    """A daily cap on one kind of task, within the account's budget."""

    per_day: int
    setting: str  # how messages name it, e.g. "max_profile_fetches_per_day"


@dataclass(frozen=True)
class PacingRules:
    """The account's limits; None or 0 turns a limit off.

    ``kind_caps``: daily caps of their own for some kinds, by kind name; every create
    of such a kind still counts in the account's caps too.
    """

    per_hour: int | None = None
    per_day: int | None = None
    spacing_min: float = 0.0
    spacing_max: float = 0.0
    active_hours: ActiveHours | None = None
    kind_caps: t.Mapping[str, KindCap] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> PacingRules:
        hours = str(config.get("active_hours") or "").strip()
        return cls(
            per_hour=int(config.get("max_tasks_per_hour") or 0) or None,
            per_day=int(config.get("max_tasks_per_day") or 0) or None,
            spacing_min=float(config.get("task_spacing_min_seconds") or 0.0),
            spacing_max=float(config.get("task_spacing_max_seconds") or 0.0),
            active_hours=ActiveHours.parse(hours, str(config.get("timezone") or "UTC"))
            if hours
            else None,
        )

    def draw_gap(self, rng: random.Random) -> float:
        """The gap before the next create: uniform between the minimum and maximum."""
        high = max(self.spacing_min, self.spacing_max)
        return rng.uniform(self.spacing_min, high) if high > 0 else 0.0


def counted_at(moment: float, now: float, first_seen: float | None) -> float:
    """When a create counts as made, for pacing at ``now``.

    Its own time, unless that is in the future (the clock was set back, or another host's
    runs ahead): then when this run first saw it (``first_seen``; ``now`` at the first
    look). Taken as "now" at every look, such a create would never age, and an hourly
    cap would wait for the clock to catch up, hours on end.
    """
    if first_seen is not None:
        return min(moment, first_seen)
    return min(moment, now)


def seconds_until_allowed(
    times: t.Iterable[float], now: float, rules: PacingRules, gap: float
) -> float:
    """How long until one more create keeps within the caps and the gap; 0 if now.

    ``times`` are the creates that count (any order); future ones are taken as now.
    The wait is never longer than a cap's window or the gap.
    """
    moments = sorted(min(moment, now) for moment in times)
    waits = [
        cap_wait(moments, now, rules.per_hour, HOUR),
        cap_wait(moments, now, rules.per_day, DAY),
    ]
    if gap > 0 and moments:
        waits.append(moments[-1] + gap - now)
    return max(waits)


def cap_wait(times: t.Iterable[float], now: float, cap: int | None, window: float) -> float:
    """How long until fewer than ``cap`` of ``times`` fall in the last ``window``; 0 if
    now or if there is no cap. Future times are taken as now."""
    if not cap:
        return 0.0
    recent = sorted(m for m in (min(moment, now) for moment in times) if now - m < window)
    if len(recent) < cap:
        return 0.0
    # A slot frees when enough of the oldest creates leave the window.
    return recent[len(recent) - cap] + window - now


@dataclass(frozen=True)
class Reservation:
    """One create attempt, counted before it is sent; ``row`` is its ledger row."""

    row: int | None = None


class CreationLog(t.Protocol):
    """Where creation times are kept: the ledger, or STATE."""

    def locked(self) -> t.ContextManager[t.Any]: ...

    def creation_times(self, conn: t.Any, since: float) -> list[float]: ...

    def kind_creation_times(self, conn: t.Any, kind: str, since: float) -> list[float]: ...

    def record(self, conn: t.Any, *, kind: str, key: str, at: float) -> int | None: ...


def _to_text(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat()


def _from_text(text: object) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(text)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


class StateWindow:
    """Creation times kept in STATE (``task_window``), for when the ledger is off.

    Only runs that share this STATE see them. The list is updated in place, so the
    caller's STATE sees every create.
    """

    def __init__(self, window: list[str], keep: float = DAY) -> None:
        self.window = window
        self.keep = keep

    def locked(self) -> t.ContextManager[t.Any]:
        return contextlib.nullcontext()

    def creation_times(self, conn: t.Any, since: float) -> list[float]:
        moments = [m for m in map(_from_text, self.window) if m is not None]
        return [m for m in moments if m > since]

    def kind_creation_times(self, conn: t.Any, kind: str, since: float) -> list[float]:
        # STATE keeps no kinds: every create counts as one of the kind (the cautious
        # side). Kinds with caps of their own need the ledger anyway (profiles do).
        return self.creation_times(conn, since)

    def record(self, conn: t.Any, *, kind: str, key: str, at: float) -> int | None:
        kept = sorted(m for m in self.creation_times(None, at - self.keep))
        self.window[:] = [_to_text(m) for m in [*kept, at]]
        return None


class TaskPacer:
    """Decides when the next create may go, and counts it (one transaction).

    One per account: every kind of task the account's runs create shares it.

    Args:
        rules: the limits.
        log: where the creation times are kept (a TaskLedger or a StateWindow).
        clock: time and sleep.
        rng: draws the gaps (seeded in tests).
    """

    def __init__(
        self,
        rules: PacingRules,
        log: CreationLog,
        *,
        clock: Clock = REAL_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.rules = rules
        self.log = log
        self.clock = clock
        self.rng = rng or random.Random()
        self.gap = rules.draw_gap(self.rng)
        self.reserved = 0  # attempts this run counted
        self._first_seen: dict[float, float] = {}  # future creation times: see counted_at

    def close(self) -> None:
        """Release the log's connections, if it holds any."""
        close = getattr(self.log, "close", None)
        if close is not None:
            close()

    def counts(self) -> tuple[int, int]:
        """Creates that count in the last hour and the last day."""
        now = self.clock.now()
        with self.log.locked() as conn:
            times = self._counted(self.log.creation_times(conn, now - DAY), now)
        return sum(1 for m in times if now - m < HOUR), len(times)

    def kind_count(self, kind: str) -> int:
        """Creates of ``kind`` that count in the last day."""
        now = self.clock.now()
        with self.log.locked() as conn:
            return len(self._counted(self.log.kind_creation_times(conn, kind, now - DAY), now))

    def cap_note(self, kind: str | None = None) -> str | None:
        """Which cap holds the next create (of ``kind``) back, in words; None if only the
        spacing does."""
        rules = self.rules
        own = rules.kind_caps.get(kind or "")
        if own is not None and own.per_day and self.kind_count(str(kind)) >= own.per_day:
            return (
                f"{self.kind_count(str(kind))} {kind} tasks were created in the last 24 hours "
                f"({own.setting}={own.per_day})"
            )
        hour, day = self.counts()
        if rules.per_hour and hour >= rules.per_hour:
            return (
                f"{hour} tasks were created in the last hour (max_tasks_per_hour={rules.per_hour})"
            )
        if rules.per_day and day >= rules.per_day:
            return (
                f"{day} tasks were created in the last 24 hours (max_tasks_per_day={rules.per_day})"
            )
        return None

    def closed_until(self) -> float | None:
        """When active hours open again, if they are closed now; None if open."""
        hours = self.rules.active_hours
        now = self.clock.now()
        if hours is None or hours.contains(now):
            return None
        return hours.next_opening(now)

    def try_reserve(self, kind: str, key: str) -> tuple[float, Reservation | None]:
        """Count one create of this task now if the rules allow: (0, reservation), else
        (wait, None). ``kind`` and ``key`` are what the ledger keys the task by.

        Raises PacingStop outside active hours.
        """
        opens = self.closed_until()
        if opens is not None:
            raise PacingStop(f"outside active_hours {self._window_text()}; {_opens_text(opens)}")
        now = self.clock.now()
        with self.log.locked() as conn:
            wait = self._wait(conn, kind, now)
            if wait > 0:
                return wait, None
            row = self.log.record(conn, kind=kind, key=key, at=now)
        self.gap = self.rules.draw_gap(self.rng)
        self.reserved += 1
        return 0.0, Reservation(row)

    def wait_now(self, kind: str | None = None) -> float:
        """Seconds until one more create (of ``kind``) is allowed, active hours included;
        nothing is reserved (for a plan)."""
        now = self.clock.now()
        opens = self.closed_until()
        with self.log.locked() as conn:
            wait = self._wait(conn, kind, now)
        return max(wait, opens - now if opens is not None else 0.0)

    def _wait(self, conn: t.Any, kind: str | None, now: float) -> float:
        """How long the caps, the kind's own cap and the gap hold one more create back."""
        times = self._counted(self.log.creation_times(conn, now - DAY), now)
        wait = seconds_until_allowed(times, now, self.rules, self.gap)
        own = self.rules.kind_caps.get(kind or "")
        if own is not None and own.per_day:
            of_kind = self._counted(self.log.kind_creation_times(conn, str(kind), now - DAY), now)
            wait = max(wait, cap_wait(of_kind, now, own.per_day, DAY))
        return wait

    def check_wait(self, wait: float, kind: str | None = None) -> None:
        """PacingStop if a wait this long (for a task of ``kind``) should end the run
        rather than be slept."""
        now = self.clock.now()
        if wait > LONGEST_PACING_SLEEP:
            when = _utc_text(now + wait)
            note = self.cap_note(kind)
            raise PacingStop(
                f"the pacing budget allows the next task at {when}" + (f" ({note})" if note else "")
            )
        hours = self.rules.active_hours
        if hours is not None and not hours.contains(now + wait):
            opens = hours.next_opening(now + wait)
            raise PacingStop(
                f"active_hours {self._window_text()} end before the next task is allowed; "
                f"{_opens_text(opens)}"
            )

    def seconds_left(self, tasks: int) -> float:
        """Roughly how long ``tasks`` more creates take under the caps and spacing alone."""
        if tasks <= 0:
            return 0.0
        hour, day = self.counts()
        rules = self.rules
        seconds = (tasks - 1) * (rules.spacing_min + max(rules.spacing_min, rules.spacing_max)) / 2
        if rules.per_hour and tasks > rules.per_hour - hour:
            seconds = max(seconds, (tasks - max(0, rules.per_hour - hour)) / rules.per_hour * HOUR)
        if rules.per_day and tasks > rules.per_day - day:
            seconds = max(seconds, (tasks - max(0, rules.per_day - day)) / rules.per_day * DAY)
        return seconds

    def window_note(self, seconds: float) -> str:
        """For the time-left line: when active hours close before ``seconds`` from now."""
        hours = self.rules.active_hours
        now = self.clock.now()
        if hours is None or not hours.contains(now):
            return ""
        closes = hours.closing(now)
        if now + seconds <= closes:
            return ""
        return f"; active_hours close at {_utc_text(closes)}, the next run goes on from there"

    def _counted(self, times: t.Iterable[float], now: float) -> list[float]:
        """The creation times as pacing counts them (see counted_at)."""
        times = list(times)
        for moment in times:
            if moment > now:
                self._first_seen.setdefault(moment, now)
        return [counted_at(m, now, self._first_seen.get(m)) for m in times]

    def _window_text(self) -> str:
        hours = self.rules.active_hours
        return f"{hours.text} {hours.zone.key}" if hours else ""


def _utc_text(moment: float) -> str:
    when = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _opens_text(moment: float) -> str:
    return f"the window opens again at {_utc_text(moment)}"

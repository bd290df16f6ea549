"""Poll timing, pure: when to poll a task next and how long tasks take.

Nothing here reads a clock: the poller hands in the moments it saw, so the timing can
be tested with plain numbers.
"""

from __future__ import annotations

import statistics
import typing as t
from collections import deque
from dataclasses import dataclass

#: How many recent task durations the poll timing learns from.
RECENT_DURATIONS = 5
#: A task complete at its first poll is taken to have ended this far into the wait.
EARLIER_WHEN_DONE = 0.9
#: While a task waits queued behind the head, the head is polled at least every this
#: many poll_interval_min_seconds (see PollTiming.ceiling).
QUEUED_POLL_CEILING = 4


@dataclass
class PollSettings:
    """How tasks are waited for and how often they are re-submitted."""

    interval_min: float
    interval_max: float
    task_timeout: float
    max_attempts: int
    #: How long a task may stay pending (not picked up by the extension) before the run
    #: ends, keeping it for the next run. A pending task is never created again.
    pickup_timeout: float = 900.0

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> PollSettings:
        return cls(
            interval_min=float(config["poll_interval_min_seconds"]),
            interval_max=float(config["poll_interval_max_seconds"]),
            task_timeout=float(config["task_timeout_seconds"]),
            max_attempts=int(config["max_task_attempts"]),
            pickup_timeout=float(config["pickup_timeout_seconds"]),
        )


class Wait:
    """The tap's waiting on one task, in memory only (timings do not survive a run)."""

    def __init__(self, since: float, starts: float, first_poll: float) -> None:
        self.since = since  # when the tap began waiting: the timeout counts from here
        self.starts = starts  # when the extension could start it, as far as the tap knows
        self.next_poll = first_poll
        self.interval = 0.0
        self.last_status = "not yet polled"
        self.still_running_at: float | None = None  # the last poll that saw it running
        self.warned_unknown = False


class PollTiming:
    """Learns how long tasks take and times the polls from it."""

    def __init__(self, poll: PollSettings) -> None:
        self.poll = poll
        self._recent_durations: deque[float] = deque(maxlen=RECENT_DURATIONS)
        self._last_completion: float | None = None

    @property
    def duration_estimate(self) -> float | None:
        """How long a task takes once the extension can start it: the recent median.

        The median shrugs off the odd task that waited for an idle extension or ran
        slow; the first task's wait (which includes the pickup) is soon outvoted.
        """
        return statistics.median(self._recent_durations) if self._recent_durations else None

    def begin(self, now: float, created_at: float | None, *, queued: bool) -> Wait:
        """Start waiting for the head task at ``now``; ``queued``: a task waits behind it.

        The extension works one task at a time: this one starts once it exists and the
        one before it has completed. (A task created by an earlier run starts "now".)
        """
        created = now if created_at is None else created_at
        starts = max(created, self._last_completion or 0.0)
        estimate = self.duration_estimate
        first_poll = starts + estimate if estimate else now + self.poll.interval_min
        first_poll = min(first_poll, now + self.ceiling(queued=queued))
        return Wait(now, starts, max(first_poll, now))

    def still_running(self, wait: Wait, now: float, *, queued: bool) -> None:
        """A poll at ``now`` saw the task running: poll soon, then less often.

        A fast task is seen almost as soon as it completes, a slow one costs few polls.
        """
        wait.still_running_at = now
        doubled = self._clamp(wait.interval * 2 if wait.interval else 0.0)
        wait.interval = min(self.ceiling(queued=queued), doubled)
        wait.next_poll = now + wait.interval

    def ceiling(self, *, queued: bool) -> float:
        """The longest wait between two polls of the head task.

        With a task queued behind the head, the extension runs that one as soon as the
        head completes, and the next must be queued before it ends, or the extension
        goes idle (and an idle extension is slow to pick work up again). So the head is
        then polled at least every half task, and at least every few minimum intervals.
        """
        if not queued:
            return self.poll.interval_max
        ceiling = self.poll.interval_min * QUEUED_POLL_CEILING
        estimate = self.duration_estimate
        if estimate is not None:
            ceiling = min(ceiling, max(self.poll.interval_min, estimate / 2))
        return min(ceiling, self.poll.interval_max)

    def completed(self, wait: Wait, seen_at: float) -> None:
        """Learn how long tasks take, to time the next head's first poll.

        Polls only bound a completion: after the last poll that saw the task running
        and before the poll that saw it complete; the midpoint is the guess.
        """
        if wait.still_running_at is None:
            # Complete at the first poll: it ended some time before. Guess a little
            # earlier each time, so the estimate follows tasks that get quicker.
            done = wait.starts + (seen_at - wait.starts) * EARLIER_WHEN_DONE
        else:
            done = (max(wait.still_running_at, wait.starts) + seen_at) / 2
        self._recent_durations.append(done - wait.starts)
        self._last_completion = done

    def _clamp(self, seconds: float) -> float:
        return min(self.poll.interval_max, max(self.poll.interval_min, seconds))

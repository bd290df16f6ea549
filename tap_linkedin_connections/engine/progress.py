"""Progress lines: what a run has done so far and how long it has left.

Handed a snapshot of counts, never the pipeline itself.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from tap_linkedin_connections.client import Log


class Outlook(t.Protocol):
    """What pacing says about the time left (a TaskPacer)."""

    def seconds_left(self, tasks: int) -> float: ...

    def window_note(self, seconds: float) -> str: ...


@dataclass(frozen=True)
class Snapshot:
    """A run's counts at one moment."""

    pages: int
    records: int
    tasks_created: int
    polls: int
    waiting_for: str
    next_offset: int
    duration_estimate: float | None


class ProgressLog:
    """Logs a progress line every ``interval`` seconds of the run.

    Args:
        logger: where the lines go.
        interval: seconds between two lines.
        started: when the run began (the clock's monotonic time).
        stride: offsets between two regular pages.
        expected_total: connections the last pass found, for the time-left estimate.
        outlook: pacing's view of the time left.
    """

    def __init__(
        self,
        logger: Log,
        *,
        interval: float,
        started: float,
        stride: int,
        expected_total: int | None,
        outlook: Outlook,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.started = started
        self.stride = stride
        self.expected_total = int(expected_total) if expected_total is not None else None
        self.outlook = outlook
        self.next_due = started + interval

    def time_left(self, snapshot: Snapshot) -> str:
        estimate = snapshot.duration_estimate
        if self.expected_total is None or not estimate:
            return "unknown (no earlier pass to compare with)"
        pages_left = max(0, self.expected_total - snapshot.next_offset) // self.stride + 1
        # Caps and spacing may set the pace rather than the extension.
        seconds = max(pages_left * estimate, self.outlook.seconds_left(pages_left))
        left = f"about {seconds / 60:.0f} min ({pages_left} pages)"
        return left + self.outlook.window_note(seconds)

    def log(self, now: float, snapshot: Snapshot) -> None:
        self.next_due = now + self.interval
        self.logger.info(
            "Progress: %d pages, %d connections, %d tasks created, %d polls in %.0fs; "
            "waiting for %s; time left: %s",
            snapshot.pages,
            snapshot.records,
            snapshot.tasks_created,
            snapshot.polls,
            now - self.started,
            snapshot.waiting_for,
            self.time_left(snapshot),
        )

"""Progress lines: what a run has done so far and how long it has left.

Handed a snapshot of counts, never the runner or its owner: whoever reads through the
runner counts its results and records, and estimates the tasks left.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from tap_linkedin_connections.outx.client import Log


class Outlook(t.Protocol):
    """What pacing says about the time left (a TaskPacer)."""

    def seconds_left(self, tasks: int) -> float: ...

    def window_note(self, seconds: float) -> str: ...


@dataclass(frozen=True)
class Snapshot:
    """A run's counts at one moment."""

    results: int  # completed tasks handed out (pages)
    records: int
    tasks_created: int
    polls: int
    waiting_for: str
    tasks_left: int | None  # None: no estimate (nothing to compare with)
    duration_estimate: float | None


@dataclass(frozen=True)
class Nouns:
    """How the lines name results and records."""

    results: str = "pages"
    records: str = "connections"


class ProgressLog:
    """Logs a progress line every ``interval`` seconds of the run.

    Args:
        logger: where the lines go.
        interval: seconds between two lines.
        started: when the run began (the clock's monotonic time).
        outlook: pacing's view of the time left.
        nouns: how results and records are named.
    """

    def __init__(
        self,
        logger: Log,
        *,
        interval: float,
        started: float,
        outlook: Outlook,
        nouns: Nouns = Nouns(),  # frozen: one default for every instance is safe
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.started = started
        self.outlook = outlook
        self.nouns = nouns
        self.next_due = started + interval

    def time_left(self, snapshot: Snapshot) -> str:
        estimate = snapshot.duration_estimate
        left = snapshot.tasks_left
        if left is None or not estimate:
            return "unknown (no earlier pass to compare with)"
        # Caps and spacing may set the pace rather than the extension.
        seconds = max(left * estimate, self.outlook.seconds_left(left))
        text = f"about {seconds / 60:.0f} min ({left} {self.nouns.results})"
        return text + self.outlook.window_note(seconds)

    def log(self, now: float, snapshot: Snapshot) -> None:
        self.next_due = now + self.interval
        self.logger.info(
            "Progress: %d %s, %d %s, %d tasks created, %d polls in %.0fs; "
            "waiting for %s; time left: %s",
            snapshot.results,
            self.nouns.results,
            snapshot.records,
            self.nouns.records,
            snapshot.tasks_created,
            snapshot.polls,
            now - self.started,
            snapshot.waiting_for,
            self.time_left(snapshot),
        )

"""Time and sleep, handed in: the real clock for runs, a fake one for tests.

Pacing, spacing and active hours are all questions of time. Whoever asks them gets a
clock instead of calling ``time`` directly, so tests can run an hour of pacing in
milliseconds.
"""

from __future__ import annotations

import time
import typing as t


class Clock(t.Protocol):
    """What the tap asks of time."""

    def now(self) -> float:
        """Wall-clock time, seconds since the epoch (what the ledger stores)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never set back (what waits are timed by)."""

    def sleep(self, seconds: float) -> None:
        """Wait this long."""


class RealClock:
    """The system's clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that stands still until slept on: sleeping advances it at once.

    Args:
        start: the wall-clock time it starts at (seconds since the epoch).
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.moment = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.moment

    def monotonic(self) -> float:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Let time pass without anyone sleeping (other work, another process)."""
        self.moment += seconds


REAL_CLOCK = RealClock()

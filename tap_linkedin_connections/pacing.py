"""Pacing: never create more tasks in a rolling hour than the user allows.

Every task is a real action in the user's LinkedIn session, and LinkedIn restricts
accounts that burst. The creation times of the last hour's tasks live in STATE, so two
runs within one hour share the same budget.
"""

from __future__ import annotations

import datetime
import time

WINDOW_SECONDS = 3600.0


def _to_text(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat()


def _from_text(text: object) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


class TaskPacer:
    """A rolling one-hour window of task creation times.

    Args:
        max_per_hour: the most tasks created in any rolling hour; None or 0 means no
            limit (0 for Meltano, which cannot pass null).
        window: the creation times already spent, as ISO 8601 strings (from STATE);
            the list is updated in place, so the caller's STATE sees every new task.
    """

    def __init__(self, max_per_hour: int | None, window: list[str]) -> None:
        self.max_per_hour = max_per_hour or None
        self.window = window
        self._prune(time.time())

    def _prune(self, now: float) -> None:
        # A time in the future (clock skew, STATE moved between hosts) counts as now,
        # not as a slot taken until long after it.
        moments = [min(m, now) for m in map(_from_text, self.window) if m is not None]
        kept = sorted(m for m in moments if now - m < WINDOW_SECONDS)
        self.window[:] = [_to_text(m) for m in kept]

    def seconds_until_slot(self) -> float:
        """How long until one more task may be created; 0 if it may be now."""
        if self.max_per_hour is None:
            return 0.0
        now = time.time()
        self._prune(now)
        if len(self.window) < self.max_per_hour:
            return 0.0
        # The slot frees when enough of the oldest creations leave the window.
        freeing = _from_text(self.window[len(self.window) - self.max_per_hour]) or now
        return max(0.0, freeing + WINDOW_SECONDS - now)

    def record_task(self) -> None:
        """Count one created task."""
        self.window.append(_to_text(time.time()))

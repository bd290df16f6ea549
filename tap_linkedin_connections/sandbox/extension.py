"""The sandbox's simulated Chrome extension: the queue's tasks run one at a time, oldest
first, each read from the list as it is when the task completes (see server.Sandbox)."""

from __future__ import annotations

import random
import threading
import typing as t

from tap_linkedin_connections.sandbox.profiles import PROFILE_TASK_TYPE

if t.TYPE_CHECKING:
    from collections import deque

    from tap_linkedin_connections.sandbox.changes import Spoilers
    from tap_linkedin_connections.sandbox.data import ConnectionBook
    from tap_linkedin_connections.sandbox.profiles import ProfileDesk
    from tap_linkedin_connections.sandbox.server import Settings, Task


class ChromeExtension:
    """The extension's loop; the sandbox holds the queue, the list and the settings."""

    _cond: threading.Condition
    _stopping: threading.Event
    _queue: deque[Task]
    _settings: Settings
    _activated_at: float
    _jitter_rng: random.Random
    _book: ConnectionBook
    _spoilers: Spoilers
    profiles: ProfileDesk

    def _now(self) -> float:
        raise NotImplementedError

    def _run_extension(self) -> None:
        """Run queued tasks one at a time, oldest first, like OutX's Chrome extension."""
        just_finished = False
        with self._cond:
            while not self._stopping.is_set():
                if not self._queue or not self._settings.extension_active:
                    just_finished = False
                    self._cond.wait()
                    continue
                task = self._queue[0]
                if not just_finished:
                    # Idle, the extension notices new work only at its next queue check;
                    # right after a task it goes straight on to the next.
                    due = max(task.created_at, self._activated_at) + self._settings.pickup_delay
                    if self._now() < due:
                        self._cond.wait(due - self._now())
                        continue
                self._queue.popleft()
                self._work_on(task)
                just_finished = True

    def _work_on(self, task: Task) -> None:
        """Process one task, lock held (released while waiting)."""
        task.status = "processing"
        task.picked_up_at = self._now()
        settings = self._settings
        work_time = settings.work_time
        if settings.work_time_jitter:
            work_time *= 1 + settings.work_time_jitter * self._jitter_rng.uniform(-1, 1)
        if "task_slow" in task.faults:
            work_time *= settings.slow_factor
        done_at = task.picked_up_at + work_time
        while not self._stopping.is_set() and self._now() < done_at:
            self._cond.wait(done_at - self._now())
        if self._stopping.is_set():
            return
        task.completed_at = self._now()
        if "task_fail" in task.faults:
            task.status = "failed"
            return
        if task.input.get("task_type") == PROFILE_TASK_TYPE:
            task.status, task.output = self.profiles.fetch(
                task.input["profile_slug"], self._settings.profile_shape
            )
            return
        # The page is read at completion, from the list as it is now: connections added
        # or removed during a sync shift the offsets, as on LinkedIn.
        page = self._book.page(
            task.input.get("sort_type"),
            task.input.get("keyword"),
            task.input["start"],
            task.input["count"],
        )
        page = self._spoilers.spoil(task.input["start"], page)
        if self._settings.result_shape == "object":
            task.output = {"connections": page, "total": len(page)}
        else:
            task.output = page
        task.status = "completed"

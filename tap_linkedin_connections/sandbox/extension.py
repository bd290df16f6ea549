"""The sandbox's simulated Chrome extension: the queue's tasks run one at a time, oldest
first, each read from the list as it is when the task completes (see server.Sandbox)."""

from __future__ import annotations

import random
import threading
import typing as t
from dataclasses import dataclass
from typing import Any

from tap_linkedin_connections.sandbox.profiles import PROFILE_TASK_TYPE

if t.TYPE_CHECKING:
    from collections import deque

    from tap_linkedin_connections.sandbox.changes import Spoilers
    from tap_linkedin_connections.sandbox.data import ConnectionBook
    from tap_linkedin_connections.sandbox.profiles import ProfileDesk


class ExtensionSettings(t.Protocol):
    """The sandbox settings the extension reads (server.Settings has them)."""

    extension_active: bool
    pickup_delay: float
    work_time: float
    work_time_jitter: float
    slow_factor: float
    profile_shape: str
    result_shape: str


@dataclass
class Task:
    """A task as the sandbox keeps it: its input, faults, status and times."""

    id: str
    input: dict[str, Any]
    created_at: float
    created_wall: float
    faults: list[str]
    status: str = "pending"
    output: Any = None
    picked_up_at: float | None = None
    completed_at: float | None = None
    polls: int = 0
    forgotten: bool = False

    @property
    def work_time(self) -> float | None:
        if self.picked_up_at is None or self.completed_at is None:
            return None
        return self.completed_at - self.picked_up_at

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input": dict(self.input),
            "status": self.status,
            "created_at": self.created_at,
            "created_wall": self.created_wall,
            "picked_up_at": self.picked_up_at,
            "completed_at": self.completed_at,
            "work_time": self.work_time,
            "polls": self.polls,
            "faults": list(self.faults),
            "forgotten": self.forgotten,
        }


class ChromeExtension:
    """The extension's loop; the sandbox holds the queue, the list and the settings."""

    _cond: threading.Condition
    _stopping: threading.Event
    _queue: deque[Task]
    _settings: ExtensionSettings
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

"""A scripted OutX on a fake clock: the extension in process, an hour in milliseconds.

The fake extension runs tasks one at a time, as the real one does: a task starts once
it exists and the one before it has ended, and takes ``duration`` seconds.
"""

from __future__ import annotations

import typing as t

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.outx.client import TaskNotFound
from tap_linkedin_connections.outx.kinds import TaskAnswer, status_of


class FakeOutX:
    """Answers create and poll from a script, on the fake clock.

    Args:
        clock: the fake clock.
        total: connections in the list.
        script: how each created task behaves, in creation order ("ok", "failed",
            "404", "cancelled": an unknown status, "stall": running for ever,
            "slow": ``slow`` seconds long, "lost": pending for ever while the
            extension goes on with the tasks behind it);
            tasks beyond the script are "ok".
        duration: how long an ordinary task runs.
        asleep: the extension picks nothing up.
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        total: int,
        script: t.Sequence[str] = (),
        duration: float = 30.0,
        slow: float = 400.0,
        asleep: bool = False,
    ) -> None:
        self.clock = clock
        self.total = total
        self.script = list(script)
        self.duration = duration
        self.slow = slow
        self.asleep = asleep
        self.tasks: dict[str, dict[str, t.Any]] = {}
        self.polls: dict[str, list[float]] = {}
        self.on_create: t.Callable[[], None] = lambda: None
        self._free_at = 0.0  # when the extension finishes its queue

    def create_task(
        self,
        path: str,
        body: dict[str, t.Any],
        before_retry: t.Callable[[bool], None] | None = None,
    ) -> str:
        self.on_create()
        task_id = f"t{len(self.tasks) + 1}"
        kind = self.script.pop(0) if self.script else "ok"
        now = self.clock.monotonic()
        starts = float("inf") if self.asleep or kind == "lost" else max(now, self._free_at)
        runs = {"slow": self.slow, "stall": float("inf")}.get(kind, self.duration)
        # A stalled task's replacement is not held up here; a lost one holds nothing up.
        if kind not in ("stall", "lost"):
            self._free_at = starts + runs
        self.tasks[task_id] = {
            "path": path,
            "body": body,
            "kind": kind,
            "created": now,
            "starts": starts,
            "ends": starts + runs,
        }
        return task_id

    def task_status(self, task_id: str) -> TaskAnswer:
        now = self.clock.monotonic()
        self.polls.setdefault(task_id, []).append(now)
        task = self.tasks[task_id]
        if task["kind"] == "404":
            raise TaskNotFound("HTTP 404")
        if now < task["starts"]:
            return answer("pending")
        if now < task["ends"]:
            return answer("processing")
        if task["kind"] in ("failed", "cancelled"):
            return answer(task["kind"])
        if "profile_slug" in task["body"]:  # the stub kind of tests/unit/test_engine.py
            return answer("completed", {"profile": {"slug": task["body"]["profile_slug"]}})
        start, count = task["body"]["start"], task["body"]["count"]
        page = [{"entity_urn": f"urn:li:fsd_profile:P{n}"} for n in range(start, self.total)]
        return answer("completed", page[:count])

    def adopt(self, task_id: str, body: dict[str, t.Any], *, kind: str = "ok") -> None:
        """A task an earlier run created (its id in STATE or the ledger), queued now."""
        now = self.clock.monotonic()
        starts = float("inf") if self.asleep or kind == "lost" else max(now, self._free_at)
        if kind != "lost":
            self._free_at = starts + self.duration
        self.tasks[task_id] = {
            "path": "/linkedin-agent/fetch-connections",
            "body": body,
            "kind": kind,
            "created": now,
            "starts": starts,
            "ends": starts + self.duration,
        }

    def wake(self) -> None:
        """The extension wakes up: the queue runs from now, oldest first."""
        self.asleep = False
        self._free_at = self.clock.monotonic()
        for task in self.tasks.values():
            if task["starts"] == float("inf") and task["kind"] != "lost":
                task["starts"] = self._free_at
                task["ends"] = task["starts"] + self.duration
                self._free_at = task["ends"]


def answer(said: str, output: t.Any = None) -> TaskAnswer:
    """OutX's answer as the client reads it."""
    return TaskAnswer(status_of(said), said, output)

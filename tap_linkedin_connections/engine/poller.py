"""Waiting for one task: polled until it completes, or until it must be created again.

The head task (the one whose result is needed next) is polled on the timing that
``timing.py`` learns. While it is not picked up, the tasks queued after it are polled
too (one per head poll; polls cost no LinkedIn action): a later task picked up while
the head stays pending shows that OutX lost the head (see ``queue.py``).
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.engine.ledger import Outcome
from tap_linkedin_connections.engine.queue import PICKED_UP, QueueVerdict, Sighting, queue_verdict
from tap_linkedin_connections.engine.timing import PollSettings, PollTiming, Wait
from tap_linkedin_connections.outx.client import Log, TaskNotFound
from tap_linkedin_connections.outx.kinds import TaskAnswer, TaskStatus

if t.TYPE_CHECKING:
    from tap_linkedin_connections.clock import Clock


class _SlotKeys(t.TypedDict):
    id: str | None  # None: the task is still to be created
    attempt: int  # tasks created for the slot in this run
    ids: list[str]  # every task created for the slot


class TaskSlot(_SlotKeys, total=False):
    """One task's place in STATE, as the engine keeps it (its owner may add keys)."""

    timed_out: list[str]  # earlier tasks of the slot that timed out, still awaited
    not_found: int  # 404s so far


class TaskClient(t.Protocol):
    """What the engine asks of OutX (an OutXClient)."""

    def create_task(
        self,
        path: str,
        body: dict[str, t.Any],
        before_retry: t.Callable[[bool], None] | None = None,
    ) -> str: ...

    def task_status(self, task_id: str) -> TaskAnswer: ...


class LaterTasks(t.Protocol):
    """What the ledger knows of the queue (a TaskLedger)."""

    def queued_after(self, task_id: str) -> list[tuple[str, Outcome]]: ...


class Why(enum.Enum):
    """Why a task is re-submitted; the value is how the log says it."""

    FAILED = "failed"
    NOT_FOUND = "is unknown to OutX (HTTP 404)"
    #: It stays a candidate: see Poller._poll_timed_out.
    TIMED_OUT = "timed out"
    #: Overtaken in OutX's queue while pending (see queue.py).
    LOST = "was lost by OutX"


@dataclass(frozen=True)
class Resubmit:
    """A task that must be created again, and why."""

    why: Why
    detail: str = ""  # e.g. "after 300s (last status: processing)"
    #: A failed task's output, for a kind that reads failures (TaskKind.read_failed).
    output: t.Any = None

    def __str__(self) -> str:
        return f"{self.why.value} {self.detail}" if self.detail else self.why.value


@dataclass(frozen=True)
class Done:
    """A completed task's output, not read yet."""

    task_id: str
    output: t.Any


class ExtensionAsleep(Exception):
    """The extension has picked up no task for too long: the run ends, tasks kept."""


@dataclass
class Head:
    """The task waited for, as the poller needs it.

    Args:
        slot: its place in STATE.
        what: how messages name it ("offset 40").
        later: the ids of tasks this run queued after it, oldest first.
        queued: whether a task waits behind it (polls come sooner).
        spare: creates a task its owner needs anyway, to learn whether the head is
            lost when nothing is queued after it; True if it did.
    """

    slot: TaskSlot
    what: str
    later: t.Callable[[], list[str]]
    queued: t.Callable[[], bool]
    spare: t.Callable[[], bool]


class Poller:
    """Polls head tasks; counts polls; knows when the extension last showed it works."""

    def __init__(
        self,
        client: TaskClient,
        *,
        poll: PollSettings,
        ledger: LaterTasks | None,
        clock: Clock,
        sleep: t.Callable[[float], None],
        logger: Log,
    ) -> None:
        self.client = client
        self.poll = poll
        self.ledger = ledger
        self.clock = clock
        self.sleep = sleep
        self.logger = logger
        self.timing = PollTiming(poll)
        self.polls = 0
        self.waiting_for = "nothing"
        self.pickup_seen_at = clock.monotonic()  # the last poll that saw the extension work

    def await_head(self, head: Head, created_at: float | None) -> Done | Resubmit:
        """Poll the head until it completes (Done) or must be re-submitted.

        Raises ExtensionAsleep once nothing was picked up for the pickup timeout.
        """
        task_id = str(head.slot["id"])
        # The wait (and its timeout) count from now, when the tap turns to it.
        wait = self.timing.begin(self.clock.monotonic(), created_at, queued=head.queued())
        self.waiting_for = f"the task for {head.what}"
        deadline = wait.since + self.poll.task_timeout
        queue = QueueWatch(self, task_id)
        while True:
            self.sleep(max(0.0, min(wait.next_poll, deadline) - self.clock.monotonic()))
            candidate = self._poll_timed_out(head.slot)
            if candidate is not None:
                return self._done(wait, candidate)
            if queue.head_pending:
                queue.learn(head.later())
                queue.ask_one()
            try:
                answer = self.ask(task_id)
            except TaskNotFound:
                return Resubmit(Why.NOT_FOUND)
            outcome = self._read(head, wait, queue, answer)
            if outcome is not None:
                return outcome
            if answer.status is TaskStatus.PENDING:
                deadline = self._still_pending(head, wait, queue)
            now = self.clock.monotonic()
            if now >= deadline:
                # Decided on a poll made after the deadline, so time lost to retrying
                # failed polls never condemns a task that has in fact completed.
                detail = f"after {self.poll.task_timeout:g}s ({wait.last_status})"
                return Resubmit(Why.TIMED_OUT, detail)
            self.timing.still_running(wait, now, queued=head.queued())

    def ask(self, task_id: str) -> TaskAnswer:
        """One status poll (free: no LinkedIn action)."""
        answer = self.client.task_status(task_id)
        self.polls += 1
        return answer

    def _read(
        self, head: Head, wait: Wait, queue: QueueWatch, answer: TaskAnswer
    ) -> Done | Resubmit | None:
        """What one answer of the head means; None: keep waiting."""
        wait.last_status = f"last status: {answer.said}"
        verdict = queue.verdict(Sighting(answer.status, self.clock.monotonic()))
        if verdict is QueueVerdict.OVERTAKEN:
            return Resubmit(Why.LOST, queue.evidence())
        if verdict is QueueVerdict.PICKED_UP:
            self.pickup_seen_at = self.clock.monotonic()
        if answer.status is TaskStatus.COMPLETED:
            return self._done(wait, Done(str(head.slot["id"]), answer.output))
        if answer.status is TaskStatus.FAILED:
            return Resubmit(Why.FAILED, output=answer.output)
        if answer.status is TaskStatus.UNKNOWN and not wait.warned_unknown:
            wait.warned_unknown = True  # once per task: the poll repeats it often
            # Not success: keep waiting in case it is a new in-between state; the
            # timeout re-submits the task if it never completes.
            self.logger.warning(
                "The task for %s has the unknown status %r; still waiting", head.what, answer.said
            )
        return None

    def _still_pending(self, head: Head, wait: Wait, queue: QueueWatch) -> float:
        """The head is not picked up yet: its new deadline, or ExtensionAsleep.

        A copy would wait in the same queue, so a pending task is created again only
        once the queue shows it lost. The timeout counts from its pickup. With nothing
        queued after it for long, the owner may queue a task it needs anyway (spare):
        that one, picked up or not, tells a lost head from a sleeping extension.
        """
        now = self.clock.monotonic()
        idle = now - max(wait.since, self.pickup_seen_at)
        if idle >= self.poll.pickup_timeout:
            waited = f"{idle / 60:.0f} minutes" if idle >= 120 else f"{idle:.0f} seconds"
            msg = (
                f"the extension has not picked up a task for "
                f"{waited}: is Chrome open on the team's oldest "
                f"admin's account? (task {head.slot['id']} for {head.what} "
                "is kept for the next run)"
            )
            raise ExtensionAsleep(msg)
        spare_after = min(self.poll.task_timeout, self.poll.pickup_timeout / 2)
        if queue.unprovable and idle >= spare_after and head.spare():
            queue.learn(head.later())
        return now + self.poll.task_timeout

    def _poll_timed_out(self, slot: TaskSlot) -> Done | None:
        """Poll the slot's tasks that timed out; the first found completed.

        A timed-out task may still be running (the extension works one task at a time,
        so its replacement waits behind it). Its result is as good as the replacement's,
        and usually ready sooner.
        """
        for task_id in list(slot.get("timed_out", [])):
            try:
                answer: TaskAnswer | None = self.ask(task_id)
            except TaskNotFound:
                answer = None
            if answer is not None and answer.status is TaskStatus.COMPLETED:
                return Done(task_id, answer.output)
            if answer is None or answer.status is TaskStatus.FAILED:
                slot["timed_out"].remove(task_id)
        return None

    def _done(self, wait: Wait, done: Done) -> Done:
        self.timing.completed(wait, self.clock.monotonic())
        return done


class QueueWatch:
    """What is known of the tasks queued after one head task, asked one at a time."""

    def __init__(self, poller: Poller, head_id: str) -> None:
        self.poller = poller
        self.head_id = head_id
        self.head_pending = False
        self.unprovable = False
        self.sightings: dict[str, Sighting | None] = {}  # by task id, in queue order
        self._asked = 0

    def learn(self, in_run: list[str]) -> None:
        """Add the later tasks: ``in_run`` (this run's, oldest first), the ledger's."""
        now = self.poller.clock.monotonic()
        ledger = self.poller.ledger
        for task_id, outcome in ledger.queued_after(self.head_id) if ledger else []:
            # A result someone read shows the extension took the task.
            seen = Sighting(TaskStatus.COMPLETED, now) if outcome is Outcome.COMPLETED else None
            if self.sightings.get(task_id) is None:
                self.sightings[task_id] = seen
        for task_id in in_run:
            self.sightings.setdefault(task_id, None)

    def ask_one(self) -> None:
        """Poll one later task that may still show the queue moving."""
        open_ids = [
            task_id
            for task_id, seen in self.sightings.items()
            if seen is None or seen.status is TaskStatus.PENDING
        ]
        if not open_ids:
            return
        task_id = open_ids[self._asked % len(open_ids)]  # round robin: one may be lost too
        self._asked += 1
        try:
            answer = self.poller.ask(task_id)
        except TaskNotFound:
            del self.sightings[task_id]
            return
        self.sightings[task_id] = Sighting(answer.status, self.poller.clock.monotonic())

    def verdict(self, head: Sighting) -> QueueVerdict:
        verdict = queue_verdict(head, list(self.sightings.values()))
        self.head_pending = head.status is TaskStatus.PENDING
        self.unprovable = verdict is QueueVerdict.UNPROVABLE
        return verdict

    def evidence(self) -> str:
        """Which later task shows the head lost, for the log."""
        picked = [i for i, s in self.sightings.items() if s is not None and s.status in PICKED_UP]
        return f"(task {picked[0]}, queued after it, was picked up while it stayed pending)"

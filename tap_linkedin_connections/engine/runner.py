"""One OutX task's life, for any kind: reuse, reserve, create, poll, re-submit.

A :class:`TaskRunner` takes a task kind (outx/kinds.py) and, for each task its owner
needs, a *key* and a *slot* (the task's place in the owner's STATE, see
``poller.TaskSlot``). It knows nothing of what the tasks fetch. For each task:

- **reuse**: a task of the same kind and key found in the ledger (created by a run
  whose STATE was lost, or by a run beside this one) is polled instead of created;
- **reserve**: every create is counted in the account's budget before it is sent
  (``pacing.py``), a retry after a lost answer included;
- **create**: the task id reaches the slot, and STATE (``saved``), before anything else
  happens to it, the ledger's update included: a run interrupted from there on polls it
  again instead of paying for it twice;
- **poll** (``poller.py``) until it completes, and **re-submit** a task that failed, that
  OutX does not know, that timed out or that OutX lost (overtaken in the queue), up to
  ``max_attempts`` per run; a kind that reads failures (``TaskKind.read_failed``) gets
  a failed task's output as its answer instead, and is not created again. A task never
  picked up ends the run (the pickup timeout): a copy would wait in the same queue.

Every task is a LinkedIn action: created only when needed, never faster than pacing
allows, never twice for one key while one is pending.
"""

from __future__ import annotations

import datetime
import enum
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.clock import REAL_CLOCK, Clock
from tap_linkedin_connections.engine.ledger import Outcome, TaskLedger, key_text
from tap_linkedin_connections.engine.pacing import PacingStop, Reservation, TaskPacer
from tap_linkedin_connections.engine.poller import (
    Done,
    ExtensionAsleep,
    Head,
    Poller,
    Resubmit,
    TaskClient,
    TaskSlot,
    Why,
)
from tap_linkedin_connections.outx.client import Log, MalformedPage, TaskGaveUp
from tap_linkedin_connections.outx.kinds import TaskKind, UnreadableOutput

if t.TYPE_CHECKING:
    from tap_linkedin_connections.engine.timing import PollSettings

Key = t.TypeVar("Key")
Output = t.TypeVar("Output")

#: What the task ledger records for a task given up on.
LEDGER_OUTCOME = {
    Why.FAILED: Outcome.FAILED,
    Why.NOT_FOUND: Outcome.NOT_FOUND,
    Why.TIMED_OUT: Outcome.STALLED,
    Why.LOST: Outcome.LOST,
}


class StopCause(enum.Enum):
    """Why a run creates no more tasks."""

    PACING = "pacing"  # a cap, the spacing or active hours: the next run goes on
    EXTENSION_ASLEEP = "extension asleep"  # nothing picked up: tasks kept for the next run


@dataclass(frozen=True)
class Stop:
    """Why this run creates no more tasks; its text is what the log says."""

    cause: StopCause
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Completed(t.Generic[Output]):
    """A task's result, read by its kind."""

    task_id: str
    result: Output


@dataclass(frozen=True)
class Queue:
    """What the owner says about a head task and the tasks around it.

    Attributes:
        behind: the owner's other slots in flight, in order.
        spare: creates a task the owner needs anyway (see poller.Head); True if it did.
        reuse: whether a replacement may be a task found in the ledger.
    """

    behind: t.Callable[[], t.Sequence[TaskSlot]]
    spare: t.Callable[[], bool] = lambda: False
    reuse: bool = True


def read_result(kind: TaskKind[Key, Output], key: Key, task_id: str, output: t.Any) -> Output:
    """A completed task's output as its kind reads it; MalformedPage (one line) if it cannot."""
    try:
        return kind.read(output)
    except UnreadableOutput as exc:
        msg = f"the result for {kind.describe(key)} (task {task_id}): {exc}"
        raise MalformedPage(msg) from None


class TaskRunner(t.Generic[Key, Output]):
    """Runs one kind's tasks for one account and one reader (a pass).

    Args:
        client: the OutX client.
        kind: the kind of every task it runs.
        pacer: the account's budget, shared by every kind.
        ledger: the task ledger, or None when it is off.
        poll: polling and re-submission settings.
        budget: the most tasks this run may create; None for no limit.
        reader: who reads the results (a pass): the ledger marks its tasks by it.
        saved: writes the owner's STATE; called whenever a slot changed.
        sleep: sleeps (the owner's, which logs progress lines).
        logger: where waits, re-submissions and re-reads are reported.
        clock: time.
    """

    def __init__(
        self,
        client: TaskClient,
        kind: TaskKind[Key, Output],
        *,
        pacer: TaskPacer,
        ledger: TaskLedger | None,
        poll: PollSettings,
        budget: int | None,
        reader: str,
        saved: t.Callable[[], None],
        sleep: t.Callable[[float], None],
        logger: Log,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.client = client
        self.kind = kind
        self.pacer = pacer
        self.ledger = ledger
        self.poll = poll
        self.budget = budget
        self.reader = reader
        self.saved = saved
        self.logger = logger
        self.clock = clock
        self.poller = Poller(
            client, poll=poll, ledger=ledger, clock=clock, sleep=sleep, logger=logger
        )
        self.tasks_created = 0
        self.tasks_reused = 0  # found in the ledger and polled instead of created
        self.tasks_lost = 0  # lost by OutX (overtaken in its queue) and created again
        #: Why this run creates no more tasks; None while it may.
        self.stop: Stop | None = None
        self._read_ids: set[str] = set()  # tasks whose result this run handed out
        self._created_at: dict[str, float] = {}  # until the task is first awaited
        # Queue order, as far as this run knows it: creates are numbered as they are
        # sent; a task queued by this run after another's id was in hand stands behind it.
        self._sent = 0
        self._sent_no: dict[str, int] = {}
        self._known_no: dict[str, int] = {}

    @property
    def polls(self) -> int:
        return self.poller.polls

    @property
    def waiting_for(self) -> str:
        return self.poller.waiting_for

    # Creating

    def prepare(self, slot: TaskSlot, key: Key, *, block: bool, reuse: bool = True) -> bool:
        """Give the slot a task: one from the ledger (if ``reuse``) or a new one.

        False if not now: the run's budget is spent, pacing says wait (and ``block`` is
        False) or the run stopped creating (``stop``; PacingStop is taken here).
        """
        if self.stop is not None:
            return False
        if self.budget is not None and self.tasks_created >= self.budget:
            return False
        if reuse and self._reuse(slot, key):
            return True
        try:
            return self._create(slot, key, block=block)
        except PacingStop as stop:
            self.stop = Stop(StopCause.PACING, str(stop))
            return False

    def _reuse(self, slot: TaskSlot, key: Key) -> bool:
        if self.ledger is None:
            return False
        reused = self.ledger.reusable_task(
            self.kind.name,
            self._key_text(key),
            exclude={*slot.get("ids", []), *self._read_ids},
        )
        if reused is None:
            return False
        # Created by a run whose STATE was lost (a killed pipeline) or by a run beside
        # this one: polling it costs no LinkedIn action.
        self.logger.info(
            "Polling task %s for %s, found in the task ledger, instead of creating one",
            reused,
            self.kind.describe(key),
        )
        self.tasks_reused += 1
        self._task_in_hand(slot, reused)
        return True

    def _create(self, slot: TaskSlot, key: Key, *, block: bool) -> bool:
        """Reserve and create the slot's task; False if pacing says not now."""
        text = self._key_text(key)
        first = self._reserve(text, block=block)
        if first is None:
            return False
        reservation = first

        def before_retry(may_have_queued: bool) -> None:
            # Each attempt is counted before it is sent: a lost answer may have queued
            # a task, and that LinkedIn action counts whatever the answer.
            nonlocal reservation
            if not may_have_queued and self.ledger is not None and reservation.row is not None:
                self.ledger.not_queued(reservation.row)
            reservation = t.cast("Reservation", self._reserve(text, block=True))

        self._sent += 1
        sent_no = self._sent
        task_id = self.client.create_task(self.kind.path, self.kind.body(key), before_retry)
        self._created_at[task_id] = self.clock.monotonic()
        self._sent_no[task_id] = sent_no
        self.tasks_created += 1
        # STATE first: whatever the ledger does next, a rerun polls this task.
        self._task_in_hand(slot, task_id)
        if self.ledger is not None and reservation.row is not None:
            self.ledger.answered(reservation.row, task_id)
        return True

    def _task_in_hand(self, slot: TaskSlot, task_id: str) -> None:
        slot["id"] = task_id
        slot["attempt"] += 1
        slot["ids"] = [*slot.get("ids", []), task_id]
        self._known_no.setdefault(task_id, self._sent)
        # The id reaches STATE before the first poll: a run interrupted from here on
        # polls this task again instead of creating (and paying for) another.
        self.saved()

    def _reserve(self, key: str, *, block: bool) -> Reservation | None:
        """Count one create in the account's budget, waiting for it if ``block``.

        None if not now and not blocking; PacingStop if the run should end instead.
        """
        while True:
            wait, reservation = self.pacer.try_reserve(self.kind.name, key)
            if reservation is not None:
                return reservation
            if not block:
                return None
            self.pacer.check_wait(wait, self.kind.name)
            self._wait_for_pacing(wait)

    def _wait_for_pacing(self, seconds: float) -> None:
        cap = self.pacer.cap_note(self.kind.name)
        if cap is None:
            # The gap between two creates: expected, not worth a warning.
            self.poller.waiting_for = f"the task spacing ({seconds:.0f}s)"
            self.poller.sleep(seconds)
            return
        until = datetime.datetime.fromtimestamp(
            self.clock.now() + seconds, tz=datetime.timezone.utc
        )
        self.logger.warning(
            "Pacing: %s; waiting %.1fs, until %s, before the next one",
            cap,
            seconds,
            until.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        self.poller.waiting_for = f"pacing until {until:%H:%M:%S} UTC"
        self.poller.sleep(seconds)

    # Waiting

    def wait(self, slot: TaskSlot, key: Key, queue: Queue) -> Completed[Output] | None:
        """The slot's result, re-submitting its task as needed; None once the run stops.

        After a stop, a task in flight is still awaited, but not created again.
        """
        while slot["id"] is not None:
            head = self._head(slot, key, queue)
            try:
                outcome = self.poller.await_head(head, self._created_at.pop(str(slot["id"]), None))
            except ExtensionAsleep as asleep:
                self.stop = Stop(StopCause.EXTENSION_ASLEEP, str(asleep))
                return None
            if isinstance(outcome, Done):
                return self._completed(key, outcome)
            if outcome.why is Why.FAILED and self.kind.read_failed is not None:
                return self._failed(key, str(slot["id"]), outcome.output)
            if self.stop is not None:
                return None
            self._resubmit(slot, key, outcome)
            self.prepare(slot, key, block=True, reuse=queue.reuse)
        return None

    def pass_ended(self) -> None:
        """The reader's pass ended: the tasks it read are not re-read by later passes."""
        if self.ledger is not None:
            self.ledger.pass_ended(self.reader)

    def _head(self, slot: TaskSlot, key: Key, queue: Queue) -> Head:
        head_no = self._known_no.get(str(slot["id"]), 0)

        def later() -> list[str]:
            ids = [str(s["id"]) for s in queue.behind() if s["id"] is not None]
            return [i for i in ids if self._sent_no.get(i, 0) > head_no]

        return Head(
            slot,
            self.kind.describe(key),
            later=later,
            queued=lambda: bool(queue.behind()),
            spare=lambda: self.stop is None and queue.spare(),
        )

    def _completed(self, key: Key, done: Done) -> Completed[Output]:
        result = read_result(self.kind, key, done.task_id, done.output)
        self._read_ids.add(done.task_id)
        if self.ledger is not None:
            self.ledger.read(done.task_id, self.reader)
        return Completed(done.task_id, result)

    def _failed(self, key: Key, task_id: str, output: t.Any) -> Completed[Output]:
        """A failed task of a kind whose failures are answers: read, never created again."""
        read_failed = t.cast("t.Callable[[t.Any], Output]", self.kind.read_failed)
        self._read_ids.add(task_id)
        if self.ledger is not None:
            self.ledger.task_outcome(task_id, Outcome.FAILED)
        self.logger.info("The task for %s failed (task %s)", self.kind.describe(key), task_id)
        return Completed(task_id, read_failed(output))

    def _resubmit(self, slot: TaskSlot, key: Key, reason: Resubmit) -> None:
        """Give a failed, unknown, timed-out or lost task up, or the slot after its last attempt."""
        what = self.kind.describe(key)
        if self.ledger is not None:
            # So that no later run polls it for its result.
            self.ledger.task_outcome(str(slot["id"]), LEDGER_OUTCOME[reason.why])
        if reason.why is Why.NOT_FOUND:
            slot["not_found"] = int(slot.get("not_found", 0)) + 1
            if slot["not_found"] > 1:
                # Once may be an old task OutX has dropped; twice is not transient.
                msg = (
                    f"OutX lost the task for {what} twice "
                    f"(tasks {', '.join(slot['ids'])}): it answers 404 for tasks it created"
                )
                raise TaskGaveUp(msg)
        if slot["attempt"] >= self.poll.max_attempts:
            msg = (
                f"the task for {what} {reason} on all {slot['attempt']} attempts "
                f"(tasks {', '.join(slot['ids'])}); see the extension's state in OutX, "
                "or raise max_task_attempts"
            )
            raise TaskGaveUp(msg)
        if reason.why is Why.TIMED_OUT:
            slot.setdefault("timed_out", []).append(str(slot["id"]))
        if reason.why is Why.LOST:
            self.tasks_lost += 1
        self.logger.warning(
            "The task for %s %s (attempt %d of %d, task %s); submitting it again",
            what,
            reason,
            slot["attempt"],
            self.poll.max_attempts,
            slot["id"],
        )
        slot["id"] = None

    def _key_text(self, key: Key) -> str:
        return key_text(self.kind.key_fields(key))

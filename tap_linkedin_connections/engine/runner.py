"""The tasks in flight for one account: created, polled, re-submitted, handed out in order.

Two clocks rule here. The Chrome extension works one task at a time, so while one
page's task runs the next one is already queued (``lookahead`` tasks in flight) and the
extension never waits for the tap. And every task is a LinkedIn action, so tasks are
created only when needed, never faster than the pacer allows, and each one is written to
STATE (through ``checkpoint``) before it is polled, so an interrupted run polls it again
instead of paying for it twice.
"""

from __future__ import annotations

import datetime
import enum
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.client import (
    RUNNING_STATUSES,
    Log,
    MalformedPage,
    TaskGaveUp,
    TaskNotFound,
    TaskStatus,
    connections_in,
)
from tap_linkedin_connections.clock import REAL_CLOCK, Clock
from tap_linkedin_connections.ledger import COMPLETED, FAILED, NOT_FOUND, STALLED
from tap_linkedin_connections.pacing import PacingStop, Reservation, TaskPacer
from tap_linkedin_connections.passes import PassState, TaskEntry, stride_for
from tap_linkedin_connections.tasks.progress import ProgressLog, Snapshot
from tap_linkedin_connections.tasks.timing import PollSettings, PollTiming, Wait


class TaskClient(t.Protocol):
    """What the pipeline asks of OutX (an OutXClient)."""

    def create_task(
        self, body: dict[str, t.Any], before_retry: t.Callable[[bool], None] | None = None
    ) -> str: ...

    def task_status(self, task_id: str) -> TaskStatus: ...


@dataclass
class Page:
    """A completed task's connections, at its offset."""

    offset: int
    connections: list[t.Any]
    task_id: str
    bridge: bool = False  # re-read to close a gap (see passes.py), not a regular page


class Why(enum.Enum):
    """Why a task is re-submitted; the value is how the log says it."""

    FAILED = "failed"
    NOT_FOUND = "is unknown to OutX (HTTP 404)"
    #: It stays a candidate: see TaskPipeline._poll_timed_out.
    TIMED_OUT = "timed out"


#: What the task ledger records for a task given up on.
LEDGER_OUTCOME = {Why.FAILED: FAILED, Why.NOT_FOUND: NOT_FOUND, Why.TIMED_OUT: STALLED}


@dataclass(frozen=True)
class Resubmit:
    """A task that must be created again, and why."""

    why: Why
    detail: str = ""  # e.g. "after 300s (last status: processing)"

    def __str__(self) -> str:
        return f"{self.why.value} {self.detail}" if self.detail else self.why.value


class ExtensionAsleep(Exception):
    """The extension has picked up no task for too long: the run ends, tasks kept."""


def query_for(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The body fields every task of this configuration shares."""
    query = {"sort_type": config["sort_type"]} if config["sort_type"] == "RECENTLY_ADDED" else {}
    if config.get("keyword"):
        query["keyword"] = config["keyword"]
    return query


class TaskPipeline:
    """Pages through the connections list, one task per offset.

    The pipeline's progress lives in ``progress`` (the pass, inside the stream's STATE):
    ``next_offset``, the first page not yet handed out, and ``tasks``, the tasks created
    for it and the pages after it, in offset order (see passes.TaskEntry). An entry
    whose ``id`` is None still has to be created. Pages overlap: regular offsets are
    ``stride`` apart.

    Args:
        client: the OutX client.
        pacer: the account's budget for task creation; its ``query`` (the body fields
            every task shares) and ``page_size`` (connections per task) are the tasks'.
        lookahead: the most tasks in flight at once.
        poll: polling and re-submission settings.
        budget: the most tasks this run may create; None for no limit.
        progress: the pass's STATE, updated in place.
        checkpoint: writes STATE; called whenever ``progress`` changed.
        logger: where waits, re-submissions and progress are reported.
        progress_interval: seconds between two progress lines.
        expected_total: connections the last pass found, for the time-left estimate.
        clock: time and sleep.
    """

    def __init__(
        self,
        client: TaskClient,
        pacer: TaskPacer,
        *,
        lookahead: int,
        poll: PollSettings,
        budget: int | None,
        progress: PassState,
        checkpoint: t.Callable[[], None],
        logger: Log,
        progress_interval: float = 60.0,
        expected_total: int | None = None,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.client = client
        # The pacer writes them to the ledger: one source, so the two never differ.
        self.query = pacer.query
        self.page_size = pacer.page_size
        self.lookahead = max(1, lookahead)
        self.poll = poll
        self.pacer = pacer
        self.budget = budget
        self.progress = progress
        self.checkpoint = checkpoint
        self.logger = logger
        self.clock = clock
        progress.setdefault("next_offset", 0)
        progress.setdefault("tasks", [])
        # Numbers loaded back from a STATE file arrive as decimal.Decimal.
        progress["next_offset"] = int(progress["next_offset"])
        for entry in self.in_flight:
            entry["offset"] = int(entry["offset"])
            # Attempts count per run: a page that failed in an earlier run (an expired
            # session, a broken extension) gets a fresh chance once the cause is fixed.
            # Its earlier tasks are still polled first (``id``, ``timed_out``).
            entry["attempt"] = 0
        self.stride = stride_for(self.page_size)
        self.timing = PollTiming(poll)
        self.tasks_created = 0
        self.polls = 0
        self.pages = 0
        self.records = 0
        started = clock.monotonic()
        self.progress_log = ProgressLog(
            logger,
            interval=progress_interval,
            started=started,
            stride=self.stride,
            expected_total=expected_total,
            outlook=pacer,
        )
        self.end_reached = False
        self.waiting_for = "nothing"
        self._created_at: dict[str, float] = {}  # until the task is first awaited
        self.tasks_reused = 0  # tasks found in the ledger and polled instead of created
        self._read_ids: set[str] = set()  # tasks whose page this run handed out
        #: Why this run creates no more tasks (pacing, active hours, a sleeping
        #: extension); None while it may.
        self.stop_reason: str | None = None
        self._pickup_seen_at = started  # the last poll that saw the extension work

    @classmethod
    def from_config(
        cls,
        config: t.Mapping[str, t.Any],
        client: TaskClient,
        pacer: TaskPacer,
        *,
        progress: PassState,
        checkpoint: t.Callable[[], None],
        logger: Log,
        lookahead: int | None = None,
        expected_total: int | None = None,
        clock: Clock = REAL_CLOCK,
    ) -> TaskPipeline:
        """The pipeline for a pass, with the pacer built for its query and page size."""
        return cls(
            client,
            pacer,
            lookahead=lookahead or int(config["max_tasks_in_flight"]),
            poll=PollSettings.from_config(config),
            budget=config.get("max_tasks_per_run"),
            progress=progress,
            checkpoint=checkpoint,
            logger=logger,
            progress_interval=float(config["progress_interval_seconds"]),
            expected_total=expected_total,
            clock=clock,
        )

    # The public face: next_page / consumed

    @property
    def next_offset(self) -> int:
        """The offset of the first page not yet handed out."""
        return int(self.progress["next_offset"])

    @property
    def in_flight(self) -> list[TaskEntry]:
        """The tasks created and not yet consumed, in offset order."""
        return self.progress["tasks"]

    def next_page(self) -> Page | None:
        """Wait for the next page in offset order; None when the list or budget ends."""
        while not self.end_reached:
            try:
                if self.stop_reason is None:
                    self._fill_pipeline()
                if not self.in_flight or self.in_flight[0]["id"] is None:
                    return None  # the budget is spent: the next run goes on from here
                head = self.in_flight[0]
                # After a stop, the tasks already in flight are still awaited.
                outcome = self._await(head)
                if isinstance(outcome, Page):
                    return outcome
                if self.stop_reason is not None:
                    return None
                self._resubmit(head, outcome)
            except (PacingStop, ExtensionAsleep) as stop:
                self.stop_reason = str(stop)
                if isinstance(stop, ExtensionAsleep):
                    return None  # nothing in flight will complete soon
        return None

    def pass_done(self) -> None:
        """The pass ended: the ledger's tasks for it are not re-read by later passes."""
        if self.pacer.ledger is not None:
            self.pacer.ledger.pass_done(self.query, self.page_size)

    def consumed(
        self,
        page: Page,
        records: int,
        *,
        next_offset: int | None = None,
        end: bool | None = None,
        bridge: int | None = None,
    ) -> None:
        """Mark a page as delivered: its ``records`` new records have been written.

        ``next_offset`` is where regular pages go on (by default one stride on), ``end``
        whether the list is read to its end (by default: the page is short), ``bridge``
        the offset of a page to read before them (see passes.py).
        """
        self.in_flight.pop(0)
        self._read_ids.add(page.task_id)
        if next_offset is None:
            next_offset = page.offset + self.stride
        self.progress["next_offset"] = next_offset
        self.pages += 1
        self.records += records
        if bridge is not None:
            self.in_flight.insert(
                0, {"offset": bridge, "id": None, "attempt": 0, "ids": [], "bridge": True}
            )
        if end if end is not None else len(page.connections) < self.page_size:
            # A short page is the end of the list; tasks queued beyond it are spent.
            self.end_reached = True
            self.progress["tasks"] = []
        self.checkpoint()

    # Creating tasks

    def _fill_pipeline(self) -> None:
        """Create the tasks that are due: pending re-creations first, then new offsets."""
        for entry in self.in_flight:
            if entry["id"] is None and not self._create(entry, block=entry is self.in_flight[0]):
                return
        while len(self.in_flight) < self.lookahead:
            regular = sum(1 for entry in self.in_flight if not entry.get("bridge"))
            offset = self.next_offset + regular * self.stride
            new: TaskEntry = {"offset": offset, "id": None, "attempt": 0, "ids": []}
            # In the list before it is created, so the checkpoint in _create saves it.
            self.in_flight.append(new)
            # Wait for pacing only when nothing else is in flight: otherwise polling
            # goes on and this page's task is created once a slot frees.
            if not self._create(new, block=len(self.in_flight) == 1):
                self.in_flight.remove(new)
                return

    def _create(self, entry: TaskEntry, *, block: bool) -> bool:
        """Create the task for an entry; False if the budget or pacing says not now."""
        if self.budget is not None and self.tasks_created >= self.budget:
            return False
        ledger = self.pacer.ledger
        # A bridge re-reads a page because the list shifted under it: an older task's
        # page is just what it must not get. Nor is a page this run read handed out twice.
        if ledger is not None and not entry.get("bridge"):
            reused = ledger.reusable_task(
                self.query,
                self.page_size,
                entry["offset"],
                exclude={*entry.get("ids", []), *self._read_ids},
            )
            if reused is not None:
                # Created by a run whose STATE was lost (a killed pipeline) or by a
                # run beside this one: polling it costs no LinkedIn action.
                self.logger.info(
                    "Polling task %s for offset %d, found in the task ledger, instead of "
                    "creating one",
                    reused,
                    entry["offset"],
                )
                self.tasks_reused += 1
                self._task_created(entry, reused)
                return True
        first = self._reserve(entry["offset"], block=block)
        if first is None:
            return False
        reservation = first

        def before_retry(may_have_queued: bool) -> None:
            # Each attempt is counted before it is sent: a lost answer may have queued
            # a task, and that LinkedIn action counts whatever the answer.
            nonlocal reservation
            if not may_have_queued and ledger is not None and reservation.row is not None:
                ledger.not_queued(reservation.row)
            reservation = t.cast("Reservation", self._reserve(entry["offset"], block=True))

        body = {**self.query, "start": entry["offset"], "count": self.page_size}
        task_id = self.client.create_task(body, before_retry)
        if ledger is not None and reservation.row is not None:
            ledger.answered(reservation.row, task_id)
        self._created_at[task_id] = self.clock.monotonic()
        self.tasks_created += 1
        self._task_created(entry, task_id)
        return True

    def _task_created(self, entry: TaskEntry, task_id: str) -> None:
        entry["id"] = task_id
        entry["attempt"] += 1
        entry["ids"] = [*entry.get("ids", []), task_id]
        # The id reaches STATE before the first poll: a run interrupted from here on
        # polls this task again instead of creating (and paying for) another.
        self.checkpoint()

    def _reserve(self, offset: int, *, block: bool) -> Reservation | None:
        """Count one create in the account's budget, waiting for it if ``block``.

        None if not now and not blocking; PacingStop if the run should end instead.
        """
        while True:
            wait, reservation = self.pacer.try_reserve(offset)
            if reservation is not None:
                return reservation
            if not block:
                return None
            self.pacer.check_wait(wait)
            self._wait_for_pacing(wait)

    def _wait_for_pacing(self, seconds: float) -> None:
        until = datetime.datetime.fromtimestamp(
            self.clock.now() + seconds, tz=datetime.timezone.utc
        )
        rules = self.pacer.rules
        hour, day = self.pacer.counts()
        if rules.per_hour and hour >= rules.per_hour:
            cap = (
                f"{hour} tasks were created in the last hour (max_tasks_per_hour={rules.per_hour})"
            )
        elif rules.per_day and day >= rules.per_day:
            cap = (
                f"{day} tasks were created in the last 24 hours (max_tasks_per_day={rules.per_day})"
            )
        else:
            # The gap between two creates: expected, not worth a warning.
            self.waiting_for = f"the task spacing ({seconds:.0f}s)"
            self._sleep(seconds)
            return
        self.logger.warning(
            "Pacing: %s; waiting %.1fs, until %s, before the next one",
            cap,
            seconds,
            until.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        self.waiting_for = f"pacing until {until:%H:%M:%S} UTC"
        self._sleep(seconds)

    def _resubmit(self, entry: TaskEntry, reason: Resubmit) -> None:
        """Replace a failed, lost or timed-out task, or give up after the last attempt."""
        if self.pacer.ledger is not None:
            # So that no later run polls it for its page.
            self.pacer.ledger.task_outcome(str(entry["id"]), LEDGER_OUTCOME[reason.why])
        if reason.why is Why.NOT_FOUND:
            entry["not_found"] = int(entry.get("not_found", 0)) + 1
            if entry["not_found"] > 1:
                # Once may be an old task OutX has dropped; twice is not transient.
                msg = (
                    f"OutX lost the task for offset {entry['offset']} twice "
                    f"(tasks {', '.join(entry['ids'])}): it answers 404 for tasks it created"
                )
                raise TaskGaveUp(msg)
        if entry["attempt"] >= self.poll.max_attempts:
            msg = (
                f"the task for offset {entry['offset']} {reason} on all "
                f"{entry['attempt']} attempts (tasks {', '.join(entry['ids'])}); "
                "see the extension's state in OutX, or raise max_task_attempts"
            )
            raise TaskGaveUp(msg)
        if reason.why is Why.TIMED_OUT:
            entry.setdefault("timed_out", []).append(str(entry["id"]))
        self.logger.warning(
            "The task for offset %d %s (attempt %d of %d, task %s); submitting it again",
            entry["offset"],
            reason,
            entry["attempt"],
            self.poll.max_attempts,
            entry["id"],
        )
        entry["id"] = None
        self._create(entry, block=True)

    # Polling

    def _await(self, entry: TaskEntry) -> Page | Resubmit:
        """Poll the head task until it completes (a Page) or must be re-submitted."""
        task_id = str(entry["id"])
        # The wait (and its timeout) count from now, when the tap turns to it.
        now = self.clock.monotonic()
        wait = self.timing.begin(now, self._created_at.pop(task_id, None), queued=self._queued)
        self.waiting_for = f"the task for offset {entry['offset']}"
        deadline = wait.since + self.poll.task_timeout
        while True:
            self._sleep(max(0.0, min(wait.next_poll, deadline) - self.clock.monotonic()))
            candidate = self._poll_timed_out(entry)
            if candidate is not None:
                return self._completed(entry, wait, *candidate)
            try:
                status = self.client.task_status(task_id)
            except TaskNotFound:
                return Resubmit(Why.NOT_FOUND)
            self.polls += 1
            wait.last_status = f"last status: {status.status}"
            if status.status == "pending":
                deadline = self._still_pending(entry, wait)
            else:
                self._pickup_seen_at = self.clock.monotonic()
            if status.status == "completed":
                return self._completed(entry, wait, task_id, status.output)
            if status.status == "failed":
                return Resubmit(Why.FAILED)
            if status.status not in RUNNING_STATUSES and not wait.warned_unknown:
                wait.warned_unknown = True  # once per task: the poll repeats it often
                # Not success: keep waiting in case it is a new in-between state; the
                # timeout re-submits the task if it never completes.
                self.logger.warning(
                    "The task for offset %d has the unknown status %r; still waiting",
                    entry["offset"],
                    status.status[:40],
                )
            now = self.clock.monotonic()
            if now >= deadline:
                # Decided on a poll made after the deadline, so time lost to retrying
                # failed polls never condemns a task that has in fact completed.
                detail = f"after {self.poll.task_timeout:g}s ({wait.last_status})"
                return Resubmit(Why.TIMED_OUT, detail)
            self.timing.still_running(wait, now, queued=self._queued)

    def _still_pending(self, entry: TaskEntry, wait: Wait) -> float:
        """The head is not picked up yet: its new deadline, or ExtensionAsleep.

        A copy would wait in the same queue, so a pending task is never created again.
        The timeout counts from its pickup.
        """
        now = self.clock.monotonic()
        idle = now - max(wait.since, self._pickup_seen_at)
        if idle >= self.poll.pickup_timeout:
            waited = f"{idle / 60:.0f} minutes" if idle >= 120 else f"{idle:.0f} seconds"
            msg = (
                f"the extension has not picked up a task for "
                f"{waited}: is Chrome open on the team's oldest "
                f"admin's account? (task {entry['id']} for offset {entry['offset']} "
                "is kept for the next run)"
            )
            raise ExtensionAsleep(msg)
        return now + self.poll.task_timeout

    def _poll_timed_out(self, entry: TaskEntry) -> tuple[str, t.Any] | None:
        """Poll the tasks of this page that timed out; (id, output) of one that completed.

        A timed-out task may still be running (the extension works one task at a time,
        so its replacement waits behind it). Its page is as good as the replacement's,
        and usually ready sooner.
        """
        for task_id in list(entry.get("timed_out", [])):
            try:
                status: TaskStatus | None = self.client.task_status(task_id)
            except TaskNotFound:
                status = None
            self.polls += 1
            if status is not None and status.status == "completed":
                return task_id, status.output
            if status is None or status.status == "failed":
                entry["timed_out"].remove(task_id)
        return None

    def _completed(self, entry: TaskEntry, wait: Wait, task_id: str, output: t.Any) -> Page:
        self.timing.completed(wait, self.clock.monotonic())
        try:
            connections = connections_in(output)
        except MalformedPage as exc:
            msg = f"page at offset {entry['offset']} (task {task_id}): {exc}"
            raise MalformedPage(msg) from None
        if self.pacer.ledger is not None:
            self.pacer.ledger.task_outcome(task_id, COMPLETED)
        return Page(entry["offset"], connections, task_id, bool(entry.get("bridge")))

    @property
    def _queued(self) -> bool:
        """Whether a task waits behind the head (see PollTiming.ceiling)."""
        return len(self.in_flight) >= 2

    def _sleep(self, seconds: float) -> None:
        """Sleep, logging a progress line whenever one is due."""
        end = self.clock.monotonic() + seconds
        while True:
            now = self.clock.monotonic()
            if now >= self.progress_log.next_due:
                self.progress_log.log(now, self.snapshot())
            if now >= end:
                return
            self.clock.sleep(min(end, self.progress_log.next_due) - now)

    def snapshot(self) -> Snapshot:
        """The run's counts now, for a progress line."""
        return Snapshot(
            pages=self.pages,
            records=self.records,
            tasks_created=self.tasks_created,
            polls=self.polls,
            waiting_for=self.waiting_for,
            next_offset=self.next_offset,
            duration_estimate=self.timing.duration_estimate,
        )

"""The task paginator: one OutX task per page offset, polled to completion, in order.

Two clocks rule here. The Chrome extension works one task at a time, so while one
page's task runs the next one is already queued (``lookahead`` tasks in flight) and the
extension never waits for the tap. And every task is a LinkedIn action, so tasks are
created only when needed, never faster than the pacer allows, and each one is written to
STATE (through ``checkpoint``) before it is polled, so an interrupted run polls it again
instead of paying for it twice.
"""

from __future__ import annotations

import datetime
import logging
import statistics
import time
import typing as t
from collections import deque
from dataclasses import dataclass

from tap_linkedin_connections.client import (
    RUNNING_STATUSES,
    MalformedPage,
    OutXClient,
    TaskGaveUp,
    TaskNotFound,
    connections_in,
)
from tap_linkedin_connections.ledger import COMPLETED, FAILED, STALLED
from tap_linkedin_connections.ledger import NOT_FOUND as LEDGER_NOT_FOUND
from tap_linkedin_connections.pacing import PacingStop, Reservation, TaskPacer
from tap_linkedin_connections.passes import stride_for

#: Why a task is re-submitted when OutX no longer knows it.
NOT_FOUND = "is unknown to OutX (HTTP 404)"
#: Why a task is re-submitted when it took too long (it stays a candidate: see
#: TaskPaginator._poll_timed_out).
TIMED_OUT = "timed out"

#: How many recent task durations the poll timing learns from.
RECENT_DURATIONS = 5
#: A task complete at its first poll is taken to have ended this far into the wait.
EARLIER_WHEN_DONE = 0.9
#: While a task waits queued behind the head, the head is polled at least every this
#: many poll_interval_min_seconds (see TaskPaginator._poll_ceiling).
QUEUED_POLL_CEILING = 4


@dataclass
class Page:
    """A completed task's connections, at its offset."""

    offset: int
    connections: list[t.Any]
    task_id: str
    bridge: bool = False  # re-read to close a gap (see passes.py), not a regular page


@dataclass
class PollSettings:
    """How tasks are waited for and how often they are re-submitted."""

    interval_min: float
    interval_max: float
    task_timeout: float
    max_attempts: int
    #: How long a task may stay pending (not picked up by the extension) before the run
    #: ends, keeping it for the next run. A pending task is never created again.
    pickup_timeout: float = 900.0


class ExtensionAsleep(Exception):
    """The extension has picked up no task for too long: the run ends, tasks kept."""


class _Wait:
    """The tap's waiting on one task, in memory only (timings do not survive a run)."""

    def __init__(self, since: float, starts: float, first_poll: float) -> None:
        self.since = since  # when the tap began waiting: the timeout counts from here
        self.starts = starts  # when the extension could start it, as far as the tap knows
        self.next_poll = first_poll
        self.interval = 0.0
        self.last_status = "not yet polled"
        self.still_running_at: float | None = None  # the last poll that saw it running
        self.warned_unknown = False


class TaskPaginator:
    """Pages through the connections list, one task per offset.

    The paginator's progress lives in ``progress`` (a dict inside the stream's STATE):
    ``next_offset``, the first page not yet handed out, and ``tasks``, the tasks created
    for it and the pages after it, in offset order: ``{"offset", "id", "attempt", "ids"}``
    (``ids``: every task created for the page), with ``timed_out`` (earlier tasks of the
    page still awaited) and ``not_found`` (404s so far) when they apply, and ``bridge``
    for a page re-read to close a gap (see passes.py). An entry whose ``id`` is None
    still has to be created. Pages overlap: regular offsets are ``stride`` apart.

    Args:
        client: the OutX client.
        query: body fields every task shares (``keyword``, ``sort_type``).
        page_size: connections asked for per task (at most 100).
        lookahead: the most tasks in flight at once.
        poll: polling and re-submission settings.
        pacer: the rolling-hour limit on task creation.
        budget: the most tasks this run may create; None for no limit.
        progress: the paginator's STATE, updated in place.
        checkpoint: writes STATE; called whenever ``progress`` changed.
        logger: where waits, re-submissions and progress are reported.
        progress_interval: seconds between two progress lines.
        expected_total: connections the last pass found, for the time-left estimate.
    """

    def __init__(
        self,
        client: OutXClient,
        *,
        query: dict[str, str],
        page_size: int,
        lookahead: int,
        poll: PollSettings,
        pacer: TaskPacer,
        budget: int | None,
        progress: dict[str, t.Any],
        checkpoint: t.Callable[[], None],
        logger: logging.Logger,
        progress_interval: float = 60.0,
        expected_total: int | None = None,
    ) -> None:
        self.client = client
        self.query = query
        self.page_size = page_size
        self.lookahead = max(1, lookahead)
        self.poll = poll
        self.pacer = pacer
        self.budget = budget
        self.progress = progress
        self.checkpoint = checkpoint
        self.logger = logger
        self.progress_interval = progress_interval
        self.expected_total = int(expected_total) if expected_total is not None else None
        progress.setdefault("next_offset", 0)
        progress.setdefault("tasks", [])
        # Numbers loaded back from a STATE file arrive as decimal.Decimal.
        progress["next_offset"] = int(progress["next_offset"])
        for entry in progress["tasks"]:
            entry["offset"] = int(entry["offset"])
            # Attempts count per run: a page that failed in an earlier run (an expired
            # session, a broken extension) gets a fresh chance once the cause is fixed.
            # Its earlier tasks are still polled first (``id``, ``timed_out``).
            entry["attempt"] = 0
        self.stride = stride_for(page_size)
        self.tasks_created = 0
        self.polls = 0
        self.pages = 0
        self.records = 0
        self._started = time.monotonic()
        self._next_progress = self._started + progress_interval
        self.end_reached = False
        self.waiting_for = "nothing"
        self._recent_durations: deque[float] = deque(maxlen=RECENT_DURATIONS)
        self._last_completion: float | None = None
        self._created_at: dict[str, float] = {}  # until the task is first awaited
        self.tasks_reused = 0  # tasks found in the ledger and polled instead of created
        self._read_ids: set[str] = set()  # tasks whose page this run handed out
        #: Why this run creates no more tasks (pacing, active hours, a sleeping
        #: extension); None while it may.
        self.stop_reason: str | None = None
        self._pickup_seen_at = self._started  # the last poll that saw the extension work

    # The public face: next_page / consumed

    @property
    def next_offset(self) -> int:
        """The offset of the first page not yet handed out."""
        return int(self.progress["next_offset"])

    @property
    def in_flight(self) -> list[dict[str, t.Any]]:
        """The tasks created and not yet consumed, in offset order."""
        return t.cast("list[dict[str, t.Any]]", self.progress["tasks"])

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
            entry = {"offset": offset, "id": None, "attempt": 0, "ids": []}
            # In the list before it is created, so the checkpoint in _create saves it.
            self.in_flight.append(entry)
            # Wait for pacing only when nothing else is in flight: otherwise polling
            # goes on and this page's task is created once a slot frees.
            if not self._create(entry, block=len(self.in_flight) == 1):
                self.in_flight.remove(entry)
                return

    def _create(self, entry: dict[str, t.Any], *, block: bool) -> bool:
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
        self._created_at[task_id] = time.monotonic()
        self.tasks_created += 1
        self._task_created(entry, task_id)
        return True

    def _task_created(self, entry: dict[str, t.Any], task_id: str) -> None:
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
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
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

    def _resubmit(self, entry: dict[str, t.Any], reason: str) -> None:
        """Replace a failed, lost or timed-out task, or give up after the last attempt."""
        if self.pacer.ledger is not None:
            # So that no later run polls it for its page.
            outcome = {NOT_FOUND: LEDGER_NOT_FOUND, "failed": FAILED}.get(reason, STALLED)
            self.pacer.ledger.task_outcome(entry["id"], outcome)
        if reason == NOT_FOUND:
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
        if reason.startswith(TIMED_OUT):
            entry.setdefault("timed_out", []).append(entry["id"])
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

    def _await(self, entry: dict[str, t.Any]) -> Page | str:
        """Poll the head task until it completes (a Page) or must be re-submitted (why)."""
        task_id = entry["id"]
        # The extension works one task at a time: this one starts once it exists and
        # the one before it has completed. The wait (and its timeout) count from now,
        # when the tap turns to it. (A task created by an earlier run starts "now".)
        now = time.monotonic()
        starts = max(self._created_at.pop(task_id, now), self._last_completion or 0.0)
        estimate = self._duration_estimate
        first_poll = starts + estimate if estimate else now + self.poll.interval_min
        first_poll = min(first_poll, now + self._poll_ceiling())
        wait = _Wait(now, starts, max(first_poll, now))
        self.waiting_for = f"the task for offset {entry['offset']}"
        deadline = wait.since + self.poll.task_timeout
        while True:
            self._sleep(max(0.0, min(wait.next_poll, deadline) - time.monotonic()))
            candidate = self._poll_timed_out(entry)
            if candidate is not None:
                return self._completed(entry, wait, *candidate)
            try:
                status = self.client.task_status(task_id)
            except TaskNotFound:
                return NOT_FOUND
            self.polls += 1
            wait.last_status = f"last status: {status.status}"
            if status.status == "pending":
                # Not picked up yet: a copy would wait in the same queue, so a pending
                # task is never created again. The timeout counts from its pickup.
                now = time.monotonic()
                deadline = now + self.poll.task_timeout
                idle = now - max(wait.since, self._pickup_seen_at)
                if idle >= self.poll.pickup_timeout:
                    waited = f"{idle / 60:.0f} minutes" if idle >= 120 else f"{idle:.0f} seconds"
                    msg = (
                        f"the extension has not picked up a task for "
                        f"{waited}: is Chrome open on the team's oldest "
                        f"admin's account? (task {task_id} for offset {entry['offset']} "
                        "is kept for the next run)"
                    )
                    raise ExtensionAsleep(msg)
            else:
                self._pickup_seen_at = time.monotonic()
            if status.status == "completed":
                return self._completed(entry, wait, task_id, status.output)
            if status.status == "failed":
                return "failed"
            if status.status not in RUNNING_STATUSES and not wait.warned_unknown:
                wait.warned_unknown = True  # once per task: the poll repeats it often
                # Not success: keep waiting in case it is a new in-between state; the
                # timeout re-submits the task if it never completes.
                self.logger.warning(
                    "The task for offset %d has the unknown status %r; still waiting",
                    entry["offset"],
                    status.status[:40],
                )
            wait.still_running_at = time.monotonic()
            if time.monotonic() >= deadline:
                # Decided on a poll made after the deadline, so time lost to retrying
                # failed polls never condemns a task that has in fact completed.
                return f"{TIMED_OUT} after {self.poll.task_timeout:g}s ({wait.last_status})"
            # Still running: poll soon, then less often (a fast task is seen almost as
            # soon as it completes, a slow one costs few polls).
            doubled = self._clamp(wait.interval * 2 if wait.interval else 0.0)
            wait.interval = min(self._poll_ceiling(), doubled)
            wait.next_poll = time.monotonic() + wait.interval

    def _poll_timed_out(self, entry: dict[str, t.Any]) -> tuple[str, t.Any] | None:
        """Poll the tasks of this page that timed out; (id, output) of one that completed.

        A timed-out task may still be running (the extension works one task at a time,
        so its replacement waits behind it). Its page is as good as the replacement's,
        and usually ready sooner.
        """
        for task_id in list(entry.get("timed_out", [])):
            try:
                status = self.client.task_status(task_id)
            except TaskNotFound:
                status = None
            self.polls += 1
            if status is not None and status.status == "completed":
                return task_id, status.output
            if status is None or status.status == "failed":
                entry["timed_out"].remove(task_id)
        return None

    def _completed(self, entry: dict[str, t.Any], wait: _Wait, task_id: str, output: t.Any) -> Page:
        self._learn_duration(wait, time.monotonic())
        try:
            connections = connections_in(output)
        except MalformedPage as exc:
            msg = f"page at offset {entry['offset']} (task {task_id}): {exc}"
            raise MalformedPage(msg) from None
        if self.pacer.ledger is not None:
            self.pacer.ledger.task_outcome(task_id, COMPLETED)
        return Page(entry["offset"], connections, task_id, bool(entry.get("bridge")))

    def _poll_ceiling(self) -> float:
        """The longest wait between two polls of the head task.

        With a task queued behind the head, the extension runs that one as soon as the
        head completes, and the next must be queued before it ends, or the extension
        goes idle (and an idle extension is slow to pick work up again). So the head is
        then polled at least every half task, and at least every few minimum intervals.
        """
        if len(self.in_flight) < 2:
            return self.poll.interval_max
        ceiling = self.poll.interval_min * QUEUED_POLL_CEILING
        estimate = self._duration_estimate
        if estimate is not None:
            ceiling = min(ceiling, max(self.poll.interval_min, estimate / 2))
        return min(ceiling, self.poll.interval_max)

    def _learn_duration(self, wait: _Wait, completed_seen_at: float) -> None:
        """Learn how long tasks take, to time the next head's first poll.

        Polls only bound a completion: after the last poll that saw the task running
        and before the poll that saw it complete; the midpoint is the guess.
        """
        if wait.still_running_at is None:
            # Complete at the first poll: it ended some time before. Guess a little
            # earlier each time, so the estimate follows tasks that get quicker.
            completed = wait.starts + (completed_seen_at - wait.starts) * EARLIER_WHEN_DONE
        else:
            completed = (max(wait.still_running_at, wait.starts) + completed_seen_at) / 2
        self._recent_durations.append(completed - wait.starts)
        self._last_completion = completed

    @property
    def _duration_estimate(self) -> float | None:
        """How long a task takes once the extension can start it: the recent median.

        The median shrugs off the odd task that waited for an idle extension or ran
        slow; the first task's wait (which includes the pickup) is soon outvoted.
        """
        return statistics.median(self._recent_durations) if self._recent_durations else None

    def _sleep(self, seconds: float) -> None:
        """Sleep, logging a progress line whenever one is due."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= self._next_progress:
                self._log_progress(now)
            if now >= end:
                return
            time.sleep(min(end, self._next_progress) - now)

    def _log_progress(self, now: float) -> None:
        self._next_progress = now + self.progress_interval
        left = "unknown (no earlier pass to compare with)"
        if self.expected_total is not None and self._duration_estimate:
            pages_left = max(0, self.expected_total - self.next_offset) // self.stride + 1
            seconds = pages_left * self._duration_estimate
            # Caps and spacing may set the pace rather than the extension.
            seconds = max(seconds, self.pacer.seconds_left(pages_left))
            left = f"about {seconds / 60:.0f} min ({pages_left} pages)"
            left += self.pacer.window_note(seconds)
        self.logger.info(
            "Progress: %d pages, %d connections, %d tasks created, %d polls in %.0fs; "
            "waiting for %s; time left: %s",
            self.pages,
            self.records,
            self.tasks_created,
            self.polls,
            now - self._started,
            self.waiting_for,
            left,
        )

    def _clamp(self, seconds: float) -> float:
        return min(self.poll.interval_max, max(self.poll.interval_min, seconds))

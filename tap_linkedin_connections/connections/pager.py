"""The connections list, page by page: offset paging over the task engine.

A :class:`ConnectionsPager` hands out the pages of one pass in offset order; the task
runner (engine/runner.py) creates, polls and re-submits each page's task. What is
paging's alone lives here:

- **lookahead**: the Chrome extension works one task at a time, so while one page's
  task runs the next may already be queued (``lookahead`` tasks in flight) and the
  extension never waits for the tap;
- **overlap**: regular offsets are a stride apart, so consecutive pages share a few
  connections (see passes.py);
- **bridges**: a page the caller queues to close a gap (``consumed(bridge=)``), read
  before the regular ones and never taken from the ledger (an older task's page is just
  what it must not get);
- **the end**: a short page ends the list (or the caller says where it ends);
- **a spare**: with one task in flight that stays pending, the next page's task, when
  the pass needs it anyway (the list as last seen reaches past it), tells a task OutX
  lost from a sleeping extension without spending an action the pass would not spend.

Its progress lives in ``progress`` (the pass, inside the stream's STATE):
``next_offset``, the first page not yet handed out, and ``tasks``, the tasks created for
it and the pages after it, in offset order (see passes.TaskEntry). An entry whose
``id`` is None still has to be created.
"""

from __future__ import annotations

import hashlib
import json
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.clock import REAL_CLOCK, Clock
from tap_linkedin_connections.connections.passes import PassState, TaskEntry, stride_for
from tap_linkedin_connections.engine.ledger import TaskLedger
from tap_linkedin_connections.engine.progress import ProgressLog, Snapshot
from tap_linkedin_connections.engine.runner import Queue, Stop, TaskRunner
from tap_linkedin_connections.engine.timing import PollSettings
from tap_linkedin_connections.outx.kinds import CONNECTIONS_PAGE, PageKey

if t.TYPE_CHECKING:
    from tap_linkedin_connections.engine.pacing import TaskPacer
    from tap_linkedin_connections.engine.poller import TaskClient
    from tap_linkedin_connections.outx.client import Log


@dataclass
class Page:
    """A completed task's connections, at its offset."""

    offset: int
    connections: list[t.Any]
    task_id: str
    bridge: bool = False  # re-read to close a gap (see passes.py), not a regular page


def query_for(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The body fields every page task of this configuration shares."""
    query = {"sort_type": config["sort_type"]} if config["sort_type"] == "RECENTLY_ADDED" else {}
    if config.get("keyword"):
        query["keyword"] = config["keyword"]
    return query


def reader_of(progress: t.Mapping[str, t.Any]) -> str:
    """The pass's name in the task ledger: the same in every run that resumes it.

    Made of what the pass keeps in STATE (its list, version, kind and page size), so
    another pass on the account (a pipeline beside this one) has another.
    """
    material = [progress.get(k) for k in ("identity", "version", "kind", "page_size")]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:24]


def spare_needed(
    *, reads_to_end: bool, after_head: int, page_size: int, expected_total: int | None
) -> bool:
    """Whether the pass needs the page at ``after_head`` anyway, whatever the head holds.

    Only a pass that reads to the end needs the pages after the head; it needs the next
    one unless the list ends within the head, which the list as the last pass saw it
    rules out when it reached a whole page past that page's start. No earlier total:
    the head may be the last page, and the spare a wasted action.
    """
    if not reads_to_end or expected_total is None:
        return False
    return after_head + page_size <= int(expected_total)


class ConnectionsPager:
    """Pages through the connections list, one task per offset.

    Args:
        client: the OutX client.
        pacer: the account's budget for task creation.
        ledger: the task ledger, or None when it is off.
        query: the body fields every page task shares (see query_for).
        page_size: connections per task.
        lookahead: the most tasks in flight at once.
        poll: polling and re-submission settings.
        budget: the most tasks this run may create; None for no limit.
        progress: the pass's STATE, updated in place.
        checkpoint: writes STATE; called whenever ``progress`` changed.
        logger: where waits, re-submissions and progress are reported.
        progress_interval: seconds between two progress lines.
        expected_total: connections the last pass found, for the time-left estimate.
        reads_to_end: the pass reads the whole list (a full pass), so it needs every
            page up to the end (see spare_needed).
        clock: time and sleep.
    """

    def __init__(
        self,
        client: TaskClient,
        pacer: TaskPacer,
        *,
        ledger: TaskLedger | None,
        query: t.Mapping[str, str],
        page_size: int,
        lookahead: int,
        poll: PollSettings,
        budget: int | None,
        progress: PassState,
        checkpoint: t.Callable[[], None],
        logger: Log,
        progress_interval: float = 60.0,
        expected_total: int | None = None,
        reads_to_end: bool = False,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.query = dict(query)
        self.page_size = page_size
        self.lookahead = max(1, lookahead)
        self.progress = progress
        self.checkpoint = checkpoint
        self.clock = clock
        self.expected_total = expected_total
        self.reads_to_end = reads_to_end
        _load(progress)
        self.stride = stride_for(page_size)
        self.runner: TaskRunner[PageKey, list[t.Any]] = TaskRunner(
            client,
            CONNECTIONS_PAGE,
            pacer=pacer,
            ledger=ledger,
            poll=poll,
            budget=budget,
            reader=reader_of(progress),
            saved=lambda: self.checkpoint(),
            sleep=self._sleep,
            logger=logger,
            clock=clock,
        )
        self.progress_log = ProgressLog(
            logger, interval=progress_interval, started=clock.monotonic(), outlook=pacer
        )
        self.end_reached = False
        self.pages = 0
        self.records = 0

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
        reads_to_end: bool = False,
        clock: Clock = REAL_CLOCK,
    ) -> ConnectionsPager:
        """The pager for a pass: its page size is the pass's, its ledger the pacer's."""
        return cls(
            client,
            pacer,
            ledger=pacer.log if isinstance(pacer.log, TaskLedger) else None,
            query=query_for(config),
            page_size=int(progress["page_size"]),
            lookahead=lookahead or int(config["max_tasks_in_flight"]),
            poll=PollSettings.from_config(config),
            budget=config.get("max_tasks_per_run"),
            progress=progress,
            checkpoint=checkpoint,
            logger=logger,
            progress_interval=float(config["progress_interval_seconds"]),
            expected_total=expected_total,
            reads_to_end=reads_to_end,
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

    @property
    def stop_reason(self) -> Stop | None:
        """Why this run creates no more tasks (pacing, a sleeping extension); None while it may."""
        return self.runner.stop

    @property
    def tasks_created(self) -> int:
        return self.runner.tasks_created

    @property
    def tasks_reused(self) -> int:
        return self.runner.tasks_reused

    @property
    def tasks_lost(self) -> int:
        return self.runner.tasks_lost

    @property
    def polls(self) -> int:
        return self.runner.polls

    def next_page(self) -> Page | None:
        """Wait for the next page in offset order; None when the list or the run ends."""
        if self.end_reached:
            return None
        if self.runner.stop is None:
            self._fill()
        if not self.in_flight or self.in_flight[0]["id"] is None:
            return None  # the budget is spent: the next run goes on from here
        head = self.in_flight[0]
        bridge = bool(head.get("bridge"))
        queue = Queue(behind=lambda: self.in_flight[1:], spare=self._spare, reuse=not bridge)
        done = self.runner.wait(head, self._key(head), queue)
        if done is None:
            return None
        return Page(head["offset"], done.result, done.task_id, bridge)

    def pass_done(self) -> None:
        """The pass ended: the tasks it read are not re-read by later passes."""
        self.runner.pass_ended()

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

    def snapshot(self) -> Snapshot:
        """The run's counts now, for a progress line."""
        left = None
        if self.expected_total is not None:
            left = max(0, int(self.expected_total) - self.next_offset) // self.stride + 1
        return Snapshot(
            results=self.pages,
            records=self.records,
            tasks_created=self.tasks_created,
            polls=self.polls,
            waiting_for=self.runner.waiting_for,
            tasks_left=left,
            duration_estimate=self.runner.poller.timing.duration_estimate,
        )

    # Creating tasks

    def _fill(self) -> None:
        """Create the tasks that are due: pending re-creations first, then new offsets."""
        for entry in self.in_flight:
            if entry["id"] is None and not self._prepare(entry, block=entry is self.in_flight[0]):
                return
        while len(self.in_flight) < self.lookahead:
            # Wait for pacing only when nothing else is in flight: otherwise polling
            # goes on and this page's task is created once a slot frees.
            if not self._add_regular(block=not self.in_flight):
                return

    def _add_regular(self, *, block: bool) -> bool:
        """Queue the next regular offset's task; False (and nothing queued) if not now."""
        regular = sum(1 for entry in self.in_flight if not entry.get("bridge"))
        offset = self.next_offset + regular * self.stride
        new: TaskEntry = {"offset": offset, "id": None, "attempt": 0, "ids": []}
        # In the list before it is created, so the checkpoint on creation saves it.
        self.in_flight.append(new)
        if not self._prepare(new, block=block):
            self.in_flight.remove(new)
            return False
        return True

    def _prepare(self, entry: TaskEntry, *, block: bool) -> bool:
        reuse = not entry.get("bridge")
        return self.runner.prepare(entry, self._key(entry), block=block, reuse=reuse)

    def _spare(self) -> bool:
        """With only the head in flight, queue the next page if the pass needs it anyway."""
        if len(self.in_flight) != 1:
            return False
        regular = sum(1 for entry in self.in_flight if not entry.get("bridge"))
        needed = spare_needed(
            reads_to_end=self.reads_to_end,
            after_head=self.next_offset + regular * self.stride,
            page_size=self.page_size,
            expected_total=self.expected_total,
        )
        return needed and self._add_regular(block=False)

    def _key(self, entry: TaskEntry) -> PageKey:
        return PageKey.of(self.query, self.page_size, int(entry["offset"]))

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


def _load(progress: PassState) -> None:
    """Make the pass's paging state whole, as loaded from a STATE file."""
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

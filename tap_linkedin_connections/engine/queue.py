"""What OutX's queue order proves about a task that is not picked up: pure, no I/O.

The account's Chrome extension takes the account's tasks one at a time, oldest first.
A task still ``pending`` is either waiting for an extension that sleeps (Chrome closed:
every task waits, and a copy would only wait beside it) or lost by OutX (it stays
pending for ever while the extension works on). Only the queue tells them apart: if a
task queued *after* it was picked up, the extension works and has passed it by, so it
is lost and must be created again. Polling a task costs no LinkedIn action, so the
tasks queued behind it (in the run, or in the ledger from other runs) are asked.

The sighting of the later task must come before the head was seen pending: the head
may have been picked up, and completed, in between.
"""

from __future__ import annotations

import enum
import typing as t

from tap_linkedin_connections.outx.kinds import TaskStatus

#: Statuses that show the extension took the task. FAILED is not among them: OutX may
#: fail a task it never handed out, and a wrong "lost" costs a LinkedIn action.
PICKED_UP = frozenset({TaskStatus.PROCESSING, TaskStatus.COMPLETED})


class Sighting(t.NamedTuple):
    """A task's status, and when the tap saw it (the clock's monotonic time)."""

    status: TaskStatus
    at: float


class QueueVerdict(enum.Enum):
    """What the queue says about the head task."""

    PICKED_UP = "picked up"  # not pending: the extension has it (or had it)
    OVERTAKEN = "overtaken"  # pending, and a task queued after it was picked up: lost
    BEHIND = "behind"  # pending, with later tasks still to tell: ask them
    UNPROVABLE = "unprovable"  # pending, and no later task known: asleep or lost, alike


def queue_verdict(head: Sighting, later: t.Sequence[Sighting | None]) -> QueueVerdict:
    """The verdict on ``head`` from what is known of the tasks queued after it.

    ``later``: those tasks, each with its last sighting (None: not asked yet).
    """
    if head.status is not TaskStatus.PENDING:
        return QueueVerdict.PICKED_UP
    if any(s is not None and s.status in PICKED_UP and s.at <= head.at for s in later):
        return QueueVerdict.OVERTAKEN
    if any(s is None or s.status in (TaskStatus.PENDING, *PICKED_UP) for s in later):
        return QueueVerdict.BEHIND
    return QueueVerdict.UNPROVABLE

"""Which connection events a pass gives rise to: pure decisions, no memory, no I/O.

The durable memory of an account's list (issue 19, item 1) remembers per connection its
last headline, whether a proven pass found it gone, and its place in the list; it calls
these functions with what a pass saw and records what they return. Each decision is
made from the remembered row alone, so once the memory holds the pass's result the same
call returns nothing: one event per change, however often a page is re-read.

- ``added``: a connection first seen after the account's baseline (the first complete
  pass sets the baseline and emits nothing: its rows carry ``first_seen_at``);
- ``removed``: only when a pass that proved itself complete no longer holds it;
- ``reconnected``: a known connection seen after a proven removal, or risen above
  connections that were newer than it (re-added: the newest-first list puts it on top);
- ``headline_changed``: a known connection read with another headline.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass


class ConnectionEvent(enum.Enum):
    """A change in an account's list; the value is how the event is written."""

    ADDED = "added"
    REMOVED = "removed"
    RECONNECTED = "reconnected"
    HEADLINE_CHANGED = "headline_changed"
    #: From the profiles stream: a re-fetched profile's current title or company changed.
    JOB_CHANGED = "job_changed"


@dataclass(frozen=True)
class Remembered:
    """What the memory holds of one connection of an account."""

    headline: str | None  # the last one read; None: never known
    removed: bool = False  # a proven pass found it gone, and no pass has seen it since
    #: Its place in connection order, in any numbering where a connection made later has
    #: a larger number; None: not known. Only compared, never shown.
    rank: int | None = None


@dataclass(frozen=True)
class Change:
    """One event, with what changed (``previous`` / ``current``), when that is a value."""

    event: ConnectionEvent
    previous: str | None = None
    current: str | None = None


def on_seen(
    remembered: Remembered | None,
    headline: str | None,
    *,
    baseline_set: bool,
    risen: bool = False,
) -> tuple[Change, ...]:
    """The events of a pass reading a connection.

    ``remembered``: the memory's row, None if the connection is new to it;
    ``headline``: as read now (None: OutX did not say); ``baseline_set``: whether a
    complete pass of the account ended before this one; ``risen``: whether this pass
    found it above a connection remembered as newer (see :func:`risen_above_newer`).
    """
    if remembered is None:
        return (Change(ConnectionEvent.ADDED, current=headline),) if baseline_set else ()
    changes: list[Change] = []
    if remembered.removed or risen:
        changes.append(Change(ConnectionEvent.RECONNECTED, current=headline))
    if headline_changed(remembered.headline, headline):
        changes.append(Change(ConnectionEvent.HEADLINE_CHANGED, remembered.headline, headline))
    return tuple(changes)


def on_missing(remembered: Remembered, *, proven_complete: bool) -> tuple[Change, ...]:
    """The events of a pass ending without a connection the memory holds.

    Only a pass that proved itself complete (the proof that allows ACTIVATE_VERSION)
    tells a removal; an incremental run or an unproven pass may just not have read it.
    """
    if not proven_complete or remembered.removed:
        return ()
    return (Change(ConnectionEvent.REMOVED, previous=remembered.headline),)


def headline_changed(previous: str | None, current: str | None) -> bool:
    """Whether a headline changed; an unknown one (None) is no change, nor is spacing
    around it (LinkedIn trims what it shows)."""
    if previous is None or current is None:
        return False
    return previous.strip() != current.strip()


def risen_above_newer(ranks: t.Sequence[int | None]) -> list[bool]:
    """For a pass's connections in newest-first order, each one's remembered rank (None:
    new to the memory): whether it sits above a connection remembered as newer.

    The newest-first list never reorders connections by itself; one that sits above a
    newer one was removed and added again (a re-connection, at the top of the list).
    """
    risen = [False] * len(ranks)
    newest_below: int | None = None
    for index in range(len(ranks) - 1, -1, -1):
        rank = ranks[index]
        if rank is None:
            continue
        if newest_below is not None and newest_below > rank:
            risen[index] = True
        newest_below = rank if newest_below is None else max(newest_below, rank)
    return risen

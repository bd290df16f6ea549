"""Where a pass's connections stand in the list, and what changed: pure decisions.

The memory (memory.py) asks these with what it holds and what a page brought, and
writes down what they return; events.py decides each event from one remembered row.

**Ranks.** Each remembered connection has a rank: a number that is larger for a
connection made later (only compared, never shown). The newest-first list
(``RECENTLY_ADDED``) never reorders connections by itself, so a known connection that
sits above one with a larger rank was removed and added again: it *rose* (a
re-connection). Ranks are given as a pass reads the list from the top:

- each pass owns a window of ranks above every rank given before (``base``: the list's
  top rank + ``PASS_WINDOW``); the connection at the pass's position *p* may get
  ``base - p * STEP``;
- a known connection keeps its rank, and waits (``Pending.KNOWN``): if a connection
  further down the list proves newer, it rose, and takes ``base - p * STEP``;
- a connection new to the memory (or back after a proven removal) is ranked just below
  the one read before it (``Pending.PROVISIONAL``), never above it: found deep in the
  list (a keyword list it just entered, say), it must not make the connections above
  it look risen; nor below a ranked one under it on the same page (a page read out of
  order). Found at the top, above the old list, it is proven newer than it and takes
  ``base - p * STEP`` like a risen one (without an event of its own).

A pass does not always read in list order: it reads a *bridge* page (closing a gap left
by removals) after the page beyond the gap, and may read the top again at its end. So
once the old list has begun (two known connections in their old order: everything
re-added since the last pass is above), a page proves only its own connections risen,
never those of earlier pages, which may lie below it.

Orders other than ``RECENTLY_ADDED`` (relevance) say nothing about age: their passes
rank nothing and find no risen connection.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.history.events import (
    Change,
    ConnectionEvent,
    Remembered,
    on_missing,
    on_seen,
    risen_above_newer,
)

#: The gap between the ranks of two neighbours read by one pass: room for connections
#: ranked later between them (each just below the one above it).
STEP = 1000
#: Positions one pass ranks apart: far more than LinkedIn's 30,000-connection cap.
MAX_POSITIONS = 1_000_000
#: The ranks a pass owns above every rank given before: its ``base`` is the list's
#: top rank + this. 64-bit ranks leave room for billions of passes.
PASS_WINDOW = STEP * MAX_POSITIONS


class Pending(enum.Enum):
    """Why a connection read by a pass waits for what is read below it."""

    #: Known from earlier passes, with its old rank: it rose if a newer one is below.
    KNOWN = "known"
    #: New to the memory (or back after a removal), ranked for now below the one above.
    PROVISIONAL = "provisional"


@dataclass(frozen=True)
class Known:
    """A remembered connection, as these decisions need it."""

    headline: str | None
    removed: bool  # a proven pass found it gone, and none has seen it since
    rank: int | None  # None: never ranked (first read in another order)
    seen_pass: str | None  # the last pass that read it


@dataclass
class Progress:
    """Where a pass is in the list (kept in the memory, across runs)."""

    pass_id: str
    base: int  # the top of the pass's window of ranks
    position: int = 0  # connections the pass has placed so far
    prev_rank: int | None = None  # the rank of the last one it placed
    #: The rank of the last one it placed, if that one was known (Pending.KNOWN).
    last_known_rank: int | None = None
    #: The old list has begun: two known connections followed each other in their old
    #: order. From the next page on, a page's ranks prove nothing of the pages placed
    #: before it, which may be *below* it: a pass reads a bridge page (a gap closed
    #: after the page beyond it) or the top again after the end, out of order.
    settled: bool = False
    #: Whether the page being placed may prove earlier pages' connections risen (set by
    #: place_page: the pass had not settled before it).
    pops_earlier: bool = True


@dataclass(frozen=True)
class Seen:
    """A connection as a page read it."""

    entity_urn: str
    headline: str | None


@dataclass(frozen=True)
class Placed:
    """A connection of a page, placed: what the memory writes for it now."""

    entity_urn: str
    headline: str | None  # as the page read it
    position: int
    rank: int | None
    pending: Pending | None
    new: bool  # the memory did not hold it
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Waiting:
    """A connection placed earlier in the pass that still waits (see Pending)."""

    entity_urn: str
    rank: int
    position: int
    pending: Pending
    headline: str | None


@dataclass(frozen=True)
class Rise:
    """A waiting connection proved newer than it was ranked: its new rank, its event."""

    entity_urn: str
    rank: int
    change: Change | None


def pass_base(top_rank: int) -> int:
    """The top of a new pass's window: above every rank the list has given."""
    return top_rank + PASS_WINDOW


def place_page(
    progress: Progress,
    remembered: t.Mapping[str, Known],
    seen: t.Sequence[Seen],
    *,
    ranked: bool,
    baseline_set: bool,
    above_pass: bool = False,
) -> list[Placed]:
    """Place a page's connections, newest first, and decide their events; advances
    ``progress``.

    A connection this pass placed already (a page read again after a kill) is left
    out: its events were decided then. ``ranked``: the list is newest first;
    ``baseline_set``: a complete pass of the list proved itself before; ``above_pass``:
    the page comes from the re-read of the top at the pass's end (see place_above).
    """
    if above_pass and ranked:
        return place_above(progress, remembered, seen, baseline_set=baseline_set)
    placed: list[Placed] = []
    done: set[str] = set()
    below = _ranks_below(seen, remembered)
    progress.pops_earlier = not progress.settled
    for index, connection in enumerate(seen):
        urn = connection.entity_urn
        known = remembered.get(urn)
        if urn in done or (known is not None and known.seen_pass == progress.pass_id):
            continue
        done.add(urn)
        position = progress.position
        progress.position += 1
        memory = Remembered(known.headline, known.removed, known.rank) if known else None
        changes = on_seen(memory, connection.headline, baseline_set=baseline_set)
        rank, pending = _rank(progress, known, position, ranked=ranked, below=below[index])
        placed.append(
            Placed(urn, connection.headline, position, rank, pending, known is None, changes)
        )
    return placed


def place_above(
    progress: Progress,
    remembered: t.Mapping[str, Known],
    seen: t.Sequence[Seen],
    *,
    baseline_set: bool,
) -> list[Placed]:
    """Place what a full pass's re-read of the top found above everything it read: each
    is newer than all the pass placed, so ranked above its window's top, in page order;
    none waits. A known connection there (not removed) came up from the part the pass
    had not read yet: it re-connected during the pass."""
    placed: list[Placed] = []
    for index, connection in enumerate(seen):
        urn = connection.entity_urn
        known = remembered.get(urn)
        if known is not None and known.seen_pass == progress.pass_id:
            continue
        memory = Remembered(known.headline, known.removed, known.rank) if known else None
        changes = on_seen(memory, connection.headline, baseline_set=baseline_set)
        if baseline_set and known is not None and not known.removed:
            changes = (*changes, Change(ConnectionEvent.RECONNECTED, current=connection.headline))
        rank = progress.base + (len(seen) - index) * STEP
        placed.append(Placed(urn, connection.headline, index, rank, None, known is None, changes))
    return placed


def _rank(
    progress: Progress, known: Known | None, position: int, *, ranked: bool, below: int | None
) -> tuple[int | None, Pending | None]:
    if not ranked:
        return (known.rank if known is not None else None), None
    last_known = progress.last_known_rank
    if _ranked(known):
        rank, pending = t.cast("int", known.rank if known else None), Pending.KNOWN
        progress.settled = progress.settled or (last_known is not None and rank < last_known)
        progress.last_known_rank = rank
    else:
        rank, pending = provisional_rank(progress, position, below=below), Pending.PROVISIONAL
        progress.last_known_rank = None
    progress.prev_rank = rank
    return rank, pending


def _ranked(known: Known | None) -> bool:
    """Whether a remembered connection has a rank that still says where it stands."""
    return known is not None and not known.removed and known.rank is not None


def _ranks_below(seen: t.Sequence[Seen], remembered: t.Mapping[str, Known]) -> list[int | None]:
    """For each connection of a page, the rank of the nearest ranked one below it on the
    page (read by this pass before or not); None if there is none."""
    below: list[int | None] = [None] * len(seen)
    nearest: int | None = None
    for index in range(len(seen) - 1, -1, -1):
        below[index] = nearest
        known = remembered.get(seen[index].entity_urn)
        if _ranked(known):
            nearest = t.cast("Known", known).rank
    return below


def provisional_rank(progress: Progress, position: int, *, below: int | None = None) -> int:
    """The rank of a connection new to the memory: its place in the pass's window, but
    never above the connection read just before it; and never below a ranked one under
    it on the same page (``below``): a page read out of order (the top of the list read
    again at the end of a pass) ranks its new connections by what the page shows."""
    top = top_rank_at(progress, position)
    rank = top if progress.prev_rank is None else min(top, progress.prev_rank - 1)
    return below + 1 if below is not None and rank <= below else rank


def top_rank_at(progress: Progress, position: int) -> int:
    """The rank a connection at this position of the pass takes once proven newer."""
    return progress.base - min(position, MAX_POSITIONS - 1) * STEP


def highest_rank(placed: t.Iterable[Placed]) -> int | None:
    """The largest rank among a page's waiting connections; None if none waits."""
    return max((p.rank for p in placed if p.pending and p.rank is not None), default=None)


def risen(
    progress: Progress,
    placed: t.Sequence[Placed],
    earlier: t.Iterable[Waiting],
    *,
    baseline_set: bool,
) -> list[Rise]:
    """The waiting connections a page proves risen: any of the page with a newer one
    below it in the page; and, while the pass has not settled (see Progress), any placed
    earlier in the pass with a rank below the page's highest (``earlier`` need hold only
    those)."""
    ranks = [p.rank if p.pending else None for p in placed]
    page_top = max((r for r in ranks if r is not None), default=None)
    rises = [
        _rise(progress, w.entity_urn, w.position, w.pending, w.headline, baseline_set)
        for w in earlier
        if progress.pops_earlier and page_top is not None and w.rank < page_top
    ]
    for item, rose in zip(placed, risen_above_newer(ranks), strict=True):
        if rose and item.pending is not None:
            rises.append(
                _rise(
                    progress,
                    item.entity_urn,
                    item.position,
                    item.pending,
                    item.headline,
                    baseline_set,
                )
            )
    return rises


def risen_above(
    progress: Progress, waiting: t.Iterable[Waiting], anchor_rank: int, *, baseline_set: bool
) -> list[Rise]:
    """An incremental run ended on the old list, whose newest connection (still
    there) has ``anchor_rank``: every waiting connection ranked below it sat above it,
    so rose. (The run read only what was above the old list.)"""
    return [
        _rise(progress, w.entity_urn, w.position, w.pending, w.headline, baseline_set)
        for w in waiting
        if w.rank < anchor_rank
    ]


def _rise(
    progress: Progress,
    urn: str,
    position: int,
    pending: Pending,
    headline: str | None,
    baseline_set: bool,
) -> Rise:
    # Only a known connection's rise is an event: a new one's is its `added`, one back
    # after a proven removal got its `reconnected` when it was read.
    change = (
        Change(ConnectionEvent.RECONNECTED, current=headline)
        if pending is Pending.KNOWN and baseline_set
        else None
    )
    return Rise(urn, top_rank_at(progress, position), change)


# Ending a pass


def was_seen(
    seen_pass: str | None, last_seen_at: float, *, pass_id: str, started_at: float
) -> bool:
    """Whether a proven pass counts a remembered connection as still there.

    Read by this pass, or by any pass since this one started (another pipeline on the
    same account, an incremental run between two runs of this pass): either is enough,
    so neither a memory shared by two pipelines nor a clock set back makes a removal
    of a connection that is there.
    """
    return seen_pass == pass_id or last_seen_at >= started_at


def removal(known: Known, *, baseline_set: bool) -> Change | None:
    """The event of a proven pass ending without a remembered connection: none before
    the baseline (the pass that sets it emits nothing) or for one removed already."""
    changes = on_missing(
        Remembered(known.headline, known.removed, known.rank), proven_complete=True
    )
    return changes[0] if changes and baseline_set else None


# The history columns of a row


def in_baseline(first_seen_at: float, baseline_at: float | None) -> bool:
    """Whether a connection was there by the end of the list's first proven pass."""
    return baseline_at is None or first_seen_at <= baseline_at


def first_seen(first_seen_at: float, connected_on_at: float | None, *, baseline: bool) -> float:
    """A row's ``first_seen_at``: when the tap first read the connection, or for one
    there at the baseline, the day it was made (``connected_on``, its midnight in UTC)
    when known and earlier: the first pass only tells when the tap was installed."""
    if baseline and connected_on_at is not None:
        return min(first_seen_at, connected_on_at)
    return first_seen_at

"""The decisions of a pass, kept pure (no I/O, no clock) so each can be tested alone.

Offsets shift under a pass: a connection removed above the read position pulls every
later page up, a new one pushes them down. So consecutive pages overlap by ``OVERLAP``
connections and a page counts only once it shares a connection with the page before
it: then nothing lies hidden between the two. When a page does not join up, a
*bridge* page is read one stride further back, where the connections the shift hid
now are; one bridge covers up to ``page_size - 2 * OVERLAP`` removals. A page that lies
wholly in what the pass already read (hundreds added at the top at once) steps forward
instead.

A full pass goes through three phases (``Phase``): it *sweeps* the list page by page; a
short page only says where the end may be, so it then *confirms* the end (a page read
again from the short page's last rows must join it and bring nothing after them); and
in the newest-first order it finally re-reads the *top* of the list until it reaches
the connections it began with, because a contact who re-connects during the pass moves
from the unread part to the top, where the sweep has already been. A pass that cannot be
proven whole still reads to the end and keeps every record, but it never ends in
ACTIVATE_VERSION (which would delete the rows it missed).

STATE keeps the pages a proof needs as marks (short digests, see ``mark``), not URNs.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import math
import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.accounts.versions import Table, VersionMarks
from tap_linkedin_connections.state_numbers import whole

#: Connections each page shares with the one before it. Up to OVERLAP - 1 removals
#: between two reads cost nothing; more cost one bridge page. Three costs no extra
#: task on a 3,000 list at page_size 100 (31 pages either way: the last page must be
#: seen short) and about 3 % on long lists.
OVERLAP = 3
#: Out-of-sequence pages (bridges, steps forward, confirmations, top re-reads) read for
#: one problem before the pass is declared unprovable.
MAX_BRIDGES = 5
#: LinkedIn caps an account at 30,000 connections: no page starts beyond.
MAX_CONNECTIONS = 30_000
PAGE_SIZE_MIN, PAGE_SIZE_MAX = 2, 100
#: How many of the newest connections a bookmark remembers (see account_pass).
REMEMBERED = 25
#: The only order in which new and re-connected contacts land at the top of the list.
NEWEST_FIRST = "RECENTLY_ADDED"


class Phase(enum.Enum):
    """Where a full pass is (``pass.phase`` in STATE; absent means SWEEP)."""

    SWEEP = "sweep"  # reading page after page
    CONFIRM = "confirm"  # a short page was read: is it really the end?
    TOP = "top"  # the end is confirmed: re-reading the top of the list


class Event(enum.Enum):
    """What a page made the pass do, for the log; the value says it."""

    NONE = ""
    BRIDGE = "the page does not join the one before (the list shifted)"
    FORWARD = "the page lies wholly in what this pass read (connections were added)"
    REREAD = "the page holds a connection twice"
    CONFIRM = "the page is short: confirming the end of the list"
    REPAIR = "the short page was not the end: connections are missing from it"
    TOP = "the end is confirmed: re-reading the top for contacts added meanwhile"
    RESTART = "the top shifted while it was re-read"


# STATE's shape (see accounts/stream.py; what is loaded back is checked by state_problems)


class _TaskEntryKeys(t.TypedDict):
    offset: int
    id: str | None  # None: the task is still to be created
    attempt: int  # tasks created for the page in this run
    ids: list[str]  # every task created for the page


class TaskEntry(_TaskEntryKeys, total=False):
    """A page's task in flight (``pass.tasks``)."""

    timed_out: list[str]  # earlier tasks of the page that timed out, still awaited
    not_found: int  # 404s so far
    bridge: bool  # read out of sequence (a bridge, a confirmation, the top), not a regular page


class Identity(t.TypedDict):
    """Which list a pass reads: passes compare only over the same one."""

    account: str
    keyword: str | None
    sort_type: str


class EndCandidate(t.TypedDict):
    """The short page that may end the list (``pass.end``, while confirming)."""

    offset: int
    rows: int  # rows it returned, duplicates included


class Reread(t.TypedDict):
    """A page read again because it held a connection twice (``pass.reread``)."""

    offset: int
    bridge: bool  # how the page it stands in for was read


class _PassKeys(t.TypedDict):
    identity: Identity
    kind: str  # "full" or "incremental"
    version: int
    page_size: int
    next_offset: int
    tasks: list[TaskEntry]
    newest: list[str]  # the first connections emitted (URNs), in list order
    emitted: int


class PassState(_PassKeys, total=False):
    """The pass under way (``pass``), with its continuity (see place_page).

    The lists of pages (``tail``, ``ahead``, ``reach``, ``top``) hold marks; URNs
    written by earlier releases are read as their marks.
    """

    phase: str  # a Phase's value
    tail: list[str]
    ahead: list[str]
    ahead_offset: int
    reach: list[str]
    bridges: int
    lost: str
    reached_known: bool
    end: EndCandidate
    reread: Reread
    first: list[str]  # the first page, as marks: the top re-read reads down to it
    top: list[str]  # the last page of the top re-read
    moved: list[str]  # remembered connections met above where the old list resumes
    above: list[str]  # URNs above what was loaded before, newest first (at most 25)
    started_at: str  # when the pass started (ISO 8601): its id in the network history


class Bookmark(VersionMarks, total=False):
    """What the last completed pass learnt (``bookmark``); its ``version`` and ``proved``
    are what the table version needs (accounts/versions.py)."""

    identity: Identity
    newest: list[str]
    total: int


def overlap_for(page_size: int) -> int:
    """The overlap used at this page size (a page must still bring something new)."""
    return min(OVERLAP, max(1, page_size // 4))


def stride_for(page_size: int) -> int:
    """How far apart consecutive page offsets are."""
    return page_size - overlap_for(page_size)


def tasks_for_full_pass(total: int, page_size: int, *, newest_first: bool = True) -> int:
    """Tasks an undisturbed full pass takes: pages until one comes back short, one page
    that confirms the end, and (newest first) one re-read of the top."""
    stride = stride_for(page_size)
    # Page k covers [k * stride, k * stride + page_size); the first short one ends it.
    sweep = max(0, math.floor((total - page_size) / stride)) + 2 if total >= page_size else 1
    # A list of a few (the end page at 0, confirmed from 0) re-reads its top at once.
    top = newest_first and total > overlap_for(page_size)
    return sweep + 1 + int(top)


def mark(urn: str) -> str:
    """A URN's stand-in in STATE: "~" and 10 characters of its blake2b digest (60 bits).

    Idempotent, so a page list written with URNs by an earlier release reads as marks.
    A false match needs two of a few hundred URNs compared to share 60 bits: about one
    chance in 10^13 per page.
    """
    if len(urn) == MARK_LENGTH and urn.startswith("~"):
        return urn
    digest = hashlib.blake2b(urn.encode(), digest_size=8).digest()
    return "~" + base64.urlsafe_b64encode(digest).decode()[: MARK_LENGTH - 1]


MARK_LENGTH = 11


def marks(urns: t.Iterable[str] | None) -> list[str]:
    """The marks of these URNs (or marks), in order."""
    return [mark(urn) for urn in urns or ()]


def joins(before: t.Sequence[str], after: t.Sequence[str]) -> bool:
    """Whether ``after`` continues ``before`` with nothing hidden between them.

    Each page is a contiguous stretch of the list as it was when read; a connection
    in both means the stretches touch, whatever moved in between.
    """
    return bool(set(before) & set(after))


def distinct(urns: t.Sequence[str]) -> int:
    """Connections a page holds: a page showing one twice is short by one."""
    return len(set(urns))


# Placing a page


@dataclass
class Step:
    """What to do after a page: where reading goes on, and what the pass learnt."""

    next_offset: int  # where the next regular page is read
    bridge: int | None = None  # offset of a page to read out of sequence first, if any
    end: bool = False  # the pass is read to its end (proven whole or not)
    lost: str = ""  # why continuity is lost, if it just was
    event: Event = Event.NONE  # what the page made the pass do, for the log
    #: Where, in this page, the connections already loaded resume: the remembered ones
    #: (an incremental run) or the pass's first ones (the top re-read). Connections
    #: above it are new.
    resumes_at: int | None = None
    #: Where, in this page, the connections this pass has not read may begin: above the
    #: first one of the page it joins lies what the pass read (maybe in an earlier run).
    new_from: int = 0


@dataclass(frozen=True)
class _Page:
    offset: int
    urns: list[str]
    marks: list[str]
    page_size: int

    @property
    def stride(self) -> int:
        return stride_for(self.page_size)

    @property
    def short(self) -> bool:
        return distinct(self.marks) < self.page_size


def place_page(
    progress: PassState,
    offset: int,
    urns: list[str],
    page_size: int,
    *,
    bridge: bool,
    read: t.AbstractSet[str] = frozenset(),
    known: t.Sequence[str] = (),
) -> Step:
    """Fit one page into the pass and say what to read next; updates ``progress``.

    ``bridge``: the page was read out of sequence (a bridge, a confirmation, the top).
    ``read``: the marks of the connections this pass read before this page (this run's
    pages, and the pages STATE holds). ``known``: an incremental run's remembered URNs
    (the bookmark's newest), where it stops.
    """
    page = _Page(offset, list(urns), marks(urns), page_size)
    placed_as = _reread(progress, page, bridge=bridge)
    if isinstance(placed_as, Step):
        return placed_as
    phase = Phase(progress.get("phase", Phase.SWEEP.value))
    if phase is Phase.TOP:
        return _place_top(progress, page, read)
    tail = set(marks(progress.get("tail")))
    if phase is Phase.CONFIRM and placed_as:
        step = _place_confirm(progress, page, read)
    elif placed_as:
        step = _place_bridge(progress, page)
    else:
        step = _place_regular(progress, page, read)
    step.new_from = next((i for i, m in enumerate(page.marks) if m in tail), 0)
    if progress["kind"] == "incremental":
        _stop_where_known(progress, page, step, known)
    return step


def _reread(progress: PassState, page: _Page, *, bridge: bool) -> Step | bool:
    """A page that holds a connection twice hides the one that belongs there: it is
    read once more (a fresh task) before it counts. The Step asking for that, or else
    how the page is placed (as a bridge or not: a re-read stands in for its page)."""
    pending = progress.pop("reread", None)
    if pending is not None and bridge and int(pending["offset"]) == page.offset:
        return bool(pending["bridge"])  # shown twice again: that is the list as it is
    if pending is not None:
        progress["reread"] = pending  # (the re-read is always read first)
    if distinct(page.marks) == len(page.marks):
        return bridge
    progress["reread"] = {"offset": page.offset, "bridge": bridge}
    next_offset = int(progress.get("next_offset", 0)) if bridge else page.offset + page.stride
    return Step(next_offset, bridge=page.offset, event=Event.REREAD)


def _place_regular(progress: PassState, page: _Page, read: t.AbstractSet[str]) -> Step:
    tail = progress.get("tail")
    if tail is None:
        progress["first"] = page.marks  # where the top re-read must arrive (see _place_top)
    if tail is None or joins(marks(tail), page.marks):
        progress["tail"] = page.marks
        progress.pop("bridges", None)
        if page.short:
            return _end_candidate(progress, page.offset, len(page.marks), page.page_size)
        return Step(page.offset + page.stride)
    if page.marks and set(page.marks) <= read:
        # Hundreds added at the top pushed the list down by more than a page: this one
        # shows what the pass read already, the pages it must join are further on.
        if _one_more_detour(progress):
            return Step(page.offset + page.stride, event=Event.FORWARD)
        progress["tail"] = page.marks  # read on from here, without proof
        progress.pop("bridges", None)
        why = f"connections were added faster than {MAX_BRIDGES} steps forward"
        return _lost(progress, Step(page.offset + page.stride), why)
    _open_gap(progress, page)
    return Step(
        page.offset + page.stride,
        bridge=max(0, page.offset - page.stride),
        event=Event.BRIDGE,
    )


def _open_gap(progress: PassState, page: _Page) -> None:
    """Keep a page that does not join the tail as the one a bridge must reach."""
    progress["ahead"] = page.marks
    progress["ahead_offset"] = page.offset
    progress["reach"] = page.marks
    progress["bridges"] = 1


def _place_bridge(progress: PassState, page: _Page) -> Step:
    """A bridge: it must join the tail, then (maybe over more bridges) the page ahead.

    ``progress`` keeps, while a gap is open, ``ahead`` and ``ahead_offset`` (the page
    read beyond the gap), ``reach`` (the nearest page known to join up to ``ahead``: a
    bridge must touch it) and ``bridges`` (read so far for this gap).
    """
    ahead = marks(progress.get("ahead"))
    ahead_offset = int(progress.get("ahead_offset", page.offset))
    after_ahead = ahead_offset + page.stride
    reach = marks(progress.get("reach"))
    progress["bridges"] = int(progress.get("bridges", 0)) + 1
    if joins(marks(progress.get("tail")), page.marks):
        if joins(page.marks, reach):
            _close(progress, ahead)
            if distinct(ahead) < page.page_size:
                return _end_candidate(progress, ahead_offset, len(ahead), page.page_size)
            return Step(after_ahead)
        if page.short:  # the list now ends inside the bridge
            _close(progress, page.marks)
            return _end_candidate(progress, page.offset, len(page.marks), page.page_size)
        # Additions pushed the bridge short of the pages ahead: bridge on from it.
        progress["tail"] = page.marks
        return _next_bridge(progress, after_ahead, page.offset + page.stride, page.page_size)
    # Still no join: more removals than one stride; step further back.
    if page.offset > 0 and (joins(page.marks, reach) or not reach):
        progress["reach"] = page.marks
        back = max(0, page.offset - page.stride)
        return _next_bridge(progress, after_ahead, back, page.page_size)
    return _lose(progress, after_ahead, page.page_size, "a shift moved connections out of reach")


def _next_bridge(progress: PassState, after_ahead: int, bridge_offset: int, page_size: int) -> Step:
    if int(progress["bridges"]) > MAX_BRIDGES:
        why = f"{MAX_BRIDGES} bridge pages did not close a gap"
        return _lose(progress, after_ahead, page_size, why)
    return Step(after_ahead, bridge=bridge_offset, event=Event.BRIDGE)


def _close(progress: PassState, tail: list[str]) -> None:
    progress["tail"] = tail
    for key in ("ahead", "ahead_offset", "reach", "bridges"):
        progress.pop(key, None)  # type: ignore[misc]


def _lose(progress: PassState, after_ahead: int, page_size: int, why: str) -> Step:
    """Give up on this gap: read on after the page ahead, without proof."""
    ahead = marks(progress.get("ahead"))
    ahead_offset = int(progress.get("ahead_offset", after_ahead - stride_for(page_size)))
    _close(progress, ahead)
    if distinct(ahead) < page_size:
        step = _end_candidate(progress, ahead_offset, len(ahead), page_size)
    else:
        step = Step(after_ahead)
    return _lost(progress, step, why)


def _lost(progress: PassState, step: Step, why: str) -> Step:
    """Mark the pass unprovable (the first reason stays); ``step.lost`` says it just was."""
    if not progress.get("lost"):
        progress["lost"] = why
        step.lost = why
    return step


def _one_more_detour(progress: PassState) -> bool:
    """Count a page read out of sequence for the problem at hand; False past MAX_BRIDGES."""
    progress["bridges"] = int(progress.get("bridges", 0)) + 1
    return int(progress["bridges"]) <= MAX_BRIDGES


def _give_up(progress: PassState, why: str) -> Step:
    """End a pass whose end or top cannot be pinned down: every record read is kept."""
    for key in ("phase", "end", "top", "moved", "bridges"):
        progress.pop(key, None)  # type: ignore[misc]
    done = Step(int(progress.get("next_offset", 0)), end=True)
    return _lost(progress, done, f"{why} ({MAX_BRIDGES} pages out of sequence)")


# Confirming the end


def _end_candidate(progress: PassState, offset: int, rows: int, page_size: int) -> Step:
    """A short page, now the tail: the end of the list, if a page read once more from
    its last rows joins it and brings nothing after them."""
    stride = stride_for(page_size)
    if progress["kind"] == "incremental":
        return Step(offset + stride, end=True)  # an incremental run deletes nothing
    progress["phase"] = Phase.CONFIRM.value
    progress["end"] = {"offset": offset, "rows": rows}
    progress.pop("bridges", None)
    # From its last rows: a page read again from its own offset would miss what a
    # member hidden on every reading keeps beyond it.
    confirm_at = max(0, offset + rows - overlap_for(page_size))
    return Step(offset + stride, bridge=confirm_at, event=Event.CONFIRM)


def _place_confirm(progress: PassState, page: _Page, read: t.AbstractSet[str]) -> Step:
    """The page that confirms (or not) that the short one, the tail, ends the list."""
    end = progress["end"]
    on_end = set(marks(progress.get("tail")))
    joined = next((i for i, m in enumerate(page.marks) if m in on_end), None)
    if joined is None:
        return _confirm_elsewhere(progress, page, read)
    beyond = [m for m in page.marks[joined:] if m not in on_end]
    if not beyond and page.short:
        return _confirmed(progress, page, read)
    _leave_confirm(progress)
    if not beyond:  # additions pushed the end further down: read on from this page
        progress["tail"] = page.marks
        return Step(page.offset + page.stride)
    # The list goes on after the short page: rows were missing from it (a member
    # hidden, a row dropped or shown twice). Read it again, a bridge to this page.
    _open_gap(progress, page)
    return Step(page.offset + page.stride, bridge=int(end["offset"]), event=Event.REPAIR)


def _confirm_elsewhere(progress: PassState, page: _Page, read: t.AbstractSet[str]) -> Step:
    """A confirming page that does not touch the short page: the list shifted."""
    regular = int(progress.get("next_offset", 0))
    if not page.marks:
        if not progress.get("tail") and int(progress["end"]["offset"]) == 0:
            return _confirmed(progress, page, read)  # the list is empty, and still is
        # Removals pulled the end up past this page: confirm a stride further up.
        if not _one_more_detour(progress):
            return _give_up(progress, "the end of the list kept moving up")
        back = max(0, page.offset - page.stride)
        return Step(regular, bridge=back, event=Event.BRIDGE)
    if set(page.marks) <= read:
        # Additions pushed the end down past this page: confirm a stride further on.
        if not _one_more_detour(progress):
            return _give_up(progress, "the end of the list kept moving down")
        return Step(regular, bridge=page.offset + page.stride, event=Event.FORWARD)
    # Connections the pass has not read, beyond a gap: bridge to them.
    _leave_confirm(progress)
    _open_gap(progress, page)
    back = max(0, page.offset - page.stride)
    return Step(page.offset + page.stride, bridge=back, event=Event.BRIDGE)


def _leave_confirm(progress: PassState) -> None:
    for key in ("phase", "end", "bridges"):
        progress.pop(key, None)  # type: ignore[misc]


def _confirmed(progress: PassState, page: _Page, read: t.AbstractSet[str]) -> Step:
    """The end is confirmed; newest first, the top is re-read next (see module doc)."""
    _leave_confirm(progress)
    done = Step(page.offset + page.stride, end=True)
    if progress.get("lost") or progress["identity"]["sort_type"] != NEWEST_FIRST:
        # Unprovable anyway; or an order where new contacts land anywhere, so the top
        # holds nothing the pass has not read (and no row it loaded can go missing).
        return done
    progress["phase"] = Phase.TOP.value
    if page.offset == 0:  # read from the top (a list of a few): the top re-read too
        return _place_top(progress, page, read)
    return Step(page.offset + page.stride, bridge=0, event=Event.TOP)


# The top of the list, re-read at the end of a full pass (newest first)


def _place_top(progress: PassState, page: _Page, read: t.AbstractSet[str]) -> Step:
    """Read from the top until the pass's first page (``first``) resumes.

    Keeps ``top`` (the last page of this reading: the next must join it), ``moved``
    (first-page connections met above) and ``above`` (the URNs above where the first
    page resumes, newest first: the bookmark's new top).
    """
    first = marks(progress.get("first") or progress.get("newest"))
    moved = marks(progress.get("moved"))
    previous = progress.get("top")
    if previous is not None and not joins(marks(previous), page.marks):
        # Removals at the top between two of its pages: read it again from 0.
        if not _one_more_detour(progress):
            return _give_up(progress, "the top of the list kept shifting")
        progress.pop("top", None)
        return Step(int(progress.get("next_offset", 0)), bridge=0, event=Event.RESTART)
    at = boundary(page.marks, first, moved, read=read)
    _remember_above(progress, page.urns[: len(page.urns) if at is None else at])
    if at is not None:
        for key in ("phase", "top", "moved", "bridges"):
            progress.pop(key, None)  # type: ignore[misc]
        return Step(page.offset + page.stride, end=True, resumes_at=at)
    if page.short:
        done = Step(page.offset + page.stride, end=True)
        if not first and not page.marks:
            return done  # the list was empty, and still is
        return _lost(progress, done, "the pass's first page was not found again at the top")
    progress["top"] = page.marks
    ours = set(first)
    progress["moved"] = [*moved, *(m for m in page.marks if m in ours and m not in moved)]
    return Step(page.offset + page.stride, bridge=page.offset + page.stride)


def _remember_above(progress: PassState, urns: t.Sequence[str]) -> None:
    """Keep the newest URNs above where the connections already loaded resume, in list
    order: emitted now or re-connected, they are the bookmark's new top."""
    above = progress.get("above", [])
    progress["above"] = list(dict.fromkeys([*above, *urns]))[:REMEMBERED]


# Incremental runs


def _stop_where_known(progress: PassState, page: _Page, step: Step, known: t.Sequence[str]) -> None:
    """An incremental run ends on the page where the last pass's connections resume."""
    moved = list(progress.get("moved", []))
    # No ``read`` here: below the boundary lies what earlier runs read.
    at = boundary(page.urns, known, moved)
    _remember_above(progress, page.urns[: len(page.urns) if at is None else at])
    if at is None:
        remembered = set(known)
        progress["moved"] = moved + [u for u in page.urns if u in remembered and u not in moved]
    else:
        progress["reached_known"] = True
        step.resumes_at = at
    if progress.get("reached_known") and step.bridge is None:
        step.end = True


def boundary(
    urns: t.Sequence[str],
    known: t.Sequence[str],
    moved: t.Iterable[str] = (),
    *,
    read: t.AbstractSet[str] | None = None,
) -> int | None:
    """Where the remembered connections resume in a page, or None if not in it.

    ``known``: the remembered connections, newest first; ``moved``: those met above this
    page. A contact who re-connected sits above new ones, alone or with others in their
    old order. Where the old list truly resumes, the remembered connections follow in
    their order with nothing unknown between them, and more of them are there than are
    missing (removed), or ``UNBROKEN`` of them follow each other with none missing, or
    (``read``: what this pass read, in the same form) nothing follows them that the
    pass has not read. (Pages overlap, so a stretch split by a page boundary is whole
    in the later page.)
    """
    rank: dict[str, int] = {}
    for i, urn in enumerate(known):
        rank.setdefault(urn, i)
    above = set(moved)
    for i, urn in enumerate(urns):
        if urn in rank:
            evidence = _evidence(urns[i:], rank, above, len(known), read or frozenset())
            if evidence is not None and _enough(evidence, urns[i:], rank, read):
                return i
        above.add(urn)
    return None


#: Remembered connections in an unbroken row (nothing missing between them) that show
#: where the old list resumes, however many others were removed: re-connecting three
#: neighbours in their old order is not a thing people do.
UNBROKEN = 3


def _enough(
    evidence: tuple[int, int, int],
    rest: t.Sequence[str],
    rank: t.Mapping[str, int],
    read: t.AbstractSet[str] | None,
) -> bool:
    present, gone, unbroken = evidence
    if present < min(2, len(rank)):
        return False
    if present > gone or unbroken >= min(UNBROKEN, len(rank)):
        return True
    return read is not None and all(urn in read or urn in rank for urn in rest)


def _evidence(
    rest: t.Sequence[str],
    rank: t.Mapping[str, int],
    above: t.AbstractSet[str],
    size: int,
    read: t.AbstractSet[str],
) -> tuple[int, int, int] | None:
    """If the remembered connections may resume at ``rest[0]``: how many of them are
    there from it on, how many are missing (neither there nor met above), and the
    longest unbroken row of them; None if the page contradicts it (one out of their
    order, or below an unknown one). What the pass read (``read``) may lie between
    them: a row an earlier reading missed."""

    def missing(after: int, before: int) -> int:
        return sum(1 for urn, r in rank.items() if after < r < before and urn not in above)

    last = rank[rest[0]]
    gone, present, older = missing(-1, last), 1, False
    row = longest = 1
    for urn in rest[1:]:
        r = rank.get(urn)
        if r is None and urn in read:
            continue
        if r is None:  # older than the remembered ones (or new): none may follow
            gone += 0 if older else missing(last, size)
            older = True
        elif older or r < last:
            return None
        elif r > last:
            skipped = missing(last, r)
            row = row + 1 if skipped == 0 else 1
            gone, present, last, longest = gone + skipped, present + 1, r, max(longest, row)
    return present, gone, longest


# Starting a pass


def why_full(identity: Identity, bookmark: Bookmark, *, full_refresh: bool) -> str:
    """Why a new pass must be a full one; "" when it may be incremental."""
    if full_refresh:
        return "the full_refresh setting is on"
    if identity["sort_type"] != "RECENTLY_ADDED":
        return "only the RECENTLY_ADDED order allows incremental runs"
    if not bookmark.get("newest"):
        return "the state holds no earlier pass"
    if "account" not in (bookmark.get("identity") or {"account": None}):
        return "the state was written before records carried their account"
    if bookmark.get("identity") != identity:
        return "the keyword or order changed since the last pass"
    return ""


def why_not_resume(
    current: t.Mapping[str, t.Any], identity: Identity, table: Table, *, full_refresh: bool
) -> str:
    """Why the unfinished pass in STATE cannot go on in this run; "" when it may."""
    if full_refresh and current["kind"] != "full":
        # A full refresh must end with ACTIVATE_VERSION, which an incremental pass never
        # sends: its remainder is dropped (at most its tasks in flight are lost).
        return "full_refresh is on: the unfinished incremental pass is dropped"
    if "page_size" not in current:
        # Written before passes kept their page size: its offsets cannot be trusted.
        return "The unfinished pass does not record its page size"
    if int(current["version"]) != table["version"]:
        # Its records carry an older table version: a target would delete them when
        # the new version is activated.
        return "The unfinished pass belongs to an older table version"
    if current.get("identity") != identity:
        return "The keyword or order changed since the unfinished pass"
    return ""


# Ending a pass


def activate_refusal(
    *, lost: str, total: int, last_total: int | None, max_deleted_fraction: float
) -> str:
    """Why a complete full pass must not send ACTIVATE_VERSION; "" when it may."""
    if lost:
        return f"continuity was lost ({lost})"
    if last_total:
        if total == 0:
            return f"it found no connections, where the last complete pass found {last_total}"
        if max_deleted_fraction < 1 and total < last_total * (1 - max_deleted_fraction):
            return (
                f"it found {total} connections, {last_total - total} fewer than the last "
                f"complete pass's {last_total} (more than max_deleted_fraction="
                f"{max_deleted_fraction:g})"
            )
    return ""


# STATE as loaded: from a file a user may have edited, moved or truncated


def state_problems(state: t.Mapping[str, t.Any]) -> dict[str, str]:
    """What is wrong in an account's part of STATE, by key; {} when all is usable.

    Each key is checked on its own, so a broken ``pass`` does not cost the bookmark.
    """
    problems = {}
    bookmark = state.get("bookmark")
    if bookmark is not None:
        problems["bookmark"] = _bookmark_problem(bookmark)
    current = state.get("pass")
    if current is not None:
        problems["pass"] = _pass_problem(current)
    window = state.get("task_window")
    if window is not None and (
        not isinstance(window, list) or not all(isinstance(w, str) for w in window)
    ):
        problems["task_window"] = "'task_window' is not a list of times"
    return {key: problem for key, problem in problems.items() if problem}


def _bookmark_problem(bookmark: t.Any) -> str:
    if not isinstance(bookmark, dict):
        return f"'bookmark' is a {type(bookmark).__name__}, not an object"
    newest = bookmark.get("newest", [])
    if not isinstance(newest, list) or not all(isinstance(u, str) for u in newest):
        return "'bookmark.newest' is not a list of URNs"
    for key in ("version", "proved", "total"):
        if key in bookmark and not whole(bookmark[key], minimum=0):
            return f"'bookmark.{key}' is not a whole number >= 0"
    if "identity" in bookmark and not isinstance(bookmark["identity"], dict):
        return "'bookmark.identity' is not an object"
    return ""


def _pass_problem(current: t.Any) -> str:
    if not isinstance(current, dict):
        return f"'pass' is a {type(current).__name__}, not an object"
    if current.get("kind") not in ("full", "incremental"):
        return "'pass.kind' is neither 'full' nor 'incremental'"
    if not isinstance(current.get("identity"), dict):
        return "'pass.identity' is not an object"
    problem = _numbers_problem(current, _PASS_NUMBERS, "pass")
    if problem:
        return problem
    for key in ("newest", "tail", "ahead", "reach", "first", "top", "moved", "above"):
        value = current.get(key)
        if value is not None and not _texts(value):
            return f"'pass.{key}' is not a list of URNs"
    if (
        "page_size" in current
        and int(current.get("next_offset", 0)) > 0
        and not current.get("tail")
    ):
        return "'pass.tail' is missing: nothing to prove the next page joins up"
    return _phase_problem(current) or _tasks_problem(current.get("tasks", []))


#: The numbers that steer a pass's loop, and their bounds (what the config allows).
_PASS_NUMBERS = {
    "version": (0, None),
    "page_size": (PAGE_SIZE_MIN, PAGE_SIZE_MAX),
    "next_offset": (0, MAX_CONNECTIONS),
    "emitted": (0, None),
    "ahead_offset": (0, MAX_CONNECTIONS),
    "bridges": (0, MAX_BRIDGES + 1),
}
_TASK_NUMBERS = {
    "offset": (0, MAX_CONNECTIONS),
    "attempt": (0, None),
    "not_found": (0, None),
}


def _numbers_problem(
    entry: t.Mapping[str, t.Any], bounds: t.Mapping[str, tuple[int, int | None]], where: str
) -> str:
    for key, (low, high) in bounds.items():
        if key in entry and not whole(entry[key], minimum=low, maximum=high):
            within = f"from {low} to {high}" if high is not None else f">= {low}"
            return f"'{where}.{key}' is not a whole number {within}"
    return ""


def _phase_problem(current: t.Mapping[str, t.Any]) -> str:
    phase = current.get("phase", Phase.SWEEP.value)
    if phase not in {p.value for p in Phase}:
        return "'pass.phase' is not one of " + ", ".join(p.value for p in Phase)
    end = current.get("end")
    if phase == Phase.CONFIRM.value and not (
        isinstance(end, dict)
        and whole(end.get("offset"), minimum=0, maximum=MAX_CONNECTIONS)
        and whole(end.get("rows"), minimum=0, maximum=PAGE_SIZE_MAX)
    ):
        return "'pass.end' is not the offset and rows of a page"
    reread = current.get("reread")
    if reread is not None and not (
        isinstance(reread, dict)
        and whole(reread.get("offset"), minimum=0, maximum=MAX_CONNECTIONS)
        and isinstance(reread.get("bridge"), bool)
    ):
        return "'pass.reread' is not the offset of a page"
    return ""


def _tasks_problem(tasks: t.Any) -> str:
    if not isinstance(tasks, list):
        return "'pass.tasks' is not a list"
    for entry in tasks:
        if not isinstance(entry, dict) or "offset" not in entry:
            return "a task in 'pass.tasks' has no offset"
        problem = _numbers_problem(entry, _TASK_NUMBERS, "pass.tasks[]")
        if problem:
            return problem
        if entry.get("id") is not None and not isinstance(entry["id"], str):
            return "a task in 'pass.tasks' has an id that is not text"
        for key in ("ids", "timed_out"):
            if key in entry and not _texts(entry[key]):
                return f"a task in 'pass.tasks' has '{key}' that are not a list of ids"
        if "bridge" in entry and not isinstance(entry["bridge"], bool):
            return "a task in 'pass.tasks' has a 'bridge' that is not true or false"
    return ""


def _texts(value: t.Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)

"""The decisions of a pass, kept pure (no I/O, no clock) so each can be tested alone.

Offsets shift under a pass: a connection removed above the read position pulls every
later page up, a new one pushes them down. So consecutive pages overlap by ``OVERLAP``
connections and a page counts only once it shares a connection with the page before
it: then nothing lies hidden between the two. When a page does not join up, a
*bridge* page is read one stride further back, where the connections the shift hid
now are; one bridge covers up to ``page_size - 2 * OVERLAP`` removals. A pass that
cannot be proven whole still reads to the end and keeps every record, but it never
ends in ACTIVATE_VERSION (which would delete the rows it missed).
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

#: Connections each page shares with the one before it. Up to OVERLAP - 1 removals
#: between two reads cost nothing; more cost one bridge page. Three costs no extra
#: task on a 3,000 list at page_size 100 (31 tasks either way: the last page must be
#: seen short) and about 3 % on long lists.
OVERLAP = 3
#: Bridges read for one gap before the pass is declared unprovable.
MAX_BRIDGES = 5


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
    bridge: bool  # re-read to close a gap, not a regular page


class Identity(t.TypedDict):
    """Which list a pass reads: passes compare only over the same one."""

    account: str
    keyword: str | None
    sort_type: str


class _PassKeys(t.TypedDict):
    identity: Identity
    kind: str  # "full" or "incremental"
    version: int
    page_size: int
    next_offset: int
    tasks: list[TaskEntry]
    newest: list[str]
    emitted: int


class PassState(_PassKeys, total=False):
    """The pass under way (``pass``), with its continuity (see place_page)."""

    tail: list[str]
    ahead: list[str]
    ahead_offset: int
    reach: list[str]
    bridges: int
    lost: str
    reached_known: bool
    started_at: str  # when the pass started (ISO 8601): its id in the network history


class Bookmark(t.TypedDict, total=False):
    """What the last completed pass learnt (``bookmark``)."""

    identity: Identity
    newest: list[str]
    version: int
    proved: int  # the version of the last full pass that proved itself complete
    total: int


class Table(t.TypedDict):
    """The table version every account's records carry (``table``; see table_for_run)."""

    version: int
    activated: bool  # ACTIVATE_VERSION was sent for it


def overlap_for(page_size: int) -> int:
    """The overlap used at this page size (a page must still bring something new)."""
    return min(OVERLAP, max(1, page_size // 4))


def stride_for(page_size: int) -> int:
    """How far apart consecutive page offsets are."""
    return page_size - overlap_for(page_size)


def tasks_for_full_pass(total: int, page_size: int) -> int:
    """Tasks an undisturbed full pass takes: pages until one comes back short."""
    stride = stride_for(page_size)
    # Page k covers [k * stride, k * stride + page_size); the first short one ends it.
    return max(0, math.floor((total - page_size) / stride)) + 2 if total >= page_size else 1


def joins(before: t.Sequence[str], after: t.Sequence[str]) -> bool:
    """Whether ``after`` continues ``before`` with nothing hidden between them.

    Each page is a contiguous stretch of the list as it was when read; a connection
    in both means the stretches touch, whatever moved in between.
    """
    return bool(set(before) & set(after))


@dataclass
class Step:
    """What to do after a page: where reading goes on, and what the pass learnt."""

    next_offset: int  # where the next regular page is read
    bridge: int | None = None  # offset of a bridge page to read first, if any
    end: bool = False  # the list is read to its end
    lost: str = ""  # why continuity is lost, if it just was


def place_page(
    progress: PassState, offset: int, urns: list[str], page_size: int, *, bridge: bool
) -> Step:
    """Fit one page into the pass and say what to read next; updates ``progress``.

    ``progress`` keeps ``tail`` (the URNs of the last page known to join up, None
    before the first page). While a gap is open it also keeps ``ahead`` and
    ``ahead_offset`` (the page read beyond the gap), ``reach`` (the URNs of the
    nearest page known to join up to ``ahead``: a bridge must touch it) and
    ``bridges`` (read so far for this gap).
    """
    stride = stride_for(page_size)
    short = len(urns) < page_size
    tail = progress.get("tail")
    if not bridge:
        if tail is None or joins(tail, urns):
            progress["tail"] = urns
            return Step(offset + stride, end=short)
        progress["ahead"] = urns
        progress["ahead_offset"] = offset
        progress["reach"] = urns
        progress["bridges"] = 1
        return Step(offset + stride, bridge=max(0, offset - stride))
    ahead = progress.get("ahead") or []
    after_ahead = int(progress.get("ahead_offset", offset)) + stride
    reach = progress.get("reach") or []
    progress["bridges"] = int(progress.get("bridges", 0)) + 1
    if joins(tail or [], urns):
        if short:  # the list now ends inside the bridge
            _close(progress, urns)
            return Step(after_ahead, end=True)
        if joins(urns, reach):
            _close(progress, ahead)
            return Step(after_ahead, end=len(ahead) < page_size)
        # Additions pushed the bridge short of the pages ahead: bridge on from it.
        progress["tail"] = urns
        return _next_bridge(progress, after_ahead, offset + stride, page_size)
    # Still no join: more removals than one stride; step further back.
    if offset > 0 and (joins(urns, reach) or not reach):
        progress["reach"] = urns
        return _next_bridge(progress, after_ahead, max(0, offset - stride), page_size)
    return _lose(progress, after_ahead, page_size, "a shift moved connections out of reach")


def _next_bridge(progress: PassState, after_ahead: int, bridge_offset: int, page_size: int) -> Step:
    if int(progress["bridges"]) > MAX_BRIDGES:
        why = f"{MAX_BRIDGES} bridge pages did not close a gap"
        return _lose(progress, after_ahead, page_size, why)
    return Step(after_ahead, bridge=bridge_offset)


def _close(progress: PassState, tail: list[str]) -> None:
    progress["tail"] = tail
    progress.pop("ahead", None)
    progress.pop("ahead_offset", None)
    progress.pop("reach", None)
    progress.pop("bridges", None)


def _lose(progress: PassState, after_ahead: int, page_size: int, why: str) -> Step:
    """Give up on this gap: read on after the page ahead, without proof."""
    ahead = progress.get("ahead") or []
    _close(progress, ahead)
    return Step(after_ahead, end=len(ahead) < page_size, lost=why)


# Incremental runs


def boundary(urns: t.Sequence[str], known: t.Sequence[str]) -> int | None:
    """Where the connections of the last pass begin in a page, or None if not in it.

    ``known`` is the bookmark's newest URNs, newest first. A contact who re-connected
    is known but sits alone above new ones; the old list starts where two known
    connections follow each other in their old order. (Pages overlap, so a pair split
    by a page boundary is whole in the later page.)
    """
    rank = {urn: i for i, urn in enumerate(known)}
    for i in range(len(urns) - 1):
        a, b = urns[i], urns[i + 1]
        if a in rank and b in rank and rank[a] < rank[b]:
            return i
    return None


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


# The table version, shared by the accounts


def table_for_run(
    table: Table | None,
    bookmarks: t.Mapping[str, Bookmark],
    needs_full: t.Mapping[str, str],
    *,
    full_refresh: bool,
    new_version: int,
) -> Table:
    """The table version this run's records carry: one for every account.

    A target that honours ACTIVATE_VERSION deletes every row of an older version,
    whichever account's it is. So all accounts share one version; a new one begins only
    when every account is to read its whole list (the first run, ``full_refresh``, no
    usable bookmark anywhere) and the one before is not still being read; and
    ACTIVATE_VERSION is sent only once every account's full pass under it proved
    complete (activation_due). ``bookmarks``: every account's, by name; ``needs_full``:
    each account's why_full without ``full_refresh`` ("" if none).
    """
    if table is not None:
        if not table["activated"] and any(
            bookmark.get("version") != table["version"] for bookmark in bookmarks.values()
        ):
            return table  # a new version's full passes are not all done: they go on
        if not full_refresh and not all(needs_full.values()):
            return table
    return {"version": new_version, "activated": False}


def joins_round(table: Table, bookmark: Bookmark) -> bool:
    """Whether an account must read its whole list to carry the table's new version."""
    return not table["activated"] and bookmark.get("version") != table["version"]


def activation_due(table: Table, bookmarks: t.Iterable[Bookmark]) -> bool:
    """Whether every account's full pass under the table version proved complete."""
    return not table["activated"] and all(
        bookmark.get("proved") == table["version"] for bookmark in bookmarks
    )


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
    """What is wrong in this stream's STATE, by top-level key; {} when all is usable.

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
    table = state.get("table")
    if table is not None and not (
        isinstance(table, dict)
        and _whole(table.get("version"), minimum=0)
        and isinstance(table.get("activated"), bool)
    ):
        problems["table"] = "'table' is not an object with a whole 'version' and 'activated'"
    accounts = state.get("accounts")
    if accounts is not None and (
        not isinstance(accounts, dict) or not all(isinstance(a, dict) for a in accounts.values())
    ):
        problems["accounts"] = "'accounts' is not an object with an object per account"
    return {key: problem for key, problem in problems.items() if problem}


def _bookmark_problem(bookmark: t.Any) -> str:
    if not isinstance(bookmark, dict):
        return f"'bookmark' is a {type(bookmark).__name__}, not an object"
    newest = bookmark.get("newest", [])
    if not isinstance(newest, list) or not all(isinstance(u, str) for u in newest):
        return "'bookmark.newest' is not a list of URNs"
    for key in ("version", "proved", "total"):
        if key in bookmark and not _whole(bookmark[key], minimum=0):
            return f"'bookmark.{key}' is not a whole number >= 0"
    if "identity" in bookmark and not isinstance(bookmark["identity"], dict):
        return "'bookmark.identity' is not an object"
    return ""


def _pass_problem(current: t.Any) -> str:
    if not isinstance(current, dict):
        return f"'pass' is a {type(current).__name__}, not an object"
    if current.get("kind") not in ("full", "incremental"):
        return "'pass.kind' is neither 'full' nor 'incremental'"
    for key in ("version", "next_offset", "emitted", "page_size"):
        if key in current and not _whole(current[key], minimum=0):
            return f"'pass.{key}' is not a whole number >= 0"
    if not isinstance(current.get("identity"), dict):
        return "'pass.identity' is not an object"
    for key in ("newest", "tail", "ahead", "reach"):
        value = current.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(u, str) for u in value)
        ):
            return f"'pass.{key}' is not a list of URNs"
    if (
        "page_size" in current
        and int(current.get("next_offset", 0)) > 0
        and not current.get("tail")
    ):
        return "'pass.tail' is missing: nothing to prove the next page joins up"
    tasks = current.get("tasks", [])
    if not isinstance(tasks, list):
        return "'pass.tasks' is not a list"
    for entry in tasks:
        if not isinstance(entry, dict) or not _whole(entry.get("offset"), minimum=0):
            return "a task in 'pass.tasks' has no whole offset >= 0"
        if entry.get("id") is not None and not isinstance(entry["id"], str):
            return "a task in 'pass.tasks' has an id that is not text"
        ids = entry.get("ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return "a task in 'pass.tasks' has 'ids' that are not a list of ids"
    return ""


def _whole(value: t.Any, *, minimum: int) -> bool:
    """A whole number (a decimal.Decimal from a STATE file counts) at least ``minimum``."""
    if isinstance(value, bool):
        return False
    try:
        return int(value) == value and int(value) >= minimum
    except (TypeError, ValueError, ArithmeticError):
        return False

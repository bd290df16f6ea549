"""The sandbox's list as a user changes it: connections added, removed, re-connected, on
the spot or once so many tasks exist, and pages answered spoilt (see server.Sandbox)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from tap_linkedin_connections.sandbox.data import RECENTLY_ADDED, Connection, ConnectionBook

#: Ways a completed page can be spoilt at one offset (see ListChanges.spoil_page).
PAGE_SPOILERS = ("drop_row", "duplicate_row")


@dataclass(frozen=True)
class Change:
    """A change to the list, due once ``after_tasks`` tasks exist."""

    after_tasks: int
    add: int
    remove: list[int]  # newest-first positions, as the list was before the change
    reconnect: list[int]  # newest-first positions moved to the top, the last on top
    reconnect_urns: list[str]  # people connected again (removed earlier, or current)


class Spoilers:
    """Pages answered spoilt, by offset (see Sandbox.spoil_page). Lock outside."""

    def __init__(self) -> None:
        self._by_offset: dict[int, tuple[str, int | None]] = {}  # (how, times left)

    def add(self, start: int, kind: str, times: int | None) -> None:
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError("start must be a whole number >= 0")
        if kind not in PAGE_SPOILERS:
            raise ValueError(f"unknown page spoiler {kind!r}; known: {', '.join(PAGE_SPOILERS)}")
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise ValueError("times must be a whole number of at least 1, or None")
        self._by_offset[start] = (kind, times)

    def spoil(self, start: int, page: list[Connection]) -> list[Connection]:
        """The page as the spoiler for its offset leaves it."""
        if start not in self._by_offset or len(page) < 2:
            return page
        kind, times = self._by_offset[start]
        if times is not None:
            if times <= 1:
                del self._by_offset[start]
            else:
                self._by_offset[start] = (kind, times - 1)
        middle = len(page) // 2
        if kind == "drop_row":
            return page[:middle] + page[middle + 1 :]
        return [*page[:middle], page[middle - 1], *page[middle + 1 :]]


class ListChanges:
    """The controls of the sandbox's list; the sandbox holds the state they change."""

    _cond: threading.Condition
    _book: ConnectionBook
    _tasks: dict[str, Any]
    _scheduled: list[Change]
    _spoilers: Spoilers

    def connections(
        self, sort_type: str | None = "RECENTLY_ADDED", keyword: str | None = None
    ) -> list[Connection]:
        """The whole current list as the API would page it (copies, extra field included)."""
        with self._cond:
            return [dict(c) for c in self._book.matching(sort_type, keyword)]

    def add_connections(self, count: int) -> list[Connection]:
        """Make `count` new connections (the newest); return them, newest first."""
        with self._cond:
            return [dict(c) for c in self._book.add(count)]

    def remove_connections(
        self, entity_urns: list[str] | None = None, positions: list[int] | None = None
    ) -> list[Connection]:
        """Remove by URN and/or newest-first position; return the removed, newest first."""
        with self._cond:
            return [dict(c) for c in self._book.remove(entity_urns, positions)]

    def reconnect_connections(self, people: list[int | str]) -> list[Connection]:
        """Connect again with these people, in the order given: each goes to the top of
        the newest-first list as itself (same URN, slug, headline), the last one given on
        top. A person is a newest-first position (a current connection) or an entity URN
        (a current connection, or one removed earlier). Returns them newest first."""
        if not isinstance(people, list) or not all(isinstance(p, (int, str)) for p in people):
            raise ValueError("give a list of newest-first positions or entity URNs")
        with self._cond:
            return [dict(c) for c in self._book.reconnect(self._urns_of(people))]

    def _urns_of(self, people: list[int | str]) -> list[str]:
        """The URNs of people given by newest-first position or URN; call with the lock."""
        newest_first = self._book.ordered(RECENTLY_ADDED)
        urns = []
        for person in people:
            if isinstance(person, str):
                urns.append(person)
            elif isinstance(person, int) and 0 <= person < len(newest_first):
                urns.append(str(newest_first[person]["entity_urn"]))
            else:
                raise ValueError(f"no connection at position {person!r}")
        return urns

    def schedule_change(
        self,
        after_tasks: int,
        *,
        add: int = 0,
        remove_positions: list[int] | None = None,
        reconnect_positions: list[int] | None = None,
        reconnect: list[str] | None = None,
    ) -> None:
        """Change the list once the `after_tasks`-th task (counted since start) is
        created, as a user connecting or removing people during a sync would: re-connect
        (move to the top) by newest-first position, then remove by position (both as
        the list was before the change; positions past the end are ignored), then connect
        again with the `reconnect` URNs (removed earlier or current), then add."""
        if not isinstance(after_tasks, int) or after_tasks < 1:
            raise ValueError("after_tasks must be a whole number of at least 1")
        change = Change(
            after_tasks,
            add,
            list(remove_positions or []),
            list(reconnect_positions or []),
            list(reconnect or []),
        )
        with self._cond:
            self._scheduled.append(change)

    def _apply_scheduled(self) -> None:
        """Apply the changes due now; call with the lock held."""
        due = [c for c in self._scheduled if c.after_tasks <= len(self._tasks)]
        self._scheduled = [c for c in self._scheduled if c.after_tasks > len(self._tasks)]
        for change in due:
            listing = self._book.ordered(RECENTLY_ADDED)
            doomed = [listing[p]["entity_urn"] for p in change.remove if p < len(listing)]
            moving = [listing[p]["entity_urn"] for p in change.reconnect if p < len(listing)]
            self._book.reconnect([str(urn) for urn in moving])
            self._book.remove(entity_urns=doomed)
            self._book.reconnect(change.reconnect_urns)
            self._book.add(change.add)

    def spoil_page(self, start: int, kind: str, times: int | None = 1) -> None:
        """Make the next `times` tasks (None: every task) for offset `start` answer a
        spoilt page: `drop_row` leaves out the row in the middle of the page (a member
        LinkedIn hides, a row OutX drops), `duplicate_row` shows the row before it there
        instead (one connection twice, one missing)."""
        with self._cond:
            self._spoilers.add(start, kind, times)

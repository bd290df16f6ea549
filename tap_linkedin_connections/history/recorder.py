"""The connections stream's history, per run: rows gain their history, passes end in it.

On the stream's own thread (see accounts/stream.py's hooks), for each account:

- each page's records go through the memory (memory.py) before they are emitted, and
  gain ``first_seen_at``, ``last_seen_at``, ``is_connected`` and ``removed_at``;
- when the account's pass ends: a pass that proved itself complete (the proof that
  allows ACTIVATE_VERSION) finds the connections it did not read gone; with
  ``removed_connections: mark`` every removed connection of the account is then sent
  again as a row with ``is_connected`` false, so that loaders which ignore
  ACTIVATE_VERSION show the removal. An incremental run that reached the old list
  finds which known connections it read above it rose (re-connections).

With ``task_ledger: none`` there is no memory: rows carry ``is_connected`` true and
``last_seen_at`` (when the run read them), ``first_seen_at`` and ``removed_at`` stay
null, the ``connection_events`` stream sends nothing, and ``mark`` falls back to
``delete`` (said in one warning per run).
"""

from __future__ import annotations

import collections
import enum
import typing as t
from dataclasses import dataclass
from datetime import datetime

from tap_linkedin_connections.clock import REAL_CLOCK, Clock
from tap_linkedin_connections.engine.ledger import ledger_url
from tap_linkedin_connections.history.columns import Record, history_fields
from tap_linkedin_connections.history.memory import ListMemory, PassRef
from tap_linkedin_connections.history.store import HistoryStore

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts.threads import Account
    from tap_linkedin_connections.outx.client import Log

#: The order whose list is newest first, which alone says which connection is newer.
NEWEST_FIRST = "RECENTLY_ADDED"


class RemovedConnections(enum.Enum):
    """The ``removed_connections`` setting: how a removal reaches the loader."""

    #: After a proven pass, every removed connection is sent as a row, is_connected
    #: false (and ACTIVATE_VERSION, which such rows survive: they carry the version).
    MARK = "mark"
    #: Only ACTIVATE_VERSION: loaders that honour it drop the rows it did not re-send.
    DELETE = "delete"


#: The one line said when ``mark`` cannot be kept for want of a memory.
NO_MEMORY_FOR_MARK = (
    "removed_connections is mark, but task_ledger is none: the memory of the list that "
    "tells which connections were removed lives in the task ledger's database, so "
    "removals reach the loader only as ACTIVATE_VERSION (as with delete)"
)


class PassView(t.Protocol):
    """What the recorder reads of an account's pass (connections.AccountPass), once the
    pass's thread put it on the outbox."""

    #: When the pass started (ISO 8601); the pass's id in the memory. "" before reading.
    started_at: str
    #: Whether this run completed a full pass that proved itself complete.
    proved: bool
    #: Whether this run ended an incremental pass on connections of the last pass.
    reached_known: bool
    #: The account's part of STATE: without ``pass`` once the pass ended.
    state: dict[str, t.Any]


@dataclass
class _Account:
    memory: ListMemory | None
    reader: PassView
    #: The newest connections the last pass remembered (the bookmark's), before this run.
    anchors: list[str]
    ranked: bool
    log: Log


class HistoryRecorder:
    """One run's history for the connections stream (main thread only)."""

    def __init__(
        self,
        store: HistoryStore | None,
        mode: RemovedConnections,
        logger: Log,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.store = store
        self.logger = logger
        self.clock = clock
        if store is None and mode is RemovedConnections.MARK:
            logger.warning("%s", NO_MEMORY_FOR_MARK)
            mode = RemovedConnections.DELETE
        self.mode = mode
        self._accounts: dict[str, _Account] = {}
        #: What each account's memory found this run, for its summary line.
        self.found: dict[str, collections.Counter[str]] = {}

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any], logger: Log) -> HistoryRecorder:
        """The run's recorder, its memory opened (LedgerError if it cannot be)."""
        url = ledger_url(config.get("task_ledger"))
        mode = RemovedConnections(config.get("removed_connections", "mark"))
        return cls(HistoryStore(url) if url is not None else None, mode, logger)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def track(
        self, account: Account, reader: PassView, state: t.Mapping[str, t.Any], log: Log
    ) -> None:
        """Follow an account's pass: its list's memory opened before any request."""
        config = account.config
        memory = None
        if self.store is not None:
            memory = ListMemory.of_account(self.store, account, self.clock.now())
        bookmark = state.get("bookmark") or {}
        self._accounts[account.name] = _Account(
            memory,
            reader,
            anchors=[str(u) for u in bookmark.get("newest") or []],
            ranked=config.get("sort_type") == NEWEST_FIRST,
            log=log,
        )
        self.found[account.name] = collections.Counter()

    def on_records(self, account: str, records: list[Record]) -> list[Record]:
        """A page's records, remembered, with their history columns."""
        followed = self._accounts[account]
        now = self.clock.now()
        facts = {}
        if followed.memory is not None:
            facts = followed.memory.remember_page(self._ref(followed), records, now)
            self.found[account].update(followed.memory.written)
            followed.memory.written.clear()
        for record in records:
            record.update(
                history_fields(
                    facts.get(record["entity_urn"]), record.get("connected_on"), read_at=now
                )
            )
        return records

    def on_finished(self, account: str) -> list[Record]:
        """The account's run ended well: what its pass's end tells, and with ``mark``
        after a proven pass, a row for every removed connection."""
        followed = self._accounts[account]
        reader, memory = followed.reader, followed.memory
        if memory is None or not reader.started_at:
            return []
        now = self.clock.now()
        current = self._ref(followed)
        removed: list[Record] = []
        if reader.proved:
            memory.end_proven(current, now)
            if self.mode is RemovedConnections.MARK:
                removed = memory.removed_records()
        elif reader.reached_known:
            memory.end_incremental(current, followed.anchors, now)
        elif "pass" not in reader.state:
            memory.end_pass(current)
        self.found[account].update(memory.written)
        memory.written.clear()
        self._summarise(followed, self.found[account], len(removed))
        return removed

    def _ref(self, followed: _Account) -> PassRef:
        started = followed.reader.started_at
        return PassRef(started, datetime.fromisoformat(started).timestamp(), followed.ranked)

    def _summarise(self, followed: _Account, found: t.Mapping[str, int], marked: int) -> None:
        events = ", ".join(f"{count} {event}" for event, count in sorted(found.items()))
        line = f"Network history: events found this run: {events or 'none'}"
        if self.mode is RemovedConnections.MARK and followed.reader.proved:
            line += f"; {marked} removed connections sent with is_connected false"
        followed.log.info("%s", line)

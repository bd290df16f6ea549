"""One list's memory: what a page read, how a pass ended, what the rows and events say.

Each method is one transaction holding the list's lock (SQLite: the database's), so a
page's connections, their events and the pass's progress are written together or not
at all: a run killed at any point leaves the memory as it was after some page, and the
next run decides from there (one event per change; see observe.py and events.py).
"""

from __future__ import annotations

import collections
import typing as t
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tap_linkedin_connections.history import observe
from tap_linkedin_connections.history.events import Change
from tap_linkedin_connections.history.store import (
    PREFIX,
    HistoryStore,
    connections,
    events,
    lists,
    passes,
)

Record = dict[str, t.Any]

#: The record fields the memory fills (see ``history_fields``), in the schema's order.
HISTORY_FIELDS = ("first_seen_at", "last_seen_at", "is_connected", "removed_at")
#: Record fields not kept in a remembered row: its history (given afresh) and the
#: email address (personal data, shared with the member as a connection).
NOT_KEPT = (*HISTORY_FIELDS, "email_address")


@dataclass(frozen=True)
class PassRef:
    """A pass, as the memory knows it: its id, and when it started (epoch seconds)."""

    pass_id: str
    started_at: float
    ranked: bool  # the list is read newest first (RECENTLY_ADDED)


@dataclass(frozen=True)
class RowFacts:
    """What a row says of a connection's history, from the memory."""

    first_seen_at: float
    last_seen_at: float
    removed_at: float | None
    in_baseline: bool


class ListMemory:
    """One list (an account, its name in the rows, a keyword) in the memory."""

    def __init__(self, store: HistoryStore, list_id: int) -> None:
        self.store = store
        self.list_id = list_id
        self._lock_name = f"{PREFIX}:list:{list_id}"
        #: Events written since the caller last cleared it, by event.
        self.written: collections.Counter[str] = collections.Counter()

    @classmethod
    def open(
        cls, store: HistoryStore, *, account: str, name: str, keyword: str, now: float
    ) -> ListMemory:
        """The list's memory, made on first use."""
        where = (
            lists.c.account == account,
            lists.c.account_name == name,
            lists.c.keyword == keyword,
        )
        with store.locked(f"{PREFIX}:lists:{account}") as conn:
            found = conn.execute(sa.select(lists.c.id).where(*where)).scalar()
            if found is None:
                found = conn.execute(
                    lists.insert().values(
                        account=account,
                        account_name=name,
                        keyword=keyword,
                        created_at=now,
                        top_rank=0,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
        return cls(store, int(found))

    # A page read

    def remember_page(
        self, current: PassRef, records: t.Sequence[Record], now: float
    ) -> dict[str, RowFacts]:
        """Remember a page's records (newest first), write their events; their facts."""
        seen = [observe.Seen(r["entity_urn"], r.get("headline")) for r in records]
        with self.store.locked(self._lock_name) as conn:
            listed = self._list(conn)
            baseline_set = listed.baseline_at is not None
            progress = self._progress(conn, current, int(listed.top_rank))
            remembered = self._remembered(conn, [s.entity_urn for s in seen])
            placed = observe.place_page(
                progress,
                {urn: row[0] for urn, row in remembered.items()},
                seen,
                ranked=current.ranked,
                baseline_set=baseline_set,
            )
            earlier = self._waiting(conn, current, below=observe.highest_rank(placed))
            rises = observe.risen(progress, placed, earlier, baseline_set=baseline_set)
            by_urn = {r["entity_urn"]: r for r in records}
            self._write_placed(conn, current, placed, by_urn, now)
            self._write_rises(conn, rises)
            changes = [(p.entity_urn, c) for p in placed for c in p.changes]
            changes += [(r.entity_urn, r.change) for r in rises if r.change is not None]
            self._write_events(conn, current.pass_id, changes, by_urn, now)
            self._save_progress(conn, progress, placed, rises)
            return self._facts(conn, list(by_urn), listed.baseline_at)

    def _list(self, conn: Connection) -> t.Any:
        return conn.execute(sa.select(lists).where(lists.c.id == self.list_id)).one()

    def _progress(self, conn: Connection, current: PassRef, top_rank: int) -> observe.Progress:
        row = conn.execute(
            sa.select(passes).where(
                passes.c.list_id == self.list_id, passes.c.pass_id == current.pass_id
            )
        ).one_or_none()
        if row is not None:
            prev = None if row.prev_rank is None else int(row.prev_rank)
            return observe.Progress(current.pass_id, int(row.base), int(row.position), prev)
        progress = observe.Progress(current.pass_id, observe.pass_base(top_rank))
        conn.execute(
            passes.insert().values(
                list_id=self.list_id,
                pass_id=current.pass_id,
                started_at=current.started_at,
                base=progress.base,
                position=0,
                prev_rank=None,
            )
        )
        return progress

    def _remembered(
        self, conn: Connection, urns: t.Sequence[str]
    ) -> dict[str, tuple[observe.Known, t.Any]]:
        rows = conn.execute(
            sa.select(connections).where(
                connections.c.list_id == self.list_id, connections.c.entity_urn.in_(urns)
            )
        )
        return {row.entity_urn: (_known(row), row) for row in rows}

    def _waiting(
        self, conn: Connection, current: PassRef, *, below: int | None
    ) -> list[observe.Waiting]:
        """The pass's waiting connections ranked below ``below`` (placed before this page)."""
        if below is None:
            return []
        rows = conn.execute(
            sa.select(connections).where(
                connections.c.list_id == self.list_id,
                connections.c.seen_pass == current.pass_id,
                connections.c.pending.is_not(None),
                connections.c.list_rank < below,
            )
        )
        return [_waiting(row) for row in rows]

    def _write_placed(
        self,
        conn: Connection,
        current: PassRef,
        placed: t.Sequence[observe.Placed],
        by_urn: t.Mapping[str, Record],
        now: float,
    ) -> None:
        def values(item: observe.Placed) -> dict[str, t.Any]:
            record = by_urn[item.entity_urn]
            return {
                "public_identifier": record.get("public_identifier"),
                "headline": item.headline,
                "last_seen_at": now,
                "removed_at": None,
                "list_position": item.position,
                "list_rank": item.rank,
                "seen_pass": current.pass_id,
                "pending": item.pending.value if item.pending else None,
                "record": {k: v for k, v in record.items() if k not in NOT_KEPT},
            }

        new = [
            {**values(p), "list_id": self.list_id, "entity_urn": p.entity_urn, "first_seen_at": now}
            for p in placed
            if p.new
        ]
        known = [{**values(p), "b_urn": p.entity_urn} for p in placed if not p.new]
        if new:
            conn.execute(connections.insert(), new)
        if known:
            conn.execute(
                connections.update()
                .where(
                    connections.c.list_id == self.list_id,
                    connections.c.entity_urn == sa.bindparam("b_urn"),
                )
                .values({name: sa.bindparam(name) for name in known[0] if name != "b_urn"}),
                known,
            )

    def _write_rises(self, conn: Connection, rises: t.Sequence[observe.Rise]) -> None:
        if rises:
            conn.execute(
                connections.update()
                .where(
                    connections.c.list_id == self.list_id,
                    connections.c.entity_urn == sa.bindparam("b_urn"),
                )
                .values(list_rank=sa.bindparam("b_rank"), pending=None),
                [{"b_urn": r.entity_urn, "b_rank": r.rank} for r in rises],
            )

    def _write_events(
        self,
        conn: Connection,
        pass_id: str,
        changes: t.Sequence[tuple[str, Change]],
        slugs: t.Mapping[str, t.Mapping[str, t.Any]],
        now: float,
    ) -> None:
        if not changes:
            return
        rows: list[dict[str, t.Any]] = [
            {
                "event_id": uuid.uuid4().hex,
                "list_id": self.list_id,
                "entity_urn": urn,
                "public_identifier": (slugs.get(urn) or {}).get("public_identifier"),
                "event": change.event.value,
                "observed_at": now,
                "previous_value": change.previous,
                "current_value": change.current,
                "pass_id": pass_id,
            }
            for urn, change in changes
        ]
        # Each change is decided once from the memory, written in the same transaction;
        # the unique key is the guard behind that: a row already there is kept.
        fresh = [row for row in rows if not self._event_exists(conn, row)]
        if fresh:
            conn.execute(events.insert(), fresh)
            self.written.update(row["event"] for row in fresh)

    def _event_exists(self, conn: Connection, row: t.Mapping[str, t.Any]) -> bool:
        return (
            conn.execute(
                sa.select(events.c.seq).where(
                    events.c.list_id == self.list_id,
                    events.c.entity_urn == row["entity_urn"],
                    events.c.event == row["event"],
                    events.c.pass_id == row["pass_id"],
                )
            ).first()
            is not None
        )

    def _save_progress(
        self,
        conn: Connection,
        progress: observe.Progress,
        placed: t.Sequence[observe.Placed],
        rises: t.Sequence[observe.Rise],
    ) -> None:
        conn.execute(
            passes.update()
            .where(passes.c.list_id == self.list_id, passes.c.pass_id == progress.pass_id)
            .values(position=progress.position, prev_rank=progress.prev_rank)
        )
        given = [p.rank for p in placed if p.rank is not None] + [r.rank for r in rises]
        if given:
            conn.execute(
                lists.update()
                .where(lists.c.id == self.list_id, lists.c.top_rank < max(given))
                .values(top_rank=max(given))
            )

    def _facts(
        self, conn: Connection, urns: t.Sequence[str], baseline_at: float | None
    ) -> dict[str, RowFacts]:
        return {
            urn: _facts(row, baseline_at) for urn, (_, row) in self._remembered(conn, urns).items()
        }

    # A pass ended

    def end_incremental(self, current: PassRef, anchors: t.Sequence[str], now: float) -> int:
        """An incremental run reached the connections of the last pass (``anchors``: the
        newest it remembered): those it read above them that were known rose. Returns
        the events written."""
        with self.store.locked(self._lock_name) as conn:
            listed = self._list(conn)
            progress = self._progress(conn, current, int(listed.top_rank))
            remembered = self._remembered(conn, anchors)
            ranks = [
                known.rank
                for known, _ in remembered.values()
                if known.rank is not None and not known.removed
            ]
            rises: list[observe.Rise] = []
            if current.ranked and ranks:
                waiting = self._waiting(conn, current, below=max(ranks))
                rises = observe.risen_above(
                    progress, waiting, max(ranks), baseline_set=listed.baseline_at is not None
                )
                self._write_rises(conn, rises)
                changes = [(r.entity_urn, r.change) for r in rises if r.change is not None]
                rows = self._remembered(conn, [urn for urn, _ in changes])
                slugs = {
                    urn: {"public_identifier": row.public_identifier}
                    for urn, (_, row) in rows.items()
                }
                self._write_events(conn, current.pass_id, changes, slugs, now)
                self._save_progress(conn, progress, [], rises)
            self._drop_progress(conn, current)
            return sum(1 for r in rises if r.change is not None)

    def end_proven(self, current: PassRef, now: float) -> int:
        """A pass proved itself complete: every remembered connection it did not read is
        gone (see observe.was_seen); the first such pass sets the baseline. Returns how
        many it found gone."""
        with self.store.locked(self._lock_name) as conn:
            listed = self._list(conn)
            baseline_set = listed.baseline_at is not None
            candidates = conn.execute(
                sa.select(connections).where(
                    connections.c.list_id == self.list_id,
                    connections.c.removed_at.is_(None),
                    sa.or_(
                        connections.c.seen_pass.is_(None),
                        connections.c.seen_pass != current.pass_id,
                    ),
                )
            ).all()
            gone = [
                row
                for row in candidates
                if not observe.was_seen(
                    row.seen_pass,
                    float(row.last_seen_at),
                    pass_id=current.pass_id,
                    started_at=current.started_at,
                )
            ]
            if gone:
                conn.execute(
                    connections.update()
                    .where(
                        connections.c.list_id == self.list_id,
                        connections.c.entity_urn == sa.bindparam("b_urn"),
                    )
                    .values(removed_at=now, pending=None),
                    [{"b_urn": row.entity_urn} for row in gone],
                )
            changes = [
                (row.entity_urn, change)
                for row in gone
                if (change := observe.removal(_known(row), baseline_set=baseline_set))
            ]
            slugs = {row.entity_urn: {"public_identifier": row.public_identifier} for row in gone}
            self._write_events(conn, current.pass_id, changes, slugs, now)
            if not baseline_set:
                conn.execute(
                    lists.update().where(lists.c.id == self.list_id).values(baseline_at=now)
                )
            self._drop_progress(conn, current)
            return len(gone)

    def end_pass(self, current: PassRef) -> None:
        """A pass ended that proves nothing of what it did not read."""
        with self.store.locked(self._lock_name) as conn:
            self._drop_progress(conn, current)

    def _drop_progress(self, conn: Connection, current: PassRef) -> None:
        conn.execute(
            passes.delete().where(
                passes.c.list_id == self.list_id,
                sa.or_(
                    passes.c.pass_id == current.pass_id,
                    # Passes a killed run never resumed (their state was lost).
                    passes.c.started_at < current.started_at - STALE_PASS_SECONDS,
                ),
            )
        )

    # Rows and events

    def removed_records(self) -> list[Record]:
        """A row for every connection a proven pass found gone (``is_connected`` false),
        as last sent, its email address left out."""
        with self.store.reading() as conn:
            baseline_at = self._list(conn).baseline_at
            rows = conn.execute(
                sa.select(connections)
                .where(connections.c.list_id == self.list_id, connections.c.removed_at.is_not(None))
                .order_by(connections.c.removed_at, connections.c.entity_urn)
            ).all()
        return [removed_record(row, baseline_at) for row in rows]


#: A pass under way this long ago that no run resumed is dropped from the memory.
STALE_PASS_SECONDS = 30 * 86400.0


def _known(row: t.Any) -> observe.Known:
    return observe.Known(
        headline=row.headline,
        removed=row.removed_at is not None,
        rank=None if row.list_rank is None else int(row.list_rank),
        seen_pass=row.seen_pass,
    )


def _waiting(row: t.Any) -> observe.Waiting:
    return observe.Waiting(
        entity_urn=row.entity_urn,
        rank=int(row.list_rank),
        position=int(row.list_position),
        pending=observe.Pending(row.pending),
        headline=row.headline,
    )


def _facts(row: t.Any, baseline_at: float | None) -> RowFacts:
    first = float(row.first_seen_at)
    return RowFacts(
        first_seen_at=first,
        last_seen_at=float(row.last_seen_at),
        removed_at=None if row.removed_at is None else float(row.removed_at),
        in_baseline=observe.in_baseline(first, baseline_at),
    )


def removed_record(row: t.Any, baseline_at: float | None) -> Record:
    """A removed connection's row: its last row as sent, with its history."""
    record = dict(row.record or {})
    record.setdefault("entity_urn", row.entity_urn)
    record["email_address"] = None
    record.update(history_fields(_facts(row, baseline_at), record.get("connected_on")))
    return record


def history_fields(
    facts: RowFacts | None, connected_on: str | None, *, read_at: float | None = None
) -> Record:
    """The history columns of a row: from the memory's facts, or with no memory
    (``facts`` None) only what a read tells: connected, read at ``read_at``."""
    if facts is None:
        return {
            "first_seen_at": None,
            "last_seen_at": timestamp(read_at) if read_at is not None else None,
            "is_connected": True,
            "removed_at": None,
        }
    first = observe.first_seen(
        facts.first_seen_at, midnight(connected_on), baseline=facts.in_baseline
    )
    return {
        "first_seen_at": timestamp(first),
        "last_seen_at": timestamp(facts.last_seen_at),
        "is_connected": facts.removed_at is None,
        "removed_at": timestamp(facts.removed_at) if facts.removed_at is not None else None,
    }


def timestamp(seconds: float) -> str:
    """Epoch seconds as the rows carry them: ISO 8601, UTC, microseconds."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="microseconds")


def midnight(day: str | None) -> float | None:
    """The start of a ``YYYY-MM-DD`` day in UTC, in epoch seconds; None if not a date."""
    if not day:
        return None
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=timezone.utc).timestamp()

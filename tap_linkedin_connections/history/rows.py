"""One list's rows in the memory, read and written inside a transaction of memory.py."""

from __future__ import annotations

import typing as t
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tap_linkedin_connections.history import observe
from tap_linkedin_connections.history.columns import NOT_KEPT, Record, RowFacts, facts_of
from tap_linkedin_connections.history.events import Change
from tap_linkedin_connections.history.store import connections, events, lists, passes

#: A pass under way this long ago that no run resumed is dropped from the memory.
STALE_PASS_SECONDS = 30 * 86400.0


@dataclass(frozen=True)
class PassRef:
    """A pass, as the memory knows it: its id, and when it started (epoch seconds)."""

    pass_id: str
    started_at: float
    ranked: bool  # the list is read newest first (RECENTLY_ADDED)


class ListRows:
    """A list's rows within one transaction (``conn``)."""

    def __init__(self, conn: Connection, list_id: int) -> None:
        self.conn = conn
        self.list_id = list_id

    def listed(self) -> t.Any:
        """The list's own row (baseline_at, top_rank)."""
        return self.conn.execute(sa.select(lists).where(lists.c.id == self.list_id)).one()

    def progress(self, current: PassRef, top_rank: int) -> observe.Progress:
        """Where the pass is in the list; a new pass starts above ``top_rank``."""
        row = self.conn.execute(
            sa.select(passes).where(
                passes.c.list_id == self.list_id, passes.c.pass_id == current.pass_id
            )
        ).one_or_none()
        if row is not None:
            return observe.Progress(
                current.pass_id,
                int(row.base),
                int(row.position),
                prev_rank=_whole_or_none(row.prev_rank),
                last_known_rank=_whole_or_none(row.last_known_rank),
                settled=bool(row.settled),
            )
        progress = observe.Progress(current.pass_id, observe.pass_base(top_rank))
        self.conn.execute(
            passes.insert().values(
                list_id=self.list_id,
                pass_id=current.pass_id,
                started_at=current.started_at,
                base=progress.base,
                position=0,
                prev_rank=None,
                last_known_rank=None,
                settled=False,
            )
        )
        return progress

    def remembered(self, urns: t.Sequence[str]) -> dict[str, t.Any]:
        """The remembered rows of these connections, by URN."""
        rows = self.conn.execute(
            sa.select(connections).where(
                connections.c.list_id == self.list_id, connections.c.entity_urn.in_(urns)
            )
        )
        return {row.entity_urn: row for row in rows}

    def waiting(self, pass_id: str, *, below: int | None) -> list[observe.Waiting]:
        """The pass's waiting connections ranked below ``below``."""
        if below is None:
            return []
        rows = self.conn.execute(
            sa.select(connections).where(
                connections.c.list_id == self.list_id,
                connections.c.seen_pass == pass_id,
                connections.c.pending.is_not(None),
                connections.c.list_rank < below,
            )
        )
        return [waiting_of(row) for row in rows]

    def write_placed(
        self,
        pass_id: str,
        placed: t.Sequence[observe.Placed],
        by_urn: t.Mapping[str, Record],
        now: float,
    ) -> None:
        """A page's connections, as placed: read now by this pass."""

        def values(item: observe.Placed) -> dict[str, t.Any]:
            record = by_urn[item.entity_urn]
            return {
                "public_identifier": record.get("public_identifier"),
                "headline": item.headline,
                "last_seen_at": now,
                "removed_at": None,
                "list_position": item.position,
                "list_rank": item.rank,
                "seen_pass": pass_id,
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
            self.conn.execute(connections.insert(), new)
        if known:
            names = [name for name in known[0] if name != "b_urn"]
            self._update_each(known, {name: sa.bindparam(name) for name in names})

    def write_rises(self, rises: t.Sequence[observe.Rise]) -> None:
        """Risen connections take their new ranks and wait no more."""
        if rises:
            self._update_each(
                [{"b_urn": r.entity_urn, "b_rank": r.rank} for r in rises],
                {"list_rank": sa.bindparam("b_rank"), "pending": None},
            )

    def mark_removed(self, urns: t.Sequence[str], now: float) -> None:
        """These connections were found gone by a proven pass."""
        if urns:
            self._update_each([{"b_urn": u} for u in urns], {"removed_at": now, "pending": None})

    def _update_each(self, rows: list[dict[str, t.Any]], values: dict[str, t.Any]) -> None:
        self.conn.execute(
            connections.update()
            .where(
                connections.c.list_id == self.list_id,
                connections.c.entity_urn == sa.bindparam("b_urn"),
            )
            .values(values),
            rows,
        )

    def write_events(
        self,
        pass_id: str,
        changes: t.Sequence[tuple[str, Change]],
        slugs: t.Mapping[str, str | None],
        now: float,
    ) -> list[str]:
        """The changes, as events found by the pass now; the events written.

        Each change is decided once from the memory, in the same transaction; the unique
        key (list, connection, event, pass) is the guard behind that: a row already
        there is kept, none is added beside it.
        """
        rows = [
            {
                "event_id": uuid.uuid4().hex,
                "list_id": self.list_id,
                "entity_urn": urn,
                "public_identifier": slugs.get(urn),
                "event": change.event.value,
                "observed_at": now,
                "previous_value": change.previous,
                "current_value": change.current,
                "pass_id": pass_id,
            }
            for urn, change in changes
        ]
        fresh = [row for row in rows if not self._event_exists(row)]
        if fresh:
            self.conn.execute(events.insert(), fresh)
        return [str(row["event"]) for row in fresh]

    def _event_exists(self, row: t.Mapping[str, t.Any]) -> bool:
        found = self.conn.execute(
            sa.select(events.c.seq).where(
                events.c.list_id == self.list_id,
                events.c.entity_urn == row["entity_urn"],
                events.c.event == row["event"],
                events.c.pass_id == row["pass_id"],
            )
        ).first()
        return found is not None

    def save_progress(self, progress: observe.Progress, ranks: t.Sequence[int]) -> None:
        """The pass's progress, and the list's top rank raised to the ranks given."""
        self.conn.execute(
            passes.update()
            .where(passes.c.list_id == self.list_id, passes.c.pass_id == progress.pass_id)
            .values(
                position=progress.position,
                prev_rank=progress.prev_rank,
                last_known_rank=progress.last_known_rank,
                settled=progress.settled,
            )
        )
        if ranks:
            self.conn.execute(
                lists.update()
                .where(lists.c.id == self.list_id, lists.c.top_rank < max(ranks))
                .values(top_rank=max(ranks))
            )

    def drop_progress(self, current: PassRef) -> None:
        """The pass ended; passes a killed run never resumed go too."""
        self.conn.execute(
            passes.delete().where(
                passes.c.list_id == self.list_id,
                sa.or_(
                    passes.c.pass_id == current.pass_id,
                    passes.c.started_at < current.started_at - STALE_PASS_SECONDS,
                ),
            )
        )

    def not_read_by(self, current: PassRef) -> list[t.Any]:
        """The connections still remembered as there that the pass did not read."""
        candidates = self.conn.execute(
            sa.select(connections).where(
                connections.c.list_id == self.list_id,
                connections.c.removed_at.is_(None),
                sa.or_(
                    connections.c.seen_pass.is_(None),
                    connections.c.seen_pass != current.pass_id,
                ),
            )
        ).all()
        return [
            row
            for row in candidates
            if not observe.was_seen(
                row.seen_pass,
                float(row.last_seen_at),
                pass_id=current.pass_id,
                started_at=current.started_at,
            )
        ]

    def set_baseline(self, now: float) -> None:
        self.conn.execute(lists.update().where(lists.c.id == self.list_id).values(baseline_at=now))

    def removed(self) -> list[t.Any]:
        """The connections a proven pass found gone, in the order they went."""
        return list(
            self.conn.execute(
                sa.select(connections)
                .where(connections.c.list_id == self.list_id, connections.c.removed_at.is_not(None))
                .order_by(connections.c.removed_at, connections.c.entity_urn)
            ).all()
        )

    def facts(self, urns: t.Sequence[str], baseline_at: float | None) -> dict[str, RowFacts]:
        return {urn: facts_of(row, baseline_at) for urn, row in self.remembered(urns).items()}


def _whole_or_none(value: t.Any) -> int | None:
    return None if value is None else int(value)


def known_of(row: t.Any) -> observe.Known:
    return observe.Known(
        headline=row.headline,
        removed=row.removed_at is not None,
        rank=None if row.list_rank is None else int(row.list_rank),
        seen_pass=row.seen_pass,
    )


def waiting_of(row: t.Any) -> observe.Waiting:
    return observe.Waiting(
        entity_urn=row.entity_urn,
        rank=int(row.list_rank),
        position=int(row.list_position),
        pending=observe.Pending(row.pending),
        headline=row.headline,
    )

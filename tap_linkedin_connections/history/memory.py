"""One list's memory: what a page read, how a pass ended, the rows of removed connections.

Each method is one transaction holding the list's lock (SQLite: the database's), so a
page's connections, their events and the pass's progress are written together or not
at all: a run killed at any point leaves the memory as it was after some page, and the
next run decides from there (one event per change; see observe.py and events.py).
"""

from __future__ import annotations

import collections
import typing as t

import sqlalchemy as sa

from tap_linkedin_connections.engine.ledger import account_fingerprint
from tap_linkedin_connections.history import observe
from tap_linkedin_connections.history.columns import Record, RowFacts, TopOfList, removed_record
from tap_linkedin_connections.history.events import Change
from tap_linkedin_connections.history.rows import ListRows, PassRef, known_of
from tap_linkedin_connections.history.store import PREFIX, HistoryStore, lists

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts.threads import Account

__all__ = ["ListMemory", "PassRef"]


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

    @classmethod
    def of_account(cls, store: HistoryStore, account: Account, now: float) -> ListMemory:
        """The memory of the list an account's settings read (its key, name, keyword)."""
        config = account.config
        return cls.open(
            store,
            account=account_fingerprint(config["api_url"], config["api_key"]),
            name=account.name,
            keyword=config.get("keyword") or "",
            now=now,
        )

    def job_changed(self, urn: str, slug: str | None, change: Change, at: float) -> None:
        """A job change a profile fetch found (at ``at``): one event, never two for one
        fetch (the fetch's time is its key beside the connection's)."""
        with self.store.locked(self._lock_name) as conn:
            rows = ListRows(conn, self.list_id)
            self.written.update(
                rows.write_events(f"profile@{at!r}", [(urn, change)], {urn: slug}, at)
            )

    def remember_page(
        self, current: PassRef, records: t.Sequence[Record], now: float
    ) -> dict[str, RowFacts]:
        """Remember a page's records (newest first), write their events; their facts."""
        seen = [observe.Seen(r["entity_urn"], r.get("headline")) for r in records]
        by_urn = {r["entity_urn"]: r for r in records}
        with self.store.locked(self._lock_name) as conn:
            rows = ListRows(conn, self.list_id)
            listed = rows.listed()
            baseline_set = listed.baseline_at is not None
            progress = rows.progress(current, int(listed.top_rank))
            remembered = {urn: known_of(row) for urn, row in rows.remembered(list(by_urn)).items()}
            placed = observe.place_page(
                progress,
                remembered,
                seen,
                ranked=current.ranked,
                baseline_set=baseline_set,
                above_pass=isinstance(records, TopOfList),
            )
            earlier = rows.waiting(current.pass_id, below=observe.highest_rank(placed))
            rises = observe.risen(progress, placed, earlier, baseline_set=baseline_set)
            rows.write_placed(current.pass_id, placed, by_urn, now)
            rows.write_rises(rises)
            changes = [(p.entity_urn, c) for p in placed for c in p.changes]
            changes += [(r.entity_urn, r.change) for r in rises if r.change is not None]
            slugs = {urn: r.get("public_identifier") for urn, r in by_urn.items()}
            slugs.update(self._slugs(rows, [urn for urn, _ in changes if urn not in slugs]))
            self.written.update(rows.write_events(current.pass_id, changes, slugs, now))
            ranks = [p.rank for p in placed if p.rank is not None] + [r.rank for r in rises]
            rows.save_progress(progress, ranks)
            return rows.facts(list(by_urn), listed.baseline_at)

    def end_incremental(self, current: PassRef, anchors: t.Sequence[str], now: float) -> None:
        """An incremental run reached the connections of the last pass (``anchors``: the
        newest it remembered): the known connections it read above them rose."""
        with self.store.locked(self._lock_name) as conn:
            rows = ListRows(conn, self.list_id)
            listed = rows.listed()
            progress = rows.progress(current, int(listed.top_rank))
            ranks = [
                known.rank
                for known in map(known_of, rows.remembered(anchors).values())
                if known.rank is not None and not known.removed
            ]
            if current.ranked and ranks:
                waiting = rows.waiting(current.pass_id, below=max(ranks))
                rises = observe.risen_above(
                    progress, waiting, max(ranks), baseline_set=listed.baseline_at is not None
                )
                rows.write_rises(rises)
                changes = [(r.entity_urn, r.change) for r in rises if r.change is not None]
                slugs = self._slugs(rows, [urn for urn, _ in changes])
                self.written.update(rows.write_events(current.pass_id, changes, slugs, now))
                rows.save_progress(progress, [r.rank for r in rises])
            rows.drop_progress(current)

    def end_proven(self, current: PassRef, now: float) -> int:
        """A pass proved itself complete: every remembered connection it did not read is
        gone (see observe.was_seen); the first such pass sets the baseline (and emits
        nothing). Returns how many it found gone."""
        with self.store.locked(self._lock_name) as conn:
            rows = ListRows(conn, self.list_id)
            baseline_set = rows.listed().baseline_at is not None
            gone = rows.not_read_by(current)
            rows.mark_removed([row.entity_urn for row in gone], now)
            changes = [
                (row.entity_urn, change)
                for row in gone
                if (change := observe.removal(known_of(row), baseline_set=baseline_set))
            ]
            slugs = {row.entity_urn: row.public_identifier for row in gone}
            self.written.update(rows.write_events(current.pass_id, changes, slugs, now))
            if not baseline_set:
                rows.set_baseline(now)
            rows.drop_progress(current)
            return len(gone)

    def end_pass(self, current: PassRef) -> None:
        """A pass ended that proves nothing of what it did not read."""
        with self.store.locked(self._lock_name) as conn:
            ListRows(conn, self.list_id).drop_progress(current)

    def removed_records(self) -> list[Record]:
        """A row for every connection a proven pass found gone (``is_connected`` false),
        as last sent, its email address left out."""
        with self.store.reading() as conn:
            rows = ListRows(conn, self.list_id)
            baseline_at = rows.listed().baseline_at
            return [removed_record(row, baseline_at) for row in rows.removed()]

    @staticmethod
    def _slugs(rows: ListRows, urns: t.Sequence[str]) -> dict[str, str | None]:
        return {urn: row.public_identifier for urn, row in rows.remembered(urns).items()}

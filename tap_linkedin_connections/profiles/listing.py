"""The connection list as the profiles see it: who, with which slug and headline, in what order.

Profiles are chosen from the account's list (choose.py): its newest connections first,
and those whose headline changed. The connections stream tells this listing what each
pass reads (``PassRecorder``), and the profiles stream reads it back
(``ConnectionListing.connections``), so a profile run reads no page of its own.

The table lives in the task ledger's database (the ``task_ledger`` setting), one row per
account and connection, holding no more than the profiles need: URN, slug, headline,
connection date, place in the list. (The network history, history/, remembers the list
too, keyed and ranked for its events; reading the profiles' choice from it instead is
the next step, which would leave one memory of the list.)

Order: a pass reads the newest-first list (RECENTLY_ADDED) from the top, so the n-th
connection it reads is the n-th newest at that time. Each row keeps the pass that last
read it (``pass_seq``, a time) and its place in that pass (``pass_index``): newest first
is the latest pass first, then its order. An incremental pass reads only the new
connections at the top, which its later ``pass_seq`` puts above the rest; a full pass
re-reads everyone in order; a pass resumed by a later run keeps its ``pass_seq``. With
LinkedIn's relevance order the place means nothing and is not kept.

A pass that proved itself complete (the proof that allows ACTIVATE_VERSION) over the
whole list (no ``keyword``) marks every row it did not read as gone: no profile of a
removed connection is fetched.
"""

from __future__ import annotations

import datetime
import typing as t
from dataclasses import dataclass

import sqlalchemy as sa

from tap_linkedin_connections.engine.ledger import TaskLedger, create_tables
from tap_linkedin_connections.profiles.choose import ListedConnection

metadata = sa.MetaData()

listed = sa.Table(
    "tap_linkedin_connections_listed_connections",
    metadata,
    sa.Column("account", sa.String(32), primary_key=True),
    sa.Column("entity_urn", sa.String(200), primary_key=True),
    sa.Column("public_identifier", sa.Text),
    sa.Column("headline", sa.Text),
    sa.Column("connected_at", sa.Float),  # seconds since the epoch; None: not known
    sa.Column("pass_seq", sa.Float),  # the pass that last read it; None: no order
    sa.Column("pass_index", sa.Integer, nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
    sa.Column("gone", sa.Boolean, nullable=False, default=False),
)

#: Per account: the pass under way (its seq and how many connections it read so far),
#: and when a pass last proved the whole list complete.
passes = sa.Table(
    "tap_linkedin_connections_listed_passes",
    metadata,
    sa.Column("account", sa.String(32), primary_key=True),
    sa.Column("pass_seq", sa.Float, nullable=False),
    sa.Column("seen", sa.Integer, nullable=False),
    sa.Column("whole_at", sa.Float),
)

#: Rows written per transaction while a pass is read.
BATCH = 200


@dataclass(frozen=True)
class ListingSummary:
    """What the listing knows of an account."""

    connections: int  # not gone
    whole_at: float | None  # when a pass last read the whole list; None: never


def connected_at(record: t.Mapping[str, t.Any]) -> float | None:
    """A record's ``connected_on`` (YYYY-MM-DD) as seconds since the epoch, if any."""
    text = record.get("connected_on")
    if not isinstance(text, str):
        return None
    try:
        day = datetime.date.fromisoformat(text[:10])
    except ValueError:
        return None
    return datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc).timestamp()


class ConnectionListing:
    """One account's listed connections, in the ledger's database."""

    def __init__(self, ledger: TaskLedger) -> None:
        self.ledger = ledger
        self.account = ledger.account
        create_tables(ledger.engine, metadata)

    def connections(self) -> list[ListedConnection]:
        """The account's connections not known to be gone, newest first where known."""
        statement = (
            sa.select(listed)
            .where(listed.c.account == self.account, listed.c.gone.is_(False))
            .order_by(
                listed.c.pass_seq.is_(None),
                listed.c.pass_seq.desc(),
                listed.c.pass_index,
                listed.c.entity_urn,
            )
        )
        with self.ledger.locked() as conn:
            rows = list(conn.execute(statement))
        return [
            ListedConnection(
                entity_urn=row.entity_urn,
                public_identifier=row.public_identifier,
                headline=row.headline,
                position=index if row.pass_seq is not None else None,
                connected_at=row.connected_at,
            )
            for index, row in enumerate(rows)
        ]

    def slugs(self, urns: t.Collection[str]) -> dict[str, str]:
        """The slugs of these connections, where known."""
        if not urns:
            return {}
        statement = sa.select(listed.c.entity_urn, listed.c.public_identifier).where(
            listed.c.account == self.account, listed.c.entity_urn.in_(list(urns))
        )
        with self.ledger.locked() as conn:
            return {urn: slug for urn, slug in conn.execute(statement) if slug}

    def empty(self) -> bool:
        """Whether no pass ever told the listing about the account's connections."""
        with self.ledger.locked() as conn:
            found = conn.execute(
                sa.select(passes.c.account).where(passes.c.account == self.account)
            ).first()
        return found is None

    def summary(self) -> ListingSummary:
        with self.ledger.locked() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    listed.c.account == self.account, listed.c.gone.is_(False)
                )
            ).scalar_one()
            whole_at = conn.execute(
                sa.select(passes.c.whole_at).where(passes.c.account == self.account)
            ).scalar_one_or_none()
        return ListingSummary(int(count), whole_at)


class PassRecorder:
    """Writes what one account's pass reads into its listing, as the records go by.

    Args:
        listing: the account's listing.
        resumed: whether the run resumes a pass an earlier run began (it keeps that
            pass's place numbers).
        ordered: whether the list is read newest first (RECENTLY_ADDED).
        whole_list: whether the pass reads the whole list (no keyword filter), so that
            a complete one tells who is gone.
    """

    def __init__(
        self, listing: ConnectionListing, *, resumed: bool, ordered: bool, whole_list: bool
    ) -> None:
        self.listing = listing
        self.ordered = ordered
        self.whole_list = whole_list
        self._pending: list[t.Mapping[str, t.Any]] = []
        self.pass_seq, self._seen = self._begin(resumed)

    def seen(self, record: t.Mapping[str, t.Any]) -> None:
        """One record of the pass, in the order read."""
        self._pending.append(record)
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the records seen since the last flush."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        ledger = self.listing.ledger
        now = ledger.clock.now()
        rows = []
        for record in pending:
            rows.append(
                {
                    "account": ledger.account,
                    "entity_urn": str(record["entity_urn"]),
                    "public_identifier": record.get("public_identifier"),
                    "headline": record.get("headline"),
                    "connected_at": connected_at(record),
                    "pass_seq": self.pass_seq if self.ordered else None,
                    "pass_index": self._seen,
                    "seen_at": now,
                    "gone": False,
                }
            )
            self._seen += 1
        with ledger.locked() as conn:
            _upsert(conn, ledger.account, rows)
            conn.execute(
                passes.update()
                .where(passes.c.account == ledger.account)
                .values(pass_seq=self.pass_seq, seen=self._seen)
            )

    def ended(self, *, proved: bool) -> None:
        """The run's part of the pass ended; ``proved``: the pass proved the list complete."""
        self.flush()
        if not (proved and self.whole_list):
            return
        ledger = self.listing.ledger
        with ledger.locked() as conn:
            conn.execute(
                listed.update()
                .where(listed.c.account == ledger.account, listed.c.seen_at < self._began)
                .values(gone=True)
            )
            conn.execute(
                passes.update()
                .where(passes.c.account == ledger.account)
                .values(whole_at=ledger.clock.now())
            )

    def _begin(self, resumed: bool) -> tuple[float, int]:
        """The pass's seq and the place of its next connection."""
        ledger = self.listing.ledger
        now = ledger.clock.now()
        with ledger.locked() as conn:
            row = conn.execute(
                sa.select(passes.c.pass_seq, passes.c.seen, passes.c.whole_at).where(
                    passes.c.account == ledger.account
                )
            ).one_or_none()
            if row is None:
                conn.execute(passes.insert().values(account=ledger.account, pass_seq=now, seen=0))
            elif not resumed:
                conn.execute(
                    passes.update()
                    .where(passes.c.account == ledger.account)
                    .values(pass_seq=now, seen=0)
                )
        if row is not None and resumed:
            # The pass began in an earlier run: rows it read then count as read by it.
            self._began = float(row.pass_seq)
            return float(row.pass_seq), int(row.seen)
        self._began = now
        return now, 0


def _upsert(conn: sa.Connection, account: str, rows: list[dict[str, t.Any]]) -> None:
    """Insert the rows, or update the ones the account has already (one batch)."""
    urns = [row["entity_urn"] for row in rows]
    known = set(
        conn.execute(
            sa.select(listed.c.entity_urn).where(
                listed.c.account == account, listed.c.entity_urn.in_(urns)
            )
        ).scalars()
    )
    fresh = {row["entity_urn"]: row for row in rows if row["entity_urn"] not in known}
    if fresh:
        conn.execute(listed.insert(), list(fresh.values()))
    for row in rows:
        if row["entity_urn"] in known:
            conn.execute(
                listed.update()
                .where(listed.c.account == account, listed.c.entity_urn == row["entity_urn"])
                .values({k: v for k, v in row.items() if k not in ("account", "entity_urn")})
            )

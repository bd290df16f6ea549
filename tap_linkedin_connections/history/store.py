"""The memory of each account's list: its tables, beside the task ledger's, in its database.

The ``task_ledger`` setting names one database (a SQLite file by default, or a
PostgreSQL URL) for both: the ledger's tasks and this memory. With ``task_ledger: none``
there is no memory (see recorder.py for what that means for rows and events).

Tables (SQLAlchemy Core, so SQLite and PostgreSQL alike):

- ``..._history_lists``: one row per list: the account (the ledger's fingerprint of its
  API URL and key, never the key), its name in the rows, and the keyword filter ('' for
  none); when its first proven pass ended (``baseline_at``), and the top rank given.
- ``..._history_connections``: one row per list and connection: when the tap first and
  last read it, its last headline and profile slug, when a proven pass found it gone
  (``removed_at``, null while connected), its place in the list (``list_position`` in
  the last pass that read it; ``list_rank``, see observe.py), which pass read it last,
  and its last row as sent (for a removed connection's row; never its email address).
- ``..._history_passes``: the passes under way: where each is in the list (kept across
  the runs of a pass spread over days), dropped when the pass ends.
- ``..._history_events``: the connection events, each once (a unique key per list,
  connection, event and pass), numbered in the order they were found (``seq``: the
  ``connection_events`` stream's replication key), with an ``event_id`` that the
  stream sends as its key.
- ``..._history_schema``: the version of these tables. Created here on first open, under
  the ledger's lock; a later release migrates from the version it finds, and a release
  that finds a newer version than its own stops in one line rather than misread it.

The memory holds names and headlines of the member's connections (what the warehouse
holds too): the ledger's database is no longer task metadata alone.
"""

from __future__ import annotations

import contextlib
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tap_linkedin_connections.engine.ledger import (
    LedgerError,
    describe,
    failure_line,
    hold_lock,
    open_database,
)

#: The version of the tables below; bump it with a migration in ``_migrate``.
SCHEMA_VERSION = 1

PREFIX = "tap_linkedin_connections_history"

metadata = sa.MetaData()

schema = sa.Table(
    f"{PREFIX}_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
)

lists = sa.Table(
    f"{PREFIX}_lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(32), nullable=False),  # the ledger's fingerprint
    sa.Column("account_name", sa.String(100), nullable=False),
    sa.Column("keyword", sa.Text, nullable=False),  # '' for none
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("baseline_at", sa.Float),  # when its first proven pass ended
    sa.Column("top_rank", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("account", "account_name", "keyword", name=f"uq_{PREFIX}_lists"),
)

connections = sa.Table(
    f"{PREFIX}_connections",
    metadata,
    sa.Column("list_id", sa.Integer, sa.ForeignKey(lists.c.id), primary_key=True),
    sa.Column("entity_urn", sa.String(200), primary_key=True),
    sa.Column("public_identifier", sa.Text),
    sa.Column("headline", sa.Text),
    sa.Column("first_seen_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("removed_at", sa.Float),
    sa.Column("list_position", sa.Integer),
    sa.Column("list_rank", sa.BigInteger),
    sa.Column("seen_pass", sa.String(40)),
    sa.Column("pending", sa.String(12)),
    sa.Column("record", sa.JSON),
    sa.Index(f"ix_{PREFIX}_connections_pending", "list_id", "seen_pass", "list_rank"),
)

passes = sa.Table(
    f"{PREFIX}_passes",
    metadata,
    sa.Column("list_id", sa.Integer, sa.ForeignKey(lists.c.id), primary_key=True),
    sa.Column("pass_id", sa.String(40), primary_key=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("base", sa.BigInteger, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("prev_rank", sa.BigInteger),
    sa.Column("last_known_rank", sa.BigInteger),
    sa.Column("settled", sa.Boolean, nullable=False),
)

events = sa.Table(
    f"{PREFIX}_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(32), nullable=False, unique=True),
    sa.Column("list_id", sa.Integer, sa.ForeignKey(lists.c.id), nullable=False),
    sa.Column("entity_urn", sa.String(200), nullable=False),
    sa.Column("public_identifier", sa.Text),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("observed_at", sa.Float, nullable=False),
    sa.Column("previous_value", sa.Text),
    sa.Column("current_value", sa.Text),
    sa.Column("pass_id", sa.String(40), nullable=False),
    sa.UniqueConstraint("list_id", "entity_urn", "event", "pass_id", name=f"uq_{PREFIX}_events"),
    sa.Index(f"ix_{PREFIX}_events_list", "list_id", "seq"),
    # SQLite: never reuse a number, so the stream's bookmark never skips an event.
    sqlite_autoincrement=True,
)


class HistoryStore:
    """The memory's database: an engine on the ledger's URL, its tables made sure of."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = open_database(url)
        try:
            _create_tables(self.engine)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            self.engine.dispose()
            raise LedgerError(failure_line(url, "cannot be opened", exc)) from None
        except LedgerError:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def locked(self, name: str) -> t.Iterator[Connection]:
        """A transaction holding ``name``'s lock (SQLite: the database's) until it ends."""
        try:
            with self.engine.begin() as conn:
                hold_lock(conn, name)
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(failure_line(self.url, "failed", exc)) from None

    @contextlib.contextmanager
    def reading(self) -> t.Iterator[Connection]:
        """A transaction that only reads."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(failure_line(self.url, "failed", exc)) from None


def _create_tables(engine: Engine) -> None:
    """The tables, made or migrated once, under a lock; looked at again if another
    run made them between the check and the CREATE."""
    try:
        _create_and_migrate(engine)
    except sa.exc.DBAPIError:
        _create_and_migrate(engine)


def _create_and_migrate(engine: Engine) -> None:
    with engine.begin() as conn:
        hold_lock(conn, PREFIX)  # one process creates or migrates; the others wait
        metadata.create_all(conn)
        found = conn.execute(sa.select(schema.c.version).where(schema.c.id == 1)).scalar()
        if found is None:
            conn.execute(schema.insert().values(id=1, version=SCHEMA_VERSION))
        elif int(found) > SCHEMA_VERSION:
            msg = (
                f"the task ledger {describe(str(engine.url))} holds the network history "
                f"of a newer release (schema {found}, this one reads {SCHEMA_VERSION}): "
                "upgrade this tap, or point task_ledger elsewhere"
            )
            raise LedgerError(msg)
        elif int(found) < SCHEMA_VERSION:
            _migrate(conn, int(found))


def _migrate(conn: Connection, found: int) -> None:
    """Bring the tables from version ``found`` to SCHEMA_VERSION (none yet: 1 is the
    first), then record it."""
    conn.execute(schema.update().where(schema.c.id == 1).values(version=SCHEMA_VERSION))

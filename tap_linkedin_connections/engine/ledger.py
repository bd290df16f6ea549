"""The task ledger: every task the tap asked OutX for, per account, outside Singer STATE.

Singer STATE reaches Meltano only when the target echoes it (at the end of a run, or
every few minutes), so a killed pipeline forgets every task it created. The ledger does
not: a row is written *before* each create request (the request may reach OutX even if
its answer is lost) and completed with the task id as soon as the answer arrives.

A row is keyed by (account, task kind, key): the kind's name and the key's fields as
canonical JSON (see outx/kinds.py). From the rows come:

- the account's pacing budget: every run on the account, whatever its STATE and
  whichever kind of task it creates, counts the same rows (see ``pacing.py``);
- resumption: a run whose STATE lost its pass re-polls the tasks the ledger knows for
  each key (``reusable_task``) instead of creating them again;
- evidence about OutX's queue: the tasks queued on the account after a given one
  (``queued_after``; see ``queue.py``).

Storage is SQLAlchemy Core, so one code serves a SQLite file (the default, in the
user's state directory) and a PostgreSQL URL (for pipelines spread over machines or
ephemeral containers). The budget check and the insert run in one transaction that
holds a per-account lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level
advisory lock), so concurrent runs cannot both spend the last slot.

The first schema (``tap_linkedin_connections_tasks``: query, page_size, start_offset)
held only pages of connections; it is migrated once, on open, under a lock: its rows
move to the keyed table as kind ``connections_page`` (see ``_migrate_v1``) and the old
table is dropped. Every process sharing a ledger must be upgraded together: a release
from before would start an empty table of the first schema, and count none of the rows.

An account is a fingerprint of the API URL and key (sha256, truncated): the key itself
is never stored.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import re
import typing as t
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tap_linkedin_connections.clock import REAL_CLOCK, Clock

#: The ``task_ledger`` value that turns the ledger off (pacing then lives in STATE).
LEDGER_OFF = "none"

#: How long a completed or queued task may be re-read instead of created again, when a
#: run finds it in the ledger. A page read from OutX this many seconds ago may be stale
#: (connections added since shift the offsets); within a few hours the risk is small,
#: and every re-read saves a LinkedIn action.
FRESH_TASK_SECONDS = 3 * 3600.0

#: Rows older than this are deleted now and then: pacing looks back one day, and
#: resumption FRESH_TASK_SECONDS.
KEPT_SECONDS = 7 * 86400.0

#: The most later tasks ``queued_after`` returns: enough to see the queue move.
LATER_TASKS_LOOKED_AT = 5


class Outcome(enum.Enum):
    """What became of a create; the value is what the ledger stores."""

    #: Sent, no answer yet. It stays when the answer never arrived: the task may exist,
    #: so it counts against the budget like a created one.
    SENDING = "sending"
    NOT_QUEUED = "not_queued"  # the answer proved nothing was queued (HTTP 429, refused)
    QUEUED = "queued"
    COMPLETED = "completed"  # its result was read (and may be read again, see REUSABLE)
    FAILED = "failed"
    NOT_FOUND = "not_found"
    STALLED = "stalled"  # timed out while running
    LOST = "lost"  # overtaken in OutX's queue while pending (see queue.py)


#: Outcomes whose task may be polled again for its result.
REUSABLE = (Outcome.QUEUED, Outcome.COMPLETED)

metadata = sa.MetaData()

tasks = sa.Table(
    "tap_linkedin_connections_task_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("key", sa.Text, nullable=False),  # the key's fields, canonical JSON
    sa.Column("created_at", sa.Float, nullable=False),  # when the request was about to go
    sa.Column("answered_at", sa.Float),
    sa.Column("task_id", sa.String(100)),
    sa.Column("outcome", sa.String(20), nullable=False),
    # Who read the task's result last: a pass, by its reader token (see ``read``).
    sa.Column("read_by", sa.String(32)),
    # Set once the pass that read the task ended: later passes read afresh.
    sa.Column("used", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_tap_linkedin_connections_task_ledger_account", "account", "created_at"),
    sa.Index("ix_tap_linkedin_connections_task_ledger_task", "task_id"),
)

#: The first schema's table, as the release before the task kinds wrote it.
V1_TABLE = "tap_linkedin_connections_tasks"
#: Its rows were all pages of connections: the kind they become.
V1_KIND = "connections_page"


class LedgerError(Exception):
    """The ledger cannot be opened or written. One line, never a password."""


#: What a URL starts with: a scheme and a colon. Two characters at least, so that a
#: Windows drive (``C:``) stays a path.
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")

#: What to do when the ledger cannot be opened, and what turning it off costs.
_OPEN_REMEDY = (
    "check the path or URL, its permissions and (for a database server) that it is up, "
    "or set task_ledger to another file path, or to none (then pacing counts only the "
    "runs sharing one state, and a run whose state was lost creates its tasks again)"
)

#: The extra that installs the PostgreSQL driver.
_POSTGRES_EXTRA = "pip install 'tap-linkedin-connections[postgres]'"


def ledger_setting_problem(setting: str | None) -> str | None:
    """What is wrong with a ``task_ledger`` setting, in one line; None if nothing.

    Text that starts like a URL but is not one (``postgresql+psycopg:/user@host/db``,
    one slash short) would otherwise be taken for a relative file path, and the ledger
    would silently be a new SQLite file. Only the scheme is shown: the rest may hold a
    password.
    """
    text = (setting or "").strip()
    if "://" in text:
        try:
            sa.make_url(text)
        except (sa.exc.ArgumentError, ValueError):
            return "'task_ledger' is not a readable SQLAlchemy URL (scheme://user@host/db)"
        return None
    scheme = _URL_SCHEME.match(text)
    if scheme:
        return (
            f"'task_ledger' starts like a URL ('{scheme.group(1)}:') but lacks the '//' "
            f"after it: write {scheme.group(1)}://user@host/db, or a file path with a "
            "colon as ./name"
        )
    return None


def account_fingerprint(api_url: str, api_key: str) -> str:
    """Who the budget belongs to: one LinkedIn account behind one OutX key."""
    material = f"{api_url.rstrip('/')}\n{api_key.strip()}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def default_ledger_path() -> Path:
    """The per-user default: ``$XDG_STATE_HOME/tap-linkedin-connections/ledger.sqlite``."""
    import platformdirs  # imported here: only the default needs it

    return Path(platformdirs.user_state_dir("tap-linkedin-connections")) / "ledger.sqlite"


def ledger_url(setting: str | None) -> str | None:
    """The SQLAlchemy URL for a ``task_ledger`` setting; None when it is turned off.

    Raises LedgerError for a setting :func:`ledger_setting_problem` refuses.
    """
    problem = ledger_setting_problem(setting)
    if problem:
        raise LedgerError(problem)
    if setting is None or not setting.strip():
        path = default_ledger_path()
    elif setting.strip().lower() == LEDGER_OFF:
        return None
    elif "://" in setting:
        return setting.strip()
    else:
        path = Path(setting.strip()).expanduser()
    return f"sqlite:///{path.resolve()}"


def describe(url: str) -> str:
    """The URL as it may be shown: no password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "(an unreadable URL)"


def key_text(fields: t.Mapping[str, t.Any]) -> str:
    """A task key's fields as one canonical string (equal fields, equal text)."""
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))


class TaskLedger:
    """One account's rows in a ledger database.

    Args:
        url: a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).
        account: the account fingerprint.
        clock: where the times it records come from.
    """

    def __init__(self, url: str, account: str, clock: Clock = REAL_CLOCK) -> None:
        self.url = url
        self.account = account
        self.clock = clock
        self.engine = _engine(url)
        try:
            _create_tables(self.engine)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            self.engine.dispose()
            raise LedgerError(_failure(url, "cannot be opened", exc)) from None

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[Connection]:
        """A transaction holding this account's lock until it ends."""
        try:
            with self.engine.begin() as conn:
                _lock(conn, self.account)
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(_failure(self.url, "failed", exc)) from None

    # Pacing (see pacing.CreationLog): read and written under ``locked``

    def creation_times(self, conn: Connection, since: float) -> list[float]:
        """When the creates since then that may have reached OutX were sent."""
        rows = conn.execute(
            sa.select(tasks.c.created_at).where(
                tasks.c.account == self.account,
                tasks.c.created_at > since,
                tasks.c.outcome != Outcome.NOT_QUEUED.value,
            )
        )
        return [float(row[0]) for row in rows]

    def kind_creation_times(self, conn: Connection, kind: str, since: float) -> list[float]:
        """Like ``creation_times``, for one kind of task only."""
        rows = conn.execute(
            sa.select(tasks.c.created_at).where(
                tasks.c.account == self.account,
                tasks.c.kind == kind,
                tasks.c.created_at > since,
                tasks.c.outcome != Outcome.NOT_QUEUED.value,
            )
        )
        return [float(row[0]) for row in rows]

    def record(self, conn: Connection, *, kind: str, key: str, at: float) -> int:
        """Write a create about to be sent; its row id."""
        result = conn.execute(
            tasks.insert().values(
                account=self.account,
                kind=kind,
                key=key,
                created_at=at,
                outcome=Outcome.SENDING.value,
                used=False,
            )
        )
        return int(t.cast("t.Any", result.inserted_primary_key)[0])

    # A task's life

    def answered(self, row: int, task_id: str) -> None:
        """The create's answer arrived: the task exists under this id."""
        self._update(
            tasks.c.id == row,
            task_id=task_id,
            outcome=Outcome.QUEUED.value,
            answered_at=self.clock.now(),
        )

    def not_queued(self, row: int) -> None:
        """The create's answer proved that nothing was queued: it costs no budget."""
        self._update(
            tasks.c.id == row, outcome=Outcome.NOT_QUEUED.value, answered_at=self.clock.now()
        )

    def task_outcome(self, task_id: str, outcome: Outcome) -> None:
        """What became of a task: FAILED, NOT_FOUND, STALLED or LOST (never re-read)."""
        self._update(tasks.c.task_id == task_id, outcome=outcome.value)

    def read(self, task_id: str, reader: str) -> None:
        """A pass (``reader``) read the task's result: it is the pass's to use up."""
        self._update(tasks.c.task_id == task_id, outcome=Outcome.COMPLETED.value, read_by=reader)

    def reusable_task(self, kind: str, key: str, exclude: t.Collection[str] = ()) -> str | None:
        """The newest fresh task for this key that no ended pass used up, if any."""
        statement = (
            sa.select(tasks.c.task_id)
            .where(
                tasks.c.account == self.account,
                tasks.c.kind == kind,
                tasks.c.key == key,
                tasks.c.task_id.is_not(None),
                tasks.c.outcome.in_([o.value for o in REUSABLE]),
                tasks.c.used.is_(False),
                tasks.c.created_at > self.clock.now() - FRESH_TASK_SECONDS,
            )
            .order_by(tasks.c.created_at.desc())
        )
        with self._connection() as conn:
            for (task_id,) in conn.execute(statement):
                if task_id not in exclude:
                    return str(task_id)
        return None

    def unfinished_keys(self, kind: str) -> list[str]:
        """The keys of this kind's fresh tasks that were created and never read, oldest
        first: the tasks a killed or stopped run left in flight, which a later run polls
        instead of paying for them again."""
        statement = (
            sa.select(tasks.c.key)
            .where(
                tasks.c.account == self.account,
                tasks.c.kind == kind,
                tasks.c.task_id.is_not(None),
                tasks.c.outcome == Outcome.QUEUED.value,
                tasks.c.created_at > self.clock.now() - FRESH_TASK_SECONDS,
            )
            .order_by(tasks.c.created_at)
        )
        with self._connection() as conn:
            return list(dict.fromkeys(key for (key,) in conn.execute(statement)))

    def queued_after(self, task_id: str) -> list[tuple[str, Outcome]]:
        """Tasks of any kind queued on the account after this one was, oldest first.

        Only those sent after its create was answered: OutX had queued it by then, so
        they stand behind it in the queue. With their outcome; [] if it is unknown here.
        """
        head = sa.select(tasks.c.answered_at).where(
            tasks.c.account == self.account, tasks.c.task_id == task_id
        )
        statement = (
            sa.select(tasks.c.task_id, tasks.c.outcome)
            .where(
                tasks.c.account == self.account,
                tasks.c.task_id.is_not(None),
                tasks.c.task_id != task_id,
                tasks.c.created_at > head.scalar_subquery(),
                tasks.c.outcome.in_([o.value for o in REUSABLE]),
            )
            .order_by(tasks.c.created_at)
            .limit(LATER_TASKS_LOOKED_AT)
        )
        with self._connection() as conn:
            return [(str(row[0]), Outcome(row[1])) for row in conn.execute(statement)]

    def pass_ended(self, reader: str) -> None:
        """The pass ``reader`` ended: what it read is not re-read by later passes.

        Only its own rows: another pass on the account (a pipeline beside this one)
        keeps its tasks for its rerun.
        """
        now = self.clock.now()
        with self._connection() as conn:
            conn.execute(
                tasks.update()
                .where(tasks.c.account == self.account, tasks.c.read_by == reader)
                .values(used=True)
            )
            conn.execute(
                tasks.delete().where(
                    tasks.c.account == self.account, tasks.c.created_at < now - KEPT_SECONDS
                )
            )

    def rows(self) -> list[dict[str, t.Any]]:
        """Every row of this account, oldest first (for reports and tests)."""
        with self._connection() as conn:
            result = conn.execute(
                sa.select(tasks).where(tasks.c.account == self.account).order_by(tasks.c.id)
            )
            return [dict(row._mapping) for row in result]

    def _update(self, where: t.Any, **values: t.Any) -> None:
        with self._connection() as conn:
            conn.execute(
                tasks.update().where(tasks.c.account == self.account, where).values(values)
            )

    @contextlib.contextmanager
    def _connection(self) -> t.Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(_failure(self.url, "failed", exc)) from None


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key for a name (a signed 64-bit number)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)


def _lock(conn: Connection, name: str) -> None:
    """Hold ``name``'s lock until the transaction ends (SQLite: BEGIN IMMEDIATE did)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})


def _engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        msg = "'task_ledger' must be a file path, a SQLAlchemy URL or none"
        raise LedgerError(msg) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Writers wait for each other (up to a minute) instead of failing.
            engine = sa.create_engine(parsed, connect_args={"timeout": 60})
            _begin_immediate(engine)
            return engine
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:
        # The URL's driver is not installed (psycopg comes with the postgres extra).
        postgres = parsed.get_backend_name() == "postgresql"
        remedy = _POSTGRES_EXTRA if postgres else f"install the driver of {parsed.drivername}"
        msg = (
            f"the task ledger {describe(url)} cannot be opened: its driver is not "
            f"installed ({type(exc).__name__}: {exc}); {remedy}"
        )
        raise LedgerError(msg) from None
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise LedgerError(_failure(url, "cannot be opened", exc)) from None


def _begin_immediate(engine: Engine) -> None:
    """SQLite: take the write lock when a transaction begins, not at its first write.

    Otherwise two runs could both read the budget, both find a slot, and both insert.
    (The recipe from SQLAlchemy's pysqlite documentation.)
    """

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: t.Any, _record: t.Any) -> None:
        dbapi_connection.isolation_level = None
        # Write-ahead logging: readers do not block the writer, and a commit costs
        # no full sync (a crash may lose the last commits, never corrupt the file).
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_tables(engine: Engine, tables: sa.MetaData) -> None:
    """Create the tables of another part of the tap in a ledger database, once, under the
    lock that the ledger's own creation takes (one process creates; the others wait,
    then find them)."""

    def create() -> None:
        with engine.begin() as conn:
            _lock(conn, V1_TABLE)
            tables.create_all(conn)

    try:
        try:
            create()
        except sa.exc.DBAPIError:
            create()  # another run created one between the check and the CREATE
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise LedgerError(_failure(str(engine.url), "cannot be opened", exc)) from None


def _create_tables(engine: Engine) -> None:
    """The keyed table, and the first schema's rows moved into it (once, under a lock)."""
    try:
        _create_and_migrate(engine)
    except sa.exc.DBAPIError:
        # Another run created the table between the check and the CREATE: look again.
        _create_and_migrate(engine)


def _create_and_migrate(engine: Engine) -> None:
    with engine.begin() as conn:
        _lock(conn, V1_TABLE)  # one process migrates; the others wait, then find it done
        metadata.create_all(conn)
        if sa.inspect(conn).has_table(V1_TABLE):
            _migrate_v1(conn)


def _migrate_v1(conn: Connection) -> None:
    """Move the first schema's rows into the keyed table, then drop the old table.

    Every row keeps its times, task id and outcome, so the tasks it counts stay in the
    account's budget and its unfinished pass finds its tasks again: the key is the
    connections page's fields, as kinds.CONNECTIONS_PAGE writes them. A pass that had
    ended (``pass_done``) has used its rows up.
    """
    old = sa.Table(V1_TABLE, sa.MetaData(), autoload_with=conn)
    rows = [
        {
            "account": row.account,
            "kind": V1_KIND,
            "key": key_text(
                {
                    "query": json.loads(row.query),
                    "page_size": int(row.page_size),
                    "offset": int(row.start_offset),
                }
            ),
            "created_at": row.created_at,
            "answered_at": row.answered_at,
            "task_id": row.task_id,
            "outcome": row.outcome,
            "read_by": None,
            "used": bool(row.pass_done),
        }
        for row in conn.execute(sa.select(old).order_by(old.c.id))
    ]
    if rows:
        conn.execute(tasks.insert(), rows)
    old.drop(conn)


def _failure(url: str, what: str, exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200] if str(exc) else ""
    kind = type(getattr(exc, "orig", None) or exc).__name__
    remedy = f"; {_OPEN_REMEDY}" if what == "cannot be opened" else ""
    said = f"{kind}{': ' + detail if detail else ''}"
    return f"the task ledger {describe(url)} {what}: {said}{remedy}"


# For stores kept beside the ledger, in its database (history/store.py)


def open_database(url: str) -> Engine:
    """An engine on a ledger URL, set up as the ledger's own (SQLite: BEGIN IMMEDIATE,
    write-ahead log); LedgerError if it cannot be opened."""
    return _engine(url)


def hold_lock(conn: Connection, name: str) -> None:
    """Hold ``name``'s lock until the transaction ends (see ``TaskLedger.locked``)."""
    _lock(conn, name)


def failure_line(url: str, what: str, exc: BaseException) -> str:
    """A database failure in one line, as the ledger words its own, never a password."""
    return _failure(url, what, exc)

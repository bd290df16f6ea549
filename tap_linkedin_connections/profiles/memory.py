"""What the tap remembers of each connection's profile fetches, per LinkedIn account.

One row per account and connection in the task ledger's database (the ``task_ledger``
setting; profiles refuse to run without it), written the moment a fetch-profile task's
result is read:

- what ``choose.py`` needs: when the profile was last fetched, the list's headline then
  (a later headline that differs is the cheap signal of a job change), and the last
  failure (not found, not visible, unexplained), when, and how many in a row;
- the record made of the last successful fetch: the previous job, which the next fetch
  compares against (choose.job_change), and the row every pipeline on the account emits.

Keyed by the account (the ledger's fingerprint of API URL and key), not by pipeline:
a profile view is paid once per account. A pipeline emits the profiles stored after the
last one its STATE says it emitted (``seq``, growing with each successful fetch), so a
second pipeline on the account loads what the first paid for, and a run killed before
its target committed re-emits its profiles on the rerun, at no LinkedIn action.

Job changes found on a re-fetch are kept in their own table, in the order found, for
the ``job_changes`` stream (the fetcher also writes each as a ``job_changed`` event in
the network history).
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from tap_linkedin_connections.engine.ledger import TaskLedger, create_tables
from tap_linkedin_connections.profiles.choose import RememberedFetch, job_change
from tap_linkedin_connections.profiles.records import FailureKind, Record

metadata = sa.MetaData()

fetches = sa.Table(
    "tap_linkedin_connections_profile_fetches",
    metadata,
    # Grows with each successful fetch (its row is replaced): what pipelines emit by.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(32), nullable=False),
    sa.Column("entity_urn", sa.String(200), nullable=False),
    sa.Column("fetched_at", sa.Float),  # the last success; None: none yet
    sa.Column("list_headline", sa.Text),  # the list's headline at that fetch
    sa.Column("current_title", sa.Text),
    sa.Column("current_company", sa.Text),
    sa.Column("failure", sa.String(20)),  # a FailureKind, if the last fetch failed
    sa.Column("failed_at", sa.Float),
    sa.Column("failures", sa.Integer, nullable=False, default=0),  # in a row
    sa.Column("record", sa.Text),  # the profiles record of the last success, JSON
    sa.UniqueConstraint("account", "entity_urn", name="uq_tap_linkedin_connections_profile"),
    # Never reuse a deleted row's seq (SQLite would, for the highest one).
    sqlite_autoincrement=True,
)

job_changes = sa.Table(
    "tap_linkedin_connections_job_changes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(32), nullable=False),
    sa.Column("entity_urn", sa.String(200), nullable=False),
    sa.Column("observed_at", sa.Float, nullable=False),
    sa.Column("event", sa.Text, nullable=False),  # choose.job_change's event, JSON
    sa.Index("ix_tap_linkedin_connections_job_changes_account", "account", "seq"),
    sqlite_autoincrement=True,
)

#: Rows read per query when a pipeline emits what the store holds.
READ_BATCH = 500


class ProfileMemory:
    """One account's profile fetches and job changes, in the ledger's database."""

    def __init__(self, ledger: TaskLedger) -> None:
        self.ledger = ledger
        self.account = ledger.account
        create_tables(ledger.engine, metadata)

    def remembered(self) -> dict[str, RememberedFetch]:
        """What is remembered of every profile of the account, by URN."""
        statement = sa.select(
            fetches.c.entity_urn,
            fetches.c.fetched_at,
            fetches.c.list_headline,
            fetches.c.failure,
            fetches.c.failed_at,
            fetches.c.failures,
        ).where(fetches.c.account == self.account)
        with self.ledger.locked() as conn:
            return {
                row.entity_urn: RememberedFetch(
                    fetched_at=row.fetched_at,
                    headline=row.list_headline,
                    failure=FailureKind(row.failure) if row.failure else None,
                    failed_at=row.failed_at,
                    failures=int(row.failures or 0),
                )
                for row in conn.execute(statement)
            }

    def fetched(self, record: Record, *, list_headline: str | None, at: float) -> Record | None:
        """Remember a successful fetch; its job change, if it is one (also remembered)."""
        urn = str(record["entity_urn"])
        with self.ledger.locked() as conn:
            previous = conn.execute(
                sa.select(fetches.c.record).where(
                    fetches.c.account == self.account, fetches.c.entity_urn == urn
                )
            ).scalar_one_or_none()
            change = job_change(json.loads(previous) if previous else None, record)
            # Replaced, not updated: the new row's seq is the account's highest, so
            # every pipeline emits it once more.
            conn.execute(
                fetches.delete().where(
                    fetches.c.account == self.account, fetches.c.entity_urn == urn
                )
            )
            conn.execute(
                fetches.insert().values(
                    account=self.account,
                    entity_urn=urn,
                    fetched_at=at,
                    list_headline=list_headline,
                    current_title=record.get("current_title"),
                    current_company=record.get("current_company"),
                    failures=0,
                    record=json.dumps(record, sort_keys=True, default=str),
                )
            )
            if change is not None:
                conn.execute(
                    job_changes.insert().values(
                        account=self.account,
                        entity_urn=urn,
                        observed_at=at,
                        event=json.dumps(change, sort_keys=True),
                    )
                )
        return change

    def failed(self, urn: str, kind: FailureKind, *, at: float) -> int:
        """Remember a failed fetch; the failures in a row since the last success."""
        where = (fetches.c.account == self.account, fetches.c.entity_urn == urn)
        with self.ledger.locked() as conn:
            failures = conn.execute(sa.select(fetches.c.failures).where(*where)).one_or_none()
            if failures is None:
                conn.execute(
                    fetches.insert().values(
                        account=self.account,
                        entity_urn=urn,
                        failure=kind.value,
                        failed_at=at,
                        failures=1,
                    )
                )
                return 1
            # Updated in place: the stored record (if any) is unchanged, not re-emitted.
            count = int(failures[0] or 0) + 1
            conn.execute(
                fetches.update()
                .where(*where)
                .values(failure=kind.value, failed_at=at, failures=count)
            )
            return count

    def records_after(self, seq: int) -> list[tuple[int, Record]]:
        """Stored records with a seq above ``seq``, in seq order (a batch at most)."""
        statement = (
            sa.select(fetches.c.seq, fetches.c.record)
            .where(
                fetches.c.account == self.account,
                fetches.c.seq > seq,
                fetches.c.record.is_not(None),
            )
            .order_by(fetches.c.seq)
            .limit(READ_BATCH)
        )
        with self.ledger.locked() as conn:
            return [(int(s), json.loads(r)) for s, r in conn.execute(statement)]

    def job_changes_after(self, seq: int) -> list[tuple[int, Record]]:
        """Job changes found after ``seq``, in the order found (a batch at most)."""
        statement = (
            sa.select(job_changes.c.seq, job_changes.c.event)
            .where(job_changes.c.account == self.account, job_changes.c.seq > seq)
            .order_by(job_changes.c.seq)
            .limit(READ_BATCH)
        )
        with self.ledger.locked() as conn:
            return [(int(s), json.loads(e)) for s, e in conn.execute(statement)]

    def last_seq(self) -> int:
        """The highest seq of the account's stored records (0: none)."""
        with self.ledger.locked() as conn:
            found = conn.execute(
                sa.select(sa.func.max(fetches.c.seq)).where(fetches.c.account == self.account)
            ).scalar_one_or_none()
        return int(found or 0)

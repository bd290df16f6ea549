"""The ``connection_events`` stream: what changed in each account's list, each change once.

The events are found by the ``connections`` stream as its pages go by and written into
the memory (memory.py); this stream, synced after it, sends them in the order they were
found. Its replication key is that order (``sequence``): STATE's bookmark says what was
sent, so a run killed after sending sends the rest again, and each event carries its
``event_id``, the stream's key, with which a loader upserts a re-sent event instead of
adding it twice. Nothing here asks OutX anything.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_linkedin_connections.accounts.threads import Accounts
from tap_linkedin_connections.engine.ledger import account_fingerprint, ledger_url
from tap_linkedin_connections.history.columns import timestamp
from tap_linkedin_connections.history.events import ConnectionEvent
from tap_linkedin_connections.history.store import HistoryStore, events, lists
from tap_linkedin_connections.sdk import SdkStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ConnectionEventsStream(SdkStream):
    """Added, removed, reconnected and headline_changed, per account and connection."""

    name = "connection_events"
    primary_keys: t.ClassVar[list[str]] = ["event_id"]
    replication_key = "sequence"
    #: Sent in ``sequence`` order: a bookmark mid-way is safe to resume from.
    is_sorted = True
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # built from the memory's own rows

    schema = th.PropertiesList(
        th.Property(
            "event_id",
            th.StringType,
            required=True,
            description="The event's id: a loader upserts on it, so a re-sent event is one row.",
        ),
        th.Property(
            "sequence",
            th.IntegerType,
            required=True,
            description=(
                "The order in which events were found (the stream's replication key); "
                "numbered by the task ledger's database."
            ),
        ),
        th.Property("account", th.StringType, required=True, description="Whose list changed."),
        th.Property("entity_urn", th.StringType, required=True, description="The person's URN."),
        th.Property("public_identifier", th.StringType, description="The person's profile slug."),
        th.Property(
            "event",
            th.StringType(allowed_values=[e.value for e in ConnectionEvent]),
            required=True,
            description=(
                "added (new since the account's first complete pass), removed (a pass that "
                "proved itself complete no longer found it), reconnected (back after a "
                "removal, or re-added above connections newer than it), headline_changed."
            ),
        ),
        th.Property(
            "observed_at",
            th.DateTimeType,
            required=True,
            description="When the tap found the change (UTC): the read, or the proven pass's end.",
        ),
        th.Property(
            "previous",
            th.StringType,
            description="The headline before (headline_changed, removed); else null.",
        ),
        th.Property(
            "current",
            th.StringType,
            description="The headline now (headline_changed, added, reconnected); else null.",
        ),
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The events found since the bookmark, for the run's accounts, in order."""
        url = ledger_url(self.config.get("task_ledger"))
        if url is None:
            self.logger.info(
                "task_ledger is none: no network history, so no connection event is sent"
            )
            return
        store = HistoryStore(url)
        try:
            yield from self._events(store, context)
        finally:
            store.close()

    def _events(self, store: HistoryStore, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        names = self._lists_by_id(store)
        after = self._start(store, context)
        statement = (
            sa.select(events)
            .where(events.c.list_id.in_(list(names)), events.c.seq > after)
            .order_by(events.c.seq)
        )
        with store.reading() as conn:
            rows = conn.execute(statement).all()
        for row in rows:
            yield {
                "event_id": row.event_id,
                "sequence": int(row.seq),
                "account": names[int(row.list_id)],
                "entity_urn": row.entity_urn,
                "public_identifier": row.public_identifier,
                "event": row.event,
                "observed_at": timestamp(float(row.observed_at)),
                "previous": row.previous_value,
                "current": row.current_value,
            }

    def _lists_by_id(self, store: HistoryStore) -> dict[int, str]:
        """The run's accounts' lists in the memory: their ids, with the account's name."""
        wanted = {
            (
                account_fingerprint(a.config["api_url"], a.config["api_key"]),
                a.name,
                a.config.get("keyword") or "",
            )
            for a in Accounts.from_config(self.config)
        }
        with store.reading() as conn:
            rows = conn.execute(
                sa.select(lists.c.id, lists.c.account, lists.c.account_name, lists.c.keyword)
            ).all()
        return {
            int(row.id): row.account_name
            for row in rows
            if (row.account, row.account_name, row.keyword) in wanted
        }

    def _start(self, store: HistoryStore, context: Context | None) -> int:
        """The bookmark: the last event sent. One beyond every event the database holds
        means another database (task_ledger changed): its events are all sent."""
        value = self.get_starting_replication_key_value(context)
        after = int(value) if value is not None else 0
        with store.reading() as conn:
            last = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar() or 0
        if after > int(last):
            self.logger.warning(
                "The connection_events bookmark (%d) is beyond every event in the task "
                "ledger's database (%d): the database changed; sending its events from "
                "the first",
                after,
                last,
            )
            # The bookmark must move back with them, or the SDK would refuse the order.
            self.get_context_state(context).pop("replication_key_value", None)
            after = 0
        return after

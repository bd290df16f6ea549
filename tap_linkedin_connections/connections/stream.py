"""The `connections` stream: every account's 1st-degree connections.

Its records gain what the member's LinkedIn export and OutX's unknown keys give (see
history/enrich.py); each account with an export says in one line per run what matched.
They pass through the network history (history/recorder.py), which gives them their
history columns, and ends each account's pass in it.

When the ``profiles`` stream is selected, each pass also tells the profiles who is in the
list, in what order and with which headline (profiles/listing.py, in the task ledger's
database): that is what they choose from.

How the accounts are read side by side, and STATE's layout, are the base stream's
(accounts/stream.py); one account's pass is account_pass.py's.
"""

from __future__ import annotations

import dataclasses
import typing as t

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_linkedin_connections.accounts.stream import ACCOUNT, AccountsStream
from tap_linkedin_connections.connections import passes
from tap_linkedin_connections.connections.account_pass import ACCOUNT_STATE_KEYS, AccountPass
from tap_linkedin_connections.engine.ledger import TaskLedger, account_fingerprint, ledger_url
from tap_linkedin_connections.history.drift import UnknownKeys
from tap_linkedin_connections.history.enrich import RecordEnricher, enricher_for
from tap_linkedin_connections.history.recorder import HistoryRecorder
from tap_linkedin_connections.profiles.listing import ConnectionListing, PassRecorder
from tap_linkedin_connections.validation import RECENTLY_ADDED

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_linkedin_connections.accounts.threads import Account


class ConnectionsStream(AccountsStream):
    """The accounts' 1st-degree connections, one RECORD per account and person."""

    name = "connections"
    primary_keys: t.ClassVar[list[str]] = ["account", "entity_urn"]

    # Records are built field by field from values already checked (see
    # records.to_record: text, a YYYY-MM-DD date, the `extra` object as OutX sent
    # it), so the SDK's per-record type conformance would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    schema = th.PropertiesList(
        ACCOUNT,
        th.Property(
            "entity_urn",
            th.StringType,
            required=True,
            description="The person's LinkedIn URN (urn:li:fsd_profile:...); stable id.",
        ),
        th.Property("name", th.StringType, description="Full name."),
        th.Property("first_name", th.StringType, description="First name."),
        th.Property("last_name", th.StringType, description="Last name."),
        th.Property("headline", th.StringType, description="Job title or description line."),
        th.Property(
            "public_identifier",
            th.StringType,
            description="Profile slug, as in https://www.linkedin.com/in/<slug>.",
        ),
        th.Property(
            "profile_url",
            th.StringType,
            description="https://www.linkedin.com/in/<public_identifier>, derived by the tap.",
        ),
        th.Property(
            "profile_image_url", th.StringType(nullable=True), description="Picture URL, or null."
        ),
        th.Property(
            "connected_on",
            th.DateType,
            description=(
                "When the connection was made (YYYY-MM-DD): from the member's LinkedIn "
                "export (linkedin_export), else from a date OutX passes through; null "
                "when neither knows."
            ),
        ),
        th.Property(
            "company",
            th.StringType,
            description="Company, from the LinkedIn export; null when unknown.",
        ),
        th.Property(
            "position",
            th.StringType,
            description="Position, from the LinkedIn export; null when unknown.",
        ),
        th.Property(
            "email_address",
            th.StringType,
            description=(
                "Email address the connection shares with the member, from the LinkedIn "
                "export, only with linkedin_export_emails on (personal data); else null."
            ),
        ),
        th.Property(
            "extra",
            # No "properties" key, unlike th.ObjectType: with flattening on, the SDK
            # would flatten an empty one away; without it, the object becomes one
            # JSON text column.
            th.CustomType({"type": ["object", "null"], "additionalProperties": True}),
            description=(
                "Keys OutX sent that the tap does not know, with their values as sent; "
                "null when none. Their names are logged once per run."
            ),
        ),
        th.Property(
            "first_seen_at",
            th.DateTimeType,
            description=(
                "When the tap first read this connection (UTC). For one already there at "
                "the account's first complete pass: the day it was made (connected_on, "
                "00:00 UTC) when known. Null with task_ledger none."
            ),
        ),
        th.Property(
            "last_seen_at",
            th.DateTimeType,
            description=(
                "When the tap last read this connection (UTC): advances when a pass reads "
                "the row again (full passes read every row; incremental runs only new ones)."
            ),
        ),
        th.Property(
            "is_connected",
            th.BooleanType,
            description=(
                "False once a pass that proved itself complete no longer found the "
                "connection (sent so with removed_connections mark); true otherwise."
            ),
        ),
        th.Property(
            "removed_at",
            th.DateTimeType,
            description=(
                "When a proven pass found the connection gone (UTC); null while connected."
            ),
        ),
    ).to_dict()

    account_state_keys = ACCOUNT_STATE_KEYS
    state_problems = staticmethod(passes.state_problems)

    def __init__(
        self, *args: t.Any, listing_wanted: t.Callable[[], bool] = lambda: False, **kwargs: t.Any
    ) -> None:
        super().__init__(*args, **kwargs)
        #: The run's unknown connection keys, named once per run for every account.
        self._unknown_keys = UnknownKeys(self.logger)
        #: What each account's records gain (its LinkedIn export), by account name.
        self._enrichers: dict[str, RecordEnricher] = {}
        #: Whether the profiles want this run's passes in their listing (the tap says).
        self._listing_wanted = listing_wanted
        #: Each account's pass, as told to the profiles' listing, and its reader.
        self._recorders: dict[str, tuple[PassRecorder, AccountPass]] = {}
        #: The run's network history (history/recorder.py), made by get_records.
        self._history: HistoryRecorder

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The base stream's records, through the network history; then each account's
        one line about its export."""
        self._unknown_keys = UnknownKeys(self.logger)
        self._enrichers = {}
        self._recorders = {}
        # Opened before any request: a memory that cannot be opened fails the run before
        # it spends a LinkedIn action, as the task ledger does.
        self._history = HistoryRecorder.from_config(self.config, self.logger)
        try:
            for record in super().get_records(context):
                listed = self._recorders.get(record["account"])
                # A removed connection's row (removed_connections: mark) is not in the list.
                if listed is not None and record.get("is_connected", True):
                    listed[0].seen(record)
                yield record
            for recorder, reader in self._recorders.values():
                recorder.ended(proved=reader.proved)
        finally:
            for recorder, _ in self._recorders.values():
                recorder.listing.ledger.close()
            self._history.close()
            for account in self.accounts:
                enricher = self._enrichers.get(account.name)
                if enricher is not None and enricher.export is not None:
                    self.log_for(account).info("%s", enricher.export.summary())

    @override
    def reader(
        self, account: Account, state: dict[str, t.Any], checkpoint: t.Callable[[], None]
    ) -> AccountPass:
        """The account's pass over its connections, its export read (before any request)."""
        enricher = enricher_for(account.config, self._unknown_keys)
        self._enrichers[account.name] = enricher
        # Asked before the pass begins, while ``state`` still tells a resumed pass.
        recorder, first = self._pass_recorder(account, resumed=state.get("pass") is not None)
        if first and state.get("pass") is None:
            # The profiles choose from the list: one that knows none of it would wait
            # for the next full pass, however far away.
            self.log_for(account).info(
                "The profiles stream is selected and knows none of this account's "
                "connections: this run reads the whole list (a full pass; it deletes nothing)"
            )
            account = dataclasses.replace(account, config={**account.config, "full_refresh": True})
        reader = AccountPass(
            account,
            state,
            checkpoint=checkpoint,
            logger=self.log_for(account),
            user_agent=self.user_agent,
            enricher=enricher,
        )
        if recorder is not None:
            self._recorders[account.name] = (recorder, reader)
        self._history.track(account, reader, state, self.log_for(account))
        return reader

    def _pass_recorder(
        self, account: Account, *, resumed: bool
    ) -> tuple[PassRecorder | None, bool]:
        """What tells the profiles' listing about the account's pass, if they want it,
        and whether the listing knew nothing of the account before."""
        config = account.config
        url = ledger_url(config.get("task_ledger"))
        if url is None or not self._listing_wanted():
            return None, False
        ledger = TaskLedger(url, account_fingerprint(config["api_url"], config["api_key"]))
        listing = ConnectionListing(ledger)
        first = listing.empty()
        recorder = PassRecorder(
            listing,
            resumed=resumed,
            ordered=config.get("sort_type") == RECENTLY_ADDED,
            whole_list=not config.get("keyword"),
        )
        return recorder, first

    @override
    def on_records(
        self, account: str, records: list[dict[str, t.Any]]
    ) -> t.Iterable[dict[str, t.Any]]:
        """A page's records, remembered, with their history columns."""
        return self._history.on_records(account, records)

    @override
    def on_finished(self, account: str) -> t.Iterable[dict[str, t.Any]]:
        """The account's pass's end in the history; rows of removed connections (mark)."""
        return self._history.on_finished(account)

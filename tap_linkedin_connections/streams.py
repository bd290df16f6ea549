"""The `connections` stream: every account's connections, STATE, and one table version.

STATE, under ``bookmarks.connections``:

- ``table``: the table version every RECORD carries, and whether ACTIVATE_VERSION was
  sent for it (``version``, ``activated``; see passes.table_for_run).
- each account's part (``bookmark``, ``pass``, ``task_window``; see account_pass.py):
  with the one-account form (the ``api_key`` setting) right here, with the ``accounts``
  setting under ``accounts.<name>``.
"""

from __future__ import annotations

import copy
import time
import typing as t

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import RemoveRecordTransform
from typing_extensions import override

from tap_linkedin_connections import __name__ as package_name
from tap_linkedin_connections import passes
from tap_linkedin_connections.account_pass import (
    ACCOUNT_STATE_KEYS,
    AccountPass,
    identity_of,
)
from tap_linkedin_connections.accounts import (
    Account,
    AccountLog,
    AccountsFailed,
    Checkpoint,
    Outbox,
    Records,
    accounts_from_config,
    side_by_side,
)
from tap_linkedin_connections.client import Log, OutXError
from tap_linkedin_connections.ledger import LedgerError
from tap_linkedin_connections.sdk import SdkStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ConnectionsStream(SdkStream):
    """The accounts' 1st-degree connections, one RECORD per account and person."""

    name = "connections"
    primary_keys: t.ClassVar[list[str]] = ["account", "entity_urn"]

    # Records are built field by field from text values already checked (see
    # account_pass.to_record), so the SDK's per-record type conformance would only
    # cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    schema = th.PropertiesList(
        th.Property(
            "account",
            th.StringType,
            required=True,
            description=(
                "Whose connection this is: the account's name in the accounts setting, "
                "or `default` with the one-account api_key setting."
            ),
        ),
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
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Run (or resume) each account's pass, side by side, and yield their records."""
        if all(isinstance(m, RemoveRecordTransform) for m in self.stream_maps):
            # stream_maps sends this stream to null: no record would reach the target,
            # so no task (a LinkedIn action) is spent on it.
            self.logger.info("The connections stream is mapped to null: no task created")
            return
        state = self.get_context_state(context)
        accounts = accounts_from_config(self.config)
        slots = self._account_states(state, accounts)
        table = self._table_for_run(state, accounts, slots)
        # RECORD messages carry the table version, so a later ACTIVATE_VERSION can tell
        # the rows of this version from older ones.
        self.set_table_version(table["version"])

        outbox = Outbox()
        readers = {
            a.name: self._reader(a, _own_copy(slots[a.name]), table, outbox) for a in accounts
        }
        failures: dict[str, Exception] = {}
        unwritten = False  # a checkpoint was adopted but not yet written
        for message in side_by_side(outbox, {name: r.read for name, r in readers.items()}):
            if isinstance(message, Records):
                yield from message.records
            elif isinstance(message, Checkpoint):
                _adopt(slots[message.account], message.state)
                unwritten = True
            elif message.failure is not None:
                failures[message.account] = message.failure
            if unwritten and not outbox.waiting():
                # The SDK writes STATE only after RECORDs; a task id must reach STATE as
                # soon as the task exists, so STATE is written here directly. Each STATE
                # holds every account's part: checkpoints queued one after another are
                # written as one, before this thread waits for the next message.
                self.write_state_now()
                unwritten = False
        if unwritten:
            self.write_state_now()

        was_activated = table["activated"]
        bookmarks = {name: _bookmark(slot) for name, slot in slots.items()}
        if passes.activation_due(table, bookmarks.values()):
            # Only now, with every account's connections re-sent under this version,
            # may a target drop the rows of older ones. (The SDK's own
            # ACTIVATE_VERSION comes before the records, which would empty the table if
            # the run died halfway.)
            self.set_table_version(table["version"], activate=True)
            table["activated"] = True
            self.write_state_now()
        waiting = [n for n, b in bookmarks.items() if b.get("proved") != table["version"]]
        for account in accounts:
            reader = readers[account.name]
            if reader.counts:  # else it failed before reading
                outcome = _outcome(reader, table, was_activated=was_activated, waiting=waiting)
                self._log_for(account).info("This run: %s; %s", reader.counts, outcome)
        self._raise_failures(accounts, failures)

    def _reader(
        self, account: Account, state: dict[str, t.Any], table: passes.Table, outbox: Outbox
    ) -> AccountPass:
        """The account's pass, which hands its STATE to ``outbox`` whenever it must be written."""

        def checkpoint() -> None:
            outbox.put(Checkpoint(account.name, copy.deepcopy(state)))

        return AccountPass(
            account,
            state,
            table,
            checkpoint=checkpoint,
            logger=self._log_for(account),
            user_agent=f"{package_name}/{self.plugin_version}",
        )

    def _log_for(self, account: Account) -> Log:
        return AccountLog(self.logger, account.name) if self.config.get("accounts") else self.logger

    def _account_states(
        self, state: dict[str, t.Any], accounts: list[Account]
    ) -> dict[str, dict[str, t.Any]]:
        """Each account's part of STATE, by name, with what cannot be used dropped."""
        # Edited by hand, truncated, moved between versions: what cannot be used is
        # dropped (a broken bookmark means a full pass), never half-trusted.
        for key, problem in passes.state_problems(state).items():
            self.logger.warning("The state cannot be used (%s): it is dropped", problem)
            del state[key]
        if not self.config.get("accounts"):
            if state.pop("accounts", None) is not None:
                self.logger.warning(
                    "The state of the accounts setting is not used with the one-account "
                    "api_key setting: it is dropped"
                )
            return {accounts[0].name: state}
        if any(state.pop(key, None) is not None for key in ACCOUNT_STATE_KEYS):
            self.logger.warning(
                "The state of the one-account api_key setting is not used with the "
                "accounts setting: it is dropped"
            )
        names = {account.name for account in accounts}
        kept = state.setdefault("accounts", {})
        for name in [name for name in kept if name not in names]:
            self.logger.info("Account '%s' is no longer in the accounts setting", name)
            del kept[name]
        for account in accounts:
            slot = kept.setdefault(account.name, {})
            for key, problem in passes.state_problems(slot).items():
                self._log_for(account).warning(
                    "The state cannot be used (%s): it is dropped", problem
                )
                del slot[key]
        return {account.name: kept[account.name] for account in accounts}

    def _table_for_run(
        self,
        state: dict[str, t.Any],
        accounts: list[Account],
        slots: dict[str, dict[str, t.Any]],
    ) -> passes.Table:
        bookmarks = {name: _bookmark(slot) for name, slot in slots.items()}
        needs_full = {
            account.name: passes.why_full(
                identity_of(account), bookmarks[account.name], full_refresh=False
            )
            for account in accounts
        }
        loaded = state.get("table")
        table = passes.table_for_run(
            {"version": int(loaded["version"]), "activated": loaded["activated"]}
            if loaded
            else None,
            bookmarks,
            needs_full,
            full_refresh=bool(self.config.get("full_refresh")),
            # Versions only grow, whatever the clock says (see next_table_version).
            new_version=passes.next_table_version(
                int(time.time() * 1000), passes.versions_in(loaded, slots.values())
            ),
        )
        state["table"] = table
        return table

    def _raise_failures(self, accounts: list[Account], failures: dict[str, Exception]) -> None:
        """Name each failed account in one line; raise if any failed."""
        if not failures:
            return
        if not self.config.get("accounts"):
            raise failures[accounts[0].name]
        for account in accounts:
            failure = failures.get(account.name)
            if failure is None:
                continue
            if isinstance(failure, (OutXError, LedgerError)):
                self.logger.error("Account '%s' failed: %s", account.name, failure)
            else:  # not a user's mistake: the traceback helps whoever fixes it
                self.logger.error("Account '%s' failed", account.name, exc_info=failure)
        failed = [a.name for a in accounts if a.name in failures]
        msg = (
            f"{len(failed)} of {len(accounts)} accounts failed "
            f"({', '.join(repr(name) for name in failed)}); the other accounts' "
            "connections were loaded"
        )
        raise AccountsFailed(msg)


def _outcome(
    reader: AccountPass, table: passes.Table, *, was_activated: bool, waiting: list[str]
) -> str:
    """How an account's summary line ends: whether ACTIVATE_VERSION was sent, or why not."""
    if not reader.proved:
        return reader.outcome
    if table["activated"] and not was_activated:
        return "ACTIVATE_VERSION sent"
    if was_activated:
        return (
            "ACTIVATE_VERSION not sent: its rows carry the table version already in use; "
            "connections removed earlier go with the next full refresh"
        )
    names = ", ".join(f"account '{name}'" for name in waiting)
    return f"ACTIVATE_VERSION not sent: waiting for the full pass of {names}"


def _bookmark(slot: t.Mapping[str, t.Any]) -> passes.Bookmark:
    return t.cast("passes.Bookmark", slot.get("bookmark") or {})


def _own_copy(slot: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """An account's part of STATE, for its thread to change as it reads."""
    return {key: copy.deepcopy(value) for key, value in slot.items() if key in ACCOUNT_STATE_KEYS}


def _adopt(slot: dict[str, t.Any], snapshot: t.Mapping[str, t.Any]) -> None:
    """Make an account's part of STATE what its thread last vouched for."""
    for key in ACCOUNT_STATE_KEYS:
        if key in snapshot:
            slot[key] = snapshot[key]
        else:
            slot.pop(key, None)

"""A stream read for every account side by side: STATE slots, one table version, failures.

STATE, under ``bookmarks.<stream>``:

- ``table``: the table version every RECORD carries, and whether ACTIVATE_VERSION was
  sent for it (``version``, ``activated``; see versions.table_for_run).
- each account's part (the stream's ``account_state_keys``): with the one-account form
  (the ``api_key`` setting) right here, with the ``accounts`` setting under
  ``accounts.<name>``.

A stream built on it declares its schema, its account state keys and how that state is
checked, and one hook: ``reader``, which reads one account (see AccountReader); and may
follow each account's records and end on this thread (``on_records``, ``on_finished``).
"""

from __future__ import annotations

import copy
import time
import typing as t

from singer_sdk import typing as th
from singer_sdk.mapper import RemoveRecordTransform
from typing_extensions import override

from tap_linkedin_connections import __name__ as package_name
from tap_linkedin_connections.accounts import versions
from tap_linkedin_connections.accounts.threads import (
    Account,
    Accounts,
    AccountsFailed,
    Checkpoint,
    Outbox,
    Records,
    side_by_side,
)
from tap_linkedin_connections.engine.ledger import LedgerError
from tap_linkedin_connections.outx.client import Log, OutXError
from tap_linkedin_connections.sdk import SdkStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

Record = dict[str, t.Any]


#: The property every stream read per account carries, in its key.
ACCOUNT = th.Property(
    "account",
    th.StringType,
    required=True,
    description=(
        "Whose connection this is: the account's name in the accounts setting, "
        "or `default` with the one-account api_key setting."
    ),
)


class AccountReader(t.Protocol):
    """What a stream reads for one account in one run (e.g. connections.AccountPass)."""

    #: The run's counts, for the summary line; empty if it failed before reading.
    counts: str
    #: Whether this run completed a full pass that proved itself complete.
    proved: bool
    #: Why no ACTIVATE_VERSION follows from this account's run, unless ``proved``.
    outcome: str

    def why_full(self) -> str:
        """Why the account's next pass must read its whole list; "" when it need not."""

    def read(self, table: versions.Table) -> t.Iterator[list[Record]]:
        """Read (or resume) the account's pass under ``table``, a page's records at a time."""


class AccountsStream(SdkStream):
    """Reads every account of the run side by side; its subclass reads one account.

    Everything Singer happens on this thread (see accounts/threads.py). A target that
    honours ACTIVATE_VERSION deletes every row of an older version whoever's it is, so
    all accounts share one table version, activated only once every account's full
    pass under it proved complete.
    """

    #: The keys of an account's part of STATE.
    account_state_keys: t.ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def state_problems(state: t.Mapping[str, t.Any]) -> dict[str, str]:
        """What cannot be used in an account's part of STATE, by key; {} when all can."""
        return {}

    def reader(
        self, account: Account, state: dict[str, t.Any], checkpoint: t.Callable[[], None]
    ) -> AccountReader:
        """The hook: what reads ``account``, owning ``state`` (its part of STATE) while it
        reads, and calling ``checkpoint`` whenever that must reach STATE."""
        raise NotImplementedError

    def on_records(self, account: str, records: list[Record]) -> t.Iterable[Record]:
        """A hook: an account's page of records on their way out (on this thread, in
        order, before the STATE that counts them); the records to emit."""
        return records

    def on_finished(self, account: str) -> t.Iterable[Record]:
        """A hook: an account's run ended without failure (its reader is done); any
        records to emit then."""
        return ()

    @property
    def accounts(self) -> Accounts:
        return Accounts.from_config(self.config)

    def log_for(self, account: Account) -> Log:
        return self.accounts.log_for(self.logger, account)

    @property
    def user_agent(self) -> str:
        return f"{package_name}/{self.plugin_version}"

    @override
    def get_records(self, context: Context | None) -> t.Iterable[Record]:
        """Run (or resume) each account's reader, side by side, and yield their records."""
        if all(isinstance(m, RemoveRecordTransform) for m in self.stream_maps):
            # stream_maps sends this stream to null: no record would reach the target,
            # so no task (a LinkedIn action) is spent on it.
            self.logger.info("The %s stream is mapped to null: no task created", self.name)
            return
        state = self.get_context_state(context)
        accounts = self.accounts
        slots = self._account_states(state, accounts)
        outbox = Outbox()
        readers = {a.name: self._reader(a, slots[a.name], outbox) for a in accounts}
        table = self._table_for_run(state, readers, slots)
        # RECORD messages carry the table version, so a later ACTIVATE_VERSION can tell
        # the rows of this version from older ones.
        self.set_table_version(table["version"])

        work = {name: _reading(reader, table) for name, reader in readers.items()}
        failures: dict[str, Exception] = {}
        unwritten = False  # a checkpoint was adopted but not yet written
        for message in side_by_side(outbox, work):
            if isinstance(message, Records):
                yield from self.on_records(message.account, message.records)
            elif isinstance(message, Checkpoint):
                _adopt(slots[message.account], message.state, self.account_state_keys)
                unwritten = True
            elif message.failure is not None:
                failures[message.account] = message.failure
            else:
                # Before ACTIVATE_VERSION (below): rows sent now carry the version.
                yield from self.on_finished(message.account)
            if unwritten and not outbox.waiting():
                # The SDK writes STATE only after RECORDs; a task id must reach STATE as
                # soon as the task exists, so STATE is written here directly. Each STATE
                # holds every account's part: checkpoints queued one after another are
                # written as one, before this thread waits for the next message.
                self.write_state_now()
                unwritten = False
        if unwritten:
            self.write_state_now()
        self._activate_and_summarise(table, readers, slots)
        self._raise_failures(accounts, failures)

    def _reader(self, account: Account, slot: dict[str, t.Any], outbox: Outbox) -> AccountReader:
        """The account's reader, on its own copy of its STATE, handed to ``outbox``
        whenever it must be written."""
        state = {k: copy.deepcopy(v) for k, v in slot.items() if k in self.account_state_keys}

        def checkpoint() -> None:
            outbox.put(Checkpoint(account.name, copy.deepcopy(state)))

        return self.reader(account, state, checkpoint)

    def _account_states(
        self, state: dict[str, t.Any], accounts: Accounts
    ) -> dict[str, dict[str, t.Any]]:
        """Each account's part of STATE, by name, with what cannot be used dropped."""
        # Edited by hand, truncated, moved between versions: what cannot be used is
        # dropped (a broken bookmark means a full pass), never half-trusted.
        problems = {**versions.table_problems(state), **self.state_problems(state)}
        for key, problem in problems.items():
            self.logger.warning("The state cannot be used (%s): it is dropped", problem)
            del state[key]
        if not accounts.several:
            if state.pop("accounts", None) is not None:
                self.logger.warning(
                    "The state of the accounts setting is not used with the one-account "
                    "api_key setting: it is dropped"
                )
            return {account.name: state for account in accounts}
        if any(state.pop(key, None) is not None for key in self.account_state_keys):
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
            for key, problem in self.state_problems(slot).items():
                self.log_for(account).warning(
                    "The state cannot be used (%s): it is dropped", problem
                )
                del slot[key]
        return {account.name: kept[account.name] for account in accounts}

    def _table_for_run(
        self,
        state: dict[str, t.Any],
        readers: t.Mapping[str, AccountReader],
        slots: t.Mapping[str, t.Mapping[str, t.Any]],
    ) -> versions.Table:
        loaded = state.get("table")
        table = versions.table_for_run(
            {"version": int(loaded["version"]), "activated": loaded["activated"]}
            if loaded
            else None,
            {name: _bookmark(slot) for name, slot in slots.items()},
            {name: reader.why_full() for name, reader in readers.items()},
            full_refresh=bool(self.config.get("full_refresh")),
            # Versions only grow, whatever the clock says (see next_table_version).
            new_version=versions.next_table_version(
                int(time.time() * 1000), versions.versions_in(loaded, slots.values())
            ),
        )
        state["table"] = table
        return table

    def _activate_and_summarise(
        self,
        table: versions.Table,
        readers: t.Mapping[str, AccountReader],
        slots: t.Mapping[str, t.Mapping[str, t.Any]],
    ) -> None:
        """ACTIVATE_VERSION once every account's pass proved itself; a summary line each."""
        was_activated = table["activated"]
        bookmarks = {name: _bookmark(slot) for name, slot in slots.items()}
        if versions.activation_due(table, bookmarks.values()):
            # Only now, with every account's rows re-sent under this version, may a
            # target drop the rows of older ones. (The SDK's own ACTIVATE_VERSION comes
            # before the records, which would empty the table if the run died halfway.)
            self.set_table_version(table["version"], activate=True)
            table["activated"] = True
            self.write_state_now()
        waiting = [n for n, b in bookmarks.items() if b.get("proved") != table["version"]]
        for account in self.accounts:
            reader = readers[account.name]
            if reader.counts:  # else it failed before reading
                outcome = _outcome(reader, table, was_activated=was_activated, waiting=waiting)
                self.log_for(account).info("This run: %s; %s", reader.counts, outcome)

    def _raise_failures(self, accounts: Accounts, failures: dict[str, Exception]) -> None:
        """Name each failed account in one line; raise if any failed."""
        if not failures:
            return
        if not accounts.several:
            raise next(iter(failures.values()))
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
            f"{len(failed)} of {len(accounts.members)} accounts failed "
            f"({', '.join(repr(name) for name in failed)}); the other accounts' "
            f"{self.name} were loaded"
        )
        raise AccountsFailed(msg)


def _reading(
    reader: AccountReader, table: versions.Table
) -> t.Callable[[], t.Iterator[list[Record]]]:
    return lambda: reader.read(table)


def _outcome(
    reader: AccountReader, table: versions.Table, *, was_activated: bool, waiting: list[str]
) -> str:
    """How an account's summary line ends: whether ACTIVATE_VERSION was sent, or why not."""
    if not reader.proved:
        return reader.outcome
    if table["activated"] and not was_activated:
        return "ACTIVATE_VERSION sent"
    if was_activated:
        return (
            "ACTIVATE_VERSION not sent: its rows carry the table version already in use; "
            "rows removed earlier go with the next full refresh"
        )
    names = ", ".join(f"account '{name}'" for name in waiting)
    return f"ACTIVATE_VERSION not sent: waiting for the full pass of {names}"


def _bookmark(slot: t.Mapping[str, t.Any]) -> versions.VersionMarks:
    return t.cast("versions.VersionMarks", slot.get("bookmark") or {})


def _adopt(slot: dict[str, t.Any], snapshot: t.Mapping[str, t.Any], keys: t.Iterable[str]) -> None:
    """Make an account's part of STATE what its thread last vouched for."""
    for key in keys:
        if key in snapshot:
            slot[key] = snapshot[key]
        else:
            slot.pop(key, None)

"""Several LinkedIn accounts side by side: one thread per account, one outbox.

Each account's OutX team has its own Chrome extension, so the accounts' tasks can run at
the same time and a run takes about as long as its slowest account. Everything Singer
(RECORD, STATE, ACTIVATE_VERSION) stays on the caller's thread: an account's thread only
puts what it has on a queue, in order (records of a page, then the state that counts
them), so STATE never runs ahead of the records it vouches for. One account's failure
stays its own: it ends that thread, and the others go on.
"""

from __future__ import annotations

import logging
import queue
import threading
import typing as t
from dataclasses import dataclass, field

from tap_linkedin_connections.outx.client import TAP_SETTINGS, SettingNames

if t.TYPE_CHECKING:
    from tap_linkedin_connections.outx.client import Log

#: The account name of the one-account form (the ``api_key`` setting).
DEFAULT_ACCOUNT = "default"

#: Messages waiting for the caller, at most: an account that runs ahead of the target
#: waits rather than holding its pages in memory.
OUTBOX_SIZE = 64


@dataclass(frozen=True)
class Account:
    """One LinkedIn account: a name for its rows and the OutX key that reaches it."""

    name: str
    #: The tap's settings as this account sees them: its own ``api_key``, ``api_url``
    #: and ``linkedin_export``.
    config: t.Mapping[str, t.Any] = field(repr=False)
    #: How errors name its key and URL settings: its ``accounts`` entry, if it has one.
    settings: SettingNames = TAP_SETTINGS


@dataclass(frozen=True)
class Accounts:
    """The accounts of a run, and which form of the settings named them.

    The one place that decides between the two forms: the one-account ``api_key``
    setting (rows labelled ``default``, STATE right in the stream's bookmark, errors as
    they are) and the ``accounts`` setting (each account named in logs and errors,
    STATE under ``accounts.<name>``).
    """

    members: tuple[Account, ...]
    #: True with the ``accounts`` setting, even when it lists a single account.
    several: bool

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Accounts:
        """The accounts of a validated config: the ``accounts`` list, or the one ``api_key``."""
        entries = config.get("accounts") or []
        if not entries:
            return cls((Account(DEFAULT_ACCOUNT, config),), several=False)
        shared = {key: value for key, value in config.items() if key != "accounts"}
        members = tuple(
            Account(
                entry["name"],
                {
                    **shared,
                    "api_key": entry["api_key"],
                    "api_url": entry.get("api_url") or config["api_url"],
                    # An export holds one member's connections: never another account's.
                    "linkedin_export": entry.get("linkedin_export"),
                },
                SettingNames.of_entry(
                    f"accounts entry {position} ('{entry['name']}')",
                    own_url=bool(entry.get("api_url")),
                ),
            )
            for position, entry in enumerate(entries, start=1)
        )
        return cls(members, several=True)

    def __iter__(self) -> t.Iterator[Account]:
        return iter(self.members)

    def log_for(self, logger: logging.Logger, account: Account) -> Log:
        """Where an account's lines go: naming the account when there are several."""
        return AccountLog(logger, account.name) if self.several else logger


# Not subscripted: LoggerAdapter is generic only for type checkers before Python 3.11.
class AccountLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The stream's logger, with each line naming the account it is about."""

    def __init__(self, logger: logging.Logger, account: str) -> None:
        super().__init__(logger, {})
        self.account = account

    def process(self, msg: t.Any, kwargs: t.MutableMapping[str, t.Any]) -> tuple[t.Any, t.Any]:
        return f"account '{self.account}': {msg}", kwargs


@dataclass
class Records:
    """A page's records, to be emitted in this order."""

    account: str
    records: list[dict[str, t.Any]]


@dataclass
class Checkpoint:
    """An account's state as of everything it put on the outbox before."""

    account: str
    state: dict[str, t.Any]


@dataclass
class Finished:
    """An account's thread ended; ``failure`` is why, if it did not end well."""

    account: str
    failure: Exception | None = None


Message = Records | Checkpoint | Finished


class Outbox:
    """What the accounts' threads hand to the caller's thread, in order per account."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=OUTBOX_SIZE)
        self.closed = threading.Event()  # the caller stopped reading: threads give up

    def put(self, message: Message) -> None:
        while not self.closed.is_set():
            try:
                self._queue.put(message, timeout=0.5)
            except queue.Full:
                continue
            return
        raise Abandoned

    def get(self) -> Message:
        return self._queue.get()

    def waiting(self) -> int:
        """Messages queued now (a hint: threads may add more at any time)."""
        return self._queue.qsize()


class AccountsFailed(Exception):
    """Some accounts failed (each named in its own line before); the others were read."""


class Abandoned(Exception):
    """The caller stopped reading (the run is ending); the account's thread stops."""


def side_by_side(
    outbox: Outbox, work: t.Mapping[str, t.Callable[[], t.Iterator[list[dict[str, t.Any]]]]]
) -> t.Iterator[Message]:
    """Run each account's ``work`` on a thread of its own; yield what reaches ``outbox``.

    ``work`` yields pages of records, which go to the outbox as ``Records`` (the work
    puts its own ``Checkpoint`` messages there). Every account ends with exactly one
    ``Finished``; a failure is caught and carried in it, never raised here. If the caller
    stops early (an exception, a closed pipe), the threads are told to stop at their
    next message; they are daemons, so a thread waiting on OutX does not keep the
    process alive.
    """

    def run(name: str, pages: t.Callable[[], t.Iterator[list[dict[str, t.Any]]]]) -> None:
        failure: Exception | None = None
        try:
            for records in pages():
                outbox.put(Records(name, records))
        except Abandoned:
            return
        except Exception as exc:  # one account's failure is reported, not raised
            failure = exc
        try:
            outbox.put(Finished(name, failure))
        except Abandoned:
            return

    threads = [
        threading.Thread(target=run, args=(name, pages), name=f"account-{name}", daemon=True)
        for name, pages in work.items()
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            message = outbox.get()
            if isinstance(message, Finished):
                running -= 1
            yield message
    finally:
        outbox.closed.set()

"""One account's run of the ``profiles`` stream: emit what is stored, then fetch today's.

The account's part of the stream's STATE (see accounts/stream.py for where it sits):

- ``emitted``: ``seq``, the last stored profile this pipeline emitted (memory.py), and
  ``store``, which ledger database that seq belongs to (another one starts over);
- ``task``: the profile task in flight when a run stopped (its URN, slug and ids), polled
  first by the next run.

A run, per account:

1. emits the profiles stored after ``emitted`` (fetched by another pipeline on the
   account, or by a run killed before its target committed): no LinkedIn action;
2. polls the tasks a stopped or killed run left in flight (STATE, then the task
   ledger) instead of creating them again, outside the day's count of new ones;
3. fetches the day's profiles (today.py, choose.py), one at a time, emitting each.

The connections stream syncs first (the tap lists it first), so its pages are counted
in the account's budget before the profiles take what is left.
"""

from __future__ import annotations

import hashlib
import json
import typing as t
from contextlib import closing

from tap_linkedin_connections.clock import REAL_CLOCK, Clock
from tap_linkedin_connections.engine.ledger import (
    LedgerError,
    TaskLedger,
    account_fingerprint,
    ledger_url,
)
from tap_linkedin_connections.engine.pacing import PacingRules, TaskPacer
from tap_linkedin_connections.engine.runner import TaskRunner
from tap_linkedin_connections.engine.timing import PollSettings
from tap_linkedin_connections.history.memory import ListMemory
from tap_linkedin_connections.history.store import HistoryStore
from tap_linkedin_connections.outx.client import OutXClient
from tap_linkedin_connections.outx.kinds import FETCH_PROFILE, ProfileAnswer, ProfileKey
from tap_linkedin_connections.profiles.fetcher import PROFILE_READER, ProfileFetcher, Wanted
from tap_linkedin_connections.profiles.listing import ConnectionListing
from tap_linkedin_connections.profiles.memory import ProfileMemory
from tap_linkedin_connections.profiles.today import ProfileSettings, describe_plan, plan_for_today

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts import versions
    from tap_linkedin_connections.accounts.threads import Account
    from tap_linkedin_connections.outx.client import Log
    from tap_linkedin_connections.profiles.choose import ProfilePlan

Record = dict[str, t.Any]

#: The keys of an account's part of the profiles stream's STATE.
PROFILE_STATE_KEYS = ("emitted", "task")

#: Why profiles need the task ledger, in the one line that refuses them without it.
NEEDS_LEDGER = (
    "the profiles stream needs the task ledger (task_ledger is none): without it, the tap "
    "cannot remember which profiles it fetched, and every run would spend its profile "
    "views on the same people again; set task_ledger to a file path or a database URL, "
    "or deselect the profiles stream"
)


def store_id(url: str, account: str) -> str:
    """Which ledger database and account an emitted seq belongs to (no password kept)."""
    return hashlib.sha256(f"{url}\n{account}".encode()).hexdigest()[:16]


def open_ledger(config: t.Mapping[str, t.Any]) -> TaskLedger:
    """The account's task ledger; LedgerError (one line) when it is off."""
    url = ledger_url(config.get("task_ledger"))
    if url is None:
        raise LedgerError(NEEDS_LEDGER)
    return TaskLedger(url, account_fingerprint(config["api_url"], config["api_key"]))


class ProfilesReader:
    """Reads one account's profiles in one run (an accounts.stream.AccountReader)."""

    proved = False  # profiles are upserted; no pass ever proves a table complete
    outcome = "no ACTIVATE_VERSION: profiles are upserted, never deleted"

    def __init__(
        self,
        account: Account,
        state: dict[str, t.Any],
        *,
        checkpoint: t.Callable[[], None],
        logger: Log,
        user_agent: str,
        run_started_at: float,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.account = account
        self.config = account.config
        self.state = state
        self.checkpoint = checkpoint
        self.logger = logger
        self.user_agent = user_agent
        self.run_started_at = run_started_at
        self.clock = clock
        self.counts = ""
        self.emitted = 0

    def why_full(self) -> str:
        return ""

    def read(self, table: versions.Table) -> t.Iterator[list[Record]]:
        """Emit the stored profiles this pipeline has not emitted, then fetch today's."""
        del table  # the base stream stamps the records with it
        ledger = open_ledger(self.config)
        with closing(ledger):
            memory = ProfileMemory(ledger)
            listing = ConnectionListing(ledger)
            self._load_watermark(ledger)
            yield from self._emit_stored(memory)
            yield from self._fetch_today(ledger, memory, listing)

    # Emitting

    def _load_watermark(self, ledger: TaskLedger) -> None:
        store = store_id(ledger.url, ledger.account)
        emitted = self.state.get("emitted")
        if not isinstance(emitted, dict) or emitted.get("store") != store:
            if emitted is not None:
                self.logger.info(
                    "The profiles' state belongs to another task ledger: every stored "
                    "profile is emitted again (no LinkedIn action)"
                )
            self.state["emitted"] = {"seq": 0, "store": store}
        self.state["emitted"]["seq"] = int(self.state["emitted"]["seq"])

    def _emit_stored(self, memory: ProfileMemory) -> t.Iterator[list[Record]]:
        """The stored profiles after the watermark, a batch at a time."""
        while batch := memory.records_after(int(self.state["emitted"]["seq"])):
            records = [{**record, "account": self.account.name} for _, record in batch]
            yield records
            self.emitted += len(records)
            self.state["emitted"]["seq"] = batch[-1][0]
            self.checkpoint()  # after the records it counts, on the same outbox

    # Fetching

    def _fetch_today(
        self, ledger: TaskLedger, memory: ProfileMemory, listing: ConnectionListing
    ) -> t.Iterator[list[Record]]:
        settings = ProfileSettings.from_config(self.config)
        pacer = TaskPacer(
            settings.rules(PacingRules.from_config(self.config)), ledger, clock=self.clock
        )
        client = OutXClient.from_config(
            self.config,
            user_agent=self.user_agent,
            logger=self.logger,
            settings=self.account.settings,
        )
        runner = self._runner(client, pacer, ledger)
        # Job changes become connection_events too: the account's list in the history.
        history_store = HistoryStore(ledger.url)
        fetcher = ProfileFetcher(
            runner,
            memory,
            account=self.account.name,
            slot_state=self.state,
            checkpoint=self.checkpoint,
            logger=self.logger,
            clock=self.clock,
            history=ListMemory.of_account(history_store, self.account, self.clock.now()),
        )
        with closing(client), closing(history_store):
            try:
                resumed = self._left_in_flight(ledger, listing)
                plan = plan_for_today(
                    listing,
                    memory,
                    pacer,
                    settings,
                    this_run=self._tasks_this_run(ledger),
                    apart={one.key.entity_urn for one in resumed},
                )
                self._tell_plan(plan, settings, listing, len(resumed))
                wanted = [*resumed, *self._wanted(plan, listing)]
                done: set[str] = set()
                for one in wanted:
                    if one.key.entity_urn in done:
                        continue
                    done.add(one.key.entity_urn)
                    if not fetcher.fetch(one):
                        break
                    yield from self._emit_stored(memory)
                runner.pass_ended()  # what it read is stored: no later run polls it again
            finally:
                self._summarise(fetcher, runner)

    def _runner(
        self, client: OutXClient, pacer: TaskPacer, ledger: TaskLedger
    ) -> TaskRunner[ProfileKey, ProfileAnswer]:
        """The engine for this run's profile tasks, under the account's one budget."""
        return TaskRunner(
            client,
            FETCH_PROFILE,
            pacer=pacer,
            ledger=ledger,
            poll=PollSettings.from_config(self.config),
            budget=None,
            reader=PROFILE_READER,
            saved=self.checkpoint,
            sleep=self.clock.sleep,
            logger=self.logger,
            clock=self.clock,
        )

    def _left_in_flight(self, ledger: TaskLedger, listing: ConnectionListing) -> list[Wanted]:
        """Profile tasks a stopped or killed run left: STATE's first, then the ledger's."""
        keys: dict[str, str | None] = {}
        kept = self.state.get("task")
        if isinstance(kept, dict) and kept.get("entity_urn") and kept.get("slug"):
            keys[str(kept["entity_urn"])] = str(kept["slug"])
        else:
            self.state.pop("task", None)
        for text in ledger.unfinished_keys(FETCH_PROFILE.name):
            urn = json.loads(text).get("entity_urn")
            if isinstance(urn, str):
                keys.setdefault(urn, None)
        slugs = listing.slugs([urn for urn, slug in keys.items() if slug is None])
        headlines = {
            c.entity_urn: c.headline for c in listing.connections() if c.entity_urn in keys
        }
        wanted = []
        for urn, slug in keys.items():
            slug = slug or slugs.get(urn)
            if slug:
                wanted.append(Wanted(ProfileKey(urn, slug), headlines.get(urn)))
        return wanted

    def _wanted(self, plan: ProfilePlan, listing: ConnectionListing) -> list[Wanted]:
        headlines = {c.entity_urn: c.headline for c in listing.connections()}
        return [
            Wanted(
                ProfileKey(choice.entity_urn, choice.public_identifier),
                headlines.get(choice.entity_urn),
            )
            for choice in plan.fetch
        ]

    def _tasks_this_run(self, ledger: TaskLedger) -> int:
        """Tasks created on the account since this run began (every kind)."""
        with ledger.locked() as conn:
            return len(ledger.creation_times(conn, self.run_started_at))

    def _tell_plan(
        self, plan: ProfilePlan, settings: ProfileSettings, listing: ConnectionListing, resumed: int
    ) -> None:
        if listing.summary().connections == 0:
            self.logger.warning(
                "Profiles know no connection of this account yet: they choose from what "
                "the connections stream reads, so select it too"
            )
        line = describe_plan(plan, settings)
        if resumed:
            line = f"{resumed} tasks left in flight by an earlier run, polled first; {line}"
        self.logger.info("Profiles today: %s", line)

    def _summarise(self, fetcher: ProfileFetcher, runner: TaskRunner[t.Any, t.Any]) -> None:
        counts = fetcher.counts
        self.counts = (
            f"{self.emitted} profiles emitted, {counts.fetched} fetched, "
            f"{counts.failures()} failed, {counts.job_changes} job changes; "
            f"{runner.tasks_created} profile tasks created (LinkedIn profile views), "
            f"{runner.tasks_reused} re-polled from the task ledger, {runner.polls} status polls"
        )
        if fetcher.stopped:
            self.logger.warning("Stopped fetching profiles: %s", fetcher.stopped)

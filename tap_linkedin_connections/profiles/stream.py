"""The ``profiles`` and ``job_changes`` streams: declarations and one hook each.

Both are **opt-in**: not selected unless the catalog (or Meltano's ``select``) says so
(``selected_by_default`` is False, which the catalog carries as ``selected-by-default:
false``). Every profile fetch is a profile view on the user's LinkedIn account; a run
that does not select ``profiles`` creates no profile task. Meltano selects every stream
when a project sets no ``select`` rule of its own; the Hub definition and this
project's meltano.yml therefore declare ``select: [connections.*, connection_events.*]``
(see the README).

``job_changes`` holds the job changes that re-fetched profiles showed (memory.py), with
the previous and current title and company as objects; each is also a ``job_changed``
event in the history's ``connection_events`` (fetcher.py), for those who follow every
change of the network in one stream.

How the accounts are read side by side and STATE's layout are the base stream's
(accounts/stream.py); one account's run is reader.py's.
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_linkedin_connections.accounts import versions
from tap_linkedin_connections.accounts.stream import ACCOUNT, AccountsStream
from tap_linkedin_connections.clock import REAL_CLOCK, Clock
from tap_linkedin_connections.profiles.memory import ProfileMemory
from tap_linkedin_connections.profiles.reader import (
    PROFILE_STATE_KEYS,
    ProfilesReader,
    open_ledger,
    store_id,
)
from tap_linkedin_connections.profiles.schema import PROFILES_SCHEMA
from tap_linkedin_connections.state_numbers import whole

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts.threads import Account

Record = dict[str, t.Any]

JOB = th.ObjectType(
    th.Property("title", th.StringType(nullable=True), description="Job title."),
    th.Property("company", th.StringType(nullable=True), description="Company."),
)

JOB_CHANGES_SCHEMA = th.PropertiesList(
    ACCOUNT,
    th.Property(
        "entity_urn", th.StringType, required=True, description="The person's LinkedIn URN."
    ),
    th.Property("public_identifier", th.StringType(nullable=True), description="Profile slug."),
    th.Property("event", th.StringType, description="Always `job_changed`."),
    th.Property(
        "observed_at",
        th.DateTimeType,
        required=True,
        description="When the re-fetch that showed the change completed, UTC.",
    ),
    th.Property("previous", JOB, description="Current title and company at the fetch before."),
    th.Property("current", JOB, description="Current title and company now."),
).to_dict()


def state_problems(state: t.Mapping[str, t.Any]) -> dict[str, str]:
    """What cannot be used in an account's part of the profiles' STATE, by key."""
    problems = {}
    emitted = state.get("emitted")
    if emitted is not None and not (
        isinstance(emitted, dict)
        and isinstance(emitted.get("store"), str)
        and whole(emitted.get("seq"))
    ):
        problems["emitted"] = "'emitted' is not an object with a whole 'seq' and a 'store'"
    task = state.get("task")
    if task is not None and not (
        isinstance(task, dict)
        and all(isinstance(task.get(k), str) for k in ("entity_urn", "slug"))
        and (task.get("id") is None or isinstance(task.get("id"), str))
        and whole(task.get("attempt"))
        and isinstance(task.get("ids"), list)
    ):
        problems["task"] = "'task' is not a profile task (entity_urn, slug, id, attempt, ids)"
    return problems


class ProfilesStream(AccountsStream):
    """The latest fetch of each connection's LinkedIn profile, one RECORD per account
    and person. Opt-in: each fetch is a profile view."""

    name = "profiles"
    primary_keys: t.ClassVar[list[str]] = ["account", "entity_urn"]
    selected_by_default = False
    # Records are built field by field (records.py); `raw` is whatever OutX sent.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = PROFILES_SCHEMA
    account_state_keys = PROFILE_STATE_KEYS
    #: Time, for the profile work (the engine's waits, the memory's times).
    clock: Clock = REAL_CLOCK

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: When the run began: its tasks of every kind count in max_tasks_per_run.
        self.run_started_at = self.clock.now()

    @staticmethod
    def state_problems(state: t.Mapping[str, t.Any]) -> dict[str, str]:
        return state_problems(state)

    @override
    def reader(
        self, account: Account, state: dict[str, t.Any], checkpoint: t.Callable[[], None]
    ) -> ProfilesReader:
        return ProfilesReader(
            account,
            state,
            checkpoint=checkpoint,
            logger=self.log_for(account),
            user_agent=self.user_agent,
            run_started_at=self.run_started_at,
            clock=self.clock,
        )


class JobChangesReader:
    """Emits an account's job changes found since this pipeline last emitted them."""

    proved = False
    outcome = "no ACTIVATE_VERSION: events are only ever added"

    def __init__(self, account: Account, state: dict[str, t.Any], checkpoint: t.Callable[[], None]):
        self.account = account
        self.state = state
        self.checkpoint = checkpoint
        self.counts = ""

    def why_full(self) -> str:
        return ""

    def read(self, table: versions.Table) -> t.Iterator[list[Record]]:
        del table
        ledger = open_ledger(self.account.config)
        emitted = 0
        try:
            memory = ProfileMemory(ledger)
            store = store_id(ledger.url, ledger.account)
            mark = self.state.get("emitted")
            if not isinstance(mark, dict) or mark.get("store") != store:
                self.state["emitted"] = mark = {"seq": 0, "store": store}
            while batch := memory.job_changes_after(int(mark["seq"])):
                yield [{**event, "account": self.account.name} for _, event in batch]
                emitted += len(batch)
                mark["seq"] = batch[-1][0]
                self.checkpoint()
        finally:
            ledger.close()
            self.counts = f"{emitted} job changes emitted"


class JobChangesStream(AccountsStream):
    """Job changes seen by re-fetched profiles: the previous and current title and company."""

    name = "job_changes"
    primary_keys: t.ClassVar[list[str]] = ["account", "entity_urn", "observed_at"]
    selected_by_default = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = JOB_CHANGES_SCHEMA
    account_state_keys = ("emitted",)

    @staticmethod
    def state_problems(state: t.Mapping[str, t.Any]) -> dict[str, str]:
        return {k: v for k, v in state_problems(state).items() if k != "task"}

    @override
    def reader(
        self, account: Account, state: dict[str, t.Any], checkpoint: t.Callable[[], None]
    ) -> JobChangesReader:
        return JobChangesReader(account, state, checkpoint)

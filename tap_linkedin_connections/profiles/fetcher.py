"""Fetching profiles through the task engine, one at a time, remembering each answer.

Every profile fetch is a profile view on the user's LinkedIn account: the engine
(engine/runner.py) reserves it in the account's budget, creates it, and polls it; a
task already in the ledger for the same connection (a killed run's) is polled instead
of created. A fetch that fails (not found, not visible, or without a reason) is an
answer too (``FETCH_PROFILE.read_failed``): remembered with its pause, never created
again in the run. Each answer reaches the profile memory (memory.py) before the next
task is created.

One task at a time: the extension runs one anyway, and the spacing between creates
sets the pace.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from tap_linkedin_connections.engine.runner import Queue, TaskRunner
from tap_linkedin_connections.history.events import Change, ConnectionEvent
from tap_linkedin_connections.outx.client import TaskGaveUp
from tap_linkedin_connections.outx.kinds import ProfileAnswer, ProfileKey
from tap_linkedin_connections.profiles.records import (
    FailureKind,
    ProfileProblem,
    failure_kind,
    profile_record,
)

if t.TYPE_CHECKING:
    from tap_linkedin_connections.clock import Clock
    from tap_linkedin_connections.engine.poller import TaskSlot
    from tap_linkedin_connections.history.memory import ListMemory
    from tap_linkedin_connections.outx.client import Log
    from tap_linkedin_connections.profiles.memory import ProfileMemory

#: The reader the ledger marks profile tasks with: one per account, whatever the
#: pipeline, since what a fetch read is stored for every pipeline (memory.py).
PROFILE_READER = "profiles"


@dataclass
class FetchCounts:
    """What the run's fetches came to."""

    fetched: int = 0
    failed: dict[FailureKind, int] = field(default_factory=dict)
    job_changes: int = 0

    def failures(self) -> int:
        return sum(self.failed.values())


@dataclass(frozen=True)
class Wanted:
    """One profile to fetch: its key and the list's headline now (remembered with it)."""

    key: ProfileKey
    headline: str | None


class ProfileFetcher:
    """Fetches one account's profiles, one task at a time.

    Args:
        runner: the engine, for FETCH_PROFILE tasks.
        memory: where each answer is remembered.
        account: the account's name, written in its records.
        slot_state: the account's part of STATE; the task in flight lives in ``task``.
        checkpoint: writes STATE.
        logger: where the run's lines go.
        clock: time.
        history: the list's network history, if kept: job changes become its events.
    """

    def __init__(
        self,
        runner: TaskRunner[ProfileKey, ProfileAnswer],
        memory: ProfileMemory,
        *,
        account: str,
        slot_state: dict[str, t.Any],
        checkpoint: t.Callable[[], None],
        logger: Log,
        clock: Clock,
        history: ListMemory | None = None,
    ) -> None:
        self.runner = runner
        self.memory = memory
        #: The network history of the account's list: job changes go to its events.
        self.history = history
        self.account = account
        self.state = slot_state
        self.checkpoint = checkpoint
        self.logger = logger
        self.clock = clock
        self.counts = FetchCounts()
        self._problems_told: set[ProfileProblem] = set()
        #: Why the run fetches no more profiles; "" while it may.
        self.stopped = ""

    def fetch(self, wanted: Wanted) -> bool:
        """Fetch one profile and remember the answer; False if the run fetches no more."""
        if self.stopped:
            return False
        slot = self._slot(wanted.key)
        if slot["id"] is None and not self.runner.prepare(slot, wanted.key, block=True):
            self._stop_from_runner()
            self.state.pop("task", None)
            return False
        try:
            done = self.runner.wait(slot, wanted.key, Queue(behind=list))
        except TaskGaveUp as gave_up:
            # Something is wrong beyond this profile (the extension, LinkedIn's limit):
            # more views would pay for the same trouble.
            self._remember_failure(wanted.key, None)
            self.stopped = f"the task for profile {wanted.key.slug} was given up ({gave_up})"
            self._done_with_slot()
            return False
        if done is None:
            self._stop_from_runner()  # the task stays in STATE and the ledger: re-polled next run
            return False
        if done.result.failed:
            self._remember_failure(wanted.key, done.result.output)
        else:
            self._remember(wanted, done.result.output)
        self._done_with_slot()
        return True

    def _slot(self, key: ProfileKey) -> TaskSlot:
        """The task in flight for this profile from STATE (a stopped run's), or a new slot."""
        kept = self.state.get("task")
        if isinstance(kept, dict) and kept.get("entity_urn") == key.entity_urn:
            kept["attempt"] = 0  # attempts count per run
            return t.cast("TaskSlot", kept)
        slot: dict[str, t.Any] = {
            "id": None,
            "attempt": 0,
            "ids": [],
            "entity_urn": key.entity_urn,
            "slug": key.slug,
        }
        self.state["task"] = slot
        return t.cast("TaskSlot", slot)

    def _done_with_slot(self) -> None:
        self.state.pop("task", None)
        self.checkpoint()

    def _stop_from_runner(self) -> None:
        self.stopped = str(self.runner.stop or "the run's task budget is spent")

    def _remember(self, wanted: Wanted, output: t.Any) -> None:
        now = self.clock.now()
        read = profile_record(
            output,
            account=self.account,
            entity_urn=wanted.key.entity_urn,
            public_identifier=wanted.key.slug,
            fetched_at=now,
        )
        for problem in read.problems:
            if problem not in self._problems_told:
                # Once per run: the next results are likely the same.
                self._problems_told.add(problem)
                self.logger.warning("Profile %s: %s", wanted.key.slug, problem.value)
        change = self.memory.fetched(read.record, list_headline=wanted.headline, at=now)
        self.counts.fetched += 1
        if change is not None:
            self.counts.job_changes += 1
            if self.history is not None:
                event = Change(
                    ConnectionEvent.JOB_CHANGED,
                    previous=_job_text(change["previous"]),
                    current=_job_text(change["current"]),
                )
                self.history.job_changed(wanted.key.entity_urn, wanted.key.slug, event, now)
            self.logger.info(
                "Job change: %s, from %s to %s",
                wanted.key.slug,
                _job_text(change["previous"]),
                _job_text(change["current"]),
            )

    def _remember_failure(self, key: ProfileKey, output: t.Any) -> None:
        kind = failure_kind(output) if output is not None else FailureKind.UNEXPLAINED
        in_a_row = self.memory.failed(key.entity_urn, kind, at=self.clock.now())
        self.counts.failed[kind] = self.counts.failed.get(kind, 0) + 1
        self.logger.info(
            "Profile %s could not be fetched (%s, %d in a row): it waits before another try",
            key.slug,
            kind.value.replace("_", " "),
            in_a_row,
        )


def _job_text(job: t.Mapping[str, t.Any]) -> str:
    title, company = job.get("title"), job.get("company")
    return " at ".join(str(part) for part in (title, company) if part) or "no current job"

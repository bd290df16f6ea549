"""One account's pass over its connections: pages in, records and its STATE out.

The account's part of STATE (see accounts/stream.py for where it sits):

- ``bookmark``: what the last completed pass learnt: ``identity`` (account, keyword and
  order), ``newest`` (the entity URNs at the top of the newest-first list), ``version``
  (the table version of the last full pass), ``proved`` (the version of the last full
  pass that proved itself complete) and ``total`` (connections then).
- ``pass``: the pass under way, if a run stopped before it ended: its ``kind`` (``full``
  or ``incremental``), ``version``, ``page_size``, the task pipeline's ``next_offset`` and
  ``tasks`` in flight, the ``newest`` URNs emitted so far, and its continuity (see
  passes.py): ``tail``, ``ahead``/``ahead_offset``/``bridges`` while a gap is open,
  ``lost`` once it cannot be proven whole; ``started_at``, its id in the network
  history (history/recorder.py). The next run resumes it.
- ``task_window``: when the account's tasks of the last day were created, for pacing,
  only when the task ledger is off (``task_ledger: none``); otherwise the ledger keeps
  them.

Their shapes are typed in passes.py (``Bookmark``, ``PassState``, ``TaskEntry``).
"""

from __future__ import annotations

import typing as t
from contextlib import closing
from datetime import datetime, timezone

from tap_linkedin_connections.accounts import versions
from tap_linkedin_connections.connections import passes
from tap_linkedin_connections.connections.pager import ConnectionsPager
from tap_linkedin_connections.connections.records import PLAIN, to_record
from tap_linkedin_connections.engine.ledger import TaskLedger, account_fingerprint, ledger_url
from tap_linkedin_connections.engine.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.history.columns import TopOfList
from tap_linkedin_connections.history.enrich import RecordEnricher
from tap_linkedin_connections.outx.client import Log, OutXClient

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts.threads import Account

#: How many of the newest connections the bookmark remembers. Several, not one: the
#: newest may be removed, and the next run must still find where it stopped.
REMEMBERED_NEWEST = passes.REMEMBERED

#: The keys of an account's part of STATE.
ACCOUNT_STATE_KEYS = ("bookmark", "pass", "task_window")


def new_records(
    current: passes.PassState,
    records: list[dict[str, t.Any]],
    step: passes.Step,
    read: set[str],
    known: list[str],
    *,
    in_top: bool,
) -> list[dict[str, t.Any]]:
    """The records of a placed page that are emitted; counts them in ``current``.

    Emitted: what this pass has not read (the overlap, and above it whatever a shift
    brought back, was emitted already, maybe in an earlier run: ``step.new_from``)
    nor loaded before (an incremental run's remembered connections, a re-connected
    one among them; the pass's first page, for the top re-read), down to where the
    connections already loaded resume (``step.resumes_at``).
    """
    if step.event is passes.Event.REREAD:
        return []  # the page is read again; its second reading counts
    ours = current.get("first") or current["newest"]
    skip = set(passes.marks(ours if in_top else known))
    cut = len(records) if step.resumes_at is None else step.resumes_at
    new = []
    for record in records[step.new_from : cut]:
        urn = record["entity_urn"]
        urn_mark = passes.mark(urn)
        if urn_mark in read or urn_mark in skip:
            continue
        read.add(urn_mark)
        new.append(record)
        newest = current["newest"]
        if not in_top and len(newest) < REMEMBERED_NEWEST and urn not in newest:
            newest.append(urn)  # only connections that were emitted
    read.update(passes.mark(r["entity_urn"]) for r in records)
    current["emitted"] = int(current.get("emitted", 0)) + len(new)
    return new


def pass_started_at(current: passes.PassState) -> str:
    """When the pass started (ISO 8601), set now if its STATE does not say (a new pass,
    or one begun by a release before the network history)."""
    started = current.get("started_at")
    try:
        datetime.fromisoformat(started)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # missing, or edited by hand
        started = current["started_at"] = datetime.now(timezone.utc).isoformat()
    return str(started)


def log_step(logger: Log, offset: int, step: passes.Step) -> None:
    """Say what a page made the pass do, when it was not just the next page."""
    then = step.bridge if step.bridge is not None else step.next_offset
    if step.lost:
        logger.warning(
            "Continuity lost near offset %d (%s): the pass reads on and keeps every "
            "record, but will not send ACTIVATE_VERSION",
            offset,
            step.lost,
        )
    elif step.event in (passes.Event.REPAIR, passes.Event.REREAD):
        logger.warning(
            "The page at offset %d: %s; reading offset %d again", offset, step.event.value, then
        )
    elif step.event is not passes.Event.NONE:
        logger.info("The page at offset %d: %s; reading offset %d", offset, step.event.value, then)


def identity_of(account: Account) -> passes.Identity:
    """Which list the account's passes read."""
    return {
        "account": account.name,
        "keyword": account.config.get("keyword"),
        "sort_type": account.config["sort_type"],
    }


class AccountPass:
    """Runs (or resumes) one pass of one account; the stream emits what it yields.

    ``state`` is the account's part of STATE, owned by this object while it reads;
    ``checkpoint`` is called whenever it must reach STATE (a task was created, a page
    was consumed), after the records it counts were yielded.
    """

    def __init__(
        self,
        account: Account,
        state: dict[str, t.Any],
        *,
        checkpoint: t.Callable[[], None],
        logger: Log,
        user_agent: str,
        enricher: RecordEnricher = PLAIN,
    ) -> None:
        self.account = account
        #: What the account's records gain beyond OutX's fields (see history/enrich.py).
        self.enricher = enricher
        self.config = account.config
        self.state = state
        #: The table version this run's records carry (set by ``read``).
        self.table: versions.Table = {"version": 0, "activated": False}
        self.checkpoint = checkpoint
        self.logger = logger
        self.user_agent = user_agent
        #: The run's counts, for the summary line; set when reading ends.
        self.counts = ""
        #: Whether this run completed a full pass that proved itself (see passes).
        self.proved = False
        #: Why no ACTIVATE_VERSION follows from this account's run, unless ``proved``.
        self.outcome = "ACTIVATE_VERSION not sent: the pass is not finished"
        #: When the pass under way started (its id in the network history); set by read.
        self.started_at = ""
        #: Whether this run ended an incremental pass on connections of the last pass.
        self.reached_known = False

    def why_full(self) -> str:
        """Why this account's next pass must be a full one; "" when it may be incremental."""
        bookmark = t.cast("passes.Bookmark", self.state.get("bookmark") or {})
        return passes.why_full(identity_of(self.account), bookmark, full_refresh=False)

    def read(self, table: versions.Table) -> t.Iterator[list[dict[str, t.Any]]]:
        """Yield the pass's new connections under ``table``, a page's records at a time."""
        self.table = table
        config = self.config
        current = self._start_or_resume_pass(identity_of(self.account))
        self.started_at = pass_started_at(current)
        client = OutXClient.from_config(
            config, user_agent=self.user_agent, logger=self.logger, settings=self.account.settings
        )
        with closing(client):
            pacer = self._pacer()
            with closing(pacer):
                pager = ConnectionsPager.from_config(
                    config,
                    client,
                    pacer,
                    progress=current,
                    checkpoint=self.checkpoint,
                    logger=self.logger,
                    lookahead=1 if current["kind"] == "incremental" else None,
                    expected_total=(self.state.get("bookmark") or {}).get("total"),
                    reads_to_end=current["kind"] == "full",
                )
                yield from self._read_pass(current, pager, client)

    def _read_pass(
        self, current: passes.PassState, pager: ConnectionsPager, client: OutXClient
    ) -> t.Iterator[list[dict[str, t.Any]]]:
        bookmark = t.cast("passes.Bookmark", self.state.get("bookmark") or {})
        known = list(bookmark.get("newest", [])) if current["kind"] == "incremental" else []
        # The marks of every connection this pass read: this run's pages, and the
        # pages STATE holds (they were emitted, maybe in an earlier run).
        read = {
            *passes.marks(current.get("tail")),
            *passes.marks(current.get("ahead")),
            *passes.marks(current.get("top")),
        }
        try:
            while (page := pager.next_page()) is not None:
                # The whole page is checked before any of it is emitted.
                records = [
                    to_record(c, page, i, self.account.name, self.enricher)
                    for i, c in enumerate(page.connections)
                ]
                urns = [r["entity_urn"] for r in records]
                in_top = current.get("phase") == passes.Phase.TOP.value
                step = passes.place_page(
                    current,
                    page.offset,
                    urns,
                    int(current["page_size"]),
                    bridge=page.bridge,
                    read=read,
                    known=known,
                )
                log_step(self.logger, page.offset, step)
                new = new_records(current, records, step, read, known, in_top=in_top)
                if new:
                    # The history ranks what the top re-read finds above the whole pass.
                    yield TopOfList(new) if in_top else new
                pager.consumed(
                    page, len(new), next_offset=step.next_offset, end=step.end, bridge=step.bridge
                )
            if pager.end_reached:
                pager.pass_done()
                self._finish_pass(current, bookmark)
        finally:
            counters = client.counters
            self.counts = (
                f"{pager.records} connections emitted, {pager.tasks_created} tasks created "
                f"(LinkedIn actions; {counters['ambiguous_create_retries']} create retries "
                f"after a lost answer), {pager.tasks_reused} tasks re-polled from the task "
                f"ledger, {pager.polls} status polls, {counters['retries']} HTTP retries"
            )
        if not pager.end_reached:
            self._log_stop(current, pager)
        self.checkpoint()

    def _log_stop(self, current: passes.PassState, pager: ConnectionsPager) -> None:
        """Say why the pass stopped before its end, and where the next run goes on."""
        if pager.stop_reason is not None:
            self.logger.warning(
                "Stopped creating tasks: %s. %d connections so far in this %s pass; the "
                "next run continues at offset %d",
                pager.stop_reason,
                current["emitted"],
                current["kind"],
                pager.next_offset,
            )
        else:
            self.logger.warning(
                "Stopped after %d tasks (max_tasks_per_run=%s): %d connections so far in "
                "this %s pass; the next run continues at offset %d",
                pager.tasks_created,
                self.config.get("max_tasks_per_run"),
                current["emitted"],
                current["kind"],
                pager.next_offset,
            )

    def _start_or_resume_pass(self, identity: passes.Identity) -> passes.PassState:
        current = self.state.get("pass")
        if current is not None:
            why = passes.why_not_resume(
                current, identity, self.table, full_refresh=bool(self.config.get("full_refresh"))
            )
            if not why:
                self._log_resume(current)
                return t.cast("passes.PassState", current)
            self.logger.warning("%s; starting a new one", why)
        return self._start_pass(identity)

    def _log_resume(self, current: t.Mapping[str, t.Any]) -> None:
        page_size = int(self.config["page_size"])
        if int(current["page_size"]) != page_size:
            self.logger.warning(
                "page_size changed from %d to %d during the unfinished pass: it goes "
                "on with %d; the new size applies from the next pass",
                current["page_size"],
                page_size,
                current["page_size"],
            )
        self.logger.info(
            "Resuming the unfinished %s pass at offset %d with %d task(s) in flight",
            current["kind"],
            int(current.get("next_offset", 0)),
            len(current.get("tasks", [])),
        )

    def _start_pass(self, identity: passes.Identity) -> passes.PassState:
        table = self.table
        bookmark = t.cast("passes.Bookmark", self.state.get("bookmark") or {})
        why_full = passes.why_full(
            identity, bookmark, full_refresh=bool(self.config.get("full_refresh"))
        )
        if not why_full and versions.joins_round(table, bookmark):
            why_full = "every account reads its whole list for a new table version"
        incremental = not why_full
        new: passes.PassState = {
            "identity": identity,
            "kind": "incremental" if incremental else "full",
            # Every record carries the run's table version (see accounts/versions.py).
            "version": table["version"],
            "page_size": int(self.config["page_size"]),
            "next_offset": 0,
            "tasks": [],
            "newest": [],
            "emitted": 0,
        }
        self.state["pass"] = new
        if incremental:
            self.logger.info(
                "Starting an incremental run: new connections down to the first of the %d "
                "remembered ones",
                len(bookmark["newest"]),
            )
        else:
            self.logger.info("Starting a full pass: %s", why_full)
        return new

    def _finish_pass(self, current: passes.PassState, bookmark: passes.Bookmark) -> None:
        """Close the pass: the bookmark, and whether it proved itself complete."""
        emitted = int(current["emitted"])
        stopped_at_known = bool(current.get("reached_known"))
        # The list's new top, above what was loaded before: found by an incremental run,
        # or by a full pass's top re-read (re-connected contacts among them).
        above = current.get("above", [])
        newest = [*above, *(urn for urn in current["newest"] if urn not in above)]
        if stopped_at_known:
            # Keep remembering older known connections too, in case the few emitted
            # are removed before the next run.
            newest += [urn for urn in bookmark.get("newest", []) if urn not in newest]
        # Totals compare only over the same list (keyword and order).
        same_list = bookmark.get("identity") == current["identity"]
        last_total = int(bookmark["total"]) if "total" in bookmark and same_list else None
        refusal = ""
        if current["kind"] == "full":
            refusal = passes.activate_refusal(
                lost=str(current.get("lost", "")),
                total=emitted,
                last_total=last_total,
                max_deleted_fraction=float(self.config.get("max_deleted_fraction", 0.1)),
            )
        self.proved = current["kind"] == "full" and not refusal
        self.reached_known = stopped_at_known
        total = emitted + (last_total or 0) if stopped_at_known else emitted
        finished: passes.Bookmark = {
            "identity": current["identity"],
            "newest": newest[:REMEMBERED_NEWEST],
            "version": int(current["version"]),
            # A pass that did not prove itself leaves the last complete total in place:
            # the next pass is held to it too.
            "total": last_total if refusal and last_total is not None else total,
        }
        proved = int(current["version"]) if self.proved else bookmark.get("proved")
        if proved is not None:
            finished["proved"] = int(proved)
        self.state["bookmark"] = finished
        del self.state["pass"]
        self._say_how_it_ended(emitted, refusal, len(bookmark.get("newest", [])))

    def _say_how_it_ended(self, emitted: int, refusal: str, remembered: int) -> None:
        """The pass's last line, and why no ACTIVATE_VERSION follows (``outcome``)."""
        if self.proved:
            self.logger.info("Full pass complete: %d connections", emitted)
        elif refusal:
            self.logger.warning(
                "Full pass read %d connections, but ACTIVATE_VERSION is not sent, so no "
                "row is deleted: %s",
                emitted,
                refusal,
            )
            self.outcome = f"ACTIVATE_VERSION not sent: {refusal}"
        elif self.reached_known:
            self.logger.info("Incremental run complete: %d new connections", emitted)
            self.outcome = "ACTIVATE_VERSION not sent: an incremental run never deletes"
        else:
            self.logger.warning(
                "None of the %d remembered connections was found, so the whole list was "
                "read (%d connections); connections removed since the last full pass are "
                "dropped by the next full refresh",
                remembered,
                emitted,
            )
            self.outcome = "ACTIVATE_VERSION not sent: an incremental run never deletes"

    def _pacer(self) -> TaskPacer:
        """The account's budget, shared by every kind of task it creates."""
        config = self.config
        url = ledger_url(config.get("task_ledger"))
        log: TaskLedger | StateWindow
        if url is None:
            log = StateWindow(self.state.setdefault("task_window", []))
        else:
            # Opened before any request: a ledger that cannot be opened fails the
            # account before it spends a LinkedIn action.
            log = TaskLedger(url, account_fingerprint(config["api_url"], config["api_key"]))
        return TaskPacer(PacingRules.from_config(config), log)

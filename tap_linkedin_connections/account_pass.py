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
from urllib.parse import quote

from tap_linkedin_connections import passes
from tap_linkedin_connections.connections.pager import ConnectionsPager, Page
from tap_linkedin_connections.engine.ledger import TaskLedger, account_fingerprint, ledger_url
from tap_linkedin_connections.engine.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.history.enrich import RecordEnricher
from tap_linkedin_connections.outx.client import Log, MalformedPage, OutXClient
from tap_linkedin_connections.outx.kinds import CONNECTION_FIELDS

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts.threads import Account

#: How many of the newest connections the bookmark remembers. Several, not one: the
#: newest may be removed, and the next run must still find where it stopped.
REMEMBERED_NEWEST = 25

PROFILE_URL_PREFIX = "https://www.linkedin.com/in/"

#: The keys of an account's part of STATE.
ACCOUNT_STATE_KEYS = ("bookmark", "pass", "task_window")


#: Records without an export: OutX's date and extra keys only, no warning.
PLAIN = RecordEnricher()


def to_record(
    connection: t.Any, page: Page, index: int, account: str, enricher: RecordEnricher = PLAIN
) -> dict[str, t.Any]:
    """A RECORD from one connection of a page; MalformedPage if it cannot be one.

    ``enricher`` adds the account's export fields, OutX's date and its unknown keys.
    """
    where = f"connection #{index + 1} of the page at offset {page.offset} (task {page.task_id})"
    if not isinstance(connection, dict):
        msg = f"{where} is a {type(connection).__name__}, not an object"
        raise MalformedPage(msg)
    record = {field: connection.get(field) for field in CONNECTION_FIELDS}
    urn = record["entity_urn"]
    if not isinstance(urn, str) or not urn.strip():
        msg = f"{where} has no 'entity_urn'"
        raise MalformedPage(msg)
    for field, value in record.items():
        if value is not None and not isinstance(value, str):
            msg = f"{where} has a {type(value).__name__} in '{field}', not text"
            raise MalformedPage(msg)
    slug = record["public_identifier"]
    record["profile_url"] = PROFILE_URL_PREFIX + quote(slug, safe="-_.~") if slug else None
    record["account"] = account
    record.update(enricher.fields(connection, urn))
    return record


def pass_started_at(current: passes.PassState) -> str:
    """When the pass started (ISO 8601), set now if its STATE does not say (a new pass,
    or one begun by a release before the network history)."""
    started = current.get("started_at")
    try:
        datetime.fromisoformat(started)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # missing, or edited by hand
        started = current["started_at"] = datetime.now(timezone.utc).isoformat()
    return str(started)


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
        self.table: passes.Table = {"version": 0, "activated": False}
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

    def read(self, table: passes.Table) -> t.Iterator[list[dict[str, t.Any]]]:
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
        incremental = current["kind"] == "incremental"
        bookmark = t.cast("passes.Bookmark", self.state.get("bookmark") or {})
        known = list(bookmark.get("newest", [])) if incremental else []
        known_set = set(known)
        page_size = int(current["page_size"])
        seen: set[str] = set()
        stopped_at_known = False
        try:
            while not stopped_at_known and (page := pager.next_page()) is not None:
                # The whole page is checked before any of it is emitted.
                records = [
                    to_record(c, page, i, self.account.name, self.enricher)
                    for i, c in enumerate(page.connections)
                ]
                urns = [r["entity_urn"] for r in records]
                # The pages this one overlaps were emitted already, maybe in an
                # earlier run (``seen`` holds only this run's).
                seen.update(current.get("tail") or [], current.get("ahead") or [])
                step = passes.place_page(current, page.offset, urns, page_size, bridge=page.bridge)
                if step.lost and not current.get("lost"):
                    current["lost"] = step.lost
                    self.logger.warning(
                        "Continuity lost near offset %d (%s): the pass reads on and keeps "
                        "every record, but will not send ACTIVATE_VERSION",
                        page.offset,
                        step.lost,
                    )
                elif step.bridge is not None:
                    self.logger.info(
                        "The page at offset %d does not join the one before (the list "
                        "shifted): reading offset %d to close the gap",
                        page.offset,
                        step.bridge,
                    )
                cut = passes.boundary(urns, known) if incremental else None
                if cut is not None:
                    # Only what is above the last pass's connections is new; a known
                    # contact that re-connected sits above new ones and hides nothing.
                    records = records[:cut]
                    current["reached_known"] = True
                new = []
                for record in records:
                    urn = record["entity_urn"]
                    if urn in seen or urn in known_set:
                        continue  # a known contact who re-connected is loaded already
                    seen.add(urn)
                    if len(current["newest"]) < REMEMBERED_NEWEST and urn not in current["newest"]:
                        current["newest"].append(urn)  # only connections that were emitted
                    new.append(record)
                if new:
                    yield new
                current["emitted"] = int(current.get("emitted", 0)) + len(new)
                stopped_at_known = bool(current.get("reached_known")) and step.bridge is None
                pager.consumed(
                    page,
                    len(new),
                    next_offset=step.next_offset,
                    end=step.end or stopped_at_known,
                    bridge=step.bridge,
                )
            if stopped_at_known or pager.end_reached:
                pager.pass_done()
                self._finish_pass(current, bookmark, stopped_at_known)
        finally:
            counters = client.counters
            self.counts = (
                f"{pager.records} connections emitted, {pager.tasks_created} tasks created "
                f"(LinkedIn actions; {counters['ambiguous_create_retries']} create retries "
                f"after a lost answer), {pager.tasks_reused} tasks re-polled from the task "
                f"ledger, {pager.polls} status polls, {counters['retries']} HTTP retries"
            )

        if not (stopped_at_known or pager.end_reached) and pager.stop_reason is not None:
            self.logger.warning(
                "Stopped creating tasks: %s. %d connections so far in this %s pass; the "
                "next run continues at offset %d",
                pager.stop_reason,
                current["emitted"],
                current["kind"],
                pager.next_offset,
            )
        elif not (stopped_at_known or pager.end_reached):
            self.logger.warning(
                "Stopped after %d tasks (max_tasks_per_run=%s): %d connections so far in "
                "this %s pass; the next run continues at offset %d",
                pager.tasks_created,
                self.config.get("max_tasks_per_run"),
                current["emitted"],
                current["kind"],
                pager.next_offset,
            )
        self.checkpoint()

    def _start_or_resume_pass(self, identity: passes.Identity) -> passes.PassState:
        state, config, table = self.state, self.config, self.table
        current = state.get("pass")
        if current is not None and config.get("full_refresh") and current["kind"] != "full":
            # A full refresh must end with ACTIVATE_VERSION, which an incremental pass
            # never sends: its unfinished remainder is dropped (at most its tasks in
            # flight are lost) in favour of a new full pass.
            self.logger.warning("full_refresh is on: the unfinished incremental pass is dropped")
            current = None
        page_size = int(config["page_size"])
        if current is not None and "page_size" not in current:
            # Written before passes kept their page size: its offsets cannot be trusted.
            self.logger.warning(
                "The unfinished pass does not record its page size; starting a new one"
            )
            current = None
        if current is not None and int(current["version"]) != table["version"]:
            # Its records carry an older table version: a target would delete them
            # when the new version is activated.
            self.logger.warning(
                "The unfinished pass belongs to an older table version; starting a new one"
            )
            current = None
        if current is not None and current.get("identity") == identity:
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
            return t.cast("passes.PassState", current)
        if current is not None:
            self.logger.warning(
                "The keyword or order changed since the unfinished pass; starting a new one"
            )
        bookmark = t.cast("passes.Bookmark", state.get("bookmark") or {})
        why_full = passes.why_full(
            identity, bookmark, full_refresh=bool(config.get("full_refresh"))
        )
        if not why_full and passes.joins_round(table, bookmark):
            why_full = "every account reads its whole list for a new table version"
        incremental = not why_full
        new: passes.PassState = {
            "identity": identity,
            "kind": "incremental" if incremental else "full",
            # Every record carries the run's table version (see passes.table_for_run).
            "version": table["version"],
            "page_size": page_size,
            "next_offset": 0,
            "tasks": [],
            "newest": [],
            "emitted": 0,
        }
        state["pass"] = new
        if incremental:
            self.logger.info(
                "Starting an incremental run: new connections down to the first of the %d "
                "remembered ones",
                len(bookmark["newest"]),
            )
        else:
            self.logger.info("Starting a full pass: %s", why_full)
        return new

    def _finish_pass(
        self, current: passes.PassState, bookmark: passes.Bookmark, stopped_at_known: bool
    ) -> None:
        """Close the pass: the bookmark, and whether it proved itself complete."""
        emitted = int(current["emitted"])
        newest = list(current["newest"])
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
        elif stopped_at_known:
            self.logger.info("Incremental run complete: %d new connections", emitted)
            self.outcome = "ACTIVATE_VERSION not sent: an incremental run never deletes"
        else:
            self.logger.warning(
                "None of the %d remembered connections was found, so the whole list was "
                "read (%d connections); connections removed since the last full pass are "
                "dropped by the next full refresh",
                len(bookmark.get("newest", [])),
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

"""The `connections` stream: passes over the list, records, and the STATE they keep.

STATE, under ``bookmarks.connections``:

- ``bookmark``: what the last completed pass learnt: ``identity`` (keyword and order),
  ``newest`` (the entity URNs at the top of the newest-first list), ``version`` (the
  table version of the last full pass) and ``total`` (connections then).
- ``pass``: the pass under way, if a run stopped before it ended: its ``kind`` (``full``
  or ``incremental``), ``version``, ``page_size``, the task pipeline's ``next_offset`` and
  ``tasks`` in flight, the ``newest`` URNs emitted so far, and its continuity (see
  passes.py): ``tail``, ``ahead``/``ahead_offset``/``bridges`` while a gap is open,
  ``lost`` once it cannot be proven whole. The next run resumes it.
- ``task_window``: when the tasks of the last day were created, for pacing, only when
  the task ledger is off (``task_ledger: none``); otherwise the ledger keeps them.

Their shapes are typed in passes.py (``Bookmark``, ``PassState``, ``TaskEntry``).
"""

from __future__ import annotations

import time
import typing as t
from contextlib import closing
from urllib.parse import quote

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import RemoveRecordTransform
from typing_extensions import override

from tap_linkedin_connections import __name__ as package_name
from tap_linkedin_connections import passes
from tap_linkedin_connections.client import CONNECTION_FIELDS, MalformedPage, OutXClient
from tap_linkedin_connections.ledger import TaskLedger, account_fingerprint, ledger_url
from tap_linkedin_connections.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.sdk import SdkStream
from tap_linkedin_connections.tasks.pipeline import Page, TaskPipeline, query_for

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: How many of the newest connections the bookmark remembers. Several, not one: the
#: newest may be removed, and the next run must still find where it stopped.
REMEMBERED_NEWEST = 25

PROFILE_URL_PREFIX = "https://www.linkedin.com/in/"


def to_record(connection: t.Any, page: Page, index: int) -> dict[str, t.Any]:
    """A RECORD from one connection of a page; MalformedPage if it cannot be one."""
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
    return record


class ConnectionsStream(SdkStream):
    """The account's 1st-degree connections, one RECORD per person."""

    name = "connections"
    primary_keys: t.ClassVar[list[str]] = ["entity_urn"]

    # Records are built field by field from text values already checked above, so the
    # SDK's per-record type conformance would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    schema = th.PropertiesList(
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
        """Run (or resume) one pass and yield its new connections."""
        if all(isinstance(m, RemoveRecordTransform) for m in self.stream_maps):
            # stream_maps sends this stream to null: no record would reach the target,
            # so no task (a LinkedIn action) is spent on it.
            self.logger.info("The connections stream is mapped to null: no task created")
            return
        config = self.config
        state = self.get_context_state(context)
        for key, problem in passes.state_problems(state).items():
            # Edited by hand, truncated, moved between versions: what cannot be used is
            # dropped (a broken bookmark means a full pass), never half-trusted.
            self.logger.warning("The state cannot be used (%s): it is dropped", problem)
            del state[key]
        identity: passes.Identity = {
            "keyword": config.get("keyword"),
            "sort_type": config["sort_type"],
        }
        current = self._start_or_resume_pass(state, identity)

        # RECORD messages carry the pass's table version, so a later ACTIVATE_VERSION
        # can tell the rows of this pass from older ones.
        self.set_table_version(int(current["version"]))

        client = self._client()
        pacer = self._pacer(state, int(current["page_size"]))
        with closing(client), closing(pacer):
            pager = TaskPipeline.from_config(
                config,
                client,
                pacer,
                progress=current,
                checkpoint=self._checkpoint,
                logger=self.logger,
                lookahead=1 if current["kind"] == "incremental" else None,
                expected_total=(state.get("bookmark") or {}).get("total"),
            )
            yield from self._read_pass(state, current, pager, client)

    def _read_pass(
        self,
        state: dict[str, t.Any],
        current: passes.PassState,
        pager: TaskPipeline,
        client: OutXClient,
    ) -> t.Iterator[dict[str, t.Any]]:
        """Yield the pass's new connections, page by page, and close it if it ends."""
        incremental = current["kind"] == "incremental"
        bookmark = t.cast("passes.Bookmark", state.get("bookmark") or {})
        known = list(bookmark.get("newest", [])) if incremental else []
        known_set = set(known)
        page_size = int(current["page_size"])
        seen: set[str] = set()
        stopped_at_known = False
        outcome = "ACTIVATE_VERSION not sent: the pass is not finished"
        try:
            while not stopped_at_known and (page := pager.next_page()) is not None:
                # The whole page is checked before any of it is emitted.
                records = [to_record(c, page, i) for i, c in enumerate(page.connections)]
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
                emitted = 0
                for record in records:
                    urn = record["entity_urn"]
                    if urn in seen or urn in known_set:
                        continue  # a known contact who re-connected is loaded already
                    seen.add(urn)
                    if len(current["newest"]) < REMEMBERED_NEWEST and urn not in current["newest"]:
                        current["newest"].append(urn)  # only connections that were emitted
                    emitted += 1
                    yield record
                current["emitted"] = int(current.get("emitted", 0)) + emitted
                stopped_at_known = bool(current.get("reached_known")) and step.bridge is None
                pager.consumed(
                    page,
                    emitted,
                    next_offset=step.next_offset,
                    end=step.end or stopped_at_known,
                    bridge=step.bridge,
                )
            if stopped_at_known or pager.end_reached:
                pager.pass_done()
                outcome = self._finish_pass(state, current, bookmark, stopped_at_known)
        finally:
            counters = client.counters
            self.logger.info(
                "This run: %d connections emitted, %d tasks created (LinkedIn actions; "
                "%d create retries after a lost answer), %d tasks re-polled from the task "
                "ledger, %d status polls, %d HTTP retries; %s",
                pager.records,
                pager.tasks_created,
                counters["ambiguous_create_retries"],
                pager.tasks_reused,
                pager.polls,
                counters["retries"],
                outcome,
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
        self._checkpoint()

    def _start_or_resume_pass(
        self, state: dict[str, t.Any], identity: passes.Identity
    ) -> passes.PassState:
        current = state.get("pass")
        if current is not None and self.config.get("full_refresh") and current["kind"] != "full":
            # A full refresh must end with ACTIVATE_VERSION, which an incremental pass
            # never sends: its unfinished remainder is dropped (at most its tasks in
            # flight are lost) in favour of a new full pass.
            self.logger.warning("full_refresh is on: the unfinished incremental pass is dropped")
            current = None
        page_size = int(self.config["page_size"])
        if current is not None and "page_size" not in current:
            # Written before passes kept their page size: its offsets cannot be trusted.
            self.logger.warning(
                "The unfinished pass does not record its page size; starting a new one"
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
            identity, bookmark, full_refresh=bool(self.config.get("full_refresh"))
        )
        incremental = not why_full
        new: passes.PassState = {
            "identity": identity,
            "kind": "incremental" if incremental else "full",
            # Full passes get a new, larger version; incremental records keep the last
            # full pass's, so the next full pass can drop them if they disappear.
            "version": bookmark["version"] if incremental else int(time.time() * 1000),
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
        self,
        state: dict[str, t.Any],
        current: passes.PassState,
        bookmark: passes.Bookmark,
        stopped_at_known: bool,
    ) -> str:
        """Close the pass; say whether ACTIVATE_VERSION was sent and, if not, why."""
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
        total = emitted + (last_total or 0) if stopped_at_known else emitted
        state["bookmark"] = {
            "identity": current["identity"],
            "newest": newest[:REMEMBERED_NEWEST],
            "version": int(current["version"]),
            # A pass that did not prove itself leaves the last complete total in place:
            # the next pass is held to it too.
            "total": last_total if refusal and last_total is not None else total,
        }
        del state["pass"]
        if current["kind"] == "full" and not refusal:
            # Only now, with every connection re-sent, may a target drop the rows this
            # pass did not send. (The SDK's own ACTIVATE_VERSION comes before the
            # records, which would empty the table if the run died halfway.)
            self.set_table_version(int(current["version"]), activate=True)
            self.logger.info("Full pass complete: %d connections", emitted)
            return "ACTIVATE_VERSION sent"
        if refusal:
            self.logger.warning(
                "Full pass read %d connections, but ACTIVATE_VERSION is not sent, so no "
                "row is deleted: %s",
                emitted,
                refusal,
            )
            return f"ACTIVATE_VERSION not sent: {refusal}"
        if stopped_at_known:
            self.logger.info("Incremental run complete: %d new connections", emitted)
        else:
            self.logger.warning(
                "None of the %d remembered connections was found, so the whole list was "
                "read (%d connections); connections removed since the last full pass are "
                "dropped by the next full refresh",
                len(bookmark.get("newest", [])),
                emitted,
            )
        return "ACTIVATE_VERSION not sent: an incremental run never deletes"

    def _client(self) -> OutXClient:
        return OutXClient.from_config(
            self.config, user_agent=f"{package_name}/{self.plugin_version}", logger=self.logger
        )

    def _pacer(self, state: dict[str, t.Any], page_size: int) -> TaskPacer:
        """The account's budget; ``page_size`` is the pass's (it keeps the one it began with)."""
        config = self.config
        url = ledger_url(config.get("task_ledger"))
        log: TaskLedger | StateWindow
        if url is None:
            log = StateWindow(state.setdefault("task_window", []))
        else:
            # Opened before any request: a ledger that cannot be opened fails the run
            # before it spends a LinkedIn action.
            log = TaskLedger(url, account_fingerprint(config["api_url"], config["api_key"]))
        rules = PacingRules.from_config(config)
        return TaskPacer(rules, log, query=query_for(config), page_size=page_size)

    def _checkpoint(self) -> None:
        # The SDK writes STATE only after RECORDs; a task id must reach STATE as soon
        # as the task exists, so STATE is written here directly (identical STATE
        # messages are skipped by the state writer).
        self.write_state_now()

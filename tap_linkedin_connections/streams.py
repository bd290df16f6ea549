"""The `connections` stream: passes over the list, records, and the STATE they keep.

STATE, under ``bookmarks.connections``:

- ``bookmark``: what the last completed pass learnt: ``identity`` (keyword and order),
  ``newest`` (the entity URNs at the top of the newest-first list), ``version`` (the
  table version of the last full pass) and ``total`` (connections then).
- ``pass``: the pass under way, if a run stopped before it ended: its ``kind`` (``full``
  or ``incremental``), ``version``, the paginator's ``next_offset`` and ``tasks`` in
  flight, and the ``newest`` URNs seen so far. The next run resumes it.
- ``task_window``: when the tasks of the last day were created, for pacing, only when
  the task ledger is off (``task_ledger: none``); otherwise the ledger keeps them.
"""

from __future__ import annotations

import time
import typing as t
from urllib.parse import quote

from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_linkedin_connections import __name__ as package_name
from tap_linkedin_connections.client import CONNECTION_FIELDS, MalformedPage, OutXClient
from tap_linkedin_connections.ledger import TaskLedger, account_fingerprint, ledger_url
from tap_linkedin_connections.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.paginator import Page, PollSettings, TaskPaginator

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


class ConnectionsStream(Stream):
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

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Run (or resume) one pass and yield its new connections."""
        config = self.config
        state = self.get_context_state(context)
        identity = {"keyword": config.get("keyword"), "sort_type": config["sort_type"]}
        current = self._start_or_resume_pass(state, identity)
        incremental = current["kind"] == "incremental"
        bookmark = state.get("bookmark") or {}
        known = set(bookmark.get("newest", [])) if incremental else set()

        # RECORD messages carry the pass's table version, so a later ACTIVATE_VERSION
        # can tell the rows of this pass from older ones. The SDK sets this private
        # attribute only for its own start-of-pass ACTIVATE_VERSION, which we do not use.
        self._stream_version = int(current["version"])

        pager = self._paginator(state, current, lookahead=1 if incremental else None)
        seen: set[str] = set()
        stopped_at_known = False
        try:
            while not stopped_at_known and (page := pager.next_page()) is not None:
                emitted = 0
                # The whole page is checked before any of it is emitted.
                records = [to_record(c, page, i) for i, c in enumerate(page.connections)]
                for record in records:
                    urn = record["entity_urn"]
                    if len(current["newest"]) < REMEMBERED_NEWEST and urn not in current["newest"]:
                        current["newest"].append(urn)
                    if urn in known:
                        stopped_at_known = True
                    if stopped_at_known or urn in seen:
                        continue
                    seen.add(urn)
                    emitted += 1
                    yield record
                current["emitted"] = int(current.get("emitted", 0)) + emitted
                pager.consumed(page, emitted)
        finally:
            pager.client.close()
            pager.pacer.close()
            counters = pager.client.counters
            self.logger.info(
                "This run: %d connections emitted, %d tasks created (LinkedIn actions; "
                "%d create retries after a lost answer), %d tasks re-polled from the task "
                "ledger, %d status polls, %d HTTP retries",
                pager.records,
                pager.tasks_created,
                counters["ambiguous_create_retries"],
                pager.tasks_reused,
                pager.polls,
                counters["retries"],
            )

        if stopped_at_known or pager.end_reached:
            pager.pass_done()
            self._finish_pass(state, current, bookmark, stopped_at_known)
        elif pager.stop_reason is not None:
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
                config.get("max_tasks_per_run"),
                current["emitted"],
                current["kind"],
                pager.next_offset,
            )
        self._checkpoint()

    def _start_or_resume_pass(
        self, state: dict[str, t.Any], identity: dict[str, t.Any]
    ) -> dict[str, t.Any]:
        current = state.get("pass")
        if current is not None and self.config.get("full_refresh") and current["kind"] != "full":
            # A full refresh must end with ACTIVATE_VERSION, which an incremental pass
            # never sends: its unfinished remainder is dropped (at most its tasks in
            # flight are lost) in favour of a new full pass.
            self.logger.warning("full_refresh is on: the unfinished incremental pass is dropped")
            current = None
        if current is not None and current.get("identity") == identity:
            self.logger.info(
                "Resuming the unfinished %s pass at offset %s with %d task(s) in flight",
                current["kind"],
                current.get("next_offset", 0),
                len(current.get("tasks", [])),
            )
            return t.cast("dict[str, t.Any]", current)
        if current is not None:
            self.logger.warning(
                "The keyword or order changed since the unfinished pass; starting a new one"
            )
        bookmark = state.get("bookmark") or {}
        if self.config.get("full_refresh"):
            why_full = "the full_refresh setting is on"
        elif identity["sort_type"] != "RECENTLY_ADDED":
            why_full = "only the RECENTLY_ADDED order allows incremental runs"
        elif not bookmark.get("newest"):
            why_full = "the state holds no earlier pass"
        elif bookmark.get("identity") != identity:
            why_full = "the keyword or order changed since the last pass"
        else:
            why_full = ""
        incremental = not why_full
        current = {
            "identity": identity,
            "kind": "incremental" if incremental else "full",
            # Full passes get a new, larger version; incremental records keep the last
            # full pass's, so the next full pass can drop them if they disappear.
            "version": bookmark["version"] if incremental else int(time.time() * 1000),
            "next_offset": 0,
            "tasks": [],
            "newest": [],
            "emitted": 0,
        }
        state["pass"] = current
        if incremental:
            self.logger.info(
                "Starting an incremental run: new connections down to the first of the %d "
                "remembered ones",
                len(bookmark["newest"]),
            )
        else:
            self.logger.info("Starting a full pass: %s", why_full)
        return current

    def _finish_pass(
        self,
        state: dict[str, t.Any],
        current: dict[str, t.Any],
        bookmark: dict[str, t.Any],
        stopped_at_known: bool,
    ) -> None:
        newest = list(current["newest"])
        if stopped_at_known:
            # Keep remembering older known connections too, in case the few seen after
            # the match are removed before the next run.
            newest += [urn for urn in bookmark.get("newest", []) if urn not in newest]
        state["bookmark"] = {
            "identity": current["identity"],
            "newest": newest[:REMEMBERED_NEWEST],
            "version": int(current["version"]),
            "total": int(current["emitted"]) + int(bookmark.get("total", 0))
            if stopped_at_known
            else int(current["emitted"]),
        }
        del state["pass"]
        if current["kind"] == "full":
            # Only now, with every connection re-sent, may a target drop the rows this
            # pass did not send. (The SDK's own ACTIVATE_VERSION comes before the
            # records, which would empty the table if the run died halfway.)
            self._write_activate_version_message(int(current["version"]))
            self.logger.info("Full pass complete: %d connections", current["emitted"])
        elif stopped_at_known:
            self.logger.info("Incremental run complete: %d new connections", current["emitted"])
        else:
            self.logger.warning(
                "None of the %d remembered connections was found, so the whole list was "
                "read (%d connections); connections removed since the last full pass are "
                "dropped by the next full refresh",
                len(bookmark.get("newest", [])),
                current["emitted"],
            )

    def _paginator(
        self, state: dict[str, t.Any], current: dict[str, t.Any], *, lookahead: int | None
    ) -> TaskPaginator:
        config = self.config
        client = OutXClient(
            api_url=config["api_url"],
            api_key=config["api_key"],
            request_timeout=float(config["request_timeout_seconds"]),
            max_request_attempts=int(config["max_request_attempts"]),
            retry_initial_wait=float(config["retry_initial_wait_seconds"]),
            retry_max_wait=float(config["retry_max_wait_seconds"]),
            user_agent=f"{package_name}/{self._tap.plugin_version}",
            logger=self.logger,
        )
        query = (
            {"sort_type": config["sort_type"]} if config["sort_type"] == "RECENTLY_ADDED" else {}
        )
        if config.get("keyword"):
            query["keyword"] = config["keyword"]
        page_size = int(config["page_size"])
        url = ledger_url(config.get("task_ledger"))
        log: TaskLedger | StateWindow
        if url is None:
            log = StateWindow(state.setdefault("task_window", []))
        else:
            # Opened before any request: a ledger that cannot be opened fails the run
            # before it spends a LinkedIn action.
            log = TaskLedger(url, account_fingerprint(config["api_url"], config["api_key"]))
        pacer = TaskPacer(PacingRules.from_config(config), log, query=query, page_size=page_size)
        return TaskPaginator(
            client,
            query=query,
            page_size=page_size,
            lookahead=lookahead or int(config["max_tasks_in_flight"]),
            poll=PollSettings(
                interval_min=float(config["poll_interval_min_seconds"]),
                interval_max=float(config["poll_interval_max_seconds"]),
                task_timeout=float(config["task_timeout_seconds"]),
                max_attempts=int(config["max_task_attempts"]),
                pickup_timeout=float(config["pickup_timeout_seconds"]),
            ),
            pacer=pacer,
            budget=config.get("max_tasks_per_run"),
            progress=current,
            checkpoint=self._checkpoint,
            logger=self.logger,
            progress_interval=float(config["progress_interval_seconds"]),
            expected_total=(state.get("bookmark") or {}).get("total"),
        )

    def _checkpoint(self) -> None:
        # The SDK writes STATE only after RECORDs; a task id must reach STATE as soon
        # as the task exists, so STATE is written here directly (identical STATE
        # messages are skipped by the state writer).
        self._tap.state_writer.write_state(self.tap_state)

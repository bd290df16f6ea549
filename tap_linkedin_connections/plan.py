"""``--plan``: what the next run would create, per account, and when it would end.

Every task is a LinkedIn action, profile views the costliest: a user should know the
bill before paying it. The plan reads what a run would read first (the config, the
STATE given with ``--state``, the catalog's selection, the task ledger and the profiles'
listing and memory) and decides as the run would: the pages of connections (a full
pass, an incremental run, an unfinished pass going on), then the profiles by reason
under what the account's budget leaves (profiles/today.py), then the time the tasks take
under the current pacing. It creates no task and polls nothing: no request reaches OutX.

The page count is an estimate: a full pass takes the pages of the list's last known
size (passes.tasks_for_full_pass), an incremental run one page unless more than a page
of connections was added.
"""

from __future__ import annotations

import datetime
import typing as t
from contextlib import ExitStack
from dataclasses import dataclass

from tap_linkedin_connections.accounts.threads import Accounts
from tap_linkedin_connections.connections import passes
from tap_linkedin_connections.connections.account_pass import identity_of
from tap_linkedin_connections.engine.ledger import TaskLedger, account_fingerprint, ledger_url
from tap_linkedin_connections.engine.pacing import PacingRules, StateWindow, TaskPacer
from tap_linkedin_connections.outx.kinds import FETCH_PROFILE
from tap_linkedin_connections.profiles.listing import ConnectionListing
from tap_linkedin_connections.profiles.memory import ProfileMemory
from tap_linkedin_connections.profiles.today import (
    ProfileSettings,
    describe_plan,
    plan_for_today,
    room_after,
    used_now,
)
from tap_linkedin_connections.validation import RECENTLY_ADDED

if t.TYPE_CHECKING:
    from singer_sdk import Tap

    from tap_linkedin_connections.accounts.threads import Account


@dataclass(frozen=True)
class PagesDue:
    """The page tasks the next run would create for an account; ``tasks`` None: unknown."""

    tasks: int | None
    why: str
    full: bool = False  # a full pass: the whole list is read


def pages_due(
    slot: t.Mapping[str, t.Any],
    identity: passes.Identity,
    config: t.Mapping[str, t.Any],
    *,
    known: int | None,
) -> PagesDue:
    """The page tasks of the account's next run, from its part of STATE (pure).

    ``known``: connections the profiles' listing holds, for a list whose size the
    bookmark does not give.
    """
    bookmark = t.cast("passes.Bookmark", slot.get("bookmark") or {})
    current = slot.get("pass")
    full_refresh = bool(config.get("full_refresh"))
    same_list = bookmark.get("identity") == identity
    total = int(bookmark["total"]) if same_list and "total" in bookmark else known
    if current and current.get("identity") == identity:
        if current.get("kind") == "incremental" and not full_refresh:
            return _capped(1, "the unfinished incremental run goes on", config)
        if current.get("kind") == "full":
            return _resumed_full_pass(current, total, config)
    why = passes.why_full(identity, bookmark, full_refresh=full_refresh)
    if not why:
        return _capped(
            1, "an incremental run (more if over a page of connections was added)", config
        )
    if total is None:
        return PagesDue(
            None, f"a full pass ({why}), of a list whose size is not known yet", full=True
        )
    newest_first = config.get("sort_type") == RECENTLY_ADDED
    tasks = passes.tasks_for_full_pass(total, int(config["page_size"]), newest_first=newest_first)
    return _capped(tasks, f"a full pass ({why}) of about {total} connections", config, full=True)


def _resumed_full_pass(
    current: t.Mapping[str, t.Any], total: int | None, config: t.Mapping[str, t.Any]
) -> PagesDue:
    size = int(current.get("page_size", config["page_size"]))
    offset = int(current.get("next_offset", 0))
    why = f"the unfinished full pass goes on at offset {offset}"
    if total is None:
        return PagesDue(None, why, full=True)
    created = sum(1 for task in current.get("tasks", []) if task.get("id"))
    newest_first = config.get("sort_type") == RECENTLY_ADDED
    whole = passes.tasks_for_full_pass(total, size, newest_first=newest_first)
    left = max(1, whole - offset // passes.stride_for(size))
    return _capped(max(0, left - created), f"{why} (about {total} connections)", config, full=True)


def _capped(tasks: int, why: str, config: t.Mapping[str, t.Any], *, full: bool = False) -> PagesDue:
    per_run = config.get("max_tasks_per_run")
    if per_run and tasks > int(per_run):
        return PagesDue(int(per_run), f"{why}; max_tasks_per_run={per_run} stops it there", full)
    return PagesDue(tasks, why, full)


def plan_lines(tap: Tap) -> list[str]:
    """The plan, as printed: a line per account and a line per kind of task."""
    accounts = Accounts.from_config(tap.config)
    profiles_on = tap.streams["profiles"].selected
    lines = ["Plan of the next run (no task created, nothing polled):"]
    for account in accounts:
        slot = _slot(tap, "connections", account, several=accounts.several)
        lines += _account_lines(account, slot, profiles_on)
    return lines


def _slot(tap: Tap, stream: str, account: Account, *, several: bool) -> t.Mapping[str, t.Any]:
    """The account's part of a stream's STATE (see accounts/stream.py), as given."""
    state = tap.streams[stream].get_context_state(None)
    if several:
        accounts = state.get("accounts") or {}
        return t.cast("t.Mapping[str, t.Any]", accounts.get(account.name) or {})
    return state


def _account_lines(account: Account, slot: t.Mapping[str, t.Any], profiles_on: bool) -> list[str]:
    config = account.config
    url = ledger_url(config.get("task_ledger"))
    settings = ProfileSettings.from_config(config)
    rules = settings.rules(PacingRules.from_config(config))
    with ExitStack() as stack:
        ledger = None
        if url is not None:
            ledger = TaskLedger(url, account_fingerprint(config["api_url"], config["api_key"]))
            stack.callback(ledger.close)
        window = list(slot.get("task_window") or [])
        pacer = TaskPacer(rules, ledger if ledger is not None else StateWindow(window))
        listing = ConnectionListing(ledger) if ledger is not None and profiles_on else None
        known = listing.summary().connections if listing is not None else None
        pages = pages_due(slot, identity_of(account), config, known=known or None)
        lines = [f"account '{account.name}':", f"  pages: {_count(pages.tasks)} ({pages.why})"]
        profile_tasks = 0
        if listing is None or ledger is None:
            lines.append("  profiles: not selected, no profile task")
        else:
            profile_tasks, line = _profiles(ledger, listing, pacer, settings, pages)
            lines.append(f"  profiles: {line}")
        tasks = (pages.tasks or 1) + profile_tasks
        lines.append(f"  ends: {_ending(pacer, tasks, at_least=pages.tasks is None)}")
    return lines


def _profiles(
    ledger: TaskLedger,
    listing: ConnectionListing,
    pacer: TaskPacer,
    settings: ProfileSettings,
    pages: PagesDue,
) -> tuple[int, str]:
    """The profile tasks of the next run, and the line that says which."""
    plan = plan_for_today(
        listing,
        ProfileMemory(ledger),
        pacer,
        settings,
        this_run=0,
        connection_tasks_due=pages.tasks or 1,
    )
    tasks, line = len(plan.fetch), describe_plan(plan, settings)
    summary = listing.summary()
    if pages.full and summary.whole_at is None:
        # The run reads the whole list first: its profiles come from what it finds.
        room = room_after(settings, pacer.rules.per_day, used_now(pacer, 0), pages.tasks or 1)
        more = room if room is not None else max(tasks, summary.connections)
        if more > tasks:
            tasks = more
            line = (
                f"up to {tasks} profile tasks: the newest connections without a profile, "
                "in the list this run reads first"
            )
    in_flight = len(ledger.unfinished_keys(FETCH_PROFILE.name))
    if in_flight:
        line += f"; {in_flight} tasks left in flight by an earlier run are polled first"
    return tasks, line


def _count(tasks: int | None) -> str:
    return "an unknown number of tasks (at least 1)" if tasks is None else f"{tasks} tasks"


def _ending(pacer: TaskPacer, tasks: int, *, at_least: bool = False) -> str:
    """When ``tasks`` creates would be done under the current pacing, in words."""
    now = pacer.clock.now()
    seconds = pacer.wait_now() + pacer.seconds_left(tasks)
    when = datetime.datetime.fromtimestamp(now + seconds, datetime.timezone.utc)
    rules = pacer.rules
    limits = [
        f"max_tasks_per_hour={rules.per_hour}" if rules.per_hour else "",
        f"max_tasks_per_day={rules.per_day}" if rules.per_day else "",
        f"spacing {rules.spacing_min:g}-{max(rules.spacing_min, rules.spacing_max):g}s"
        if rules.spacing_max or rules.spacing_min
        else "",
    ]
    pacing = ", ".join(limit for limit in limits if limit) or "no pacing limit"
    text = (
        f"the last of {'at least ' if at_least else ''}{tasks} tasks created in about "
        f"{_duration(seconds)}, by {when:%Y-%m-%d %H:%M} UTC ({pacing}), plus the time "
        "the extension takes"
    )
    return text + pacer.window_note(seconds)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

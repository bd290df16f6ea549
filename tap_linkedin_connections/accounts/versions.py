"""The table version every account's records carry, and when ACTIVATE_VERSION may go.

A target that honours ACTIVATE_VERSION deletes every row of an older version, whichever
account's it is: so all the accounts of a stream share one version (``table`` in the
stream's STATE), and each account's bookmark says which version its last pass carried
(``version``) and which its last full pass proved complete (``proved``).
"""

from __future__ import annotations

import typing as t

from tap_linkedin_connections.state_numbers import whole


class Table(t.TypedDict):
    """The table version every account's records carry (``table``; see table_for_run)."""

    version: int
    activated: bool  # ACTIVATE_VERSION was sent for it


class VersionMarks(t.TypedDict, total=False):
    """What an account's bookmark says of table versions."""

    version: int  # the version its last pass carried
    proved: int  # the version of its last full pass that proved itself complete


def table_for_run(
    table: Table | None,
    bookmarks: t.Mapping[str, VersionMarks],
    needs_full: t.Mapping[str, str],
    *,
    full_refresh: bool,
    new_version: int,
) -> Table:
    """The table version this run's records carry: one for every account.

    A target that honours ACTIVATE_VERSION deletes every row of an older version,
    whichever account's it is. So all accounts share one version; a new one begins only
    when every account is to read its whole list (the first run, ``full_refresh``, no
    usable bookmark anywhere) and the one before is not still being read; and
    ACTIVATE_VERSION is sent only once every account's full pass under it proved
    complete (activation_due). ``bookmarks``: every account's, by name; ``needs_full``:
    each account's why_full without ``full_refresh`` ("" if none).
    """
    if table is not None:
        if not table["activated"] and any(
            bookmark.get("version") != table["version"] for bookmark in bookmarks.values()
        ):
            return table  # a new version's full passes are not all done: they go on
        if not full_refresh and not all(needs_full.values()):
            return table
    return {"version": new_version, "activated": False}


def next_table_version(clock_ms: int, known: t.Iterable[int]) -> int:
    """A new table version: the clock in milliseconds, but above every version known.

    A target drops the rows of versions *older* than the one activated; a clock set
    back must not make a full refresh's version older than rows already loaded.
    """
    return max([clock_ms, *(int(version) + 1 for version in known)])


def versions_in(
    table: t.Mapping[str, t.Any] | None, slots: t.Iterable[t.Mapping[str, t.Any]]
) -> list[int]:
    """Every table version a stream's STATE knows: the table's, each account's bookmark
    (``version``, ``proved``) and unfinished pass."""
    found = [table["version"]] if table else []
    for slot in slots:
        bookmark = slot.get("bookmark") or {}
        found += [bookmark[key] for key in ("version", "proved") if key in bookmark]
        current = slot.get("pass") or {}
        found += [current["version"]] if "version" in current else []
    return [int(version) for version in found]


def joins_round(table: Table, bookmark: VersionMarks) -> bool:
    """Whether an account must read its whole list to carry the table's new version."""
    return not table["activated"] and bookmark.get("version") != table["version"]


def activation_due(table: Table, bookmarks: t.Iterable[VersionMarks]) -> bool:
    """Whether every account's full pass under the table version proved complete."""
    return not table["activated"] and all(
        bookmark.get("proved") == table["version"] for bookmark in bookmarks
    )


def table_problems(state: t.Mapping[str, t.Any]) -> dict[str, str]:
    """What is wrong with the stream-wide keys of STATE (``table``, ``accounts``)."""
    problems = {}
    table = state.get("table")
    if table is not None and not (
        isinstance(table, dict)
        and whole(table.get("version"))
        and isinstance(table.get("activated"), bool)
    ):
        problems["table"] = "'table' is not an object with a whole 'version' and 'activated'"
    accounts = state.get("accounts")
    if accounts is not None and (
        not isinstance(accounts, dict) or not all(isinstance(a, dict) for a in accounts.values())
    ):
        problems["accounts"] = "'accounts' is not an object with an object per account"
    return problems

"""The history columns of a ``connections`` row, from what the memory holds of it.

``first_seen_at``, ``last_seen_at``, ``is_connected`` and ``removed_at``: for a row
read now, and for a removed connection's row, rebuilt from its last row as sent.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date, datetime, timezone

from tap_linkedin_connections.history import observe

Record = dict[str, t.Any]


class TopOfList(list[Record]):
    """A page's records read by a full pass's re-read of the top of the list, at its end:
    above everything the pass read, so newer than all of it (see connections/passes.py)."""


#: The record fields the memory fills (see ``history_fields``), in the schema's order.
HISTORY_FIELDS = ("first_seen_at", "last_seen_at", "is_connected", "removed_at")
#: Record fields not kept in a remembered row: its history (given afresh) and the
#: email address (personal data, shared with the member as a connection).
NOT_KEPT = (*HISTORY_FIELDS, "email_address")


@dataclass(frozen=True)
class RowFacts:
    """What a row says of a connection's history, from the memory."""

    first_seen_at: float
    last_seen_at: float
    removed_at: float | None
    in_baseline: bool


def facts_of(row: t.Any, baseline_at: float | None) -> RowFacts:
    """A remembered row's facts (``baseline_at``: its list's)."""
    first = float(row.first_seen_at)
    return RowFacts(
        first_seen_at=first,
        last_seen_at=float(row.last_seen_at),
        removed_at=None if row.removed_at is None else float(row.removed_at),
        in_baseline=observe.in_baseline(first, baseline_at),
    )


def removed_record(row: t.Any, baseline_at: float | None) -> Record:
    """A removed connection's row: its last row as sent, with its history."""
    record = dict(row.record or {})
    record.setdefault("entity_urn", row.entity_urn)
    record["email_address"] = None
    record.update(history_fields(facts_of(row, baseline_at), record.get("connected_on")))
    return record


def history_fields(
    facts: RowFacts | None, connected_on: str | None, *, read_at: float | None = None
) -> Record:
    """The history columns of a row: from the memory's facts, or with no memory
    (``facts`` None) only what a read tells: connected, read at ``read_at``."""
    if facts is None:
        return {
            "first_seen_at": None,
            "last_seen_at": timestamp(read_at) if read_at is not None else None,
            "is_connected": True,
            "removed_at": None,
        }
    first = observe.first_seen(
        facts.first_seen_at, midnight(connected_on), baseline=facts.in_baseline
    )
    return {
        "first_seen_at": timestamp(first),
        "last_seen_at": timestamp(facts.last_seen_at),
        "is_connected": facts.removed_at is None,
        "removed_at": timestamp(facts.removed_at) if facts.removed_at is not None else None,
    }


def timestamp(seconds: float) -> str:
    """Epoch seconds as the rows carry them: ISO 8601, UTC, microseconds."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="microseconds")


def midnight(day: str | None) -> float | None:
    """The start of a ``YYYY-MM-DD`` day in UTC, in epoch seconds; None if not a date."""
    if not day:
        return None
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=timezone.utc).timestamp()

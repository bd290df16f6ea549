"""Connection keys OutX sends beyond the documented ones: nothing is lost.

OutX documents seven fields per connection (client.CONNECTION_FIELDS). LinkedIn's own
web endpoint for the list carries the connection date as ``createdAt`` (epoch
milliseconds), so OutX may one day pass it through under that name or a similar one:
such a date fills ``connected_on``. Any other key is kept, value and all, in the
record's ``extra`` object, and its name (never its value) is logged once per run, so a
change in OutX's output is seen the day it happens.
"""

from __future__ import annotations

import math
import threading
import typing as t
from dataclasses import dataclass
from datetime import date, datetime, timezone

from tap_linkedin_connections.history.export import parse_connected_on
from tap_linkedin_connections.outx.client import Log

#: The names under which OutX may pass LinkedIn's connection date, first one wins.
DATE_KEYS = ("createdAt", "connectedAt", "connected_at")
#: Below this, a number is epoch seconds, not milliseconds: 1e11 ms is March 1973, long
#: before LinkedIn (2003), while 1e11 s is the year 5138.
EPOCH_SECONDS_BELOW = 1e11
#: LinkedIn's launch: an earlier "connection date" is a placeholder (0, say), not a date.
LINKEDIN_LAUNCH = date(2003, 5, 5)
#: Names listed in one warning at most; the rest are counted.
MAX_NAMES_LOGGED = 20
#: Longest name logged as it is; longer ones are cut.
MAX_NAME_LENGTH = 60


@dataclass(frozen=True)
class Passthrough:
    """What a connection carries beyond the documented fields."""

    connected_on: str | None  # YYYY-MM-DD, from the first readable DATE_KEYS value
    extra: dict[str, t.Any] | None  # unknown keys, and date keys that are not dates


#: What a connection carrying only documented keys passes through.
NOTHING = Passthrough(None, None)


def passthrough(connection: t.Mapping[str, t.Any], documented: t.AbstractSet[str]) -> Passthrough:
    """The connection date OutX passed, if any, and every key the tap does not know."""
    beyond = connection.keys() - documented
    if not beyond:
        return NOTHING  # the usual case, on every record: kept cheap
    connected_on: date | None = None
    extra: dict[str, t.Any] = {}
    for key in DATE_KEYS:
        if key not in beyond or connection[key] is None:
            continue
        value = outx_date(connection[key])
        if value is None:
            extra[key] = connection[key]  # not a date the tap can read: kept as it came
        elif connected_on is None:
            connected_on = value
    if not beyond.issubset(DATE_KEYS):
        extra.update(
            (key, value)
            for key, value in connection.items()
            if key in beyond and key not in DATE_KEYS
        )
    return Passthrough(connected_on.isoformat() if connected_on else None, extra or None)


def outx_date(value: object) -> date | None:
    """The date of an epoch number (milliseconds, or seconds if small) or an ISO text;
    None if it is neither or falls before LinkedIn existed.

    A timestamp is dated in UTC: the member's own time zone is not known here.
    """
    day = _any_date(value)
    return day if day is not None and day >= LINKEDIN_LAUNCH else None


def _any_date(value: object) -> date | None:
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _any_date(int(text))
        return _iso_date(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    seconds = value if abs(value) < EPOCH_SECONDS_BELOW else value / 1000
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).date()
    except (OverflowError, OSError, ValueError):
        return None


def _iso_date(text: str) -> date | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        # Python 3.10 reads fewer ISO forms (no 2-digit fractions, say); the date part
        # of a timestamp still names the day.
        return parse_connected_on(text) if len(text) >= 10 and text[4] == "-" else None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


class UnknownKeys:
    """The run's unknown connection keys: each is named once per run, in a warning.

    Shared by the accounts' threads, hence the lock.
    """

    def __init__(self, logger: Log) -> None:
        self._logger = logger
        self._named: set[str] = set()
        self._lock = threading.Lock()

    def note(self, names: t.Iterable[str]) -> None:
        """Warn about the names not named yet in this run."""
        with self._lock:
            new = sorted(set(names) - self._named)
            self._named.update(new)
        if new:
            self._logger.warning(
                "OutX sent connection keys the tap does not know (or a date it cannot "
                "read): %s. Their values are kept in each record's `extra` object",
                _listed(new),
            )

    @property
    def named(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._named)


def _listed(names: list[str]) -> str:
    shown = [_printable(name) for name in names[:MAX_NAMES_LOGGED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _printable(name: str) -> str:
    """A key name fit for one log line: cut if long, escaped if it holds line breaks."""
    cut = name[:MAX_NAME_LENGTH] + ("..." if len(name) > MAX_NAME_LENGTH else "")
    return cut if cut.isprintable() else repr(cut)

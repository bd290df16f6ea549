"""The member's LinkedIn export: ``Connections.csv``, read and matched to connections.

LinkedIn's "Get a copy of your data" gives a ``.zip`` holding ``Connections.csv``: a few
note lines, then the header ``First Name,Last Name,URL,Email Address,Company,Position,
Connected On`` and one line per connection, dated like ``15 Feb 2024``. It costs no
LinkedIn action and holds what OutX does not: when each connection was made.

A connection is matched by its profile URL's identifier
(``https://www.linkedin.com/in/<public_identifier>``), compared without case, scheme,
host, trailing slash, query or percent-encoding. A line that cannot be read is counted,
never fatal; a file that cannot be read at all is an :class:`ExportError`, named at
config validation before any request.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import typing as t
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The header LinkedIn writes, in its order (only ``URL`` is needed to match).
HEADER = ("First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On")
#: The export's file name, wherever it sits inside the archive.
FILE_NAME = "connections.csv"
#: Rows read looking for the header: LinkedIn writes three note lines before it.
MAX_ROWS_BEFORE_HEADER = 20
#: A header is a row naming at least this many of HEADER's columns (URL among them), so
#: a note line that mentions one of the words is not taken for it.
MIN_HEADER_COLUMNS = 3
#: Largest export read: LinkedIn's 30,000-connection cap makes about 10 MB; anything far
#: bigger is not this file (and a zip member is not inflated past this).
MAX_EXPORT_BYTES = 64 * 2**20

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
#: ``15 Feb 2024`` (LinkedIn's), ``15 February 2024``, ``15-Feb-2024``.
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[ -]([^\W\d_]{3,9})\.?,?[ -](\d{4})")
#: ``Feb 15, 2024``.
_MONTH_DAY_YEAR = re.compile(r"([^\W\d_]{3,9})\.? (\d{1,2}),? (\d{4})")
#: ``2024-02-15``, alone or starting a timestamp.
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")


class ExportError(Exception):
    """The export cannot be read at all; the message says why in one line, no data."""


@dataclass(frozen=True)
class ExportRow:
    """What the export says of one connection; None where it says nothing."""

    connected_on: str | None  # YYYY-MM-DD
    company: str | None
    position: str | None
    email_address: str | None  # only kept when asked for (see read_export)


@dataclass(frozen=True)
class LinkedInExport:
    """An export's lines by profile key, and what could not be used of it."""

    rows: t.Mapping[str, ExportRow]
    lines: int = 0  # data lines (after the header, blank ones left out)
    unreadable: int = 0  # lines without a LinkedIn profile URL: they match nothing
    bad_dates: int = 0  # lines whose Connected On is not a date (the rest is used)
    repeated: int = 0  # lines whose profile was on an earlier line (the first is kept)


# Reading


def read_export(path: str | Path, *, keep_emails: bool) -> LinkedInExport:
    """The export at ``path`` (``Connections.csv`` or the export's ``.zip``).

    ``keep_emails``: whether email addresses are kept at all; when not, they are dropped
    as the file is read. Raises :class:`ExportError` if the file cannot be used.
    """
    return parse_connections_csv(_export_text(Path(path).expanduser()), keep_emails=keep_emails)


def export_problem(path: str | Path) -> str | None:
    """Why the export at ``path`` cannot be used, in a few words; None if it can."""
    try:
        read_export(path, keep_emails=False)
    except ExportError as exc:
        return str(exc)
    return None


def _export_text(path: Path) -> str:
    try:
        if not path.exists():
            raise ExportError("does not exist")
        if path.is_dir():
            raise ExportError("is a folder, not Connections.csv or the export's .zip")
        if zipfile.is_zipfile(path):
            data = _zip_member(path)
        else:
            if path.stat().st_size > MAX_EXPORT_BYTES:
                raise ExportError(f"is larger than {MAX_EXPORT_BYTES // 2**20} MB")
            data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot be read ({type(exc).__name__})") from None
    if b"\0" in data:
        raise ExportError("is not a CSV file (binary content)")
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet programs write.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportError("is not a CSV file in UTF-8, as LinkedIn writes it") from None


def _zip_member(path: Path) -> bytes:
    """``Connections.csv`` from the export's archive, wherever it sits inside."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and info.filename.rsplit("/", 1)[-1].casefold() == FILE_NAME
            ]
            if not members:
                raise ExportError("is a zip without Connections.csv")
            # The one nearest the top, if a copy sits deeper (say, in a backup folder).
            member = min(members, key=lambda info: (info.filename.count("/"), info.filename))
            if member.file_size > MAX_EXPORT_BYTES:
                raise ExportError(f"holds a Connections.csv larger than {MAX_EXPORT_BYTES} bytes")
            return archive.read(member)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError):
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression.
        raise ExportError("is a zip that cannot be read") from None


def parse_connections_csv(text: str, *, keep_emails: bool) -> LinkedInExport:
    """The export from the text of ``Connections.csv`` (pure; see read_export)."""
    lines = _csv_lines(text)
    columns = _find_header(lines)
    counts = {"lines": 0, "unreadable": 0, "bad_dates": 0, "repeated": 0}
    rows: dict[str, ExportRow] = {}
    for cells in lines:
        if cells is not None and not any(cell.strip() for cell in cells):
            continue  # blank lines, at the end or between
        counts["lines"] += 1
        if cells is None:
            counts["unreadable"] += 1
            continue
        row, key, bad_date = _read_line(cells, columns, keep_emails=keep_emails)
        if key is None:
            counts["unreadable"] += 1
            continue
        counts["bad_dates"] += bad_date
        if key in rows:
            counts["repeated"] += 1
            continue
        rows[key] = row
    return LinkedInExport(rows, **counts)


def _csv_lines(text: str) -> t.Iterator[list[str] | None]:
    """Each CSV line's cells; None for a line the csv module refuses (a field over its
    size limit), after which it reads on from the next line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None


def _find_header(lines: t.Iterator[list[str] | None]) -> dict[str, int]:
    """Each known column's position, from the header row (after LinkedIn's notes)."""
    known = {name.casefold(): name for name in HEADER}
    for cells in itertools.islice(lines, MAX_ROWS_BEFORE_HEADER):
        if cells is None:
            continue
        names = [cell.strip().lstrip("\ufeff").casefold() for cell in cells]
        columns: dict[str, int] = {}
        for index, name in enumerate(names):
            if name in known and known[name] not in columns:
                columns[known[name]] = index
        if len(columns) >= MIN_HEADER_COLUMNS:
            if "URL" not in columns:
                raise ExportError("has a header without the URL column, by which it is matched")
            return columns
    raise ExportError(
        f"has no header row ({','.join(HEADER)}) in its first {MAX_ROWS_BEFORE_HEADER} "
        "lines: is it LinkedIn's Connections.csv?"
    )


def _read_line(
    cells: list[str], columns: t.Mapping[str, int], *, keep_emails: bool
) -> tuple[ExportRow, str | None, bool]:
    """One line: its row, its profile key (None: no profile URL), whether its date is bad."""

    def cell(name: str) -> str | None:
        index = columns.get(name)
        value = cells[index].strip() if index is not None and index < len(cells) else ""
        return value or None  # a missing column or an empty cell: unknown

    dated = cell("Connected On")
    connected_on = parse_connected_on(dated) if dated else None
    row = ExportRow(
        connected_on=connected_on.isoformat() if connected_on else None,
        company=cell("Company"),
        position=cell("Position"),
        email_address=cell("Email Address") if keep_emails else None,
    )
    url = cell("URL")
    return row, key_from_url(url) if url else None, bool(dated and connected_on is None)


# Dates and profile keys (pure)


def parse_connected_on(text: str) -> date | None:
    """The date of ``15 Feb 2024`` (LinkedIn's), ``15 February 2024``, ``Feb 15, 2024`` or
    ``2024-02-15``; None if it is none of these. Month names are read in English
    whatever the machine's locale (``strptime``'s ``%b`` would follow it)."""
    text = text.strip()
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DAY_MONTH_YEAR.fullmatch(text):
        day, month, year = int(match[1]), _month(match[2]), int(match[3])
    elif match := _MONTH_DAY_YEAR.fullmatch(text):
        month, day, year = _month(match[1]), int(match[2]), int(match[3])
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:  # 31 Feb, month 0 (an unknown name)
        return None


def _month(name: str) -> int:
    """1-12 for an English month name or its abbreviation (``Sept`` too); 0 if none."""
    word = name.casefold()
    for number, month in enumerate(MONTHS, start=1):
        if len(word) >= 3 and month.startswith(word):
            return number
    return 0


def profile_key(identifier: str) -> str:
    """How a public identifier is compared: decoded, normalised, without case."""
    return unicodedata.normalize("NFC", unquote(identifier.strip())).casefold()


def key_from_url(url: str) -> str | None:
    """The profile key of a LinkedIn profile URL (``.../in/<identifier>``); None if none.

    Any scheme or none, ``www.`` or a country host, a trailing slash, a query, a fragment
    or a deeper path (``/in/<id>/details``) are all the same profile.
    """
    url = url.strip()
    if "://" not in url:
        url = "https://" + url.lstrip("/")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").casefold()
    except ValueError:
        return None
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) < 2 or segments[0].casefold() != "in":
        return None  # an old /pub/ address or no profile at all: it names no identifier
    key = profile_key(segments[1])
    return key or None


# Matching, per account


@dataclass
class ExportMatcher:
    """One account's export during one run: finds connections in it and counts.

    Used by the account's thread only; its summary is read once that thread ended.
    """

    export: LinkedInExport
    #: Export profile keys found for a connection read this run.
    matched: set[str] = field(default_factory=set)
    #: Entity URNs of connections read this run that are not in the export.
    missing: set[str] = field(default_factory=set)
    #: Entity URNs whose OutX date differs from the export's (the export's is kept).
    other_dates: set[str] = field(default_factory=set)

    def find(self, public_identifier: str | None, entity_urn: str) -> ExportRow | None:
        """The export's line for a connection, if any; counted either way."""
        key = profile_key(public_identifier) if public_identifier else ""
        row = self.export.rows.get(key) if key else None
        if row is None:
            self.missing.add(entity_urn)
        else:
            self.matched.add(key)
        return row

    def summary(self) -> str:
        """The account's one line about its export this run: counts, never data."""
        export = self.export
        usable = export.lines - export.unreadable - export.repeated
        unused = [f"{export.unreadable} unreadable: no LinkedIn profile URL"]
        if export.bad_dates:
            unused.append(f"{export.bad_dates} with a Connected On that is not a date")
        if export.repeated:
            unused.append(f"{export.repeated} repeating an earlier line's profile")
        line = (
            f"LinkedIn export: {export.lines} lines ({'; '.join(unused)}); connections read "
            f"this run: {len(self.matched) + len(self.missing)}, of which {len(self.matched)} "
            f"matched and {len(self.missing)} not in the export (connected since it was "
            "downloaded, or no profile URL); export lines matching no connection read this "
            f"run: {usable - len(self.matched)}"
        )
        if self.other_dates:
            line += f"; dated otherwise by OutX (the export's date kept): {len(self.other_dates)}"
        return line

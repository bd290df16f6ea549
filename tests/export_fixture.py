"""The test LinkedIn export: invented people, the sandbox's own, written by rule.

``tests/fixtures/linkedin-export/Connections.csv`` is what :func:`fixture_text` writes
(tests/unit/test_export_sync.py checks it still is). It is shaped like LinkedIn's file (a BOM,
the three note lines, the header, CRLF line ends, quoted fields) and lists the oldest
30 connections of the sandbox seeded ``SEED``, so a sandbox run matches them; the
newest 10 are not in it, as connections made after an export was downloaded. Its
people, companies and email addresses are the sandbox's invented ones (example.com).
"""

from __future__ import annotations

import csv
import io
import typing as t
from datetime import date, timedelta
from pathlib import Path

from tap_linkedin_connections.sandbox.data import make_connection

PATH = Path(__file__).parent / "fixtures" / "linkedin-export" / "Connections.csv"
SEED = 19
#: The sandbox size that shows every case: 31 in the export (30 dated, 1 not), 9 not.
CONNECTIONS = 40
IN_EXPORT = range(30)
#: Dated a day later than OutX's (UTC) date, as a member east of UTC sees it.
DATED_A_DAY_LATER = (4, 5, 6)
#: In the export, with a Connected On that is not a date.
UNDATED_SERIAL = 30
COMPANIES = ("Acme", "Initech, Inc.", "Globex", "", "Hooli", 'The "Umbrella" Corp', "Société X")
POSITIONS = ("Software Engineer", "Head of Sales, EMEA", "Recruiter", "", "Founder", "Data Lead")
NOTES = (
    "Notes:",
    '"When exporting your connection data, you may notice that some of the email addresses '
    "are missing. You will only see email addresses for connections who have allowed their "
    "connections to see or download their email address using this setting "
    "https://www.linkedin.com/psettings/privacy/email. You can learn more here "
    'https://www.linkedin.com/help/linkedin/answer/261"',
    "",
)
HEADER = ("First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On")


class Expected(t.NamedTuple):
    """What a sandbox connection's record must carry with the fixture as the export."""

    connected_on: str | None
    company: str | None
    position: str | None
    email_address: str | None  # with linkedin_export_emails on


def outx_date(serial: int) -> str:
    """The date the sandbox passes through (``connected_at``, UTC)."""
    return str(make_connection(SEED, serial)["connected_at"])[:10]


def expected(serial: int) -> Expected:
    if serial == UNDATED_SERIAL:
        return Expected(outx_date(serial), "Acme", "Intern", None)
    if serial not in IN_EXPORT:
        return Expected(outx_date(serial), None, None, None)
    day = date.fromisoformat(outx_date(serial))
    if serial in DATED_A_DAY_LATER:
        day += timedelta(days=1)
    return Expected(
        day.isoformat(),
        COMPANIES[serial % len(COMPANIES)] or None,
        POSITIONS[serial % len(POSITIONS)] or None,
        f"person{serial}@example.com" if serial % 4 == 0 else None,
    )


def _line(serial: int) -> list[str]:
    connection = make_connection(SEED, serial)
    slug = str(connection["public_identifier"])
    url = f"https://www.linkedin.com/in/{slug}"
    # The forms a profile URL takes in exports and spreadsheets.
    url = {
        1: url + "/",
        2: f"http://linkedin.com/in/{slug.upper()}?trk=people-guest",
        3: f"https://uk.linkedin.com/in/{slug[:3]}%{ord(slug[3]):02X}{slug[4:]}",
    }.get(serial, url)
    day = date.fromisoformat(expected(serial).connected_on or "")
    when = {7: f"{day:%d %B %Y}", 8: day.isoformat()}.get(serial, f"{day:%d %b %Y}")
    row = expected(serial)
    return [
        str(connection["first_name"]),
        str(connection["last_name"]),
        url,
        row.email_address or "",
        row.company or "",
        row.position or "",
        when,
    ]


def fixture_text() -> str:
    lines = [_line(serial) for serial in IN_EXPORT]
    # A member without a public profile (no URL), someone not in the sandbox, an old
    # /pub/ address: counted, matched to nothing.
    lines.insert(10, ["", "", "", "", "", "", "03 Mar 2013"])
    lines.insert(
        20,
        [
            "Nora",
            "Example",
            "https://www.linkedin.com/in/nora-example-not-in-the-sandbox",
            "",
            "Nowhere Ltd",
            "Consultant",
            "12 Jan 2012",
        ],
    )
    lines.insert(25, ["Otto", "Sample", "https://www.linkedin.com/pub/otto/1/2/3", "", "", "", ""])
    undated = make_connection(SEED, UNDATED_SERIAL)
    lines.append(
        [
            str(undated["first_name"]),
            str(undated["last_name"]),
            f"https://www.linkedin.com/in/{undated['public_identifier']}",
            "",
            "Acme",
            "Intern",
            "sometime in 2012",
        ]
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(lines)
    return "\ufeff" + "\r\n".join(NOTES) + "\r\n" + out.getvalue()


def write() -> None:
    """Write the fixture again (after a change to the rules above)."""
    PATH.write_text(fixture_text(), encoding="utf-8", newline="")


if __name__ == "__main__":
    write()

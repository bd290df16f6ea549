"""The member's LinkedIn export, read and matched, and the keys OutX sends beyond its own.

Tables of pure functions, in milliseconds; the tap runs that use them are in
tests/unit/test_export_sync.py.
"""

from __future__ import annotations

import logging
import zipfile
from datetime import date
from pathlib import Path

import pytest

from tap_linkedin_connections.history.drift import (
    Passthrough,
    UnknownKeys,
    outx_date,
    passthrough,
)
from tap_linkedin_connections.history.enrich import (
    RecordEnricher,
    choose_connected_on,
    enricher_for,
)
from tap_linkedin_connections.history.export import (
    ExportError,
    ExportMatcher,
    ExportRow,
    export_problem,
    key_from_url,
    parse_connected_on,
    parse_connections_csv,
    read_export,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "linkedin-export" / "Connections.csv"

HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
NOTES = (
    "Notes:\n"
    '"When exporting your connection data, you may notice that some of the email '
    "addresses are missing. You will only see email addresses for connections who "
    'have allowed it https://www.linkedin.com/psettings/privacy/email, URL, Company."\n'
    "\n"
)


def parsed(text: str, *, keep_emails: bool = True) -> dict[str, ExportRow]:
    return dict(parse_connections_csv(text, keep_emails=keep_emails).rows)


# Reading the CSV


def test_linkedins_note_lines_then_the_header():
    text = NOTES + HEADER + "\nAda,Byron,https://www.linkedin.com/in/ada-b,,Acme,CTO,15 Feb 2024\n"
    assert parsed(text) == {"ada-b": ExportRow("2024-02-15", "Acme", "CTO", None)}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "BOM",
            "\ufeff" + NOTES + HEADER + "\nA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024",
        ),
        (
            "BOM, no notes",
            "\ufeff" + HEADER + "\nA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024",
        ),
        (
            "CRLF",
            (NOTES + HEADER + "\nA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024\n").replace(
                "\n", "\r\n"
            ),
        ),
        ("lone CR", HEADER + "\rA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024\r"),
        (
            "spaces after commas",
            HEADER.replace(",", ", ")
            + "\nA, B, https://linkedin.com/in/a-b, , Acme, CTO, 15 Feb 2024",
        ),
        (
            "blank lines",
            HEADER + "\n\n,,,,,,\nA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024\n\n",
        ),
        (
            "columns reordered, one extra",
            "URL,Connected On,Tags,Position,Company,First Name\n"
            "https://linkedin.com/in/a-b,15 Feb 2024,vip,CTO,Acme,A\n",
        ),
        (
            "header in another case",
            HEADER.upper() + "\nA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024",
        ),
    ],
)
def test_encodings_line_ends_and_column_layouts(name, text):
    assert parsed(text) == {"a-b": ExportRow("2024-02-15", "Acme", "CTO", None)}, name


def test_quoted_fields_with_commas_quotes_and_line_breaks():
    text = HEADER + (
        '\nA,B,https://linkedin.com/in/a-b,,"Initech, Inc.","Head of Sales, ""EMEA""\n'
        'and more",15 Feb 2024\n'
    )
    row = parsed(text)["a-b"]
    assert row.company == "Initech, Inc."
    assert row.position == 'Head of Sales, "EMEA"\nand more'


def test_missing_columns_and_short_lines_are_unknown_not_errors():
    text = "First Name,URL,Company\nA,https://linkedin.com/in/a-b\nC,https://linkedin.com/in/c-d,Acme\n"
    assert parsed(text) == {
        "a-b": ExportRow(None, None, None, None),
        "c-d": ExportRow(None, "Acme", None, None),
    }


def test_emails_are_kept_only_when_asked_for():
    text = HEADER + "\nA,B,https://linkedin.com/in/a-b,a@example.com,Acme,CTO,15 Feb 2024"
    assert parsed(text, keep_emails=True)["a-b"].email_address == "a@example.com"
    assert parsed(text, keep_emails=False)["a-b"].email_address is None


def test_unreadable_and_repeated_lines_are_counted_not_fatal():
    text = (
        HEADER
        + (
            "\nA,B,https://linkedin.com/in/a-b,,Acme,CTO,15 Feb 2024"
            "\nHuge,Field,https://linkedin.com/in/huge,," + "x" * 200_000 + ",,"  # over csv's limit
            "\nNo,Url,,,Acme,CTO,15 Feb 2024"  # a member without a public profile
            "\nOld,Pub,https://www.linkedin.com/pub/old-pub/1/2/3,,,,15 Feb 2024"
            "\nElse,Where,https://example.com/in/x,,,,15 Feb 2024"
            "\nC,D,https://linkedin.com/in/c-d,,Globex,CEO,someday"
            "\nA,Again,https://www.linkedin.com/in/A-B/,,Other,Other,1 Jan 2020"
        )
    )
    export = parse_connections_csv(text, keep_emails=False)
    assert (export.lines, export.unreadable, export.bad_dates, export.repeated) == (7, 4, 1, 1)
    # The first line of a profile is kept; a bad date leaves the rest of its line.
    assert export.rows == {
        "a-b": ExportRow("2024-02-15", "Acme", "CTO", None),
        "c-d": ExportRow(None, "Globex", "CEO", None),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "has no header row"),
        ("Notes:\nsomething else entirely\n", "has no header row"),
        ("a,b,c\n1,2,3\n" * 30, "has no header row"),
        ("First Name,Last Name,Company,Connected On\nA,B,Acme,15 Feb 2024\n", "without the URL"),
    ],
)
def test_a_file_without_a_usable_header_is_an_error(text, message):
    with pytest.raises(ExportError, match=message):
        parse_connections_csv(text, keep_emails=False)


# Dates and URLs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15 Feb 2024", date(2024, 2, 15)),
        ("05 Mar 2019", date(2019, 3, 5)),
        ("5 Mar 2019", date(2019, 3, 5)),
        ("15 February 2024", date(2024, 2, 15)),
        ("15 Sept 2023", date(2023, 9, 15)),
        ("15 sep 2023", date(2023, 9, 15)),
        ("15-Feb-2024", date(2024, 2, 15)),
        ("Feb 15, 2024", date(2024, 2, 15)),
        ("2024-02-15", date(2024, 2, 15)),
        ("2024-02-15T10:00:00Z", date(2024, 2, 15)),
        ("  15 Feb 2024 ", date(2024, 2, 15)),
        ("29 Feb 2024", date(2024, 2, 29)),
        ("29 Feb 2023", None),
        ("15 Fe 2024", None),
        ("15 Febx 2024", None),
        ("15 Foo 2024", None),
        ("2024-13-01", None),
        ("15/02/2024", None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_connected_on_formats(text, expected):
    assert parse_connected_on(text) == expected


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.linkedin.com/in/ada-byron-1a2b3c", "ada-byron-1a2b3c"),
        ("https://www.linkedin.com/in/ada-byron-1a2b3c/", "ada-byron-1a2b3c"),
        ("http://www.linkedin.com/in/ada-byron-1a2b3c", "ada-byron-1a2b3c"),
        ("https://linkedin.com/in/ada-byron-1a2b3c", "ada-byron-1a2b3c"),
        ("https://uk.linkedin.com/in/ada-byron-1a2b3c", "ada-byron-1a2b3c"),
        ("www.linkedin.com/in/ada-byron-1a2b3c", "ada-byron-1a2b3c"),
        ("https://www.linkedin.com/in/Ada-Byron-1A2B3C", "ada-byron-1a2b3c"),
        ("HTTPS://WWW.LINKEDIN.COM/IN/ADA-BYRON-1A2B3C", "ada-byron-1a2b3c"),
        ("https://www.linkedin.com/in/ada-byron-1a2b3c?trk=people#top", "ada-byron-1a2b3c"),
        ("https://www.linkedin.com/in/ada-byron-1a2b3c/details/experience/", "ada-byron-1a2b3c"),
        ("https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller-42", "jürgen-müller-42"),
        ("https://www.linkedin.com/in/Jürgen-Müller-42", "jürgen-müller-42"),
        ("https://www.linkedin.com/in/%E7%8E%8B%E5%B0%8F%E6%98%8E", "王小明"),
        (" https://www.linkedin.com/in/ada ", "ada"),
        ("https://www.linkedin.com/pub/ada-byron/1/2/3", None),
        ("https://www.linkedin.com/company/acme", None),
        ("https://www.linkedin.com/in/", None),
        ("https://notlinkedin.com/in/ada", None),
        ("https://linkedin.com.evil.example/in/ada", None),
        ("ada-byron", None),
        ("http://[::1/in/ada", None),
    ],
)
def test_profile_urls_are_matched_by_their_identifier(url, key):
    assert key_from_url(url) == key


# Files


def test_the_fixture_as_a_csv_and_as_the_exports_zip(tmp_path):
    csv_export = read_export(FIXTURE, keep_emails=False)
    archive = tmp_path / "Basic_LinkedInDataExport_12-01-2026.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("Basic_LinkedInDataExport_12-01-2026/Profile.csv", "First Name\nMe\n")
        zipped.write(FIXTURE, "Basic_LinkedInDataExport_12-01-2026/Connections.csv")
        zipped.writestr("Basic_LinkedInDataExport_12-01-2026/Messages.csv", "x\n")
    zip_export = read_export(archive, keep_emails=False)

    assert zip_export == csv_export
    assert (csv_export.lines, csv_export.unreadable, csv_export.bad_dates) == (34, 2, 1)
    assert len(csv_export.rows) == 32


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.mkdir(), p)[1], "is a folder"),
        (lambda p: (p.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0"), p)[1], "binary"),
        (lambda p: (p.write_bytes(HEADER.encode() + "\nÄ".encode("latin-1")), p)[1], "UTF-8"),
        (lambda p: (p.write_text(""), p)[1], "has no header row"),
        (lambda p: (p.write_text('{"connections": []}'), p)[1], "has no header row"),
        (lambda p: (p.write_bytes(b"PK\x03\x04 not really a zip"), p)[1], "has no header"),
        (lambda p: _zip_with(p, {"Profile.csv": "x"}), "a zip without Connections.csv"),
        (lambda p: _damaged_zip(p), "a zip that cannot be read"),
    ],
    ids=["missing", "folder", "binary", "latin-1", "empty", "json", "pk-text", "no-csv", "damaged"],
)
def test_an_unreadable_file_is_one_clear_problem(tmp_path, make, message):
    path = make(tmp_path / "export")
    problem = export_problem(path)
    assert problem is not None
    assert message in problem
    assert "\n" not in problem


def _zip_with(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return path


def _damaged_zip(path: Path) -> Path:
    _zip_with(path, {"Connections.csv": HEADER + "\n"})
    data = bytearray(path.read_bytes())
    data[30:40] = b"\xff" * 10  # the member's name and data, under a valid directory
    path.write_bytes(bytes(data))
    return path


def test_the_shallowest_connections_csv_of_a_zip_is_read(tmp_path):
    archive = _zip_with(
        tmp_path / "export.zip",
        {
            "backup/old/Connections.csv": HEADER
            + "\nA,B,https://linkedin.com/in/old,,,,1 Jan 2020\n",
            "export/connections.CSV": HEADER + "\nA,B,https://linkedin.com/in/new,,,,1 Jan 2024\n",
        },
    )
    assert set(read_export(archive, keep_emails=False).rows) == {"new"}


# Matching and its one line


def test_matching_counts_distinct_connections_and_the_line_holds_no_data():
    export = parse_connections_csv(
        HEADER
        + "\nAda,Byron,https://linkedin.com/in/zed-q9,zed@example.com,Acme,CTO,15 Feb 2024"
        + "\nBob,Stone,https://linkedin.com/in/bob-k4,,Globex,CEO,16 Feb 2024"
        + "\nNo,Url,,,,,17 Feb 2024",
        keep_emails=True,
    )
    matcher = ExportMatcher(export)
    assert matcher.find("ZED-Q9", "urn:1") == export.rows["zed-q9"]
    assert matcher.find("zed-q9", "urn:1") is not None  # an overlapping page reads it again
    assert matcher.find("carol", "urn:3") is None
    assert matcher.find(None, "urn:4") is None

    line = matcher.summary()
    assert line == (
        "LinkedIn export: 3 lines (1 unreadable: no LinkedIn profile URL); connections read "
        "this run: 3, of which 1 matched and 2 not in the export (connected since it was "
        "downloaded, or no profile URL); export lines matching no connection read this "
        "run: 1"
    )
    for personal in ("Ada", "Byron", "zed", "bob", "Acme", "CTO", "example.com", "2024"):
        assert personal not in line


# What OutX sends beyond its documented fields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1708000000000, date(2024, 2, 15)),  # epoch milliseconds, LinkedIn's createdAt
        (1708000000000.0, date(2024, 2, 15)),
        ("1708000000000", date(2024, 2, 15)),
        (1708000000, date(2024, 2, 15)),  # epoch seconds
        ("2024-02-15T12:00:00Z", date(2024, 2, 15)),
        ("2024-02-15T23:30:00-05:00", date(2024, 2, 16)),  # dated in UTC
        ("2024-02-15T12:00:00.12Z", date(2024, 2, 15)),
        ("2024-02-15", date(2024, 2, 15)),
        ("15 Feb 2024", None),
        (0, None),  # a placeholder, not a date (before LinkedIn)
        (-1, None),
        (10**20, None),
        (float("nan"), None),
        (True, None),
        ("", None),
        ("soon", None),
        ({"time": 1}, None),
        ([1708000000000], None),
    ],
)
def test_dates_passed_through_by_outx(value, expected):
    assert outx_date(value) == expected


DOCUMENTED = frozenset({"name", "entity_urn", "headline"})


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ({"name": "A", "entity_urn": "u"}, Passthrough(None, None)),
        ({"name": "A", "createdAt": 1708000000000}, Passthrough("2024-02-15", None)),
        ({"connectedAt": "2024-02-15T00:00:00Z"}, Passthrough("2024-02-15", None)),
        ({"connected_at": 1708000000000}, Passthrough("2024-02-15", None)),
        ({"createdAt": None}, Passthrough(None, None)),
        (  # createdAt first, whatever the order of the keys
            {"connected_at": "2020-01-01", "createdAt": 1708000000000},
            Passthrough("2024-02-15", None),
        ),
        (  # a date that cannot be read is kept, as sent
            {"createdAt": "last week", "connectedAt": "2020-01-01"},
            Passthrough("2020-01-01", {"createdAt": "last week"}),
        ),
        (
            {"name": "A", "memberDistance": {"value": "DISTANCE_1"}, "degree": None},
            Passthrough(None, {"memberDistance": {"value": "DISTANCE_1"}, "degree": None}),
        ),
    ],
)
def test_what_a_connection_carries_beyond_the_documented_fields(connection, expected):
    assert passthrough(connection, DOCUMENTED) == expected


def test_unknown_keys_are_named_once_per_run_names_only(caplog):
    unknown = UnknownKeys(logging.getLogger("tests.unknown"))
    with caplog.at_level(logging.WARNING, logger="tests.unknown"):
        unknown.note(["memberDistance", "b\nc"])
        unknown.note(["memberDistance"])
        unknown.note(["memberDistance", "pronoun", "x" * 100])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "memberDistance" in lines[0]
    assert "'b\\nc'" in lines[0]  # escaped: one log line stays one line
    assert "memberDistance" not in lines[1]
    assert "pronoun" in lines[1]
    assert "x" * 60 + "..." in lines[1]
    assert "x" * 61 not in lines[1]


@pytest.mark.parametrize(
    ("from_export", "from_outx", "expected"),
    [
        ("2024-02-15", "2024-02-16", "2024-02-15"),  # both: the export's
        ("2024-02-15", None, "2024-02-15"),
        (None, "2024-02-16", "2024-02-16"),  # not in the export (connected since)
        (None, None, None),
    ],
)
def test_which_connection_date_wins(from_export, from_outx, expected):
    assert choose_connected_on(from_export, from_outx) == expected


def test_the_enricher_fills_the_export_fields_and_counts_other_dates():
    export = parse_connections_csv(
        HEADER + "\nAda,B,https://linkedin.com/in/ada,ada@example.com,Acme,,15 Feb 2024",
        keep_emails=True,
    )
    connection = {"public_identifier": "ada", "entity_urn": "u1", "createdAt": 1708100000000}
    with_emails = RecordEnricher(ExportMatcher(export), emails=True)
    assert with_emails.fields(connection, "u1") == {
        "connected_on": "2024-02-15",
        "company": "Acme",
        "position": None,
        "email_address": "ada@example.com",
        "extra": None,
    }
    assert with_emails.export is not None
    assert with_emails.export.other_dates == {"u1"}  # OutX said 16 Feb (UTC)
    without = RecordEnricher(ExportMatcher(export), emails=False)
    assert without.fields(connection, "u1")["email_address"] is None
    # No export: OutX's date, nothing else.
    assert RecordEnricher().fields(connection, "u1")["connected_on"] == "2024-02-16"


def test_an_export_gone_since_validation_names_the_setting_and_path(tmp_path):
    unknown = UnknownKeys(logging.getLogger("tests.unknown"))
    assert enricher_for({"linkedin_export": "  "}, unknown).export is None  # blank: unset
    missing = tmp_path / "Connections.csv"
    with pytest.raises(ExportError) as raised:
        enricher_for({"linkedin_export": str(missing)}, unknown)
    assert str(raised.value) == f"'linkedin_export': {missing} does not exist"

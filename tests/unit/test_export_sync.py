"""The LinkedIn export and OutX's extra keys in tap runs, over real HTTP.

Runs about data are in process; a bad export's one line, through the CLI.
"""

from __future__ import annotations

import csv
import io
import typing as t
import zipfile

import jsonschema

from tap_linkedin_connections.sandbox.data import make_connection
from tests import export_fixture
from tests.export_fixture import CONNECTIONS, SEED, expected
from tests.helpers import FAST_SETTINGS, TapRun, run_tap_in_process, tap_config
from tests.scripted_server import ScriptedServer, task_created, task_state

FIXTURE = export_fixture.PATH


def export_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "LinkedIn export:" in line]


def serial_of(sandbox_connections: list[dict[str, t.Any]]) -> dict[str, int]:
    """Entity URN -> serial (0 = oldest) of the fixture's sandbox."""
    urns = {make_connection(SEED, serial)["entity_urn"]: serial for serial in range(CONNECTIONS)}
    assert {c["entity_urn"] for c in sandbox_connections} == set(urns)
    return urns


def fixture_cells() -> set[str]:
    """Every name, URL, email and company of the fixture: none may reach a log."""
    text = FIXTURE.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))[4:]
    return {cell for row in rows for cell in (row[:5] if row else []) if len(cell) > 3}


def test_the_fixture_is_what_its_rules_write():
    assert FIXTURE.read_bytes() == export_fixture.fixture_text().encode(), (
        "run: python -m tests.export_fixture"
    )


def test_a_sandbox_run_fills_dates_company_and_position_and_counts_in_one_line(
    make_sandbox, tmp_path
):
    sandbox = make_sandbox(connections=CONNECTIONS, seed=SEED)
    run = run_tap_in_process(tap_config(sandbox.url, linkedin_export=str(FIXTURE)), tmp_path)

    assert run.returncode == 0, run.stderr
    serials = serial_of(sandbox.connections())
    assert len(run.records) == CONNECTIONS
    for record in run.records:
        want = expected(serials[record["entity_urn"]])
        got = (record["connected_on"], record["company"], record["position"])
        assert got == (want.connected_on, want.company, want.position), record["entity_urn"]
        assert record["email_address"] is None  # not asked for
        assert record["extra"] is None
    # The export's date wins over OutX's where they differ (a day apart in 3 rows).
    by_serial = {serials[r["entity_urn"]]: r for r in run.records}
    for serial in export_fixture.DATED_A_DAY_LATER:
        assert by_serial[serial]["connected_on"] != export_fixture.outx_date(serial)
    # Connections made after the export was downloaded keep OutX's date.
    assert by_serial[39]["connected_on"] == export_fixture.outx_date(39)
    filled = [s for s in range(CONNECTIONS) if expected(s).company or expected(s).position]
    assert sum(1 for r in run.records if r["company"] or r["position"]) == len(filled) == 30

    (line,) = export_lines(run)
    assert line.endswith(
        "LinkedIn export: 34 lines (2 unreadable: no LinkedIn profile URL; 1 with a "
        "Connected On that is not a date); connections read this run: 40, of which 31 "
        "matched and 9 not in the export (connected since it was downloaded, or no profile "
        "URL); export lines matching no connection read this run: 1; dated otherwise by "
        "OutX (the export's date kept): 3"
    )
    leaked = {cell for cell in fixture_cells() if cell in run.stderr}
    assert leaked == set(), "personal data from the export reached the log"
    (schema,) = run.of_type("SCHEMA")
    for record in run.records:
        jsonschema.validate(record, schema["schema"])


def test_the_exports_zip_reads_the_same_and_emails_come_only_when_asked(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=CONNECTIONS, seed=SEED)
    archive = tmp_path / "Basic_LinkedInDataExport_12-01-2026.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("Basic_LinkedInDataExport_12-01-2026/Invitations.csv", "From,To\n")
        zipped.write(FIXTURE, "Basic_LinkedInDataExport_12-01-2026/Connections.csv")
    config = tap_config(sandbox.url, linkedin_export=str(archive), linkedin_export_emails=True)
    run = run_tap_in_process(config, tmp_path)

    assert run.returncode == 0, run.stderr
    serials = serial_of(sandbox.connections())
    emails = {}
    for record in run.records:
        want = expected(serials[record["entity_urn"]])
        assert (record["connected_on"], record["company"], record["position"]) == want[:3]
        assert record["email_address"] == want.email_address
        emails[serials[record["entity_urn"]]] = record["email_address"]
    assert [serial for serial, email in sorted(emails.items()) if email] == list(range(0, 30, 4))
    assert len(export_lines(run)) == 1
    assert "@example.com" not in run.stderr


def test_each_account_reads_its_own_export(make_sandbox, tmp_path):
    """Two accounts with the same people: only the one whose entry names the export
    gains its fields; the top-level setting is not used with accounts."""
    sales = make_sandbox(connections=CONNECTIONS, seed=SEED, api_key="key-sales")
    recruiting = make_sandbox(connections=CONNECTIONS, seed=SEED, api_key="key-recruiting")
    entries = [
        {
            "name": "sales",
            "api_key": "key-sales",
            "api_url": sales.url,
            "linkedin_export": str(FIXTURE),
        },
        {"name": "recruiting", "api_key": "key-recruiting", "api_url": recruiting.url},
    ]
    config = {**FAST_SETTINGS, "accounts": entries, "linkedin_export": str(FIXTURE)}
    run = run_tap_in_process(config, tmp_path)

    assert run.returncode == 0, run.stderr
    companies = {
        name: sum(1 for r in run.records if r["account"] == name and r["company"])
        for name in ("sales", "recruiting")
    }
    with_company = sum(1 for serial in range(CONNECTIONS) if expected(serial).company)
    assert companies == {"sales": with_company, "recruiting": 0}
    assert with_company == 27
    (line,) = export_lines(run)
    assert "account 'sales': LinkedIn export: 34 lines" in line
    assert "linkedin_export is not used" in run.stderr


# What OutX sends beyond its documented fields


def _connection(n: int) -> dict[str, t.Any]:
    return {
        "entity_urn": f"urn:li:fsd_profile:P{n}",
        "name": f"Person {n}",
        "public_identifier": f"person-{n}",
        "headline": "Engineer",
        "createdAt": 1708000000000 + n * 86_400_000,  # 15 Feb 2024 + n days, epoch ms
        "memberDistance": {"value": "DISTANCE_1", "secret": f"value-{n}"},
        "pronoun": "they/them",
    }


def test_unknown_keys_are_kept_in_extra_and_named_once_and_created_at_fills_the_date(
    tmp_path,
):
    # page_size 4: pages overlap by 1, so the second page (offset 3) starts with the
    # first page's last connection; it is short, so the list ends.
    first, second = [_connection(n) for n in range(4)], [_connection(n) for n in range(3, 6)]
    with ScriptedServer(
        [task_created("t1"), task_created("t2")],
        [task_state("t1", "completed", first), task_state("t2", "completed", second)],
    ) as server:
        run = run_tap_in_process(tap_config(server.url, page_size=4), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert [r["entity_urn"] for r in run.records] == [f"urn:li:fsd_profile:P{n}" for n in range(6)]
    for n, record in enumerate(run.records):
        assert record["connected_on"] == f"2024-02-{15 + n}"
        assert record["extra"] == {
            "memberDistance": {"value": "DISTANCE_1", "secret": f"value-{n}"},
            "pronoun": "they/them",
        }
        assert "createdAt" not in record
    warnings = [line for line in run.stderr.splitlines() if "does not know" in line]
    assert len(warnings) == 1, warnings
    assert "memberDistance, pronoun." in warnings[0]
    for value in ("DISTANCE_1", "value-", "they/them", "1708"):
        assert value not in run.stderr
    (schema,) = run.of_type("SCHEMA")
    for record in run.records:
        jsonschema.validate(record, schema["schema"])

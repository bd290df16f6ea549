"""The profiles' listing of the connection list and their memory of fetches, in a ledger
database of the test's own (SQLite, and PostgreSQL when it is reachable)."""

from __future__ import annotations

import typing as t

import pytest

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.engine.ledger import TaskLedger
from tap_linkedin_connections.profiles.choose import RememberedFetch
from tap_linkedin_connections.profiles.listing import ConnectionListing, PassRecorder
from tap_linkedin_connections.profiles.memory import ProfileMemory
from tap_linkedin_connections.profiles.records import FailureKind


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path) -> t.Iterator[TaskLedger]:
    url = (
        f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_ledger_url")
    )
    opened = TaskLedger(url, "acct", FakeClock())
    yield opened
    opened.close()


def connection(n: int, headline: str = "Engineer") -> dict[str, t.Any]:
    return {"entity_urn": f"urn:{n}", "public_identifier": f"slug-{n}", "headline": headline}


def read_pass(
    listing: ConnectionListing,
    numbers: t.Iterable[int],
    *,
    resumed: bool = False,
    proved: bool = False,
    ordered: bool = True,
    whole_list: bool = True,
) -> None:
    recorder = PassRecorder(listing, resumed=resumed, ordered=ordered, whole_list=whole_list)
    for n in numbers:
        recorder.seen(connection(n))
    recorder.ended(proved=proved)
    t.cast("FakeClock", listing.ledger.clock).advance(60)


def urns(listing: ConnectionListing) -> list[str]:
    return [c.entity_urn for c in listing.connections()]


def test_newest_first_across_full_and_incremental_passes(ledger):
    listing = ConnectionListing(ledger)
    read_pass(listing, [5, 4, 3, 2, 1], proved=True)  # a full pass, newest first
    assert urns(listing) == ["urn:5", "urn:4", "urn:3", "urn:2", "urn:1"]
    read_pass(listing, [7, 6])  # an incremental run: the new ones, on top
    assert urns(listing) == ["urn:7", "urn:6", "urn:5", "urn:4", "urn:3", "urn:2", "urn:1"]
    assert [c.position for c in listing.connections()] == list(range(7))
    assert listing.summary().connections == 7
    assert listing.slugs(["urn:6", "urn:99"]) == {"urn:6": "slug-6"}


def test_a_pass_resumed_by_a_later_run_keeps_its_order(ledger):
    listing = ConnectionListing(ledger)
    read_pass(listing, [9, 8, 7])  # the first run stops mid-pass
    read_pass(listing, [6, 5], resumed=True)  # the next one reads on
    assert urns(listing) == ["urn:9", "urn:8", "urn:7", "urn:6", "urn:5"]


def test_a_proved_pass_over_the_whole_list_tells_who_is_gone(ledger):
    listing = ConnectionListing(ledger)
    read_pass(listing, [5, 4, 3, 2, 1], proved=True)
    assert listing.summary().whole_at is not None
    read_pass(listing, [5, 3, 1], whole_list=False, proved=True)  # a keyword: a part only
    assert len(urns(listing)) == 5
    read_pass(listing, [5, 3, 1])  # not proved complete: tells nothing
    assert len(urns(listing)) == 5
    read_pass(listing, [6, 5, 3, 1], proved=True)
    assert urns(listing) == ["urn:6", "urn:5", "urn:3", "urn:1"]
    read_pass(listing, [6, 5, 4, 3, 1], proved=True)  # re-connected: back
    assert "urn:4" in urns(listing)


def test_relevance_order_gives_no_place(ledger):
    listing = ConnectionListing(ledger)
    read_pass(listing, [1, 2, 3], ordered=False)
    assert {c.position for c in listing.connections()} == {None}


def test_a_later_headline_replaces_the_earlier_one(ledger):
    listing = ConnectionListing(ledger)
    recorder = PassRecorder(listing, resumed=False, ordered=True, whole_list=True)
    recorder.seen(connection(1, "Engineer at Acme"))
    recorder.ended(proved=False)
    recorder = PassRecorder(listing, resumed=False, ordered=True, whole_list=True)
    recorder.seen(connection(1, "Director at Globex"))
    recorder.ended(proved=False)
    assert [c.headline for c in listing.connections()] == ["Director at Globex"]


def profile(title: str | None, company: str | None, n: int = 1) -> dict[str, t.Any]:
    return {
        "account": "default",
        "entity_urn": f"urn:{n}",
        "public_identifier": f"slug-{n}",
        "current_title": title,
        "current_company": company,
        "positions": [],
        "fetched_at": "2026-03-01T00:00:00Z",
    }


def test_each_success_gets_a_later_seq_and_a_failure_does_not(ledger):
    memory = ProfileMemory(ledger)
    assert memory.fetched(profile("Engineer", "Acme", 1), list_headline="Engineer", at=10.0) is None
    assert memory.fetched(profile("Analyst", "Hooli", 2), list_headline="Analyst", at=11.0) is None
    first = memory.records_after(0)
    assert [r["entity_urn"] for _, r in first] == ["urn:1", "urn:2"]

    assert memory.failed("urn:2", FailureKind.NOT_VISIBLE, at=12.0) == 1
    assert memory.failed("urn:2", FailureKind.NOT_VISIBLE, at=13.0) == 2
    assert memory.records_after(first[-1][0]) == []  # its stored record is not re-emitted

    change = memory.fetched(profile("Director", "Acme", 1), list_headline="Director", at=20.0)
    assert change is not None
    assert (change["previous"], change["current"]) == (
        {"title": "Engineer", "company": "Acme"},
        {"title": "Director", "company": "Acme"},
    )
    later = memory.records_after(first[-1][0])
    assert [r["current_title"] for _, r in later] == ["Director"]
    assert memory.last_seq() == later[-1][0]
    assert [e["entity_urn"] for _, e in memory.job_changes_after(0)] == ["urn:1"]

    assert memory.remembered() == {
        "urn:1": RememberedFetch(fetched_at=20.0, headline="Director"),
        "urn:2": RememberedFetch(
            fetched_at=11.0,
            headline="Analyst",
            failure=FailureKind.NOT_VISIBLE,
            failed_at=13.0,
            failures=2,
        ),
    }


def test_a_failure_before_any_success(ledger):
    memory = ProfileMemory(ledger)
    assert memory.failed("urn:3", FailureKind.NOT_FOUND, at=5.0) == 1
    assert memory.remembered()["urn:3"] == RememberedFetch(
        failure=FailureKind.NOT_FOUND, failed_at=5.0, failures=1
    )
    assert memory.records_after(0) == []
    memory.fetched(profile("Engineer", "Acme", 3), list_headline=None, at=9.0)
    assert memory.remembered()["urn:3"].failures == 0

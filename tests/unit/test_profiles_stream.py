"""The `profiles` and `job_changes` streams through the tap, against the sandbox.

Each run is the tap in this process (tests/helpers.py) with a catalog that selects the
streams, and a task ledger of the test's own; "a day later" moves every moment in that
ledger back a day (tests/profiles_fixture.py), as if the earlier runs had run then.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import typing as t
from pathlib import Path

import pytest

from tap_linkedin_connections.clock import FakeClock
from tap_linkedin_connections.connections.passes import tasks_for_full_pass
from tap_linkedin_connections.profiles.stream import ProfilesStream
from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import run_tap_in_process, tap_config
from tests.profiles_fixture import (
    catalog,
    config_for,
    days_pass,
    ledger_kinds,
    newest_slugs,
    profile_slugs,
    profile_tasks,
    records,
    run,
)

# What a profile record holds, in either shape


def expected_positions(profile: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The sandbox's positions as records carry them: current first, then by end."""
    return sorted(
        (
            {
                "title": p["title"],
                "company": p["company"],
                "location": p["location"],
                "start_year": p["start_year"],
                "start_month": p["start_month"],
                "end_year": p["end_year"],
                "end_month": p["end_month"],
                "is_current": p["is_current"],
            }
            for p in profile["positions"]
        ),
        key=lambda p: (not p["is_current"], -(p["end_year"] or 0), -(p["end_month"] or 0)),
    )


def check_against_sandbox(record: dict[str, t.Any], sandbox: Sandbox) -> None:
    truth = sandbox.profiles.profile(record["public_identifier"])
    assert truth is not None
    assert record["entity_urn"] == truth["entity_urn"]
    # An empty headline is no headline.
    assert (record["name"], record["headline"], record["location"], record["about"]) == (
        truth["name"],
        truth["headline"] or None,
        truth["location"],
        truth["about"],
    )
    assert record["connections_count"] == min(truth["connections"], 500)  # "500+"
    assert record["followers_count"] == truth["followers"]
    assert record["positions"] == expected_positions(truth)
    current = [p for p in truth["positions"] if p["is_current"]]
    assert (record["current_title"], record["current_company"]) == (
        (current[0]["title"], current[0]["company"]) if current else (None, None)
    )
    assert [e["school"] for e in record["education"]] == [e["school"] for e in truth["education"]]
    assert record["skills"] == truth["skills"]
    assert isinstance(record["raw"], dict)
    assert record["account"] == "default"


def test_both_shapes_give_the_same_records_end_to_end(make_sandbox, tmp_path):
    """The provider's flat object and the client's `task_output.profile`: one record."""
    by_shape = {}
    for shape in ("flat", "nested"):
        sandbox = make_sandbox(connections=40, seed=31, profile_shape=shape)
        workdir = tmp_path / shape
        workdir.mkdir()
        done = run(config_for(sandbox, workdir, max_profile_fetches_per_day=12), workdir)
        profiles = records(done, "profiles")
        assert len(profiles) == 12
        for record in profiles:
            check_against_sandbox(record, sandbox)
        assert ("profile" in profiles[0]["raw"]) is (shape == "nested")
        by_shape[shape] = {
            r["entity_urn"]: {k: v for k, v in r.items() if k not in ("raw", "fetched_at")}
            for r in profiles
        }
    assert by_shape["flat"] == by_shape["nested"]


def test_the_newest_connections_first_then_none_the_same_day(make_sandbox, tmp_path):
    """300 connections, max_profile_fetches_per_day=20: the 20 newest, then nothing."""
    sandbox = make_sandbox(connections=300, seed=32)
    config = config_for(sandbox, tmp_path)

    first = run(config, tmp_path)
    assert profile_slugs(sandbox) == newest_slugs(sandbox, 20)  # in this order
    assert [r["public_identifier"] for r in records(first, "profiles")] == newest_slugs(sandbox, 20)
    assert "Profiles today: 20 profile tasks (20 new" in first.stderr
    assert "280 more wait for another day (max_profile_fetches_per_day=20)" in first.stderr
    # The connections synced first: their pages were created before any profile task.
    kinds = ledger_kinds(tmp_path / "ledger.sqlite")
    assert kinds == ["connections_page"] * (len(kinds) - 20) + ["profile"] * 20

    second = run(config, tmp_path, state=first.last_state)
    assert len(profile_tasks(sandbox)) == 20
    assert records(second, "profiles") == []
    assert "Profiles today: 0 profile tasks" in second.stderr


def test_enrichment_over_days_then_three_job_changes_cost_three_views(make_sandbox, tmp_path):
    """The closing numbers: 300 connections at 20 a day, then three job changes."""
    sandbox = make_sandbox(connections=300, seed=33)
    config = config_for(sandbox, tmp_path)
    ledger = tmp_path / "ledger.sqlite"
    state = None
    per_day = []
    for day in range(16):
        if day:
            days_pass(ledger, 1)
        before = len(profile_tasks(sandbox))
        state = run(config, tmp_path, state=state).last_state
        per_day.append(len(profile_tasks(sandbox)) - before)
    assert per_day == [20] * 15 + [0]
    assert sorted(profile_slugs(sandbox)) == sorted(newest_slugs(sandbox, 300))

    days_pass(ledger, 1)
    changed = [c["entity_urn"] for c in sandbox.connections()[100:103]]
    for urn, company in zip(changed, ("Globex", "Initech", "Hooli"), strict=True):
        sandbox.profiles.change_job(entity_urn=urn, title="Chief Data Officer", company=company)
    before = len(profile_tasks(sandbox))
    done = run({**config, "full_refresh": True}, tmp_path, state=state)

    fetched = profile_tasks(sandbox)[before:]
    print(
        f"profile tasks per day: {per_day}; after three job changes and a full pass: {len(fetched)}"
    )
    assert len(fetched) == 3
    slugs = {
        str(c["public_identifier"]) for c in sandbox.connections() if c["entity_urn"] in changed
    }
    assert {task["input"]["profile_slug"] for task in fetched} == slugs
    assert "(0 new, 3 headline changed, 0 refresh)" in done.stderr
    events = records(done, "job_changes")
    assert sorted(e["entity_urn"] for e in events) == sorted(changed)
    for event in events:
        assert event["event"] == "job_changed"
        assert event["current"]["title"] == "Chief Data Officer"
        assert event["previous"] != event["current"]
    # The same job changes in the network history's events, once each, as text.
    job_events = [e for e in records(done, "connection_events") if e["event"] == "job_changed"]
    assert sorted(e["entity_urn"] for e in job_events) == sorted(changed)
    assert all(e["current"].startswith("Chief Data Officer at ") for e in job_events)
    assert all(e["previous"] != e["current"] for e in job_events)
    updated = {r["entity_urn"]: r for r in records(done, "profiles")}
    assert set(updated) == set(changed)
    assert {r["current_company"] for r in updated.values()} == {"Globex", "Initech", "Hooli"}

    again = run(config, tmp_path, state=done.last_state)
    assert len(profile_tasks(sandbox)) == before + 3
    assert records(again, "job_changes") == []
    assert [e for e in records(again, "connection_events") if e["event"] == "job_changed"] == []


def test_a_hidden_or_missing_profile_waits_a_week(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=60, seed=34)
    config = config_for(sandbox, tmp_path, max_profile_fetches_per_day=5)
    hidden = newest_slugs(sandbox, 5)[1:3]
    sandbox.profiles.hide(slugs=hidden)

    done = run(config, tmp_path)
    assert profile_slugs(sandbox) == newest_slugs(sandbox, 5)  # each tried once
    assert len(records(done, "profiles")) == 3
    assert "could not be fetched (not visible, 1 in a row)" in done.stderr

    state = done.last_state
    for _ in range(6):  # six days on: still waiting, while others are fetched
        days_pass(tmp_path / "ledger.sqlite", 1)
        state = run(config, tmp_path, state=state).last_state
    assert profile_slugs(sandbox).count(hidden[0]) == 1
    days_pass(tmp_path / "ledger.sqlite", 1.5)
    run(config, tmp_path, state=state)
    assert profile_slugs(sandbox)[-5:][:2] == hidden  # a week later, first again
    assert profile_slugs(sandbox).count(hidden[1]) == 2


# One budget per account


def test_two_pipelines_share_the_daily_caps(make_sandbox, tmp_path):
    """Two pipelines (their own STATE) on one account and one ledger."""
    sandbox = make_sandbox(connections=300, seed=35)
    config = config_for(sandbox, tmp_path, max_tasks_per_day=24, max_profile_fetches_per_day=50)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = run(config, tmp_path / "a")
    pages = sandbox.stats()["tasks_created"] - len(profile_tasks(sandbox))
    # The day's 24 tasks: the pages first, then the profiles take what is left.
    assert pages == tasks_for_full_pass(300, 100)
    assert len(profile_tasks(sandbox)) == 24 - pages
    assert "more wait for another day (the account's task budget" in first.stderr

    second = run(config, tmp_path / "b")
    assert sandbox.stats()["tasks_created"] == 24  # not one more, of any kind
    assert "Stopped creating tasks: the pacing budget allows the next task at" in second.stderr
    assert "Profiles today: 0 profile tasks" in second.stderr
    # What the first paid for reaches the second pipeline's target at no cost.
    assert sorted(r["entity_urn"] for r in records(second, "profiles")) == sorted(
        r["entity_urn"] for r in records(first, "profiles")
    )


def test_a_second_pipeline_loads_the_profiles_the_first_paid_for(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=120, seed=36)
    config = config_for(sandbox, tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = run({**config}, tmp_path / "a")
    second = run({**config}, tmp_path / "b", streams=("profiles",))

    assert len(profile_tasks(sandbox)) == 20  # max_profile_fetches_per_day, both pipelines
    assert sorted(r["entity_urn"] for r in records(second, "profiles")) == sorted(
        r["entity_urn"] for r in records(first, "profiles")
    )
    assert "0 profile tasks created" in second.stderr


def test_two_pipelines_share_the_hourly_cap(make_sandbox, tmp_path, monkeypatch):
    """Pipeline A reads the list (4 pages); pipeline B fetches profiles: with 10 tasks an
    hour, B's seventh profile waits for A's pages to leave the hour."""
    sandbox = make_sandbox(connections=300, seed=37)
    config = config_for(sandbox, tmp_path, max_tasks_per_hour=10)
    ledger = tmp_path / "ledger.sqlite"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # A selects the profiles too, with a day's budget of its four pages: its pass fills
    # the profiles' listing, and no profile task fits.
    run({**config, "max_tasks_per_day": 4}, tmp_path / "a")
    assert profile_tasks(sandbox) == []
    pages_at = _created_at(ledger)
    assert len(pages_at) == 4

    clock = FakeClock(start=time.time())
    monkeypatch.setattr(ProfilesStream, "clock", clock)
    run(config, tmp_path / "b", streams=("profiles",))

    created = _created_at(ledger)
    profiles = created[4:]
    assert len(profiles) == 20
    # Six profiles fit beside A's four pages; the seventh waits until the first page
    # leaves the hour.
    assert profiles[5] - pages_at[0] < 3600
    assert profiles[6] - pages_at[0] >= 3600
    for start in created:
        assert sum(1 for moment in created if start <= moment < start + 3600) <= 10
    assert sum(clock.slept) >= 3000


def _created_at(ledger: Path) -> list[float]:
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        rows = conn.execute(
            "SELECT created_at FROM tap_linkedin_connections_task_ledger ORDER BY id"
        )
        return [float(row[0]) for row in rows]


# Opt-in


@pytest.mark.parametrize("streams", [None, ("connections",)])
def test_no_profile_task_unless_the_stream_is_selected(make_sandbox, tmp_path, streams):
    """No catalog (every stream as selected by default), or one with connections only."""
    sandbox = make_sandbox(connections=120, seed=39)
    config = config_for(sandbox, tmp_path)
    chosen = None if streams is None else catalog(config, *streams)
    done = run_tap_in_process(config, tmp_path, catalog=chosen)

    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.records) == 120
    assert profile_tasks(sandbox) == []
    assert "Skipping deselected stream 'profiles'" in done.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "ledger.sqlite")) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert not any("listed" in table or "profile" in table for table in tables)


def test_selecting_profiles_for_a_list_loaded_earlier_reads_it_whole_once(make_sandbox, tmp_path):
    """The daily runs read only new connections; the profiles need the whole list."""
    sandbox = make_sandbox(connections=300, seed=42)
    config = config_for(sandbox, tmp_path)
    loaded = run(config, tmp_path, streams=("connections",))
    sandbox.add_connections(2)
    sandbox.reset_stats()

    first = run(config, tmp_path, state=loaded.last_state)
    assert "knows none of this account's connections: this run reads the whole list" in (
        first.stderr
    )
    assert len(records(first, "connections")) == 302  # a full pass, not the 2 new ones
    assert "ACTIVATE_VERSION not sent" in first.stderr  # it deletes nothing
    assert profile_slugs(sandbox) == newest_slugs(sandbox, 20)

    sandbox.reset_stats()
    second = run(config, tmp_path, state=first.last_state)
    assert sandbox.stats()["tasks_created"] == 1  # an incremental run again, no profile
    assert "reads the whole list" not in second.stderr


def test_two_accounts_each_get_their_own_newest_profiles(make_sandbox, tmp_path):
    first = make_sandbox(connections=60, seed=43)
    second = make_sandbox(connections=50, seed=44, api_key="outx-team-key-second-7d1e3f5a9b2c4d6e")
    config = tap_config(
        first.url,
        task_ledger=str(tmp_path / "ledger.sqlite"),
        max_profile_fetches_per_day=5,
        accounts=[
            {"name": "sales", "api_key": first.api_key, "api_url": first.url},
            {"name": "founders", "api_key": second.api_key, "api_url": second.url},
        ],
    )
    done = run(config, tmp_path)

    by_account: dict[str, list[str]] = {}
    for record in records(done, "profiles"):
        by_account.setdefault(record["account"], []).append(record["public_identifier"])
    assert by_account == {"sales": newest_slugs(first, 5), "founders": newest_slugs(second, 5)}
    assert "account 'founders': Profiles today: 5 profile tasks" in done.stderr

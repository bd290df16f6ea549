"""Bad input: one clear line, a non-zero exit, no traceback, no request, no key echoed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tap_linkedin_connections.engine.ledger import LedgerError, TaskLedger, ledger_setting_problem
from tests.helpers import (
    API_KEY,
    FAST_SETTINGS,
    key_forms,
    problem_lines,
    run_tap,
    tap_config,
    zip_bytes,
)
from tests.scripted_server import ScriptedServer, task_created, task_state

INVALID = [
    ({"api_key": None}, "'api_key' is missing or empty"),
    ({"api_key": ""}, "'api_key' is missing or empty"),
    ({"api_key": "   "}, "'api_key' is missing or empty"),
    ({"api_key": 12345}, "'api_key' must be text"),
    ({"page_size": 0}, "'page_size' must be a whole number from 2 to 100"),
    ({"page_size": 101}, "'page_size' must be a whole number from 2 to 100"),
    ({"page_size": 2.5}, "'page_size' must be a whole number from 2 to 100"),
    ({"page_size": "50"}, "'page_size' must be a whole number from 2 to 100"),
    ({"sort_type": "NEWEST"}, "'sort_type' must be RECENTLY_ADDED or RELEVANCE"),
    ({"keyword": 5}, "'keyword' must be text"),
    ({"task_timeout_seconds": 0}, "'task_timeout_seconds' must be a positive number"),
    ({"request_timeout_seconds": -1}, "'request_timeout_seconds' must be a positive number"),
    ({"poll_interval_min_seconds": "soon"}, "'poll_interval_min_seconds' must be a positive"),
    ({"poll_interval_max_seconds": -0.5}, "'poll_interval_max_seconds' must be a positive"),
    (
        {"poll_interval_min_seconds": 5, "poll_interval_max_seconds": 1},
        "'poll_interval_min_seconds' must not be larger",
    ),
    ({"max_task_attempts": 0}, "'max_task_attempts' must be a whole number of at least 1"),
    ({"max_tasks_per_hour": -1}, "'max_tasks_per_hour' must be a whole number of at least 0"),
    ({"max_tasks_in_flight": 11}, "'max_tasks_in_flight' must be a whole number from 1 to 10"),
    ({"full_refresh": "yes"}, "'full_refresh' must be true or false"),
    ({"max_deleted_fraction": 1.5}, "'max_deleted_fraction' must be a number from 0 to 1"),
    ({"max_deleted_fraction": "a tenth"}, "'max_deleted_fraction' must be a number from 0 to 1"),
    ({"max_tasks_per_day": -1}, "'max_tasks_per_day' must be a whole number of at least 0"),
    ({"task_spacing_min_seconds": -1}, "'task_spacing_min_seconds' must be a number of at least 0"),
    (
        {"task_spacing_min_seconds": 5, "task_spacing_max_seconds": 2},
        "'task_spacing_min_seconds' must not be larger",
    ),
    ({"active_hours": "8-20"}, "'active_hours' must look like 08:00-20:00"),
    ({"active_hours": "08:00-20:00", "timezone": "Mars/Olympus"}, "'timezone' must be an IANA"),
    ({"timezone": "Nowhere"}, "'timezone' must be an IANA"),
    ({"pickup_timeout_seconds": 0}, "'pickup_timeout_seconds' must be a positive number"),
    ({"task_ledger": 5}, "'task_ledger' must be text"),
    ({"api_url": "ftp://api.outx.ai"}, "'api_url' must be an http(s) URL"),
    ({"api_url": "api.outx.ai"}, "'api_url' must be an http(s) URL"),
    ({"api_url": "http://api.outx.ai"}, "'api_url' must use https"),
    ({"api_url": "http://10.0.0.5:8765"}, "'api_url' must use https"),
]


@pytest.mark.parametrize(("change", "message"), INVALID, ids=[m for _, m in INVALID])
def test_an_invalid_setting_is_one_line_and_no_request(tmp_path, change, message):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        config = {**tap_config(server.url), **change}
        if "api_url" not in change:
            config["api_url"] = server.url
        run = run_tap(config, tmp_path)

    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert [line for line in run.stderr.splitlines() if message in line] != []
    assert len([line for line in run.stderr.splitlines() if "'" in line and "ERROR" in line]) == 1
    assert server.received == [], "a request was made with an invalid config"
    assert API_KEY not in run.stderr
    if change.get("api_key") == 12345:
        assert "12345" not in run.stderr


def test_several_problems_are_each_named(tmp_path):
    config = tap_config("http://127.0.0.1:9", page_size=0, sort_type="X")
    run = run_tap(config, tmp_path)
    assert run.returncode == 1
    assert "'page_size'" in run.stderr
    assert "'sort_type'" in run.stderr


def test_loopback_http_and_https_urls_are_accepted(tmp_path):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        run = run_tap(tap_config(server.url.replace("127.0.0.1", "localhost")), tmp_path)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "missing.json"], "--config file not found: missing.json"),
        (["--config", "broken.json"], "--config file broken.json is not valid JSON"),
        (["--config", "list.json"], "--config file list.json must hold a JSON object"),
        (["--config", "ok.json", "--state", "broken.json"], "--state file broken.json"),
        (["--config", "inf.json"], "--config file inf.json is not valid JSON (Infinity is no"),
        (["--config", "nan.json"], "--config file nan.json is not valid JSON (NaN is no JSON"),
        (["--config", "ok.json", "--state", "nan.json"], "--state file nan.json is not valid"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path, args, message):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "inf.json").write_text(
        json.dumps(tap_config("http://127.0.0.1:9"))[:-1] + ', "task_timeout_seconds": Infinity}'
    )
    (tmp_path / "nan.json").write_text('{"page_size": NaN}')
    (tmp_path / "ok.json").write_text(json.dumps(tap_config("http://127.0.0.1:9")))
    done = subprocess.run(
        [sys.executable, "-m", "tap_linkedin_connections", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"tap-linkedin-connections: error: {message}")
    assert done.stderr.count("\n") == 1


def test_environment_settings_that_are_not_numbers_are_one_line(tmp_path):
    env = {
        **os.environ,
        "TAP_LINKEDIN_CONNECTIONS_API_KEY": API_KEY,
        "TAP_LINKEDIN_CONNECTIONS_PAGE_SIZE": "lots",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tap_linkedin_connections", "--config", "ENV"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "tap-linkedin-connections: error: TAP_LINKEDIN_CONNECTIONS_PAGE_SIZE must be a whole number"
    )


def test_discovery_needs_no_valid_config_and_makes_no_request(tmp_path):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        run = run_tap({"api_url": server.url}, tmp_path, extra_args=["--discover"])
    assert run.returncode == 0, run.stderr
    catalog = json.loads(run.stdout)
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    # In the order they sync: the events are found while the connections are read.
    assert list(streams) == ["connections", "profiles", "connection_events", "job_changes"]
    # The opt-in streams say so in the catalog: a catalog passed back as discovered
    # selects only the connections and their events.
    selected_by_default = {
        name: next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"].get(
            "selected-by-default"
        )
        for name, entry in streams.items()
    }
    assert selected_by_default == {
        "connections": True,
        "connection_events": True,
        "profiles": False,
        "job_changes": False,
    }
    assert server.received == []


def test_a_ledger_that_cannot_be_opened_is_one_line_before_any_task(tmp_path):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        ledger = "postgresql+psycopg://ops:hunter2@127.0.0.1:1/ledger"
        run = run_tap(tap_config(server.url, task_ledger=ledger), tmp_path)

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = [ln for ln in run.stderr.splitlines() if ln.startswith("tap-linkedin-connections:")]
    assert (
        "the task ledger postgresql+psycopg://ops:***@127.0.0.1:1/ledger cannot be opened" in line
    )
    # What to do about it, and what the way out costs.
    assert "check the path or URL, its permissions" in line
    assert "or set task_ledger to another file path, or to none (then pacing counts only" in line
    assert "hunter2" not in run.stderr + run.stdout
    assert server.requests("POST") == []


LEDGER_SETTINGS = [
    ("postgresql+psycopg://ops@db/ledger", None),
    ("sqlite:////var/lib/tap/ledger.sqlite", None),
    ("ledger.sqlite", None),
    ("/var/lib/tap/ledger.sqlite", None),
    ("./weekly:ledger.sqlite", None),
    ("C:/ledgers/ledger.sqlite", None),  # a Windows drive is a path
    ("none", None),
    ("", None),
    ("postgresql+psycopg:/ops@db/ledger", "starts like a URL ('postgresql+psycopg:')"),
    ("postgresql:ops@db/ledger", "starts like a URL ('postgresql:')"),
    ("sqlite:ledger.sqlite", "starts like a URL ('sqlite:')"),
    ("postgresql+psycopg://ops@db:port/ledger", "is not a readable SQLAlchemy URL"),
]


@pytest.mark.parametrize(
    ("setting", "problem"), LEDGER_SETTINGS, ids=[s for s, _ in LEDGER_SETTINGS]
)
def test_what_a_task_ledger_setting_may_be(setting, problem):
    found = ledger_setting_problem(setting)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_a_ledger_url_one_slash_short_is_refused_before_any_request(tmp_path):
    ledger = "postgresql+psycopg:/ops:hunter2@db.internal/ledger"
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        (tmp_path / "config.json").write_text(
            json.dumps(tap_config(server.url, task_ledger=ledger))
        )
        done = subprocess.run(
            [sys.executable, "-m", "tap_linkedin_connections", "--config", "config.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg-state")},
            check=False,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if "'task_ledger'" in ln]
    assert "'task_ledger' starts like a URL ('postgresql+psycopg:') but lacks the '//'" in line
    assert "hunter2" not in done.stderr
    assert server.received == []
    # No SQLite file at a path made of the URL.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_a_missing_postgres_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(LedgerError) as failed:
        TaskLedger("postgresql+psycopg://ops:hunter2@127.0.0.1:1/ledger", "account")
    message = str(failed.value)
    assert "cannot be opened: its driver is not installed" in message
    assert message.endswith("pip install 'tap-linkedin-connections[postgres]'")
    assert "hunter2" not in message


def test_a_stream_map_that_does_not_parse_is_one_line_and_no_request(tmp_path):
    maps = {"connections": {"headline": "headline.upper( +"}}
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        run = run_tap(tap_config(server.url, stream_maps=maps), tmp_path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1] == (
        "tap-linkedin-connections: error: 'stream_maps' cannot be used: Failed to parse "
        "expression headline.upper( +."
    )
    assert server.received == []


def test_number_settings_given_as_text_are_read_as_numbers(make_sandbox, tmp_path):
    """Meltano passes the number settings as text (they are kind: string there)."""
    sandbox = make_sandbox(connections=30)
    config = tap_config(
        sandbox.url, poll_interval_min_seconds="0.002", max_deleted_fraction="0.25", page_size=50
    )
    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 30


@pytest.mark.parametrize("key", [API_KEY[:10] + "\n" + API_KEY[10:], API_KEY + "ключ"])
def test_a_key_with_control_or_non_latin1_characters_is_refused(make_sandbox, tmp_path, key):
    sandbox = make_sandbox(connections=150, seed=71)
    run = run_tap({**tap_config(sandbox.url), "api_key": key}, tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    (line,) = problem_lines(run)
    assert "control character or a character outside Latin-1" in line
    assert sandbox.stats()["requests"]["create"] == 0
    for form in [*key_forms(key), API_KEY[:10], API_KEY[10:]]:
        assert form not in run.stdout + run.stderr


def test_bookmarks_that_are_not_an_object_are_one_error_line(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=73)
    run = run_tap(tap_config(sandbox.url), tmp_path, state={"bookmarks": []})

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"tap-linkedin-connections: error: --state file {tmp_path / 'state.json'}: "
        "'bookmarks' must be an object (see the README, State)"
    ]
    assert sandbox.stats()["requests"]["create"] == 0


def test_batch_config_is_refused_in_one_line(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=150, seed=89)
    batch = {"encoding": {"format": "jsonl"}, "storage": {"root": f"file://{tmp_path}"}}
    run = run_tap(tap_config(sandbox.url, batch_config=batch), tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    (line,) = problem_lines(run)
    assert "'batch_config' is not supported" in line
    assert sandbox.stats()["requests"]["create"] == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p / "Downloads" / "Connections.csv",
        lambda p: (p / "export").mkdir() or p / "export",
        lambda p: (p / "profile.json").write_text('{"connections": []}') and p / "profile.json",
        lambda p: (p / "old.zip").write_bytes(zip_bytes({"Profile.csv": "x"})) and p / "old.zip",
    ],
    ids=["missing", "folder", "not-csv", "zip-without-csv"],
)
def test_a_bad_export_is_one_line_before_any_request(tmp_path, make):
    path = make(tmp_path)
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        run = run_tap(tap_config(server.url, linkedin_export=str(path)), tmp_path)

    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    (line,) = [ln for ln in run.stderr.splitlines() if "linkedin_export" in ln]
    assert f"'linkedin_export': {path} " in line
    assert server.received == [], "a request was made with an unreadable export"


def test_a_bad_export_in_an_accounts_entry_names_the_entry(tmp_path):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", [])]) as server:
        entries = [
            {"name": "sales", "api_key": "k1", "api_url": server.url},
            {"name": "recruiting", "api_key": "k2", "linkedin_export": str(tmp_path / "nope.zip")},
        ]
        config = {**FAST_SETTINGS, "api_url": server.url, "accounts": entries}
        run = run_tap(config, tmp_path)

    assert run.returncode == 1
    (line,) = [ln for ln in run.stderr.splitlines() if "linkedin_export" in ln]
    assert f"accounts entry 2 ('recruiting'): 'linkedin_export': {tmp_path / 'nope.zip'}" in line
    assert "does not exist" in line
    assert server.received == []

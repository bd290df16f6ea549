"""Bad input: one clear line, a non-zero exit, no traceback, no request, no key echoed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import API_KEY, run_tap, tap_config
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
    ],
)
def test_unreadable_files_are_one_line(tmp_path, args, message):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
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
    (stream,) = catalog["streams"]
    assert stream["tap_stream_id"] == "connections"
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
    assert "hunter2" not in run.stderr + run.stdout
    assert server.requests("POST") == []


def test_number_settings_given_as_text_are_read_as_numbers(make_sandbox, tmp_path):
    """Meltano passes the number settings as text (they are kind: string there)."""
    sandbox = make_sandbox(connections=30)
    config = tap_config(
        sandbox.url, poll_interval_min_seconds="0.002", max_deleted_fraction="0.25", page_size=50
    )
    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 30

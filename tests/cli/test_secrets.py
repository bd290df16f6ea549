"""The team's API key never shows: not in logs at any level, errors, STATE or output."""

from __future__ import annotations

import logging

import pytest

from tap_linkedin_connections.redaction import SecretRedactor
from tap_linkedin_connections.sandbox.drill import HEAVY_FAULT_PROFILE, RESILIENT_SETTINGS
from tap_linkedin_connections.tap import TapLinkedInConnections
from tests.helpers import API_KEY, run_tap, tap_config
from tests.scripted_server import Answer, ScriptedServer, task_created, task_state

DEBUG = {"LOGLEVEL": "DEBUG"}


def assert_no_key(run, key: str = API_KEY) -> None:
    # stdout holds every RECORD and STATE message.
    assert key not in run.stdout
    assert key not in run.stderr


def test_a_sync_under_faults_at_debug_level(make_sandbox, tmp_path):
    sandbox = make_sandbox(connections=300, seed=5, faults=HEAVY_FAULT_PROFILE, hang_seconds=0.4)
    run = run_tap(tap_config(sandbox.url, **RESILIENT_SETTINGS), tmp_path, env=DEBUG, timeout=300)

    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr, "the run did not log at debug level"
    assert len(run.records) == 300
    assert_no_key(run)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(401, {"error": "Invalid API Key"}),
        Answer(403, {"error": "Plugin installation required"}),
        Answer(400, {"error": f"Invalid 'keyword': {API_KEY}"}),
        Answer(500, raw=f"<html>{API_KEY}</html>".encode()),
        Answer(200, raw=b"{broken"),
        Answer(307, headers={"Location": f"https://{API_KEY}.example/{API_KEY}?k={API_KEY}"}),
    ],
    ids=["401", "403", "400-echoing-the-key", "500-echoing-the-key", "garbled", "redirect"],
)
def test_failures_at_debug_level(tmp_path, answer):
    with ScriptedServer([answer], [task_state("t1", "completed", [])]) as server:
        run = run_tap(tap_config(server.url, max_request_attempts=2), tmp_path, env=DEBUG)
    assert run.returncode == 1
    assert_no_key(run)


def test_a_malformed_page_and_a_task_that_gives_up(tmp_path):
    creates = [task_created("t1"), task_created("t2")]
    polls = [task_state("t1", "failed"), task_state("t2", "completed", [{"name": API_KEY}])]
    with ScriptedServer(creates, polls) as server:
        run = run_tap(tap_config(server.url), tmp_path, env=DEBUG)
    assert run.returncode == 1
    assert "has no 'entity_urn'" in run.stderr
    assert_no_key(run)


@pytest.mark.parametrize(
    "change",
    [{"api_url": "http://example.com"}, {"page_size": API_KEY}, {"keyword": 5}, {"sort_type": 1}],
)
def test_invalid_configs_at_debug_level(tmp_path, change):
    run = run_tap({**tap_config("http://127.0.0.1:9"), **change}, tmp_path, env=DEBUG)
    assert run.returncode == 1
    assert_no_key(run)


def test_a_key_of_the_wrong_type_is_not_echoed(tmp_path):
    run = run_tap({**tap_config("http://127.0.0.1:9"), "api_key": 8675309}, tmp_path, env=DEBUG)
    assert run.returncode == 1
    assert "8675309" not in run.stderr


def test_about_and_discovery_at_debug_level(tmp_path):
    for args in (["--about"], ["--discover"], ["--about", "--format=json"]):
        run = run_tap(tap_config("http://127.0.0.1:9"), tmp_path, extra_args=args, env=DEBUG)
        assert run.returncode == 0, run.stderr
        assert_no_key(run)


def test_the_key_is_marked_secret_in_the_settings():
    prop = TapLinkedInConnections.config_jsonschema["properties"]["api_key"]
    assert prop["secret"] is True
    assert prop["writeOnly"] is True


def test_a_library_logging_the_key_is_redacted(caplog):
    logger = logging.getLogger("some.library")
    redactor = SecretRedactor(API_KEY)
    caplog.handler.addFilter(redactor)
    try:
        logger.warning("sending header x-api-key=%s", API_KEY)
        try:
            raise ValueError(API_KEY)
        except ValueError:
            logger.exception("failed")
    finally:
        caplog.handler.removeFilter(redactor)
    assert API_KEY not in caplog.text
    assert "x-api-key=[redacted]" in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        Answer(404, raw=f"<html>{API_KEY}</html>".encode()),
        Answer(404, {"error": f"No route for {API_KEY}"}),
        Answer(302, headers={"Location": f"https://{API_KEY}.example/"}),
    ],
    ids=["404-page-echoing-the-key", "404-json-echoing-the-key", "redirect-to-the-key"],
)
def test_a_connection_check_that_fails_at_debug_level(tmp_path, answer):
    with ScriptedServer([], [answer]) as server:
        run = run_tap(tap_config(server.url), tmp_path, extra_args=["--test"], env=DEBUG)
    assert run.returncode == 1
    assert_no_key(run)

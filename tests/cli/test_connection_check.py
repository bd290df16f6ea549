"""``--test`` checks the key and the extension without creating a task."""

from __future__ import annotations

import typing as t

import pytest

from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import API_KEY, run_tap, tap_config
from tests.scripted_server import Answer, ScriptedServer, task_created


def test_passes_against_the_sandbox_without_creating_a_task(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10)
    run = run_tap(tap_config(sandbox.url, max_tasks_in_flight=2), tmp_path, extra_args=["--test"])
    assert run.returncode == 0, run.stderr
    assert "connection test passed" in run.stderr
    assert "no task created" in run.stderr
    assert run.records == []
    assert sandbox.stats()["tasks_created"] == 0


def test_a_key_read_from_a_file_with_its_newline_passes(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10)
    run = run_tap(tap_config(sandbox.url, api_key=API_KEY + "\n"), tmp_path, extra_args=["--test"])
    assert run.returncode == 0, run.stderr
    assert sandbox.stats()["tasks_created"] == 0


def test_a_wrong_key_fails_in_one_line(make_sandbox: t.Callable[..., Sandbox], tmp_path) -> None:
    sandbox = make_sandbox(connections=10)
    config = tap_config(sandbox.url, api_key="not-" + API_KEY)
    run = run_tap(config, tmp_path, extra_args=["--test"])
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "rejected the API key (HTTP 401" in errors[0]
    assert "not-" + API_KEY not in run.stderr
    assert sandbox.stats()["tasks_created"] == 0


def test_an_inactive_extension_fails_in_one_line(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10, extension_active=False)
    run = run_tap(tap_config(sandbox.url), tmp_path, extra_args=["--test"])
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "HTTP 403" in errors[0]
    assert "extension" in errors[0]
    assert sandbox.stats()["tasks_created"] == 0


def test_test_schema_still_prints_the_schema_without_a_request(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10)
    run = run_tap(tap_config(sandbox.url), tmp_path, extra_args=["--test=schema"])
    assert run.returncode == 0, run.stderr
    assert [m["stream"] for m in run.of_type("SCHEMA")] == [
        "connections",
        "profiles",
        "job_changes",
    ]
    assert sum(sandbox.stats()["requests"].values()) == 0


def test_a_missing_key_fails_in_one_line_without_a_request(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10)
    config = tap_config(sandbox.url)
    del config["api_key"]
    run = run_tap(config, tmp_path, extra_args=["--test"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "'api_key'" in errors[0]
    assert sum(sandbox.stats()["requests"].values()) == 0


def _one_error(run) -> str:
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, run.stderr
    return errors[0]


def test_a_wrong_base_path_is_not_taken_for_outx(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    # The sandbox answers 404 {"error": "Not found"} off its routes, as a web server does.
    sandbox = make_sandbox(connections=10)
    run = run_tap(tap_config(sandbox.url + "/api/v1"), tmp_path, extra_args=["--test"])
    assert run.returncode == 1
    line = _one_error(run)
    assert f"{sandbox.url}/api/v1 does not answer like OutX" in line
    assert "it answered HTTP 404 'Not found' where OutX answers HTTP 404 'Agent task" in line
    assert "check the 'api_url' setting" in line
    assert "connection test passed" not in run.stderr
    assert sandbox.stats()["tasks_created"] == 0


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Answer(404, raw=b"<html><body>Not Found</body></html>"), "HTTP 404 with an HTML page"),
        (Answer(404, raw=b""), "HTTP 404 with an empty body"),
        (Answer(404, {"detail": "Not Found"}), "HTTP 404 where"),
        (Answer(200, raw=b"<html>Welcome</html>"), "HTTP 200 with an HTML page"),
        (Answer(200, {"ok": True}), "HTTP 200 where"),
    ],
    ids=["404-html", "404-empty", "404-other-json", "200-html", "200-json"],
)
def test_any_other_server_is_not_taken_for_outx(tmp_path, answer: Answer, said: str) -> None:
    if b"html" in (answer.raw or b""):
        answer = Answer(answer.status, raw=answer.raw, headers={"Content-Type": "text/html"})
    with ScriptedServer([task_created("t1")], [answer]) as server:
        run = run_tap(tap_config(server.url), tmp_path, extra_args=["--test"])
    assert run.returncode == 1
    line = _one_error(run)
    assert "does not answer like OutX" in line
    assert said in line
    assert server.requests("POST") == []
    assert API_KEY not in run.stderr


def test_only_outx_s_own_not_found_passes(tmp_path) -> None:
    with ScriptedServer([], [Answer(404, {"error": "Agent task not found"})]) as server:
        run = run_tap(tap_config(server.url), tmp_path, extra_args=["--test"])
    assert run.returncode == 0, run.stderr
    assert "connection test passed" in run.stderr

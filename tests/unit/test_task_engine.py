"""The task engine, answer by answer, against a scripted loopback server.

What the engine decides alone (re-submission, timeouts, poll timing) is tested in
process in test_engine.py; here is what needs HTTP and a whole run.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import API_KEY, run_tap_in_process, tap_config
from tests.scripted_server import Answer, ScriptedServer, task_created, task_state


def person(n: int, **overrides: object) -> dict:
    return {
        "name": f"Person {n}",
        "first_name": "Person",
        "last_name": str(n),
        "headline": "Engineer",
        "public_identifier": f"person-{n}",
        "entity_urn": f"urn:li:fsd_profile:P{n}",
        "profile_image_url": None,
        **overrides,
    }


PAGE = [person(1), person(2)]


def one_page_config(url: str, **overrides: object) -> dict:
    """Two connections on a page of three: one task is the whole list (then two more
    check it: one from its last row confirms the end, one re-reads the top)."""
    return tap_config(url, page_size=3, **overrides)


#: The offsets of the two tasks that check a pass of one short page (see above).
CHECKS = [1, 0]


def starts(server: ScriptedServer) -> list[int]:
    return [create.body["start"] for create in server.requests("POST")]


def assert_one_line_failure(run, *needles: str) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    (line,) = [ln for ln in run.stderr.splitlines() if ln.startswith("tap-linkedin-connections:")]
    for needle in needles:
        assert needle in line, line
    assert API_KEY not in run.stderr + run.stdout
    return line


def test_pending_processing_completed(tmp_path):
    polls = [
        task_state("t1", "pending"),
        task_state("t1", "processing"),
        task_state("t1", "completed", PAGE),
    ]
    with ScriptedServer([task_created("t1")], polls) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert run.returncode == 0, run.stderr
    assert [r["entity_urn"] for r in run.records] == [
        "urn:li:fsd_profile:P1",
        "urn:li:fsd_profile:P2",
    ]
    create, *_ = server.requests("POST")
    assert create.path == "/linkedin-agent/fetch-connections"
    assert create.body == {"sort_type": "RECENTLY_ADDED", "start": 0, "count": 3}
    assert create.headers["x-api-key"] == API_KEY
    assert starts(server) == [0, *CHECKS]
    gets = server.requests("GET")
    assert len(gets) == 3 + len(CHECKS)
    assert {g.query["api_agent_task_id"][0] for g in gets} == {"t1"}


@pytest.mark.parametrize(
    "output",
    [PAGE, {"connections": PAGE, "total": 2}],
    ids=["list", "object"],
)
def test_both_result_shapes(tmp_path, output):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", output)]) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert run.returncode == 0, run.stderr
    assert [r["name"] for r in run.records] == ["Person 1", "Person 2"]


def test_a_task_failing_every_attempt_names_offset_attempts_and_ids(tmp_path):
    creates = [task_created("t1"), task_created("t2"), task_created("t3")]
    with ScriptedServer(creates, [task_state("tX", "failed")]) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert_one_line_failure(run, "offset 0", "failed", "3 attempts", "t1, t2, t3")
    assert len(server.requests("POST")) == 3


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("a page", "is a str, not a list of connections"),
        ({"people": PAGE}, "object without a list of connections"),
        ([person(1), person(2, entity_urn=None)], "connection #2 of the page at offset 0"),
        ([person(1), "x"], "connection #2 of the page at offset 0"),
        ([person(1, headline=42)], "has a int in 'headline'"),
    ],
    ids=["string", "object-without-list", "no-urn", "not-an-object", "not-text"],
)
def test_a_malformed_page_is_a_clear_error_not_a_short_list(tmp_path, output, needle):
    with ScriptedServer([task_created("t1")], [task_state("t1", "completed", output)]) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert_one_line_failure(run, needle)
    # Nothing from a malformed page is emitted.
    assert run.records == []


def test_retry_after_is_honoured(tmp_path):
    throttled = Answer(
        429, {"error": "Rate limit exceeded. Please try again later."}, {"Retry-After": "0.4"}
    )
    creates = [throttled, task_created("t1")]
    with ScriptedServer(creates, [task_state("t1", "completed", PAGE)]) as server:
        run = run_tap_in_process(
            one_page_config(server.url, retry_initial_wait_seconds=0.001), tmp_path
        )

    assert run.returncode == 0, run.stderr
    first, second, *_ = server.requests("POST")
    assert starts(server) == [0, 0, *CHECKS]
    # The retry waited as long as the server asked, not the tiny configured backoff.
    assert second.at - first.at >= 0.4
    assert "HTTP 429" in run.stderr
    assert len(run.records) == 2


@pytest.mark.parametrize(
    ("answer", "needles"),
    [
        (Answer(401, {"error": "Invalid API Key"}), ("API key", "'api_key'", "401")),
        (
            Answer(403, {"error": "Plugin installation required: install the extension"}),
            ("403", "Chrome extension", "48 hours"),
        ),
        (
            Answer(400, {"error": "Invalid 'keyword': must be a string"}),
            ("400", "Invalid 'keyword'", "'keyword' setting"),
        ),
    ],
    ids=["401", "403", "400"],
)
def test_fatal_answers_are_explained_in_one_line(tmp_path, answer, needles):
    with ScriptedServer([answer], [task_state("t1", "completed", PAGE)]) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert_one_line_failure(run, *needles)
    # A fatal answer is not retried.
    assert len(server.requests("POST")) == 1
    assert server.requests("GET") == []


def test_a_cut_short_create_answer_that_still_holds_the_task_id_is_not_sent_again(tmp_path):
    task_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    whole = json.dumps({"success": True, "api_agent_task_id": task_id, "message": "created"})
    cut_short = Answer(200, raw=whole[: whole.index(task_id) + len(task_id) + 1].encode())
    with ScriptedServer([cut_short], [task_state(task_id, "completed", PAGE)]) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert run.returncode == 0, run.stderr
    assert starts(server) == [0, *CHECKS]
    assert server.requests("GET")[0].query["api_agent_task_id"] == [task_id]
    assert len(run.records) == 2


def test_a_garbled_create_answer_without_the_id_is_sent_again(tmp_path):
    creates = [Answer(200, raw=b'{"success": true, "api_ag'), task_created("t2")]
    with ScriptedServer(creates, [task_state("t2", "completed", PAGE)]) as server:
        run = run_tap_in_process(one_page_config(server.url), tmp_path)

    assert run.returncode == 0, run.stderr
    assert starts(server) == [0, 0, *CHECKS]
    assert "one LinkedIn action may repeat" in run.stderr


def test_a_pending_task_is_never_created_again_and_the_run_ends_cleanly(tmp_path):
    """Chrome asleep: the task waits in OutX's queue; a copy would only wait beside it."""
    creates = [task_created("queued"), task_created("copy")]
    with ScriptedServer(creates, [task_state("queued", "pending")] * 500) as server:
        run = run_tap_in_process(
            one_page_config(
                server.url,
                task_timeout_seconds=0.1,
                pickup_timeout_seconds=0.6,
                poll_interval_max_seconds=0.02,
            ),
            tmp_path,
        )

    assert run.returncode == 0, run.stderr
    assert len(server.requests("POST")) == 1
    assert "the extension has not picked up a task for 1 seconds" in run.stderr or (
        "the extension has not picked up a task for 0 seconds" in run.stderr
    )
    assert "is Chrome open on the team's oldest admin's account?" in run.stderr
    assert "Traceback" not in run.stderr
    # The task is kept for the next run, which polls it instead of creating another.
    (entry,) = run.last_state["bookmarks"]["connections"]["pass"]["tasks"]
    assert entry["id"] == "queued"

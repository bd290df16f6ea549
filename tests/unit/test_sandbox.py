"""The local OutX sandbox, exercised over real HTTP."""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tap_linkedin_connections.sandbox import (
    DEFAULT_API_KEY,
    DOCUMENTED_FIELDS,
    EXTRA_FIELD,
    FAULT_KINDS,
    Sandbox,
)

CREATE = "/linkedin-agent/fetch-connections"
POLL = "/linkedin-agent/get-task-status"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(connections=1234, seed=7) as started:
        yield started


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        opened.headers["x-api-key"] = DEFAULT_API_KEY
        yield opened


def create(session: requests.Session, sandbox: Sandbox, **body: Any) -> str:
    answer = session.post(sandbox.url + CREATE, json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Fetch connections task created successfully"
    task_id: str = answer.json()["api_agent_task_id"]
    return task_id


def poll(session: requests.Session, sandbox: Sandbox, task_id: str) -> requests.Response:
    return session.get(sandbox.url + POLL, params={"api_agent_task_id": task_id}, timeout=5)


def wait_done(session: requests.Session, sandbox: Sandbox, task_id: str) -> dict[str, Any]:
    """The task's data once it is completed or failed."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data: dict[str, Any] = poll(session, sandbox, task_id).json()["data"]
        if data["status"] in ("completed", "failed"):
            return data
        time.sleep(0.002)
    raise AssertionError(f"task {task_id} did not finish")


def fetch_page(session: requests.Session, sandbox: Sandbox, **body: Any) -> Any:
    return wait_done(session, sandbox, create(session, sandbox, **body))["task_output"]


# -- the API -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "error"), [({}, "Missing API Key"), ({"x-api-key": "nope"}, "Invalid API Key")]
)
def test_api_key_is_required(sandbox: Sandbox, headers: dict[str, str], error: str) -> None:
    with requests.Session() as anonymous:
        for answer in (
            anonymous.post(sandbox.url + CREATE, json={}, headers=headers, timeout=5),
            anonymous.get(
                sandbox.url + POLL, params={"api_agent_task_id": "x"}, headers=headers, timeout=5
            ),
            anonymous.get(sandbox.url + "/_sandbox/stats", headers=headers, timeout=5),
        ):
            assert (answer.status_code, answer.json()) == (401, {"error": error})
    assert sandbox.stats()["tasks_created"] == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"keyword": 5}, "Invalid 'keyword': must be a string"),
        ({"keyword": None}, "Invalid 'keyword': must be a string"),
        ({"sort_type": ["RECENTLY_ADDED"]}, "Invalid 'sort_type': must be a string"),
        ({"start": -1}, "Invalid 'start'"),
        ({"start": "0"}, "Invalid 'start'"),
        ({"start": 1.5}, "Invalid 'start'"),
        ({"start": True}, "Invalid 'start'"),
        ({"count": 0}, "Invalid 'count': must be a number between 1 and 100"),
        ({"count": 101}, "Invalid 'count': must be a number between 1 and 100"),
        ({"count": "40"}, "Invalid 'count': must be a number between 1 and 100"),
        ([1, 2], "Invalid request body"),
    ],
)
def test_bad_fields_answer_400(
    sandbox: Sandbox, session: requests.Session, body: Any, error: str
) -> None:
    answer = session.post(sandbox.url + CREATE, json=body, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)
    assert sandbox.stats()["tasks_created"] == 0


def test_body_that_is_not_json_answers_400(sandbox: Sandbox, session: requests.Session) -> None:
    answer = session.post(sandbox.url + CREATE, data=b"{nope", timeout=5)
    assert answer.status_code == 400


def test_empty_body_fetches_first_page_with_defaults(
    sandbox: Sandbox, session: requests.Session
) -> None:
    answer = session.post(sandbox.url + CREATE, timeout=5)
    data = wait_done(session, sandbox, answer.json()["api_agent_task_id"])
    assert data["task_input"] == {"start": 0, "count": 40}
    assert data["task_output"]["connections"] == sandbox.connections(sort_type=None)[:40]
    assert data["task_output"]["total"] == 40


def test_wrong_method_and_unknown_paths(sandbox: Sandbox, session: requests.Session) -> None:
    for answer in (
        session.get(sandbox.url + CREATE, timeout=5),
        session.post(sandbox.url + POLL, json={}, timeout=5),
        session.delete(sandbox.url + CREATE, timeout=5),
    ):
        assert (answer.status_code, answer.json()) == (405, {"error": "Method Not Allowed"})
    answer = session.get(sandbox.url + "/linkedin-agent/nothing-here", timeout=5)
    assert (answer.status_code, answer.json()) == (404, {"error": "Not found"})


def test_poll_without_id_or_with_unknown_id(sandbox: Sandbox, session: requests.Session) -> None:
    answer = session.get(sandbox.url + POLL, timeout=5)
    assert answer.status_code == 400
    assert answer.json() == {"error": "Missing or invalid 'api_agent_task_id'"}
    answer = poll(session, sandbox, "00000000-0000-4000-8000-000000000000")
    assert (answer.status_code, answer.json()) == (404, {"error": "Agent task not found"})


def test_task_goes_pending_processing_completed(session: requests.Session) -> None:
    with Sandbox(connections=300, pickup_delay=0.08, work_time=0.08) as sandbox:
        task_id = create(session, sandbox, sort_type="RECENTLY_ADDED", start=10, count=5)
        seen: list[str] = []
        while not seen or seen[-1] != "completed":
            answer = poll(session, sandbox, task_id).json()
            assert answer["success"] is True
            data = answer["data"]
            if not seen or seen[-1] != data["status"]:
                seen.append(data["status"])
            if data["status"] != "completed":
                assert data["task_output"] is None
            time.sleep(0.005)
        assert seen == ["pending", "processing", "completed"]
        assert data["id"] == task_id
        assert data["task_input"] == {"sort_type": "RECENTLY_ADDED", "start": 10, "count": 5}
        [record] = sandbox.stats()["tasks"]
        assert record["polls"] >= 3
        assert record["picked_up_at"] - record["created_at"] == pytest.approx(0.08, abs=0.03)
        assert record["work_time"] == pytest.approx(0.08, abs=0.03)


@pytest.mark.parametrize("sort_type", ["RECENTLY_ADDED", None, "SOMETHING_ELSE"])
@pytest.mark.parametrize("keyword", [None, "smith", "É"])
def test_pages_follow_order_and_keyword(
    sandbox: Sandbox, session: requests.Session, sort_type: str | None, keyword: str | None
) -> None:
    body: dict[str, Any] = {"start": 3, "count": 7}
    if sort_type is not None:
        body["sort_type"] = sort_type
    if keyword is not None:
        body["keyword"] = keyword
    expected = sandbox.connections(sort_type=sort_type, keyword=keyword)
    assert expected, "the keyword should match someone"
    if keyword is not None:
        assert all(keyword.casefold() in c["name"].casefold() for c in expected)
    output = fetch_page(session, sandbox, **body)
    assert output == {"connections": expected[3:10], "total": len(expected[3:10])}


def test_default_order_is_not_the_connected_order(sandbox: Sandbox) -> None:
    newest_first = sandbox.connections(sort_type="RECENTLY_ADDED")
    relevance = sandbox.connections(sort_type=None)
    assert relevance != newest_first
    assert sorted(c["entity_urn"] for c in relevance) == sorted(
        c["entity_urn"] for c in newest_first
    )
    assert [c[EXTRA_FIELD] for c in newest_first] == sorted(
        (c[EXTRA_FIELD] for c in newest_first), reverse=True
    )


def test_list_result_shape(sandbox: Sandbox, session: requests.Session) -> None:
    sandbox.configure(result_shape="list")
    output = fetch_page(session, sandbox, sort_type="RECENTLY_ADDED", count=3)
    assert output == sandbox.connections()[:3]


def test_end_of_list_gives_short_then_empty_page(
    sandbox: Sandbox, session: requests.Session
) -> None:
    output = fetch_page(session, sandbox, sort_type="RECENTLY_ADDED", start=1200, count=100)
    assert output["total"] == len(output["connections"]) == 34
    assert output["connections"] == sandbox.connections()[1200:]
    output = fetch_page(session, sandbox, start=1234, count=100)
    assert output == {"connections": [], "total": 0}


def test_adding_and_removing_shift_the_list(sandbox: Sandbox, session: requests.Session) -> None:
    before = sandbox.connections()
    added = sandbox.add_connections(3)
    assert sandbox.connections()[:3] == added
    assert sandbox.connections()[3:] == before
    assert fetch_page(session, sandbox, sort_type="RECENTLY_ADDED", count=3)["connections"] == added

    removed = sandbox.remove_connections(positions=[0, 5])
    assert removed == [added[0], before[2]]
    removed += sandbox.remove_connections(entity_urns=[before[10]["entity_urn"], "urn:li:x"])
    assert len(removed) == 3
    remaining_urns = {c["entity_urn"] for c in sandbox.connections()}
    assert len(remaining_urns) == 1234 + 3 - 3
    assert not remaining_urns & {c["entity_urn"] for c in removed}

    # New identities never reuse those of current or removed connections.
    fresh = sandbox.add_connections(5)
    all_urns = remaining_urns | {c["entity_urn"] for c in removed + before}
    assert not {c["entity_urn"] for c in fresh} & all_urns
    assert len({c["public_identifier"] for c in sandbox.connections()}) == 1234 + 5
    with pytest.raises(ValueError, match="position"):
        sandbox.remove_connections(positions=[5000])


def test_page_is_read_when_the_task_completes(session: requests.Session) -> None:
    with Sandbox(connections=100, pickup_delay=0.1, work_time=0.0) as sandbox:
        task_id = create(session, sandbox, sort_type="RECENTLY_ADDED", count=2)
        [newest] = sandbox.add_connections(1)
        output = wait_done(session, sandbox, task_id)["task_output"]
        assert output["connections"][0] == newest


def test_same_seed_same_connections() -> None:
    first = Sandbox(connections=500, seed=11)
    second = Sandbox(connections=500, seed=11)
    assert first.connections() == second.connections()
    assert first.connections(sort_type=None) == second.connections(sort_type=None)
    assert first.add_connections(4) == second.add_connections(4)
    assert Sandbox(connections=500, seed=12).connections() != first.connections()


def test_connections_are_varied(sandbox: Sandbox) -> None:
    connections = sandbox.connections()
    assert len(connections) == 1234
    for connection in connections:
        assert set(connection) == {*DOCUMENTED_FIELDS, EXTRA_FIELD}
        assert connection["name"] == f"{connection['first_name']} {connection['last_name']}"
        assert connection["entity_urn"].startswith("urn:li:fsd_profile:ACoAA")
    assert len({c["entity_urn"] for c in connections}) == 1234
    names = " ".join(c["name"] for c in connections)
    assert any(letter in names for letter in "ëéñüåø")  # accented
    assert any("\u4e00" <= letter <= "\u9fff" for letter in names)  # CJK
    assert any("\u0600" <= letter <= "\u06ff" for letter in names)  # Arabic
    headlines = [c["headline"] for c in connections]
    assert "" in headlines
    assert any(len(headline) > 1000 for headline in headlines)
    pictures = [c["profile_image_url"] for c in connections]
    assert 0.1 < pictures.count(None) / len(pictures) < 0.3
    assert all(p is None or p.startswith("https://") for p in pictures)
    # Even a tiny account shows every edge case.
    tiny = Sandbox(connections=6).connections()
    assert "" in [c["headline"] for c in tiny]
    assert None in [c["profile_image_url"] for c in tiny]


# -- the simulated extension ------------------------------------------------------------


def test_extension_runs_tasks_in_order_with_precise_timing(session: requests.Session) -> None:
    with Sandbox(connections=2000, pickup_delay=0.002, work_time=0.005) as sandbox:
        task_ids = [create(session, sandbox, start=100 * i, count=100) for i in range(12)]
        wait_done(session, sandbox, task_ids[-1])
        stats = sandbox.stats()
    tasks = stats["tasks"]
    assert [t["id"] for t in tasks] == task_ids
    assert stats["tasks_by_status"]["completed"] == 12
    assert 0.002 <= stats["first_pickup_at"] < 0.03
    for earlier, later in itertools.pairwise(tasks):
        # Each next task was waiting, so it starts right when the previous one ends.
        assert later["picked_up_at"] >= earlier["completed_at"]
        assert later["picked_up_at"] - earlier["completed_at"] < 0.03
    assert all(0.005 <= t["work_time"] < 0.04 for t in tasks)
    assert stats["sum_work_time"] == pytest.approx(sum(t["work_time"] for t in tasks))
    assert stats["polls_total"] == sum(t["polls"] for t in tasks)
    assert all(abs(t["created_wall"] - time.time()) < 10 for t in tasks)


def test_work_time_jitter(session: requests.Session) -> None:
    with Sandbox(connections=50, work_time=0.01, work_time_jitter=0.5) as sandbox:
        task_ids = [create(session, sandbox) for _ in range(8)]
        wait_done(session, sandbox, task_ids[-1])
        work_times = [task["work_time"] for task in sandbox.stats()["tasks"]]
    assert all(0.005 <= work_time < 0.03 for work_time in work_times)
    assert max(work_times) - min(work_times) > 0.002


def test_inactive_extension_refuses_tasks_and_runs_none(
    sandbox: Sandbox, session: requests.Session
) -> None:
    sandbox.configure(pickup_delay=0.05)
    task_id = create(session, sandbox)
    sandbox.configure(extension_active=False)
    answer = session.post(sandbox.url + CREATE, json={}, timeout=5)
    assert answer.status_code == 403
    assert answer.json()["error"].startswith("Plugin installation required")
    time.sleep(0.1)
    assert poll(session, sandbox, task_id).json()["data"]["status"] == "pending"
    sandbox.configure(extension_active=True)
    assert wait_done(session, sandbox, task_id)["status"] == "completed"
    assert sandbox.stats()["tasks_created"] == 1


def test_forgotten_task_answers_404(sandbox: Sandbox, session: requests.Session) -> None:
    task_id = create(session, sandbox)
    wait_done(session, sandbox, task_id)
    assert sandbox.forget([task_id, "unknown"]) == [task_id]
    answer = poll(session, sandbox, task_id)
    assert (answer.status_code, answer.json()) == (404, {"error": "Agent task not found"})


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["create", "poll"])
@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("http_429", 429, "application/json"),
        ("http_500", 500, "application/json"),
        ("http_502_html", 502, "text/html"),
        ("http_503_empty", 503, None),
        ("http_504", 504, "text/html"),
        ("malformed_json", 200, "application/json"),
        ("truncated_json", 200, "application/json"),
    ],
)
def test_answer_faults(
    sandbox: Sandbox,
    session: requests.Session,
    endpoint: str,
    kind: str,
    status: int,
    content_type: str | None,
) -> None:
    task_id = create(session, sandbox) if endpoint == "poll" else None
    sandbox.configure(faults={kind: 1.0}, fault_endpoints=[endpoint])
    if endpoint == "create":
        answer = session.post(sandbox.url + CREATE, json={}, timeout=5)
    else:
        answer = poll(session, sandbox, str(task_id))
    assert answer.status_code == status
    if content_type is not None:
        assert answer.headers["Content-Type"].startswith(content_type)
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    if kind == "http_429":
        assert answer.headers["Retry-After"] == "0.01"
        assert answer.json() == {"error": "Rate limit exceeded. Please try again later."}
    elif kind == "http_500":
        assert "error" in answer.json()
    elif kind == "http_503_empty":
        assert answer.content == b""
    elif kind in ("http_502_html", "http_504"):
        assert answer.text.startswith("<html>")
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.content)
    stats = sandbox.stats()
    assert stats["faults_injected"] == {k: int(k == kind) for k in FAULT_KINDS}
    assert stats["requests"][endpoint] == 1
    # Answer faults before the handling create no task; garbled answers came after it.
    assert stats["tasks_created"] == (endpoint == "poll" or kind.endswith("json"))


def test_connection_reset(sandbox: Sandbox, session: requests.Session) -> None:
    sandbox.configure(faults={"connection_reset": 1.0})
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            session.post(sandbox.url + CREATE, json={}, timeout=5)
    assert sandbox.stats()["faults_injected"]["connection_reset"] == 3
    sandbox.configure(faults={})
    create(session, sandbox)  # the server survived


def test_read_timeout(session: requests.Session) -> None:
    with Sandbox(connections=50, faults={"read_timeout": 1.0}, hang_seconds=0.3) as sandbox:
        with pytest.raises(requests.ReadTimeout):
            session.post(sandbox.url + CREATE, json={}, timeout=0.05)
        sandbox.configure(faults={})
        create(session, sandbox)
        time.sleep(0.3)  # the hung request is answered late, into a closed connection
        stats = sandbox.stats()
        assert stats["faults_injected"]["read_timeout"] == 1
        # Like a real server, it created the task even though nobody heard the answer.
        assert stats["tasks_created"] == 2


def test_create_lost_still_creates_the_task(sandbox: Sandbox, session: requests.Session) -> None:
    sandbox.configure(faults={"create_lost": 1.0})
    outcomes: set[int | str] = set()
    for _ in range(6):
        try:
            outcomes.add(session.post(sandbox.url + CREATE, json={}, timeout=5).status_code)
        except requests.ConnectionError:
            outcomes.add("reset")
    assert outcomes <= {502, "reset"}
    stats = sandbox.stats()
    assert stats["faults_injected"]["create_lost"] == stats["tasks_created"] == 6
    assert all("create_lost" in task["faults"] for task in stats["tasks"])
    wait_done(session, sandbox, stats["tasks"][-1]["id"])
    assert sandbox.stats()["tasks_by_status"]["completed"] == 6


def test_task_fail_stuck_and_slow(session: requests.Session) -> None:
    with Sandbox(connections=50, work_time=0.01, slow_factor=4.0) as sandbox:
        sandbox.configure(faults={"task_stuck_pending": 1.0})
        stuck = create(session, sandbox)
        sandbox.configure(faults={"task_fail": 1.0})
        failed = create(session, sandbox)
        sandbox.configure(faults={"task_slow": 1.0})
        slow = create(session, sandbox)
        sandbox.configure(faults={})
        normal = create(session, sandbox)

        data = wait_done(session, sandbox, failed)
        assert (data["status"], data["task_output"]) == ("failed", None)
        assert wait_done(session, sandbox, slow)["status"] == "completed"
        assert wait_done(session, sandbox, normal)["status"] == "completed"
        time.sleep(0.02)
        data = poll(session, sandbox, stuck).json()["data"]
        assert (data["status"], data["task_output"]) == ("pending", None)

        stats = sandbox.stats()
        records = {task["id"]: task for task in stats["tasks"]}
        assert records[slow]["work_time"] == pytest.approx(0.04, abs=0.02)
        assert records[normal]["work_time"] == pytest.approx(0.01, abs=0.01)
        assert stats["tasks_by_status"] == {
            "pending": 1,
            "processing": 0,
            "completed": 2,
            "failed": 1,
        }
        for kind in ("task_stuck_pending", "task_fail", "task_slow"):
            assert stats["faults_injected"][kind] == 1
        assert stats["sum_work_time"] < stats["busy_time"]


def test_faults_are_reproducible_per_seed(session: requests.Session) -> None:
    def statuses(seed: int) -> list[int]:
        with Sandbox(connections=10, seed=seed, faults={"http_500": 0.5}) as sandbox:
            return [
                session.post(sandbox.url + CREATE, json={}, timeout=5).status_code
                for _ in range(30)
            ]

    assert statuses(3) == statuses(3)
    assert set(statuses(3)) == {200, 500}
    assert statuses(3) != statuses(4)


def test_faults_limited_to_polls_via_profile(sandbox: Sandbox, session: requests.Session) -> None:
    sandbox.configure(faults={"http_500": 1.0, "endpoints": ["poll"]})
    task_id = create(session, sandbox)
    assert poll(session, sandbox, task_id).status_code == 500
    assert sandbox.settings()["fault_endpoints"] == ["poll"]


# -- control API ----------------------------------------------------------------------------


def test_http_control_api(sandbox: Sandbox, session: requests.Session) -> None:
    control = sandbox.url + "/_sandbox"
    listed = session.get(
        control + "/connections", params={"sort_type": "RECENTLY_ADDED", "keyword": "a"}, timeout=5
    ).json()
    assert listed["connections"] == sandbox.connections(keyword="a")
    added = session.post(control + "/connections/add", json={"count": 2}, timeout=5).json()
    assert added["connections"] == sandbox.connections()[:2]
    removed = session.post(control + "/connections/remove", json={"positions": [0]}, timeout=5)
    assert removed.json()["connections"] == added["connections"][:1]
    urn = sandbox.connections()[0]["entity_urn"]
    removed = session.post(control + "/connections/remove", json={"entity_urns": [urn]}, timeout=5)
    assert removed.json()["total"] == 1

    answer = session.post(
        control + "/configure",
        json={"work_time": 0.001, "faults": {"http_500": 0.25}, "seed": 5},
        timeout=5,
    )
    assert answer.json()["settings"]["faults"] == {"http_500": 0.25}
    for bad in ({"no_such": 1}, {"faults": {"bogus": 1}}, {"pickup_delay": -1}):
        assert session.post(control + "/configure", json=bad, timeout=5).status_code == 400
    session.post(control + "/configure", json={"faults": {}}, timeout=5)

    task_id = create(session, sandbox)
    answer = session.post(control + "/forget", json={"task_ids": [task_id]}, timeout=5)
    assert answer.json()["forgotten"] == [task_id]
    assert poll(session, sandbox, task_id).status_code == 404

    stats = session.get(control + "/stats", timeout=5).json()
    assert stats["tasks_created"] == 1
    assert stats["requests"]["create"] == 1
    assert stats["connections"] == 1234
    session.post(control + "/reset-stats", timeout=5)
    stats = session.get(control + "/stats", timeout=5).json()
    assert (stats["tasks_created"], stats["polls_total"], stats["first_pickup_at"]) == (0, 0, None)


# -- set-up and command line ----------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        Sandbox(connections=1, host=host)


def test_stop_does_not_wait_for_kept_alive_clients(session: requests.Session) -> None:
    sandbox = Sandbox(connections=10).start()
    create(session, sandbox)  # leaves a kept-alive connection open
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_command_line(stop_signal: signal.Signals) -> None:
    command = [
        sys.executable,
        "-m",
        "tap_linkedin_connections.sandbox",
        "--port",
        "0",
        "--connections",
        "50",
        "--work-time",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 10)
        assert ready, "the sandbox printed nothing"
        line = process.stdout.readline()
        assert line.startswith("OutX sandbox listening on http://127.0.0.1:")
        assert line.endswith('(50 connections, api key "sandbox-api-key")\n')
        url = line.split()[4]
        with requests.Session() as client:
            answer = client.get(url + "/_sandbox/stats", headers={"x-api-key": DEFAULT_API_KEY})
            assert answer.json()["connections"] == 50
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0


def test_a_removed_connection_connects_again_as_itself_on_top(
    sandbox: Sandbox, session: requests.Session
) -> None:
    control = sandbox.url + "/_sandbox/connections/reconnect"
    before = sandbox.connections()
    gone, kept = before[40], before[7]
    sandbox.remove_connections(entity_urns=[gone["entity_urn"]])
    answer = session.post(
        control, json={"entity_urns": [gone["entity_urn"], kept["entity_urn"]]}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    now = sandbox.connections()
    # In the order given, each the newest: the one still connected is on top.
    assert [c["entity_urn"] for c in now[:2]] == [kept["entity_urn"], gone["entity_urn"]]
    assert len(now) == len(before)
    for connection, earlier in ((now[1], gone), (now[0], kept)):
        same = {k: v for k, v in connection.items() if k != "connected_at"}
        assert same == {k: v for k, v in earlier.items() if k != "connected_at"}
        assert connection["connected_at"] > before[0]["connected_at"]  # connected again now
    assert (
        session.post(control, json={"entity_urns": ["urn:li:none"]}, timeout=5).status_code == 400
    )
    assert session.post(control, json={"entity_urns": "x"}, timeout=5).status_code == 400


def test_a_scheduled_reconnection(session: requests.Session) -> None:
    with Sandbox(connections=10) as sandbox:
        before = [c["entity_urn"] for c in sandbox.connections()]
        sandbox.schedule_change(1, remove_positions=[0], reconnect=[before[5]])
        create(session, sandbox, sort_type="RECENTLY_ADDED", count=10)
        assert [c["entity_urn"] for c in sandbox.connections()] == [
            before[5],
            *(u for u in before[1:] if u != before[5]),
        ]


def test_a_scheduled_change_lands_when_its_task_is_created(session: requests.Session) -> None:
    with Sandbox(connections=10, pickup_delay=0.1) as sandbox:
        before = [c["entity_urn"] for c in sandbox.connections()]
        sandbox.schedule_change(2, remove_positions=[0, 1, 99], add=1)
        first = create(session, sandbox, sort_type="RECENTLY_ADDED", count=10)
        assert [c["entity_urn"] for c in sandbox.connections()] == before
        create(session, sandbox, sort_type="RECENTLY_ADDED", count=10)
        after = [c["entity_urn"] for c in sandbox.connections()]
        # Two removed (position 99 does not exist), one added on top.
        assert after[1:] == before[2:]
        assert after[0] not in before
        # A task created before the change reads the list as it is when it completes.
        output = wait_done(session, sandbox, first)["task_output"]
        assert [c["entity_urn"] for c in output["connections"]] == after
        with pytest.raises(ValueError, match="after_tasks"):
            sandbox.schedule_change(0)


def test_a_reconnected_contact_moves_to_the_top_with_its_identity() -> None:
    with Sandbox(connections=10, seed=3) as sandbox:
        before = [c["entity_urn"] for c in sandbox.connections()]
        moved = sandbox.reconnect_connections([7, 8])
        after = [c["entity_urn"] for c in sandbox.connections()]
        # 8 re-connected last: it is the newest now.
        assert [c["entity_urn"] for c in moved] == [before[8], before[7]]
        assert after == [before[8], before[7], *before[:7], before[9]]
        with pytest.raises(ValueError, match="no connection at position 10"):
            sandbox.reconnect_connections([10])


def test_a_scheduled_reconnection_and_removal_use_the_list_before_the_change(
    session: requests.Session,
) -> None:
    with Sandbox(connections=10, pickup_delay=0.1) as sandbox:
        before = [c["entity_urn"] for c in sandbox.connections()]
        sandbox.schedule_change(1, reconnect_positions=[5], remove_positions=[0])
        create(session, sandbox, sort_type="RECENTLY_ADDED", count=10)
        after = [c["entity_urn"] for c in sandbox.connections()]
        assert after == [before[5], *before[1:5], *before[6:]]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("drop_row", lambda page: page[:5] + page[6:]),
        ("duplicate_row", lambda page: [*page[:5], page[4], *page[6:]]),
    ],
)
def test_a_spoilt_page_at_one_offset(session: requests.Session, kind: str, expected: Any) -> None:
    with Sandbox(connections=30, seed=5) as sandbox:
        listing = [c["entity_urn"] for c in sandbox.connections()]
        sandbox.spoil_page(10, kind, times=1)

        def page(start: int) -> list[str]:
            output = fetch_page(session, sandbox, sort_type="RECENTLY_ADDED", start=start, count=10)
            return [c["entity_urn"] for c in output["connections"]]

        assert page(0) == listing[:10]  # other offsets are untouched
        assert page(10) == expected(listing[10:20])
        assert page(10) == listing[10:20]  # once only
        sandbox.spoil_page(10, kind, times=None)
        assert page(10) == page(10) == expected(listing[10:20])
        with pytest.raises(ValueError, match="unknown page spoiler"):
            sandbox.spoil_page(10, "shuffle")


def test_reconnect_and_spoil_over_http(sandbox: Sandbox, session: requests.Session) -> None:
    before = [c["entity_urn"] for c in sandbox.connections()]
    answer = session.post(
        sandbox.url + "/_sandbox/connections/reconnect", json={"positions": [3]}, timeout=5
    )
    assert answer.json()["connections"][0]["entity_urn"] == before[3]
    answer = session.post(
        sandbox.url + "/_sandbox/spoil-page", json={"start": 0, "kind": "drop_row"}, timeout=5
    )
    assert answer.json() == {"success": True}
    output = fetch_page(session, sandbox, sort_type="RECENTLY_ADDED", start=0, count=10)
    assert len(output["connections"]) == 9
    answer = session.post(
        sandbox.url + "/_sandbox/spoil-page", json={"start": -1, "kind": "drop_row"}, timeout=5
    )
    assert answer.status_code == 400

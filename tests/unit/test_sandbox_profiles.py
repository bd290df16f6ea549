"""The sandbox's fetch-profile and job changes, over real HTTP."""

from __future__ import annotations

import itertools
import time
import typing as t
from collections.abc import Iterator

import pytest
import requests

from tap_linkedin_connections.profiles.choose import job_change
from tap_linkedin_connections.profiles.records import (
    FailureKind,
    ProfileShape,
    failure_kind,
    profile_record,
)
from tap_linkedin_connections.sandbox import DEFAULT_API_KEY, Sandbox
from tap_linkedin_connections.sandbox.__main__ import _parser
from tap_linkedin_connections.sandbox.profiles import job_in_headline

FETCH_PROFILE = "/linkedin-agent/fetch-profile"
FETCH_CONNECTIONS = "/linkedin-agent/fetch-connections"
POLL = "/linkedin-agent/get-task-status"
CHANGE_JOB = "/_sandbox/connections/change-job"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(connections=60, seed=3) as started:
        yield started


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        opened.headers["x-api-key"] = DEFAULT_API_KEY
        yield opened


def create(session: requests.Session, sandbox: Sandbox, slug: t.Any) -> str:
    answer = session.post(sandbox.url + FETCH_PROFILE, json={"profile_slug": slug}, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Profile fetch task created successfully"
    task_id: str = answer.json()["api_agent_task_id"]
    return task_id


def wait_done(session: requests.Session, sandbox: Sandbox, task_id: str) -> dict[str, t.Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        answer = session.get(sandbox.url + POLL, params={"api_agent_task_id": task_id}, timeout=5)
        data: dict[str, t.Any] = answer.json()["data"]
        if data["status"] in ("completed", "failed"):
            return data
        time.sleep(0.002)
    raise AssertionError(f"task {task_id} did not finish")


def fetch(session: requests.Session, sandbox: Sandbox, slug: str) -> dict[str, t.Any]:
    return wait_done(session, sandbox, create(session, sandbox, slug))


def as_record(data: dict[str, t.Any], connection: dict[str, t.Any]) -> dict[str, t.Any]:
    read = profile_record(
        data["task_output"],
        account="default",
        entity_urn=connection["entity_urn"],
        public_identifier=None,  # so that the slug must come from the profile
        fetched_at=time.time(),
    )
    assert read.problems == ()
    return read.record


def test_a_profile_task_is_a_task_like_the_others(
    sandbox: Sandbox, session: requests.Session
) -> None:
    connection = sandbox.connections()[0]
    data = fetch(session, sandbox, connection["public_identifier"])
    assert data["status"] == "completed"
    assert data["task_input"] == {
        "task_type": "agent_profile_fetch",
        "profile_slug": connection["public_identifier"],
    }
    stats = sandbox.stats()
    assert stats["tasks_created"] == 1
    assert stats["requests"]["create"] == 1
    assert stats["tasks"][0]["input"]["task_type"] == "agent_profile_fetch"


@pytest.mark.parametrize(
    "body",
    [{}, {"profile_slug": None}, {"profile_slug": 5}, {"profile_slug": "  "}, ["x"], {"slug": "x"}],
)
def test_a_missing_or_invalid_slug_answers_400(
    sandbox: Sandbox, session: requests.Session, body: t.Any
) -> None:
    answer = session.post(sandbox.url + FETCH_PROFILE, json=body, timeout=5)
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "Missing or invalid 'profile_slug'"},
    )
    assert session.get(sandbox.url + FETCH_PROFILE, timeout=5).status_code == 405
    assert sandbox.stats()["tasks_created"] == 0


def test_both_shapes_read_to_the_same_record_consistent_with_the_list(
    sandbox: Sandbox, session: requests.Session
) -> None:
    """Every connection's profile: the same name, headline, slug (and URN where the shape
    carries it) as the list; a current title that the headline shows; the same record
    from either shape."""
    for connection in sandbox.connections():
        slug = connection["public_identifier"]
        sandbox.configure(profile_shape="flat")
        flat = fetch(session, sandbox, slug)
        sandbox.configure(profile_shape="nested")
        nested = fetch(session, sandbox, slug)
        assert "profile_url" in flat["task_output"]
        assert nested["task_output"]["profile"]["profile_urn"] == connection["entity_urn"]
        flat_record, nested_record = as_record(flat, connection), as_record(nested, connection)
        assert flat_record.pop("raw") != nested_record.pop("raw")
        assert flat_record == nested_record
        assert flat_record["name"] == connection["name"]
        assert flat_record["headline"] == (connection["headline"] or None)
        assert flat_record["public_identifier"] == slug
        job = job_in_headline(connection["headline"])
        if job is None:
            assert flat_record["current_title"] is None
        else:
            assert flat_record["current_title"] == job[0]
            assert job[1] is None or flat_record["current_company"] == job[1]


def test_profiles_are_varied_and_reproducible(sandbox: Sandbox) -> None:
    slugs = [c["public_identifier"] for c in sandbox.connections()]
    profiles = [sandbox.profiles.profile(slug) for slug in slugs]
    assert profiles == [Sandbox(connections=60, seed=3).profiles.profile(slug) for slug in slugs]
    assert all(p is not None for p in profiles)
    counts = [p["connections"] for p in profiles if p]
    assert min(counts) < 500 <= max(counts)  # both "500+" and exact counts shown
    positions = [p["positions"] for p in profiles if p]
    assert any(len(p) >= 3 for p in positions)
    assert any(q["start_month"] is None for p in positions for q in p)  # a year only
    assert any(not any(q["is_current"] for q in p) for p in positions)  # no current job


def test_unknown_or_hidden_profiles_fail(sandbox: Sandbox, session: requests.Session) -> None:
    connection = sandbox.connections()[4]
    slug = connection["public_identifier"]
    unknown = fetch(session, sandbox, "no-such-person-123")
    assert unknown["status"] == "failed"
    assert failure_kind(unknown["task_output"]) is FailureKind.NOT_FOUND

    hide = sandbox.url + "/_sandbox/profiles/hide"
    answer = session.post(hide, json={"slugs": [slug.upper(), "nobody"]}, timeout=5)
    assert answer.json()["entity_urns"] == [connection["entity_urn"]]
    hidden = fetch(session, sandbox, slug)
    assert hidden["status"] == "failed"
    assert failure_kind(hidden["task_output"]) is FailureKind.NOT_VISIBLE
    assert fetch(session, sandbox, sandbox.connections()[5]["public_identifier"])["status"] == (
        "completed"
    )

    answer = session.post(
        hide, json={"entity_urns": [connection["entity_urn"]], "hidden": False}, timeout=5
    )
    assert answer.json()["entity_urns"] == [connection["entity_urn"]]
    assert fetch(session, sandbox, slug)["status"] == "completed"
    assert session.post(hide, json={"slugs": "x"}, timeout=5).status_code == 400
    assert session.post(hide, json={"slugs": [], "hidden": "no"}, timeout=5).status_code == 400
    assert sandbox.stats()["tasks_by_status"] == {
        "pending": 0,
        "processing": 0,
        "completed": 2,
        "failed": 2,
    }


def test_a_removed_connection_fails_as_not_found(
    sandbox: Sandbox, session: requests.Session
) -> None:
    [removed] = sandbox.remove_connections(positions=[0])
    data = fetch(session, sandbox, removed["public_identifier"])
    assert failure_kind(data["task_output"]) is FailureKind.NOT_FOUND


@pytest.mark.parametrize("shape", ["flat", "nested"])
def test_a_job_change_shows_in_the_profile_and_the_list(
    sandbox: Sandbox, session: requests.Session, shape: str
) -> None:
    sandbox.configure(profile_shape=shape)
    connection = next(c for c in sandbox.connections() if " at " in c["headline"])
    before = as_record(fetch(session, sandbox, connection["public_identifier"]), connection)

    answer = session.post(
        sandbox.url + CHANGE_JOB,
        json={
            "entity_urn": connection["entity_urn"],
            "title": "Chief Data Officer",
            "company": "Globex",
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["connection"]["headline"] == "Chief Data Officer at Globex"

    # The list shows the new headline, through the API and the control alike.
    page = wait_done(
        session,
        sandbox,
        session.post(
            sandbox.url + FETCH_CONNECTIONS, json={"sort_type": "RECENTLY_ADDED"}, timeout=5
        ).json()["api_agent_task_id"],
    )["task_output"]["connections"]
    listed = next(c for c in page if c["entity_urn"] == connection["entity_urn"])
    assert listed["headline"] == "Chief Data Officer at Globex"
    assert listed == {**connection, "headline": "Chief Data Officer at Globex"}

    after = as_record(fetch(session, sandbox, connection["public_identifier"]), connection)
    assert (after["current_title"], after["current_company"]) == ("Chief Data Officer", "Globex")
    assert after["headline"] == "Chief Data Officer at Globex"
    newest, *older = after["positions"]
    assert newest["is_current"] is True
    assert not any(p["is_current"] for p in older)
    assert older[0]["title"] == before["current_title"]
    assert (older[0]["end_year"], older[0]["end_month"]) == (
        newest["start_year"],
        newest["start_month"],
    )
    assert len(after["positions"]) == len(before["positions"]) + 1
    event = job_change(before, after)
    assert event is not None
    assert event["previous"] == {
        "title": before["current_title"],
        "company": before["current_company"],
    }
    assert event["current"] == {"title": "Chief Data Officer", "company": "Globex"}


def test_job_changes_by_slug_pile_up(sandbox: Sandbox, session: requests.Session) -> None:
    connection = sandbox.connections()[7]
    for title, company in (("CTO", "Initech"), ("CEO", "Hooli")):
        answer = session.post(
            sandbox.url + CHANGE_JOB,
            json={"slug": connection["public_identifier"], "title": title, "company": company},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
    profile = session.get(
        sandbox.url + "/_sandbox/profiles",
        params={"slug": connection["public_identifier"]},
        timeout=5,
    ).json()
    assert [(p["title"], p["company"], p["is_current"]) for p in profile["positions"][:2]] == [
        ("CEO", "Hooli", True),
        ("CTO", "Initech", False),
    ]
    assert profile["headline"] == "CEO at Hooli"
    assert sandbox.connections()[7]["headline"] == "CEO at Hooli"
    assert sandbox.stats()["tasks_created"] == 0  # controls create no task


@pytest.mark.parametrize(
    "body",
    [
        {"entity_urn": "urn:li:nobody", "title": "T", "company": "C"},
        {"slug": "nobody", "title": "T", "company": "C"},
        {"title": "T", "company": "C"},
        {"slug": "{slug}", "company": "C"},
        {"slug": "{slug}", "title": "T", "company": ""},
        {"slug": "{slug}", "title": 5, "company": "C"},
    ],
)
def test_bad_job_changes_answer_400(
    sandbox: Sandbox, session: requests.Session, body: dict[str, t.Any]
) -> None:
    connection = sandbox.connections()[0]
    if body.get("slug") == "{slug}":
        body = {**body, "slug": connection["public_identifier"]}
    answer = session.post(sandbox.url + CHANGE_JOB, json=body, timeout=5)
    assert answer.status_code == 400
    assert sandbox.connections()[0] == connection


def test_the_extension_runs_profile_and_page_tasks_one_at_a_time_in_order(
    session: requests.Session,
) -> None:
    with Sandbox(connections=30, pickup_delay=0.002, work_time=0.005) as sandbox:
        slugs = [c["public_identifier"] for c in sandbox.connections()[:4]]
        task_ids = []
        for slug in slugs:
            task_ids.append(create(session, sandbox, slug))
            answer = session.post(sandbox.url + FETCH_CONNECTIONS, json={"count": 5}, timeout=5)
            task_ids.append(answer.json()["api_agent_task_id"])
        wait_done(session, sandbox, task_ids[-1])
        tasks = sandbox.stats()["tasks"]
    assert [task["id"] for task in tasks] == task_ids
    assert [task["status"] for task in tasks] == ["completed"] * 8
    for earlier, later in itertools.pairwise(tasks):
        assert later["picked_up_at"] >= earlier["completed_at"]


def test_faults_strike_profile_creates_too(sandbox: Sandbox, session: requests.Session) -> None:
    sandbox.configure(faults={"http_500": 1.0, "endpoints": ["create"]})
    slug = sandbox.connections()[0]["public_identifier"]
    answer = session.post(sandbox.url + FETCH_PROFILE, json={"profile_slug": slug}, timeout=5)
    assert answer.status_code == 500
    sandbox.configure(faults={"task_fail": 1.0})
    data = fetch(session, sandbox, slug)
    assert (data["status"], data["task_output"]) == ("failed", None)
    assert failure_kind(data["task_output"]) is FailureKind.UNEXPLAINED


def test_profile_shape_setting(sandbox: Sandbox, session: requests.Session) -> None:
    assert sandbox.settings()["profile_shape"] == "flat"
    answer = session.post(
        sandbox.url + "/_sandbox/configure", json={"profile_shape": "xml"}, timeout=5
    )
    assert answer.status_code == 400
    assert "profile_shape must be one of" in answer.json()["error"]
    with pytest.raises(ValueError, match="profile_shape"):
        Sandbox(connections=1, profile_shape="xml")
    with Sandbox(connections=3, profile_shape="nested") as nested:
        data = fetch(session, nested, nested.connections()[0]["public_identifier"])
        read = profile_record(
            data["task_output"], account="a", entity_urn="u", public_identifier=None, fetched_at=0
        )
        assert read.shape is ProfileShape.NESTED
    assert _parser().parse_args(["--profile-shape", "nested"]).profile_shape == "nested"
    assert _parser().parse_args([]).profile_shape == "flat"


def test_profile_control_for_an_unknown_slug(sandbox: Sandbox, session: requests.Session) -> None:
    answer = session.get(sandbox.url + "/_sandbox/profiles", params={"slug": "x"}, timeout=5)
    assert answer.status_code == 404

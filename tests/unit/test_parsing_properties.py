"""Property-based: whatever JSON OutX answers, the tap emits valid records or says why."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_linkedin_connections.connections.pager import Page
from tap_linkedin_connections.connections.records import to_record
from tap_linkedin_connections.connections.stream import ConnectionsStream
from tap_linkedin_connections.engine.runner import read_result
from tap_linkedin_connections.outx.client import OutXError
from tap_linkedin_connections.outx.kinds import (
    CONNECTION_FIELDS,
    CONNECTIONS_PAGE,
    PageKey,
    TaskStatus,
)
from tests.helpers import outx_client
from tests.scripted_server import Answer, ScriptedServer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

#: Connections that look almost right: documented keys with arbitrary values.
near_connections = st.fixed_dictionaries(
    {},
    optional={field: json_values | st.text() for field in CONNECTION_FIELDS},
)

outputs = st.one_of(
    json_values,
    st.lists(near_connections | json_values, max_size=5),
    st.fixed_dictionaries(
        {"connections": st.lists(near_connections, max_size=5)}, optional={"total": json_values}
    ),
)


def records_or_error(output: object) -> list[dict]:
    # As the engine reads a completed task's output, and the stream its connections.
    page = Page(offset=200, connections=[], task_id="task-1")
    page.connections = read_result(CONNECTIONS_PAGE, PageKey.of({}, 100, 200), "task-1", output)
    return [to_record(c, page, i, "default") for i, c in enumerate(page.connections)]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(outputs)
def test_any_task_output_gives_valid_records_or_a_clear_error(output):
    try:
        records = records_or_error(output)
    except OutXError as exc:
        assert_one_line(exc)
        return
    for record in records:
        jsonschema.validate(record, ConnectionsStream.schema)
        assert isinstance(record["entity_urn"], str)
        assert record["entity_urn"].strip()


bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {}, optional={"status": json_values, "task_output": json_values}
            )
        }
    ).map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def status_server():
    with ScriptedServer([Answer(200, {})], [Answer(200, {})]) as server:
        yield server


def assert_one_line(error: OutXError) -> None:
    assert str(error)
    assert "\n" not in str(error)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, status=st.sampled_from([200, 200, 200, 400, 404, 418, 500, 503]))
def test_any_status_answer_is_read_or_refused_clearly(status_server, body, status):
    status_server.polls = [Answer(status, raw=body)]
    client = outx_client(status_server.url, attempts=1)
    try:
        answer = client.task_status("00000000-0000-0000-0000-000000000000")
    except OutXError as exc:
        assert_one_line(exc)
    else:
        assert isinstance(answer.status, TaskStatus)
        assert isinstance(answer.said, str)
    finally:
        client.close()

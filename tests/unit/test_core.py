"""The SDK's standard tap tests, run in process against a sandbox."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import typing as t
from pathlib import Path

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_linkedin_connections.sandbox import Sandbox
from tap_linkedin_connections.tap import TapLinkedInConnections
from tests.helpers import API_KEY, tap_config

# The SDK builds the tap when the tests are collected, so the sandbox must already run.
_sandbox = Sandbox(connections=250, seed=13, api_key=API_KEY, pickup_delay=0.001, work_time=0.001)
_sandbox.start()
atexit.register(_sandbox.stop)
# A task ledger of the tests' own: the default one is in the user's state directory.
_ledger_dir = tempfile.mkdtemp(prefix="tap-linkedin-connections-core-")
atexit.register(shutil.rmtree, _ledger_dir, ignore_errors=True)

_config = tap_config(_sandbox.url, task_ledger=str(Path(_ledger_dir) / "ledger.sqlite"))


def _every_stream_selected() -> dict[str, t.Any]:
    """The discovered catalog with every stream selected: the opt-in ones (profiles,
    job_changes) are not by default, and the SDK's checks compare each stream's records
    with its schema as the catalog selects it."""
    catalog = TapLinkedInConnections(config=_config, validate_config=True).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            metadata["metadata"]["selected"] = True
    return t.cast("dict[str, t.Any]", catalog)


TestTapLinkedInConnections = get_tap_test_class(
    tap_class=TapLinkedInConnections,
    config=_config,
    # One run over a new list is its baseline: it finds no connection events (their
    # records are checked in tests/unit/test_history.py).
    suite_config=SuiteConfig(
        max_records_limit=None, ignore_no_records_for_streams=["connection_events"]
    ),
    catalog=_every_stream_selected(),
)

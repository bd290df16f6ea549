"""The SDK's standard tap tests, run in process against a sandbox."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_linkedin_connections.sandbox import Sandbox
from tap_linkedin_connections.tap import TapLinkedInConnections
from tests.helpers import API_KEY, tap_config

# The SDK builds the tap when the tests are collected, so the sandbox must already run.
_sandbox = Sandbox(connections=250, seed=13, api_key=API_KEY, pickup_delay=0.001, work_time=0.001)
_sandbox.start()
atexit.register(_sandbox.stop)

TestTapLinkedInConnections = get_tap_test_class(
    tap_class=TapLinkedInConnections,
    config=tap_config(_sandbox.url),
    suite_config=SuiteConfig(max_records_limit=None),
)

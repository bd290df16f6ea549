"""What the tests share besides fixtures: the tap run as its users run it (the CLI)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tap_linkedin_connections.outx.client import OutXClient
from tap_linkedin_connections.outx.kinds import CONNECTION_FIELDS
from tap_linkedin_connections.sandbox.drill import FAST_SANDBOX_SETTINGS

#: A key that looks like a real one, so a leak would be found by searching for it.
API_KEY = "outx-team-key-3f9c1d7e5b2a4c8e9f0a1b2c3d4e5f60"

#: Settings that make a sandbox run take milliseconds instead of minutes.
FAST_SETTINGS: dict[str, t.Any] = {
    **FAST_SANDBOX_SETTINGS,
    "task_timeout_seconds": 5,
    "request_timeout_seconds": 5,
}


def expected_profile_url(slug: str | None) -> str | None:
    """The profile_url a record must carry for a public_identifier."""
    return "https://www.linkedin.com/in/" + quote(slug, safe="-_.~") if slug else None


def expected_records(
    connections: list[dict[str, t.Any]], account: str = "default"
) -> list[dict[str, t.Any]]:
    """The records the tap must emit for a sandbox's connections, in order."""
    return [
        {
            **{field: c[field] for field in CONNECTION_FIELDS},
            "profile_url": expected_profile_url(c["public_identifier"]),
            "account": account,
        }
        for c in connections
    ]


def tap_config(url: str, **overrides: t.Any) -> dict[str, t.Any]:
    """A config for the tap against a local server, fast by default."""
    return {"api_key": API_KEY, "api_url": url, **FAST_SETTINGS, **overrides}


@dataclass
class TapRun:
    """What one run of the tap printed, parsed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict[str, t.Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def records(self) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, t.Any] | None:
        states = self.states
        return states[-1] if states else None

    def of_type(self, kind: str) -> list[dict[str, t.Any]]:
        return [m for m in self.messages if m["type"] == kind]


def run_tap(
    config: dict[str, t.Any],
    tmp_path: Path,
    *,
    state: dict[str, t.Any] | None = None,
    extra_args: t.Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> TapRun:
    """Run ``python -m tap_linkedin_connections`` with this config (and state).

    The task ledger is the test's own (``tmp_path/ledger.sqlite``) unless the config
    names one, and the user's state directory is never the default.
    """
    config = {"task_ledger": str(tmp_path / "ledger.sqlite"), **config}
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    args = [sys.executable, "-m", "tap_linkedin_connections", "--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        args += ["--state", str(state_file)]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_LINKEDIN_CONNECTIONS_")},
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        **(env or {}),
    }
    done = subprocess.run(
        [*args, *extra_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        check=False,
    )
    return TapRun(done.returncode, done.stdout, done.stderr)


def bookmark(state: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The connections stream's part of a STATE value."""
    assert state is not None, "the tap wrote no STATE"
    return t.cast("dict[str, t.Any]", state["bookmarks"]["connections"])


def outx_client(url: str, *, attempts: int) -> OutXClient:
    """A client for protocol tests: short timeouts, retries a millisecond apart."""
    return OutXClient(
        api_url=url,
        api_key="k",
        request_timeout=2,
        max_request_attempts=attempts,
        retry_initial_wait=0.001,
        retry_max_wait=0.001,
        user_agent="test",
        logger=logging.getLogger("tests"),
    )

"""What the tests share besides fixtures: the tap run as its users run it (the CLI)."""

from __future__ import annotations

import contextlib
import decimal
import io
import json
import logging
import os
import subprocess
import sys
import typing as t
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tap_linkedin_connections.outx.client import OutXClient
from tap_linkedin_connections.outx.kinds import CONNECTION_FIELDS
from tap_linkedin_connections.sandbox.drill import FAST_SANDBOX_SETTINGS

if t.TYPE_CHECKING:
    from tap_linkedin_connections.sandbox import Sandbox

#: The repository's root.
REPO = Path(__file__).resolve().parent.parent

#: Under CI a test must not skip for want of a service: it fails instead.
IN_CI = os.environ.get("CI", "").lower() == "true"

#: A key that looks like a real one, so a leak would be found by searching for it.
API_KEY = "outx-team-key-3f9c1d7e5b2a4c8e9f0a1b2c3d4e5f60"

#: Settings that make a sandbox run take milliseconds instead of minutes.
FAST_SETTINGS: dict[str, t.Any] = {
    **FAST_SANDBOX_SETTINGS,
    "task_timeout_seconds": 5,
    "request_timeout_seconds": 5,
}


def unavailable(reason: str) -> t.NoReturn:
    """A service the test needs is missing: skip, saying why; fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def find_meltano() -> Path:
    """The meltano that scripts/test.py installs (or MELTANO_BIN); unavailable if none."""
    path = Path(os.environ.get("MELTANO_BIN") or REPO / ".venv-meltano" / "bin" / "meltano")
    if not path.exists():
        unavailable(f"no meltano at {path}: run python3 scripts/test.py, or set MELTANO_BIN")
    return path


def expected_profile_url(slug: str | None) -> str | None:
    """The profile_url a record must carry for a public_identifier."""
    return "https://www.linkedin.com/in/" + quote(slug, safe="-_.~") if slug else None


def expected_records(
    connections: list[dict[str, t.Any]], account: str = "default"
) -> list[dict[str, t.Any]]:
    """The records the tap must emit for a sandbox's connections, in order (no export).

    The sandbox passes a connection date through (``connected_at``, ISO in UTC), as OutX
    may one day: it fills ``connected_on``. The export's fields are null without one.
    """
    return [
        {
            **{field: c[field] for field in CONNECTION_FIELDS},
            "profile_url": expected_profile_url(c["public_identifier"]),
            "account": account,
            "connected_on": c["connected_at"][:10] if c.get("connected_at") else None,
            "company": None,
            "position": None,
            "email_address": None,
            "extra": None,
        }
        for c in connections
    ]


#: The stream of connection events (history/stream.py).
EVENTS_STREAM = "connection_events"
#: The columns a connection's row takes from the network history (history/memory.py).
HISTORY_COLUMNS = ("first_seen_at", "last_seen_at", "is_connected", "removed_at")


def read_fields(records: t.Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Records without their history columns (times of the run), to compare with
    :func:`expected_records`; each must be a connected one."""
    kept = []
    for record in records:
        assert record["is_connected"] is True, record["entity_urn"]
        kept.append({k: v for k, v in record.items() if k not in HISTORY_COLUMNS})
    return kept


def connected(records: t.Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The records of connections still there: without the rows sent for removed ones
    (``removed_connections: mark``)."""
    return [r for r in records if r.get("is_connected") is not False]


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
    def all_messages(self) -> list[dict[str, t.Any]]:
        """Every message, of every stream."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def messages(self) -> list[dict[str, t.Any]]:
        """The messages of the connections stream, and STATE (connection_events': see
        ``events``)."""
        return [m for m in self.all_messages if m.get("stream") != EVENTS_STREAM]

    @property
    def records(self) -> list[dict[str, t.Any]]:
        """The connections stream's records."""
        return [
            m["record"]
            for m in self.messages
            if m["type"] == "RECORD" and m["stream"] == "connections"
        ]

    @property
    def events(self) -> list[dict[str, t.Any]]:
        """The connection_events stream's records."""
        return [
            m["record"]
            for m in self.all_messages
            if m["type"] == "RECORD" and m["stream"] == EVENTS_STREAM
        ]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, t.Any] | None:
        states = self.states
        return states[-1] if states else None

    def of_type(self, kind: str) -> list[dict[str, t.Any]]:
        return [m for m in self.messages if m["type"] == kind]


def tap_command(
    config: dict[str, t.Any],
    workdir: Path,
    *,
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run the tap's CLI on these files, written
    into ``workdir``; the user's state directory is never the default."""
    workdir.mkdir(parents=True, exist_ok=True)
    files = {"config": config, "state": state, "catalog": catalog}
    args = [sys.executable, "-m", "tap_linkedin_connections"]
    for option, content in files.items():
        if content is not None:
            path = workdir / f"{option}.json"
            path.write_text(json.dumps(content))
            args += [f"--{option}", str(path)]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_LINKEDIN_CONNECTIONS_")},
        "XDG_STATE_HOME": str(workdir / "xdg-state"),
    }
    return args, environment


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
    args, environment = tap_command(config, tmp_path, state=state)
    done = subprocess.run(
        [*args, *extra_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environment, **(env or {})},
        check=False,
    )
    return TapRun(done.returncode, done.stdout, done.stderr)


def start_tap(
    config: dict[str, t.Any],
    workdir: Path,
    *,
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """The tap's CLI in the background, on files of its own in ``workdir`` (the config is
    taken as it is: no task ledger is added)."""
    args, environment = tap_command(config, workdir, state=state, catalog=catalog)
    return subprocess.Popen(args, stdout=stdout, stderr=stderr, text=True, env=environment)


def run_tap_in_process(
    config: dict[str, t.Any],
    tmp_path: Path,
    *,
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> TapRun:
    """Like :func:`run_tap`, in this process: for tests about data, not about the CLI.

    It saves the second of interpreter start and singer-sdk import that every CLI run
    costs. What only the CLI shows (exit codes of the console script, argument
    parsing, one-line errors before the tap is built) stays with :func:`run_tap`.
    A failure the console script would turn into one line and exit code 1 is turned
    into the same here.
    """
    # Imported here: helpers are imported by every test module, most never need the tap.
    from tap_linkedin_connections.tap import USER_ERRORS, TapLinkedInConnections

    config = {"task_ledger": str(tmp_path / "ledger.sqlite"), **config}
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    returncode = 0
    try:
        with contextlib.redirect_stdout(stdout):
            try:
                tap = TapLinkedInConnections(
                    config=config,
                    state=_as_loaded(state),
                    catalog=catalog,
                    parse_env_config=False,
                )
                tap.sync_all()
            except USER_ERRORS as exc:
                stderr.write(f"tap-linkedin-connections: error: {exc}\n")
                returncode = 1
            stdout.flush()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    stdout.seek(0)
    return TapRun(returncode, stdout.read(), stderr.getvalue())


def _as_loaded(state: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    """A STATE as the tap loads it from a file: its fractions as decimal.Decimal."""
    if state is None:
        return None
    return t.cast("dict[str, t.Any]", json.loads(json.dumps(state), parse_float=decimal.Decimal))


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


def problem_lines(run) -> list[str]:
    """The lines naming what is wrong (the SDK adds a banner and "validation failed")."""
    return [
        ln
        for ln in run.stderr.splitlines()
        if ("| ERROR" in ln and "Config validation failed" not in ln) or "error:" in ln
    ]


def key_forms(key: str) -> list[str]:
    """The forms a key could leak in: as sent, as repr, JSON-escaped."""
    return [key.strip(), repr(key), json.dumps(key)[1:-1]]


def zip_bytes(members: dict[str, str]) -> bytes:
    """A zip archive holding these files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return buffer.getvalue()


# Several accounts

KEYS = {
    "sales": "outx-sales-key-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "recruiting": "outx-recruiting-key-f9e8d7c6b5a4938271605f4e3d2c1b0a",
}


def accounts_config(sandboxes: dict[str, Sandbox], **overrides: t.Any) -> dict[str, t.Any]:
    """A config reading each sandbox as the account of that name."""
    entries = [
        {"name": name, "api_key": sandbox.api_key, "api_url": sandbox.url}
        for name, sandbox in sandboxes.items()
    ]
    return {**FAST_SETTINGS, "accounts": entries, **overrides}


def records_of(run: TapRun, account: str) -> list[dict[str, t.Any]]:
    """The account's rows of connections still there, without their history columns."""
    return read_fields(connected(r for r in run.records if r["account"] == account))


def assert_no_key_anywhere(run: TapRun) -> None:
    for key in KEYS.values():
        assert key not in run.stdout
        assert key not in run.stderr


# A pass against the sandbox, as the integrity tests look at it


def urns(connections: list[dict[str, t.Any]]) -> list[str]:
    return [c["entity_urn"] for c in connections]


def live(sandbox: Sandbox) -> set[str]:
    """The URNs of the sandbox's connections now."""
    return set(urns(sandbox.connections(sort_type="RECENTLY_ADDED")))


def starts(sandbox: Sandbox) -> list[int]:
    """The offset of every page task the sandbox received, oldest first."""
    return [task["input"]["start"] for task in sandbox.stats()["tasks"]]


def summary(run: TapRun) -> str:
    """The run's one summary line."""
    (line,) = [ln for ln in run.stderr.splitlines() if "This run:" in ln]
    return line

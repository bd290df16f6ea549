"""End to end: the real `meltano` CLI, the project's meltano.yml, the real loaders.

Each test starts an in-process sandbox (the OutX stand-in) and runs `meltano run` as a
user would, then reads what landed in PostgreSQL or in the CSV file.

Isolation: the tests run in a copy of the project (its meltano.yml only) that reuses
the plugins already installed in the project's `.meltano/`, with a Meltano system
directory (MELTANO_SYS_DIR_ROOT: run files, logs), a system database (and so Meltano
state), a PostgreSQL schema (dropped afterwards) and a CSV folder of their own per test,
so that tests can run side by side (pytest-xdist).

Why a copy at all: the fast, fractional polling these tests need goes into the copy's
`dev` environment, and the project's own meltano.yml stays as users see it. (The number
settings are `kind: string`, because Meltano 4.4.1 cannot pass a `kind: decimal` setting
given through an environment variable; the tap reads "0.005" as a number, so
`TAP_LINKEDIN_CONNECTIONS_POLL_INTERVAL_MIN_SECONDS=0.005` would do as well.)

Needs: `.venv-meltano/bin/meltano` (or MELTANO_BIN) with the plugins installed (the
tests install the ones they use if they are missing), PostgreSQL on 127.0.0.1:5432
(PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE override it), and for the dbt example
`.venv-dbt/bin/dbt` (or DBT_BIN). Without them the tests are skipped, except under
CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import typing as t
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tap_linkedin_connections.connections.passes import tasks_for_full_pass
from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import expected_profile_url, find_meltano, unavailable

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

#: Looks like a real key, so that finding it in state or logs would be a leak.
API_KEY = "outx-e2e-key-5d1c0b9a8f7e6d5c4b3a29180706f5e4"
#: A second OutX team's key, for the tests with several accounts.
OTHER_KEY = "outx-e2e-key-second-team-0f1e2d3c4b5a69788796a5b4"
CONNECTIONS = 1234
STATE_ID = "dev:tap-linkedin-connections-to-target-postgres"
FULL_REFRESH_STATE_ID = "dev:tap-linkedin-connections--full-refresh-to-target-postgres"
ACCOUNTS_STATE_ID = "dev:tap-linkedin-connections--accounts-to-target-postgres"

TAP_FIELDS = (
    "account",
    "entity_urn",
    "name",
    "first_name",
    "last_name",
    "headline",
    "public_identifier",
    "profile_url",
    "profile_image_url",
)
SOURCE_FIELDS = ("name", "first_name", "last_name", "headline", "public_identifier")
#: After TAP_FIELDS: the connection date (the sandbox passes one), the LinkedIn export's
#: fields (null: no export here) and the unknown keys (null).
HISTORY_FIELDS = ("connected_on", "company", "position", "email_address", "extra")
#: Last: what the network history knows of the row (tests/test_e2e_history.py).
MEMORY_FIELDS = ("first_seen_at", "last_seen_at", "is_connected", "removed_at")
#: How the tests about ACTIVATE_VERSION's deletions send removals (the default, mark,
#: keeps removed connections as marked rows: tests/test_e2e_history.py).
DELETE_MODE = {"TAP_LINKEDIN_CONNECTIONS_REMOVED_CONNECTIONS": "delete"}

#: Fast polling for the sandbox, written into the project copy's dev environment.
FAST_DECIMALS = {
    "poll_interval_min_seconds": 0.005,
    "poll_interval_max_seconds": 0.05,
    "retry_initial_wait_seconds": 0.01,
    "retry_max_wait_seconds": 0.1,
    "request_timeout_seconds": 10.0,
    "task_timeout_seconds": 20.0,
}

PG: dict[str, t.Any] = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": int(os.environ.get("PGPORT", "5432")),
    "user": os.environ.get("PGUSER", "postgres"),
    "password": os.environ.get("PGPASSWORD", ""),
    "dbname": os.environ.get("PGDATABASE", "postgres"),
}


def _about() -> dict[str, t.Any]:
    """The tap's --about, as Meltano users see its settings (SDK-added ones included)."""
    done = subprocess.run(
        [sys.executable, "-m", "tap_linkedin_connections", "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return t.cast("dict[str, t.Any]", json.loads(done.stdout))


# Fixtures: meltano, the project copy, PostgreSQL, the sandbox


@pytest.fixture(scope="module")
def meltano_bin() -> Path:
    """The meltano executable, with the plugins these tests use installed."""
    path = find_meltano()
    wanted = {
        "extractors": ["tap-linkedin-connections"],
        "loaders": ["target-csv", "target-postgres", "target-jsonl", "target-duckdb"],
    }
    missing = [
        name
        for kind, names in wanted.items()
        for name in names
        if not (ROOT / ".meltano" / kind / name / "venv" / "bin").is_dir()
    ]
    if missing:
        done = subprocess.run(
            [path, "install", *missing],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"meltano install {' '.join(missing)} failed:\n{done.stderr[-3000:]}")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's meltano.yml, with fast polling in its dev environment."""
    copy = tmp_path_factory.mktemp("meltano-project")
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    dev = next(e for e in config["environments"] if e["name"] == "dev")
    taps = dev["config"]["plugins"]["extractors"]
    tap = next(p for p in taps if p["name"] == "tap-linkedin-connections")
    tap["config"].update(FAST_DECIMALS)
    (copy / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def pg_available() -> None:
    try:
        with socket.create_connection((PG["host"], PG["port"]), timeout=2):
            pass
    except OSError as exc:
        unavailable(f"PostgreSQL is not reachable on {PG['host']}:{PG['port']} ({exc})")


@dataclass
class Pipeline:
    """One test's Meltano runs: its own system database, schema and CSV folder."""

    meltano_bin: Path
    project: Path
    workdir: Path
    sandbox: Sandbox
    schema: str
    env: dict[str, str] = field(default_factory=dict)
    runs: int = 0

    def meltano(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 180,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run meltano in the project copy; fail the test with its output if it fails
        (unless ``check`` is off)."""
        done = subprocess.run(
            [str(self.meltano_bin), *args],
            cwd=self.project,
            env={**self._base_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.runs += 1
        log = self.workdir / f"meltano-{self.runs}.log"
        log.write_text(
            f"$ meltano {' '.join(args)}\n{done.stdout}\n{done.stderr}", encoding="utf-8"
        )
        if check and done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "rror" in line]
            pytest.fail(
                f"meltano {' '.join(args)} exited {done.returncode} (full output in {log}):\n"
                + "\n".join(errors[-30:])
            )
        return done

    def _base_env(self) -> dict[str, str]:
        # Nothing of the caller's Meltano or plugin settings leaks in.
        prefixes = (
            "MELTANO_",
            "TAP_LINKEDIN_CONNECTIONS",
            "TARGET_POSTGRES_",
            "TARGET_CSV_",
            "TARGET_JSONL_",
            "TARGET_DUCKDB_",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(
            {
                "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
                "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / 'meltano.db'}",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "TAP_LINKEDIN_CONNECTIONS_API_URL": self.sandbox.url,
                "TAP_LINKEDIN_CONNECTIONS_API_KEY": API_KEY,
                "TAP_LINKEDIN_CONNECTIONS_MAX_TASKS_PER_HOUR": "1000000",
                # The test's own task ledger, never the user's.
                "TAP_LINKEDIN_CONNECTIONS_TASK_LEDGER": str(self.workdir / "ledger.sqlite"),
                "TARGET_POSTGRES_HOST": PG["host"],
                "TARGET_POSTGRES_PORT": str(PG["port"]),
                "TARGET_POSTGRES_USER": PG["user"],
                "TARGET_POSTGRES_DATABASE": PG["dbname"],
                "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema,
                # target-postgres 0.8.1 needs a password, even an empty one (trust auth).
                "TARGET_POSTGRES_PASSWORD": PG["password"],
                "TARGET_CSV_OUTPUT_PATH": str(self.workdir / "csv"),
                "TARGET_JSONL_DESTINATION_PATH": str(self.workdir / "jsonl"),
                "TARGET_DUCKDB_FILEPATH": str(self.workdir / "linkedin.duckdb"),
            }
        )
        env.update(self.env)
        return env

    @property
    def sys_dir(self) -> Path:
        """The test's own Meltano system directory (made by the pipeline fixture)."""
        return self.workdir / "meltano-sys"

    def state(self, state_id: str = STATE_ID) -> dict[str, t.Any]:
        out = self.meltano("state", "get", state_id).stdout
        return t.cast("dict[str, t.Any]", json.loads(out))

    @property
    def csv_file(self) -> Path:
        return self.workdir / "csv" / "connections.csv"

    def csv_rows(self) -> list[dict[str, str]]:
        with self.csv_file.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))


def _connect() -> t.Any:
    psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is in the dev extras")
    return psycopg.connect(**PG, autocommit=True, connect_timeout=5)


def _drop_schemas(schemas: list[str]) -> None:
    """Drop the tests' schemas; nothing to do when PostgreSQL was never reached."""
    try:
        import psycopg
    except ImportError:
        return
    with (
        contextlib.suppress(psycopg.Error, OSError),
        psycopg.connect(**PG, autocommit=True, connect_timeout=5) as conn,
    ):
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pipeline(
    meltano_bin: Path, project: Path, tmp_path: Path
) -> t.Iterator[t.Callable[..., Pipeline]]:
    """Make the test's pipeline around a fresh sandbox; drop its schema afterwards."""
    made: list[Pipeline] = []
    # The test's own Meltano system directory, holding the project's installed plugins:
    # `meltano invoke` writes its config files to `<sys dir>/run/<plugin>/`, a path
    # without a run id, which tests running side by side would otherwise share.
    sys_dir = tmp_path / "meltano-sys"
    sys_dir.mkdir()
    for kind in ("extractors", "loaders"):
        (sys_dir / kind).symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)

    def make(connections: int = CONNECTIONS, **sandbox_options: t.Any) -> Pipeline:
        options = {"pickup_delay": 0.002, "work_time": 0.002, **sandbox_options}
        sandbox = Sandbox(connections=connections, seed=11, api_key=API_KEY, **options)
        sandbox.start()
        schema = f"e2e_{uuid.uuid4().hex[:12]}"
        made.append(Pipeline(meltano_bin, project, tmp_path, sandbox, schema))
        return made[-1]

    yield make
    for pipe in made:
        pipe.sandbox.stop()
    _drop_schemas([pipe.schema for pipe in made])
    shutil.rmtree(tmp_path / "csv", ignore_errors=True)


# Reading what landed


def _pg_rows(schema: str) -> dict[str, dict[str, t.Any]]:
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}"."connections"')
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    by_urn = {row["entity_urn"]: row for row in rows}
    assert len(by_urn) == len(rows), "duplicate entity_urn rows"
    return by_urn


def _pg_columns(schema: str) -> dict[str, tuple[str, str]]:
    with _connect() as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'connections'",
            (schema,),
        ).fetchall()
    return {name: (data_type, nullable) for name, data_type, nullable in rows}


def _pg_primary_key(schema: str) -> list[str]:
    with _connect() as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attname",
            (f'"{schema}"."connections"',),
        ).fetchall()
    return [name for (name,) in rows]


def _ledger_rows(pipe: Pipeline) -> list[tuple[t.Any, ...]]:
    """The task ledger's rows for the pipeline (one account: the sandbox and its key)."""
    with contextlib.closing(sqlite3.connect(pipe.workdir / "ledger.sqlite")) as conn:
        return conn.execute(
            "SELECT key, task_id, outcome FROM tap_linkedin_connections_task_ledger"
        ).fetchall()


def _urns(connections: t.Iterable[t.Mapping[str, t.Any]]) -> set[str]:
    return {str(c["entity_urn"]) for c in connections}


def _bookmark(state: dict[str, t.Any]) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", state["singer_state"]["bookmarks"]["connections"])


# The tests


def test_meltano_yml_declares_every_tap_setting_as_the_tap_does() -> None:
    """meltano.yml's extractor matches the tap: settings, defaults, capabilities."""
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    assert "version" not in config
    assert str(config["requires_meltano"]).startswith(">=4.4")
    extractors = {p["name"]: p for p in config["plugins"]["extractors"]}
    tap = extractors["tap-linkedin-connections"]
    about_info = _about()
    about = about_info["settings"]["properties"]
    declared = {s["name"]: s for s in tap["settings"]}

    assert set(declared) == set(about)
    for name, prop in about.items():
        setting = declared[name]
        # Kinds: tests/cli/test_hub.py (meltano.yml declares the Hub file's).
        assert setting.get("label"), name
        assert setting.get("description"), name
        assert setting.get("value") == prop.get("default"), name
    assert declared["api_key"]["sensitive"] is True
    assert declared["api_key"]["kind"] == "string"
    assert tap["settings_group_validation"] == [["api_key"], ["accounts"]]
    assert sorted(tap["capabilities"]) == sorted(about_info["capabilities"])
    full_refresh = extractors["tap-linkedin-connections--full-refresh"]
    assert full_refresh["inherit_from"] == "tap-linkedin-connections"
    assert full_refresh["config"] == {"full_refresh": True}


def test_meltano_lists_every_setting(pipeline: t.Callable[..., Pipeline]) -> None:
    pipe = pipeline(connections=0)
    listed = pipe.meltano("config", "list", "--all", "tap-linkedin-connections").stdout
    for name in _about()["settings"]["properties"]:
        # "api_key (required by group 1) [env: ...]": one of api_key and accounts is.
        assert any(
            line.startswith(f"{name} ")
            and f"[env: TAP_LINKEDIN_CONNECTIONS_{name.upper()}]" in line
            for line in listed.splitlines()
        ), name
    assert API_KEY not in listed  # sensitive: redacted


def test_postgres_full_load_then_incremental(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """(a) every connection lands once, typed, keyed; (b) a second run adds only the new."""
    pipe = pipeline()
    pipe.meltano("run", "tap-linkedin-connections", "target-postgres")

    source = {c["entity_urn"]: c for c in pipe.sandbox.connections()}
    rows = _pg_rows(pipe.schema)
    assert len(rows) == CONNECTIONS
    assert set(rows) == set(source)
    for urn, row in rows.items():
        for name in SOURCE_FIELDS:
            assert row[name] == source[urn][name], (urn, name)
        assert row["profile_image_url"] == source[urn].get("profile_image_url")
        assert row["profile_url"] == expected_profile_url(source[urn]["public_identifier"])
    assert len({row["_sdc_table_version"] for row in rows.values()}) == 1

    columns = _pg_columns(pipe.schema)
    for name in TAP_FIELDS:
        assert columns[name][0] in ("text", "character varying"), (name, columns[name])
    assert columns["entity_urn"][1] == "NO"
    assert "connected_at" not in columns  # the passed date fills connected_on instead
    assert columns["connected_on"][0] == "date"
    assert columns["extra"][0] == "jsonb"
    assert {"_sdc_table_version", "_sdc_deleted_at", "_sdc_extracted_at"} <= set(columns)
    assert _pg_primary_key(pipe.schema) == ["account", "entity_urn"]
    assert {row["account"] for row in rows.values()} == {"default"}

    # (b) Seven new connections: one task, seven rows, nothing else touched.
    added = pipe.sandbox.add_connections(7)
    pipe.sandbox.reset_stats()
    pipe.meltano("run", "tap-linkedin-connections", "target-postgres")

    after = _pg_rows(pipe.schema)
    assert len(after) == CONNECTIONS + 7
    assert set(after) - set(rows) == _urns(added)
    assert pipe.sandbox.stats()["tasks_created"] == 1
    for urn, row in rows.items():
        assert after[urn]["_sdc_table_version"] == row["_sdc_table_version"]

    state = pipe.state()
    bookmark = _bookmark(state)["bookmark"]
    assert bookmark["newest"][0] == added[0]["entity_urn"]
    assert bookmark["total"] == CONNECTIONS + 7
    assert "pass" not in _bookmark(state)
    assert API_KEY not in json.dumps(state)


def test_full_refresh_extractor_hard_deletes_removed_connections(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """(c) The inherited full-refresh extractor, run twice: the second run drops the gone."""
    pipe = pipeline()
    pipe.env.update(DELETE_MODE)
    pipe.meltano("run", "linkedin-full-refresh-to-postgres")
    assert len(_pg_rows(pipe.schema)) == CONNECTIONS

    current = pipe.sandbox.connections()
    doomed = [current[0], current[1], current[500], current[777], current[-1]]
    removed = pipe.sandbox.remove_connections(entity_urns=sorted(_urns(doomed)))
    assert _urns(removed) == _urns(doomed)
    added = pipe.sandbox.add_connections(2)
    # Its state now holds a bookmark, so only full_refresh makes this run a full pass
    # (an incremental one would find no removals and send no ACTIVATE_VERSION).
    pipe.meltano("run", "linkedin-full-refresh-to-postgres")

    rows = _pg_rows(pipe.schema)
    assert len(rows) == CONNECTIONS - 5 + 2
    assert set(rows) == _urns(pipe.sandbox.connections())
    assert not set(rows) & _urns(removed)
    assert _urns(added) <= set(rows)
    assert all(row["_sdc_deleted_at"] is None for row in rows.values())
    assert _bookmark(pipe.state(FULL_REFRESH_STATE_ID))["bookmark"]["total"] == len(rows)


def _pg_rows_by_account(schema: str) -> dict[str, dict[str, dict[str, t.Any]]]:
    """The loaded rows, by account, then by entity URN."""
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}"."connections"')
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    by_account: dict[str, dict[str, dict[str, t.Any]]] = {}
    for row in rows:
        by_account.setdefault(row["account"], {})[row["entity_urn"]] = row
    assert sum(len(r) for r in by_account.values()) == len(rows), "duplicate rows"
    return by_account


def test_two_accounts_in_one_table_keep_each_others_rows(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """Two OutX teams, one table: a full refresh that one account cannot finish deletes
    nothing of the other's; the next complete one removes only what is gone."""
    pipe = pipeline(connections=260)  # the "sales" team's account
    pipe.env.update(DELETE_MODE)
    recruiting = Sandbox(
        connections=140, seed=12, api_key=OTHER_KEY, pickup_delay=0.002, work_time=0.002
    ).start()
    try:
        accounts = [
            {"name": "sales", "api_key": API_KEY, "api_url": pipe.sandbox.url},
            {"name": "recruiting", "api_key": OTHER_KEY, "api_url": recruiting.url},
        ]
        pipe.env["TAP_LINKEDIN_CONNECTIONS_ACCOUNTS"] = json.dumps(accounts)
        # meltano.yml's example job, as its comment says to run it (the key kept in
        # .env, TAP_LINKEDIN_CONNECTIONS_API_KEY, is set too: it is not used).
        pipe.meltano("run", "linkedin-accounts-to-postgres")

        rows = _pg_rows_by_account(pipe.schema)
        assert set(rows["sales"]) == _urns(pipe.sandbox.connections())
        assert set(rows["recruiting"]) == _urns(recruiting.connections())
        assert _pg_primary_key(pipe.schema) == ["account", "entity_urn"]
        state = _bookmark(pipe.state(ACCOUNTS_STATE_ID))
        assert state["table"]["activated"] is True
        assert set(state["accounts"]) == {"sales", "recruiting"}

        # The weekly full refresh: sales lost three connections; recruiting's extension
        # is off, so its pass cannot run. Nothing may be deleted: recruiting's rows
        # would not be in the new version.
        removed = pipe.sandbox.remove_connections(positions=[0, 100, 259])
        added = pipe.sandbox.add_connections(2)
        recruiting.configure(extension_active=False)
        failed = pipe.meltano(
            "run",
            "linkedin-accounts-to-postgres",
            env={"TAP_LINKEDIN_CONNECTIONS_FULL_REFRESH": "true"},
            check=False,
        )
        assert failed.returncode != 0
        assert "Account 'recruiting' failed" in failed.stderr
        after_failure = _pg_rows_by_account(pipe.schema)
        assert set(after_failure["recruiting"]) == set(rows["recruiting"])
        # Sales' pass was loaded (its new connections are in), its removals wait.
        assert set(after_failure["sales"]) == set(rows["sales"]) | _urns(added)

        # Retried with the extension back: both passes complete, the version is
        # activated, and sales' removals reach the table; recruiting keeps every row.
        recruiting.configure(extension_active=True)
        pipe.meltano(
            "run",
            "linkedin-accounts-to-postgres",
            env={"TAP_LINKEDIN_CONNECTIONS_FULL_REFRESH": "true"},
        )
        final = _pg_rows_by_account(pipe.schema)
        assert set(final["sales"]) == _urns(pipe.sandbox.connections())
        assert not set(final["sales"]) & _urns(removed)
        assert set(final["recruiting"]) == set(rows["recruiting"])
        assert all(row["_sdc_deleted_at"] is None for r in final.values() for row in r.values())
    finally:
        recruiting.stop()


def test_weekly_schedule_soft_deletes_and_shares_the_daily_state(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """(c') The weekly schedule (daily job + full_refresh) with hard_delete off."""
    pipe = pipeline()
    pipe.env.update(DELETE_MODE)
    pipe.env["TARGET_POSTGRES_HARD_DELETE"] = "false"
    pipe.meltano("run", "linkedin-to-postgres")
    first = _bookmark(pipe.state())
    assert len(_pg_rows(pipe.schema)) == CONNECTIONS

    removed = pipe.sandbox.remove_connections(positions=[3, 99, 100, 1000, CONNECTIONS - 1])
    pipe.sandbox.add_connections(3)
    pipe.meltano("schedule", "run", "linkedin-weekly-full-refresh")

    rows = _pg_rows(pipe.schema)
    assert len(rows) == CONNECTIONS + 3
    deleted = {urn for urn, row in rows.items() if row["_sdc_deleted_at"] is not None}
    assert deleted == _urns(removed)
    assert {urn for urn in rows if urn not in deleted} == _urns(pipe.sandbox.connections())

    second = _bookmark(pipe.state())
    # Same state id: the full pass replaced the bookmark. The pacing budget is the
    # task ledger's, not state's: it holds the first run's tasks (13 pages, one
    # confirming the end, one re-reading the top) next to the second's (as many).
    assert second["bookmark"]["version"] > first["bookmark"]["version"]
    assert "task_window" not in second
    assert len(_ledger_rows(pipe)) == 2 * tasks_for_full_pass(CONNECTIONS, 100) == 30


def test_csv_lands_every_connection(pipeline: t.Callable[..., Pipeline]) -> None:
    pipe = pipeline()
    pipe.meltano("run", "tap-linkedin-connections", "target-csv")
    rows = pipe.csv_rows()
    assert len(rows) == CONNECTIONS
    assert {row["entity_urn"] for row in rows} == _urns(pipe.sandbox.connections())
    assert list(rows[0]) == [*TAP_FIELDS, *HISTORY_FIELDS, *MEMORY_FIELDS]


def test_stream_maps_and_flattening(pipeline: t.Callable[..., Pipeline]) -> None:
    """A map drops profile_image_url and replaces name by its md5; flattening is on."""
    pipe = pipeline(connections=250)
    maps = {"connections": {"profile_image_url": None, "name": "md5(name)"}}
    pipe.env.update(
        {
            "TAP_LINKEDIN_CONNECTIONS_STREAM_MAPS": json.dumps(maps),
            "TAP_LINKEDIN_CONNECTIONS_FLATTENING_ENABLED": "true",
            "TAP_LINKEDIN_CONNECTIONS_FLATTENING_MAX_DEPTH": "2",
        }
    )
    pipe.meltano("run", "tap-linkedin-connections", "target-csv")

    rows = pipe.csv_rows()
    source = {c["entity_urn"]: c for c in pipe.sandbox.connections()}
    assert len(rows) == 250
    assert list(rows[0]) == [
        *(name for name in TAP_FIELDS if name != "profile_image_url"),
        *HISTORY_FIELDS,
        *MEMORY_FIELDS,
    ]
    for row in rows:
        original = source[row["entity_urn"]]
        assert row["name"] == hashlib.md5(original["name"].encode()).hexdigest()
        assert row["last_name"] == original["last_name"]


# Other loaders: the README lists them with these row counts.


def test_jsonl_lands_every_connection(pipeline: t.Callable[..., Pipeline]) -> None:
    pipe = pipeline()
    (pipe.workdir / "jsonl").mkdir()
    pipe.meltano("run", "tap-linkedin-connections", "target-jsonl")
    lines = (pipe.workdir / "jsonl" / "connections.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in lines.splitlines()]
    assert len(rows) == CONNECTIONS
    assert _urns(rows) == _urns(pipe.sandbox.connections())


def test_duckdb_with_its_pin_lands_every_connection(pipeline: t.Callable[..., Pipeline]) -> None:
    """target-duckdb 0.8.0 loses a row per batch with duckdb >= 1.1; the pin keeps all."""
    pipe = pipeline()
    pipe.meltano("run", "tap-linkedin-connections", "target-duckdb")
    python = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    query = (
        "import duckdb, json, sys\n"
        "db = duckdb.connect(sys.argv[1], read_only=True)\n"
        # The database file is named linkedin too: catalog.schema.table.
        "rows = db.execute('SELECT entity_urn FROM linkedin.linkedin.connections').fetchall()\n"
        "print(json.dumps([r[0] for r in rows]))\n"
    )
    done = subprocess.run(
        [python, "-c", query, str(pipe.workdir / "linkedin.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    urns = json.loads(done.stdout)
    assert len(urns) == CONNECTIONS
    assert set(urns) == _urns(pipe.sandbox.connections())


# Settings through the environment, --test, the Hub definition


#: A value for every tap setting, as a user would export it, and what the tap must get.
#: An export written for the tests (invented people): see tests/export_fixture.py.
EXPORT_FIXTURE = ROOT / "tests" / "fixtures" / "linkedin-export" / "Connections.csv"

ENV_SETTINGS: dict[str, tuple[str, t.Any]] = {
    "keyword": ("", None),
    "sort_type": ("RECENTLY_ADDED", "RECENTLY_ADDED"),
    "page_size": ("100", 100),
    # Number settings reach the tap as text (kind: string), which it reads as numbers.
    "max_deleted_fraction": ("0.25", "0.25"),
    "poll_interval_min_seconds": ("0.05", "0.05"),
    "poll_interval_max_seconds": ("0.5", "0.5"),
    "task_timeout_seconds": ("30", "30"),
    "max_task_attempts": ("2", 2),
    "request_timeout_seconds": ("9.5", "9.5"),
    "max_request_attempts": ("4", 4),
    "retry_initial_wait_seconds": ("0.1", "0.1"),
    "retry_max_wait_seconds": ("3", "3"),
    "max_tasks_in_flight": ("1", 1),
    "max_tasks_per_hour": ("500", 500),
    "max_tasks_per_day": ("1000", 1000),
    "task_spacing_min_seconds": ("0", "0"),
    "task_spacing_max_seconds": ("0.01", "0.01"),
    "active_hours": ("", None),
    "timezone": ("Europe/Paris", "Europe/Paris"),
    "pickup_timeout_seconds": ("600", "600"),
    "max_tasks_per_run": ("50", 50),
    "full_refresh": ("true", True),
    "removed_connections": ("delete", "delete"),
    "progress_interval_seconds": ("5", "5"),
    "stream_maps": ('{"connections": {"headline": null}}', {"connections": {"headline": None}}),
    "stream_map_config": ('{"a": 1}', {"a": 1}),
    "faker_config": ('{"locale": "en_US"}', {"locale": "en_US"}),
    "flattening_enabled": ("false", False),
    "flattening_max_depth": ("1", 1),
    "flattening_max_key_length": ("60", 60),
    "flattening_separator": ("__", "__"),
    "linkedin_export": (str(EXPORT_FIXTURE), str(EXPORT_FIXTURE)),
    "linkedin_export_emails": ("true", True),
    "max_profile_fetches_per_day": ("20", 20),
    "profile_refresh_days": ("30", 30),
}


def test_every_setting_works_through_environment_variables(
    pipeline: t.Callable[..., Pipeline],
) -> None:
    """Numbers included, fractions too: Meltano 4.4 crashed on kind: decimal."""
    # task_ledger comes from the environment too: the pipeline's own (see Pipeline).
    # accounts: test_two_accounts_in_one_table_keep_each_others_rows
    settings = set(ENV_SETTINGS) | {"api_key", "accounts", "api_url", "task_ledger"}
    assert settings == set(_about()["settings"]["properties"])
    pipe = pipeline(connections=150)
    pipe.env.update(
        {f"TAP_LINKEDIN_CONNECTIONS_{name.upper()}": raw for name, (raw, _) in ENV_SETTINGS.items()}
    )
    dumped = json.loads(pipe.meltano("invoke", "--dump=config", "tap-linkedin-connections").stdout)
    for name, (_, expected) in ENV_SETTINGS.items():
        if expected is not None:
            assert dumped[name] == expected, name
            assert type(dumped[name]) is type(expected), name

    pipe.meltano("run", "tap-linkedin-connections", "target-csv", timeout=120)
    rows = pipe.csv_rows()
    assert len(rows) == 150
    assert "headline" not in rows[0]  # the stream map from the environment applied


def test_meltano_invoke_test_checks_the_connection_without_a_task(
    pipeline: t.Callable[..., Pipeline],
) -> None:
    pipe = pipeline(connections=10)
    done = pipe.meltano("invoke", "tap-linkedin-connections", "--test")
    assert "connection test passed" in done.stderr
    assert pipe.sandbox.stats()["tasks_created"] == 0

    pipe.env["TAP_LINKEDIN_CONNECTIONS_API_KEY"] = "wrong-key"
    failed = subprocess.run(
        [str(pipe.meltano_bin), "invoke", "tap-linkedin-connections", "--test"],
        cwd=pipe.project,
        env=pipe._base_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode != 0
    assert "rejected the API key (HTTP 401" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert pipe.sandbox.stats()["tasks_created"] == 0

    # What the README says `meltano config test` costs: it syncs until a first record.
    del pipe.env["TAP_LINKEDIN_CONNECTIONS_API_KEY"]
    pipe.meltano("config", "test", "tap-linkedin-connections")
    assert pipe.sandbox.stats()["tasks_created"] == 1


def test_the_hub_file_adds_the_tap_to_a_new_project(meltano_bin: Path, tmp_path: Path) -> None:
    """The README's `meltano add --from-ref` line, in an empty project (no install)."""
    project = tmp_path / "new-project"
    project.mkdir()
    (project / "meltano.yml").write_text(
        'requires_meltano: ">=4.4"\nproject_id: 7f0c2f5e-0b39-4a43-9a0e-1b7d3c1e2a11\n'
        "send_anonymous_usage_stats: false\ndefault_environment: dev\n"
        "environments:\n  - name: dev\n",
        encoding="utf-8",
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MELTANO_")},
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    hub_file = ROOT / "hub" / "tap-linkedin-connections.yml"
    done = subprocess.run(
        [
            str(meltano_bin),
            "add",
            "--plugin-type",
            "extractor",
            "tap-linkedin-connections",
            "--from-ref",
            str(hub_file),
            "--no-install",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    added = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))
    extractor = added["plugins"]["extractors"][0]
    assert extractor["name"] == "tap-linkedin-connections"
    assert extractor["pip_url"] == "tap-linkedin-connections"
    listed = subprocess.run(
        [str(meltano_bin), "config", "list", "tap-linkedin-connections"],
        cwd=project,
        env={**env, "TAP_LINKEDIN_CONNECTIONS_TASK_TIMEOUT_SECONDS": "240"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "task_timeout_seconds [env: TAP_LINKEDIN_CONNECTIONS_TASK_TIMEOUT_SECONDS]" in (
        listed.stdout
    )


# The dbt example


@pytest.fixture(scope="module")
def dbt_bin() -> Path:
    path = Path(os.environ.get("DBT_BIN") or ROOT / ".venv-dbt" / "bin" / "dbt")
    if not path.exists():
        unavailable(f"no dbt at {path}: run python3 scripts/test.py, or set DBT_BIN")
    return path


def _dbt(dbt_bin: Path, workdir: Path, source_schema: str, *args: str) -> None:
    project = ROOT / "examples" / "dbt"
    env = {
        **os.environ,
        "PGHOST": PG["host"],
        "PGPORT": str(PG["port"]),
        "PGUSER": PG["user"],
        "PGPASSWORD": PG["password"],
        "PGDATABASE": PG["dbname"],
        "LINKEDIN_SCHEMA": source_schema,
        "DBT_SCHEMA": f"{source_schema}_dbt",
    }
    done = subprocess.run(
        [
            str(dbt_bin),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(workdir / "dbt-target"),
            "--log-path",
            str(workdir / "dbt-logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"dbt {' '.join(args)}:\n{done.stdout[-4000:]}"


# The dbt example's test: tests/test_e2e_history.py (it builds from the events).


def test_a_killed_pipeline_is_rerun_without_paying_twice(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """SIGKILL on `meltano run` mid-pass: Meltano keeps no state, the ledger does.

    The rerun (with --force, as Meltano asks after a killed run) polls the tasks the
    killed run created instead of creating them again: at most the task in flight at
    the kill is paid twice.
    """
    pipe = pipeline(work_time=0.15)
    pipe.env["TAP_LINKEDIN_CONNECTIONS_PAGE_SIZE"] = "50"
    pages = tasks_for_full_pass(CONNECTIONS, 50)  # pages overlap (passes.py)
    killed = subprocess.Popen(
        [str(pipe.meltano_bin), "run", "tap-linkedin-connections", "target-postgres"],
        cwd=pipe.project,
        env=pipe._base_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: meltano, tap and target
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and killed.poll() is None:
            if pipe.sandbox.stats()["tasks_by_status"]["completed"] >= pages // 2:
                break
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    before = pipe.sandbox.stats()["tasks_created"]
    assert pages // 2 <= before < pages, "the pipeline was not killed mid-pass"

    pipe.meltano("run", "--force", "tap-linkedin-connections", "target-postgres")

    rows = _pg_rows(pipe.schema)
    assert set(rows) == _urns(pipe.sandbox.connections())
    created = pipe.sandbox.stats()["tasks_created"]
    print(f"killed after {before} tasks; killed + rerun: {created} tasks for {pages} pages")
    assert created <= pages + 1
    rerun_log = (pipe.workdir / f"meltano-{pipe.runs}.log").read_text(encoding="utf-8")
    assert "found in the task ledger, instead of creating one" in rerun_log


# Profiles: opt-in through Meltano's selection


def _hub_style_project(pipe: Pipeline) -> Path:
    """A project as `meltano add` from the Hub makes it: the extractor's definition in a
    lock file (hub/tap-linkedin-connections.yml, its `select` included), and no `select`
    of the project's own. Its pip_url is the project copy's, so the installed plugin
    serves it as is."""
    project = pipe.workdir / "hub-style"
    (project / "plugins" / "extractors").mkdir(parents=True)
    definition = yaml.safe_load((ROOT / "hub" / "tap-linkedin-connections.yml").read_text())
    lock = (
        project
        / "plugins"
        / "extractors"
        / "tap-linkedin-connections--tap-linkedin-connections.lock"
    )
    lock.write_text(json.dumps({**definition, "plugin_type": "extractors"}), encoding="utf-8")
    copied = yaml.safe_load((pipe.project / "meltano.yml").read_text(encoding="utf-8"))
    jsonl = next(p for p in copied["plugins"]["loaders"] if p["name"] == "target-jsonl")
    (project / "meltano.yml").write_text(
        yaml.safe_dump(
            {
                "requires_meltano": ">=4.4",
                "project_id": str(uuid.uuid4()),
                "send_anonymous_usage_stats": False,
                "default_environment": "dev",
                "environments": [{"name": "dev"}],
                "plugins": {
                    "extractors": [
                        {
                            "name": "tap-linkedin-connections",
                            "variant": "tap-linkedin-connections",
                            "pip_url": "-e .",
                        }
                    ],
                    "loaders": [jsonl],
                },
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return project


def test_profiles_are_opt_in_through_meltano(pipeline: t.Callable[..., Pipeline]) -> None:
    """Meltano selects every stream of a plugin that says nothing; the definition's
    `select` keeps the profiles out. Then a project that selects them gets them."""
    pipe = pipeline(connections=250)
    pipe.env.update(
        {
            "TAP_LINKEDIN_CONNECTIONS_MAX_TASKS_PER_DAY": "0",
            "TAP_LINKEDIN_CONNECTIONS_TASK_SPACING_MIN_SECONDS": "0",
            "TAP_LINKEDIN_CONNECTIONS_TASK_SPACING_MAX_SECONDS": "0",
            "TAP_LINKEDIN_CONNECTIONS_POLL_INTERVAL_MIN_SECONDS": "0.005",
            "TAP_LINKEDIN_CONNECTIONS_POLL_INTERVAL_MAX_SECONDS": "0.05",
            "TAP_LINKEDIN_CONNECTIONS_MAX_PROFILE_FETCHES_PER_DAY": "5",
        }
    )
    jsonl = pipe.workdir / "jsonl"
    jsonl.mkdir()

    def profile_tasks() -> int:
        tasks = pipe.sandbox.stats()["tasks"]
        return sum(1 for task in tasks if task["input"].get("task_type") == "agent_profile_fetch")

    # This repository's meltano.yml: its definition selects connections.* only.
    plan = pipe.meltano("invoke", "tap-linkedin-connections", "--plan").stdout
    assert "profiles: not selected, no profile task" in plan
    pipe.meltano("run", "tap-linkedin-connections", "target-jsonl")
    assert profile_tasks() == 0
    assert not (jsonl / "profiles.jsonl").exists()
    rows = (jsonl / "connections.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 250

    # A project with no select rule of its own, the definition from the Hub.
    hub_style = _hub_style_project(pipe)
    pipe.project, project = hub_style, pipe.project
    try:
        pipe.meltano("run", "tap-linkedin-connections", "target-jsonl")
        assert profile_tasks() == 0
        assert not (jsonl / "profiles.jsonl").exists()

        # Selected, they come: max_profile_fetches_per_day of them.
        selected = json.dumps(["connections.*", "profiles.*", "job_changes.*"])
        pipe.meltano(
            "run",
            "tap-linkedin-connections",
            "target-jsonl",
            env={"TAP_LINKEDIN_CONNECTIONS__SELECT": selected},
        )
    finally:
        pipe.project = project
    assert profile_tasks() == 5
    profiles = (jsonl / "profiles.jsonl").read_text(encoding="utf-8").splitlines()
    newest = [str(c["public_identifier"]) for c in pipe.sandbox.connections()[:5]]
    assert [json.loads(line)["public_identifier"] for line in profiles] == newest


def test_contacts_who_reconnect_during_a_full_refresh_keep_their_rows(
    pipeline: t.Callable[..., Pipeline], pg_available: None
) -> None:
    """Five contacts re-connect from the part of the list the full refresh has not read
    yet: they move to the top, which it read already. Its ACTIVATE_VERSION must not
    delete them (issue 17, point 1; before: the five live rows were deleted)."""
    pipe = pipeline()
    pipe.meltano("run", "linkedin-full-refresh-to-postgres")
    assert len(_pg_rows(pipe.schema)) == CONNECTIONS
    done = pipe.sandbox.stats()["tasks_created"]  # tasks are counted from the start
    for i, task in enumerate((3, 5, 7, 9, 11)):
        pipe.sandbox.schedule_change(done + task, reconnect_positions=[CONNECTIONS - 10 - i])

    pipe.meltano("run", "linkedin-full-refresh-to-postgres")

    rows = _pg_rows(pipe.schema)
    assert set(rows) == _urns(pipe.sandbox.connections())
    state = _bookmark(pipe.state(FULL_REFRESH_STATE_ID))
    assert state["table"]["activated"] is True
    # Every row carries the version just activated: the five were sent again under it.
    assert {row["_sdc_table_version"] for row in rows.values()} == {state["table"]["version"]}
    assert pipe.sandbox.stats()["tasks_created"] - done == tasks_for_full_pass(CONNECTIONS, 100)


@pytest.mark.parametrize("first_pass", [True, False], ids=["first-pass", "later-pass"])
def test_a_page_short_in_the_middle_of_the_list_deletes_no_row(
    pipeline: t.Callable[..., Pipeline], pg_available: None, first_pass: bool
) -> None:
    """The page at offset 1067 comes back one row short (a row OutX drops): it is not the
    end of the list (issue 17, point 2; before: the 68 connections after it were never
    read, ACTIVATE_VERSION was sent, and on a later pass their rows were deleted)."""
    pipe = pipeline()
    if not first_pass:
        pipe.meltano("run", "linkedin-full-refresh-to-postgres")
        assert len(_pg_rows(pipe.schema)) == CONNECTIONS
    pipe.sandbox.spoil_page(1067, "drop_row")

    pipe.meltano("run", "linkedin-full-refresh-to-postgres")

    rows = _pg_rows(pipe.schema)
    assert set(rows) == _urns(pipe.sandbox.connections())
    state = _bookmark(pipe.state(FULL_REFRESH_STATE_ID))
    assert state["table"]["activated"] is True
    assert state["bookmark"]["total"] == CONNECTIONS

"""A new user's path, by the README's commands alone: from a wheel to rows in Meltano.

The package is built from this repository into a wheel; then the README's marked shell
blocks (``<!-- user-path ... -->``: the five-minute try, then a new Meltano project) run
in order, as one bash script, in an empty folder: a fresh virtualenv with the wheel, the
sandbox, three runs of the tap, `meltano init`, the README's snippet, `meltano add`,
`meltano install`, `meltano run`. What the test changes, and why:

- ``pip install tap-linkedin-connections`` and the snippet's ``pip_url`` name the wheel:
  the package is not on PyPI yet (the README says to do the same);
- the sandbox gets a free port instead of 8765, so that the test can run beside others;
- Meltano Hub is a local stand-in (``MELTANO_HUB_URL``) serving the target-csv and
  target-postgres definitions of this repository's meltano.yml: the real Hub is not
  reachable here.

Everything else runs as written, and the test checks what the README says comes out.
The XDG directories (Meltano's logs, caches) are the test's own; uv's and pip's caches
are reused, so that installing from PyPI takes seconds.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import find_meltano, unavailable

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_PORT = "8765"
#: The line of the README's first block that installs the package from PyPI.
PIP_INSTALL = "pip install tap-linkedin-connections"
#: The README's comment that stands for appending the snippet.
APPEND_SNIPPET = "# append the snippet above to meltano.yml, then:"


@pytest.fixture(scope="module")
def meltano_bin() -> Path:
    path = find_meltano()
    for tool in ("curl", "jq", "bash"):
        if shutil.which(tool) is None:
            unavailable(f"the README's commands need {tool}")
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, built from this repository as the release workflow builds it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    (built,) = out.glob("tap_linkedin_connections-*-py3-none-any.whl")
    return built


# A stand-in for Meltano Hub: the loader index and one definition.


def _hub_definition(name: str) -> dict[str, t.Any]:
    """A loader as this repository's meltano.yml declares it, as the Hub serves it."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    plugin = next(p for p in project["plugins"]["loaders"] if p["name"] == name)
    return {key: value for key, value in plugin.items() if key != "config"}


class _Hub(BaseHTTPRequestHandler):
    api = "/meltano/api/v1/plugins/loaders"
    loaders = ("target-csv", "target-postgres")

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_port}{self.api}"
        answers: dict[str, t.Any] = {
            f"{self.api}/index": {
                name: {
                    "default_variant": "meltanolabs",
                    "logo_url": None,
                    "variants": {"meltanolabs": {"ref": f"{base}/{name}--meltanolabs"}},
                }
                for name in self.loaders
            }
        }
        for name in self.loaders:
            answers[f"{self.api}/{name}--meltanolabs"] = _hub_definition(name)
        answer = answers.get(self.path.split("?")[0])
        body = json.dumps(answer if answer is not None else {"detail": "Not Found"}).encode()
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: t.Any) -> None:
        pass


@pytest.fixture(scope="module")
def hub_url() -> t.Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# The README's path as a script


def _free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def user_path_script(readme: str, wheel: Path, port: str, stats: Path) -> str:
    """The README's marked blocks as one bash script, with the substitutions above."""
    snippet = re.search(r"<!-- user-path:snippet[^>]*-->\n```yaml\n(.*?)^```$", readme, re.M | re.S)
    assert snippet is not None, "README.md has no snippet marked <!-- user-path:snippet -->"
    blocks = re.findall(
        r"<!-- user-path:[^>]*runs this block -->\n```bash\n(.*?)^```$", readme, re.M | re.S
    )
    assert len(blocks) >= 6, "README.md has lost its marked blocks"
    script = "\n".join(blocks)
    assert PIP_INSTALL in script.splitlines()
    assert APPEND_SNIPPET in script
    assert "pip_url: tap-linkedin-connections==" in snippet.group(1)
    yaml_text = re.sub(
        r"pip_url: tap-linkedin-connections==\S+", f"pip_url: {wheel}", snippet.group(1)
    )
    script = "\n".join(
        f"pip install '{wheel}'" if line == PIP_INSTALL else line for line in script.splitlines()
    )
    script = script.replace(APPEND_SNIPPET, f"cat >> meltano.yml <<'SNIPPET'\n{yaml_text}SNIPPET")
    script = script.replace(
        "tap-linkedin-connections-sandbox &", f"tap-linkedin-connections-sandbox --port {port} &"
    )
    script = script.replace(SANDBOX_PORT, port)
    # What the test reads afterwards: the sandbox's count of tasks; then the sandbox stops.
    ask = f"curl -s -H 'x-api-key: sandbox-api-key' http://127.0.0.1:{port}/_sandbox/stats"
    return f"set -eo pipefail -x\n{script}\n{ask} > '{stats}'\nkill %1\n"


def _environment(folder: Path, meltano_bin: Path, hub_url: str) -> dict[str, str]:
    """The caller's environment, less its Meltano and tap settings; meltano on PATH; the
    XDG directories in ``folder``; the package caches reused."""
    drop = ("MELTANO_", "TAP_LINKEDIN_CONNECTIONS", "TARGET_CSV_", "VIRTUAL_ENV", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    uv = meltano_bin.parent / "uv"
    if uv.exists():
        cache = subprocess.run(
            [str(uv), "cache", "dir"], capture_output=True, text=True, check=False
        )
        if cache.returncode == 0 and cache.stdout.strip():
            env["UV_CACHE_DIR"] = cache.stdout.strip()
    pip_cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    )
    if pip_cache.returncode == 0 and pip_cache.stdout.strip():
        env["PIP_CACHE_DIR"] = pip_cache.stdout.strip()
    tools = folder / "tools"
    tools.mkdir()
    (tools / "meltano").symlink_to(meltano_bin)
    for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        (folder / name).mkdir()
        env[name] = str(folder / name)
    env.update(
        {
            "PATH": f"{env.get('PATH', '')}{os.pathsep}{tools}",
            "MELTANO_HUB_URL": hub_url,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return env


def _records(path: Path) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_wheel_takes_a_new_user_to_sandbox_rows_in_a_new_meltano_project(
    tmp_path: Path, meltano_bin: Path, wheel: Path, hub_url: str
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    script = user_path_script(readme, wheel, _free_port(), tmp_path / "sandbox-stats.json")
    folder = tmp_path / "user"
    folder.mkdir()
    (tmp_path / "user-path.sh").write_text(script, encoding="utf-8")
    process = subprocess.Popen(
        ["bash", str(tmp_path / "user-path.sh")],
        cwd=folder,
        env=_environment(tmp_path, meltano_bin, hub_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the sandbox it starts goes with it
    )
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the sandbox, if the script stopped early
    (tmp_path / "user-path.log").write_text(stdout + "\n" + stderr, encoding="utf-8")
    assert process.returncode == 0, (
        f"the README's path stopped (log in {tmp_path / 'user-path.log'}):\n{stderr[-4000:]}"
    )

    # Step 4: every connection, in 15 tasks; 5: 150 new ones in 2, each an `added`
    # event; 6: 1,381 in 17, and the 3 removed sent marked, each a `removed` event.
    def records(name: str, stream: str = "connections") -> list[dict[str, t.Any]]:
        return [
            m["record"]
            for m in _records(folder / name)
            if m["type"] == "RECORD" and m["stream"] == stream
        ]

    assert len(records("first.jsonl")) == 1234
    assert records("first.jsonl", "connection_events") == []
    assert len(records("second.jsonl")) == 150
    assert [e["event"] for e in records("second.jsonl", "connection_events")] == ["added"] * 150
    full = _records(folder / "full.jsonl")
    assert len(records("full.jsonl")) == 1384
    assert sum(r["is_connected"] is False for r in records("full.jsonl")) == 3
    assert [e["event"] for e in records("full.jsonl", "connection_events")] == ["removed"] * 3
    assert [m["type"] for m in full if m["type"] == "ACTIVATE_VERSION"] == ["ACTIVATE_VERSION"]
    printed = stdout.split()
    for count in ("1234", "150", "1384", "1381", "3"):
        assert count in printed, count
    summaries = re.findall(r"This run: (\d+) connections emitted, (\d+) tasks created", stderr)
    assert summaries == [("1234", "15"), ("150", "2"), ("1381", "17"), ("1381", "17")]

    # The Meltano project: the CSV the README points at, and the state Meltano kept.
    project = folder / "linkedin-try"
    with (project / "connections.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1381
    assert {row["account"] for row in rows} == {"default"}
    assert len({row["entity_urn"] for row in rows}) == 1381
    assert '"singer_state"' in stdout
    tasks = json.loads((tmp_path / "sandbox-stats.json").read_text(encoding="utf-8"))["tasks"]
    assert len(tasks) == 15 + 2 + 17 + 17
    # Nothing outside the folders the README names: the sandbox's ledger stayed in them.
    assert (folder / "sandbox-ledger.sqlite").exists()
    assert (project / ".meltano" / "sandbox-ledger.sqlite").exists()
    assert not list((tmp_path / "XDG_STATE_HOME").glob("tap-linkedin-connections*"))


def _meltano(
    meltano_bin: Path, args: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(meltano_bin), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done


def test_the_hub_definition_adds_every_setting_and_takes_numbers_as_text(
    tmp_path: Path, meltano_bin: Path, wheel: Path, hub_url: str
) -> None:
    """The README's other way in: `meltano add --from-ref` the Hub definition (this
    repository's copy, as the README says for a clone), its pip_url set to the wheel, then
    `meltano install`; a fraction given as text through the environment reaches the tap."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (add_line,) = [line for line in readme.splitlines() if "--from-ref https://" in line]
    url = re.search(r"--from-ref (\S+)", add_line)
    assert url is not None
    add = add_line.replace(url.group(1), str(ROOT / "hub" / "tap-linkedin-connections.yml"))
    env = _environment(tmp_path, meltano_bin, hub_url)
    _meltano(meltano_bin, ["init", "project"], tmp_path, env)
    project = tmp_path / "project"
    _meltano(meltano_bin, add.split()[1:], project, env)

    config = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = config["plugins"]["extractors"]
    hub = yaml.safe_load((ROOT / "hub" / "tap-linkedin-connections.yml").read_text())
    assert tap["pip_url"] == "tap-linkedin-connections"  # the README: set it before install
    assert [s["name"] for s in tap["settings"]] == [s["name"] for s in hub["settings"]]
    text = (project / "meltano.yml").read_text(encoding="utf-8")
    (project / "meltano.yml").write_text(
        text.replace("pip_url: tap-linkedin-connections\n", f"pip_url: {wheel}\n"),
        encoding="utf-8",
    )
    _meltano(meltano_bin, ["install", "tap-linkedin-connections"], project, env)

    with Sandbox(connections=10, api_key="sandbox-api-key") as sandbox:
        env.update(
            {
                "TAP_LINKEDIN_CONNECTIONS_API_URL": sandbox.url,
                "TAP_LINKEDIN_CONNECTIONS_API_KEY": "sandbox-api-key",
                "TAP_LINKEDIN_CONNECTIONS_MAX_DELETED_FRACTION": "0.05",
                "TAP_LINKEDIN_CONNECTIONS_REQUEST_TIMEOUT_SECONDS": "7.5",
                "TAP_LINKEDIN_CONNECTIONS_TASK_LEDGER": str(tmp_path / "ledger.sqlite"),
            }
        )
        dumped = _meltano(
            meltano_bin, ["invoke", "--dump=config", "tap-linkedin-connections"], project, env
        )
        tested = _meltano(
            meltano_bin, ["invoke", "tap-linkedin-connections", "--test"], project, env
        )
        created = len(sandbox.stats()["tasks"])
    resolved = json.loads(dumped.stdout)
    assert resolved["max_deleted_fraction"] == "0.05"
    assert resolved["request_timeout_seconds"] == "7.5"
    assert "connection test passed" in tested.stdout + tested.stderr
    assert created == 0  # --test creates no task


PG = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": os.environ.get("PGUSER", "postgres"),
    "dbname": os.environ.get("PGDATABASE", "postgres"),
}


@pytest.fixture
def passwordless_schema() -> t.Iterator[str]:
    """A schema of the test's own on a server that lets PGUSER in without a password."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is in the dev group")
    schema = f"readme_{os.getpid()}_{_free_port()}"
    try:
        connection = psycopg.connect(
            **PG, password="", autocommit=True, connect_timeout=3
        )  # no PGPASSWORD: only a trust login gets in
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL on {PG['host']}:{PG['port']} with a passwordless login ({exc})")
    with connection:
        yield schema
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _project_with_the_snippet(
    folder: Path, meltano_bin: Path, env: dict[str, str], wheel: Path, api_url: str
) -> Path:
    """`meltano init`, then the README's snippet: the wheel as pip_url, the sandbox's URL."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"<!-- user-path:snippet[^>]*-->\n```yaml\n(.*?)^```$", readme, re.M | re.S)
    assert snippet is not None
    text = re.sub(r"pip_url: tap-linkedin-connections==\S+", f"pip_url: {wheel}", snippet.group(1))
    _meltano(meltano_bin, ["init", "project"], folder, env)
    with (folder / "project" / "meltano.yml").open("a", encoding="utf-8") as handle:
        handle.write(text.replace("http://127.0.0.1:8765", api_url))
    return folder / "project"


def _readme_postgres_commands(schema: str) -> list[list[str]]:
    """The README's PostgreSQL block up to its runs, as written but for this server's host,
    user and database and the test's schema; the password line is left out (trust)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^### Into PostgreSQL\n.*?```bash\n(.*?)^```$", readme, re.M | re.S)
    assert block is not None
    assert 'meltano config set target-postgres password ""' in readme
    ours = {"host": PG["host"], "user": PG["user"], "database": PG["dbname"]}
    ours["default_target_schema"] = schema
    commands = []
    for line in block.group(1).splitlines():
        argv = shlex.split(line, comments=True)
        if argv[:1] != ["meltano"] or "run" in argv:
            continue
        if argv[1:3] == ["config", "set"]:
            argv[5] = ours[argv[4]]
        commands.append(argv[1:])
    assert commands[0] == ["add", "target-postgres", "--variant", "meltanolabs"]
    return [*commands, ["config", "set", "target-postgres", "port", PG["port"]]]


def _spacing(meltano_bin: Path, project: Path, env: dict[str, str], seconds: str) -> None:
    for bound in ("task_spacing_min_seconds", "task_spacing_max_seconds"):
        argv = ["config", "set", "tap-linkedin-connections--sandbox", bound, seconds]
        _meltano(meltano_bin, argv, project, env)


def test_the_postgresql_recipe_on_a_server_that_asks_for_no_password(
    tmp_path: Path, meltano_bin: Path, wheel: Path, hub_url: str, passwordless_schema: str
) -> None:
    """The README's PostgreSQL block with a trust login: without a password setting
    target-postgres 0.8.1 refuses to start; with the README's `password ""` it loads; and
    a task the failed run created is polled by the rerun, not created again."""
    env = _environment(tmp_path, meltano_bin, hub_url)
    env.pop("PGPASSWORD", None)
    run = ["run", "tap-linkedin-connections--sandbox", "target-postgres"]
    with Sandbox(connections=1234, api_key="sandbox-api-key", pickup_delay=0.05) as sandbox:
        project = _project_with_the_snippet(tmp_path, meltano_bin, env, wheel, sandbox.url)
        for argv in _readme_postgres_commands(passwordless_schema):  # no password (trust)
            _meltano(meltano_bin, argv, project, env)
        # The failing first run paces its tasks as for a real account (3 s apart here), so
        # that, as there, the loader's failure stops it after its first task or two.
        _spacing(meltano_bin, project, env, "3")
        failed = subprocess.run(
            [str(meltano_bin), *run],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        created_by_failed_run = len(sandbox.stats()["tasks"])
        _spacing(meltano_bin, project, env, "0")
        _meltano(meltano_bin, ["config", "set", "target-postgres", "password", ""], project, env)
        rerun = _meltano(meltano_bin, run, project, env)
        created = len(sandbox.stats()["tasks"])

    assert failed.returncode != 0
    assert "Need either the sqlalchemy_url to be set or host, port, user, password" in failed.stderr
    assert (project / ".env").read_text(encoding="utf-8").strip() == "TARGET_POSTGRES_PASSWORD=''"
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(**PG, password="", autocommit=True) as connection:
        query = f'SELECT count(*) FROM "{passwordless_schema}".connections'
        (rows,) = connection.execute(query).fetchone()
    assert rows == 1234
    # The failed run had paid for a task; the rerun polled it from the ledger: 15 in all,
    # the minimum for 1,234 connections.
    assert 1 <= created_by_failed_run < 15
    assert created == 15, (created_by_failed_run, created)
    polled = re.search(r"(\d+) tasks re-polled from the task ledger", rerun.stderr)
    assert polled is not None
    assert int(polled.group(1)) >= 1

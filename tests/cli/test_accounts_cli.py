"""Several accounts, as only the CLI shows them: settings from the environment, --test for
every account, and no key in any output at debug level."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import (
    FAST_SETTINGS,
    KEYS,
    TapRun,
    accounts_config,
    assert_no_key_anywhere,
    records_of,
    run_tap,
)
from tests.scripted_server import Answer, ScriptedServer


def test_accounts_from_the_environment_as_json(two_accounts, tmp_path):
    accounts = accounts_config(two_accounts)["accounts"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_LINKEDIN_CONNECTIONS_")},
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "TAP_LINKEDIN_CONNECTIONS_ACCOUNTS": json.dumps(accounts),
    }
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({**FAST_SETTINGS, "task_ledger": str(tmp_path / "ledger")}))
    command = [sys.executable, "-m", "tap_linkedin_connections", "--config", str(settings)]
    done = subprocess.run(
        [*command, "--config", "ENV"], capture_output=True, text=True, env=env, check=False
    )
    run = TapRun(done.returncode, done.stdout, done.stderr)
    assert run.returncode == 0, run.stderr
    assert {r["account"] for r in run.records} == {"sales", "recruiting"}
    assert_no_key_anywhere(run)

    env["TAP_LINKEDIN_CONNECTIONS_ACCOUNTS"] = json.dumps(accounts)[:-5]  # cut short
    broken = subprocess.run(
        [*command, "--config", "ENV"], capture_output=True, text=True, env=env, check=False
    )
    assert broken.returncode == 1
    assert broken.stderr.strip() == (
        "tap-linkedin-connections: error: TAP_LINKEDIN_CONNECTIONS_ACCOUNTS must be a JSON list"
    )


def test_the_connection_test_checks_every_account(two_accounts, tmp_path):
    two_accounts["recruiting"].configure(extension_active=False)
    run = run_tap(accounts_config(two_accounts), tmp_path, extra_args=["--test"])

    assert run.returncode == 1
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("tap-linkedin-connections:")]
    assert len(lines) == 2
    assert lines[0].startswith("tap-linkedin-connections: account 'sales': connection test passed")
    assert lines[1].startswith("tap-linkedin-connections: account 'recruiting': error: ")
    assert all(sandbox.stats()["tasks_created"] == 0 for sandbox in two_accounts.values())
    assert_no_key_anywhere(run)


def test_no_accounts_key_shows_even_when_outx_echoes_it_at_debug_level(make_sandbox, tmp_path):
    sales = make_sandbox(connections=150, seed=51, api_key=KEYS["sales"])
    echo = Answer(400, {"error": f"Invalid 'keyword': {KEYS['recruiting']}"})
    with ScriptedServer([echo], []) as recruiting:
        config = {
            **FAST_SETTINGS,
            "accounts": [
                {"name": "sales", "api_key": KEYS["sales"], "api_url": sales.url},
                {"name": "recruiting", "api_key": KEYS["recruiting"], "api_url": recruiting.url},
            ],
        }
        run = run_tap(config, tmp_path, env={"LOGLEVEL": "DEBUG"})

    assert run.returncode == 1
    assert "DEBUG" in run.stderr, "the run did not log at debug level"
    assert len(records_of(run, "sales")) == 150
    assert "Account 'recruiting' failed" in run.stderr
    assert_no_key_anywhere(run)

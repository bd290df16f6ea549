"""Several LinkedIn accounts in one run: labelled rows, side by side, failures kept apart.

Each account is a sandbox of its own (its own key, its own extension), reached through
the entry's ``api_url``, as two OutX teams would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

import pytest

from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import (
    FAST_SETTINGS,
    TapRun,
    bookmark,
    connected,
    expected_records,
    read_fields,
    run_tap,
)
from tests.scripted_server import Answer, ScriptedServer

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


@pytest.fixture
def two_accounts(make_sandbox: t.Callable[..., Sandbox]) -> dict[str, Sandbox]:
    """Two teams' sandboxes, of different sizes, each task taking 20 ms of extension time."""
    return {
        "sales": make_sandbox(connections=250, seed=21, api_key=KEYS["sales"], work_time=0.02),
        "recruiting": make_sandbox(
            connections=180, seed=22, api_key=KEYS["recruiting"], work_time=0.02
        ),
    }


def newest_first(sandbox: Sandbox) -> list[dict[str, t.Any]]:
    return sandbox.connections(sort_type="RECENTLY_ADDED")


def records_of(run: TapRun, account: str) -> list[dict[str, t.Any]]:
    """The account's rows of connections still there, without their history columns."""
    return read_fields(connected(r for r in run.records if r["account"] == account))


def summary_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "This run:" in line]


def assert_no_key_anywhere(run: TapRun) -> None:
    for key in KEYS.values():
        assert key not in run.stdout
        assert key not in run.stderr


def test_each_accounts_records_are_exact_and_labelled(two_accounts, tmp_path):
    run = run_tap(accounts_config(two_accounts), tmp_path)

    assert run.returncode == 0, run.stderr
    for name, sandbox in two_accounts.items():
        assert records_of(run, name) == expected_records(newest_first(sandbox), name)
    assert len(run.records) == 250 + 180
    (schema,) = run.of_type("SCHEMA")
    assert schema["key_properties"] == ["account", "entity_urn"]
    assert "account" in schema["schema"]["required"]

    # One table version for both, activated once, after every record of both.
    (activate,) = run.of_type("ACTIVATE_VERSION")
    kinds = [m["type"] for m in run.messages]
    assert kinds.index("ACTIVATE_VERSION") > max(i for i, k in enumerate(kinds) if k == "RECORD")
    assert {m["version"] for m in run.of_type("RECORD")} == {activate["version"]}

    state = bookmark(run.last_state)
    assert state["table"] == {"version": activate["version"], "activated": True}
    assert set(state["accounts"]) == {"sales", "recruiting"}
    assert state["accounts"]["sales"]["bookmark"]["total"] == 250
    assert state["accounts"]["recruiting"]["bookmark"]["identity"]["account"] == "recruiting"
    assert "bookmark" not in state  # the one-account form's place stays empty

    lines = summary_lines(run)
    assert len(lines) == 2
    assert any("account 'sales': This run: 250 connections emitted" in ln for ln in lines)
    assert all(ln.endswith("ACTIVATE_VERSION sent") for ln in lines)
    assert_no_key_anywhere(run)


def test_the_accounts_tasks_run_side_by_side(make_sandbox, tmp_path):
    # Two equal accounts of 5 pages each; each task holds its extension 100 ms.
    sandboxes = {
        name: make_sandbox(connections=450, seed=seed, api_key=KEYS[name], work_time=0.1)
        for name, seed in (("sales", 31), ("recruiting", 32))
    }
    run = run_tap(accounts_config(sandboxes), tmp_path)

    assert run.returncode == 0, run.stderr
    spans = {}
    for name, sandbox in sandboxes.items():
        created = [task["created_wall"] for task in sandbox.stats()["tasks"]]
        assert len(created) == 5
        spans[name] = (min(created), max(created))
    (first_start, first_end), (second_start, second_end) = spans.values()
    # Each account's tasks begin before the other's last one: they overlap in time.
    assert first_start < second_end
    assert second_start < first_end


def test_one_accounts_403_leaves_the_others_rows_and_the_next_run_completes(two_accounts, tmp_path):
    two_accounts["recruiting"].configure(extension_active=False)
    first = run_tap(accounts_config(two_accounts), tmp_path)

    assert first.returncode == 1
    assert "Traceback" not in first.stderr
    assert records_of(first, "sales") == expected_records(
        newest_first(two_accounts["sales"]), "sales"
    )
    assert records_of(first, "recruiting") == []
    (failed,) = [ln for ln in first.stderr.splitlines() if "failed:" in ln and "ERROR" in ln]
    assert "Account 'recruiting' failed: OutX cannot run tasks (HTTP 403" in failed
    assert first.stderr.strip().splitlines()[-1] == (
        "tap-linkedin-connections: error: 1 of 2 accounts failed ('recruiting'); the other "
        "accounts' connections were loaded"
    )
    # Nothing may be deleted while one account's rows are missing from the new version.
    assert first.of_type("ACTIVATE_VERSION") == []
    state = bookmark(first.last_state)
    version = state["table"]["version"]
    assert state["table"]["activated"] is False
    assert state["accounts"]["sales"]["bookmark"]["proved"] == version
    assert_no_key_anywhere(first)

    two_accounts["recruiting"].configure(extension_active=True)
    second = run_tap(accounts_config(two_accounts), tmp_path, state=first.last_state)

    assert second.returncode == 0, second.stderr
    assert records_of(second, "recruiting") == expected_records(
        newest_first(two_accounts["recruiting"]), "recruiting"
    )
    assert records_of(second, "sales") == []  # incremental: nothing new
    (activate,) = second.of_type("ACTIVATE_VERSION")
    assert activate["version"] == version
    assert {m["version"] for m in second.of_type("RECORD")} == {version}


def test_a_new_account_is_loaded_without_deleting_and_a_full_refresh_deletes_for_all(
    two_accounts, tmp_path
):
    sales_only = {"sales": two_accounts["sales"]}
    first = run_tap(accounts_config(sales_only), tmp_path)
    assert first.returncode == 0, first.stderr
    (first_activate,) = first.of_type("ACTIVATE_VERSION")

    # A second account joins: its first pass is a full one, under the version the sales
    # rows carry, so no row of either account can be deleted by it.
    second = run_tap(accounts_config(two_accounts), tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert records_of(second, "recruiting") == expected_records(
        newest_first(two_accounts["recruiting"]), "recruiting"
    )
    assert records_of(second, "sales") == []
    assert second.of_type("ACTIVATE_VERSION") == []
    assert {m["version"] for m in second.of_type("RECORD")} == {first_activate["version"]}

    # A full refresh re-reads every account under a new version, then activates it:
    # a connection removed from one account reaches the target, and only that one.
    two_accounts["recruiting"].remove_connections(positions=[0, 5])
    third = run_tap(
        accounts_config(two_accounts, full_refresh=True), tmp_path, state=second.last_state
    )
    assert third.returncode == 0, third.stderr
    for name, sandbox in two_accounts.items():
        assert records_of(third, name) == expected_records(newest_first(sandbox), name)
    (third_activate,) = third.of_type("ACTIVATE_VERSION")
    assert third_activate["version"] > first_activate["version"]


def test_entries_with_one_key_share_one_budget_and_other_keys_have_their_own(
    make_sandbox, tmp_path
):
    shared = make_sandbox(connections=1000, seed=41, api_key=KEYS["sales"])
    other = make_sandbox(connections=1000, seed=42, api_key=KEYS["recruiting"])
    config = {
        **FAST_SETTINGS,
        "max_tasks_per_day": 3,
        "accounts": [
            {"name": "sales-emea", "api_key": KEYS["sales"], "api_url": shared.url},
            {"name": "sales-us", "api_key": KEYS["sales"], "api_url": shared.url},
            {"name": "recruiting", "api_key": KEYS["recruiting"], "api_url": other.url},
        ],
    }
    run = run_tap(config, tmp_path)

    # The day's budget is spent: each account stops cleanly, to go on in a later run.
    assert run.returncode == 0, run.stderr
    assert shared.stats()["tasks_created"] == 3  # one LinkedIn account, one budget
    assert other.stats()["tasks_created"] == 3


INVALID_ACCOUNTS: list[tuple[t.Any, str]] = [
    (
        [{"name": "sales", "api_key": "k1"}, {"name": "sales", "api_key": "k2"}],
        "accounts entry 2 ('sales'): the name is used by an earlier entry",
    ),
    ([{"name": "sales"}], "accounts entry 1 ('sales'): 'api_key' is missing or empty"),
    ([{"name": "sales", "api_key": "  "}], "accounts entry 1 ('sales'): 'api_key' is missing"),
    ([{"api_key": "k1"}], "accounts entry 1: 'name' is missing or empty"),
    ([{"name": "", "api_key": "k1"}], "accounts entry 1: 'name' is missing or empty"),
    ([{"name": "sales\n", "api_key": "k1"}], "accounts entry 1: 'name' must be printable text"),
    (
        [{"name": "sales", "api_key": "k1\nX-Other: 1"}],
        "accounts entry 1 ('sales'): 'api_key' holds a control character",
    ),
    (
        [{"name": "sales", "api_key": "k1", "api_url": "http://api.outx.ai"}],
        "accounts entry 1 ('sales'): 'api_url' must use https",
    ),
    (
        [{"name": "sales", "api_key": "k1", "apikey": "k2"}],
        "accounts entry 1 ('sales'): only name, api_key, api_url, linkedin_export may be given",
    ),
    (["k1"], "accounts entry 1 must be an object with name and api_key"),
    ({"name": "sales"}, "'accounts' must be a list"),
]


@pytest.mark.parametrize(
    ("accounts", "message"), INVALID_ACCOUNTS, ids=[m for _, m in INVALID_ACCOUNTS]
)
def test_a_bad_entry_is_refused_in_one_line_naming_the_entry(tmp_path, accounts, message):
    with ScriptedServer([], []) as server:
        for entry in accounts if isinstance(accounts, list) else []:
            if isinstance(entry, dict) and "api_url" not in entry:
                entry["api_url"] = server.url
        run = run_tap({**FAST_SETTINGS, "accounts": accounts}, tmp_path)

    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    errors = [
        line
        for line in run.stderr.splitlines()
        if "ERROR" in line and "Config validation failed" not in line
    ]
    assert len(errors) == 1, run.stderr
    assert message in errors[0]
    assert server.received == [], "a request was made with an invalid config"
    for secret in ("k1", "k2"):
        assert f"{secret}'" not in run.stderr
        assert f'{secret}"' not in run.stderr


def test_an_account_name_may_be_in_any_script(make_sandbox, tmp_path):
    tokyo = make_sandbox(connections=30, seed=61, api_key=KEYS["sales"])
    run = run_tap(accounts_config({"東京 Vertrieb": tokyo}), tmp_path)
    assert run.returncode == 0, run.stderr
    assert {r["account"] for r in run.records} == {"東京 Vertrieb"}


def test_with_accounts_set_api_key_is_not_used(two_accounts, tmp_path):
    # Meltano passes a key kept in .env to every job, those with accounts too.
    config = {**accounts_config(two_accounts), "api_key": "outx-team-key-kept-in-dotenv"}
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr
    assert {r["account"] for r in run.records} == {"sales", "recruiting"}
    assert "Both api_key and accounts are set: api_key is not used" in run.stderr
    assert "outx-team-key-kept-in-dotenv" not in run.stderr


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

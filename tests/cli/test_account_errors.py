"""With ``accounts``, an error about a key or URL names the entry (position and name),
never the one-account ``api_key`` setting, and never the key."""

from __future__ import annotations

import typing as t

import pytest

from tap_linkedin_connections.accounts.threads import Accounts
from tap_linkedin_connections.outx.client import SettingNames
from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import API_KEY, FAST_SETTINGS, run_tap, tap_config
from tests.scripted_server import Answer, ScriptedServer

WRONG_KEY = "outx-team-key-0000aaaa1111bbbb2222cccc3333dddd"


def _accounts_config(url: str) -> dict[str, t.Any]:
    config = tap_config(url)
    del config["api_key"]
    config["accounts"] = [
        {"name": "sales", "api_key": API_KEY},
        {"name": "recruiting", "api_key": WRONG_KEY},
    ]
    return config


def test_test_names_the_entry_whose_key_was_rejected(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10)
    run = run_tap(_accounts_config(sandbox.url), tmp_path, extra_args=["--test"])
    assert run.returncode == 1
    (line,) = [ln for ln in run.stderr.splitlines() if "account 'recruiting'" in ln]
    assert line.endswith(
        "account 'recruiting': error: OutX rejected the API key (HTTP 401 (Invalid API Key)): "
        "set a valid team key in 'api_key' of accounts entry 2 ('recruiting')"
    )
    assert "TAP_LINKEDIN_CONNECTIONS_API_KEY" not in run.stderr
    assert WRONG_KEY not in run.stderr + run.stdout
    assert API_KEY not in run.stderr + run.stdout


def test_a_sync_names_the_entry_whose_key_was_rejected(
    make_sandbox: t.Callable[..., Sandbox], tmp_path
) -> None:
    sandbox = make_sandbox(connections=10)
    run = run_tap(_accounts_config(sandbox.url), tmp_path)
    assert run.returncode == 1
    assert len(run.records) == 10  # the other account was read
    (line,) = [ln for ln in run.stderr.splitlines() if "Account 'recruiting' failed" in ln]
    assert line.endswith("set a valid team key in 'api_key' of accounts entry 2 ('recruiting')")
    assert "TAP_LINKEDIN_CONNECTIONS_API_KEY" not in run.stderr
    assert WRONG_KEY not in run.stderr + run.stdout


def test_a_redirect_names_the_entry_s_own_url(tmp_path) -> None:
    with ScriptedServer([], [Answer(308, headers={"Location": "https://moved.example"})]) as moved:
        config = _accounts_config("http://127.0.0.1:9")
        config["accounts"] = [{"name": "sales", "api_key": API_KEY, "api_url": moved.url}]
        run = run_tap(config, tmp_path, extra_args=["--test"])
    assert run.returncode == 1
    (line,) = [ln for ln in run.stderr.splitlines() if "error:" in ln]
    assert "pointing to https://moved.example while polling a task" in line
    assert line.endswith("set 'api_url' of accounts entry 1 ('sales') to it")


def test_an_entry_without_its_own_url_names_both_places_it_may_come_from() -> None:
    names = SettingNames.of_entry("accounts entry 3 ('ops')", own_url=False)
    assert names.api_key == "'api_key' of accounts entry 3 ('ops')"
    assert names.api_url == "the 'api_url' setting (or 'api_url' of accounts entry 3 ('ops'))"
    config = {"api_url": "https://api.outx.ai", "accounts": [{"name": "ops", "api_key": "k"}]}
    (account,) = Accounts.from_config(config)
    assert account.settings == SettingNames.of_entry("accounts entry 1 ('ops')", own_url=False)


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

"""The README stays true: its settings table and its commands (the Meltano ones checked
against Meltano's own parser; tests/e2e/test_user_path.py runs the user's path)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml

from tap_linkedin_connections.sandbox import Sandbox
from tap_linkedin_connections.tap import TapLinkedInConnections
from tests.helpers import find_meltano, run_tap

ROOT = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location(
    "update_readme", ROOT / "scripts" / "update_readme.py"
)
assert spec is not None
assert spec.loader is not None
update_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_readme)


def test_the_settings_table_is_what_about_prints():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert update_readme.readme_settings_table(readme) == update_readme.about_settings_table(), (
        "README.md's settings table is stale: run .venv/bin/python scripts/update_readme.py"
    )


def test_every_setting_is_in_the_readme_table():
    table = update_readme.readme_settings_table((ROOT / "README.md").read_text(encoding="utf-8"))
    for name in TapLinkedInConnections.config_jsonschema["properties"]:
        assert f"| {name} |" in table


def test_ci_runs_the_test_command_of_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 scripts/test.py" in readme
    assert "python3 scripts/test.py" in ci
    assert "python3 scripts/demo.py" in readme


def test_the_sample_config_runs_against_the_sandbox(tmp_path):
    config = json.loads((ROOT / "sample_config.json").read_text(encoding="utf-8"))
    # The sample names the sandbox's documented port; the test takes a free one instead.
    # Its default spacing between tasks (10-30 s, for a real account) is switched off:
    # what is checked here is that the sample's own settings are valid and complete.
    no_spacing = {"task_spacing_min_seconds": 0, "task_spacing_max_seconds": 0}
    with Sandbox(connections=321, api_key=config["api_key"], work_time=0.001) as sandbox:
        run = run_tap({**config, "api_url": sandbox.url, **no_spacing}, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(run.records) == 321


# The README's Meltano commands, checked against Meltano's own command-line parser.

MELTANO_BIN = Path(os.environ.get("MELTANO_BIN") or ROOT / ".venv-meltano" / "bin" / "meltano")
#: The Hub definition's raw URL, which the README gives to `--from-ref`; the parser reads
#: the file it names, so it gets this repository's copy.
HUB_RAW_URL = (
    "https://raw.githubusercontent.com/tap-linkedin-connections/tap-linkedin-connections/"
    "main/hub/tap-linkedin-connections.yml"
)
SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}


def _fenced_blocks(readme: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return re.findall(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```$", readme, flags=re.M | re.S)


def _prose(readme: str) -> str:
    return re.sub(r"^[ \t]*```\w*\n.*?^[ \t]*```$", "", readme, flags=re.M | re.S)


def _meltano_argv(words: list[str]) -> list[list[str]]:
    """The argument lists of the `meltano` commands in one shell command line."""
    found: list[list[str]] = []
    segment: list[str] = []
    for word in [*words, ";"]:
        if word not in SHELL_SEPARATORS:
            segment.append(word)
            continue
        while segment and re.match(r"^[A-Z_][A-Z0-9_]*=", segment[0]):
            segment.pop(0)  # VAR=value before the command
        if segment and Path(segment[0]).name == "meltano":
            found.append(segment[1:])
        segment = []
    return found


def readme_meltano_commands(readme: str) -> list[list[str]]:
    """Every `meltano ...` command of the README: in shell blocks, and in inline code."""
    commands: list[list[str]] = []
    for language, body in _fenced_blocks(readme):
        if language not in {"bash", "sh", "shell", "console"}:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            commands += _meltano_argv(shlex.split(line, comments=True))
    for span in re.findall(r"`([^`]+)`", _prose(readme)):
        text = " ".join(span.split())
        # `meltano run` alone names a command in a sentence; anything longer is one to run.
        if text.startswith("meltano ") and len(text.split()) > 2:
            commands += _meltano_argv(shlex.split(text))
    return commands


def _declared_names(readme: str) -> set[str]:
    """Plugins and jobs a README command may name: this project's meltano.yml, the
    README's YAML blocks, and what the README's `meltano add` commands add."""
    names: set[str] = set()
    documents = [yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))]
    documents += [
        yaml.safe_load(body) for language, body in _fenced_blocks(readme) if language == "yaml"
    ]
    for document in documents:
        for plugins in (document.get("plugins") or {}).values():
            names |= {plugin["name"] for plugin in plugins}
        names |= {job["name"] for job in document.get("jobs") or []}
    for argv in readme_meltano_commands(readme):
        if argv[:1] == ["add"]:
            names |= {word for word in argv[1:] if re.fullmatch(r"(tap|target)-[a-z-]+", word)}
    return names


def _parse_with_meltano(commands: list[list[str]]) -> list[dict[str, t.Any]]:
    if not MELTANO_BIN.exists():
        find_meltano()  # skips, or fails under CI, naming what is missing
    local = str(ROOT / "hub" / "tap-linkedin-connections.yml")
    argvs = [[local if word == HUB_RAW_URL else word for word in argv] for argv in commands]
    done = subprocess.run(
        [str(MELTANO_BIN.parent / "python"), str(ROOT / "tests" / "meltano_parse.py")],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return t.cast("list[dict[str, t.Any]]", json.loads(done.stdout))


def meltano_command_problems(answer: dict[str, t.Any], known: set[str]) -> list[str]:
    """What is wrong with one parsed command, beyond what Meltano's parser refuses."""
    if "error" in answer:
        return [answer["error"]]
    path, params = answer["parsed"]["path"][1:], answer["parsed"]["params"]
    problems = []
    if path == ["add"]:
        for name, kind in zip(params["plugin"], answer["parsed"]["plugin_types"], strict=True):
            if kind == "utility":
                problems.append(f"adds {name!r} as a utility (give --plugin-type)")
    prompts = params.get("interactive") or params.get("from_file")
    if path == ["config", "set"] and not prompts and not params.get("setting_name"):
        problems.append("config set without a setting and a value fails on Meltano 4.4")
    named = {
        ("run",): params.get("blocks") or [],
        ("install",): params.get("plugin") or [],
        ("invoke",): [str(params.get("plugin_name", "")).split(":")[0]],
        ("config", "set"): [params.get("plugin_name")],
        ("config", "list"): [params.get("plugin_name")],
        ("config", "test"): [params.get("plugin_name")],
    }.get(tuple(path), [])
    problems += [f"names {name!r}, which nothing declares" for name in named if name not in known]
    return problems


def test_the_readme_has_the_meltano_commands_a_user_needs():
    commands = readme_meltano_commands(_readme())
    for expected in (
        "add target-postgres --variant meltanolabs",
        "add target-snowflake --variant meltanolabs",
        "config set target-snowflake load_method upsert",
        "config set target-postgres password ''",  # trust login: an empty password
        "run tap-linkedin-connections--sandbox target-csv",
    ):
        assert shlex.split(expected) in commands, expected
    assert len(commands) >= 25


def test_every_meltano_command_of_the_readme_parses_on_meltano_4_4():
    readme = _readme()
    commands = readme_meltano_commands(readme)
    known = _declared_names(readme)
    problems = {
        " ".join(["meltano", *answer["argv"]]): meltano_command_problems(answer, known)
        for answer in _parse_with_meltano(commands)
    }
    assert {command: found for command, found in problems.items() if found} == {}


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("meltano add loader target-postgres --variant meltanolabs", "as a utility"),
        ("meltano add --custom extractor tap-linkedin-connections", "as a utility"),
        ("meltano config set tap-linkedin-connections api_key", "config set without"),
        ("meltano run tap-linkedin-connection target-postgres", "which nothing declares"),
        ("meltano run --no-such-flag tap-linkedin-connections target-csv", "no-such-flag"),
        ("meltano instal tap-linkedin-connections", "instal"),
    ],
)
def test_the_check_catches_commands_that_do_not_run(command, problem):
    readme = _readme()
    (argv,) = _meltano_argv(shlex.split(command))
    (answer,) = _parse_with_meltano([argv])
    found = meltano_command_problems(answer, _declared_names(readme))
    assert any(problem in text for text in found), found


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")

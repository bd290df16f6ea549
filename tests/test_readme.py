"""The README stays true: its settings table and its commands."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tap_linkedin_connections.sandbox import Sandbox
from tap_linkedin_connections.tap import TapLinkedInConnections
from tests.helpers import run_tap

ROOT = Path(__file__).resolve().parent.parent

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

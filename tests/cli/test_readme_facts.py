"""README statements that follow from the code, checked against it."""

from __future__ import annotations

import re
from pathlib import Path

from tap_linkedin_connections.tap import TapLinkedInConnections

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    """The text under a heading, up to the next heading of its level or higher (a line
    starting with ``#`` inside a code block is a comment, not a heading)."""
    level = len(heading.split(" ", 1)[0])
    lines = README.splitlines()
    start = lines.index(heading)
    in_code = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        in_code = in_code != line.startswith("```")
        if not in_code and re.match(rf"#{{1,{level}}} ", line):
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def test_the_readme_gives_the_page_size_range_of_the_settings():
    setting = TapLinkedInConnections.config_jsonschema["properties"]["page_size"]
    ranges = re.findall(r"`page_size` outside (\d+)[\N{EN DASH}-](\d+)", README)
    assert ranges, "the README no longer says which page sizes are refused"
    assert set(ranges) == {(str(setting["minimum"]), str(setting["maximum"]))}


def test_the_fleet_recipe_installs_the_driver_of_its_ledger():
    fleets = _section("### Fleets: beyond one machine")
    assert "postgresql+psycopg://" in fleets
    assert "pip_url: tap-linkedin-connections[postgres]" in fleets


def test_the_several_accounts_section_says_what_renaming_does():
    accounts = _section("## Several accounts, side by side")
    renaming = accounts[accounts.index("**Renaming an account**") :].split("\n- ", 1)[0]
    assert "the old name's rows stay in the table" in renaming
    assert "until the next full refresh" in renaming

"""Copy the settings table that ``--about --format=markdown`` prints into README.md.

Run with the project's environment: ``.venv/bin/python scripts/update_readme.py``.
tests/cli/test_readme.py fails while the two differ.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def about_settings_table() -> str:
    """The settings table of the tap's --about output."""
    about = subprocess.run(
        [sys.executable, "-m", "tap_linkedin_connections", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = about.splitlines()
    first = lines.index("| Setting | Required | Default | Description |")
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return "\n".join(table)


def readme_settings_table(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{about_settings_table()}\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main()

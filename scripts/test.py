"""Set everything up and run the whole test suite: ``python3 scripts/test.py [pytest args]``."""

from __future__ import annotations

import os
import subprocess
import sys

from bootstrap import ROOT, SetupError, ensure_dbt, ensure_meltano, ensure_project_venv, say

#: The plugins the end-to-end tests run.
PLUGINS = (
    "tap-linkedin-connections",
    "target-csv",
    "target-postgres",
    "target-jsonl",
    "target-duckdb",
)


#: Workers for pytest-xdist: much of the suite waits (on subprocesses, sandboxes,
#: Meltano), so more workers than the 2 cores of a small machine still pay off.
WORKERS = "3"


def parallel_args(args: list[str]) -> list[str]:
    """``-n WORKERS`` unless the caller chose the workers or switched xdist off."""
    chosen = any(
        arg.startswith(("-n", "--numprocesses")) or arg.endswith("no:xdist") for arg in args
    )
    return [] if chosen else ["-n", WORKERS]


def main() -> int:
    try:
        python = ensure_project_venv()
        meltano = ensure_meltano(*PLUGINS)
        dbt = ensure_dbt()
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 1
    env = {**os.environ, "MELTANO_BIN": str(meltano), "DBT_BIN": str(dbt)}
    say("running the test suite")
    return subprocess.call(
        [python, "-m", "pytest", *parallel_args(sys.argv[1:]), *sys.argv[1:]], cwd=ROOT, env=env
    )


if __name__ == "__main__":
    sys.exit(main())

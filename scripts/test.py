"""Set everything up and run the whole test suite: ``python3 scripts/test.py [pytest args]``."""

from __future__ import annotations

import os
import subprocess
import sys

from bootstrap import ROOT, ensure_meltano, ensure_project_venv, say


def main() -> int:
    python = ensure_project_venv()
    meltano = ensure_meltano()
    env = {**os.environ, "MELTANO_BIN": str(meltano)}
    say("running the test suite")
    return subprocess.call([python, "-m", "pytest", *sys.argv[1:]], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())

"""Set up what the demo and the tests need, from nothing but Python >= 3.10 and PyPI.

- ``.venv``: the tap, editable, with its development tools;
- ``.venv-meltano``: Meltano, in its own environment (its dependencies are its own);
- ``.meltano/``: the plugins of ``meltano.yml``, installed by Meltano.

Every step is skipped when its result is already there, so running it again is cheap.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_VENV = ROOT / ".venv"
MELTANO_VENV = ROOT / ".venv-meltano"
MELTANO_REQUIREMENT = "meltano~=4.4.1"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, quiet: bool = True, env: dict[str, str] | None = None) -> None:
    """Run a command; on failure show its output and stop with its exit code."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=ROOT,
        env=env,
        capture_output=quiet,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if quiet:
            sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"error: {' '.join(str(a) for a in args[:4])} ... failed ({done.returncode})")


def bin_path(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _ensure_venv(env_dir: Path, marker: str, *requirements: str) -> None:
    stamp = env_dir / marker
    if stamp.exists():
        return
    say(f"creating {env_dir.name} ({' '.join(requirements)})")
    venv.EnvBuilder(with_pip=True, clear=env_dir.exists()).create(env_dir)
    python = bin_path(env_dir, "python")
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", *requirements)
    stamp.write_text("ok\n")


def ensure_project_venv() -> Path:
    """The project's environment; returns its python."""
    _ensure_venv(PROJECT_VENV, ".installed-dev", "-e", f"{ROOT}[dev]")
    return bin_path(PROJECT_VENV, "python")


def ensure_meltano() -> Path:
    """Meltano and the plugins of meltano.yml; returns the meltano executable."""
    _ensure_venv(MELTANO_VENV, ".installed-meltano", MELTANO_REQUIREMENT)
    meltano = bin_path(MELTANO_VENV, "meltano")
    if not (ROOT / ".meltano" / ".plugins-installed").exists():
        say("installing the Meltano plugins of meltano.yml")
        run(meltano, "install")
        (ROOT / ".meltano" / ".plugins-installed").write_text("ok\n")
    return meltano

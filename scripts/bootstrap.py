"""Set up what the demo and the tests need, from nothing but Python >= 3.10 and PyPI.

- ``.venv``: the tap, editable, with its development tools (the ``dev`` dependency group);
- ``.venv-meltano``: Meltano, in its own environment (its dependencies are its own);
- ``.venv-dbt``: dbt with its PostgreSQL adapter, for the example in ``examples/dbt``;
- ``.meltano/``: the plugins of ``meltano.yml`` that are asked for, installed by Meltano.

Each step is skipped while what it was built from (``pyproject.toml``, ``meltano.yml``)
is unchanged, so running it again is cheap.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_VENV = ROOT / ".venv"
MELTANO_VENV = ROOT / ".venv-meltano"
MELTANO_REQUIREMENT = "meltano~=4.4.1"
DBT_VENV = ROOT / ".venv-dbt"
# dbt-core is pinned too: newer ones fetch a parser wheel from GitHub while installing.
DBT_REQUIREMENTS = ("dbt-core~=1.10.0", "dbt-postgres~=1.10.0")
LOG = ROOT / ".meltano" / "last-setup-failure.log"


class SetupError(Exception):
    """A step failed; the message is one line."""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def bin_path(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def run(args: list[str | Path], what: str, env: dict[str, str] | None = None) -> str:
    """Run a command quietly; on failure show the tail of its output and raise."""
    done = subprocess.run(
        [str(a) for a in args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        LOG.write_text(output, encoding="utf-8")
        tail = "\n".join(output.strip().splitlines()[-25:])
        sys.stderr.write(f"{tail}\n(full output in {LOG.relative_to(ROOT)})\n")
        raise SetupError(f"{what} failed (exit code {done.returncode})")
    return output


def _fingerprint(*files: str) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _up_to_date(stamp: Path, fingerprint: str) -> bool:
    return stamp.exists() and stamp.read_text(encoding="utf-8").strip() == fingerprint


def _ensure_venv(env_dir: Path, fingerprint: str, *requirements: str) -> Path:
    python = bin_path(env_dir, "python")
    stamp = env_dir / ".installed"
    if python.exists() and _up_to_date(stamp, fingerprint):
        return python
    say(f"installing {' '.join(requirements)} into {env_dir.name} (once; takes a minute)")
    if not python.exists():
        try:
            venv.EnvBuilder(with_pip=True).create(env_dir)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SetupError(
                f"cannot create {env_dir.name} ({exc}); on Debian/Ubuntu install python3-venv"
            ) from None
    # pip >= 25.1 installs dependency groups (--group).
    run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip>=25.1"], "pip upgrade")
    run([python, "-m", "pip", "install", "--quiet", *requirements], "pip install")
    stamp.write_text(fingerprint + "\n", encoding="utf-8")
    return python


def ensure_project_venv() -> Path:
    """The project's environment; returns its python."""
    return _ensure_venv(
        PROJECT_VENV, _fingerprint("pyproject.toml"), "-e", str(ROOT), "--group", "dev"
    )


def ensure_dbt() -> Path:
    """dbt with its PostgreSQL adapter, in its own environment; returns the dbt executable."""
    _ensure_venv(DBT_VENV, " ".join(DBT_REQUIREMENTS), *DBT_REQUIREMENTS)
    return bin_path(DBT_VENV, "dbt")


def ensure_meltano(*plugins: str) -> Path:
    """Meltano and the named plugins of meltano.yml; returns the meltano executable."""
    _ensure_venv(MELTANO_VENV, MELTANO_REQUIREMENT, MELTANO_REQUIREMENT)
    meltano = bin_path(MELTANO_VENV, "meltano")
    stamp = ROOT / ".meltano" / f".installed-{'-'.join(sorted(plugins))}"
    fingerprint = _fingerprint("meltano.yml", "pyproject.toml")
    if not _up_to_date(stamp, fingerprint):
        say(f"installing the Meltano plugins {', '.join(plugins)}")
        run([meltano, "install", *plugins], "meltano install")
        stamp.write_text(fingerprint + "\n", encoding="utf-8")
    return meltano


def main() -> int:
    """``python3 scripts/bootstrap.py``: just the project's environment (for the linters)."""
    try:
        ensure_project_venv()
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

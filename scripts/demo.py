"""The whole pipeline in one command: ``python3 scripts/demo.py``.

Needs only Python >= 3.10 and PyPI. It

1. creates ``.venv-meltano`` with Meltano, if it is missing;
2. runs ``meltano install`` for the two plugins the demo uses (idempotent, quiet);
3. starts the OutX sandbox (a local stand-in for the API, shipped in the tap's package)
   on a free loopback port;
4. runs ``meltano run --full-refresh tap-linkedin-connections target-csv`` against it
   (``--full-refresh``: every demo starts from empty state, so it always lands the same
   number of rows);
5. stops the sandbox and counts the rows of ``output/connections.csv``.

On failure it exits non-zero with a one-line reason (and the tail of the log when a
command failed). Option: ``--connections N`` (default 1234).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from bootstrap import ROOT, SetupError, bin_path, ensure_meltano, run, say

EXTRACTOR = "tap-linkedin-connections"
LOADER = "target-csv"
OUTPUT = ROOT / "output" / "connections.csv"
LOG = ROOT / ".meltano" / "demo-last-run.log"
DEMO_LEDGER = ROOT / ".meltano" / "demo-ledger.sqlite"
SANDBOX_KEY = "sandbox-api-key"
LISTENING = re.compile(r"OutX sandbox listening on (http://\S+)")


def plugin_python() -> Path:
    """A Python that has the tap's package (and so the sandbox) installed."""
    candidates = [
        bin_path(ROOT / ".meltano" / "extractors" / EXTRACTOR / "venv", "python"),
        bin_path(ROOT / ".venv", "python"),
    ]
    for python in candidates:
        if python.exists():
            return python
    raise SetupError(f"no Python with the tap installed (looked for {candidates[0]})")


def clean_env() -> dict[str, str]:
    """The caller's environment without settings that would change the demo's result."""
    prefixes = ("TAP_LINKEDIN_CONNECTIONS", "TARGET_CSV_", "MELTANO_ENVIRONMENT", "MELTANO_STATE")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


class SandboxProcess:
    """The sandbox CLI in a subprocess, on a free port (``--port 0``)."""

    def __init__(self, python: Path, connections: int) -> None:
        self.args = [
            str(python),
            "-m",
            "tap_linkedin_connections.sandbox",
            "--port",
            "0",
            "--connections",
            str(connections),
            "--api-key",
            SANDBOX_KEY,
            "--pickup-delay",
            "0.05",
            "--work-time",
            "0.05",
        ]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> str:
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first_line: list[str] = []
        reader = threading.Thread(
            target=lambda: first_line.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        line = first_line[0] if first_line else ""
        match = LISTENING.search(line)
        if not match:
            self.stop()
            rest = "" if reader.is_alive() else self.process.stdout.read()  # type: ignore[union-attr]
            lines = [x.strip() for x in (line + rest).splitlines() if x.strip()]
            said = lines[-1] if lines else f"it printed nothing within {timeout:g}s"
            raise SetupError(f"the sandbox did not start: {said}")
        self.url = match.group(1)
        # Keep draining its output so that it can never block on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        return self.url

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def demo(connections: int) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - a clear word for an old python3
        raise SetupError("Python 3.10 or newer is needed")
    meltano = str(ensure_meltano(EXTRACTOR, LOADER))
    env = clean_env()

    sandbox = SandboxProcess(plugin_python(), connections)
    url = sandbox.start()
    say(f"sandbox with {connections} connections at {url}")
    try:
        env.update(
            {
                "TAP_LINKEDIN_CONNECTIONS_API_URL": url,
                "TAP_LINKEDIN_CONNECTIONS_API_KEY": SANDBOX_KEY,
                # The sandbox's tasks are no LinkedIn actions: they stay out of the
                # user's own task ledger.
                "TAP_LINKEDIN_CONNECTIONS_TASK_LEDGER": str(DEMO_LEDGER),
            }
        )
        say(f"meltano run --full-refresh {EXTRACTOR} {LOADER}")
        started = time.monotonic()
        output = run(
            [meltano, "--environment=dev", "run", "--full-refresh", EXTRACTOR, LOADER],
            "meltano run",
            env=env,
        )
        seconds = time.monotonic() - started
        LOG.write_text(output, encoding="utf-8")
    finally:
        sandbox.stop()

    if not OUTPUT.exists():
        raise SetupError(f"meltano run succeeded but wrote no {OUTPUT.relative_to(ROOT)}")
    rows = count_rows(OUTPUT)
    print(f"{rows} connections landed in {OUTPUT.relative_to(ROOT)} ({seconds:.1f}s)")
    if rows != connections:
        raise SetupError(f"expected {connections} rows, found {rows}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1234, help="(default %(default)s)")
    args = parser.parse_args()
    try:
        demo(args.connections)
    except SetupError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

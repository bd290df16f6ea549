"""A run ended by SIGTERM or SIGINT writes its STATE and exits with the signal's code.

A scheduler (cron, Airflow, Kubernetes) that stops a run must not read it as a success.
"""

from __future__ import annotations

import json
import signal
import typing as t

import pytest

from tap_linkedin_connections.sandbox import Sandbox
from tests.helpers import API_KEY, bookmark, start_tap, tap_config


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
@pytest.mark.parametrize("accounts", [False, True], ids=["api_key", "accounts"])
def test_a_signal_mid_run_writes_state_and_exits_non_zero(
    make_sandbox: t.Callable[..., Sandbox], tmp_path, signum: int, code: int, accounts: bool
) -> None:
    # 30 pages of 0.1 s each: the signal comes while tasks are still being read.
    sandbox = make_sandbox(connections=3000, work_time=0.1)
    config = tap_config(sandbox.url, task_ledger=str(tmp_path / "ledger.sqlite"))
    if accounts:
        config["accounts"] = [{"name": "sales", "api_key": config.pop("api_key")}]
    tap = start_tap(config, tmp_path)
    assert tap.stdout is not None
    lines = []
    for line in tap.stdout:  # up to the first page's records and the STATE that counts them
        lines.append(line)
        if '"type":"STATE"' in line and '"RECORD"' in "".join(lines):
            break
    tap.send_signal(signum)
    rest, stderr = tap.communicate(timeout=60)

    assert tap.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr
    said = stderr.splitlines()[-1]  # the last line, after those of the run unwinding
    assert [line for line in stderr.splitlines() if "stopped by" in line] == [said]
    assert said == (
        f"tap-linkedin-connections: stopped by {signal.Signals(signum).name}: the STATE so "
        f"far was written, the next run resumes from it; exit code {code}"
    )
    messages = [json.loads(line) for line in [*lines, *rest.splitlines()] if line.strip()]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    records = [m for m in messages if m["type"] == "RECORD"]
    assert 0 < len(records) < 3000, "the signal did not come mid-run"
    part = bookmark(states[-1])
    if accounts:
        part = part["accounts"]["sales"]
    assert "pass" in part, "the last STATE holds no unfinished pass to resume"
    assert API_KEY not in rest + stderr

"""Fault drill: a full sync under a heavy mixed fault profile, and what it cost.

Run it with ``.venv/bin/python benchmarks/fault_drill.py [--seed N] [--connections N]``.
It prints the faults the sandbox injected, by kind, whether the sync still delivered
every connection exactly once, and the tasks created beyond the minimum, split into
those a fault made unavoidable and any other (which should be none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from tap_linkedin_connections.sandbox import Sandbox

API_KEY = "drill-key"
#: Every fault kind at once, each on about one request or task in eleven.
HEAVY_PROFILE = {
    kind: 0.09
    for kind in (
        "connection_reset",
        "http_429",
        "http_500",
        "http_502_html",
        "http_503_empty",
        "http_504",
        "malformed_json",
        "truncated_json",
        "create_lost",
        "task_fail",
        "task_stuck_pending",
        "task_slow",
    )
} | {"read_timeout": 0.04}
TASK_TIMEOUT = 0.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--connections", type=int, default=1234)
    args = parser.parse_args()

    box = Sandbox(
        connections=args.connections,
        seed=args.seed,
        api_key=API_KEY,
        pickup_delay=0.001,
        work_time=0.002,
        faults=HEAVY_PROFILE,
        hang_seconds=0.4,
        slow_factor=400,
    )
    box.start()
    config = {
        "api_key": API_KEY,
        "api_url": box.url,
        "page_size": 50,
        "poll_interval_min_seconds": 0.002,
        "poll_interval_max_seconds": 0.02,
        "request_timeout_seconds": 0.25,
        "task_timeout_seconds": TASK_TIMEOUT,
        "retry_initial_wait_seconds": 0.005,
        "retry_max_wait_seconds": 0.05,
        "max_request_attempts": 15,
        "max_task_attempts": 8,
        "max_tasks_per_hour": None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp, "config.json")
        config_file.write_text(json.dumps(config))
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tap_linkedin_connections", "--config", str(config_file)],
            capture_output=True,
            text=True,
            check=False,
        )
    stats = box.stats()
    expected = [c["entity_urn"] for c in box.connections(sort_type="RECENTLY_ADDED")]
    box.stop()

    records = [
        json.loads(line)["record"]["entity_urn"]
        for line in done.stdout.splitlines()
        if line.startswith('{"type":"RECORD"')
    ]
    by_offset: dict[int, list[dict]] = defaultdict(list)
    for task in stats["tasks"]:
        by_offset[task["input"]["start"]].append(task)
    unavoidable = avoidable = 0
    for tasks in by_offset.values():
        # A task is unusable if its answer was lost, it failed, or it did not complete
        # within the timeout; each one justifies one more task for its page.
        unusable = sum(
            1
            for t in tasks
            if t["polls"] == 0
            or t["status"] == "failed"
            or t["completed_at"] is None
            or t["completed_at"] - t["created_at"] > TASK_TIMEOUT
        )
        extra = len(tasks) - 1
        unavoidable += min(extra, unusable)
        avoidable += max(0, extra - unusable)

    print(f"Exit code: {done.returncode}; requests: {stats['requests']}")
    print("Faults injected, by kind:")
    for kind, count in sorted(stats["faults_injected"].items()):
        print(f"  {kind:20} {count}")
    print(f"  {'total':20} {sum(stats['faults_injected'].values())}")
    print(
        f"Connections: {len(records)} emitted, {len(set(records))} distinct, "
        f"{len(expected)} in the sandbox; equal to its list: {records == expected}"
    )
    minimum = args.connections // config["page_size"] + 1
    print(
        f"Tasks: {stats['tasks_created']} created, minimum {minimum}; beyond it "
        f"{unavoidable} made unavoidable by faults, {avoidable} otherwise"
    )


if __name__ == "__main__":
    main()

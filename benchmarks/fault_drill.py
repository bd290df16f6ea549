"""Fault drill: a full sync under a heavy mixed fault profile, and what it cost.

Run it with ``.venv/bin/python benchmarks/fault_drill.py [--seed N] [--connections N]``.
It prints the faults the sandbox injected, by kind, whether the sync still delivered
every connection exactly once, and the tasks created beyond the minimum, split into
those a fault made unavoidable and any other (which should be none).
"""

from __future__ import annotations

import argparse

from sync_benchmark import run_tap

from tap_linkedin_connections.sandbox import Sandbox
from tap_linkedin_connections.sandbox.drill import (
    FAST_SANDBOX_SETTINGS,
    HEAVY_FAULT_PROFILE,
    RESILIENT_SETTINGS,
    extra_tasks_by_offset,
)

API_KEY = "drill-key"


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
        faults=HEAVY_FAULT_PROFILE,
        hang_seconds=0.4,
        slow_factor=400,
    )
    box.start()
    config = {
        "api_key": API_KEY,
        "api_url": box.url,
        **FAST_SANDBOX_SETTINGS,
        **RESILIENT_SETTINGS,
    }
    run = run_tap(config)
    stats = box.stats()
    expected = [c["entity_urn"] for c in box.connections(sort_type="RECENTLY_ADDED")]
    box.stop()

    extra = extra_tasks_by_offset(stats["tasks"], RESILIENT_SETTINGS["task_timeout_seconds"])
    unavoidable = sum(explained for explained, _ in extra.values())
    avoidable = sum(unexplained for _, unexplained in extra.values())
    records = run.entity_urns

    print(f"Exit status: {run.status}; requests: {stats['requests']}")
    print("Faults injected, by kind:")
    for kind, count in sorted(stats["faults_injected"].items()):
        print(f"  {kind:20} {count}")
    print(f"  {'total':20} {sum(stats['faults_injected'].values())}")
    print(
        f"Connections: {len(records)} emitted, {len(set(records))} distinct, "
        f"{len(expected)} in the sandbox; equal to its list: {records == expected}"
    )
    minimum = args.connections // RESILIENT_SETTINGS["page_size"] + 1
    print(
        f"Tasks: {stats['tasks_created']} created, minimum {minimum}; beyond it "
        f"{unavoidable} made unavoidable by faults, {avoidable} otherwise"
    )


if __name__ == "__main__":
    main()

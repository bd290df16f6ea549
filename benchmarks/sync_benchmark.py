"""Benchmark: the tap against the provider's documented loop, and the tap's CPU per record.

Run it with ``.venv/bin/python benchmarks/sync_benchmark.py`` (after ``python3
scripts/test.py`` or any install of the project with its dev extras). Everything runs
here, against the bundled sandbox, in one run, so the ratios compare like with like.

The extension's latencies are scaled down (``SCALE``): a real task waits for the
extension to pick it up when it is idle, then takes a few seconds of work; the provider's
loop polls every 5 seconds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tap_linkedin_connections.sandbox import Sandbox

#: Real-world seconds become SCALE times as many benchmark seconds.
SCALE = 1 / 50
PICKUP_SECONDS = 15.0  # an idle extension picks up a new task after this long
WORK_SECONDS = 4.0  # one page of 100 connections, give or take WORK_JITTER
WORK_JITTER = 0.25
PROVIDER_POLL_SECONDS = 5.0  # OutX's advice: poll every 5 seconds
CONNECTIONS = 2000
PAGE_SIZE = 100
API_KEY = "benchmark-key"


def sandbox(connections: int, *, realistic: bool) -> Sandbox:
    timings = (
        {
            "pickup_delay": PICKUP_SECONDS * SCALE,
            "work_time": WORK_SECONDS * SCALE,
            "work_time_jitter": WORK_JITTER,
        }
        if realistic
        else {}
    )
    box = Sandbox(connections=connections, seed=42, api_key=API_KEY, **timings)
    box.start()
    return box


def tap_config(url: str, **settings: object) -> dict[str, object]:
    return {
        "api_key": API_KEY,
        "api_url": url,
        "page_size": PAGE_SIZE,
        # The tap's defaults (1 s to 10 s), scaled like the extension.
        "poll_interval_min_seconds": 1.0 * SCALE,
        "poll_interval_max_seconds": 10.0 * SCALE,
        "task_timeout_seconds": 180 * SCALE,
        "max_tasks_per_hour": None,
        # The engine's own pace is measured here, not the account's budget.
        "max_tasks_per_day": None,
        "task_spacing_min_seconds": 0,
        "task_spacing_max_seconds": 0,
        **settings,
    }


@dataclass
class TapRun:
    """One run of the tap's CLI: its time, exit status, records and last STATE."""

    wall_seconds: float
    cpu_seconds: float
    status: int
    entity_urns: list[str]
    last_state: dict | None
    record_bytes: int = 0
    state_bytes: int = 0
    state_messages: int = 0


def run_tap(config: dict[str, object], state: dict | None = None) -> TapRun:
    """Run the tap's CLI; its stdout goes to a file so the pipe never slows it."""
    with tempfile.TemporaryDirectory() as tmp:
        # A ledger of the run's own (its cost is part of the measure), never the user's.
        config = {"task_ledger": str(Path(tmp, "ledger.sqlite")), **config}
        config_file = Path(tmp, "config.json")
        config_file.write_text(json.dumps(config))
        args = [sys.executable, "-m", "tap_linkedin_connections", "--config", str(config_file)]
        if state is not None:
            Path(tmp, "state.json").write_text(json.dumps(state))
            args += ["--state", str(Path(tmp, "state.json"))]
        out = Path(tmp, "out.jsonl")
        with out.open("w") as stdout:
            started = time.monotonic()
            process = subprocess.Popen(args, stdout=stdout, stderr=subprocess.DEVNULL)  # noqa: S603
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.monotonic() - started
        run = TapRun(wall, usage.ru_utime + usage.ru_stime, status, [], None)
        with out.open() as lines:
            for line in lines:
                message = json.loads(line)
                if message["type"] == "RECORD":
                    run.entity_urns.append(message["record"]["entity_urn"])
                    run.record_bytes += len(line)
                elif message["type"] == "STATE":
                    run.last_state = message["value"]
                    run.state_bytes += len(line)
                    run.state_messages += 1
        return run


def run_tap_or_exit(config: dict[str, object], state: dict | None = None) -> TapRun:
    run = run_tap(config, state)
    if run.status != 0:
        sys.exit(f"the tap failed (status {run.status})")
    return run


def provider_loop(url: str) -> None:
    """OutX's documented loop: create a task, poll it every 5 s, then the next page."""
    session = requests.Session()
    session.headers["x-api-key"] = API_KEY
    start = 0
    while True:
        body = {"sort_type": "RECENTLY_ADDED", "start": start, "count": PAGE_SIZE}
        created = session.post(f"{url}/linkedin-agent/fetch-connections", json=body, timeout=30)
        task_id = created.json()["api_agent_task_id"]
        while True:
            time.sleep(PROVIDER_POLL_SECONDS * SCALE)
            answer = session.get(
                f"{url}/linkedin-agent/get-task-status",
                params={"api_agent_task_id": task_id},
                timeout=30,
            ).json()["data"]
            if answer["status"] == "completed":
                break
        output = answer["task_output"]
        page = output["connections"] if isinstance(output, dict) else output
        if len(page) < PAGE_SIZE:
            return
        start += PAGE_SIZE


def measure(box: Sandbox) -> dict[str, float]:
    """Span, tasks, polls and physical limit of what a client just did to a sandbox."""
    stats = box.stats()
    tasks = stats["tasks"]
    needed = {}
    for task in tasks:  # the last completed task of each offset served the page
        if task["status"] == "completed":
            needed[task["input"]["start"]] = task
    minimum = CONNECTIONS // PAGE_SIZE + 1
    # The first page that reaches past the end (pages overlap in the tap's pass, so
    # its offsets need not be multiples of the page size).
    last_page = min(offset for offset in needed if offset + PAGE_SIZE > CONNECTIONS)
    needed = {offset: task for offset, task in needed.items() if offset <= last_page}
    first_created = min(task["created_at"] for task in tasks)
    span = needed[last_page]["completed_at"] - first_created
    first_pickup = min(t["picked_up_at"] for t in tasks if t["picked_up_at"] is not None)
    physical = (first_pickup - first_created) + sum(t["work_time"] for t in needed.values())
    return {
        "span": span,
        "physical": physical,
        "tasks": len(tasks),
        "minimum": minimum,
        "polls_per_task": stats["polls_total"] / len(tasks),
    }


def cpu_per_record() -> tuple[float, float]:
    """Records per CPU-second on the record path, and CPU milliseconds per task.

    30,000 connections in 310 tasks (pages of 100 overlap by 3), minus 310 connections
    in the same 310 tasks of the smallest page (2, overlapping by 1): the per-task
    (HTTP) cost cancels out.
    """
    fast = {"poll_interval_min_seconds": 0.0005, "poll_interval_max_seconds": 0.002}
    big = sandbox(30_000, realistic=False)
    big_cpu = run_tap_or_exit(tap_config(big.url, **fast)).cpu_seconds
    big.stop()
    small = sandbox(310, realistic=False)
    small_cpu = run_tap_or_exit(tap_config(small.url, page_size=2, **fast)).cpu_seconds
    small.stop()
    empty = sandbox(0, realistic=False)
    startup_cpu = run_tap_or_exit(tap_config(empty.url, **fast)).cpu_seconds
    empty.stop()
    return (30_000 - 310) / (big_cpu - small_cpu), (small_cpu - startup_cpu) / 310 * 1000


def accounts_side_by_side() -> tuple[float, float]:
    """Wall time of one account's full pass alone, and of two equal accounts in one run.

    Each account is a sandbox of its own (its own extension), with the same list.
    """
    alone = sandbox(CONNECTIONS, realistic=True)
    one = run_tap_or_exit(tap_config(alone.url, max_tasks_in_flight=2)).wall_seconds
    alone.stop()
    boxes = [sandbox(CONNECTIONS, realistic=True) for _ in range(2)]
    config = tap_config("", max_tasks_in_flight=2)
    del config["api_key"], config["api_url"]
    config["accounts"] = [
        {"name": f"team-{i}", "api_key": API_KEY, "api_url": box.url} for i, box in enumerate(boxes)
    ]
    two = run_tap_or_exit(config).wall_seconds
    for box in boxes:
        box.stop()
    return one, two


def state_size(accounts: int, connections: int) -> TapRun:
    """One full pass of ``accounts`` accounts of ``connections`` each, side by side.

    Every STATE message holds every account's part, so what each part weighs, and how
    often STATE is written, decide whether STATE grows with accounts or accounts².
    """
    boxes = [
        Sandbox(connections=connections, seed=i, api_key=API_KEY, pickup_delay=0.001).start()
        for i in range(accounts)
    ]
    config = tap_config("")
    del config["api_key"], config["api_url"]
    config["accounts"] = [
        {"name": f"team-{i}", "api_key": API_KEY, "api_url": box.url} for i, box in enumerate(boxes)
    ]
    run = run_tap_or_exit(config)
    for box in boxes:
        box.stop()
    return run


def print_state_sizes() -> None:
    """STATE against records, for 1, 5 and 20 accounts of 2,000 connections."""
    print("\n| accounts | records (MB) | STATE (MB) | STATE messages | STATE / records |")
    print("|--:|--:|--:|--:|--:|")
    for accounts in (1, 5, 20):
        run = state_size(accounts, 2000)
        print(
            f"| {accounts} | {run.record_bytes / 1e6:.1f} | {run.state_bytes / 1e6:.1f} | "
            f"{run.state_messages} | {run.state_bytes / run.record_bytes:.2f} |",
            flush=True,
        )


def main() -> None:
    print(
        f"Extension model: pickup {PICKUP_SECONDS:g} s when idle, {WORK_SECONDS:g} s "
        f"(±{WORK_JITTER:.0%}) per page; provider polls every {PROVIDER_POLL_SECONDS:g} s; "
        f"all scaled by {SCALE:g}. {CONNECTIONS} connections, pages of {PAGE_SIZE}.\n",
        flush=True,
    )
    box = sandbox(CONNECTIONS, realistic=True)
    provider_loop(box.url)
    provider = measure(box)
    box.stop()

    box = sandbox(CONNECTIONS, realistic=True)
    state = run_tap_or_exit(tap_config(box.url, max_tasks_in_flight=2)).last_state
    tap = measure(box)
    box.reset_stats()
    box.add_connections(150)
    run_tap_or_exit(tap_config(box.url), state=state)
    incremental_tasks = box.stats()["tasks_created"]
    box.stop()

    records_per_cpu_second, task_cpu_ms = cpu_per_record()
    one_account, two_accounts = accounts_side_by_side()

    rows = [
        (
            "sync span (s, scaled)",
            f"{provider['span']:.2f}",
            f"{tap['span']:.2f}",
            f"{tap['physical']:.2f}",
        ),
        (
            "span / physical limit",
            f"{provider['span'] / provider['physical']:.2f}",
            f"{tap['span'] / tap['physical']:.2f}",
            "1.00",
        ),
        ("tap span / provider span", "", f"{tap['span'] / provider['span']:.2f}", ""),
        (
            "tasks (full pass)",
            f"{provider['tasks']}",
            f"{tap['tasks']}",
            f"{tap['minimum']} (minimum)",
        ),
        ("polls per task", f"{provider['polls_per_task']:.2f}", f"{tap['polls_per_task']:.2f}", ""),
        (
            "tasks, incremental run with 150 new",
            "",
            f"{incremental_tasks}",
            f"{math.ceil(151 / PAGE_SIZE)} (minimum)",
        ),
    ]
    print("| measure | provider's loop | tap | physical limit |")
    print("|:--|--:|--:|--:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nRecord path: {records_per_cpu_second:,.0f} records per CPU-second "
        f"(30,000 connections in 310 tasks minus 310 in 310 tasks); "
        f"{task_cpu_ms:.2f} ms of CPU per task."
    )
    print(
        f"\nSeveral accounts (wall time of the tap, scaled): one account alone "
        f"{one_account:.2f} s; two equal accounts in one run {two_accounts:.2f} s "
        f"({two_accounts / one_account:.2f}x one alone; one after the other would be 2x)."
    )
    print_state_sizes()


if __name__ == "__main__":
    main()

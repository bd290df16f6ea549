"""Fault drills: a heavy fault profile, and the accounting of the tasks it cost.

Shared by the tests and ``benchmarks/fault_drill.py``, so both run the sandbox alike and
judge a drill by the same rule.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

#: Tap settings for the sandbox, which answers in milliseconds: polls and retries
#: milliseconds apart, and no pacing (it spends no LinkedIn action).
FAST_SANDBOX_SETTINGS: dict[str, Any] = {
    "poll_interval_min_seconds": 0.002,
    "poll_interval_max_seconds": 0.02,
    "retry_initial_wait_seconds": 0.005,
    "retry_max_wait_seconds": 0.05,
    "max_tasks_per_hour": None,
    "max_tasks_per_day": None,
    "task_spacing_min_seconds": 0,
    "task_spacing_max_seconds": 0,
}

#: Every fault kind at once, each on about one request or task in eleven (read timeouts,
#: which each cost a whole request timeout, less often).
HEAVY_FAULT_PROFILE: dict[str, float] = {
    "connection_reset": 0.09,
    "read_timeout": 0.04,
    "http_429": 0.09,
    "http_500": 0.09,
    "http_502_html": 0.09,
    "http_503_empty": 0.09,
    "http_504": 0.09,
    "malformed_json": 0.09,
    "truncated_json": 0.09,
    "create_lost": 0.09,
    "task_fail": 0.09,
    # Not task_stuck_pending: a task that stays pending is, to the tap, one the
    # extension has not picked up, which is never created again (the run ends after
    # pickup_timeout_seconds instead; tested on its own).
    "task_slow": 0.09,
}

#: Tap settings that ride out the heavy profile quickly (with the sandbox's
#: ``hang_seconds=0.4`` and ``slow_factor=400``).
RESILIENT_SETTINGS: dict[str, Any] = {
    "request_timeout_seconds": 0.25,
    "task_timeout_seconds": 0.4,
    "max_request_attempts": 15,
    "max_task_attempts": 8,
    "page_size": 50,
}


#: Pages a full pass reads twice by design: the top (offset 0), re-read once the end is
#: confirmed, for contacts who re-connected during the pass.
PLANNED_REREADS: dict[int, int] = {0: 1}


def extra_tasks_by_offset(
    tasks: list[dict[str, Any]],
    task_timeout: float,
    planned: dict[int, int] = PLANNED_REREADS,
) -> dict[int, tuple[int, int]]:
    """Per page offset: (extra tasks a fault explains, extra tasks nothing explains).

    ``tasks`` are the sandbox's task records (``stats()["tasks"]``). Each task created
    again for an offset must answer for an unusable one: its answer lost (never
    polled), failed, or not completed within the task timeout (stuck, slow, or queued
    behind such a task: the extension works one task at a time); ``planned`` reads of
    an offset beyond the first need no answer.
    """
    by_offset: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for task in tasks:
        by_offset[task["input"]["start"]].append(task)
    extra = {}
    for offset, created in by_offset.items():
        unusable = sum(
            1
            for task in created
            if task["polls"] == 0
            or task["status"] == "failed"
            or task["completed_at"] is None
            or task["completed_at"] - task["created_at"] > task_timeout
        )
        beyond_first = max(0, len(created) - 1 - planned.get(offset, 0))
        extra[offset] = (min(beyond_first, unusable), max(0, beyond_first - unusable))
    return extra

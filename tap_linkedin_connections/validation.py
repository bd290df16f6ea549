"""Checks on what the user gives the tap, made before any request.

Every message names a setting or file and what is expected of it, never a value: one
of the values is the team's API key.
"""

from __future__ import annotations

import decimal
import ipaddress
import json
import math
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

from tap_linkedin_connections.pacing import ActiveHours, zone

RECENTLY_ADDED = "RECENTLY_ADDED"
RELEVANCE = "RELEVANCE"

ENV_PREFIX = "TAP_LINKEDIN_CONNECTIONS_"

#: Settings that are durations in seconds: any positive number, fractions included.
DURATION_SETTINGS = (
    "poll_interval_min_seconds",
    "poll_interval_max_seconds",
    "task_timeout_seconds",
    "request_timeout_seconds",
    "retry_initial_wait_seconds",
    "retry_max_wait_seconds",
    "progress_interval_seconds",
    "pickup_timeout_seconds",
)

#: Settings in seconds where 0 is allowed (0 turns spacing off).
GAP_SETTINGS = ("task_spacing_min_seconds", "task_spacing_max_seconds")

#: Whole-number settings: name → (smallest, largest or None, may be null).
COUNT_SETTINGS: dict[str, tuple[int, int | None, bool]] = {
    "page_size": (2, 100, False),
    "max_task_attempts": (1, None, False),
    "max_request_attempts": (1, None, False),
    "max_tasks_in_flight": (1, 10, False),
    "max_tasks_per_hour": (0, None, True),
    "max_tasks_per_day": (0, None, True),
    "max_tasks_per_run": (1, None, True),
}


def _is_number(value: object) -> bool:
    # JSON config files are read with decimals, so numbers may arrive as Decimal.
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _is_header_safe(text: str) -> bool:
    """Whether text can be an HTTP header value: Latin-1, no control characters."""
    return all(" " <= c <= "\xff" and c != "\x7f" for c in text)


def numbers_from_text(
    config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """The number settings given as text (``"0.5"``), as numbers; other values untouched.

    Meltano 4.4 cannot pass a ``kind: decimal`` setting from an environment variable (it
    fails on a Decimal), so the number settings are declared ``kind: string`` there and
    arrive as text. Text that is not a finite number is left for validation to name.
    """
    converted = {}
    for name, value in config.items():
        types = schema.get("properties", {}).get(name, {}).get("type")
        if not isinstance(value, str) or "number" not in (types or ()):
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number):
            converted[name] = number
    return converted


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_problems(config: t.Mapping[str, t.Any]) -> list[str]:
    """Every problem with a config, one line each, in settings order; [] if none.

    The messages name settings and expectations, never values: one of them is a key.
    """
    problems: list[str] = []
    api_key = config.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        problems.append("'api_key' must be text")
    elif isinstance(api_key, str) and not _is_header_safe(api_key.strip()):
        # Surrounding whitespace (a key read from a file ends in a newline) is dropped;
        # anything else would not survive as an HTTP header, so it is no key.
        problems.append(
            "'api_key' holds a control character or a character outside Latin-1: "
            "copy the key again from OutX"
        )
    elif not isinstance(api_key, str) or not api_key.strip():
        problems.append(
            "'api_key' is missing or empty: set your OutX team API key "
            "(TAP_LINKEDIN_CONNECTIONS_API_KEY)"
        )
    problems.extend(_api_url_problems(config.get("api_url", "https://api.outx.ai")))
    keyword = config.get("keyword")
    if keyword is not None and not isinstance(keyword, str):
        problems.append("'keyword' must be text")
    sort_type = config.get("sort_type", RECENTLY_ADDED)
    if sort_type not in (RECENTLY_ADDED, RELEVANCE):
        problems.append(f"'sort_type' must be {RECENTLY_ADDED} or {RELEVANCE}")
    for name, (smallest, largest, nullable) in COUNT_SETTINGS.items():
        if name not in config or (nullable and config[name] is None):
            continue
        value = config[name]
        in_range = (
            _is_number(value)
            and math.isfinite(float(value))
            and float(value).is_integer()
            and value >= smallest
            and (largest is None or value <= largest)
        )
        if not in_range:
            bounds = f"from {smallest} to {largest}" if largest else f"of at least {smallest}"
            problems.append(f"'{name}' must be a whole number {bounds}")
    for name in DURATION_SETTINGS:
        value = config.get(name, 1.0)
        if not _is_number(value) or not math.isfinite(float(value)) or value <= 0:
            problems.append(f"'{name}' must be a positive number of seconds")
    low = config.get("poll_interval_min_seconds", 1.0)
    high = config.get("poll_interval_max_seconds", 10.0)
    if _is_number(low) and _is_number(high) and 0 < high < low:
        problems.append(
            "'poll_interval_min_seconds' must not be larger than 'poll_interval_max_seconds'"
        )
    if not isinstance(config.get("full_refresh", False), bool):
        problems.append("'full_refresh' must be true or false")
    fraction = config.get("max_deleted_fraction", 0.1)
    if not _is_number(fraction) or not 0 <= fraction <= 1:
        problems.append("'max_deleted_fraction' must be a number from 0 to 1")
    if config.get("batch_config") is not None:
        problems.append(
            "'batch_config' is not supported: the tap writes RECORD messages (a list of "
            "connections is small); remove the setting"
        )
    problems.extend(_pacing_problems(config))
    return problems


def _pacing_problems(config: t.Mapping[str, t.Any]) -> list[str]:
    problems = []
    for name in GAP_SETTINGS:
        value = config.get(name, 0.0)
        if not _is_number(value) or not math.isfinite(float(value)) or value < 0:
            problems.append(f"'{name}' must be a number of seconds, 0 or more")
    low = config.get("task_spacing_min_seconds", 10.0)
    high = config.get("task_spacing_max_seconds", 30.0)
    if _is_number(low) and _is_number(high) and 0 <= high < low:
        problems.append(
            "'task_spacing_min_seconds' must not be larger than 'task_spacing_max_seconds'"
        )
    for name in ("active_hours", "timezone", "task_ledger"):
        if config.get(name) is not None and not isinstance(config[name], str):
            problems.append(f"'{name}' must be text")
    timezone = config.get("timezone") or "UTC"
    hours = config.get("active_hours")
    if isinstance(timezone, str):
        try:
            if isinstance(hours, str) and hours.strip():
                ActiveHours.parse(hours, timezone)
            else:
                zone(timezone)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def _api_url_problems(api_url: object) -> list[str]:
    if not isinstance(api_url, str):
        return ["'api_url' must be an http(s) URL"]
    try:
        parts = urlsplit(api_url)
        host = parts.hostname or ""
    except ValueError:
        return ["'api_url' must be an http(s) URL"]
    if parts.scheme not in ("http", "https") or not host:
        return ["'api_url' must be an http(s) URL"]
    if parts.scheme == "http" and not _is_loopback(host):
        return [
            "'api_url' must use https (plain http is allowed only to a loopback host): "
            "the API key would travel in clear"
        ]
    return []


def argument_problems(argv: list[str], environ: t.Mapping[str, str]) -> list[str]:
    """Problems with the command line's files and, with ``--config ENV``, the environment.

    The SDK reads these itself, but answers a missing file, broken JSON or a setting
    that is not a number with a traceback.
    """
    problems: list[str] = []
    for flag, path in _file_arguments(argv):
        if flag == "--config" and path == "ENV":
            problems.extend(_environment_problems(environ))
            continue
        file = Path(path)
        if not file.is_file():
            problems.append(f"{flag} file not found: {path}")
            continue
        try:
            content = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{flag} file {path} cannot be read: {type(exc).__name__}")
        except json.JSONDecodeError as exc:
            problems.append(f"{flag} file {path} is not valid JSON ({exc.msg}, line {exc.lineno})")
        else:
            if not isinstance(content, dict):
                problems.append(f"{flag} file {path} must hold a JSON object")
            elif flag == "--state":
                problems.extend(_state_file_problems(path, content))
    return problems


def _state_file_problems(path: str, content: dict[str, t.Any]) -> list[str]:
    """The STATE shapes the SDK itself stumbles on (deeper ones: see passes.py)."""
    bookmarks = content.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return [f"--state file {path}: 'bookmarks' must be an object (see the README, State)"]
    stream = bookmarks.get("connections", {})
    if not isinstance(stream, dict):
        return [f"--state file {path}: 'bookmarks.connections' must be an object"]
    return []


def _file_arguments(argv: list[str]) -> t.Iterator[tuple[str, str]]:
    for index, argument in enumerate(argv):
        for flag in ("--config", "--state", "--catalog"):
            if argument == flag and index + 1 < len(argv):
                yield flag, argv[index + 1]
            elif argument.startswith(flag + "="):
                yield flag, argument.split("=", 1)[1]


def _environment_problems(environ: t.Mapping[str, str]) -> list[str]:
    problems = []
    for name in (*COUNT_SETTINGS, *DURATION_SETTINGS, *GAP_SETTINGS):
        text = environ.get(ENV_PREFIX + name.upper())
        if text is None:
            continue
        decimal_setting = name in DURATION_SETTINGS or name in GAP_SETTINGS
        try:
            float(text) if decimal_setting else int(text)
        except ValueError:
            kind = "number" if decimal_setting else "whole number"
            problems.append(f"{ENV_PREFIX}{name.upper()} must be a {kind}")
    return problems

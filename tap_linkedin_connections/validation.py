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

import jsonschema

from tap_linkedin_connections.engine.ledger import ledger_setting_problem
from tap_linkedin_connections.engine.pacing import ActiveHours, zone
from tap_linkedin_connections.history.export import export_problem

RECENTLY_ADDED = "RECENTLY_ADDED"
RELEVANCE = "RELEVANCE"

ENV_PREFIX = "TAP_LINKEDIN_CONNECTIONS_"


def _is_finite_number(checker: object, value: object) -> bool:
    # JSON config files are read with decimals, so numbers may arrive as Decimal; NaN
    # and infinities are no setting's value.
    del checker
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return False
    return math.isfinite(value)


def _is_whole_number(checker: object, value: object) -> bool:
    # 50.0 (or Decimal 50.0) is a whole number, as JSON Schema says.
    return _is_finite_number(checker, value) and float(t.cast("float", value)).is_integer()


#: JSON Schema draft 7, where a number is finite and may be a Decimal.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_finite_number, "integer": _is_whole_number}
    ),
)


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


def config_problems(config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any]) -> list[str]:
    """Every problem with a config, one line each, in settings order; [] if none.

    The limits come from the config schema; the messages name a setting and what the
    schema expects of it, never the value given: one of them is the API key. Only what
    the schema cannot say is checked by hand here.
    """
    properties: dict[str, t.Any] = schema.get("properties", {})
    problems = _schema_problems(config, schema)
    for name, problem in _rule_problems(config, invalid=set(problems)).items():
        problems.setdefault(name, problem)  # a setting's schema problem comes first
    order = {name: index for index, name in enumerate(properties)}
    return [problems[name] for name in sorted(problems, key=lambda n: order.get(n, len(order)))]


def _schema_problems(
    config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any]
) -> dict[str, str]:
    """The first schema problem of each setting, by name."""
    problems: dict[str, str] = {}
    for error in _Validator(schema).iter_errors(dict(config)):
        if len(error.path) > 1 and error.path[0] == "accounts":
            problems.setdefault("accounts", _entry_problem(error, config["accounts"]))
            continue
        if error.validator == "required":
            names = [n for n in error.validator_value if n not in config]
            for name in names:
                problems.setdefault(name, _missing(name))
            continue
        if not error.path:
            continue
        name = str(error.path[0])
        if error.validator == "minLength" or (
            name in schema.get("required", ()) and config[name] is None
        ):
            problems.setdefault(name, _missing(name))
        setting = schema.get("properties", {}).get(name, {})
        problems.setdefault(name, f"'{name}' must be {_expectation(setting)}")
    return problems


def _entry_problem(error: jsonschema.ValidationError, entries: list[t.Any]) -> str:
    """A schema problem inside one entry of ``accounts``, naming the entry, not the key."""
    index = int(error.path[1])
    where = _entry(index, entries[index])
    if len(error.path) == 2:
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in entries[index]]
            return f"{where}: '{missing[0]}' is missing or empty"
        if error.validator == "additionalProperties":
            known = ", ".join(error.schema.get("properties", {}))
            return f"{where}: only {known} may be given"
        return f"{where} must be an object with name and api_key"
    field = str(error.path[2])
    if error.validator == "minLength" or entries[index].get(field) is None:
        return f"{where}: '{field}' is missing or empty"
    return f"{where}: '{field}' must be {_expectation(error.schema)}"


def _entry(index: int, entry: t.Any) -> str:
    """How an accounts entry is named in a message: its position, and its name if any."""
    name = entry.get("name") if isinstance(entry, dict) else None
    named = isinstance(name, str) and name.strip() and name.isprintable()
    label = f" ('{name}')" if named else ""
    return f"accounts entry {index + 1}{label}"


def _missing(name: str) -> str:
    return f"'{name}' is missing or empty: set it ({ENV_PREFIX}{name.upper()})"


def _expectation(setting: t.Mapping[str, t.Any]) -> str:
    """What a setting's schema asks for, in words (from its keywords, never a value)."""
    types = setting.get("type", ())
    types = [types] if isinstance(types, str) else list(types)
    if "enum" in setting:
        choices = [str(c) for c in setting["enum"] if c is not None]
        return " or ".join([", ".join(choices[:-1]), choices[-1]] if len(choices) > 1 else choices)
    if "integer" in types:
        return "a whole number" + _bounds(setting)
    if "number" in types:
        if setting.get("exclusiveMinimum") == 0 and "maximum" not in setting:
            return "a positive number"
        return "a number" + _bounds(setting)
    if "boolean" in types:
        return "true or false"
    if "string" in types:
        return "text"
    kinds = {"object": "an object", "array": "a list"}
    return " or ".join(kinds.get(kind, kind) for kind in types if kind != "null")


def _bounds(setting: t.Mapping[str, t.Any]) -> str:
    low, high = setting.get("minimum"), setting.get("maximum")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    if setting.get("exclusiveMinimum") is not None:
        return f" above {setting['exclusiveMinimum']}"
    return ""


def _rule_problems(config: t.Mapping[str, t.Any], invalid: set[str]) -> dict[str, str]:
    """What the schema cannot say: key hygiene, an https URL, min <= max, time windows,
    a LinkedIn export that can be read.

    ``invalid``: the settings the schema already refused, left out of comparisons.
    """
    problems: dict[str, str] = {}
    api_key = config.get("api_key")
    entries = config.get("accounts")
    if not entries:
        blank = api_key is None or (isinstance(api_key, str) and not api_key.strip())
        key_problem = _missing("api_key") if blank else _api_key_problem(api_key, "'api_key'")
        if key_problem:
            problems["api_key"] = key_problem
    url_problem = _api_url_problem(config.get("api_url", "https://api.outx.ai"), "'api_url'")
    if url_problem:
        problems["api_url"] = url_problem
    if not entries and "linkedin_export" not in invalid:
        # With accounts, each entry's own is checked (the top-level one is not used).
        unreadable = _export_problem(config.get("linkedin_export"), "'linkedin_export'")
        if unreadable:
            problems["linkedin_export"] = unreadable
    if isinstance(entries, list) and "accounts" not in invalid:
        entry_problem = _entries_problem(entries)
        if entry_problem:
            problems["accounts"] = entry_problem
    for low, high in (
        ("poll_interval_min_seconds", "poll_interval_max_seconds"),
        ("task_spacing_min_seconds", "task_spacing_max_seconds"),
    ):
        if {low, high} & invalid or low not in config or high not in config:
            continue
        if _is_ordered_wrongly(config[low], config[high]):
            problems[low] = f"'{low}' must not be larger than '{high}'"
    ledger = config.get("task_ledger")
    ledger_problem = ledger_setting_problem(ledger) if isinstance(ledger, str) else None
    if ledger_problem:
        problems["task_ledger"] = ledger_problem
    if config.get("batch_config") is not None:
        problems["batch_config"] = (
            "'batch_config' is not supported: the tap writes RECORD messages (a list of "
            "connections is small); remove the setting"
        )
    problems.update(_window_problems(config))
    return problems


def _window_problems(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    """A ``timezone`` that is no IANA zone, ``active_hours`` that are no daily window."""
    timezone = config.get("timezone") or "UTC"
    hours = config.get("active_hours")
    if not isinstance(timezone, str):
        return {}  # the schema names it
    try:
        zone(timezone)
    except ValueError as exc:
        return {"timezone": str(exc)}
    if isinstance(hours, str) and hours.strip():
        try:
            ActiveHours.parse(hours, timezone)
        except ValueError as exc:
            return {"active_hours": str(exc)}
    return {}


def _api_key_problem(api_key: object, what: str) -> str | None:
    if not isinstance(api_key, str):
        return None  # the schema names it
    if not api_key.strip():
        return f"{what} is missing or empty"
    if not _is_header_safe(api_key.strip()):
        # Surrounding whitespace (a key read from a file ends in a newline) is dropped;
        # anything else would not survive as an HTTP header, so it is no key.
        return (
            f"{what} holds a control character or a character outside Latin-1: copy the "
            "key again from OutX"
        )
    return None


def _entries_problem(entries: list[t.Any]) -> str | None:
    """The first problem of the ``accounts`` entries the schema cannot see."""
    names: set[str] = set()
    for index, entry in enumerate(entries):
        where = _entry(index, entry)
        name = entry["name"]
        if not name.isprintable() or not name.strip():
            # It is written in every row and log line of the account; any script will do.
            return f"{where}: 'name' must be printable text"
        if name in names:
            return f"{where}: the name is used by an earlier entry; names must be unique"
        names.add(name)
        problem = (
            _api_key_problem(entry["api_key"], f"{where}: 'api_key'")
            or (
                _api_url_problem(entry["api_url"], f"{where}: 'api_url'")
                if "api_url" in entry
                else None
            )
            or _export_problem(entry.get("linkedin_export"), f"{where}: 'linkedin_export'")
        )
        if problem:
            return problem
    return None


def _export_problem(path: object, what: str) -> str | None:
    """Why the LinkedIn export named by a setting cannot be used, naming the path.

    The file is read whole here, so a bad one stops the run before any request; a
    blank path is no export (an empty environment variable unsets it).
    """
    if not isinstance(path, str) or not path.strip():
        return None  # not set, or not text (the schema names that)
    problem = export_problem(path.strip())
    return f"{what}: {path.strip()} {problem}" if problem else None


def _is_ordered_wrongly(low: object, high: object) -> bool:
    return _is_finite_number(None, low) and _is_finite_number(None, high) and high < low  # type: ignore[operator]


def _api_url_problem(api_url: object, what: str) -> str | None:
    if not isinstance(api_url, str):
        return None  # the schema names it
    try:
        parts = urlsplit(api_url)
        host = parts.hostname or ""
    except ValueError:
        return f"{what} must be an http(s) URL"
    if parts.scheme not in ("http", "https") or not host:
        return f"{what} must be an http(s) URL"
    if parts.scheme == "http" and not _is_loopback(host):
        return (
            f"{what} must use https (plain http is allowed only to a loopback host): "
            "the API key would travel in clear"
        )
    return None


def argument_problems(
    argv: list[str], environ: t.Mapping[str, str], schema: t.Mapping[str, t.Any]
) -> list[str]:
    """Problems with the command line's files and, with ``--config ENV``, the environment.

    The SDK reads these itself, but answers a missing file, broken JSON or a setting
    that is not a number with a traceback.
    """
    problems: list[str] = []
    for flag, path in _file_arguments(argv):
        if flag == "--config" and path == "ENV":
            problems.extend(_environment_problems(environ, schema))
            continue
        file = Path(path)
        if not file.is_file():
            problems.append(f"{flag} file not found: {path}")
            continue
        try:
            content = json.loads(file.read_text(encoding="utf-8"), parse_constant=_no_constant)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{flag} file {path} cannot be read: {type(exc).__name__}")
        except json.JSONDecodeError as exc:
            problems.append(f"{flag} file {path} is not valid JSON ({exc.msg}, line {exc.lineno})")
        except NotJsonNumber as exc:
            problems.append(
                f"{flag} file {path} is not valid JSON ({exc} is no JSON number: write a "
                "number, or leave the setting out)"
            )
        else:
            if not isinstance(content, dict):
                problems.append(f"{flag} file {path} must hold a JSON object")
            elif flag == "--state":
                problems.extend(_state_file_problems(path, content))
    return problems


class NotJsonNumber(ValueError):
    """A file holds ``NaN``, ``Infinity`` or ``-Infinity``, which JSON does not have."""


def _no_constant(name: str) -> t.NoReturn:
    # Python's json reads these; the SDK's reader (simplejson) fails on them with a
    # traceback, and no setting can use them.
    raise NotJsonNumber(name)


def _state_file_problems(path: str, content: dict[str, t.Any]) -> list[str]:
    """The STATE shapes the SDK itself stumbles on (deeper ones: see connections/passes.py)."""
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


def _environment_problems(environ: t.Mapping[str, str], schema: t.Mapping[str, t.Any]) -> list[str]:
    """Number and list settings from the environment that the SDK would fail to read."""
    problems = []
    for name, setting in schema.get("properties", {}).items():
        text = environ.get(ENV_PREFIX + name.upper())
        types = setting.get("type", ())
        if text is not None and "array" in types:
            # The SDK reads a list setting as JSON, and answers broken JSON with a
            # traceback (whose text would hold the keys).
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list):
                problems.append(f"{ENV_PREFIX}{name.upper()} must be a JSON list")
            continue
        if text is None or not {"integer", "number"} & set(types):
            continue
        whole = "integer" in types
        try:
            int(text) if whole else float(text)
        except ValueError:
            kind = "whole number" if whole else "number"
            problems.append(f"{ENV_PREFIX}{name.upper()} must be a {kind}")
    return problems

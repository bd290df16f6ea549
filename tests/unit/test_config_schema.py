"""Config validation in process: its limits and messages come from the config schema."""

from __future__ import annotations

import decimal
import typing as t

import pytest

from tap_linkedin_connections.tap import TapLinkedInConnections
from tap_linkedin_connections.validation import argument_problems, config_problems

SCHEMA = TapLinkedInConnections.config_jsonschema
SETTINGS: dict[str, t.Any] = SCHEMA["properties"]
KEY = "sk-live-0123456789"


def _problems(**settings: t.Any) -> list[str]:
    return config_problems({"api_key": KEY, **settings}, SCHEMA)


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if "minimum" in s])
def test_a_value_below_the_schema_minimum_names_the_minimum(name: str) -> None:
    setting = SETTINGS[name]
    problems = _problems(**{name: setting["minimum"] - 1})
    assert len(problems) == 1
    assert problems[0].startswith(f"'{name}' must be ")
    assert str(setting["minimum"]) in problems[0]


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if "exclusiveMinimum" in s])
def test_zero_is_refused_where_the_schema_asks_for_more(name: str) -> None:
    assert _problems(**{name: 0}) == [f"'{name}' must be a positive number"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "ten"])
def test_a_number_setting_must_be_a_finite_number(value: object) -> None:
    assert _problems(task_timeout_seconds=value) == [
        "'task_timeout_seconds' must be a positive number"
    ]


def test_decimals_from_a_json_file_are_numbers() -> None:
    assert (
        _problems(page_size=decimal.Decimal("50.0"), max_deleted_fraction=decimal.Decimal("0.2"))
        == []
    )


def test_a_setting_with_a_default_cannot_be_null() -> None:
    assert _problems(page_size=None) == ["'page_size' must be a whole number from 2 to 100"]
    assert _problems(max_tasks_per_hour=None, keyword=None) == []


def test_no_message_echoes_the_value_given() -> None:
    secret = KEY + "-as-a-value"
    config = {name: secret for name in SETTINGS}
    problems = config_problems(config, SCHEMA)
    assert problems
    assert all(secret not in problem for problem in problems)


def test_environment_numbers_are_checked_by_the_schema_type() -> None:
    environ = {
        "TAP_LINKEDIN_CONNECTIONS_PAGE_SIZE": "2.5",
        "TAP_LINKEDIN_CONNECTIONS_MAX_DELETED_FRACTION": "a tenth",
        "TAP_LINKEDIN_CONNECTIONS_TASK_TIMEOUT_SECONDS": "90.5",
    }
    assert argument_problems(["--config", "ENV"], environ, SCHEMA) == [
        "TAP_LINKEDIN_CONNECTIONS_PAGE_SIZE must be a whole number",
        "TAP_LINKEDIN_CONNECTIONS_MAX_DELETED_FRACTION must be a number",
    ]

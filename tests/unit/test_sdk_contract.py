"""The Singer SDK internals the tap relies on (tap_linkedin_connections/sdk.py and the
config hook in tap.py) still exist and behave as used.

An SDK release may rename or drop a private member without notice; these tests then
fail naming it, before a sync quietly loses its STATE or its ACTIVATE_VERSION.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import signal
import typing as t

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.plugin_base import PluginBase

from tap_linkedin_connections.connections.stream import ConnectionsStream
from tap_linkedin_connections.sdk import StoppedBySignal
from tap_linkedin_connections.tap import ConfigError, TapLinkedInConnections

SDK = f"singer-sdk {importlib.metadata.version('singer-sdk')}"


def _missing(owner: type, member: str) -> str:
    return (
        f"{SDK}: {owner.__name__}.{member} is gone or changed; the tap relies on it "
        "(see tap_linkedin_connections/sdk.py)"
    )


def _parameters(function: t.Callable[..., t.Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _stream() -> ConnectionsStream:
    tap = TapLinkedInConnections(
        config={"api_key": "contract-key", "api_url": "http://127.0.0.1:9", "task_ledger": "none"},
        validate_config=True,
        setup_mapper=True,
    )
    stream = tap.streams["connections"]
    assert isinstance(stream, ConnectionsStream)
    return stream


def _messages(out: str) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_the_sdk_members_exist_with_the_signatures_used() -> None:
    assert callable(getattr(Stream, "_write_activate_version_message", None)), _missing(
        Stream, "_write_activate_version_message"
    )
    assert _parameters(Stream._write_activate_version_message) == [
        "self",
        "full_table_version",
    ], _missing(Stream, "_write_activate_version_message(full_table_version)")
    assert "self._stream_version" in inspect.getsource(Stream), _missing(Stream, "_stream_version")
    assert isinstance(getattr(Tap, "state_writer", None), property), _missing(Tap, "state_writer")
    assert "raise_errors" in _parameters(Tap._validate_config), _missing(
        Tap, "_validate_config(raise_errors=...)"
    )


def test_a_stream_reaches_its_tap_and_table_version() -> None:
    stream = _stream()
    assert hasattr(stream, "_tap"), _missing(Stream, "_tap")
    assert hasattr(stream, "_stream_version"), _missing(Stream, "_stream_version")
    assert isinstance(stream.plugin_version, str), _missing(Tap, "plugin_version")
    assert stream.plugin_version


def test_records_carry_the_table_version_set(capfd: pytest.CaptureFixture[str]) -> None:
    stream = _stream()
    stream.set_table_version(1234)
    generate = getattr(stream, "_generate_record_messages", None)
    assert generate is not None, _missing(Stream, "_generate_record_messages")
    messages = list(generate({"entity_urn": "urn:li:fsd_profile:A"}))
    assert [m.version for m in messages] == [1234], _missing(Stream, "_stream_version")
    assert not _messages(capfd.readouterr().out)  # setting a version sends nothing


def test_activate_sends_activate_version(capfd: pytest.CaptureFixture[str]) -> None:
    stream = _stream()
    stream.set_table_version(1234, activate=True)
    sent = _messages(capfd.readouterr().out)
    assert sent == [{"type": "ACTIVATE_VERSION", "stream": "connections", "version": 1234}], (
        _missing(Stream, "_write_activate_version_message")
    )


def test_write_state_now_sends_the_tap_state(capfd: pytest.CaptureFixture[str]) -> None:
    stream = _stream()
    stream.tap_state.setdefault("bookmarks", {})["connections"] = {"marker": 1}
    stream.write_state_now()
    sent = _messages(capfd.readouterr().out)
    assert [m["type"] for m in sent] == ["STATE"], _missing(Tap, "state_writer.write_state")
    assert sent[0]["value"]["bookmarks"]["connections"] == {"marker": 1}


def test_building_the_tap_calls_its_config_hook() -> None:
    # The SDK's own check would accept a config the tap's hook refuses.
    with pytest.raises(ConfigError):
        TapLinkedInConnections(
            config={"api_key": "contract-key", "api_url": "ftp://example.com"},
            validate_config=True,
            setup_mapper=False,
        )


def test_the_sdk_termination_handler_is_there_and_installed() -> None:
    handler = getattr(Tap, "_handle_termination", None)
    assert callable(handler), _missing(Tap, "_handle_termination")
    assert _parameters(handler) == ["self", "signum", "frame"], _missing(
        Tap, "_handle_termination(signum, frame)"
    )
    installs = inspect.getsource(PluginBase._setup_signal_handlers)
    for name in ("SIGTERM", "SIGINT", "self._handle_termination"):
        assert name in installs, _missing(PluginBase, "_setup_signal_handlers")


def test_a_termination_writes_state_and_exits_with_the_signal_s_code(
    capfd: pytest.CaptureFixture[str],
) -> None:
    stream = _stream()
    stream.tap_state.setdefault("bookmarks", {})["connections"] = {"marker": 2}
    with pytest.raises(StoppedBySignal) as exited:
        stream._tap._handle_termination(signal.SIGTERM, None)
    assert exited.value.code == 143, _missing(Tap, "_handle_termination (it exits itself)")
    assert exited.value.line.startswith("stopped by SIGTERM: the STATE so far was written")
    sent = _messages(capfd.readouterr().out)
    assert [m["type"] for m in sent] == ["STATE"], _missing(Tap, "_handle_termination (STATE)")
    assert sent[0]["value"]["bookmarks"]["connections"] == {"marker": 2}


def test_the_sdk_syncs_streams_in_the_order_of_tap_streams() -> None:
    """The profiles choose from what the connections stream read in the same run."""
    syncs = inspect.getsource(Tap.sync_all)
    assert "for stream in self.streams.values()" in syncs, _missing(Tap, "sync_all's order")
    assert isinstance(inspect.getattr_static(Tap, "streams"), property), _missing(Tap, "streams")
    tap = _stream()._tap
    assert list(tap.streams) == ["connections", "profiles", "connection_events", "job_changes"]
    # The SDK's own order is by name, which would sync job_changes before profiles.
    assert [s.name for s in tap.load_streams()] == sorted(tap.streams)


def test_the_sdk_hands_every_option_of_its_command_to_invoke() -> None:
    """`--plan` is the tap's own option on the SDK's command (sdk.py)."""
    command = TapLinkedInConnections.get_singer_command()
    options = {name for param in command.params for name in param.opts}
    assert {"--plan", "--config", "--state", "--catalog"} <= options
    assert command.callback == TapLinkedInConnections.invoke, _missing(Tap, "get_singer_command")
    invoke = inspect.signature(Tap.invoke).parameters
    for name in ("about", "about_format", "config", "state", "catalog"):
        assert invoke[name].kind is inspect.Parameter.KEYWORD_ONLY, _missing(Tap, f"invoke({name})")

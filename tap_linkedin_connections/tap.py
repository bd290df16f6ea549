"""tap-linkedin-connections: the Tap (its streams, --test, the config hook) and main."""

from __future__ import annotations

import json
import os
import sys
import typing as t

import click
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError, MappingError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_linkedin_connections.accounts.threads import Accounts, AccountsFailed
from tap_linkedin_connections.connections.stream import ConnectionsStream
from tap_linkedin_connections.engine.ledger import LedgerError, ledger_url
from tap_linkedin_connections.history.export import ExportError
from tap_linkedin_connections.history.stream import ConnectionEventsStream
from tap_linkedin_connections.outx.client import TAP_SETTINGS, OutXClient, OutXError, SettingNames
from tap_linkedin_connections.plan import plan_lines
from tap_linkedin_connections.profiles.reader import NEEDS_LEDGER
from tap_linkedin_connections.profiles.stream import JobChangesStream, ProfilesStream
from tap_linkedin_connections.redaction import api_keys, redact_from_logs
from tap_linkedin_connections.sdk import SdkStream, SdkTap, StoppedBySignal
from tap_linkedin_connections.settings import CONFIG_SCHEMA
from tap_linkedin_connections.validation import (
    argument_problems,
    config_problems,
    numbers_from_text,
)

#: Failures that end a run in one line, exit code 1 (see main); never a traceback.
USER_ERRORS = (OutXError, LedgerError, AccountsFailed, ExportError)


class ConfigError(ConfigValidationError):
    """A setting is wrong. Its message names the setting and never echoes the API key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Config validation failed", errors=problems)


class TapLinkedInConnections(SdkTap):
    """Singer tap for one LinkedIn account's 1st-degree connections, through OutX."""

    name = "tap-linkedin-connections"
    # About 1.5x faster than the default writer on this tap's all-text records.
    message_writer_class = MsgSpecWriter
    # Listed in full to leave out BATCH, which this tap's paging and STATE do not use.
    capabilities: t.ClassVar[list[t.Any]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = CONFIG_SCHEMA
    # The connections first: their pages come first in the account's budget, and their
    # events are found while reading them; the profiles choose from what they read, and
    # find job changes; then the events of both, and the job changes.
    sync_order = (
        ConnectionsStream.name,
        ProfilesStream.name,
        ConnectionEventsStream.name,
        JobChangesStream.name,
    )

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Build the tap; from here on no log line can carry the API key, and a selection
        that cannot run is refused (before any request)."""
        super().__init__(*args, **kwargs)
        for api_key in api_keys(self.config):
            # The key as sent (stripped) is inside every form of the raw one too
            # (repr, escaped), so redacting it covers them all.
            redact_from_logs(api_key)
        if Accounts.from_config(self.config).several and self.config.get("api_key"):
            # Meltano passes a key kept in .env to every job; a job with accounts
            # reads those, so one project can hold both kinds of job.
            self.logger.warning(
                "Both api_key and accounts are set: api_key is not used (add it to "
                "accounts to read its account too)"
            )
        if self.config.get("accounts") and self.config.get("linkedin_export"):
            self.logger.warning(
                "Both linkedin_export and accounts are set: linkedin_export is not used "
                "(an export holds one member's connections: give it in that account's "
                "entry of accounts)"
            )
        self.check_selection()

    @override
    def discover_streams(self) -> list[SdkStream]:
        """The tap's streams, in the order they sync (see ``sync_order``).

        ``profiles`` and ``job_changes`` are opt-in (not selected by default).
        """
        profiles = ProfilesStream(tap=self)
        return [
            ConnectionsStream(tap=self, listing_wanted=lambda: profiles.selected),
            profiles,
            ConnectionEventsStream(tap=self),
            JobChangesStream(tap=self),
        ]

    def check_selection(self) -> None:
        """LedgerError (one line) if a selected stream needs the task ledger, and it is off."""
        needy = [s for s in ("profiles", "job_changes") if self.streams[s].selected]
        if not needy:
            return
        for account in Accounts.from_config(self.config):
            if ledger_url(account.config.get("task_ledger")) is None:
                raise LedgerError(NEEDS_LEDGER)

    @classmethod
    @override
    def invoke(cls, *, plan: bool = False, **kwargs: t.Any) -> None:
        """Run the tap, or with ``--plan`` say what the next run would create, and stop."""
        if not plan:
            super().invoke(**kwargs)
            return
        config = kwargs.get("config")
        state = kwargs.get("state")
        catalog = kwargs.get("catalog")
        tap = cls(
            config=config.config if config else None,
            state=None if state is None else json.loads(state.read()),
            catalog=None if catalog is None else json.loads(catalog.read()),
            parse_env_config=config.parse_env if config else False,
            validate_config=True,
            setup_mapper=False,
        )
        tap.check_selection()
        for line in plan_lines(tap):
            sys.stdout.write(line + "\n")

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: check the key and the extension; ``--test=schema`` as the SDK does.

        The SDK's ``--test`` syncs one record, which here creates a task: a real LinkedIn
        action. This check creates none.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config: t.Any = ctx.params.get("config")
        try:
            tap = cls(
                config=config.config if config else None,
                parse_env_config=config.parse_env if config else False,
                validate_config=True,
                setup_mapper=False,
            )
        except ConfigValidationError as exc:
            for problem in exc.errors:
                sys.stderr.write(f"tap-linkedin-connections: error: {problem}\n")
            ctx.exit(1)
        accounts = Accounts.from_config(tap.config)
        if not accounts.several:
            sys.stderr.write(f"tap-linkedin-connections: {tap.check_connection()}\n")
            ctx.exit()
        failed = 0
        for account in accounts:
            # Every account is checked, so one run of --test names every broken one.
            try:
                line = tap.check_connection(account.config, account.settings)
            except OutXError as exc:
                failed += 1
                line = f"error: {exc}"
            sys.stderr.write(f"tap-linkedin-connections: account '{account.name}': {line}\n")
        ctx.exit(1 if failed else 0)

    def check_connection(
        self,
        config: t.Mapping[str, t.Any] | None = None,
        settings: SettingNames = TAP_SETTINGS,
    ) -> str:
        """Check an account's key and extension at no LinkedIn action; say what passed.

        ``config``: the account's settings (see accounts/threads.py), the tap's own by
        default; ``settings``: how errors name them. Raises the client's one-line
        :class:`OutXError` when either is not fine, or when the URL is not OutX's.
        """
        client = OutXClient.from_config(
            config or self.config,
            user_agent=f"{self.name}/{self.plugin_version}",
            logger=self.logger,
            settings=settings,
        )
        try:
            client.check_connection()
        finally:
            client.close()
        return (
            f"connection test passed: {client.api_url} accepted the API key and a team "
            "member's OutX extension is active (checked by asking for an unknown task; "
            "no task created)"
        )

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # A private SDK hook (tests/unit/test_sdk_contract.py checks it still exists and is
        # called when the tap is built), overridden because it is the one place that sees the merged
        # config (files + environment) before any request, and because the SDK's own
        # messages echo the offending value, which could be the API key. It is also the
        # one place to read number settings that Meltano passes as text.
        self._config.update(numbers_from_text(self._config, self.config_jsonschema))
        problems = config_problems(self.config, self.config_jsonschema)
        if problems and raise_errors:
            raise ConfigError(problems)
        for problem in problems:
            self.logger.warning("Invalid setting: %s", problem)
        if problems:
            return problems
        return super()._validate_config(raise_errors=raise_errors)


def main() -> None:
    """Console entry point: a user-facing failure ends in one line, not a traceback."""
    problems = argument_problems(sys.argv[1:], os.environ, TapLinkedInConnections.config_jsonschema)
    if problems:
        for problem in problems:
            sys.stderr.write(f"tap-linkedin-connections: error: {problem}\n")
        sys.exit(1)
    try:
        TapLinkedInConnections.cli()
    except USER_ERRORS as exc:
        sys.stderr.write(f"tap-linkedin-connections: error: {exc}\n")
        sys.exit(1)
    except StoppedBySignal as stop:
        # Said last, after the log lines the run wrote while it unwound.
        sys.stderr.write(f"tap-linkedin-connections: {stop.line}\n")
        raise
    except MappingError as exc:
        # A stream map that does not parse (raised when the tap is built, before any
        # request) or that fails on a record. Its text is the user's expression.
        said = " ".join(str(exc).split())
        sys.stderr.write(f"tap-linkedin-connections: error: 'stream_maps' cannot be used: {said}\n")
        sys.exit(1)

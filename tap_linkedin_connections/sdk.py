"""The Singer SDK's private members this tap relies on, in one place.

The SDK offers no public way to write STATE in the middle of a stream, to choose the
table version that RECORD messages carry, or to send ACTIVATE_VERSION at the end of a
pass rather than before its records. These methods reach the private members that do
it; tests/test_sdk_contract.py fails, naming the member, when an SDK release changes
one. (The tap's config hook, ``Tap._validate_config``, stays in tap.py: it must be an
override.)
"""

from __future__ import annotations

from singer_sdk import Stream


class SdkStream(Stream):
    """A Stream with the few SDK internals the connections stream needs, made explicit."""

    def write_state_now(self) -> None:
        """Write a STATE message with the tap's state now (identical ones are skipped)."""
        self._tap.state_writer.write_state(self.tap_state)

    def set_table_version(self, version: int, *, activate: bool = False) -> None:
        """Let the RECORD messages from now on carry ``version``; ``activate``: then send
        ACTIVATE_VERSION for it, so a target may drop the rows of older versions.

        The SDK sets the version only for its own ACTIVATE_VERSION, which it sends before
        the records: a run dying halfway would then leave the table emptied.
        """
        self._stream_version = version
        if activate:
            self._write_activate_version_message(version)

    @property
    def plugin_version(self) -> str:
        """The tap's version, as ``--version`` reports it."""
        return str(self._tap.plugin_version)

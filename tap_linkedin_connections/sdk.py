"""The Singer SDK's private members this tap relies on, in one place.

The SDK offers no public way to write STATE in the middle of a stream, to choose the
table version that RECORD messages carry, or to send ACTIVATE_VERSION at the end of a
pass rather than before its records. These methods reach the private members that do
it; tests/test_sdk_contract.py fails, naming the member, when an SDK release changes
one. Nor does it offer a public way to say that a run ended by a signal failed: its
handler (``Tap._handle_termination``) writes STATE and exits 0. (The tap's config hook,
``Tap._validate_config``, stays in tap.py: it must be an override.)
"""

from __future__ import annotations

import signal
import typing as t

from singer_sdk import Stream, Tap
from typing_extensions import override

if t.TYPE_CHECKING:
    from types import FrameType

#: How a process ended by a signal exits, as shells report it: 128 + the signal's number.
SIGNAL_EXIT_BASE = 128


class StoppedBySignal(SystemExit):
    """The run was stopped by a signal; exits with the shell's code for it.

    A SystemExit, so that it unwinds the run as the SDK's own exit did (no handler of
    ``Exception`` stops it); ``line`` is what the entry point prints once it has.
    """

    def __init__(self, signum: int, *, state_written: bool) -> None:
        code = SIGNAL_EXIT_BASE + signum
        super().__init__(code)
        written = (
            "the STATE so far was written, the next run resumes from it"
            if state_written
            else "the STATE could not be written (stdout is closed)"
        )
        self.line = f"stopped by {signal.Signals(signum).name}: {written}; exit code {code}"


class SdkTap(Tap):
    """A Tap whose run, ended by SIGTERM or SIGINT, writes STATE and exits non-zero,
    and whose streams sync in the order it says.

    The SDK installs its handler for both signals when the tap is built; it writes
    STATE, then exits 0, so a scheduler would read a killed run as a success. Here it
    raises :class:`StoppedBySignal` instead: the shell's code for the signal (143 for
    SIGTERM, 130 for SIGINT).
    """

    #: Stream names in the order they sync (the SDK's own order is by name); streams
    #: not named here come after, by name.
    sync_order: t.ClassVar[tuple[str, ...]] = ()

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """The streams, in ``sync_order`` (``sync_all`` runs them in this dict's order)."""
        found = super().streams
        rank = {name: index for index, name in enumerate(self.sync_order)}
        ordered = sorted(found, key=lambda name: (rank.get(name, len(rank)), name))
        return {name: found[name] for name in ordered}

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        written = True
        try:
            super()._handle_termination(signum, frame)  # writes STATE, then exits 0
        except SystemExit:
            pass
        except OSError:  # stdout is gone (a closed pipe): the STATE could not be written
            written = False
        raise StoppedBySignal(signum, state_written=written)


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

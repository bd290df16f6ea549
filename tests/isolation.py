"""The tests keep out of the user's own state and data directories.

The tap's default task ledger is ``ledger.sqlite`` in the user's state directory
(``$XDG_STATE_HOME/tap-linkedin-connections/`` on Linux), and Meltano 4.4 writes its logs
to the user's log directory (``$XDG_STATE_HOME/meltano/log``). A test that forgets to give
the tap a ledger of its own, or runs Meltano as it is, would write there.

So, for the whole session (in each pytest-xdist worker, which is a process of its own),
``XDG_STATE_HOME`` and ``XDG_DATA_HOME`` point into a temporary directory, which every
subprocess inherits; and after each test that directory must still be empty, except for
Meltano's log directory. A test that leaves anything else there fails, naming the files:
on a developer's machine, or on macOS where platformdirs ignores ``XDG_*``, those files
would have landed in the user's real directories.

``tests/conftest.py`` imports the hooks and the fixture below; ``tests/unit/test_isolation.py``
checks that a test writing to the default ledger fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import typing as t
from pathlib import Path

import pytest

#: The variables pointed at the session's own directories.
REDIRECTED = ("XDG_STATE_HOME", "XDG_DATA_HOME")

#: What may appear there: Meltano writes its logs to the user's log directory
#: (``platformdirs.user_log_path("meltano")``, under ``XDG_STATE_HOME`` on Linux) and has
#: no setting to move them; in the session's directory they harm no one.
TOLERATED = frozenset({Path("XDG_STATE_HOME") / "meltano"})


def leftovers(root: Path, tolerated: frozenset[Path] = TOLERATED) -> list[Path]:
    """What lies under ``root`` besides its top folders and the tolerated ones: files,
    and empty folders (a tap that made its state directory), relative to ``root``."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder).relative_to(root)
        subfolders[:] = sorted(s for s in subfolders if here / s not in tolerated)
        found += [here / name for name in files]
        if not subfolders and not files and len(here.parts) > 1:
            found.append(here)
    return sorted(found)


def pytest_configure(config: pytest.Config) -> None:
    """Point the XDG variables at a temporary directory of this process's own."""
    root = Path(tempfile.mkdtemp(prefix="tap-linkedin-connections-tests-"))
    for name in REDIRECTED:
        (root / name).mkdir()
        os.environ[name] = str(root / name)
    config.stash[_root_key] = root


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(_root_key, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


_root_key = pytest.StashKey[Path]()


@pytest.fixture(autouse=True)
def _nothing_left_in_the_user_directories(request: pytest.FixtureRequest) -> t.Iterator[None]:
    """Fail the test that wrote into the (redirected) user state or data directories."""
    root = request.config.stash[_root_key]
    yield
    written = leftovers(root)
    if not written:
        return
    for name in REDIRECTED:  # start the next test clean, whatever this one did
        shutil.rmtree(root / name, ignore_errors=True)
        (root / name).mkdir()
    pytest.fail(
        f"{request.node.nodeid} wrote into the user's state or data directory: "
        + ", ".join(f"${path}" for path in written)
        + ". Give the tap a task_ledger under tmp_path (tests.helpers.run_tap does), "
        "or set XDG_STATE_HOME for the subprocess.",
        pytrace=False,
    )

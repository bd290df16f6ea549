"""The guard of tests/isolation.py: a test that writes into the user's directories fails."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import platformdirs
import pytest

from tests.isolation import REDIRECTED, leftovers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("made", "reported"),
    [
        ([], []),
        (["XDG_STATE_HOME/meltano/log/elt/run/elt.log"], []),
        (
            ["XDG_STATE_HOME/tap-linkedin-connections/ledger.sqlite"],
            ["XDG_STATE_HOME/tap-linkedin-connections/ledger.sqlite"],
        ),
        (["XDG_STATE_HOME/tap-linkedin-connections/"], ["XDG_STATE_HOME/tap-linkedin-connections"]),
        (["XDG_DATA_HOME/meltano/x.json"], ["XDG_DATA_HOME/meltano/x.json"]),
        (
            ["XDG_DATA_HOME/b/2", "XDG_DATA_HOME/a/1", "XDG_STATE_HOME/meltano/log/x"],
            ["XDG_DATA_HOME/a/1", "XDG_DATA_HOME/b/2"],
        ),
    ],
)
def test_leftovers_are_files_and_made_folders_outside_meltanos_logs(tmp_path, made, reported):
    for name in REDIRECTED:
        (tmp_path / name).mkdir()
    for entry in made:
        path = tmp_path / entry
        if entry.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    assert leftovers(tmp_path) == [Path(p) for p in reported]


def test_during_the_tests_the_user_directories_are_a_temporary_directory():
    home = Path.home().resolve()
    temporary = Path(tempfile.gettempdir()).resolve()
    for name in REDIRECTED:
        folder = Path(os.environ[name]).resolve()
        assert folder.is_relative_to(temporary), (name, folder)
        assert not folder.is_relative_to(home / ".local"), (name, folder)
    if sys.platform.startswith("linux"):  # platformdirs reads XDG_* on Linux only
        state = Path(platformdirs.user_state_dir("tap-linkedin-connections")).resolve()
        assert state.is_relative_to(Path(os.environ["XDG_STATE_HOME"]).resolve())


LEAKING_SUITE = """
from pathlib import Path

import platformdirs


def test_forgets_its_ledger():
    state = Path(platformdirs.user_state_dir("tap-linkedin-connections"))
    state.mkdir(parents=True, exist_ok=True)
    (state / "ledger.sqlite").write_text("")


def test_keeps_to_tmp_path(tmp_path):
    (tmp_path / "ledger.sqlite").write_text("")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_* is read on Linux")
def test_a_test_that_writes_the_default_ledger_fails_and_is_named(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(
        "from tests.isolation import (  # noqa: F401\n"
        "    _nothing_left_in_the_user_directories, pytest_configure, pytest_unconfigure)\n"
    )
    (suite / "test_leak.py").write_text(LEAKING_SUITE)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=suite,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "test_leak.py::test_forgets_its_ledger wrote into the user's state" in out
    assert "$XDG_STATE_HOME/tap-linkedin-connections/ledger.sqlite" in out
    assert "2 passed, 1 error" in out  # the clean test is not blamed

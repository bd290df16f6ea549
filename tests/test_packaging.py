"""The package builds, passes twine check, carries its licence, and claims what CI tests."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_classifiers_requires_python_and_the_ci_matrix_agree():
    classified = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', _pyproject())
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]["python-version"]
    assert classified == matrix
    minimum = re.search(r'requires-python = ">=(3\.\d+)"', _pyproject())
    assert minimum is not None
    assert minimum.group(1) == classified[0]


def test_ci_and_release_workflows_ask_for_least_privilege():
    workflows = ROOT / ".github" / "workflows"
    for name in ("ci.yml", "release.yml"):
        workflow = yaml.safe_load((workflows / name).read_text(encoding="utf-8"))
        assert workflow["permissions"] == {"contents": "read"}, name
    release = yaml.safe_load((workflows / "release.yml").read_text(encoding="utf-8"))
    writers = [
        name for name, job in release["jobs"].items() if "id-token" in job.get("permissions", {})
    ]
    assert writers == ["publish"]


def test_wheel_and_sdist_build_pass_twine_check_and_carry_the_licence(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    with zipfile.ZipFile(wheel) as archive:
        licences = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert len(licences) == 1
        assert archive.read(licences[0]).decode() == licence
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: Apache-2.0" in archive.read(metadata).decode()
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("/LICENSE") for n in names)
    assert any(n.endswith("/hub/tap-linkedin-connections.yml") for n in names)

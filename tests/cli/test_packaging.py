"""The package builds, passes twine check, carries its licence, declares what it imports,
and claims what CI tests."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import typing as t
import zipfile
from pathlib import Path

import yaml

try:
    import tomllib
except ImportError:  # Python 3.10; pytest requires tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tap_linkedin_connections"
REPO = "https://github.com/tap-linkedin-connections/tap-linkedin-connections"


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _project() -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", tomllib.loads(_pyproject())["project"])


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_distributions() -> set[str]:
    names = set()
    for requirement in _project()["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match is not None, requirement
        names.add(_normalized(match.group(0)))
    return names


def _imported_modules() -> set[str]:
    """The top-level modules the package imports, its own and the standard library's
    excluded."""
    modules: set[str] = set()
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_every_module_the_package_imports_is_a_declared_dependency():
    declared = _declared_distributions()
    distributions = importlib.metadata.packages_distributions()
    third_party = sorted(
        module
        for module in _imported_modules() - {"tap_linkedin_connections"}
        if module not in sys.stdlib_module_names
    )
    assert "jsonschema" in third_party  # the check sees what it must
    for module in third_party:
        providers = {_normalized(d) for d in distributions.get(module, [module])}
        assert providers & declared, f"{module} is imported but none of {providers} is declared"


def test_zoneinfo_has_its_fallback_database_declared():
    """zoneinfo needs the system's zone database; where there is none (Windows, slim
    containers) only the tzdata package lets even `timezone: UTC` through."""
    assert "zoneinfo" in _imported_modules()
    assert "tzdata" in _declared_distributions()


def test_the_metadata_names_the_repository_the_issues_and_the_authors():
    project = _project()
    assert project["urls"]["Repository"] == REPO
    assert project["urls"]["Issues"] == f"{REPO}/issues"
    assert project["authors"]
    assert project["maintainers"]
    assert all(person.get("name") for person in project["authors"] + project["maintainers"])


def test_the_version_is_the_changelogs_newest_release():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert releases, "CHANGELOG.md names no release"
    assert releases[0] == _project()["version"]
    assert f"[{releases[0]}]: {REPO}/" in changelog  # the heading's link


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
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: jsonschema" in metadata
    assert "Requires-Dist: tzdata" in metadata
    assert "Classifier: Programming Language :: Python :: 3.14" in metadata
    assert f"Project-URL: Issues, {REPO}/issues" in metadata
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("/LICENSE") for n in names)
    assert any(n.endswith("/hub/tap-linkedin-connections.yml") for n in names)

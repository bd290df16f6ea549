"""Write the Meltano Hub definition, ``hub/tap-linkedin-connections.yml``, from ``--about``.

Run with the project's environment: ``.venv/bin/python scripts/update_hub.py``.
tests/cli/test_hub.py fails while the file differs from what this writes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB_FILE = ROOT / "hub" / "tap-linkedin-connections.yml"
REPO = "https://github.com/tap-linkedin-connections/tap-linkedin-connections"

HEADER = """\
# The Meltano Hub definition of this tap, generated from `tap-linkedin-connections --about`
# by scripts/update_hub.py: edit the tap's config schema (or that script), then run it.
# In a Hub pull request it is _data/meltano/extractors/tap-linkedin-connections/
# tap-linkedin-connections.yml; hub/README.md lists the other files the request needs.
#
#   meltano add --plugin-type extractor tap-linkedin-connections \\
#       --from-ref https://raw.githubusercontent.com/tap-linkedin-connections/tap-linkedin-connections/main/hub/tap-linkedin-connections.yml
#
# pip_url is the package on PyPI. Before it is published, change pip_url in your
# meltano.yml to a wheel or a git URL (the README's "pip_url" says which).
#
# The number settings (durations, max_deleted_fraction) are declared `kind: string`:
# Meltano 4.4 cannot pass a `kind: decimal` setting given through an environment
# variable. The tap reads a number given as text ("0.5") as that number. The Hub page
# says so too (settings_preamble).
"""

#: The service the data comes through (the Hub's "domain_url").
DOMAIN_URL = "https://outx.ai"
#: The logo, drawn for this tap: hub/logos/<LOGO> here, static/assets/logos/extractors/<LOGO>
#: in the Hub's repository.
LOGO = "linkedin-connections.svg"

#: Appended to the description of every number setting, which a Hub reader sees declared
#: as a string.
NUMBER_NOTE = 'A number, declared as text for Meltano (see above): `0.5` and `"0.5"` both work.'

PREREQ = """\
An [OutX](https://outx.ai) team and its API key. OutX reads LinkedIn through its Chrome
extension, logged in to LinkedIn as the team's oldest admin: every page of connections is a
task that extension runs (a real LinkedIn action), so that Chrome must be open. To try the
tap without an account, use the sandbox shipped in the package (see below).
"""

SETTINGS_PREAMBLE = """\
Give `api_key` (one OutX team) or `accounts` (several, as JSON), from `.env` or a secret
store, never in `meltano.yml`. Everything else has a default.

**Why the number settings are strings.** The durations (`*_seconds`) and
`max_deleted_fraction` are declared `kind: string`: Meltano 4.4 fails on a `kind: decimal`
setting given through an environment variable ("Object of type Decimal is not JSON
serializable"), and `kind: integer` would refuse `0.5`. The tap reads a number given as
text as that number, so `TAP_LINKEDIN_CONNECTIONS_TASK_TIMEOUT_SECONDS=240`,
`TAP_LINKEDIN_CONNECTIONS_MAX_DELETED_FRACTION=0.05` and plain numbers in `meltano.yml`
all work. Meltano reads `null` as "the default": switch a task limit off with `0`.
"""

USAGE = f"""\
**Try it without an account.** The package ships a local stand-in for the OutX API:
`tap-linkedin-connections-sandbox` serves 1,234 connections on `http://127.0.0.1:8765`
(API key `sandbox-api-key`). Point the tap at it with `api_url` and `api_key`, and switch
the pacing off for it (`task_spacing_min_seconds: 0`, `task_spacing_max_seconds: 0`,
`max_tasks_per_hour: 0`, `max_tasks_per_day: 0`): the defaults leave 10 to 30 seconds
between tasks to protect a real LinkedIn account, which makes the sandbox's 13 tasks take
about 4 minutes instead of 7 seconds.

**Loaders.** Later runs read only the new connections, and a completed full pass ends
with `ACTIVATE_VERSION`, so the loader should upsert on the stream's key (`account`,
`entity_urn`) and may honour `ACTIVATE_VERSION`. MeltanoLabs target-postgres does both.
MeltanoLabs target-snowflake's Hub definition sets `load_method: append-only`, which adds
a copy of every row on each full pass: set `load_method: upsert`. Recipes, costs and
limits: [the README]({REPO}#readme).

**Profiles are opt-in.** The `profiles` stream reads each connection's profile, and
`job_changes` says who changed jobs; every profile fetched is a profile view on your
LinkedIn account, at most `max_profile_fetches_per_day` (default 50) a day, inside the
same budget as the pages. This definition selects `connections.*` and
`connection_events.*` only; to fetch
profiles, set the extractor's `select` to
`[connections.*, connection_events.*, profiles.*, job_changes.*]`.
"""


def python_versions() -> list[str]:
    """The Python versions the package claims (its classifiers), as the Hub lists them."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)


#: Meltano setting kinds for the JSON schema types of the tap's settings.
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "string",  # see HEADER
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}


def about() -> dict[str, t.Any]:
    """The tap's ``--about`` output, as JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "tap_linkedin_connections", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return t.cast("dict[str, t.Any]", json.loads(out))


def _json_type(schema: dict[str, t.Any]) -> str:
    types = schema.get("type", "string")
    if isinstance(types, str):
        return types
    return next(kind for kind in types if kind != "null")


def _label(name: str, schema: dict[str, t.Any]) -> str:
    if schema.get("title"):
        return str(schema["title"])
    words = name.replace("_seconds", "").replace("_", " ")
    suffix = " (seconds)" if name.endswith("_seconds") else ""
    return words[:1].upper() + words[1:] + suffix


def _default(value: t.Any) -> t.Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an integer kind
    return value


def setting(name: str, schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """One setting of the Hub definition, from its JSON schema in ``--about``."""
    entry: dict[str, t.Any] = {"name": name}
    allowed = schema.get("enum")
    if allowed:
        entry["kind"] = "options"
        entry["options"] = [{"label": value, "value": value} for value in allowed if value]
    else:
        entry["kind"] = KINDS[_json_type(schema)]
    if schema.get("secret") or schema.get("writeOnly"):
        entry["sensitive"] = True
    if schema.get("default") is not None:
        entry["value"] = _default(schema["default"])
    entry["label"] = _label(name, schema)
    description = " ".join(str(schema.get("description", "")).split())
    if _json_type(schema) == "number":
        description = f"{description} {NUMBER_NOTE}"
    entry["description"] = description
    return entry


def hub_definition(about: dict[str, t.Any]) -> dict[str, t.Any]:
    """The whole Hub definition."""
    settings = about["settings"]
    return {
        "name": about["name"],
        "namespace": "tap_linkedin_connections",
        "variant": "tap-linkedin-connections",
        "label": "LinkedIn connections (OutX)",
        "description": about["description"],
        "docs": f"{REPO}#readme",
        "repo": REPO,
        "pip_url": about["name"],
        "executable": about["name"],
        "domain_url": DOMAIN_URL,
        "logo_url": f"/assets/logos/extractors/{LOGO}",
        "maintenance_status": "active",
        "quality": "unknown",
        "keywords": ["linkedin", "outx", "meltano_sdk"],
        "supported_python_versions": python_versions(),
        "capabilities": list(about["capabilities"]),
        # One account (api_key) or several (accounts): either is a whole config.
        "settings_group_validation": [["api_key"], ["accounts"]],
        # Meltano selects every stream of a plugin that says nothing; the profiles and
        # job_changes streams cost profile views, so only the connections by default.
        "select": ["connections.*", "connection_events.*"],
        "prereq": PREREQ,
        "settings_preamble": SETTINGS_PREAMBLE,
        "usage": USAGE,
        "settings": [setting(name, schema) for name, schema in settings["properties"].items()],
    }


class _Dumper(yaml.SafeDumper):
    """Writes the Markdown texts (prereq, usage, ...) as literal blocks, as written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render(about: dict[str, t.Any]) -> str:
    """The file's text."""
    body = yaml.dump(
        hub_definition(about), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True
    )
    return HEADER + body


def main() -> None:
    HUB_FILE.parent.mkdir(exist_ok=True)
    HUB_FILE.write_text(render(about()), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Write the Meltano Hub definition, ``hub/tap-linkedin-connections.yml``, from ``--about``.

Run with the project's environment: ``.venv/bin/python scripts/update_hub.py``.
tests/test_hub.py fails while the file differs from what this writes.
"""

from __future__ import annotations

import json
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
# by scripts/update_hub.py: edit the tap's config schema, then run that script.
#
#   meltano add --plugin-type extractor tap-linkedin-connections \\
#       --from-ref https://raw.githubusercontent.com/tap-linkedin-connections/tap-linkedin-connections/main/hub/tap-linkedin-connections.yml
#
# The number settings (durations, max_deleted_fraction) are declared `kind: string`:
# Meltano 4.4 cannot pass a `kind: decimal` setting given through an environment
# variable. The tap reads a number given as text ("0.5") as that number.
"""

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
    entry["description"] = " ".join(str(schema.get("description", "")).split())
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
        "maintenance_status": "active",
        "quality": "unknown",
        "keywords": ["linkedin", "outx", "meltano_sdk"],
        "capabilities": list(about["capabilities"]),
        # One account (api_key) or several (accounts): either is a whole config.
        "settings_group_validation": [["api_key"], ["accounts"]],
        "settings": [setting(name, schema) for name, schema in settings["properties"].items()],
    }


def render(about: dict[str, t.Any]) -> str:
    """The file's text."""
    body = yaml.safe_dump(hub_definition(about), sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def main() -> None:
    HUB_FILE.parent.mkdir(exist_ok=True)
    HUB_FILE.write_text(render(about()), encoding="utf-8")


if __name__ == "__main__":
    main()

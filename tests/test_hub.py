"""The Meltano Hub definition and meltano.yml stay true to the tap's --about."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

spec = importlib.util.spec_from_file_location("update_hub", ROOT / "scripts" / "update_hub.py")
assert spec is not None
assert spec.loader is not None
update_hub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_hub)

ABOUT = update_hub.about()
HUB = yaml.safe_load(update_hub.HUB_FILE.read_text(encoding="utf-8"))


def test_the_hub_file_is_what_about_generates():
    assert update_hub.HUB_FILE.read_text(encoding="utf-8") == update_hub.render(ABOUT), (
        "hub/tap-linkedin-connections.yml is stale: run .venv/bin/python scripts/update_hub.py"
    )


def test_the_hub_file_declares_every_setting_with_a_kind_meltano_can_pass():
    settings = {entry["name"]: entry for entry in HUB["settings"]}
    assert list(settings) == list(ABOUT["settings"]["properties"])
    for name, entry in settings.items():
        assert entry["kind"] in {"string", "integer", "boolean", "options", "object", "array"}, (
            f"{name}: Meltano 4.4 cannot pass kind {entry['kind']} from the environment"
        )
        assert entry["label"]
        assert entry["description"]
    assert settings["api_key"]["sensitive"] is True
    assert [name for name, entry in settings.items() if entry.get("sensitive")] == [
        "api_key",
        "accounts",
    ]
    assert HUB["settings_group_validation"] == [["api_key"], ["accounts"]]
    assert ABOUT["settings"].get("required", []) == []
    assert HUB["capabilities"] == ABOUT["capabilities"]


def test_the_hub_file_installs_the_published_package():
    distribution = importlib.metadata.distribution("tap-linkedin-connections")
    assert HUB["pip_url"] == distribution.metadata["Name"] == HUB["name"]
    assert HUB["executable"] in {ep.name for ep in distribution.entry_points}


def test_meltano_yml_declares_the_same_settings_as_the_hub_file():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(
        plugin
        for plugin in project["plugins"]["extractors"]
        if plugin["name"] == "tap-linkedin-connections"
    )
    assert extractor["variant"] == HUB["variant"]
    assert extractor["namespace"] == HUB["namespace"]
    assert extractor["capabilities"] == HUB["capabilities"]

    def declared(settings):
        return [(s["name"], s["kind"], s.get("sensitive", False)) for s in settings]

    assert declared(extractor["settings"]) == declared(HUB["settings"])

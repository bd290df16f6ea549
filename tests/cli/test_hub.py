"""The Meltano Hub definition and meltano.yml stay true to the tap's --about."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import typing as t
from pathlib import Path
from xml.etree import ElementTree

import yaml

ROOT = Path(__file__).resolve().parents[2]

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


def test_only_the_connections_are_selected_unless_the_user_says_otherwise():
    """Meltano selects every stream of a plugin that declares no `select`: the Hub
    definition, meltano.yml and the README's snippet keep the opt-in streams out."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(
        plugin
        for plugin in project["plugins"]["extractors"]
        if plugin["name"] == "tap-linkedin-connections"
    )
    assert HUB["select"] == extractor["select"] == ["connections.*", "connection_events.*"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"<!-- user-path:snippet[^>]*-->\n```yaml\n(.*?)^```$", readme, re.M | re.S)
    assert snippet is not None
    assert "select: [connections.*, connection_events.*]" in snippet.group(1)
    for plugin in project["plugins"]["extractors"]:
        # The inherited extractors inherit it; none selects more.
        wanted = ["connections.*", "connection_events.*"]
        assert plugin.get("select", wanted) == wanted, plugin["name"]


# The Hub pull request: the definition's Hub fields, the logo, the variant and maintainer.

#: The keys a Hub extractor definition may hold (meltano/hub, schemas/plugin_definitions/
#: extractors.schema.json), and those it must.
HUB_KEYS = {
    "name", "pip_url", "variant", "namespace", "label", "description", "executable",
    "settings", "docs", "repo", "logo_url", "hidden", "python", "settings_group_validation",
    "commands", "capabilities", "metadata", "schema", "select", "maintenance_status",
    "quality", "domain_url", "keywords", "requires", "definition", "next_steps",
    "settings_preamble", "usage", "prereq", "supported_python_versions", "log_parser",
}  # fmt: skip
HUB_REQUIRED = {"name", "namespace", "variant", "quality"}


def _hub_file(name: str) -> t.Any:
    return yaml.safe_load((ROOT / "hub" / name).read_text(encoding="utf-8"))


def test_the_hub_definition_holds_what_a_hub_pull_request_needs():
    assert set(HUB) <= HUB_KEYS, set(HUB) - HUB_KEYS
    assert set(HUB) >= HUB_REQUIRED
    assert HUB["quality"] in {"gold", "silver", "bronze", "unknown"}
    assert HUB["maintenance_status"] in {"active", "beta", "development", "inactive", "unknown"}
    assert HUB["domain_url"].startswith("https://")
    assert HUB["repo"] == update_hub.REPO
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    classified = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    assert HUB["supported_python_versions"] == classified
    for text in ("prereq", "settings_preamble", "usage"):
        assert HUB[text].strip(), text


def test_the_variant_is_the_default_and_its_maintainer_is_named():
    variants = _hub_file("default_variants.yml")
    assert variants == {"extractors": {HUB["name"]: HUB["variant"]}}
    maintainers = _hub_file("maintainers.yml")
    organisation = update_hub.REPO.rsplit("/", 1)[0]
    assert maintainers == {
        HUB["variant"]: {"label": HUB["variant"], "name": HUB["variant"], "url": organisation}
    }


def test_the_logo_is_a_small_self_contained_svg():
    assert HUB["logo_url"] == f"/assets/logos/extractors/{update_hub.LOGO}"
    logo = ROOT / "hub" / "logos" / update_hub.LOGO
    text = logo.read_text(encoding="utf-8")
    assert len(text.encode()) < 2048
    root = ElementTree.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 64 64"
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    # Shapes only: no embedded or linked image, script, font or text to render.
    assert tags <= {"svg", "title", "rect", "g", "path", "circle"}, tags
    assert "href" not in text
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_hub_reader_is_told_why_the_number_settings_are_strings():
    preamble = HUB["settings_preamble"]
    assert "kind: string" in preamble
    assert "Decimal" in preamble
    assert "TAP_LINKEDIN_CONNECTIONS_MAX_DELETED_FRACTION=0.05" in preamble
    settings = {entry["name"]: entry for entry in HUB["settings"]}
    numbers = [
        name
        for name, schema in ABOUT["settings"]["properties"].items()
        if "number" in ([schema["type"]] if isinstance(schema["type"], str) else schema["type"])
    ]
    assert "max_deleted_fraction" in numbers
    assert "task_timeout_seconds" in numbers
    for name in numbers:
        assert settings[name]["kind"] == "string", name
        assert update_hub.NUMBER_NOTE in settings[name]["description"], name

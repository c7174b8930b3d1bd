"""Meta-test: every number in the built-in catalogs cites a public source, and every
estimate says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml

from planner.specs import GpuSpec, RuntimeSpec, ServingStackSpec

URL = re.compile(r"https?://[^\s]+\.[a-z]{2,}")
CATALOGS = resources.files("planner.catalogs")
FILES = sorted(
    f"{folder.name}/{file.name}"
    for folder in CATALOGS.iterdir()
    if folder.is_dir() and not folder.name.startswith("_")
    for file in folder.iterdir()
    if file.name.endswith(".yaml")
)
SPEC_OF_FOLDER = {"gpus": GpuSpec, "runtimes": RuntimeSpec, "stacks": ServingStackSpec}
#: Keys whose numbers are bookkeeping, not catalog facts.
NOT_FACTS = {"field_sources", "estimates", "notes", "note"}


def entries(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((CATALOGS / name).read_text(encoding="utf-8"))["entries"]


def numbers(value: Any, path: str = "") -> Iterator[str]:
    """Yield the dotted path of every number inside ``value``."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path
    elif isinstance(value, dict):
        for key, sub in value.items():
            if key not in NOT_FACTS:
                yield from numbers(sub, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from numbers(sub, f"{path}[{i}]")


def test_catalog_files_are_found() -> None:
    folders = {name.split("/")[0] for name in FILES}
    assert folders == {"gpus", "models", "runtimes", "stacks", "efficiency", "costs", "physics", "calibration"}


@pytest.mark.parametrize("name", [f for f in FILES if not f.startswith("efficiency/")])
def test_every_entry_and_number_has_a_source(name: str) -> None:
    for entry in entries(name):
        label = f"{name}:{entry['id']}"
        assert URL.search(entry.get("source", "")), f"{label}: `source` must be a public URL"
        for field, source in entry.get("field_sources", {}).items():
            assert URL.search(source), f"{label}: field_sources.{field} must cite a URL"
        if "published" in entry:
            assert URL.match(entry["published"]["source"]), f"{label}: published counts need a source"
        for knob in entry.get("knobs", []):
            assert URL.search(knob["source"]), f"{label}: knob {knob['name']} needs a source URL"


@pytest.mark.parametrize("name", [f for f in FILES if f.split("/")[0] in ("gpus", "physics", "calibration", "costs")])
def test_estimates_and_field_sources_name_real_fields(name: str) -> None:
    for entry in entries(name):
        label = f"{name}:{entry['id']}"
        leaves = set(numbers(entry))
        for field in [*entry.get("field_sources", {}), *entry.get("estimates", [])]:
            assert field in leaves, f"{label}: `{field}` names no number of the entry"
        if entry.get("estimates"):
            assert entry.get("notes"), f"{label}: estimates need a note saying how they were made"
        if entry.get("price"):
            assert entry["price"]["estimate"] is True and URL.match(entry["price"]["source"]), label


@pytest.mark.parametrize("name", [f for f in FILES if f.split("/")[0] in SPEC_OF_FOLDER])
def test_source_of_resolves_every_number(name: str) -> None:
    spec_class = SPEC_OF_FOLDER[name.split("/")[0]]
    for entry in entries(name):
        spec = spec_class.model_validate(entry, strict=True)
        for path in numbers(entry):
            assert URL.search(spec.source_of(path)), f"{name}:{entry['id']}: {path} has no source"


@pytest.mark.parametrize("name", [f for f in FILES if f.startswith("models/")])
def test_model_entries_cite_their_config_and_licence(name: str) -> None:
    for entry in entries(name):
        label = f"{name}:{entry['id']}"
        assert "config.json" in entry["source"] or "params.json" in entry["source"], label
        assert entry["license"] and URL.match(entry["license_url"]), label
        assert entry["config"]["architectures"], label


def test_efficiency_factors_say_what_they_were_fitted_on() -> None:
    """Calibrated factors cite the measurement file (whose rows cite public sources) and its hash."""
    for entry in entries("efficiency/calibrated.yaml"):
        assert entry["rows"] >= 4 and "sha256:" in entry["data"], entry["id"]
        for band in entry["bands"].values():
            low, high, count, documents = band
            assert 0 < low <= high and 1 <= documents <= count, entry["id"]

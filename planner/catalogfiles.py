"""Reading the YAML catalogs that ship in ``planner.catalogs``.

Built-in plugins call these helpers; third-party plugins may too, for their own
package's data files (pass ``package``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from planner.hookspecs import hookimpl
from planner.inputfiles import decode_text, parse_yaml
from planner.modelconfig import architecture_of
from planner.specs import ModelSpec

#: Catalog keys that describe a model entry rather than its architecture.
_MODEL_METADATA = ("id", "name", "hf_id", "aliases", "license", "license_url", "source", "field_sources", "notes")


def load_entries(relative_path: str, package: str = "planner.catalogs") -> list[dict[str, Any]]:
    """Return the ``entries`` list of a catalog YAML file inside ``package``."""
    raw = (resources.files(package) / relative_path).read_bytes()
    data = parse_yaml(decode_text(raw, f"{package}/{relative_path}"), f"{package}/{relative_path}")
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{relative_path}: expected a top-level `entries:` list")
    return entries


def models_from_catalog(
    relative_path: str, convert: Callable[[dict[str, Any]], ModelSpec], package: str = "planner.catalogs"
) -> list[ModelSpec]:
    """Build model specs from catalog entries that hold a config.json excerpt.

    Each entry's ``config`` is converted by the family's ``convert`` (the same function
    ``planner model import`` uses), then the entry's id, names, licence and sources are
    applied; ``max_context`` in the entry overrides the config's when the model card
    says the supported context differs.
    """
    specs = []
    for entry in load_entries(relative_path, package):
        spec = convert(dict(entry["config"], _source=entry["source"]))
        overrides = {key: entry[key] for key in _MODEL_METADATA if key in entry}
        if "max_context" in entry:
            overrides["max_context"] = entry["max_context"]
        specs.append(ModelSpec.model_validate({**spec.model_dump(), **overrides}))
    return specs


def model_family_hooks(
    catalog_file: str, convert: Callable[[dict[str, Any]], ModelSpec], architectures: tuple[str, ...]
) -> tuple[Callable[[], list[ModelSpec]], Callable[[dict[str, Any]], ModelSpec | None]]:
    """Make the two hooks of a model-family plugin from its catalog file and converter.

    A family plugin assigns them at module level, under the hook names::

        planner_models, planner_model_from_config = model_family_hooks(
            "models/llama.yaml", convert, ("LlamaForCausalLM",)
        )
    """

    @hookimpl
    def planner_models() -> list[ModelSpec]:
        """Return the family's models, built from its catalog file."""
        return models_from_catalog(catalog_file, convert)

    @hookimpl
    def planner_model_from_config(config: dict[str, Any]) -> ModelSpec | None:
        """Convert configs of the family's architectures; ``None`` for any other."""
        return convert(config) if architecture_of(config) in architectures else None

    return planner_models, planner_model_from_config


def catalog_config(model_id: str, package: str = "planner.catalogs") -> dict[str, Any] | None:
    """The config.json excerpt a built-in catalog model was converted from, or ``None``.

    Performance backends that read Hugging Face configs themselves (a profiled-kernel
    database, say) get the same keys and values the planner used, without a download.
    """
    folder = resources.files(package) / "models"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        for entry in load_entries(f"models/{item.name}", package):
            if entry.get("id") == model_id and isinstance(entry.get("config"), dict):
                return dict(entry["config"])
    return None

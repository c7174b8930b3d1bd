"""``planner model import``: a Hugging Face config.json into the user's catalog.

The family plugins do the conversion (hook ``planner_model_from_config``); this module
picks the id, refuses to shadow an existing model, and writes the spec atomically so
an interrupted import never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from planner.catalog import Catalog, describe_validation_error, normalise_ref
from planner.errors import CatalogError, InputError, Problem, UnknownIdError
from planner.manager import PluginHost
from planner.modelconfig import architecture_of, read_config_file
from planner.paths import user_models_dir
from planner.specs import ModelSpec

_HASH_LIKE = re.compile(r"^[0-9a-f]{20,}$")


@dataclass(frozen=True)
class ImportedModel:
    """The spec written and where it went."""

    spec: ModelSpec
    path: Path
    plugin: str


def convert_config_file(path: Path, host: PluginHost) -> tuple[str, ModelSpec]:
    """Convert a config.json with the first plugin that knows its architecture.

    :returns: ``(plugin name, spec)``.
    :raises InputError: naming the ``architectures`` value when no plugin handles it,
        or the bad field when the config is malformed.
    """
    config = read_config_file(path)
    arch = architecture_of(config)
    if not arch:
        raise InputError(
            str(path),
            [
                Problem(
                    "architectures", "missing or not a list of names", 'add e.g. "architectures": ["LlamaForCausalLM"]'
                )
            ],
        )
    answer = host.call_first("planner_model_from_config", config=config)
    if answer is None:
        known = sorted({a for plugin in host.pm.get_plugins() for a in getattr(plugin, "ARCHITECTURES", ())})
        raise InputError(
            str(path),
            [
                Problem(
                    "architectures",
                    f"no loaded plugin converts {arch!r}",
                    f"supported: {', '.join(known)}; install a plugin for this family",
                )
            ],
        )
    plugin, spec = answer
    try:
        return plugin, ModelSpec.model_validate(spec.model_dump() if isinstance(spec, ModelSpec) else spec)
    except ValidationError as exc:
        what = f"plugin {plugin} produced an invalid spec: {describe_validation_error(exc)}"
        raise InputError(str(path), [Problem("", what, "report this to the plugin's author")]) from None


def derive_model_id(config_path: Path, hf_name: str) -> str:
    """Pick an id from the config's ``_name_or_path`` or its folder name."""
    candidate = hf_name.rsplit("/", 1)[-1] if hf_name else config_path.resolve().parent.name
    if not candidate or _HASH_LIKE.match(candidate):
        raise InputError(
            str(config_path),
            [Problem("", "cannot tell the model's name from the file", "give one with --name ID")],
        )
    return slugify(candidate)


def slugify(text: str) -> str:
    """Lowercase ``text`` and keep only characters allowed in ids."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug or "model"


def import_model(
    config_path: Path,
    host: PluginHost,
    catalog: Catalog,
    *,
    name: str | None = None,
    force: bool = False,
    license: str | None = None,
) -> ImportedModel:
    """Convert ``config_path`` and store the spec in the user's models folder.

    :param name: the id to store it under; derived from the config when omitted.
    :param force: replace a model imported earlier under the same id.
    :param license: the model's licence id (config.json does not carry it).
    :raises InputError: for a bad config; :class:`CatalogError` when the id is taken
        by another plugin's model or the folder cannot be written.
    """
    plugin, spec = convert_config_file(config_path, host)
    hf_name = str(read_config_file(config_path).get("_name_or_path") or "")
    model_id = slugify(name) if name else derive_model_id(config_path, hf_name)
    _check_id_free(model_id, catalog, force)
    # A Hugging Face id that already names a catalog model stays with that model.
    shared = hf_name and _resolves(catalog, hf_name)
    final = ModelSpec.model_validate(
        {
            **spec.model_dump(),
            "id": model_id,
            "name": hf_name.rsplit("/", 1)[-1] if hf_name else model_id,
            "license": license or spec.license,
            "hf_id": "" if shared else hf_name,
            "source": f"imported from {config_path.resolve()}",
            "notes": f"config of {hf_name}, which the catalog already lists as {catalog.models.get(hf_name).id}"
            if shared
            else "",
        }
    )
    return ImportedModel(final, _write_atomically(final), plugin)


def _resolves(catalog: Catalog, ref: str) -> bool:
    try:
        catalog.models.get(ref)
    except UnknownIdError:
        return False
    return True


def _check_id_free(model_id: str, catalog: Catalog, force: bool) -> None:
    if not _resolves(catalog, model_id):
        return
    existing = catalog.models.get(model_id)
    owner = catalog.models.plugin_of(existing.id)
    if owner == "user_catalog" and normalise_ref(existing.id) == normalise_ref(model_id) and force:
        return
    if owner == "user_catalog" and normalise_ref(existing.id) == normalise_ref(model_id):
        fix = "pass --force to replace it, or --name ID to keep both"
        raise CatalogError(f"you already imported a model with id {model_id!r}", fix=fix)
    raise CatalogError(
        f"id {model_id!r} already names {existing.id!r} from plugin {owner!r}",
        fix="choose another id with --name ID",
    )


def _write_atomically(spec: ModelSpec) -> Path:
    folder = user_models_dir()
    target = folder / f"{spec.id}.json"
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{spec.id}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(spec.model_dump(mode="json"), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise CatalogError(
            f"cannot write {target}: {exc.strerror}", fix="set PLANNER_HOME to a writable folder"
        ) from exc
    return target

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
from planner.manager import PluginHost, PluginProblem
from planner.modelconfig import architecture_of, read_config_file
from planner.paths import user_models_dir
from planner.specs import ModelSpec

_HASH_LIKE = re.compile(r"^[0-9a-f]{20,}$")
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
#: Longest id (the ``Slug`` type of :mod:`planner.specs`).
MAX_ID_LENGTH = 80


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
    before = len(host.problems)
    answer = host.call_first("planner_model_from_config", config=config)
    if answer is None:
        _raise_converter_failure(path, arch, host.problems[before:])
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


def _raise_converter_failure(path: Path, arch: str, problems: list[PluginProblem]) -> None:
    """Show the converter's own error when a plugin that knows ``arch`` failed on this config.

    The plugin manager isolates a raising converter (another plugin may still answer); when
    none did, its error, not "no plugin converts", is what the user needs.
    """
    failures = [p for p in problems if p.error.startswith("planner_model_from_config()")]
    if failures:
        raise InputError(
            str(path),
            [
                Problem(
                    "",
                    f"plugin {p.plugin} could not convert this {arch} config: "
                    f"{p.error.removeprefix('planner_model_from_config() raised ')}",
                    "check the field named there against the model's published config.json; "
                    f"if the file is right, report it to the author of plugin {p.plugin}",
                )
                for p in failures
            ],
        )


def derive_model_id(config_path: Path, hf_name: str) -> str:
    """Pick an id from the config's ``_name_or_path`` or its folder name."""
    last = hf_name.strip().rstrip("/").rsplit("/", 1)[-1]
    candidate = last or config_path.resolve().parent.name
    if not candidate or _HASH_LIKE.match(candidate):
        raise InputError(
            str(config_path),
            [Problem("", "cannot tell the model's name from the file", "give one with --name ID")],
        )
    return slugify(candidate)


#: The rule every id follows (``Slug`` in :mod:`planner.specs`), in words for messages.
ID_RULE = f"an id is 1 to {MAX_ID_LENGTH} characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"


def slugify(text: str) -> str:
    """Lowercase ``text``, keep only characters allowed in ids, and cut it to the longest id."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug[:MAX_ID_LENGTH].rstrip("-._") or "model"


def checked_id(name: str) -> str:
    """The id ``--name`` asks for, slugged (``Llama 3 Custom`` is ``llama-3-custom``).

    :raises InputError: when nothing of it is left, or it is longer than an id may be.
    """
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    if not slug or len(slug) > MAX_ID_LENGTH:
        what = f"--name {name[:40]!r}{'...' if len(name) > 40 else ''} cannot be an id"
        raise InputError("planner model import", [Problem("--name", what, f"give another: {ID_RULE}")])
    return slug


def _hf_id(hf_name: str) -> str:
    """``hf_name`` when it looks like a Hugging Face repository id (``org/name``), else ''."""
    return hf_name if _HF_ID.match(hf_name) else ""


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
    requested_id = checked_id(name) if name else None
    plugin, spec = convert_config_file(config_path, host)
    raw_name = read_config_file(config_path).get("_name_or_path")
    hf_name = raw_name if isinstance(raw_name, str) else ""
    model_id = requested_id or derive_model_id(config_path, hf_name)
    _check_id_free(model_id, catalog, force)
    hf_id = _hf_id(hf_name)
    # A Hugging Face id that already names a catalog model stays with that model.
    shared = hf_id and _resolves(catalog, hf_id)
    fields = {
        **spec.model_dump(),
        "id": model_id,
        "name": (hf_name.rsplit("/", 1)[-1].strip() or model_id)[:200],
        "license": license or spec.license,
        "hf_id": "" if shared else hf_id,
        "source": f"imported from {config_path.resolve()}",
        "notes": f"config of {hf_id}, which the catalog already lists as {catalog.models.get(hf_id).id}"
        if shared
        else "",
    }
    try:
        final = ModelSpec.model_validate(fields)
    except ValidationError as exc:
        fix = "check --name and --license, and `_name_or_path` in the config.json"
        raise InputError(str(config_path), [Problem("", describe_validation_error(exc), fix)]) from None
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

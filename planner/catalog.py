"""The catalog: every GPU, model, runtime and stack the loaded plugins contribute.

Built from a :class:`~planner.manager.PluginHost` by calling each hook implementation
on its own, validating every returned spec strictly, and indexing ids and aliases.
Invalid specs and duplicate ids become plugin problems; the rest stays usable.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from planner.errors import UnknownIdError
from planner.manager import PluginHost, PluginProblem
from planner.specs import GpuSpec, ModelSpec, RuntimeSpec, ServingStackSpec

SpecT = TypeVar("SpecT", bound=BaseModel)

#: Catalog kinds: (hook name, spec class, word used in messages, CLI listing name).
KINDS: dict[str, tuple[str, type[BaseModel], str]] = {
    "gpus": ("planner_gpus", GpuSpec, "GPU"),
    "models": ("planner_models", ModelSpec, "model"),
    "runtimes": ("planner_runtimes", RuntimeSpec, "runtime"),
    "stacks": ("planner_serving_stacks", ServingStackSpec, "serving stack"),
}


def normalise_ref(ref: str) -> str:
    """Fold an id or alias for lookup: case, spaces and underscores do not matter."""
    return re.sub(r"[\s_]+", "-", ref.strip().lower())


#: Words that name a vendor or a product line rather than the part, dropped when matching
#: names written in another order ("AMD Instinct MI300X" is "mi300x").
_VENDOR_WORDS = frozenset({"nvidia", "amd", "intel", "instinct", "hgx", "dgx"})
#: Board generations written with their form factor: "SXM5" and "SXM" name the same H100 board.
_FORM_GENERATION = re.compile(r"^(sxm|oam)\d$")


def word_key(ref: str) -> tuple[str, ...]:
    """The words of a name in any order and case, vendor words dropped: ``A100 80GB SXM``,
    ``a100-sxm-80gb`` and ``NVIDIA A100-SXM4-80GB`` have the same key."""
    words = [w for w in re.split(r"[-/()\s_,]+", ref.strip().lower()) if w and w not in _VENDOR_WORDS]
    return tuple(sorted(_FORM_GENERATION.sub(r"\1", w) for w in words))


@dataclass(frozen=True)
class Entry(Generic[SpecT]):
    """A spec and the plugin that contributed it."""

    spec: SpecT
    plugin: str


@dataclass
class Section(Generic[SpecT]):
    """All entries of one kind, with an alias index."""

    kind: str
    word: str
    entries: dict[str, Entry[SpecT]] = field(default_factory=dict)
    _index: dict[str, str] = field(default_factory=dict)
    _words: dict[tuple[str, ...], set[str]] = field(default_factory=dict)

    def add(self, spec: SpecT, plugin: str, problems: list[PluginProblem]) -> None:
        """Add one spec unless its id or an alias is taken (then report both plugins)."""
        spec_id: str = spec.id  # type: ignore[attr-defined]
        names = [spec_id, getattr(spec, "hf_id", ""), *spec.aliases]  # type: ignore[attr-defined]
        keys = list(dict.fromkeys(normalise_ref(n) for n in names if n))
        for key in keys:
            owner = self._index.get(key)
            if owner is not None:
                other = self.entries[owner].plugin
                problems.append(
                    PluginProblem(
                        plugin,
                        f"{self.word} {spec_id!r}: name {key!r} is already used by {self.word} {owner!r} "
                        f"from plugin {other!r}; the entry from {plugin!r} was skipped",
                    )
                )
                return
        self.entries[spec_id] = Entry(spec, plugin)
        for key in keys:
            self._index[key] = spec_id
        for name in [*names, getattr(spec, "name", "")]:
            if name:
                self._words.setdefault(word_key(name), set()).add(spec_id)

    def get(self, ref: str) -> SpecT:
        """Resolve an id, alias, Hugging Face id or display name to a spec.

        Names match whatever their case, spacing and word order, vendor words aside
        (``A100 80GB SXM``, ``NVIDIA H100 SXM5 80GB``), as long as they name one entry.

        :raises UnknownIdError: with close matches and the command that lists the ids.
        """
        key = normalise_ref(ref)
        if key in self._index:
            return self.entries[self._index[key]].spec
        owners = self._words.get(word_key(ref), set())
        if len(owners) == 1:
            return self.entries[next(iter(owners))].spec
        close = difflib.get_close_matches(key, list(self._index), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(sorted({self._index[c] for c in close}))}? " if close else ""
        raise UnknownIdError(
            f"unknown {self.word} {ref!r}",
            fix=f"{hint}`planner catalog {self.kind}` lists the known ids",
        )

    def plugin_of(self, spec_id: str) -> str:
        """Return the name of the plugin that contributed ``spec_id``."""
        return self.entries[spec_id].plugin

    def specs(self) -> list[SpecT]:
        """Return all specs, sorted by id."""
        return [self.entries[k].spec for k in sorted(self.entries)]


@dataclass
class Catalog:
    """Everything the plugins contribute, validated and indexed."""

    gpus: Section[GpuSpec]
    models: Section[ModelSpec]
    runtimes: Section[RuntimeSpec]
    stacks: Section[ServingStackSpec]
    problems: list[PluginProblem]
    performance_models: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def performance_model(self, name: str) -> Any:
        """The performance model called ``name``.

        :raises UnknownIdError: naming the models that are registered.
        """
        if name in self.performance_models:
            return self.performance_models[name][1]
        known = ", ".join(sorted(self.performance_models)) or "none"
        raise UnknownIdError(f"unknown performance model {name!r}", fix=f"registered models: {known}")

    def performance_models_of(self, plugin: str) -> list[str]:
        """One line per performance model ``plugin`` contributes (see :func:`planner.perfmodel.describe`)."""
        from planner.perfmodel import describe

        return [describe(model) for owner, model in self.performance_models.values() if owner == plugin]

    def model_and_precision(self, ref: str) -> tuple[ModelSpec, str | None]:
        """A model by id, alias or Hugging Face id, and the weight precision the name implies.

        A checkpoint named with a precision suffix (``Qwen/Qwen3-32B-FP8``,
        ``RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic``, ``...-AWQ``) is the base model in that
        precision: ``(spec, "fp8")``. Otherwise the precision is ``None``.

        :raises UnknownIdError: for a name that is neither (with close matches).
        """
        try:
            return self.models.get(ref), None
        except UnknownIdError:
            implied = _strip_precision(ref)
            for base in implied[0] if implied else ():
                try:
                    return self.models.get(base), implied[1]  # type: ignore[index]
                except UnknownIdError:
                    continue
            raise

    def section(self, kind: str) -> Section[Any]:
        """Return the section for ``gpus``, ``models``, ``runtimes`` or ``stacks``."""
        section: Section[Any] = getattr(self, kind)
        return section

    def contributions(self) -> dict[str, dict[str, int]]:
        """Count what each plugin contributes, per kind."""
        counts: dict[str, dict[str, int]] = {}
        for kind in KINDS:
            for entry in self.section(kind).entries.values():
                per_plugin = counts.setdefault(entry.plugin, {})
                per_plugin[kind] = per_plugin.get(kind, 0) + 1
        return counts


#: Hugging Face checkpoint suffixes that name a weight precision, longest first.
PRECISION_SUFFIXES = (
    ("-fp8-dynamic", "fp8"),
    ("-fp8-static", "fp8"),
    ("-awq-int4", "int4"),
    ("-gptq-int4", "int4"),
    ("-gptq-int8", "int8"),
    ("-nvfp4", "nvfp4"),
    ("-mxfp4", "mxfp4"),
    ("-w4a16", "int4"),
    ("-w8a8", "int8"),
    ("-gptq", "int4"),
    ("-int4", "int4"),
    ("-int8", "int8"),
    ("-fp8", "fp8"),
    ("-fp4", "fp4"),
    ("-awq", "int4"),
    ("-bf16", "bf16"),
    ("-fp16", "fp16"),
)


def _strip_precision(ref: str) -> tuple[list[str], str] | None:
    """(base names to try, precision) for a name ending in a precision suffix, else ``None``.

    The base is tried with and without its organisation (``RedHatAI/`` re-publishes others' models).
    """
    key = normalise_ref(ref)
    for suffix, dtype in PRECISION_SUFFIXES:
        if key.endswith(suffix):
            base = key[: -len(suffix)]
            return list(dict.fromkeys([base, base.rsplit("/", 1)[-1]])), dtype
    return None


def build_catalog(host: PluginHost) -> Catalog:
    """Call every catalog hook of ``host``'s plugins and validate what they return."""
    problems = host.problems
    sections: dict[str, Section[Any]] = {}
    for kind, (hook_name, spec_class, word) in KINDS.items():
        section: Section[Any] = Section(kind, word)
        for plugin, result in host.call_each(hook_name):
            for spec in _validated(result, spec_class, plugin, word, host):
                section.add(spec, plugin, problems)
        sections[kind] = section
    return Catalog(
        gpus=sections["gpus"],
        models=sections["models"],
        runtimes=sections["runtimes"],
        stacks=sections["stacks"],
        problems=problems,
        performance_models=_performance_models(host),
    )


def _performance_models(host: PluginHost) -> dict[str, tuple[str, Any]]:
    """Every performance model the plugins contribute, by name; invalid or duplicate ones reported."""
    from planner.perfmodel import PerformanceModel

    models: dict[str, tuple[str, Any]] = {}
    for plugin, result in host.call_each("planner_performance_models"):
        for model in result or []:
            name = getattr(model, "name", None)
            if not isinstance(model, PerformanceModel) or not isinstance(name, str):
                host.report(plugin, f"returned {type(model).__name__}, not a performance model (see planner.perfmodel)")
            elif name in models:
                host.report(plugin, f"performance model {name!r} is already registered by plugin {models[name][0]!r}")
            else:
                models[name] = (plugin, model)
    if "auto" not in models:
        from planner.performance_models import AutoModel

        others = tuple(model for name, (_, model) in sorted(models.items()) if name != "builtin")
        models["auto"] = ("planner", AutoModel(others))
    return models


def _validated(result: Any, spec_class: type[SpecT], plugin: str, word: str, host: PluginHost) -> list[SpecT]:
    """Validate each item a hook returned; report and drop the invalid ones."""
    if result is None:
        return []
    if not isinstance(result, list | tuple):
        host.report(plugin, f"must return a list of {word} specs, returned {type(result).__name__}")
        return []
    valid = []
    for position, item in enumerate(result):
        try:
            data = item.model_dump() if isinstance(item, BaseModel) else item
            valid.append(spec_class.model_validate(data, strict=isinstance(item, dict)))
        except ValidationError as exc:
            label = item.get("id", f"#{position}") if isinstance(item, dict) else f"#{position}"
            host.report(plugin, f"invalid {word} {label!r}: {describe_validation_error(exc)}", exc)
    return valid


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """Summarise a pydantic error as 'field: message; ...' for one-line reports."""
    parts = []
    for err in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(entry)"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def load_catalog(blocked: tuple[str, ...] = (), entry_points: bool = True) -> tuple[PluginHost, Catalog]:
    """Load the plugins (honouring ``PLANNER_LOAD_PLUGINS``) and build their catalog.

    The one entry point the CLI and the GUI use; tests build their own hosts.
    """
    from planner.manager import make_plugin_manager, selected_plugins_from_env

    host = make_plugin_manager(entry_points=entry_points, blocked=blocked, only=selected_plugins_from_env())
    return host, build_catalog(host)

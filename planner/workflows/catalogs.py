"""The catalog and its plugins as user actions: list entries, report plugins, import a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.modelimport import ImportedModel
from planner.modelimport import import_model as store_model
from planner.plan import plan_json_schema
from planner.plugin_install import InstalledPlugin, install_wheel, remove_plugin
from planner.workflows.session import Session

#: Hooks beyond the catalog kinds that ``planner plugins`` names for each plugin.
OTHER_HOOKS = (
    "planner_model_from_config",
    "planner_rule_packs",
    "planner_benchmark_importers",
    "planner_performance_models",
)


@dataclass
class PluginRow:
    """One plugin: where it comes from, what it contributes, and what went wrong with it."""

    name: str
    version: str
    status: str
    builtin: bool
    distribution: str
    module: str
    contributes: dict[str, int]
    hooks: list[str]
    performance_models: list[str]
    problems: list[str]
    hook_api: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready row (``hooks`` left out: ``contributes`` and ``performance_models`` say it)."""
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "builtin": self.builtin,
            "distribution": self.distribution,
            "module": self.module,
            "contributes": self.contributes,
            "performance_models": self.performance_models,
            "hook_api": self.hook_api,
            "problems": self.problems,
        }


@dataclass
class PluginReport:
    """Every plugin, and the problems of plugins that never loaded far enough to be listed."""

    rows: list[PluginRow]
    orphan_problems: list[str] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        """One object per plugin."""
        return [row.to_json() for row in self.rows]


def plugin_report(session: Session) -> PluginReport:
    """Each plugin's version, status, contributions (with its performance models' state) and problems."""
    host, catalog = session.host, session.catalog
    contributions = catalog.contributions()
    hooks: dict[str, list[str]] = {}
    for hook_name in OTHER_HOOKS:
        for impl in getattr(host.pm.hook, hook_name).get_hookimpls():
            hooks.setdefault(impl.plugin_name, []).append(hook_name)
    rows = [
        PluginRow(
            name=info.name,
            version=info.version,
            status=info.status,
            builtin=info.builtin,
            distribution=info.distribution,
            module=info.module,
            contributes=contributions.get(info.name, {}),
            hooks=hooks.get(info.name, []),
            performance_models=catalog.performance_models_of(info.name),
            problems=[p.error for p in catalog.problems if p.plugin == info.name],
            hook_api=info.hook_api,
        )
        for info in sorted(host.plugins.values(), key=lambda i: i.name)
    ]
    orphans = [str(p) for p in catalog.problems if p.plugin not in host.plugins]
    return PluginReport(rows, orphans)


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog spec and the plugin that contributed it."""

    spec: Any
    plugin: str

    def to_json(self) -> dict[str, Any]:
        """Every field, per-field sources and estimates, and the plugin."""
        return {**self.spec.model_dump(mode="json"), "plugin": self.plugin}


def catalog_entries(session: Session, kind: str) -> list[CatalogEntry]:
    """The ``gpus``, ``models``, ``runtimes`` or ``stacks`` of the catalog, sorted by id."""
    section = session.catalog.section(kind)
    return [CatalogEntry(spec, section.plugin_of(spec.id)) for spec in section.specs()]


def import_model(
    session: Session,
    config: Path,
    *,
    name: str | None = None,
    force: bool = False,
    license: str | None = None,
) -> ImportedModel:
    """Convert a Hugging Face ``config.json`` into a model spec and store it in the user's catalog.

    :raises InputError: for a bad config; :class:`CatalogError` when the id is taken or
        the folder cannot be written.
    """
    return store_model(config, session.host, session.catalog, name=name, force=force, license=license)


def plan_schema() -> dict[str, object]:
    """The JSON Schema of plan files (for editors and CI)."""
    return plan_json_schema()


def install_plugin(wheel: Path, expected_hash: str) -> InstalledPlugin:
    """Install a plugin wheel offline into the plugins folder after checking the approved sha256.

    Commands started afterwards load it; see :func:`planner.plugin_install.install_wheel`.
    """
    return install_wheel(wheel, expected_hash)


def uninstall_plugin(name: str) -> InstalledPlugin:
    """Remove a plugin installed with :func:`install_plugin`, by distribution or plugin name."""
    return remove_plugin(name)

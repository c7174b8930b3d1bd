"""The layers of docs/architecture.md hold: no module imports a layer above it, every module
sits in a layer the page names, and the command line only parses, calls workflows and renders."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import planner
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = PYPROJECT["tool"]["importlinter"]["contracts"]
LAYERS = next(c for c in CONTRACTS if c["type"] == "layers")["layers"]
LAYERED = [module.strip() for layer in LAYERS for module in layer.replace("|", ":").split(":")]
#: What the command line may import from the planner: the application layer, the renderers and
#: the terminal helpers, errors, and its own modules.
#: planner.limits: the bounds of the flags, light enough for the parser to import before pydantic.
CLI_MAY_IMPORT = (
    "planner.workflows",
    "planner.render",
    "planner.terminal",
    "planner.errors",
    "planner.cli",
    "planner.limits",
    "planner.gui",  # `planner gui` only, imported inside the command
)
#: What the desktop app may import from the planner: the application layer, the errors, the plan
#: model (its forms are typed from it), the user folder (settings, autosave) and its own modules.
GUI_MAY_IMPORT = ("planner.workflows", "planner.errors", "planner.plan", "planner.paths", "planner.gui")


def all_modules() -> list[str]:
    """Every module and package of the planner package (the root package itself excepted)."""
    return [info.name for info in pkgutil.walk_packages(planner.__path__, "planner.")]


def test_the_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_every_module_sits_in_a_layer() -> None:
    def placed(name: str) -> bool:
        return any(name == layer or name.startswith(f"{layer}.") for layer in LAYERED)

    packages_of_layers = {name.rsplit(".", 1)[0] for name in LAYERED}
    loose = [name for name in all_modules() if not placed(name) and name not in packages_of_layers]
    assert not loose, f"add these to a layer in pyproject.toml and docs/architecture.md: {loose}"


def test_the_architecture_page_names_every_layer_module() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for name in LAYERED if name not in page]
    assert not missing, f"docs/architecture.md does not name {missing}"


def _planner_imports(path: Path) -> set[str]:
    """Every planner module a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planner"):
            found.add(node.module if node.module != "planner" else f"planner.{node.names[0].name}")
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("planner")}
    return found


@pytest.mark.parametrize(
    "name",
    [
        "cli.py",
        "cli_simulation.py",
        "cli_projects.py",
        "render_projects.py",
        "cli_costs.py",
        "cli_bench.py",
        "render_bench.py",
        "cli_deploy.py",
    ],
)
def test_the_command_line_only_calls_workflows_and_renders(name: str) -> None:
    imported = _planner_imports(REPO / "planner" / name)
    assert imported, "the parser finds the imports"
    outside = sorted(i for i in imported if not i.startswith(CLI_MAY_IMPORT) and i != "planner.__version__")
    assert not outside, f"{name} reaches past the application layer: {outside}"


@pytest.mark.parametrize("path", sorted((REPO / "planner" / "gui").glob("*.py")), ids=lambda p: p.name)
def test_the_desktop_app_only_calls_workflows(path: Path) -> None:
    allowed = {*GUI_MAY_IMPORT, "planner.__version__"}
    outside = sorted(i for i in _planner_imports(path) if i not in allowed and not i.startswith("planner.gui."))
    assert not outside, f"gui/{path.name} reaches past the application layer: {outside}"


def test_the_core_starts_without_qt() -> None:
    code = (
        "import sys, planner.workflows, planner.cli; print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_render_takes_results_and_decides_nothing() -> None:
    imported = _planner_imports(REPO / "planner" / "render.py")
    allowed = ("planner.workflows", "planner.terminal", "planner.resolve", "planner.specs")
    assert all(i.startswith(allowed) for i in imported), imported


#: The contracts plugins and rule packs build on (their own package aside).
CONTRACTS_FOR_PLUGINS = (
    "planner.hookspecs",
    "planner.hookimpl",
    "planner.specs",
    "planner.measured_run",
    "planner.errors",
    "planner.paths",
    "planner.catalogfiles",
    "planner.inputfiles",
    "planner.modelconfig",
    "planner.vision",
    "planner.sizing.deployment",
    "planner.perfmodel",
    "planner.performance_models",
    "planner.rulepack",
    "planner.rules",
)


@pytest.mark.parametrize("path", sorted((REPO / "plugins").glob("*.py")) + sorted((REPO / "rules").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")  # fmt: skip
def test_plugins_and_rule_packs_import_only_contracts(path: Path) -> None:
    outside = sorted(i for i in _planner_imports(path) if not i.startswith(CONTRACTS_FOR_PLUGINS))
    assert not outside, f"{path.name} reaches into the core: {outside}"

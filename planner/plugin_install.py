"""Installing third-party plugin wheels offline, into the planner's own plugins folder.

``planner plugins install WHEEL --hash sha256:...`` checks the wheel against the hash an
administrator approved, then installs it with no network and no dependencies into
``<PLANNER_HOME>/plugins/<distribution>/``. The plugin manager adds each folder there to
the import path before it reads entry points (:func:`add_installed_plugins_to_path`), so
the same installation works in a virtual environment and in the frozen desktop bundle,
whose own files are read-only and which carries no pip: there the wheel, which must then
be pure Python, is unpacked as an installer would. ``planner plugins remove NAME`` deletes
the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path

from planner.errors import PlannerError
from planner.paths import user_home

#: The only hash the planner accepts: pip's and PyPI's.
HASH_ALGORITHM = "sha256"

_WHEEL_NAME = re.compile(
    r"^(?P<dist>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-(?P<platform>[^-]+)\.whl$"
)
_HASH = re.compile(r"^sha256:(?P<hex>[0-9a-f]{64})$")


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin distribution in the plugins folder and the plugin names its entry points declare."""

    distribution: str
    version: str
    folder: Path
    plugin_names: tuple[str, ...]


def plugins_dir() -> Path:
    """Return the folder that holds plugins installed with ``planner plugins install``."""
    return user_home() / "plugins"


def add_installed_plugins_to_path() -> None:
    """Put each installed plugin's folder on ``sys.path`` (once), so its entry points are found."""
    for plugin in installed_plugins():
        folder = str(plugin.folder)
        if folder not in sys.path:
            sys.path.append(folder)


def installed_plugins() -> list[InstalledPlugin]:
    """The plugin distributions in :func:`plugins_dir`, by name."""
    root = plugins_dir()
    if not root.is_dir():
        return []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [plugin for folder in folders for plugin in _installed_in(folder)]


def _planner_entry_points(dist_info: Path) -> tuple[str, ...]:
    """The names a distribution declares in the ``planner`` entry point group."""
    parser = ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # entry point names keep their case
    try:
        parser.read(dist_info / "entry_points.txt", encoding="utf-8")
    except (OSError, ValueError):
        return ()
    return tuple(parser["planner"]) if parser.has_section("planner") else ()


def install_wheel(wheel: Path, expected_hash: str) -> InstalledPlugin:
    """Install a plugin wheel offline after checking it against the administrator's hash.

    :param wheel: the ``.whl`` file.
    :param expected_hash: ``sha256:<64 hex digits>``, as ``pip hash`` prints it.
    :returns: what was installed.
    :raises PlannerError: for a missing or misnamed file, a malformed hash, a hash that
        differs, a wheel with no ``planner`` entry point, or a failed install; nothing is
        left half-installed and an earlier version stays as it was.
    """
    match = _wheel_name(wheel)
    digest = _expected_digest(expected_hash)
    actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if actual != digest:
        raise PlannerError(
            f"the wheel's sha256 is {actual}, not the {digest} you gave: refusing to install it",
            path=str(wheel),
            fix="get the wheel the administrator approved, or check the approved hash (pip hash WHEEL)",
        )
    distribution = _normalised(match["dist"])
    target = plugins_dir() / distribution
    staging = plugins_dir() / f".{distribution}.installing"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _unpack(wheel, staging, pure=match["platform"] == "any")
        installed = _installed_in(staging)
        if not installed or not installed[0].plugin_names:
            raise PlannerError(
                "the wheel declares no `planner` entry point, so the planner would never load it",
                path=str(wheel),
                fix='add [project.entry-points.planner] NAME = "your_module" to its pyproject.toml',
            )
        _replace(target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _installed_in(target)[0]


def _wheel_name(wheel: Path) -> re.Match[str]:
    """The parts of a wheel's file name; an error for a file that is missing or not a wheel."""
    if not wheel.is_file():
        raise PlannerError("no such file", path=str(wheel), fix="give the path of a .whl file")
    match = _WHEEL_NAME.match(wheel.name)
    if match is None:
        raise PlannerError(
            "not a wheel file name (NAME-VERSION-PYTHON-ABI-PLATFORM.whl)",
            path=str(wheel),
            fix="build the plugin as a wheel (pip wheel --no-deps .) and install that file",
        )
    return match


def _expected_digest(expected_hash: str) -> str:
    """The hex digest of ``sha256:<hex>``; an error for any other form or algorithm."""
    match = _HASH.match(expected_hash.strip().lower())
    if match is None:
        raise PlannerError(
            f"--hash {expected_hash!r} is not sha256:<64 hex digits>",
            path="--hash",
            fix="pass the hash the administrator approved, as `pip hash WHEEL` prints it (sha256 only)",
        )
    return match["hex"]


def _normalised(distribution: str) -> str:
    """A distribution's name as a folder name (PEP 503 normalised)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _unpack(wheel: Path, staging: Path, *, pure: bool) -> None:
    """Install ``wheel`` into ``staging``: with pip where the planner runs from Python, else unpacked."""
    if not getattr(sys, "frozen", False):
        _pip_install(wheel, staging)
    elif pure:
        _extract_pure_wheel(wheel, staging)
    else:
        raise PlannerError(
            "the desktop bundle installs pure-Python plugin wheels only (…-none-any.whl)",
            path=str(wheel),
            fix="ask the vendor for a pure-Python wheel, or install the planner from the wheelhouse and use pip",
        )


def _pip_install(wheel: Path, staging: Path) -> None:
    """``pip install --no-index --no-deps --target``: never the network, never another package."""
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check"]
    command += ["--no-warn-script-location", "--quiet", "--target", str(staging), str(wheel)]
    # The user's pip configuration (an index, --user, a target) must not change what happens.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        raise PlannerError(
            f"pip could not install it: {output[-1] if output else 'exit code ' + str(result.returncode)}",
            path=str(wheel),
            fix="check the wheel is built for this Python and platform, or ask the vendor for one that is",
        )


def _extract_pure_wheel(wheel: Path, staging: Path) -> None:
    """Unpack a pure-Python wheel: its root is the import path (the wheel format's purelib)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise PlannerError(f"the wheel holds an unsafe path {name!r}", path=str(wheel))
            archive.extractall(staging)
    except zipfile.BadZipFile as exc:
        raise PlannerError(f"not a valid wheel: {exc}", path=str(wheel), fix="build or download it again") from exc


def _installed_in(folder: Path) -> list[InstalledPlugin]:
    """The distributions installed in one folder."""
    found = []
    for dist_info in sorted(folder.glob("*.dist-info")):
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        found.append(InstalledPlugin(name, version, folder, _planner_entry_points(dist_info)))
    return found


def _replace(target: Path, staging: Path) -> None:
    """Move the new installation into place; an earlier one is removed only once the new one is there."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def remove_plugin(name: str) -> InstalledPlugin:
    """Remove an installed plugin by its distribution name or the plugin name ``planner plugins`` shows.

    :raises PlannerError: when no plugin of that name is in the plugins folder (one
        installed with pip into the environment is removed with ``pip uninstall``).
    """
    wanted = _normalised(name)
    for plugin in installed_plugins():
        if wanted == _normalised(plugin.distribution) or name in plugin.plugin_names:
            shutil.rmtree(plugin.folder)
            return plugin
    listed = ", ".join(p.distribution for p in installed_plugins()) or "none"
    raise PlannerError(
        f"no plugin {name!r} was installed with `planner plugins install` (installed there: {listed})",
        path=str(plugins_dir()),
        fix="`planner plugins` lists every plugin and its distribution; one installed with pip into the "
        "environment is removed with `pip uninstall DISTRIBUTION`",
    )

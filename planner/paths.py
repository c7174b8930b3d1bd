"""Where the planner keeps the user's own files (imported models, projects)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_home() -> Path:
    """Return the user's planner folder: ``PLANNER_HOME`` or the platform's data folder."""
    explicit = os.environ.get("PLANNER_HOME")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "planner"


def user_models_dir() -> Path:
    """Return the folder holding models imported with ``planner model import``."""
    return user_home() / "models"


def user_cache_dir() -> Path:
    """Return the folder for answers worth keeping between runs (safe to delete at any time)."""
    return user_home() / "cache"


def default_projects_database() -> Path:
    """Return the project database used when no ``--db`` is given (``projects.db``)."""
    return user_home() / "projects.db"

"""What every action shares: the loaded plugins and catalog, the rules engine, the model choice."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from planner.catalog import Catalog, load_catalog
from planner.manager import PluginHost
from planner.perfmodel import PerformanceModel

#: Environment variable naming the performance model used when an action names none.
BACKEND_ENV = "PLANNER_PERF_BACKEND"
#: The performance model used when neither the caller nor ``PLANNER_PERF_BACKEND`` names one.
DEFAULT_BACKEND = "auto"

#: Reports progress of a long action: (steps done, steps in all or ``None`` when not known, what is
#: happening now). Front ends draw a bar; the core never prints.
Progress = Callable[[int, int | None, str], None]


@dataclass
class Session:
    """Plugins and catalog loaded once, for as many actions as a front end runs.

    The command line opens one per command; the desktop app keeps one for its lifetime.
    """

    host: PluginHost
    catalog: Catalog
    _models: dict[str, PerformanceModel] = field(default_factory=dict, repr=False)

    @property
    def problems(self) -> list[str]:
        """Plugin problems met while loading (each names the plugin), for a warning."""
        return [str(p) for p in self.catalog.problems]

    @cached_property
    def rules(self) -> Any:
        """The rules engine over every rule pack the plugins contribute (built on first use)."""
        from planner.validation import build_engine

        return build_engine(self.host)

    def performance_model(self, name: str | None = None) -> PerformanceModel:
        """The performance model called ``name``; by default ``PLANNER_PERF_BACKEND`` or ``auto``.

        :raises UnknownIdError: naming the registered models.
        """
        wanted = name or default_backend()
        if wanted not in self._models:
            self._models[wanted] = self.catalog.performance_model(wanted)
        return self._models[wanted]


def default_backend() -> str:
    """``PLANNER_PERF_BACKEND`` when set, else :data:`DEFAULT_BACKEND`."""
    return os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND


def open_session(disabled: tuple[str, ...] = (), *, entry_points: bool = True) -> Session:
    """Load the plugins (honouring ``PLANNER_LOAD_PLUGINS``; ``disabled`` ones blocked) and their catalog."""
    host, catalog = load_catalog(blocked=disabled, entry_points=entry_points)
    return Session(host, catalog)


def counted_steps(progress: Progress | None, what: str | None = None) -> Callable[..., None] | None:
    """Adapt ``progress`` to the core's two callback shapes.

    With ``what``: a ``(done, total)`` callback (search), reported as ``what``. Without:
    a ``(message)`` callback (simulated points, total unknown), numbered as they come.
    """
    if progress is None:
        return None
    if what is not None:
        return lambda done, total: progress(done, total, what)
    steps = itertools.count(1)
    return lambda message: progress(next(steps), None, message)

"""The plugin manager: built-in and third-party plugins load the same way.

(``planner.plugins`` is the package of built-in plugins; this module loads them.)

Plugins come from the ``planner`` entry point group, found in the environment and in the
folders of ``planner plugins install`` (:mod:`planner.plugin_install`). The built-ins are also known by
import path (:data:`BUILTIN_PLUGINS`), so a frozen bundle without package metadata
still finds them. One broken plugin never takes the app down: a plugin that fails to
import, or whose hook raises, becomes a :class:`PluginProblem` and the rest keep
working. Set ``PLANNER_STRICT_PLUGINS=1`` to get the exception instead (for plugin
authors), and ``PLANNER_LOAD_PLUGINS=a,b`` to load only the named plugins.
"""

from __future__ import annotations

import contextvars
import importlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from planner import __version__, hookspecs
from planner.errors import PlannerError
from planner.limits import seconds_from_env
from planner.plugin_install import add_installed_plugins_to_path

ENTRY_POINT_GROUP = "planner"

#: Built-in plugins by name, as also declared in pyproject's entry points.
BUILTIN_PLUGINS: dict[str, str] = {
    "nvidia": "planner.plugins.nvidia",
    "amd": "planner.plugins.amd",
    "intel": "planner.plugins.intel",
    "llama": "planner.plugins.llama",
    "qwen": "planner.plugins.qwen",
    "deepseek": "planner.plugins.deepseek",
    "mistral": "planner.plugins.mistral",
    "gpt_oss": "planner.plugins.gpt_oss",
    "gemma": "planner.plugins.gemma",
    "vllm": "planner.plugins.vllm",
    "sglang": "planner.plugins.sglang",
    "trtllm": "planner.plugins.trtllm",
    "serving_stacks": "planner.plugins.serving_stacks",
    "user_catalog": "planner.plugins.user_catalog",
    "principles": "planner.plugins.principles",
    "analytic": "planner.plugins.analytic",
    "aiconfigurator": "planner.plugins.aiconfigurator",
    "vllm_bench": "planner.plugins.vllm_bench",
    "guidellm": "planner.plugins.guidellm",
    "aiperf": "planner.plugins.aiperf",
    "llmperf": "planner.plugins.llmperf",
}


@dataclass(frozen=True)
class PluginProblem:
    """Something wrong with one plugin, shown by ``planner plugins`` and on stderr."""

    plugin: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.plugin}: {self.error}"


@dataclass
class PluginInfo:
    """What the user sees about one plugin."""

    name: str
    module: str
    version: str
    distribution: str
    builtin: bool
    status: str  # loaded, disabled, failed, not selected
    hook_api: str = ""  # the hook API version the plugin declares; "" when it declares none


#: Seconds the hooks of one third-party plugin may take in all, per plugin manager; set
#: ``PLANNER_PLUGIN_BUDGET_S`` to change it. Loading the built-in catalog takes well under
#: a second, so a plugin that needs more than this is stuck or doing work at the wrong time.
DEFAULT_PLUGIN_BUDGET_S = 2.0


class _OverBudget(Exception):
    """A plugin's hooks used their time budget; its call was skipped (already reported)."""


def plugin_budget_from_env() -> float:
    """Read ``PLANNER_PLUGIN_BUDGET_S`` (seconds); the default when unset or not a positive number."""
    return seconds_from_env("PLANNER_PLUGIN_BUDGET_S", DEFAULT_PLUGIN_BUDGET_S)


@dataclass
class PluginHost:
    """A plugin manager plus what happened while loading it.

    Hooks of third-party plugins run off the main thread, and all the hooks of one plugin
    share ``budget_s`` seconds: a plugin over it is marked slow, reported, and its
    contributions from then on are skipped, so the command still finishes in time. Built-in
    plugins run inline: their speed is the planner's own, measured by its benchmarks.
    """

    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    strict: bool = False
    budget_s: float = DEFAULT_PLUGIN_BUDGET_S
    spent_s: dict[str, float] = field(default_factory=dict)

    def report(self, plugin: str, error: str, exc: BaseException | None = None) -> None:
        """Record a problem with ``plugin``; in strict mode re-raise the cause."""
        if self.strict and exc is not None:
            raise exc
        self.problems.append(PluginProblem(plugin, error))

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook on its own, in registration order.

        A raising implementation is reported and skipped instead of aborting the call
        (pluggy's own hook call stops at the first exception).

        :returns: ``(plugin name, result)`` pairs for the implementations that returned.
        """
        results = []
        for impl in self._impls(hook_name):
            ok, result = self._guarded(impl, hook_name, kwargs)
            if ok:
                results.append((impl.plugin_name, result))
        return results

    def call_first(self, hook_name: str, **kwargs: Any) -> tuple[str, Any] | None:
        """Call a ``firstresult`` hook implementation by implementation, isolating errors.

        :returns: ``(plugin name, result)`` of the first non-``None`` answer, else ``None``.
        """
        # pluggy's own order: last registered (and tryfirst) first, so a plugin
        # installed on top can take over a conversion from a built-in.
        for impl in reversed(self._impls(hook_name)):
            ok, result = self._guarded(impl, hook_name, kwargs)
            if ok and result is not None:
                return impl.plugin_name, result
        return None

    def _guarded(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """Call one implementation; a user-input error propagates, anything else is reported."""
        try:
            return True, self._call(impl, hook_name, kwargs)
        except PlannerError:
            raise
        except _OverBudget:
            return False, None
        except Exception as exc:
            self.report(impl.plugin_name, f"{hook_name}() raised {type(exc).__name__}: {exc}", exc)
            return False, None

    def _call(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> Any:
        """Call one implementation; warnings it emits become problems of its plugin.

        A plugin reports a non-fatal problem (one unreadable file among many) with
        ``warnings.warn(...)`` and still returns what it could load.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = self._timed(impl, hook_name, {arg: kwargs[arg] for arg in impl.argnames})
        for warning in caught:
            self.report(impl.plugin_name, f"{hook_name}(): {warning.message}")
        return result

    def _timed(self, impl: Any, hook_name: str, arguments: dict[str, Any]) -> Any:
        """Call a hook implementation; a third-party one on a worker thread, within its plugin's budget."""
        name = impl.plugin_name
        info = self.plugins.get(name)
        if info is None or info.builtin:
            return impl.function(**arguments)
        left = self.budget_s - self.spent_s.get(name, 0.0)
        if left <= 0:
            raise _OverBudget
        outcome: dict[str, Any] = {}
        context = contextvars.copy_context()

        def work() -> None:
            try:
                outcome["result"] = context.run(impl.function, **arguments)
            except BaseException as exc:  # re-raised on the calling thread
                outcome["error"] = exc

        # A daemon thread: a hook that never returns must not keep the process alive at exit.
        worker = threading.Thread(target=work, name=f"planner-plugin-{name}", daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(left)
        self.spent_s[name] = self.spent_s.get(name, 0.0) + time.monotonic() - started
        if worker.is_alive():
            info.status = "slow"
            self.report(
                name,
                f"slow: {hook_name}() ran past the plugin's {self.budget_s:g} s budget, so it and the plugin's "
                "later hooks were skipped (PLANNER_PLUGIN_BUDGET_S sets the budget)",
            )
            raise _OverBudget
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    def _impls(self, hook_name: str) -> list[Any]:
        hook = getattr(self.pm.hook, hook_name)
        # get_hookimpls() lists registration order (pluggy itself calls them in
        # reverse); built-ins register first, so on duplicate ids the built-in wins.
        return list(hook.get_hookimpls())


def selected_plugins_from_env() -> frozenset[str] | None:
    """Read ``PLANNER_LOAD_PLUGINS``: ``None`` when unset (load all), else the names."""
    raw = os.environ.get("PLANNER_LOAD_PLUGINS")
    if raw is None:
        return None
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def make_plugin_manager(
    *,
    entry_points: bool = True,
    blocked: Iterable[str] = (),
    only: frozenset[str] | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
    strict: bool | None = None,
) -> PluginHost:
    """Build a fresh plugin manager with the built-ins, entry points and extras.

    :param entry_points: also load third-party plugins from the ``planner`` group.
    :param blocked: plugin names not to load (``--disable-plugin``).
    :param only: when given, load just these names (``PLANNER_LOAD_PLUGINS``).
    :param extra_plugins: ``(name, module or object)`` pairs to register as well; tests
        and embedding applications use this.
    :param strict: re-raise plugin errors; defaults to ``PLANNER_STRICT_PLUGINS=1``.
    :returns: a :class:`PluginHost` whose ``problems`` lists what failed.
    """
    if strict is None:
        strict = os.environ.get("PLANNER_STRICT_PLUGINS") == "1"
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm=pm, strict=strict, budget_s=plugin_budget_from_env())
    blocked = frozenset(blocked)
    for name in blocked:
        pm.set_blocked(name)

    def wanted(name: str, info: PluginInfo) -> bool:
        if name in blocked:
            info.status = "disabled"
        elif only is not None and name not in only:
            info.status = "not selected"
        else:
            return True
        host.plugins[name] = info
        return False

    if entry_points:
        add_installed_plugins_to_path()
        for ep in _planner_entry_points():
            dist = ep.dist
            if ep.name in host.plugins:
                if host.plugins[ep.name].module != ep.value:
                    taken_by = "the built-in plugin" if host.plugins[ep.name].builtin else "another plugin"
                    origin = f"{ep.value} ({dist.name if dist else 'unknown distribution'})"
                    host.problems.append(PluginProblem(ep.name, f"{origin} was not loaded: {taken_by} has its name"))
                continue
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                version=dist.version if dist else "?",
                distribution=dist.name if dist else "?",
                builtin=BUILTIN_PLUGINS.get(ep.name) == ep.value,
                status="loaded",
            )
            if wanted(ep.name, info):
                _register(host, info, ep.load)
    for name, module in BUILTIN_PLUGINS.items():
        if name in host.plugins:
            continue
        info = PluginInfo(name, module, __version__, "planner", builtin=True, status="loaded")
        if wanted(name, info):
            _register(host, info, lambda module=module: importlib.import_module(module))  # type: ignore[misc]
    for name, plugin in extra_plugins:
        if host.pm.get_plugin(name) is plugin:
            continue  # installed too, and already loaded from its entry point
        info = PluginInfo(name, getattr(plugin, "__name__", repr(plugin)), "?", "?", builtin=False, status="loaded")
        if wanted(name, info):
            _register(host, info, lambda plugin=plugin: plugin)  # type: ignore[misc]
    for name in sorted(blocked - host.plugins.keys()):
        host.problems.append(PluginProblem(name, "--disable-plugin names no installed plugin"))
    _check_unknown_hooks(host)
    return host


def _planner_entry_points() -> list[Any]:
    """The ``planner`` entry points, built-ins first: the catalog keeps the first entry of an
    id, so a third-party plugin never replaces a built-in GPU or model by sorting before it."""
    return sorted(
        entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (BUILTIN_PLUGINS.get(ep.name) != ep.value, ep.name)
    )


def _register(host: PluginHost, info: PluginInfo, load: Callable[[], object]) -> None:
    host.plugins[info.name] = info
    try:
        plugin = load()
        host.pm.register(plugin, name=info.name)
    except Exception as exc:
        info.status = "failed"
        host.report(info.name, f"failed to load: {type(exc).__name__}: {exc}", exc)
        return
    _check_hook_api(host, info, plugin)


def _check_hook_api(host: PluginHost, info: PluginInfo, plugin: object) -> None:
    """Record the hook API a plugin declares; a different one is reported, and the plugin stays loaded.

    Built-in plugins ship with the core, so they are written for its hook API by definition.
    """
    declared = getattr(plugin, hookspecs.HOOK_API_ATTRIBUTE, None)
    if declared is None:
        info.hook_api = hookspecs.HOOK_API_VERSION if info.builtin else ""
        return
    info.hook_api = str(declared)
    if info.hook_api != hookspecs.HOOK_API_VERSION:
        host.problems.append(
            PluginProblem(
                info.name,
                f"written for hook API {info.hook_api}, but planner {__version__} provides hook API "
                f"{hookspecs.HOOK_API_VERSION}; it is loaded, but ask its vendor for a release written "
                f'for API {hookspecs.HOOK_API_VERSION} (docs/plugins.md, "Versioning")',
            )
        )


def _check_unknown_hooks(host: PluginHost) -> None:
    """Report hook implementations that match no hook (a typo is otherwise silent)."""
    for hook_name, impls in host.pm.hook.__dict__.items():
        if hook_name.startswith("_") or not hasattr(impls, "get_hookimpls"):
            continue
        if impls.spec is None:
            for impl in impls.get_hookimpls():
                host.problems.append(PluginProblem(impl.plugin_name, f"implements unknown hook {hook_name}()"))

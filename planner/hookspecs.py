"""Every hook a plugin can implement, written for the person who writes the plugin.

A plugin is a module (or object) whose functions carry ``@planner.hookimpl`` and are
named after the hooks below. Register it under the ``planner`` entry point group in
your package's ``pyproject.toml``::

    [project.entry-points.planner]
    acme = "acme_planner_plugin"

The built-in plugins in ``plugins/`` are registered the same way. Rules for all hooks:

- Hooks named ``planner_<plural noun>()`` return a *list* of specs from
  :mod:`planner.specs` (or dicts with the same fields: they are validated strictly).
  A spec that fails validation is reported with your plugin's name and skipped; the
  rest of your list still loads.
- Converters are ``firstresult`` hooks named ``planner_<noun>_from_<source>``: return
  ``None`` for inputs you do not handle, so the next plugin gets a turn.
- Ids are lowercase slugs and must be unique across all plugins; a duplicate is
  reported naming both plugins, and the second one is dropped.
- Import heavy libraries inside your hook functions, never at module import time:
  every ``planner`` command imports your module.
- Hook arguments are only ever added, never renamed or removed.
- Declare the hook API your plugin was written for with a module attribute
  ``PLANNER_HOOK_API = "1"`` (see :data:`HOOK_API_VERSION`).
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "planner"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: The hook API this planner provides. A plugin module declares the version it was written
#: for as ``PLANNER_HOOK_API = "1"``. The promise: within one version, hooks, hook arguments
#: and spec fields are only ever added (a new field always has a default), never renamed,
#: removed or given another meaning; anything else raises this number. A plugin that
#: declares another version still loads (its hooks are isolated like every plugin's), and
#: ``planner plugins`` and the desktop app's Plugins page show the mismatch as a problem.
HOOK_API_VERSION = "1"

#: The module attribute in which a plugin declares the hook API it was written for.
HOOK_API_ATTRIBUTE = "PLANNER_HOOK_API"

#: Decorate your hook functions with this (also importable as ``planner.hookimpl``).
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------- hardware


@hookspec
def planner_gpus() -> list[Any]:
    """Contribute accelerators to the catalog.

    :returns: a list of :class:`planner.specs.GpuSpec` (or dicts of its fields): memory
        (``hbm_gib``), bandwidth (``hbm_tb_s``), dense TFLOPS per dtype (omit a dtype the
        GPU does not compute natively), TDP, the intra-node interconnect, NVLink domain
        size, GPUs per node and an optional price hint. Every number cites ``source``
        (or a per-field ``field_sources`` entry).
    """


# ----------------------------------------------------------------------- models


@hookspec
def planner_models() -> list[Any]:
    """Contribute model architectures to the catalog.

    :returns: a list of :class:`planner.specs.ModelSpec`: layers, hidden size, heads and
        KV heads, head dim, FFN width, vocabulary, MoE/MLA/sliding-window layout,
        total and active parameter counts, max context, native weight dtype and licence.
        Give Hugging Face ids as ``aliases`` so plans can name the model either way.
    """


@hookspec(firstresult=True)
def planner_model_from_config(config: dict[str, Any]) -> Any:
    """Turn a Hugging Face ``config.json`` (already parsed) into a model spec.

    Called by ``planner model import``; the first plugin that returns something wins.

    :param config: the parsed ``config.json`` dict. When a ModelOpt
        ``hf_quant_config.json`` lies beside it, its contents are under the key
        ``"_hf_quant_config"``; the key ``"_source"`` holds the file path.
    :returns: a :class:`planner.specs.ModelSpec` (any id; the caller sets the final one)
        when ``config["architectures"]`` names a family you handle, else ``None``.
        Raise :class:`planner.errors.InputError` naming the bad field when the config is
        of your family but malformed.
    """


# --------------------------------------------------------------------- runtimes


@hookspec
def planner_runtimes() -> list[Any]:
    """Contribute inference engines (runtimes) to the catalog.

    :returns: a list of :class:`planner.specs.RuntimeSpec`: supported parallelism,
        KV-cache and weight dtypes, the knobs under their real names with defaults, how
        the engine computes its KV budget (``kv_budget_rule``) and its per-GPU memory
        reserve.
    """


# --------------------------------------------------------------- serving stacks


@hookspec
def planner_serving_stacks() -> list[Any]:
    """Contribute serving platforms that run on top of a runtime.

    :returns: a list of :class:`planner.specs.ServingStackSpec`: which runtimes it
        drives, disaggregated prefill/decode support, the KV transports it offers and
        whether they need RDMA, how it autoscales and where it serves metrics.
    """


# ----------------------------------------------------------- performance models


@hookspec
def planner_performance_models() -> list[Any]:
    """Contribute performance models: phase times for a deployment, with provenance.

    Each object follows :class:`planner.perfmodel.PerformanceModel`: a unique ``name``,
    ``coverage(dep)`` (``None`` when it covers the configuration, else the reason),
    ``prefill_s``, ``decode_step_s``, ``mixed_step_s``, ``overhead_s`` and ``source(dep)``.
    The sizing engine, search and simulation only call these methods; the built-in
    roofline (``builtin``) is one such model, registered by the ``analytic`` plugin.

    :returns: a list of performance-model objects.
    """


# ------------------------------------------------------------------- validation


@hookspec
def planner_rule_packs() -> list[Any]:
    """Contribute rule packs that validate plans beside the built-in ones.

    :returns: a list of rule-pack objects (see ``docs/rules.md`` for the contract),
        for example a GPU vendor's minimum driver for an fp8 KV cache.
    """


# ------------------------------------------------------------------ measurement


@hookspec
def planner_benchmark_importers() -> list[Any]:
    """Contribute readers of benchmark result files (vLLM bench, GuideLLM, AIPerf...).

    ``planner bench import`` offers each file to the importers in registration order (the
    built-ins first) and the first whose ``can_read`` accepts it reads it. Import the
    contract from :mod:`planner.measured_run`; its ``FileReader`` turns a failure into an
    error naming your format and the field.

    :returns: a list of objects following :class:`planner.measured_run.BenchmarkImporter`:
        a ``name`` (slug), a ``title`` (shown in errors), ``can_read(path, head) -> bool``
        (``head`` is the file's first 64 KiB as text; never raise) and ``read(path)``
        returning :class:`planner.measured_run.MeasuredRun` s in the planner's units and
        definitions, or raising :class:`planner.measured_run.BenchmarkFileError`.
    """

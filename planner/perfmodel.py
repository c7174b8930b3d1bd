"""The performance-model contract: what the sizing engine, search and simulation call.

A performance model turns a configuration (a :class:`~planner.sizing.deployment.Deployment`:
model, GPU, runtime, TP/PP/EP, precisions) into phase times. The deployment never
carries its model: every caller passes the model beside it, so the same deployment can
be timed by several models (search screens with the built-in one, then re-times a
shortlist with the chosen one).

The built-in roofline (plugin ``analytic``, :mod:`planner.performance_models`) is one
implementation; a plugin can contribute others through the ``planner_performance_models``
hook (for example a profiled-kernel database). Callers never reach into a model's
internals: they ask for prefill, decode and mixed-step times, the per-step overhead,
where the numbers come from, and whether the model covers the configuration at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from planner.sizing.deployment import Deployment


@runtime_checkable
class PerformanceModel(Protocol):
    """Phase times of a deployment, with their provenance.

    ``coverage`` must be cheap (a lookup: which GPUs, models, versions the model knows):
    search asks it of candidates, ``auto`` of every configuration it answers. Two
    optional methods complete the contract:

    - ``prepare(dep) -> str | None``: the expensive part of knowing whether ``dep`` is
      covered (loading a database, probing its tables), run once per configuration
      just before the model first times it, and memoised by the model; ``None`` when
      ready, else why not (the built-in model then answers, and says so);
    - ``describe() -> str``: one line for ``planner plugins`` (its version, or what is
      missing to make it work);
    - ``step_function(dep)``: a callable ``(prefill_tokens, prefill_keys, decode_batch,
      decode_keys) -> seconds`` equal to ``mixed_step_s`` for ``dep``, with whatever depends
      only on the deployment done once (the simulator calls it at every step). Under attention
      data parallelism the callable may also have ``ranks_s(work)``: one step of the ranks from
      each rank's ``(prefill_tokens, prefill_keys, decode_batch, decode_keys)``, a rank's own
      attention and dense GEMMs on its GPU (the built-in roofline's ``MixedStep.ranks_s``);
      without it a step is ``mixed_step_s`` of the ranks' sums, which spreads a rank's prompt
      over every GPU (:func:`planner.performance_models.ranked_step_function_of`). Two more are
      optional, for the simulator's speed only: ``decode_steps_s(batch, keys)`` and, beside
      ``ranks_s``, ``ranks_decode_steps_s(batches, keys)``, each an iterator over the seconds of
      consecutive decode-only steps (every sequence a token longer a step), each step exactly
      what the callable (or ``ranks_s``) gives for it.

    ``prefill_s`` of an attention-data-parallel ``dep`` is the replica's: its ``requests``
    prompts spread over the ranks, each on one rank's GPU.
    """

    @property
    def name(self) -> str:
        """Unique name, e.g. builtin."""
        ...

    def coverage(self, dep: Deployment) -> str | None:
        """``None`` when the model covers ``dep``, else why not (e.g. 'no data for MI300X')."""
        ...

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """Time to prefill ``requests`` prompts of ``length`` tokens as one batch."""
        ...

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """One decode step for ``batch`` sequences at ``context`` tokens (overhead included)."""
        ...

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """One continuous-batching step that prefills and decodes together (overhead included)."""
        ...

    def overhead_s(self, dep: Deployment) -> float:
        """The fixed per-step cost (scheduler, launches) inside the times above."""
        ...

    def source(self, dep: Deployment) -> str:
        """Provenance of the times for ``dep``, shown with every estimate."""
        ...


def describe(model: PerformanceModel) -> str:
    """One line on a performance model for ``planner plugins``: its name and, where the model
    has an optional ``describe()`` method, what that says (version, data, or what is missing
    to make it work, e.g. an extra that is not installed)."""
    custom = getattr(model, "describe", None)
    return str(custom()) if callable(custom) else model.name

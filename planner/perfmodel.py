"""The performance-model contract: what the sizing engine, search and simulation call.

A performance model turns a configuration (a :class:`~planner.sizing.deployment.Deployment`:
model, GPU, runtime, TP/PP/EP, precisions) into phase times. The built-in analytic model
(plugin ``analytic``) is one implementation; a plugin can contribute others through the
``planner_performance_models`` hook (for example a profiled-kernel database). Callers
never reach into a model's internals: they ask for prefill, decode and mixed-step times,
the per-step overhead, where the numbers come from, and whether the model covers the
configuration at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from planner.sizing.deployment import Deployment
    from planner.sizing.performance import Efficiency


@runtime_checkable
class PerformanceModel(Protocol):
    """Phase times of a deployment, with their provenance."""

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


@dataclass(frozen=True)
class AnalyticModel:
    """The built-in roofline with efficiency factors calibrated per class.

    With ``fixed`` efficiency (calibration fits, tests) every deployment uses those
    factors; otherwise each deployment gets its class's calibrated factors with the
    plan's overrides applied.
    """

    fixed: Efficiency | None = None
    name: str = "builtin"

    def efficiency(self, dep: Deployment) -> Efficiency:
        """The factors this model uses for ``dep``."""
        return self.fixed if self.fixed is not None else _calibrated(dep)

    def coverage(self, dep: Deployment) -> str | None:
        """The roofline covers every configuration (its bands say how well)."""
        return None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """Compute-bound prefill (see :func:`planner.sizing.performance.prefill_s`)."""
        from planner.sizing.performance import prefill_s

        return prefill_s(dep, requests, length, self.efficiency(dep))

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """Bandwidth- or compute-bound decode step (see ``performance.decode_step_s``)."""
        from planner.sizing.performance import decode_step_s

        return decode_step_s(dep, batch, context, self.efficiency(dep))

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """A chunked-prefill step (see ``performance.mixed_step_s``)."""
        from planner.sizing.performance import mixed_step_s

        return mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys, self.efficiency(dep))

    def overhead_s(self, dep: Deployment) -> float:
        """The calibrated per-step overhead."""
        return self.efficiency(dep).overhead_ms / 1000

    def source(self, dep: Deployment) -> str:
        """Which calibration the factors come from."""
        return f"builtin roofline; {self.efficiency(dep).source}"


BUILTIN = AnalyticModel()


def _calibrated(dep: Deployment) -> Efficiency:
    return _calibrated_for(
        dep.runtime.id, dep.gpu.generation, "moe" if dep.model.moe else "dense", _key(dep.efficiency)
    )


def _key(overrides: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(overrides.items()))


@lru_cache(maxsize=4096)
def _calibrated_for(runtime: str, generation: str, kind: str, overrides: tuple[tuple[str, float], ...]) -> Efficiency:
    from planner.sizing.efficiency import calibration_for, with_overrides

    return with_overrides(calibration_for(runtime, generation, kind).efficiency, dict(overrides))


@dataclass(frozen=True)
class Fallback:
    """The built-in model answering where the chosen model does not cover a configuration."""

    preferred: str
    reason: str
    name: str = "builtin"

    def coverage(self, dep: Deployment) -> str | None:
        """The built-in model covers everything."""
        return None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """As the built-in model."""
        return BUILTIN.prefill_s(dep, requests, length)

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """As the built-in model."""
        return BUILTIN.decode_step_s(dep, batch, context)

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """As the built-in model."""
        return BUILTIN.mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys)

    def overhead_s(self, dep: Deployment) -> float:
        """As the built-in model."""
        return BUILTIN.overhead_s(dep)

    def efficiency(self, dep: Deployment) -> Efficiency:
        """The built-in model's factors."""
        return BUILTIN.efficiency(dep)

    def source(self, dep: Deployment) -> str:
        """Says which model was asked for and why the built-in one answered."""
        return f"{self.preferred} does not cover this configuration ({self.reason}); {BUILTIN.source(dep)}"


def choose(model: PerformanceModel | None, dep: Deployment) -> PerformanceModel:
    """``model`` where it covers ``dep``; otherwise the built-in model, saying why."""
    if model is None:
        return BUILTIN
    reason = model.coverage(dep)
    return model if reason is None else Fallback(model.name, reason)

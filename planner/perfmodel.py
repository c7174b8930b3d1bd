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

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from planner.backends import Correction
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


def describe(model: PerformanceModel) -> str:
    """One line on a performance model for ``planner plugins``: its name and, where the model
    has an optional ``describe()`` method, what that says (version, data, or what is missing
    to make it work, e.g. an extra that is not installed)."""
    custom = getattr(model, "describe", None)
    return str(custom()) if callable(custom) else model.name


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
    from planner.backends import config_class

    return _calibrated_for(dep.runtime.id, dep.gpu.generation, config_class(dep), _key(dep.efficiency))


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


@dataclass(frozen=True)
class Corrected:
    """A backend's phase times with a fitted :class:`~planner.backends.Correction` applied.

    Prefill times are scaled; decode and mixed steps are scaled and get the per-step
    overhead the profiled kernels leave out.
    """

    base: PerformanceModel
    correction: Correction

    @property
    def name(self) -> str:
        """The corrected backend's name."""
        return self.base.name

    def coverage(self, dep: Deployment) -> str | None:
        """As the corrected backend."""
        return self.base.coverage(dep)

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """The backend's prefill time x the prefill scale."""
        return self.base.prefill_s(dep, requests, length) * self.correction.prefill_scale

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """The backend's decode step x the decode scale, plus the fitted overhead."""
        step = self.base.decode_step_s(dep, batch, context)
        return step * self.correction.decode_scale + self.correction.overhead_ms / 1000

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """The backend's mixed step x the decode scale, plus the fitted overhead."""
        step = self.base.mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys)
        return step * self.correction.decode_scale + self.correction.overhead_ms / 1000

    def overhead_s(self, dep: Deployment) -> float:
        """The backend's overhead plus the fitted one."""
        return self.base.overhead_s(dep) + self.correction.overhead_ms / 1000

    def source(self, dep: Deployment) -> str:
        """The backend's provenance and the correction's."""
        c = self.correction
        return (
            f"{self.base.source(dep)}; x{c.prefill_scale:.2f} prefill, x{c.decode_scale:.2f} decode, "
            f"+{c.overhead_ms:.2f} ms a step ({c.source})"
        )


def calibrated(model: PerformanceModel, dep: Deployment) -> PerformanceModel:
    """``model`` with its fitted correction for ``dep``'s configuration class, when it has one."""
    from planner.backends import config_class, correction_for

    if isinstance(model, AnalyticModel | Fallback | Corrected | AutoModel | Blend):
        return model
    correction = correction_for(model.name, config_class(dep))
    return Corrected(model, correction) if correction else model


@dataclass(frozen=True)
class AutoModel:
    """Per metric and configuration class, the backend with the lower held-out error.

    The choice comes from ``catalogs/efficiency/backends.yaml`` (see
    :mod:`planner.backends`). Estimates take each metric from its chosen backend
    (:func:`metric_models`); phase-level callers (the simulator) get prefill from the
    TTFT choice and decode steps from the throughput choice. A chosen backend that does
    not cover the configuration gives way to the built-in model.
    """

    others: tuple[PerformanceModel, ...] = ()
    name: str = "auto"

    def pick(self, dep: Deployment, group: str) -> PerformanceModel:
        """The (corrected) model ``auto`` uses for ``group`` (throughput, itl, ttft) on ``dep``."""
        from planner.backends import choice_for, config_class

        other, weight = parse_choice(choice_for(config_class(dep), group))
        for model in self.others:
            if model.name == other and model.coverage(dep) is None:
                return calibrated(model, dep) if weight is None else Blend(BUILTIN, calibrated(model, dep), weight)
        return BUILTIN

    def coverage(self, dep: Deployment) -> str | None:
        """Covers everything (the built-in model is always there)."""
        return None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """From the TTFT choice."""
        return self.pick(dep, "ttft").prefill_s(dep, requests, length)

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """From the throughput choice."""
        return self.pick(dep, "throughput").decode_step_s(dep, batch, context)

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """From the throughput choice."""
        return self.pick(dep, "throughput").mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys)

    def overhead_s(self, dep: Deployment) -> float:
        """From the throughput choice."""
        return self.pick(dep, "throughput").overhead_s(dep)

    def source(self, dep: Deployment) -> str:
        """Which backend answers each metric, and where each one's numbers come from."""
        from planner.backends import GROUPS, config_class

        picks = {group: self.pick(dep, group) for group in GROUPS}
        by_model: dict[str, list[str]] = {}
        for group, model in picks.items():
            by_model.setdefault(model.name, []).append(group.upper() if group != "throughput" else group)
        parts = [f"{', '.join(groups)} from {name}" for name, groups in by_model.items()]
        sources = "; ".join(dict.fromkeys(m.source(dep) for m in picks.values()))
        return f"auto ({config_class(dep)} class: {'; '.join(parts)}) - {sources}"


@dataclass(frozen=True)
class Blend:
    """The geometric mean of two models' figures (``weight`` on the second).

    Two estimators whose errors are partly independent land closer together than
    either alone; ``auto`` uses a blend where its held-out error is the lowest. Metric
    callers (estimates, measurement replays) blend each metric; phase callers (the
    simulator) blend the phase times.
    """

    first: PerformanceModel
    second: PerformanceModel
    weight: float = 0.5

    @property
    def name(self) -> str:
        """e.g. builtin+aiconfigurator (equal weights) or builtin+aiconfigurator@0.75."""
        return blend_name(self.first.name, self.second.name, self.weight)

    def mix(self, a: float, b: float) -> float:
        """Weighted geometric mean of two positive figures (the first when one is not positive)."""
        if a <= 0 or b <= 0:
            return a
        return math.exp((1 - self.weight) * math.log(a) + self.weight * math.log(b))

    def coverage(self, dep: Deployment) -> str | None:
        """Both models must cover ``dep``."""
        return self.first.coverage(dep) or self.second.coverage(dep)

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """Blended prefill time."""
        return self.mix(self.first.prefill_s(dep, requests, length), self.second.prefill_s(dep, requests, length))

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """Blended decode step."""
        return self.mix(self.first.decode_step_s(dep, batch, context), self.second.decode_step_s(dep, batch, context))

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """Blended mixed step."""
        args = (dep, prefill_tokens, prefill_keys, decode_batch, decode_keys)
        return self.mix(self.first.mixed_step_s(*args), self.second.mixed_step_s(*args))

    def overhead_s(self, dep: Deployment) -> float:
        """Blended overhead."""
        return self.mix(self.first.overhead_s(dep), self.second.overhead_s(dep))

    def source(self, dep: Deployment) -> str:
        """Both sources."""
        return f"geometric mean of {self.first.source(dep)} and {self.second.source(dep)}"


def blend_name(first: str, second: str, weight: float = 0.5) -> str:
    """How a blend is named in reports and in ``auto``'s choices: ``first+second``, with
    ``@weight`` (the share of the second) unless the weights are equal."""
    return f"{first}+{second}" if weight == 0.5 else f"{first}+{second}@{weight:g}"


def parse_choice(choice: str) -> tuple[str, float | None]:
    """Split one of ``auto``'s choices into (backend, blend weight): ``builtin`` ->
    (builtin, None); ``NAME`` -> (NAME, None), the backend alone; ``builtin+NAME[@W]`` ->
    (NAME, W), its blend with the built-in model (W = 0.5 when not written)."""
    if not choice.startswith(f"{BUILTIN.name}+"):
        return choice, None
    other, _, weight = choice.removeprefix(f"{BUILTIN.name}+").partition("@")
    return other, float(weight) if weight else 0.5


def metric_models(model: PerformanceModel, dep: Deployment) -> dict[str, PerformanceModel] | None:
    """For ``auto``, the model behind each metric group; ``None`` for a single model."""
    from planner.backends import GROUPS

    if not isinstance(model, AutoModel):
        return None
    return {group: model.pick(dep, group) for group in GROUPS}


def choose(model: PerformanceModel | None, dep: Deployment) -> PerformanceModel:
    """``model`` (with its fitted correction) where it covers ``dep``; otherwise the built-in model, saying why."""
    if model is None:
        return BUILTIN
    reason = model.coverage(dep)
    return calibrated(model, dep) if reason is None else Fallback(model.name, reason)

"""The built-in performance model and the composite models that combine it with others.

- :class:`AnalyticModel` (``builtin``): the roofline of :mod:`planner.sizing.roofline`
  with the calibrated factors of the deployment's class;
- :class:`Fallback`: the built-in model answering where the chosen one does not cover a
  configuration, and saying so;
- :class:`Corrected`: another backend's phase times with its fitted correction;
- :class:`Blend`: the weighted geometric mean of two models;
- :class:`AutoModel` (``auto``): per metric group and configuration class, the backend
  (or blend) with the lowest held-out error.

Callers time a deployment with :func:`choose` (the model they were asked for, or the
built-in one where it does not cover the deployment). Composite models combine phase
and step times, never finished figures: every figure of one configuration (throughput,
ITL, TTFT, E2E) comes from one set of step times, so the figures agree with each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from planner.corrections import (
    BUILTIN_NAME,
    GROUPS,
    Correction,
    blend_name,
    choice_for,
    correction_band,
    correction_for,
    parse_choice,
)
from planner.perfmodel import PerformanceModel
from planner.sizing import roofline
from planner.sizing.deployment import Deployment, config_class
from planner.sizing.efficiency import Band, Efficiency, band_for, efficiency_for, widened_if_thin


@dataclass(frozen=True)
class AnalyticModel:
    """The built-in roofline with efficiency factors calibrated per class.

    With ``fixed`` efficiency (calibration fits, tests) every deployment uses those
    factors; otherwise each deployment gets its class's calibrated factors with the
    plan's overrides applied.
    """

    fixed: Efficiency | None = None
    name: str = BUILTIN_NAME

    def efficiency(self, dep: Deployment) -> Efficiency:
        """The factors this model uses for ``dep``."""
        return self.fixed if self.fixed is not None else efficiency_for(dep)

    def coverage(self, dep: Deployment) -> str | None:
        """The roofline covers every configuration (its bands say how well)."""
        return None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """Compute-bound prefill (see :func:`planner.sizing.roofline.prefill_s`)."""
        return roofline.prefill_s(dep, requests, length, self.efficiency(dep))

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """Bandwidth- or compute-bound decode step (see ``roofline.decode_step_s``)."""
        return roofline.decode_step_s(dep, batch, context, self.efficiency(dep))

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """A chunked-prefill step (see ``roofline.mixed_step_s``)."""
        return roofline.mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys, self.efficiency(dep))

    def overhead_s(self, dep: Deployment) -> float:
        """The calibrated per-step overhead."""
        return self.efficiency(dep).overhead_ms / 1000

    def step_function(self, dep: Deployment) -> Callable[[float, float, float, float], float]:
        """``mixed_step_s`` of ``dep`` with its factors looked up once (the simulator calls it every step)."""
        return roofline.mixed_step_function(dep, self.efficiency(dep))

    def source(self, dep: Deployment) -> str:
        """Which calibration the factors come from."""
        return f"builtin roofline; {self.efficiency(dep).source}"


BUILTIN = AnalyticModel()


@dataclass(frozen=True)
class Fallback:
    """The built-in model answering where the chosen model does not cover a configuration."""

    preferred: str
    reason: str
    name: str = BUILTIN_NAME

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

    def step_function(self, dep: Deployment) -> Callable[[float, float, float, float], float]:
        """As the built-in model."""
        return BUILTIN.step_function(dep)

    def source(self, dep: Deployment) -> str:
        """Says which model was asked for and why the built-in one answered."""
        return f"{self.preferred} does not cover this configuration ({self.reason}); {BUILTIN.source(dep)}"


@dataclass(frozen=True)
class Corrected:
    """A backend's phase times with a fitted :class:`~planner.corrections.Correction` applied.

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

    def step_function(self, dep: Deployment) -> Callable[[float, float, float, float], float]:
        """The backend's step function, scaled and with the fitted overhead (as :meth:`mixed_step_s`)."""
        base, scale, overhead_s = (
            step_function_of(self.base, dep),
            self.correction.decode_scale,
            self.correction.overhead_ms / 1000,
        )

        def step(prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float) -> float:
            return base(prefill_tokens, prefill_keys, decode_batch, decode_keys) * scale + overhead_s

        return step

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
    if isinstance(model, AnalyticModel | Fallback | Corrected | AutoModel | Blend):
        return model
    correction = correction_for(model.name, config_class(dep))
    return Corrected(model, correction) if correction else model


def readiness(model: PerformanceModel, dep: Deployment) -> str | None:
    """``None`` when ``model`` can time ``dep``, else why not: its cheap ``coverage``, then
    its optional ``prepare`` (the expensive check, memoised by the model)."""
    reason = model.coverage(dep)
    if reason is not None:
        return reason
    prepare = getattr(model, "prepare", None)
    return prepare(dep) if callable(prepare) else None


def choose(model: PerformanceModel | None, dep: Deployment) -> PerformanceModel:
    """``model`` (with its fitted correction) where it can time ``dep``; otherwise the built-in
    model, saying why."""
    if model is None:
        return BUILTIN
    reason = readiness(model, dep)
    return calibrated(model, dep) if reason is None else Fallback(model.name, reason)


@dataclass(frozen=True)
class AutoModel:
    """Per configuration class, the backend (or blend) with the lower held-out error.

    The choices come from ``catalogs/efficiency/backends.yaml`` (see
    :mod:`planner.corrections`). ``auto`` is a model of phase times: decode and mixed steps
    come from the ITL choice (ITL measures a decode step directly; throughput follows from
    the same steps, so the throughput choice is reported but does not time anything),
    prefill from the TTFT choice. Every steady-state figure is built from these phase
    times, so the figures agree. A chosen backend that cannot time the configuration gives
    way to the built-in model.
    """

    others: tuple[PerformanceModel, ...] = ()
    name: str = "auto"

    def pick(self, dep: Deployment, group: str) -> PerformanceModel:
        """The (corrected) model ``auto`` uses for ``group`` (throughput, itl, ttft) on ``dep``."""
        other, weight = parse_choice(choice_for(config_class(dep), group))
        for model in self.others:
            if model.name == other and readiness(model, dep) is None:
                return calibrated(model, dep) if weight is None else Blend(BUILTIN, calibrated(model, dep), weight)
        return BUILTIN

    def per_group(self, dep: Deployment) -> dict[str, PerformanceModel]:
        """The model whose phase dominates each metric group on ``dep``: decode steps (the ITL
        choice) for throughput and ITL, prefill (the TTFT choice) for TTFT."""
        steps = self.pick(dep, "itl")
        return {"throughput": steps, "itl": steps, "ttft": self.pick(dep, "ttft")}

    def coverage(self, dep: Deployment) -> str | None:
        """Covers everything (the built-in model is always there)."""
        return None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """From the TTFT choice."""
        return self.pick(dep, "ttft").prefill_s(dep, requests, length)

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """From the ITL choice (the decode steps)."""
        return self.pick(dep, "itl").decode_step_s(dep, batch, context)

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """From the ITL choice (the decode steps)."""
        return self.pick(dep, "itl").mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys)

    def step_function(self, dep: Deployment) -> Callable[[float, float, float, float], float]:
        """:meth:`mixed_step_s` as one function (the ITL choice's, chosen once, not at every step)."""
        return step_function_of(self.pick(dep, "itl"), dep)

    def overhead_s(self, dep: Deployment) -> float:
        """From the ITL choice (the decode steps)."""
        return self.pick(dep, "itl").overhead_s(dep)

    def source(self, dep: Deployment) -> str:
        """Which backend times the decode steps and the prefill, and where their numbers come from."""
        steps, prefill = self.pick(dep, "itl"), self.pick(dep, "ttft")
        if prefill.name == steps.name:
            parts = f"throughput, ITL, TTFT from {steps.name} (one set of phase times)"
        else:
            parts = f"decode steps (throughput, ITL) from {steps.name}; prefill (TTFT) from {prefill.name}"
        sources = "; ".join(dict.fromkeys(m.source(dep) for m in (steps, prefill)))
        return f"auto ({config_class(dep)} class: {parts}) - {sources}"


@dataclass(frozen=True)
class Blend:
    """The geometric mean of two models' phase and step times (``weight`` on the second).

    Two estimators whose errors are partly independent land closer together than
    either alone; ``auto`` uses a blend where its held-out error is the lowest. The
    blend mixes step times, so the figures built from them stay consistent.
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

    def step_function(self, dep: Deployment) -> Callable[[float, float, float, float], float]:
        """Both models' step functions, blended (as :meth:`mixed_step_s`)."""
        first, second = step_function_of(self.first, dep), step_function_of(self.second, dep)

        def step(prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float) -> float:
            args = (prefill_tokens, prefill_keys, decode_batch, decode_keys)
            return self.mix(first(*args), second(*args))

        return step

    def overhead_s(self, dep: Deployment) -> float:
        """Blended overhead."""
        return self.mix(self.first.overhead_s(dep), self.second.overhead_s(dep))

    def source(self, dep: Deployment) -> str:
        """Both sources."""
        return f"geometric mean of {self.first.source(dep)} and {self.second.source(dep)}"


def step_function_of(model: PerformanceModel, dep: Deployment) -> Callable[[float, float, float, float], float]:
    """``model.mixed_step_s`` for ``dep``: through the model's optional ``step_function(dep)``
    (per-deployment work done once), else the method itself."""
    fast = getattr(model, "step_function", None)
    return fast(dep) if callable(fast) else partial(model.mixed_step_s, dep)


def ranked_step_function_of(
    model: PerformanceModel, dep: Deployment
) -> Callable[[Sequence[tuple[float, float, float, float]]], float]:
    """One step of an attention-data-parallel replica from each rank's work (prefill tokens, their
    keys, decoding sequences, their keys): the step function's ``ranks_s`` where it has one (the
    built-in roofline's :meth:`~planner.sizing.roofline.MixedStep.ranks_s`, which runs a rank's
    attention and dense GEMMs on its own GPU), else the replica's step of the ranks' sums (a model
    that times only whole replicas spreads a rank's prompt over every GPU)."""
    step = step_function_of(model, dep)
    ranks_s = getattr(step, "ranks_s", None)
    if callable(ranks_s):
        return ranks_s  # type: ignore[no-any-return]

    def summed(work: Sequence[tuple[float, float, float, float]]) -> float:
        return step(*(sum(w[i] for w in work) for i in range(4)))

    return summed


def ranked_decode_steps_of(
    model: PerformanceModel, dep: Deployment
) -> Callable[[Sequence[int], Sequence[int]], Iterator[float]] | None:
    """The seconds of a run of decode-only steps of an attention-data-parallel replica, where the
    step function times ranks (``ranks_s``) and has them (the built-in roofline's
    :meth:`~planner.sizing.roofline.MixedStep.ranks_decode_steps_s`): each step of the run as
    :func:`ranked_step_function_of` times it, for the simulator's fast-forward; else ``None``."""
    step = step_function_of(model, dep)
    if not callable(getattr(step, "ranks_s", None)):
        return None
    steps_s = getattr(step, "ranks_decode_steps_s", None)
    return steps_s if callable(steps_s) else None


def answering_models(model: PerformanceModel, dep: Deployment) -> dict[str, PerformanceModel]:
    """The model whose phase times dominate each metric group (throughput, itl, ttft) on ``dep``:
    ``auto``'s (see :meth:`AutoModel.per_group`), else ``model`` itself for all three."""
    per_group = getattr(model, "per_group", None)
    return dict(per_group(dep)) if callable(per_group) else dict.fromkeys(GROUPS, model)


def builtin_factors(model: PerformanceModel, dep: Deployment) -> Efficiency | None:
    """The built-in model's factors when it is what times ``dep``, else ``None``."""
    return model.efficiency(dep) if isinstance(model, AnalyticModel | Fallback) else None


def frontend_s(model: PerformanceModel, dep: Deployment) -> float:
    """Seconds a served request spends outside the GPU before its first token reaches the client
    (the built-in factors' ``frontend_ms``, of the model that answers TTFT), added to TTFT and
    E2E by the steady state and the simulator alike; 0 where another backend answers TTFT (its
    correction's prefill scale carries what it misses)."""
    factors = builtin_factors(answering_models(model, dep)["ttft"], dep)
    return factors.frontend_ms / 1000 if factors else 0.0


def error_band(model: PerformanceModel, answering: PerformanceModel, dep: Deployment, group: str) -> tuple[Band, str]:
    """The held-out error band of one metric group, and what it rests on.

    ``auto``'s own band for the class where another backend answers; else that of the
    corrected backend answering; else the built-in model's class band. A backend's band
    that is thin (see :attr:`Band.thin`, e.g. aiconfigurator on MoE-EP throughput: 6
    documents) is widened toward the built-in model's band for the deployment (itself widened
    toward a broader class's where thin), and says so.
    """
    cls = config_class(dep)
    found = correction_band("auto", cls, group) if isinstance(model, AutoModel) and answering is not BUILTIN else None
    if found is None and isinstance(answering, Corrected):
        found = correction_band(answering.name, cls, group)
    return backend_band(found, band_for(dep.runtime.id, dep.gpu.generation, cls, group))


def backend_band(
    found: tuple[float, float, int, int | None, str] | None, builtin: tuple[Band, str]
) -> tuple[Band, str]:
    """The band shown for another backend's figure: its stored band ``found`` (see
    :func:`~planner.corrections.correction_band`), widened toward the built-in model's band
    ``builtin`` where it is thin (see :func:`~planner.sizing.efficiency.widened_if_thin`); the
    built-in model's band where the backend has none."""
    if not found:
        return builtin
    low, high, figures, documents, label = found
    broader = (builtin[0], f"the built-in model's band ({builtin[1]})")
    return widened_if_thin(Band(low, high, figures, documents), label, broader)

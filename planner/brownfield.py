"""An existing fleet (brownfield): what it carries of the plan, and what must be added.

A plan declares its fleet with ``hardware.nodes`` (and ``gpus_per_node``, ``gpu``). Sizing
still finds the replicas the load needs; this says how many of them the existing nodes
hold, the share of the peak they carry (after the N+1/N+2 spares), for a batch job how
long it would take on them and whether that fits its window, and what must be added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from planner.plan import ModelChoice, Plan
from planner.sizing.deployment import Deployment
from planner.specs import BYTES_PER_ELEMENT, ModelSpec, RuntimeSpec

if TYPE_CHECKING:  # the decision module simulates; the brownfield arithmetic needs only its figures
    from planner.decision import FleetDecision


@dataclass(frozen=True)
class ExistingFleet:
    """The plan's existing nodes measured against the replicas the load needs.

    ``replicas`` of the chosen deployment fit on the nodes; ``for_load`` are left after the
    spares; ``needed`` is what the peak (or the batch window) needs. ``batch_hours`` is the
    time the batch job would take on ``for_load`` replicas (``None`` for other plans). A fleet
    served as prefill and decode pools of two layouts is counted in GPUs instead
    (``in_gpus``): each of these counts is then GPUs of the pools (:func:`existing_pools`).
    """

    nodes: int
    gpus_per_node: int
    replicas: int
    spares: int
    needed: int
    batch_hours: float | None
    window_hours: float | None
    in_gpus: bool = False

    @property
    def units(self) -> str:
        """What the counts count, in words: 'replica(s)', or 'GPU(s) of the pools'."""
        return "GPU(s) of the pools" if self.in_gpus else "replica(s)"

    @property
    def gpus(self) -> int:
        """GPUs in the existing fleet."""
        return self.nodes * self.gpus_per_node

    @property
    def for_load(self) -> int:
        """Replicas that carry load once the spares are set aside."""
        return max(self.replicas - self.spares, 0)

    @property
    def share(self) -> float:
        """The share of the peak (or of the batch's rate) the existing fleet carries."""
        return self.for_load / self.needed if self.needed else 0.0

    @property
    def shortfall(self) -> int:
        """Replicas to add so that the load is carried with the spares kept."""
        return max(self.needed - self.for_load, 0)

    @property
    def fits_window(self) -> bool | None:
        """For a batch job: True when it finishes within its window on the existing fleet."""
        if self.batch_hours is None or self.window_hours is None:
            return None
        return self.batch_hours <= self.window_hours

    def to_add(self, dep: Deployment) -> tuple[int, int]:
        """GPUs and nodes to add for the shortfall (whole replicas, whole nodes of this size)."""
        gpus = self.shortfall * (1 if self.in_gpus else dep.gpus)
        return gpus, math.ceil(gpus / self.gpus_per_node)

    def to_json(self, dep: Deployment) -> dict[str, Any]:
        """JSON-ready, with what to add."""
        gpus, nodes = self.to_add(dep)
        return {
            "nodes": self.nodes,
            "gpus": self.gpus,
            "replicas": self.replicas,
            "replicas_for_load": self.for_load,
            "replicas_needed": self.needed,
            "counted_in": "gpus" if self.in_gpus else "replicas",
            "share_of_load": round(self.share, 4),
            "batch_hours": None if self.batch_hours is None else round(self.batch_hours, 3),
            "window_hours": self.window_hours,
            "fits_window": self.fits_window,
            "add_replicas": self.shortfall,
            "add_gpus": gpus,
            "add_nodes": nodes,
        }

    def describe(self, dep: Deployment) -> str:
        """One line: what the existing fleet holds and carries, and what to add."""
        gpus, nodes = self.to_add(dep)
        return self.describe_for(dep.gpu.id, gpus, nodes)

    def describe_for(self, gpu: str, add_gpus: int = 0, add_nodes: int = 0) -> str:
        """:meth:`describe` for nodes of ``gpu``, with the GPUs and nodes the shortfall adds."""
        line = (
            f"{self.nodes} node(s) x {self.gpus_per_node} {gpu} hold {self.replicas} {self.units} "
            f"({self.for_load} after {self.spares} spare): {self.share:.0%} of the load"
        )
        if self.batch_hours is not None:
            verdict = "fits" if self.fits_window else "does not fit"
            line += f"; the batch takes {self.batch_hours:,.1f} h on them, which {verdict} "
            line += f"its {self.window_hours:g} h window"
        if self.shortfall and self.in_gpus:
            line += f"; add {add_gpus:,} GPU(s) in {add_nodes:,} node(s)"
        elif self.shortfall:
            line += f"; add {self.shortfall} replica(s) = {add_gpus:,} GPUs in {add_nodes:,} node(s)"
        return line


def existing_fleet(
    plan: Plan, dep: Deployment, needed: int, spares: int, rate_per_replica_req_s: float
) -> ExistingFleet | None:
    """The plan's existing fleet against ``needed`` replicas of ``dep``, or None when it declares none.

    :param rate_per_replica_req_s: what one replica completes per second at the load it is
        sized for (its Cr_closed for a batch job), for the batch's time on the existing fleet.
    """
    return _existing(plan, dep.gpu.gpus_per_node, dep.gpus, needed, spares, rate_per_replica_req_s)


def existing_pools(
    plan: Plan, dep: Deployment, load_gpus: int, spare_gpus: int, rate_per_gpu_req_s: float
) -> ExistingFleet | None:
    """:func:`existing_fleet` for prefill and decode pools, counted in GPUs: the pools' replicas are
    of two layouts, so the existing GPUs are measured against the ``load_gpus`` the pools carry the
    peak with and the ``spare_gpus`` of their spare replicas (the pools grown or shrunk alike).

    :param dep: a deployment of the fleet's GPU class (its node size where the plan gives none).
    :param rate_per_gpu_req_s: what the pools complete per second per GPU at their Cr_closed.
    """
    fleet = _existing(plan, dep.gpu.gpus_per_node, 1, load_gpus, spare_gpus, rate_per_gpu_req_s)
    return None if fleet is None else replace(fleet, in_gpus=True)


def existing_for(plan: Plan, decision: FleetDecision | None) -> ExistingFleet | None:
    """The plan's existing fleet against the fleet ``decision`` settled (its pools' GPUs where it
    serves the load from prefill and decode pools); None when the plan declares none or nothing
    was sized."""
    if decision is None or not decision.feasible:
        return None
    if (pools := decision.pools) is not None:  # replicas of two layouts: counted in GPUs
        load_gpus = pools.gpus()
        return existing_pools(
            plan, decision.deployment, load_gpus, pools.gpus(decision.spares // 2) - load_gpus,
            pools.req_s_at_cr_closed / load_gpus,
        )  # fmt: skip
    return existing_fleet(
        plan, decision.deployment, decision.replicas_for_load, decision.spares, decision.req_s_at_cr_closed
    )


def _existing(
    plan: Plan, default_per_node: int, gpus_per_unit: int, needed: int, spares: int, rate_per_unit_req_s: float
) -> ExistingFleet | None:
    """The existing fleet in units of ``gpus_per_unit`` GPUs (a replica, or one GPU of the pools)."""
    hw = plan.hardware
    if not hw.nodes:
        return None
    per_node = hw.gpus_per_node or default_per_node
    units = hw.nodes * per_node // gpus_per_unit
    batch = plan.traffic.batch
    hours = None
    if batch is not None:
        carried_req_s = max(units - spares, 0) * rate_per_unit_req_s
        hours = batch.items / carried_req_s / 3600 if carried_req_s > 0 else math.inf
    return ExistingFleet(
        nodes=hw.nodes,
        gpus_per_node=per_node,
        replicas=units,
        spares=spares,
        needed=needed,
        batch_hours=hours,
        window_hours=batch.window_hours if batch else None,
    )


#: The weight precision tried as the narrower alternative: 4-bit weight-only quantisation
#: (AWQ/GPTQ, w4a16), which every catalogued runtime serves and which dequantises on the fly,
#: so it runs on GPUs without FP8 or FP4 units (A100, MI250).
NARROW_WEIGHTS = "int4"


@dataclass(frozen=True)
class AlternativeChoice:
    """A change to the plan's model section that may let an existing fleet carry more.

    ``change`` says what changes, for a person; ``model`` is the plan's model section with it.
    """

    change: str
    model: ModelChoice


def alternative_choices(
    plan: Plan, dep: Deployment, models: list[ModelSpec], runtime: RuntimeSpec
) -> list[AlternativeChoice]:
    """The changes worth sizing when the existing fleet cannot carry the plan as chosen.

    At most two, so that a brownfield plan costs at most three sizings: the same model with
    4-bit weights (when the chosen weights are wider and the runtime serves them), and the
    largest smaller model of the same family that still holds the workload's p95 context
    (precision left open, so the search picks it). Both trade quality for capacity, which the
    report says.
    """
    choices = []
    chosen_bytes = BYTES_PER_ELEMENT[dep.weights_dtype]
    if NARROW_WEIGHTS in runtime.weight_dtypes and BYTES_PER_ELEMENT[NARROW_WEIGHTS] < chosen_bytes:
        narrower = plan.model.model_copy(update={"weights": NARROW_WEIGHTS})
        choices.append(AlternativeChoice(f"{dep.model.id} with int4 weights (AWQ/GPTQ, w4a16)", narrower))
    smaller = _smaller_sibling(dep.model, models, plan.workload.context_p95_tokens)
    if smaller is not None:
        other = ModelChoice(id=smaller.id, kv_cache=plan.model.kv_cache)
        choices.append(AlternativeChoice(f"{smaller.id}, the next smaller {smaller.family} model", other))
    return choices


def _smaller_sibling(model: ModelSpec, models: list[ModelSpec], context_tokens: int) -> ModelSpec | None:
    siblings = [
        m
        for m in models
        if m.family == model.family and m.total_params < model.total_params and m.max_context >= context_tokens
    ]
    return max(siblings, key=lambda m: m.total_params, default=None)

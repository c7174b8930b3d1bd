"""Candidate search: every GPU x precision x parallelism x runtime x token budget the plan allows.

Respects what the plan pins and what each GPU and runtime support (fp8 only where the
GPU computes fp8, fp4 only on Blackwell/MI355X, a runtime only on its vendors' GPUs),
sizes the fleet for each candidate, keeps those that meet the SLOs on both axes, and
ranks them by EUR per 1M tokens, then by GPU count. The runtime's token budget per step
(vLLM ``max_num_batched_tokens``, SGLang ``chunked_prefill_size``, TensorRT-LLM
``max_num_tokens``) is searched too, on the candidates the default budget ranks cheapest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from planner.catalog import Catalog
from planner.decision import FleetDecision
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN, choose
from planner.resolve import ResolvedPlan
from planner.sizing.capacity import GIB, knob, weights_bytes_per_gpu
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import FleetSizing, size_fleet
from planner.specs import GpuSpec, ModelSpec, RuntimeSpec
from planner.tco import cost_assumptions, eur_per_million_tokens
from planner.traffic import Demand, demand_of

TP_CHOICES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class Candidate:
    """A sized candidate and its cost: by the estimate, or, once checked in simulation
    (``decision``), the replicas and cost the simulation settled (``sizing`` then holds them)."""

    sizing: FleetSizing
    eur_per_m_tokens: float | None
    decision: FleetDecision | None = None
    #: Only the built-in model's screen timed it: a slower chosen model re-timed the candidates
    #: that could rank among the first ``SETTLED`` and not this one (see :func:`search`).
    screened_only: bool = False

    @property
    def sort_key(self) -> tuple[int, int, float, int]:
        """Candidates the chosen model timed before those only the screen timed (their figures come
        from another model and do not rank against the others'); then priced first, cheapest
        first, then fewest GPUs."""
        cost = self.eur_per_m_tokens
        priced = 0 if cost is not None else 1
        return (int(self.screened_only), priced, cost if cost is not None else 0.0, self.sizing.gpus)


#: Precisions a GPU must compute natively to run (weight-only formats such as int4
#: and MXFP4 dequantise on the fly and run anywhere).
NATIVE_NEEDED = {"fp8": "fp8", "fp4": "fp4", "nvfp4": "fp4"}


def gpu_runs(gpu: GpuSpec, dtype: str) -> bool:
    """True when ``gpu`` can run weights or KV stored as ``dtype``."""
    needed = NATIVE_NEEDED.get(dtype)
    return needed is None or gpu.supports(needed)


def weight_options(model: ModelSpec, gpu: GpuSpec, runtime: RuntimeSpec, pinned: str | None) -> list[str]:
    """Weight precisions to try: the pinned one, else the checkpoint's and the narrower ones the GPU runs."""
    if pinned:
        return [pinned] if gpu_runs(gpu, pinned) else []
    options = [model.native_weight_dtype]
    if model.native_weight_dtype in ("bf16", "fp16") and gpu.supports("fp8"):
        options.append("fp8")
    if gpu.supports("fp4") and model.native_weight_dtype not in ("mxfp4", "nvfp4"):
        options.append("nvfp4")
    return [o for o in options if (o in runtime.weight_dtypes or o == model.native_weight_dtype) and gpu_runs(gpu, o)]


def kv_options(gpu: GpuSpec, runtime: RuntimeSpec, pinned: str | None) -> list[str]:
    """KV precisions to try: the pinned one, else bf16 and fp8 where the GPU and runtime have it."""
    if pinned:
        return [pinned] if gpu_runs(gpu, pinned) else []
    return ["bf16"] + (["fp8"] if gpu.supports("fp8") and "fp8" in runtime.kv_dtypes else [])


def tp_options(model: ModelSpec, gpu: GpuSpec, pinned: int | None, max_gpus: int | None) -> list[int]:
    """Tensor-parallel sizes that divide the attention heads and stay inside one NVLink domain or node
    (a pinned size as given, when it divides the heads: see :mod:`planner.sizing.pins`)."""
    if pinned:
        return [pinned] if model.num_attention_heads % pinned == 0 else []
    limit = max(gpu.gpus_per_node, gpu.nvlink_domain if gpu.nvlink_domain <= 8 else 8)
    if max_gpus:
        limit = min(limit, max_gpus)
    return [tp for tp in TP_CHOICES if tp <= limit and model.num_attention_heads % tp == 0]


def candidate_deployments(resolved: ResolvedPlan, catalog: Catalog) -> Iterator[Deployment]:
    """Every deployment the plan allows, from the catalog."""
    plan, model = resolved.plan, resolved.model
    gpus = [resolved.gpu] if resolved.gpu else catalog.gpus.specs()
    runtimes = [resolved.runtime] if resolved.runtime else catalog.runtimes.specs()
    max_gpus = _gpus_allowed(resolved)
    for gpu in gpus:
        for runtime in runtimes:
            if gpu.vendor not in runtime.vendors:
                continue
            for weights in weight_options(model, gpu, runtime, plan.model.weights):
                for kv in kv_options(gpu, runtime, plan.model.kv_cache):
                    base = Deployment(
                        model=model,
                        gpu=gpu,
                        runtime=runtime,
                        weights_dtype=weights,
                        kv_dtype=kv,
                        knobs=dict(plan.runtime.knobs),
                        efficiency={str(k): v for k, v in plan.runtime.efficiency.items()},
                        inter_node_fabric=plan.hardware.inter_node_fabric or "infiniband",
                        inter_node_gb_s=plan.hardware.inter_node_gb_s,
                        runtime_version=plan.runtime.version,
                    )
                    yield from _parallel_layouts(resolved, base, max_gpus)


def _gpus_allowed(resolved: ResolvedPlan) -> int | None:
    """The most GPUs the plan's hardware section allows one replica (None: no limit)."""
    hardware = resolved.plan.hardware
    return (hardware.nodes or 0) * (hardware.gpus_per_node or 0) or None


def pool_layouts(resolved: ResolvedPlan, dep: Deployment) -> list[Deployment]:
    """The parallel layouts a prefill or decode pool of ``dep`` may take: those the search tries
    for its GPU, runtime, precisions and token budget, the plan's pins held (TP, PP, EP)."""
    base = replace(dep, tp=1, pp=1, ep=1, attention_dp=False)
    return list(_parallel_layouts(resolved, base, _gpus_allowed(resolved)))


def _parallel_layouts(resolved: ResolvedPlan, base: Deployment, max_gpus: int | None) -> Iterator[Deployment]:
    """The parallel layouts of one GPU x runtime x precision: TP within a node (with EP over the TP
    group for MoE), PP across nodes when the weights do not fit one node, and attention data
    parallelism with the experts split over a node (or two, over an RDMA fabric) for MoE.

    ``runtime.dp`` pins attention data parallelism: above 1, only its ranks (EP as many, one GPU
    each); 1, none (the conflicts a pin cannot hold are :mod:`planner.sizing.pins`'s)."""
    plan, model, gpu = resolved.plan, resolved.model, base.gpu
    pinned = plan.runtime
    if not pinned.attention_dp_ranks:
        tps = tp_options(model, gpu, pinned.tp, max_gpus)
        for tp in tps:
            eps = [pinned.ep] if pinned.ep else ([1, tp] if model.moe and tp > 1 else [1])
            for pp in pp_options(base, tp, pinned.pp, max_gpus, widest=tp == max(tps)):
                for ep in sorted(set(eps)):
                    if ep <= tp * pp:  # (the experts spread over the replica's GPUs: a pinned EP needs that many)
                        yield replace(base, tp=tp, pp=pp, ep=ep)
    if attention_dp_allowed(resolved, base.runtime):
        for ep in attention_dp_sizes(resolved, gpu, max_gpus):
            yield replace(base, tp=1, pp=1, ep=ep, attention_dp=True)


def attention_dp_allowed(resolved: ResolvedPlan, runtime: RuntimeSpec) -> bool:
    """True when the plan lets ``runtime`` run its MoE model attention-data-parallel: the runtime
    has it, and the pins ask for it (``runtime.dp`` above 1, TP and PP left open or 1) or leave it
    open (``runtime.dp``, TP and PP all open)."""
    pinned = resolved.plan.runtime
    if not resolved.model.moe or "attention-dp" not in runtime.parallelism:
        return False
    if pinned.dp:
        return pinned.attention_dp_ranks is not None and pinned.tp in (None, 1) and pinned.pp in (None, 1)
    return not (pinned.tp or pinned.pp)


#: Pipeline stages tried across nodes when one node cannot hold the weights.
PP_CHOICES = (2, 4)
#: Share of a GPU's memory the weights may take and leave room for the KV cache.
WEIGHTS_SHARE = 0.85


def pp_options(base: Deployment, tp: int, pinned: int | None, max_gpus: int | None, *, widest: bool) -> list[int]:
    """Pipeline sizes to try with ``tp``: the pinned one, else 1, and, for the widest TP (a full
    node) when the weights do not fit it, the stages across nodes that make them fit."""
    if pinned:
        return [pinned]
    one = replace(base, tp=tp, pp=1)
    if not widest or weights_bytes_per_gpu(one) <= base.gpu.hbm_gib * GIB * WEIGHTS_SHARE:
        return [1]
    return [1, *(pp for pp in PP_CHOICES if max_gpus is None or tp * pp <= max_gpus)]


def attention_dp_sizes(resolved: ResolvedPlan, gpu: GpuSpec, max_gpus: int | None) -> list[int]:
    """Expert-parallel sizes with attention data parallelism: the pinned ranks (``runtime.dp``) or EP,
    else a node's GPUs and, over an RDMA fabric (InfiniBand or RoCE, assumed when unspecified), two
    nodes'."""
    experts = resolved.model.moe.num_experts if resolved.model.moe else 0
    pinned = resolved.plan.runtime
    if ranks := pinned.attention_dp_ranks:
        return [ranks] if pinned.ep in (None, ranks) and experts % ranks == 0 else []
    if pinned.ep:
        return [pinned.ep]
    fabric = resolved.plan.hardware.inter_node_fabric or "infiniband"
    sizes = [gpu.gpus_per_node] + ([2 * gpu.gpus_per_node] if fabric in ("infiniband", "roce") else [])
    return [n for n in sizes if n > 1 and experts % n == 0 and (max_gpus is None or n <= max_gpus)]


#: Token budgets per step the search tries beside the runtime's own default for the GPU: the
#: values the runtimes themselves default to across GPU classes (vLLM 0.11 get_batch_defaults:
#: 2,048 / 8,192 / 16,384; SGLang's chunked_prefill_size: 2,048 to 16,384 by GPU memory; see
#: the knobs' ``meaning`` in catalogs/runtimes/).
BUDGET_CHOICES = (2048, 8192, 16384)


def budget_knob(dep: Deployment) -> str:
    """The name of ``dep``'s runtime knob for the token budget per step."""
    return dep.runtime.knob_roles.get("batched_tokens", "max_num_batched_tokens")


def budget_pinned(dep: Deployment) -> bool:
    """True when the plan sets the token budget of ``dep``'s runtime (runtime.knobs)."""
    return budget_knob(dep) in dep.knobs


def budget_options(dep: Deployment) -> list[Deployment]:
    """``dep`` with each token budget the search tries other than its current one (none when pinned).

    The choices are a rank's: where the runtime splits the knob over attention-DP ranks (SGLang),
    the knob tried is each choice times the ranks, so that every rank may carry what a replica
    without attention DP does.
    """
    if budget_pinned(dep):
        return []
    now = int(knob(dep, "batched_tokens"))
    name = budget_knob(dep)
    ranks = dep.budget_split_ranks
    return [replace(dep, knobs={**dep.knobs, name: b * ranks}) for b in BUDGET_CHOICES if b * ranks != now]


#: Candidates that get the other token budgets tried after the built-in model's screen, and that
#: a slower performance model re-times at a time.
SHORTLIST = 6

#: Places of the ranking a slower performance model settles: it re-times the screened candidates
#: until none left could rank among these (``planner search`` prints ten rows by default; the
#: plan checks the cheapest in simulation and keeps three alternatives).
SETTLED = 10


def search(
    resolved: ResolvedPlan,
    catalog: Catalog,
    model: PerformanceModel = BUILTIN,
    *,
    progress: Callable[[int, int], None] | None = None,
    demand: Demand | None = None,
    settle: int | None = None,
) -> tuple[list[Candidate], int]:
    """Size every candidate for ``demand`` (the plan's, :func:`~planner.traffic.demand_of`, unless
    given: ``planner mix`` sizes a share of the plan's requests); return the feasible ones ranked,
    and how many were tried. Under a model other than the built-in one the first ``settle`` places
    are settled (by default ``SETTLED``; ``mix`` needs only the first).

    Every candidate is sized at its runtime's default token budget (or the plan's); the
    ``SHORTLIST`` cheapest feasible ones (when none is feasible, those that fit in memory
    but meet no latency target: a budget can only help those) are sized again with
    each other budget of ``BUDGET_CHOICES``, and each deployment keeps its cheapest budget
    (the others are dominated: same GPUs, a higher cost). A budget moves a replica's
    latency (TTFT, the long steps) and a little of its memory (activations), not its
    weights or its GPU, so it reorders candidates that were close rather than lifting an
    expensive one past the cheapest: the screen is what keeps the search fast.

    With a performance model other than the built-in one (``auto``, a profiled
    database, which can take a fraction of a second per new configuration), every
    candidate is first screened with the built-in model, then the feasible ones (all
    candidates when none is) are re-timed with the chosen model
    (:func:`~planner.performance_models.choose`: the built-in one where it cannot time a
    candidate), cheapest first, until the first ``SETTLED`` places are settled
    (:func:`_retimed_until_settled`) and ranked on its figures, ahead of the candidates
    left with the screen's figures (``screened_only``, which the tables mark).
    """
    deployments = list(candidate_deployments(resolved, catalog))
    demand = demand or demand_of(resolved.plan)
    costs = cost_assumptions(resolved.plan.costs)
    screening = model is not BUILTIN
    total = len(deployments) + SHORTLIST * len(BUDGET_CHOICES) + (SHORTLIST if screening else 0)
    done = 0
    too_slow: list[Deployment] = []  # fit in memory, but no concurrency meets the SLOs

    def size_all(timed: list[tuple[Deployment, PerformanceModel]]) -> list[Candidate]:
        nonlocal done
        feasible = []
        for dep, chosen in timed:
            sizing = size_fleet(dep, chosen, demand)
            done += 1
            if progress:
                progress(done, max(total, done))
            if sizing.dominant == "none fits":
                too_slow.append(dep)
            if sizing.feasible:
                feasible.append(
                    Candidate(sizing, eur_per_million_tokens(dep.gpu, sizing.gpus, sizing.fleet_output_tok_s, costs))
                )
        return sorted(feasible, key=lambda c: c.sort_key)

    def chosen(batch: list[Deployment]) -> list[tuple[Deployment, PerformanceModel]]:
        return [(dep, choose(model, dep)) for dep in batch]

    screened = size_all([(dep, BUILTIN) for dep in deployments])
    leaders = [c.sizing.deployment for c in screened[:SHORTLIST]] if screened else list(too_slow)
    screened = _cheapest_budget(screened + size_all([(d, BUILTIN) for dep in leaders for d in budget_options(dep)]))
    if not screening:
        return screened, len(deployments)
    if not screened:
        return size_all(chosen(deployments)), len(deployments)
    return _retimed_until_settled(screened, lambda batch: size_all(chosen(batch)), settle), len(deployments)


def _retimed_until_settled(
    screened: list[Candidate], retime: Callable[[list[Deployment]], list[Candidate]], settle: int | None = None
) -> list[Candidate]:
    """The screened candidates re-timed by ``retime`` (the chosen model), ``SHORTLIST`` at a time and
    cheapest first, until the first ``settle`` places cannot change; the rest keep the screen's
    figures and say so (``screened_only``), after the re-timed ones.

    A place is settled when the next screened candidate, even were the chosen model to lower its
    cost as much as it lowered any candidate's it re-timed (the ratio starts at 1: a model that
    only raises costs leaves the screen's cost as the bound), would cost more than the
    ``settle``-th re-timed candidate. The chosen model's and the built-in model's times differ
    by class (runtime, GPU, model architecture), so a cheaper class can move many places: the
    ratio, not a fixed count, decides how far to go.
    """
    settle = settle or SETTLED  # read at call time: tests raise SETTLED to re-time everything
    retimed: list[Candidate] = []
    lowest_ratio = 1.0
    done = 0
    while done < len(screened) and not _settled(retimed, screened[done], lowest_ratio, settle):
        batch = screened[done : done + SHORTLIST]
        fresh = retime([c.sizing.deployment for c in batch])
        lowest_ratio = min([lowest_ratio, *_cost_ratios(batch, fresh)])
        retimed = sorted(retimed + fresh, key=lambda c: c.sort_key)
        done += len(batch)
    return retimed + [replace(c, screened_only=True) for c in screened[done:]]


def _settled(retimed: list[Candidate], following: Candidate, lowest_ratio: float, settle: int) -> bool:
    """True when ``following`` (the cheapest screened candidate not re-timed), its cost scaled by
    ``lowest_ratio``, could not rank among the first ``settle`` re-timed candidates."""
    if len(retimed) < settle:
        return False
    last = retimed[settle - 1].eur_per_m_tokens
    cost = following.eur_per_m_tokens
    if last is None:  # unpriced places rank by GPUs: the screen's count stands in for the chosen model's
        return cost is None and following.sizing.gpus > retimed[settle - 1].sizing.gpus
    return cost is None or cost * lowest_ratio > last


def _cost_ratios(screened: list[Candidate], retimed: list[Candidate]) -> list[float]:
    """The chosen model's cost over the screen's, per deployment both priced."""
    before = {c.sizing.deployment: c.eur_per_m_tokens for c in screened}
    return [
        c.eur_per_m_tokens / cost
        for c in retimed
        if c.eur_per_m_tokens is not None and (cost := before.get(c.sizing.deployment))
    ]


def _cheapest_budget(candidates: list[Candidate]) -> list[Candidate]:
    """Ranked, one candidate per deployment: the cheapest of its token budgets (the default first on a tie)."""
    best: dict[Deployment, Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: c.sort_key):
        dep = candidate.sizing.deployment
        best.setdefault(replace(dep, knobs={k: v for k, v in dep.knobs.items() if k != budget_knob(dep)}), candidate)
    return sorted(best.values(), key=lambda c: c.sort_key)

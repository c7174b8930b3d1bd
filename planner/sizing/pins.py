"""Pinned choices that cannot hold, each with why and the nearest choice that would.

A plan may pin its GPU, runtime, stack, parallelism, precision and disaggregation. The
search uses every pin as given; when a pin cannot hold (TP 3 on a model with 64 heads,
disaggregation on a stack without it), sizing does not quietly pick something else: the
plan fails, and these conflicts say which pin, why, and what to write instead. The rules
report the same conditions as findings (see ``docs/rules.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog import Catalog
from planner.resolve import ResolvedPlan
from planner.sizing.capacity import knob, sequences_pinned
from planner.sizing.deployment import Deployment
from planner.sizing.search import budget_knob, gpu_runs  # the search's own tests


@dataclass(frozen=True)
class PinConflict:
    """A pinned choice that cannot hold.

    :param pin: the plan field (``runtime.tp``); :param value: what the plan gives;
    :param why: why it cannot hold; :param nearest: what to write instead.
    """

    pin: str
    value: str
    why: str
    nearest: str

    @property
    def line(self) -> str:
        """One line for the plan's output: the pin, why, and the nearest choice that holds."""
        return f"{self.pin}: {self.value} cannot hold: {self.why}; nearest that holds: {self.nearest}"


def nearest_divisor(total: int, wanted: int, *, limit: int | None = None) -> int:
    """The divisor of ``total`` closest to ``wanted`` (the larger on a tie), at most ``limit``."""
    divisors = [d for d in range(1, total + 1) if total % d == 0 and (limit is None or d <= limit)]
    return min(divisors, key=lambda d: (abs(d - wanted), -d))


def pin_conflicts(resolved: ResolvedPlan, catalog: Catalog) -> list[PinConflict]:
    """Every pinned choice of the plan that cannot hold, in the plan's order (steps 5 to 9)."""
    return [
        *_context_conflicts(resolved),
        *_parallelism_conflicts(resolved),
        *_hardware_conflicts(resolved, catalog),
        *_budget_conflicts(resolved),
        *_stack_conflicts(resolved, catalog),
    ]


def _context_conflicts(r: ResolvedPlan) -> list[PinConflict]:
    context, longest = r.plan.workload.context_p95_tokens, r.model.max_context
    if context <= longest:
        return []
    return [
        PinConflict(
            "model.id",
            r.model.id,
            f"the workload's p95 context ({context:,} tokens) is longer than the {longest:,} tokens it supports",
            "a model with a longer context, or cap the workload's input (workload.input_tokens) "
            f"so that input and output stay within {longest:,}",
        )
    ]


def _parallelism_conflicts(r: ResolvedPlan) -> list[PinConflict]:
    rt, model = r.plan.runtime, r.model
    if rt.attention_dp_ranks:
        return _attention_dp_conflicts(r)
    found = []
    heads = model.num_attention_heads
    if rt.tp and heads % rt.tp:
        found.append(
            PinConflict(
                "runtime.tp", str(rt.tp), f"it does not divide the {heads} attention heads of {model.id}",
                f"runtime.tp: {nearest_divisor(heads, rt.tp)}",
            )
        )  # fmt: skip
    if rt.ep and rt.ep > 1:
        experts = model.moe.num_experts if model.moe else 0
        replica_gpus = (rt.tp or rt.ep) * (rt.pp or 1)
        if not experts:
            found.append(PinConflict("runtime.ep", str(rt.ep), f"{model.id} has no experts", "leave runtime.ep out"))
        elif experts % rt.ep:
            nearest = nearest_divisor(experts, rt.ep)
            found.append(
                PinConflict(
                    "runtime.ep", str(rt.ep), f"it does not divide the {experts} experts of {model.id}",
                    f"runtime.ep: {nearest}",
                )
            )  # fmt: skip
        elif rt.ep > replica_gpus:
            found.append(
                PinConflict(
                    "runtime.ep",
                    str(rt.ep),
                    f"experts are spread over the replica's GPUs, and TP {rt.tp or 1} x PP {rt.pp or 1} "
                    f"gives {replica_gpus}",
                    f"runtime.ep: {nearest_divisor(experts, replica_gpus, limit=replica_gpus)}, or runtime.tp: {rt.ep}",
                )
            )
    return found


def _attention_dp_conflicts(r: ResolvedPlan) -> list[PinConflict]:
    """What keeps ``runtime.dp`` (above 1) from holding: it pins attention data parallelism, a MoE
    model's attention run by ``dp`` ranks of one GPU each that hold the experts between them (EP
    ``dp``), on a runtime that has it."""
    rt, model, dp = r.plan.runtime, r.model, r.plan.runtime.attention_dp_ranks or 1
    experts = model.moe.num_experts if model.moe else 0
    if not experts:
        return [
            PinConflict(
                "runtime.dp", str(dp),
                f"data parallelism inside one engine is attention data parallelism over a MoE model's "
                f"expert-parallel ranks, and {model.id} is dense (its replicas are the fleet's, which the "
                "planner counts)",
                "leave runtime.dp out",
            )
        ]  # fmt: skip
    found = []
    if experts % dp:
        found.append(
            PinConflict(
                "runtime.dp", str(dp), f"its ranks split the {experts} experts of {model.id}; it does not divide them",
                f"runtime.dp: {nearest_divisor(experts, dp)}",
            )
        )  # fmt: skip
    if r.runtime is not None and "attention-dp" not in r.runtime.parallelism:
        found.append(
            PinConflict(
                "runtime.dp", str(dp), f"{r.runtime.name} has no attention data parallelism",
                "a runtime that has it (leave runtime.id open), or leave runtime.dp out",
            )
        )  # fmt: skip
    layout = f"each of the {dp} ranks runs attention on its own GPU"
    for axis, value in (("tp", rt.tp), ("pp", rt.pp)):
        if value and value != 1:
            found.append(PinConflict(f"runtime.{axis}", str(value), f"with runtime.dp {dp} {layout}",
                                     f"runtime.{axis}: 1, or leave runtime.{axis} out"))  # fmt: skip
    if rt.ep and rt.ep != dp:
        found.append(
            PinConflict(
                "runtime.ep", str(rt.ep), f"with runtime.dp {dp} the experts are split over its {dp} ranks",
                f"runtime.ep: {dp}, or leave runtime.ep out",
            )
        )  # fmt: skip
    return found


def _hardware_conflicts(r: ResolvedPlan, catalog: Catalog) -> list[PinConflict]:
    gpu, runtime, found = r.gpu, r.runtime, []
    if gpu is None:
        return []
    if runtime is not None and gpu.vendor not in runtime.vendors:
        others = [rt.id for rt in catalog.runtimes.specs() if gpu.vendor in rt.vendors]
        found.append(
            PinConflict(
                "runtime.id", runtime.id, f"it does not run on {gpu.vendor} GPUs ({gpu.id})",
                f"runtime.id: {' or '.join(others) or 'none in the catalog'}, or a {'/'.join(runtime.vendors)} GPU",
            )
        )  # fmt: skip
    for field, dtype in (("model.weights", r.plan.model.weights), ("model.kv_cache", r.plan.model.kv_cache)):
        if dtype and not gpu_runs(gpu, dtype):
            runs = [g.id for g in catalog.gpus.specs() if gpu_runs(g, dtype)][:3]
            found.append(
                PinConflict(
                    field, dtype, f"{gpu.id} ({gpu.generation}) does not compute {dtype}",
                    f"{field}: bf16 on {gpu.id}, or hardware.gpu: {' or '.join(runs)}",
                )
            )  # fmt: skip
    return found


def _budget_conflicts(r: ResolvedPlan) -> list[PinConflict]:
    """A pinned token budget per step that vLLM refuses at start-up (:func:`budget_refusal`)."""
    if r.runtime is None or r.gpu is None:
        return []
    dep = Deployment(r.model, r.gpu, r.runtime, r.weights_dtype, r.kv_dtype, knobs=dict(r.plan.runtime.knobs))
    refused = budget_refusal(dep, r.context_tokens)
    if refused is None:
        return []
    why, settings = refused
    name = budget_knob(dep)
    if name not in dep.knobs:  # (vLLM's default budget, refused beside chunked prefill turned off)
        name, why = "enable_chunked_prefill", f"{why}, and {name} is left at vLLM's {int(knob(dep, name)):,}"
    nearest = ", or ".join(f"runtime.knobs.{knob_name}: {str(value).lower()}" for knob_name, value in settings)
    return [PinConflict(f"runtime.knobs.{name}", str(dep.knobs[name]).lower(), why, nearest)]


def budget_refusal(dep: Deployment, context_tokens: int) -> tuple[str, list[tuple[str, object]]] | None:
    """Why vLLM refuses the token budget per step ``dep`` sets (its knobs, or its default where chunked
    prefill is turned off), with the settings that would hold, each (knob, value), any one enough; None
    when it holds, is left to vLLM with chunked prefill on, or the runtime is not vLLM. vLLM refuses a
    budget below max_num_seqs (where the plan sets it: otherwise ``planner deploy`` writes one within
    the budget, :func:`~planner.sizing.capacity.sequence_ceiling`), or, with chunked prefill off, below
    the longest request of ``context_tokens`` (vllm/config/scheduler.py SchedulerConfig._verify_args,
    https://github.com/vllm-project/vllm/blob/f0de1a604cad003379e5bb4dfc3cc5d2a1f25fa8/vllm/config/scheduler.py#L249-L285)."""
    name = budget_knob(dep)
    chunked = knob(dep, "enable_chunked_prefill")
    # (an open budget is vLLM's default, which holds max_num_seqs; with chunked prefill off it must still
    # hold a whole request)
    if dep.runtime.id != "vllm" or (name not in dep.knobs and chunked):
        return None
    budget, sequences = int(knob(dep, "batched_tokens")), int(knob(dep, "max_sequences"))
    if sequences_pinned(dep) and budget < sequences:
        why = f"vLLM refuses a budget below max_num_seqs ({sequences:,}: every running sequence needs a token a step)"
        return why, [(name, sequences)]
    if not chunked and budget < context_tokens:
        why = f"with chunked prefill off a whole request ({context_tokens:,} tokens) must fit one step"
        return why, [(name, context_tokens), ("enable_chunked_prefill", True)]
    return None


def _stack_conflicts(r: ResolvedPlan, catalog: Catalog) -> list[PinConflict]:
    stack, chosen, found = r.stack, r.plan.serving_stack, []
    if stack is None:
        return []
    if r.runtime is not None and r.runtime.id not in stack.runtimes:
        drivers = [s.id for s in catalog.stacks.specs() if r.runtime.id in s.runtimes]
        found.append(
            PinConflict(
                "serving_stack.id", stack.id,
                f"it does not drive {r.runtime.id} (it drives {', '.join(stack.runtimes)})",
                f"serving_stack.id: {' or '.join(drivers) or 'none in the catalog'}",
            )
        )  # fmt: skip
    if chosen.disaggregated and not stack.disaggregated_prefill_decode:
        able = [s.id for s in catalog.stacks.specs() if s.disaggregated_prefill_decode]
        found.append(
            PinConflict(
                "serving_stack.disaggregated", "true", f"{stack.id} has no separate prefill and decode pools",
                f"serving_stack.id: {' or '.join(able)}, or serving_stack.disaggregated: false",
            )
        )  # fmt: skip
    if chosen.kv_transport and chosen.kv_transport not in stack.kv_transfer:
        offered = ", ".join(stack.kv_transfer) or "none"
        found.append(
            PinConflict(
                "serving_stack.kv_transport", chosen.kv_transport,
                f"{stack.id} moves the KV cache over {offered}",
                f"serving_stack.kv_transport: {stack.kv_transfer[0]}" if stack.kv_transfer
                else "a stack with KV transfer, or leave serving_stack.kv_transport out",
            )
        )  # fmt: skip
    return found

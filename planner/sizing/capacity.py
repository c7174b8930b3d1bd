"""Capacity (step 6a): what fits in GPU memory, and how many sequences it holds.

Per GPU of a replica: weights + activation peak + runtime reserve + KV cache must fit
the runtime's memory budget; the KV cache left over, divided by what one sequence
needs at the workload's p95 context, gives the concurrency the replica can hold. Every
term is reported in GiB with the formula and inputs that produced it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from planner.sizing.deployment import Deployment

GIB = 2**30


@dataclass(frozen=True)
class Term:
    """One line of the memory budget: its value, formula and provenance."""

    name: str
    gib: float
    formula: str
    provenance: str


@dataclass(frozen=True)
class Capacity:
    """Memory sizing of one replica at one context length."""

    context_tokens: int
    gpu_memory_gib: float
    weights_gib_per_gpu: float
    activation_gib_per_gpu: float
    reserve_gib_per_gpu: float
    kv_budget_gib_per_gpu: float
    kv_bytes_per_token_per_gpu: float
    kv_bytes_per_sequence_per_gpu: float
    kv_block_tokens: int
    kv_blocks_per_gpu: int
    kv_tokens_per_replica: int
    memory_cap: int
    sequence_cap: int
    max_concurrency: int
    binding_cap: str
    terms: tuple[Term, ...] = ()  # (a tuple: one sizing is shared by every caller, see size_capacity)

    @property
    def fits(self) -> bool:
        """True when the weights fit and at least one sequence of this context does too."""
        return self.max_concurrency > 0


# ------------------------------------------------------------ runtime settings


def _sglang_chunk(gib: float) -> int:
    return 2048 if gib < 35 else 4096 if gib < 60 else 8192 if gib < 160 else 16384


def _sglang_graph_bs(gib: float, tp: int) -> int:
    if gib < 20:
        return 8
    if gib < 35:
        return 80 if tp >= 4 else 24
    if gib < 60:
        return 160 if tp >= 4 else 32
    if gib < 160:
        return 512 if tp >= 4 else 256
    return 512


def _sglang_fraction(dep: Deployment) -> float:
    """SGLang's computed mem_fraction_static (server_args._handle_gpu_memory_settings)."""
    gib = dep.gpu.hbm_gib
    chunk = int(knob(dep, "batched_tokens") or _sglang_chunk(gib))
    reserved_mib = 512 + max(chunk, 2048) * 1.5 + _sglang_graph_bs(gib, dep.tp) * 2 + dep.tp * dep.pp / 8 * 1024
    if gib > 60:
        reserved_mib = max(reserved_mib, 10 * 1024)
    return round((gib * 1024 - reserved_mib) / (gib * 1024), 3)


def _vllm_large_gpu(dep: Deployment) -> bool:
    return dep.gpu.hbm_gib >= 70 and "a100" not in dep.gpu.id


#: Defaults that depend on the GPU, as each engine resolves them (see the knob's
#: `meaning` in the runtime catalog); anything else uses the catalog default.
_DYNAMIC_DEFAULTS: dict[tuple[str, str], Callable[[Deployment], Any]] = {
    ("vllm", "max_num_seqs"): lambda d: 1024 if _vllm_large_gpu(d) else 256,
    ("vllm", "max_num_batched_tokens"): lambda d: 8192 if _vllm_large_gpu(d) else 2048,
    ("sglang", "chunked_prefill_size"): lambda d: _sglang_chunk(d.gpu.hbm_gib),
    ("sglang", "mem_fraction_static"): _sglang_fraction,
    ("sglang", "max_running_requests"): lambda d: 4096,
}

#: Used when a runtime names no knob for a role.
_ROLE_FALLBACKS = {"max_sequences": 256, "batched_tokens": 8192, "kv_block_tokens": 16, "max_context": None}


def caches_prefixes(dep: Deployment) -> bool:
    """True when ``dep``'s engine reuses a cached prompt prefix: its prefix-caching knob (role
    ``prefix_caching``, or ``no_prefix_caching`` inverted) as the plan sets it or the engine defaults
    it; a runtime that names neither is taken to cache (vLLM, SGLang and TensorRT-LLM all do by default).
    A plan that turns it off has every request prefill its whole prompt, whatever prefix it shares."""
    roles = dep.runtime.knob_roles
    if "prefix_caching" in roles:
        return bool(knob(dep, "prefix_caching"))
    if "no_prefix_caching" in roles:
        return not knob(dep, "no_prefix_caching")
    return True


def knob(dep: Deployment, role_or_name: str) -> Any:
    """Effective value of a knob (by role or by name): plan override, engine rule, catalog default."""
    name = dep.runtime.knob_roles.get(role_or_name, role_or_name)  # type: ignore[call-overload]
    if name in dep.knobs:
        return dep.knobs[name]
    dynamic = _DYNAMIC_DEFAULTS.get((dep.runtime.id, name))
    if dynamic is not None:
        return dynamic(dep)
    try:
        default = dep.runtime.knob(name).default
    except KeyError:
        default = None
    if default is None:
        return _ROLE_FALLBACKS.get(role_or_name)
    return default


# --------------------------------------------------------------------- terms


def weights_bytes_per_gpu(dep: Deployment) -> float:
    """Weight bytes one GPU holds.

    Tensor and pipeline parallelism split everything; the embedding sits on the first
    pipeline stage and the head on the last. With attention data parallelism only the
    experts are split (across ``ep``); attention and dense layers are replicated.
    """
    p = dep.params
    experts = p.experts * dep.weight_bytes("experts")
    dense = p.dense * dep.weight_bytes("dense")
    embed = (p.embedding + p.head) * dep.weight_bytes("embedding")
    if dep.attention_dp:
        return experts / dep.ep + dense + embed
    if dep.pp > 1:
        embed = max(p.embedding, p.head) * dep.weight_bytes("embedding")
    return (experts + dense) / (dep.tp * dep.pp) + embed / dep.tp


def _layers_per_gpu(count: int, dep: Deployment) -> float:
    return count / (1 if dep.attention_dp else dep.pp)


def kv_bytes_per_token_layer_group(dep: Deployment) -> float:
    """KV bytes one token adds per layer on one GPU.

    MLA stores the compressed latent plus the rope key, the same on every TP rank;
    MHA/GQA store K and V for the KV heads of this rank (a head is replicated when there
    are fewer KV heads than TP ranks, hence the ceiling).
    """
    m = dep.model
    if m.mla is not None:
        return (m.mla.kv_lora_rank + m.mla.qk_rope_head_dim) * dep.kv_bytes
    heads = m.num_kv_heads if dep.attention_dp else math.ceil(m.num_kv_heads / dep.tp)
    return 2 * heads * m.head_dim * dep.kv_bytes


def kv_bytes_per_token(dep: Deployment) -> float:
    """KV bytes per token per GPU over all the GPU's layers (sliding windows not capped)."""
    return _layers_per_gpu(dep.model.num_layers, dep) * kv_bytes_per_token_layer_group(dep)


def kv_bytes_per_sequence(dep: Deployment, context: int, block: int = 1) -> float:
    """KV bytes one sequence of ``context`` tokens holds on one GPU.

    Full-attention layers keep every token (rounded up to whole KV blocks); sliding-window
    layers keep at most ``window`` tokens.
    """
    return kv_layout(dep).sequence_bytes(math.ceil(context / block) * block)


@dataclass(frozen=True)
class KvLayout:
    """How one GPU's KV grows with a sequence: bytes a token adds per layer, and the layers
    that keep every token or only the last ``window`` (0: no sliding-window layers)."""

    per_layer_bytes: float
    full_layers: float
    window_layers: float
    window: int

    def sequence_bytes(self, tokens: int) -> float:
        """KV bytes of one sequence of ``tokens`` tokens (already rounded to whole blocks)."""
        full = self.full_layers * tokens
        sliding = self.window_layers * min(tokens, self.window) if self.window_layers else 0
        return (full + sliding) * self.per_layer_bytes


@lru_cache(maxsize=1024)
def kv_layout(dep: Deployment) -> KvLayout:
    """The KV layout of ``dep`` on one GPU (remembered: the disaggregated decode pool asks for each
    prompt length's KV transfer, the decode step for each batch; the layout is frozen)."""
    window = dep.model.sliding_window
    return KvLayout(
        per_layer_bytes=kv_bytes_per_token_layer_group(dep),
        full_layers=_layers_per_gpu(dep.model.full_attention_layers, dep),
        window_layers=_layers_per_gpu(window.layers, dep) if window else 0,
        window=window.window if window else 0,
    )


#: Where the driver's share of memory (what nvidia-smi counts and a process never sees) is
#: measured: an H100 SXM reports 79.18 GiB to CUDA against nvidia-smi's 79.65 (81,559 MiB);
#: see the GPU catalog's ``reported_gib`` sources. Used for GPUs without a published figure.
_REPORTED_SHARE_H100 = 79.18 / 79.65

#: Memory a serving process holds before it loads weights: CUDA context, cuBLAS and, with more
#: than one GPU, NCCL communicators and all-reduce buffers. The llm-d vLLM logs on H100 show
#: 78.57 of 79.18 GiB free at startup on one GPU and 77.64 at TP 2 (an estimate for other GPUs):
#: https://github.com/llm-d/llm-d-benchmark/blob/259334868c5075da530cc6c90b43fceb11b6e6a7/config_explorer/empirical-vllm-memory-results.md
_CONTEXT_GIB_ONE_GPU = 79.18 - 78.57
_CONTEXT_GIB_PARALLEL = 79.18 - 77.64


def reported_memory_bytes(dep: Deployment) -> tuple[float, str]:
    """Total memory the driver reports to the process, and where the figure comes from.

    Runtimes size against ``torch.cuda.mem_get_info()``, not the datasheet or nvidia-smi:
    the GPU's published ``reported_gib`` where a runtime log gives one, else ``hbm_gib``
    scaled by the share an H100 reports (an estimate).
    """
    if dep.gpu.reported_gib is not None:
        return dep.gpu.reported_gib * GIB, f"{dep.gpu.id} reported_gib (runtime log)"
    share = _REPORTED_SHARE_H100 if dep.gpu.vendor == "nvidia" else 1.0
    return dep.gpu.hbm_gib * share * GIB, f"{dep.gpu.id} hbm_gib x {share:.4f} (H100's reported share, estimate)"


def context_bytes(dep: Deployment) -> float:
    """Memory the process holds before loading weights (CUDA context, NCCL with more than one GPU)."""
    return (_CONTEXT_GIB_ONE_GPU if dep.gpus == 1 else _CONTEXT_GIB_PARALLEL) * GIB


def rank_batched_tokens(dep: Deployment) -> int:
    """Tokens one scheduler step of one attention-DP rank (or of the replica, without attention DP)
    may carry: the batched_tokens knob, or its share where the runtime splits it over the ranks
    (:attr:`Deployment.budget_split_ranks`)."""
    return max(int(knob(dep, "batched_tokens")) // dep.budget_split_ranks, 1)


def forward_activation_bytes(dep: Deployment) -> float:
    """Activation peak of the profiling forward pass over a step's tokens on one GPU (an estimate).

    Each token holds the residual stream, attention projections and the FFN's gate and up
    outputs in 16-bit, split across TP ranks where the layer is.
    """
    m = dep.model
    tokens = rank_batched_tokens(dep)
    shard = 1 if dep.attention_dp else dep.tp
    ffn = max(m.intermediate_size, (m.moe.expert_intermediate_size * m.moe.experts_per_token) if m.moe else 0)
    per_token = (4 * m.hidden_size + (m.num_attention_heads + 2 * m.num_kv_heads) * m.head_dim / shard) * 2
    per_token += 2 * ffn / shard * 2
    return tokens * per_token


def sampler_activation_bytes(dep: Deployment, sequences: int | None = None) -> float:
    """Peak while the profiling run samples: the forward's hidden states plus the sampler's buffers.

    One row of logits per sampled sequence, ``min(sequences, batched_tokens)`` rows over the
    whole vocabulary, at the runtime's ``sampler_bytes_per_logit``; the logits are gathered to
    every rank, so TP does not split them. ``sequences`` is the running-batch limit the engine
    starts with (None: its ``max_sequences`` knob, set or default).
    """
    tokens = rank_batched_tokens(dep)
    rows = min(tokens, int(knob(dep, "max_sequences")) if sequences is None else sequences)
    hidden_states = tokens * dep.model.hidden_size * 2
    return hidden_states + rows * dep.model.vocab_size * dep.runtime.sampler_bytes_per_logit


def activation_bytes_per_gpu(dep: Deployment, sequences: int | None = None) -> float:
    """Activation peak of the runtime's profiling run: the larger of its forward pass and its sampling
    (``sequences``: the running-batch limit, as :func:`sampler_activation_bytes` takes it)."""
    return max(forward_activation_bytes(dep), sampler_activation_bytes(dep, sequences))


def sequences_pinned(dep: Deployment) -> bool:
    """True when the plan sets the runtime's running-batch limit (role ``max_sequences``); otherwise
    ``planner deploy`` writes it: what the KV cache holds (:func:`deployed_sequence_limit`)."""
    return dep.runtime.knob_roles.get("max_sequences", "max_num_seqs") in dep.knobs


def _budget_caps_sequences(dep: Deployment) -> bool:
    """True where the plan leaves vLLM's running-batch limit open and sets its token budget below the
    limit's default: vLLM refuses a max_num_seqs above max_num_batched_tokens (SchedulerConfig._verify_args,
    https://github.com/vllm-project/vllm/blob/f0de1a604cad003379e5bb4dfc3cc5d2a1f25fa8/vllm/config/scheduler.py#L249-L285)."""
    budget_name = dep.runtime.knob_roles.get("batched_tokens", "max_num_batched_tokens")
    return (
        dep.runtime.id == "vllm"
        and not sequences_pinned(dep)
        and budget_name in dep.knobs
        and int(knob(dep, "batched_tokens")) < int(knob(dep, "max_sequences"))
    )


def sequence_ceiling(dep: Deployment) -> int:
    """The most sequences one scheduler of ``dep`` may be started with: its running-batch knob, set or
    the engine's default, or vLLM's token budget where that is set below it (``planner deploy``
    writes the limit, so it writes one vLLM takes)."""
    return int(knob(dep, "batched_tokens" if _budget_caps_sequences(dep) else "max_sequences"))


def sequence_ceiling_origin(dep: Deployment) -> str:
    """Where :func:`sequence_ceiling` comes from, in words: the plan's knob, vLLM's token budget, or
    the engine's default."""
    name = dep.runtime.knob_roles.get("max_sequences", "max_num_seqs")
    if sequences_pinned(dep):
        return f"the plan's {name}"
    if _budget_caps_sequences(dep):
        return f"the token budget {int(knob(dep, 'batched_tokens')):,} (vLLM takes no {name} above it)"
    return f"the engine's {name}"


def deployed_sequence_limit(dep: Deployment, context: int) -> int:
    """The running-batch limit one scheduler of ``dep`` starts with, sized for ``context`` tokens.

    Set in the plan: that. Otherwise ``planner deploy`` writes what the KV cache holds, and the
    engine then profiles its sampler for that many rows, not for its default, which leaves more
    memory to the KV cache (vLLM's dummy sampler run takes max_num_seqs rows). So the limit is the
    largest one, up to :func:`sequence_ceiling`, whose own KV cache holds that many sequences: the
    fixed point at which the budget the planner reports is the one the engine logs.
    """
    limit = sequence_ceiling(dep)
    per_seq = kv_bytes_per_sequence(dep, context, int(knob(dep, "kv_block_tokens") or 1))
    if sequences_pinned(dep) or per_seq <= 0:
        return limit
    weights, reserve = weights_bytes_per_gpu(dep), reserve_bytes(dep)

    def held(sequences: int) -> int:
        """Sequences of ``context`` tokens the KV cache holds when the sampler is profiled for ``sequences``."""
        budget, _ = kv_budget_bytes(dep, weights, activation_bytes_per_gpu(dep, sequences), reserve)
        return max(int(budget // per_seq), 0)

    lo, hi = held(limit), limit
    if lo >= limit:
        return limit
    # held(s) >= s at lo and < s at hi; held never grows with s, so held(s) - s falls and bisecting holds
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if held(mid) >= mid else (lo, mid)
    return lo if lo > 0 else limit  # (nothing fits even with one row: the ceiling, as the engine starts)


def reserve_bytes(dep: Deployment) -> float:
    """The runtime's memory outside weights, activations and KV inside its budget (one GPU or several)."""
    one_gpu = dep.runtime.memory_reserve_gib_one_gpu
    gib = one_gpu if dep.gpus == 1 and one_gpu is not None else dep.runtime.memory_reserve_gib
    return gib * GIB


def kv_budget_bytes(dep: Deployment, weights: float, activation: float, reserve: float) -> tuple[float, str]:
    """KV bytes per GPU under the runtime's own budget rule, and the formula used.

    vLLM: reported memory x gpu_memory_utilization less weights, profiled activations and
    non-torch memory. TensorRT-LLM: free_gpu_memory_fraction of what is free after loading
    and profiling. SGLang: free memory before loading x mem_fraction_static less weights
    (``profile_max_num_token``: rest = free now - free before load x (1 - fraction)). Where the
    plan caps the tokens the cache holds (role ``max_kv_tokens``: SGLang's max_total_tokens,
    TensorRT-LLM's kv_cache_config.max_tokens), the smaller of the two budgets, as the engines take it.
    """
    budget, rule = _engine_kv_budget_bytes(dep, weights, activation, reserve)
    name = dep.runtime.knob_roles.get("max_kv_tokens")
    if name is None or name not in dep.knobs:
        return budget, rule
    tokens, per_token = int(dep.knobs[name]), kv_bytes_per_token(dep)
    if tokens * per_token >= budget:
        return budget, rule + f" (below {name} {tokens:,} tokens)"
    return tokens * per_token, f"{name} {tokens:,} tokens x {per_token:,.0f} B a token (set in the plan; below {rule})"


def _engine_kv_budget_bytes(dep: Deployment, weights: float, activation: float, reserve: float) -> tuple[float, str]:
    """:func:`kv_budget_bytes` by the runtime's budget rule alone (no token cap)."""
    total, _ = reported_memory_bytes(dep)
    rule = dep.runtime.kv_budget_rule
    name = dep.runtime.kv_budget_knob
    fraction = float(knob(dep, name))
    if rule == "fraction_of_total":
        explicit = dep.knobs.get("kv_cache_memory_bytes")
        if explicit:
            return float(explicit), "kv_cache_memory_bytes (set in the plan)"
        return (
            total * fraction - weights - activation - reserve,
            f"reported x {name} {fraction} - weights - activation - reserve",
        )
    free = total - context_bytes(dep)
    if rule == "fraction_of_free_after_load":
        return (
            free - weights - activation - reserve
        ) * fraction, f"(reported - context - weights - activation - reserve) x {name} {fraction}"
    formula = f"(reported - context) x {name} {fraction} - weights (activations outside)"
    if fraction <= 0 and name not in dep.knobs:  # the engine's own reserve took the whole GPU
        chunk = dep.runtime.knob_roles.get("batched_tokens", "batched tokens")
        formula += (
            f": the engine reserves more than the GPU holds for {chunk} {int(knob(dep, 'batched_tokens')):,}; lower it"
        )
    return free * fraction - weights, formula


# --------------------------------------------------------------------- sizing


def _memory_terms(dep: Deployment, weights: float) -> list[Term]:
    """The device's memory as the runtime sees it, and the weights it loads."""
    reported, reported_source = reported_memory_bytes(dep)
    p = dep.params
    terms = [
        Term("GPU memory", dep.gpu.hbm_gib, f"{dep.gpu.id} hbm_gib (nvidia-smi total)", "datasheet"),
        Term("reported memory", reported / GIB, "torch.cuda.mem_get_info() total", reported_source),
    ]
    if dep.runtime.kv_budget_rule != "fraction_of_total":
        terms.append(
            Term(
                "CUDA context",
                context_bytes(dep) / GIB,
                "held before the weights load" + (" (NCCL included)" if dep.gpus > 1 else ""),
                "llm-d vLLM H100 logs: free at startup (estimate)",
            )
        )
    terms.append(
        Term(
            "weights",
            weights / GIB,
            f"(experts {p.experts / 1e9:.2f}B x {dep.weight_bytes('experts')} B + rest {p.dense / 1e9:.2f}B x "
            f"{dep.weight_bytes('dense')} B) / {dep.ep if dep.attention_dp else dep.tp * dep.pp} GPUs + embeddings "
            f"{(p.embedding + p.head) / 1e9:.2f}B x 2 B" + ("" if dep.attention_dp else f" / TP {dep.tp}"),
            "model config x precision",
        )
    )
    return terms


def _activation_terms(dep: Deployment, sequences: int) -> list[Term]:
    """The profiling run's peak (its sampler sized for ``sequences``), the part that sets it, and
    where CUDA graphs live."""
    forward, sampler = forward_activation_bytes(dep), sampler_activation_bytes(dep, sequences)
    tokens = rank_batched_tokens(dep)
    rows = min(tokens, sequences)
    seq_name = dep.runtime.knob_roles.get("max_sequences", "max_num_seqs")
    if sequences < sequence_ceiling(dep):
        limit = f"{seq_name} {sequences} planner deploy writes: what the KV cache then holds"
    else:
        limit = f"{seq_name} {sequences}: {sequence_ceiling_origin(dep)}"
    sets_peak = "sampler" if sampler >= forward else "forward pass"
    terms = [
        Term(
            "activation peak",
            max(forward, sampler) / GIB,
            f"max(forward {forward / GIB:.2f}, sampler {sampler / GIB:.2f}); the {sets_peak} sets it",
            f"{dep.runtime.id} profiling run (estimate)",
        ),
        Term(
            "  forward pass",
            forward / GIB,
            f"{tokens} batched tokens x (4 x hidden + qkv + 2 x FFN)/shard x 2 B",
            "roofline estimate",
        ),
        Term(
            "  sampler",
            sampler / GIB,
            f"{rows} rows ({limit}) x vocab {dep.model.vocab_size} x {dep.runtime.sampler_bytes_per_logit:g} B "
            "+ hidden states",
            f"{dep.runtime.id} sampler_bytes_per_logit"
            if "sampler_bytes_per_logit" in dep.runtime.model_fields_set
            else f"one fp32 copy: {dep.runtime.id}'s sampler is not modelled",
        ),
    ]
    if dep.runtime.kv_budget_rule == "fraction_of_total":
        terms.append(
            Term(
                "CUDA graph pool",
                0.0,
                "captured after the KV cache is sized: lives in the 1 - gpu_memory_utilization headroom",
                "vLLM gpu_worker.determine_available_memory (no cudagraph estimate by default)",
            )
        )
    return terms


def scheduler_sequences(dep: Deployment, replica_sequences: int) -> int:
    """The running-batch limit of one scheduler of ``dep`` (its ``max_sequences`` knob; each attention
    rank schedules its own) for a replica that holds ``replica_sequences`` of the sized context: what
    ``planner deploy`` writes and the plan's simulations run, so a replica never admits more sequences
    than its KV cache holds at the sizing's worst case (the engine's default would let more in while
    the running ones are short, and preempt them as they grow)."""
    ranks = dep.ep if dep.attention_dp else 1
    return max(replica_sequences // ranks, 1)


@lru_cache(maxsize=4096)
def size_capacity(dep: Deployment, context: int) -> Capacity:
    """Size one replica's memory for sequences of ``context`` tokens (input + output).

    Remembered per deployment and context (the answer is frozen): the latency search
    estimates a deployment at a dozen batch sizes, each needing the same memory sizing.

    :returns: every term in GiB with its formula and source (reported memory, context,
        weights, the profiling run's activation peak and what sets it, reserve, KV budget),
        the KV blocks, and the concurrency the replica holds with the cap that binds:
        ``memory`` (KV cache), ``weights`` (they do not fit), ``max_num_seqs`` (the
        runtime's batch limit, under its own name), or ``context`` (longer than the
        model's config or max_model_len allows).
    """
    weights = weights_bytes_per_gpu(dep)
    limit = deployed_sequence_limit(dep, context)
    activation = activation_bytes_per_gpu(dep, limit)
    reserve = reserve_bytes(dep)
    budget, rule = kv_budget_bytes(dep, weights, activation, reserve)
    block = int(knob(dep, "kv_block_tokens") or 1)
    per_token = kv_bytes_per_token(dep)
    per_seq = kv_bytes_per_sequence(dep, context, block)
    blocks = max(
        int(budget // (block * kv_bytes_per_token_layer_group(dep) * _layers_per_gpu(dep.model.num_layers, dep))), 0
    )
    ranks = dep.ep if dep.attention_dp else 1
    held = max(int(budget // per_seq), 0) if per_seq > 0 else 0
    if limit < sequence_ceiling(dep):  # deploy writes the limit the budget was profiled for
        held = min(held, limit)
    memory_cap = held * ranks
    seq_name = dep.runtime.knob_roles.get("max_sequences", "max_num_seqs")
    sequence_cap = sequence_ceiling(dep) * ranks
    max_context = min(dep.model.max_context, int(knob(dep, "max_context") or dep.model.max_context))
    # no KV budget: the weights do not fit in the runtime's share, unless the share itself is gone
    # (SGLang's computed fraction below zero: its reserve for the token budget takes the GPU)
    no_share = float(knob(dep, dep.runtime.kv_budget_knob)) <= 0
    weights_fit = weights + activation + reserve < reported_memory_bytes(dep)[0] and (budget > 0 or no_share)
    # (weights that do not fit hold nothing, whatever KV budget the plan sets: kv_cache_memory_bytes)
    caps = [(memory_cap, "memory") if weights_fit else (0, "weights"), (sequence_cap, seq_name)]
    if context > max_context:
        caps.append((0, "context"))
    max_concurrency, binding = min(caps, key=lambda c: c[0])
    terms = [
        *_memory_terms(dep, weights),
        *_activation_terms(dep, limit),
        Term(
            "runtime reserve",
            reserve / GIB,
            f"{dep.runtime.id} memory_reserve_gib"
            + ("_one_gpu" if reserve != dep.runtime.memory_reserve_gib * GIB else ""),
            "runtime catalog (estimate)",
        ),
        Term("KV cache budget", max(budget, 0) / GIB, rule, f"{dep.runtime.id} budget rule"),
        Term(
            "KV per sequence",
            per_seq / GIB,
            f"{context} tokens ({block}-token blocks) x {kv_bytes_per_token_layer_group(dep):.0f} B per layer-token "
            f"x {_layers_per_gpu(dep.model.num_layers, dep):g} layers"
            + (" (sliding layers capped)" if dep.model.sliding_window else ""),
            "model config x KV precision",
        ),
    ]
    return Capacity(
        context_tokens=context,
        gpu_memory_gib=dep.gpu.hbm_gib,
        weights_gib_per_gpu=weights / GIB,
        activation_gib_per_gpu=activation / GIB,
        reserve_gib_per_gpu=reserve / GIB,
        kv_budget_gib_per_gpu=max(budget, 0) / GIB,
        kv_bytes_per_token_per_gpu=per_token,
        kv_bytes_per_sequence_per_gpu=per_seq,
        kv_block_tokens=block,
        kv_blocks_per_gpu=blocks,
        kv_tokens_per_replica=blocks * block * ranks,
        memory_cap=memory_cap,
        sequence_cap=sequence_cap,
        max_concurrency=max_concurrency,
        binding_cap=binding,
        terms=tuple(terms),
    )

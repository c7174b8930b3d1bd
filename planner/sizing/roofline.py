"""The roofline (step 6b physics): prefill, decode and communication time of one replica.

Prefill is compute-bound (FLOPs over the replica's peak times MFU), a decode step is
bandwidth-bound (weights and KV read over HBM bandwidth times MBU) unless the batch
makes it compute-bound, and tensor/expert parallelism add collectives over the link
that joins the GPUs. Every function takes the efficiency factors as an argument; the
built-in performance model (:class:`planner.performance_models.AnalyticModel`) supplies
the calibrated ones. How these phase times add up under continuous batching is
:mod:`planner.sizing.steady_state`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from planner.catalogfiles import load_entries
from planner.sizing.capacity import kv_bytes_per_sequence, kv_layout
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Efficiency

#: One attention-data-parallel rank's share of a step: (prefill tokens, the keys they attend to,
#: decoding sequences, the keys those read).
RankWork = tuple[float, float, float, float]

#: The roofline's fixed physical assumptions, each with its source or derivation.
CONSTANTS_FILE = "physics/roofline.yaml"


@dataclass(frozen=True)
class RooflineConstants:
    """Link latencies and efficiencies, GEMM fill and dequantisation costs (see ``CONSTANTS_FILE``)."""

    link_latency_s: dict[str, float]
    unknown_link_latency_s: float
    collective_efficiency: float
    default_inter_node_gb_s: float
    gemm_half_rows: float
    weight_only_efficiency: float
    weight_only_half_rows: float


@cache
def constants() -> RooflineConstants:
    """The roofline's constants from the catalog (read once)."""
    values = {entry["id"]: entry for entry in load_entries(CONSTANTS_FILE)}
    latency = values["link_latency"]
    return RooflineConstants(
        link_latency_s={kind: float(v) for kind, v in latency["latency_s"].items()},
        unknown_link_latency_s=float(latency["unknown_kind_latency_s"]),
        collective_efficiency=float(values["collective_efficiency"]["value"]),
        default_inter_node_gb_s=float(values["default_inter_node_bandwidth"]["gb_s"]),
        gemm_half_rows=float(values["gemm_half_rows"]["value"]),
        weight_only_efficiency=float(values["weight_only_efficiency"]["value"]),
        weight_only_half_rows=float(values["weight_only_half_rows"]["value"]),
    )


@dataclass(frozen=True)
class Link:
    """The slowest link a collective crosses: bandwidth per direction and latency."""

    kind: str
    gb_s: float
    latency_s: float


def _pcie_gb_s(gen: int) -> float:
    """Per-direction bandwidth of a x16 PCIe link: 16 GB/s at gen 3, doubling each generation."""
    return 4.0 * 2.0 ** (gen - 1)


def collective_link(dep: Deployment, group: int) -> Link:
    """The slowest link a collective over ``group`` GPUs crosses.

    Inside the NVLink/xGMI domain, the GPU's interconnect; inside a node beyond it
    (PCIe cards, bridged pairs), PCIe; beyond the node, the inter-node fabric.
    """
    gpu = dep.gpu
    kind: str
    if group <= gpu.nvlink_domain:
        kind, gb_s = gpu.interconnect.kind, gpu.interconnect.gb_s_per_gpu
    elif group <= gpu.gpus_per_node:
        kind, gb_s = f"pcie{gpu.interconnect.pcie_gen}", _pcie_gb_s(gpu.interconnect.pcie_gen)
        if gpu.interconnect.kind.startswith("pcie"):
            gb_s = gpu.interconnect.gb_s_per_gpu
    else:
        kind, gb_s = dep.inter_node_fabric, dep.inter_node_gb_s or constants().default_inter_node_gb_s
    c = constants()
    return Link(kind, gb_s, c.link_latency_s.get(kind, c.unknown_link_latency_s))


def allreduce_s(dep: Deployment, message_bytes: float) -> float:
    """One ring all-reduce of ``message_bytes`` over the TP group."""
    tp = dep.tp
    if tp <= 1:
        return 0.0
    link = collective_link(dep, tp)
    efficiency = constants().collective_efficiency
    return 2 * (tp - 1) / tp * message_bytes / (link.gb_s * 1e9 * efficiency) + 2 * link.latency_s


def all_to_all_s(dep: Deployment, tokens: float) -> float:
    """Expert-parallel dispatch and combine of ``tokens`` tokens across ``ep`` GPUs (one MoE layer)."""
    ep = dep.ep
    if ep <= 1 or dep.model.moe is None:
        return 0.0
    link = collective_link(dep, ep)
    k = dep.model.moe.experts_per_token
    # dispatch in the compute type (1 byte for fp8), combine in 16-bit
    per_token = dep.model.hidden_size * k * (1 + 2) * (ep - 1) / ep
    return tokens * per_token / (link.gb_s * 1e9 * constants().collective_efficiency) + 2 * link.latency_s


def _compute_gpus(dep: Deployment) -> int:
    """GPUs that share one phase's arithmetic (pipeline stages run one after another)."""
    return dep.ep if dep.attention_dp else dep.tp


def attention_flops_per_key(dep: Deployment, *, prefill: bool = False) -> float:
    """FLOPs one query token spends on one cached key in one layer (QK plus AV).

    Standard attention: 2 x heads x head_dim for QK and the same for AV. MLA runs two ways
    (vLLM's ``vllm/v1/attention/backends/mla/common.py``, after DeepSeek-V2 and FlashInfer):
    decode, with the up-projections absorbed, attends over the latent (QK over kv_lora_rank +
    rope dims and AV over kv_lora_rank, for every head: little data, much arithmetic); a
    ``prefill`` query, where queries are about as many as keys, runs plain multi-head attention
    over the up-projected keys and values (QK over the nope + rope head dims, AV over the value
    head dim), a third of the arithmetic for DeepSeek-V3's dimensions.
    """
    m = dep.model
    if m.mla is not None and prefill:
        return 2 * m.num_attention_heads * (m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim + m.mla.v_head_dim)
    if m.mla is not None:
        return 2 * m.num_attention_heads * (2 * m.mla.kv_lora_rank + m.mla.qk_rope_head_dim)
    return 4 * m.num_attention_heads * m.head_dim


def decode_attention_rows(dep: Deployment) -> float:
    """Query rows that share one cached KV head on one GPU when a sequence decodes one token.

    A decode attention kernel streams each KV head once and multiplies it with the query heads
    that read it: the group of grouped-query attention (query heads / KV heads on the GPU), every
    query head on the GPU for MLA (all attend over the one latent), one for plain multi-head
    attention. Those rows fill the kernel's tensor-core tile, not the batch (each sequence has
    its own keys), which is why decode attention stays memory-bound: FlashInfer runs GQA decode
    on its prefill (tensor-core) kernels for that reason.
    """
    m = dep.model
    tp = 1 if dep.attention_dp else dep.tp
    heads = m.num_attention_heads / tp
    if m.mla is not None:
        return max(heads, 1.0)
    return max(heads / math.ceil(m.num_kv_heads / tp), 1.0)


def decode_attention_peak(dep: Deployment, eff: Efficiency) -> float:
    """FLOP/s one step's decode attention runs at over the replica: the decode step's efficiency
    (``mfu_decode``: a decode step's time depends on the decode factors only, which keeps the fit's
    factors apart) on a tile filled by :func:`decode_attention_rows`."""
    return _compute_gpus(dep) * dep.matmul_peak_tflops * 1e12 * eff.mfu_decode * gemm_fill(decode_attention_rows(dep))


def _attention_flops_prefill(dep: Deployment, length: int) -> float:
    """Causal attention FLOPs of one request of ``length`` tokens (QK and AV, all layers)."""
    m = dep.model
    per_head = attention_flops_per_key(dep, prefill=True) / 2
    window = m.sliding_window
    full = m.full_attention_layers * per_head * length * length
    if not window:
        return full
    w = window.window
    keys = length * length / 2 if length <= w else length * w - w * w / 2
    return full + window.layers * 2 * per_head * keys


def prefill_s(dep: Deployment, requests: float, length: int, eff: Efficiency) -> float:
    """Time to prefill ``requests`` prompts of ``length`` tokens as one batch.

    FLOPs = 2 x active params x tokens + causal attention; divided over the GPUs that
    share the work at the replica's peak x MFU; plus TP all-reduces (two per layer) and
    expert-parallel all-to-all of the tokens. Under attention data parallelism a prompt
    prefills on one rank: its attention and dense GEMMs run on that rank's GPU, so the
    busiest rank's prompts (all of them spread evenly, but a whole one at least) set those
    terms, while the routed experts take every prompt's tokens over all the GPUs.
    """
    tokens = requests * length
    local = requests
    if dep.attention_dp and requests > 0:
        local = max(requests, min(requests, 1.0) * dep.ep)  # the busiest rank's prompts, x ranks
    attention = local * _attention_flops_prefill(dep, length)
    dense, experts = matmul_parts_s(dep, local * length, eff.mfu_prefill, thin=False)
    if local != requests:
        experts = matmul_parts_s(dep, tokens, eff.mfu_prefill, thin=False)[1]
    compute = dense + experts + attention / (_compute_gpus(dep) * dep.matmul_peak_tflops * 1e12 * eff.mfu_prefill)
    comm = step_comm_s(dep, tokens)
    if dep.pp > 1:
        link = collective_link(dep, dep.tp * dep.pp)
        comm += (
            (dep.pp - 1) * tokens * dep.model.hidden_size * 2 / (link.gb_s * 1e9 * constants().collective_efficiency)
        )
    return compute + comm


def experts_touched(num_experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts that ``tokens`` tokens route to: E x (1 - (1 - k/E)^B)."""
    if tokens <= 0:
        return 0.0
    return float(num_experts * (1 - (1 - top_k / num_experts) ** tokens))


def decode_bytes_per_gpu(dep: Deployment, batch: float, context: int) -> float:
    """Bytes one GPU reads in one decode step: its weights (touched experts only) and KV."""
    kv_per_gpu_batch = batch / dep.ep if dep.attention_dp else batch
    kv = kv_per_gpu_batch * kv_bytes_per_sequence(dep, context)
    return weight_bytes_read(dep, batch) + kv


@lru_cache(maxsize=16384)
def weight_bytes_read(dep: Deployment, batch: float) -> float:
    """Weight bytes one GPU reads in a decode step of ``batch`` sequences (touched experts only)."""
    p, m = dep.params, dep.model
    shard = dep.ep if dep.attention_dp else dep.tp * dep.pp
    dense = p.dense * dep.weight_bytes("dense") / (1 if dep.attention_dp else dep.tp * dep.pp)
    head = p.head if p.head else p.embedding
    dense += head * dep.weight_bytes("embedding") / (1 if dep.attention_dp else dep.tp)
    experts = 0.0
    if m.moe:
        touched = experts_touched(m.moe.num_experts, m.moe.experts_per_token, batch)
        experts = m.moe.moe_layers * touched * p.expert_each * dep.weight_bytes("experts") / shard
    return dense + experts


def gemm_fill(rows: float, *, weight_only: bool = False) -> float:
    """Share of large-batch GEMM efficiency reached with ``rows`` tokens in the step.

    rows / (rows + half), where ``half`` (the catalog's ``gemm_half_rows``) is the row
    count at which a GEMM reaches half its large-batch efficiency: tensor cores work on
    tiles of 64-128 rows, so a thinner GEMM leaves most of each tile idle. Weight-only
    kernels (``weight_only``: narrow weights converted to 16-bit in registers) are built for
    thin batches and tile them in 16 rows (the catalog's ``weight_only_half_rows``), so they
    stay bound by their weight reads to about 16-32 rows.
    """
    c = constants()
    return rows / (rows + (c.weight_only_half_rows if weight_only else c.gemm_half_rows))


def expert_imbalance(routed_tokens: float, ranks: int) -> float:
    """Busiest expert-parallel rank over the average one (balls into bins, capped at 2).

    With ``routed_tokens`` token-expert pairs spread over ``ranks`` ranks, the most loaded
    rank carries about 1 + sqrt(2 ln(ranks) / (pairs per rank)) times the mean.
    """
    if ranks <= 1 or routed_tokens <= 0:
        return 1.0
    per_rank = routed_tokens / ranks
    return min(1.0 + math.sqrt(2 * math.log(ranks) / max(per_rank, 1.0)), 2.0)


@lru_cache(maxsize=65536)
def matmul_s(dep: Deployment, tokens: float, mfu: float, *, thin: bool) -> float:
    """Weight GEMMs for ``tokens`` tokens: dense layers, then the routed experts.

    Experts see only their share of the tokens, so their GEMMs are thinner (lower fill)
    and the busiest expert-parallel rank sets the pace; weight-only formats pay for
    dequantisation (the catalog's ``weight_only_efficiency``: the kernels convert every
    tile to 16-bit), each kind of weight by its own format and compute type
    (:meth:`Deployment.weight_only`: gpt-oss's 16-bit attention and dense layers pay nothing,
    its MXFP4 experts pay under a runtime that feeds them 16-bit activations). ``thin`` applies
    the fill of the dense GEMMs too (decode steps).
    """
    dense, experts = matmul_parts_s(dep, tokens, mfu, thin=thin)
    return dense + experts


@lru_cache(maxsize=65536)
def matmul_parts_s(dep: Deployment, tokens: float, mfu: float, *, thin: bool) -> tuple[float, float]:
    """:func:`matmul_s` in its two parts: the dense GEMMs (attention projections, dense and
    shared-expert layers) and the routed experts' (0 without experts or tokens).

    Under attention data parallelism the dense part of a rank's own tokens runs on its own GPU
    while the experts take every rank's tokens (:meth:`MixedStep.ranks_s` times them apart)."""
    m = dep.model
    gpus_peak = _compute_gpus(dep) * dep.matmul_peak_tflops * 1e12 * mfu
    dequantised = constants().weight_only_efficiency
    rows = tokens / dep.ep if dep.attention_dp else tokens
    expert_active = m.moe.moe_layers * m.moe.experts_per_token * dep.params.expert_each if m.moe else 0
    dense_converted = dep.weight_only("dense")
    dense_peak = gpus_peak * (dequantised if dense_converted else 1.0)
    dense_fill = gemm_fill(rows, weight_only=dense_converted) if thin else 1.0
    dense = 2 * (m.active_params - expert_active) * tokens / (dense_peak * dense_fill)
    if not m.moe or tokens <= 0:
        return dense, 0.0
    experts_converted = dep.weight_only("experts")
    expert_peak = _compute_gpus(dep) * dep.expert_matmul_peak_tflops * 1e12 * mfu
    expert_peak *= dequantised if experts_converted else 1.0
    routed = tokens * m.moe.experts_per_token
    per_expert = routed / max(experts_touched(m.moe.num_experts, m.moe.experts_per_token, tokens), 1.0)
    fill = gemm_fill(per_expert, weight_only=experts_converted)
    experts = 2 * expert_active * tokens * expert_imbalance(routed, dep.ep) / (expert_peak * fill)
    return dense, experts


def decode_step_s(dep: Deployment, batch: float, context: int, eff: Efficiency) -> float:
    """One decode step for ``batch`` sequences at ``context`` tokens of context.

    The larger of memory time (bytes / (HBM bandwidth x MBU)) and compute time
    (FLOPs / (peak x MFU)), plus collectives and the per-step scheduler overhead. The
    attention over the cached keys runs at :func:`decode_attention_peak` (its tile rows are a
    sequence's query heads, so its FLOPs hide under the KV reads at any context length).
    """
    m = dep.model
    memory = decode_bytes_per_gpu(dep, batch, context) / (dep.gpu.hbm_tb_s * 1e12 * eff.mbu_decode)
    keys = m.full_attention_layers * context
    if m.sliding_window:
        keys += m.sliding_window.layers * min(context, m.sliding_window.window)
    attention = attention_flops_per_key(dep) * batch * keys
    compute = matmul_s(dep, batch, eff.mfu_decode, thin=True) + attention / decode_attention_peak(dep, eff)
    return max(memory, compute) + step_comm_s(dep, batch) + eff.overhead_ms / 1000


def mixed_step_s(
    dep: Deployment,
    prefill_tokens: float,
    prefill_keys: float,
    decode_batch: float,
    decode_keys: float,
    eff: Efficiency,
) -> float:
    """One scheduler step that prefills ``prefill_tokens`` (in chunks) and decodes ``decode_batch``.

    The same physics as :func:`prefill_s` and :func:`decode_step_s`, for the mixed steps
    of continuous batching with chunked prefill: weights and the decoding sequences' KV
    are read once; prefill FLOPs run at MFU(prefill), decode FLOPs at MFU(decode).

    :param prefill_keys: sum over prefill tokens of the keys each attends to.
    :param decode_keys: sum over decoding sequences of their context lengths.
    """
    return mixed_step_function(dep, eff)(prefill_tokens, prefill_keys, decode_batch, decode_keys)


@lru_cache(maxsize=256)
def mixed_step_function(dep: Deployment, eff: Efficiency) -> MixedStep:
    """:func:`mixed_step_s` of ``dep`` (the simulator calls it every step)."""
    return MixedStep(dep, eff)


class MixedStep:
    """:func:`mixed_step_s` of one deployment: its per-deployment terms computed once, its
    terms per batch and per token count kept (a simulation asks for the same few thousand)."""

    def __init__(self, dep: Deployment, eff: Efficiency) -> None:
        m = dep.model
        self.dep, self.eff = dep, eff
        self.bandwidth = dep.gpu.hbm_tb_s * 1e12 * eff.mbu_decode
        gpus = _compute_gpus(dep) * dep.matmul_peak_tflops * 1e12
        self.gpus = gpus
        self.attention_per_key = attention_flops_per_key(dep) * m.num_layers * (m.full_attention_layers / m.num_layers)
        self.prefill_attention_per_key = (
            attention_flops_per_key(dep, prefill=True) * m.num_layers * (m.full_attention_layers / m.num_layers)
        )
        self.prefill_peak = gpus * eff.mfu_prefill
        self.overhead_s = eff.overhead_ms / 1000
        self.kv = kv_layout(dep)
        self.prefill_matmul: dict[float, float] = {}
        self.decode_terms: dict[float, tuple[float, float, float, float]] = {}
        self.comm: dict[float, float] = {}
        self.decode_only_terms: dict[float, tuple[float, float, float, float, float]] = {}
        # attention data parallelism (:meth:`ranks_s`): terms the ranks share, by their total tokens,
        # and each rank's dense GEMMs, by its tokens
        self.rank_terms: dict[tuple[float, float], tuple[float, float, float]] = {}
        self.rank_dense: dict[tuple[float, bool], float] = {}
        self.rank_decode_peak = decode_attention_peak(dep, eff)

    def __call__(self, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float) -> float:
        """Seconds of the step (see :func:`mixed_step_s`)."""
        if not prefill_tokens and not prefill_keys and decode_batch:
            # A step without prefill (most of a simulation's) takes its terms per batch at once; the
            # same operations in the same order as :meth:`_mixed`, so the same seconds.
            terms = self.decode_only_terms.get(decode_batch)
            if terms is None:
                terms = self._decode_only_terms(decode_batch)
            weights, kv_sequences, compute, decode_peak, comm = terms
            kv_bytes = kv_sequences * self.kv.sequence_bytes(int(decode_keys / decode_batch))
            memory = (weights + kv_bytes) / self.bandwidth
            compute += self.attention_per_key * decode_keys / decode_peak
            return max(memory, compute) + comm + self.overhead_s
        return self._mixed(prefill_tokens, prefill_keys, decode_batch, decode_keys)

    def decode_steps_s(self, decode_batch: int, decode_keys: int) -> Iterator[float]:
        """Seconds of consecutive decode-only steps of ``decode_batch`` sequences, the first reading
        ``decode_keys`` keys and each next one a token more per sequence (a simulator's decode run):
        :meth:`__call__` of each, the same operations in the same order, its terms looked up once."""
        terms = self.decode_only_terms.get(decode_batch) or self._decode_only_terms(decode_batch)
        weights, kv_sequences, before_attention, decode_peak, comm = terms
        bandwidth, per_key, overhead_s = self.bandwidth, self.attention_per_key, self.overhead_s
        # KvLayout.sequence_bytes written out (a call a step cost more than the rest of the step)
        full_layers, window_layers, window, per_layer_bytes = (
            self.kv.full_layers,
            self.kv.window_layers,
            self.kv.window,
            self.kv.per_layer_bytes,
        )
        while True:
            tokens = int(decode_keys / decode_batch)
            sliding = window_layers * min(tokens, window) if window_layers else 0
            memory = (weights + kv_sequences * ((full_layers * tokens + sliding) * per_layer_bytes)) / bandwidth
            compute = before_attention + per_key * decode_keys / decode_peak
            yield (memory if memory > compute else compute) + comm + overhead_s
            decode_keys += decode_batch

    def ranks_s(self, work: Sequence[RankWork]) -> float:
        """Seconds of one step of an attention-data-parallel replica whose ranks each run their own
        batch: ``work`` holds each rank's (prefill tokens, the keys they attend to, decoding
        sequences, the keys those read), one entry a rank.

        The ranks step together (the experts between their attention layers take every rank's
        tokens), but a request lives on one rank: its attention and the dense GEMMs of its tokens
        run on that rank's GPU alone, while the routed experts' GEMMs, the weights they touch and
        the all-to-all carry all the ranks' tokens. The busiest rank sets the step. With the work
        spread evenly this is :meth:`__call__` of the sums, term for term; with one rank prefilling
        a prompt chunk it is that chunk's attention and dense GEMMs on one GPU, where the sums would
        spread them over all of them."""
        ranks = len(work)
        prefill_total = decode_total = 0.0
        for w in work:
            prefill_total += w[0]
            decode_total += w[2]
        if prefill_total + decode_total <= 0:
            return 0.0
        weights, experts, comm = self._shared_rank_terms(prefill_total, decode_total)
        slowest = 0.0
        for prefill_tokens, prefill_keys, decode_batch, decode_keys in work:
            compute = experts + self._rank_dense_s(ranks * prefill_tokens, self.eff.mfu_prefill, thin=False)
            compute += self.prefill_attention_per_key * ranks * prefill_keys / self.prefill_peak
            memory = weights
            if decode_batch:
                compute += self._rank_dense_s(ranks * decode_batch, self.eff.mfu_decode, thin=True)
                compute += self.attention_per_key * ranks * decode_keys / self.rank_decode_peak
                memory += decode_batch * self.kv.sequence_bytes(int(decode_keys / decode_batch))
            memory /= self.bandwidth
            if memory > slowest:
                slowest = memory
            if compute > slowest:
                slowest = compute
        return slowest + comm + self.overhead_s

    def ranks_decode_steps_s(self, batches: Sequence[int], keys: Sequence[int]) -> Iterator[float]:
        """Seconds of consecutive decode-only steps of an attention-data-parallel replica whose ranks
        decode ``batches`` sequences (0: a rank with none; one rank at least decodes), reading
        ``keys`` keys at the first step and a token more per sequence at each next one (a
        simulator's decode run): :meth:`ranks_s` of each step's work, ``(0, 0, batch, keys)`` a
        rank, the same operations in the same order, the terms a run does not change worked out once."""
        ranks, decode_total = len(batches), 0.0
        for rank_batch in batches:
            decode_total += float(rank_batch)
        weights, experts, comm = self._shared_rank_terms(0.0, decode_total)
        bandwidth, sequence_bytes, peak = self.bandwidth, self.kv.sequence_bytes, self.rank_decode_peak
        per_key = self.attention_per_key * ranks
        idle = 0.0  # the slowest of the ranks with nothing to do, which every step waits for too
        decoding: list[list[float]] = []  # [batch, keys, compute seconds before attention] of each rank that decodes
        for rank_batch, rank_keys in zip(batches, keys, strict=True):
            compute = experts + self._rank_dense_s(0, self.eff.mfu_prefill, thin=False)
            compute += self.prefill_attention_per_key * ranks * 0 / self.prefill_peak
            if rank_batch:
                compute += self._rank_dense_s(ranks * float(rank_batch), self.eff.mfu_decode, thin=True)
                decoding.append([float(rank_batch), float(rank_keys), compute])
            else:
                idle = max(idle, weights / bandwidth, compute)
        while True:
            slowest = idle
            for rank in decoding:
                batch, step_keys, compute = rank
                compute += per_key * step_keys / peak
                memory = (weights + batch * sequence_bytes(int(step_keys / batch))) / bandwidth
                if memory > slowest:
                    slowest = memory
                if compute > slowest:
                    slowest = compute
                rank[1] = step_keys + batch
            yield slowest + comm + self.overhead_s

    def _shared_rank_terms(self, prefill_total: float, decode_total: float) -> tuple[float, float, float]:
        """What every rank of :meth:`ranks_s`'s step shares: the weight bytes a GPU reads (the experts
        the decoding tokens touch), the routed experts' GEMMs of all the tokens, the collectives
        (worked out once per pair of totals)."""
        totals = (prefill_total, decode_total)
        found = self.rank_terms.get(totals)
        if found is None:
            dep, eff = self.dep, self.eff
            experts = matmul_parts_s(dep, prefill_total, eff.mfu_prefill, thin=False)[1]
            if decode_total:
                experts += matmul_parts_s(dep, decode_total, eff.mfu_decode, thin=True)[1]
            weights = weight_bytes_read(dep, max(decode_total, 1.0))
            found = self.rank_terms[totals] = (weights, experts, step_comm_s(dep, prefill_total + decode_total))
        return found

    def _rank_dense_s(self, tokens: float, mfu: float, *, thin: bool) -> float:
        """The dense GEMMs of a rank's tokens, ``tokens`` being them as the replica's formulas see
        them spread over the ranks (looked up once per count)."""
        key = (tokens, thin)
        found = self.rank_dense.get(key)
        if found is None:
            found = self.rank_dense[key] = matmul_parts_s(self.dep, tokens, mfu, thin=thin)[0]
        return found

    def _mixed(self, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float) -> float:
        """:meth:`__call__` of any step, its terms looked up one by one."""
        tokens = prefill_tokens + decode_batch
        if tokens <= 0:
            return 0.0
        average_context = int(decode_keys / decode_batch) if decode_batch else 0
        weights, kv_sequences, decode_matmul, decode_peak = self._decode(decode_batch)
        memory = (weights + kv_sequences * self.kv.sequence_bytes(average_context)) / self.bandwidth
        prefill = self.prefill_matmul.get(prefill_tokens)
        if prefill is None:
            prefill = self.prefill_matmul[prefill_tokens] = matmul_s(
                self.dep, prefill_tokens, self.eff.mfu_prefill, thin=False
            )
        compute = prefill + self.prefill_attention_per_key * prefill_keys / self.prefill_peak
        if decode_batch:
            compute += decode_matmul
            compute += self.attention_per_key * decode_keys / decode_peak
        comm = self.comm.get(tokens)
        if comm is None:
            comm = self.comm[tokens] = step_comm_s(self.dep, tokens)
        return max(memory, compute) + comm + self.overhead_s

    def _decode_only_terms(self, decode_batch: float) -> tuple[float, float, float, float, float]:
        """Per decode batch, for a step without prefill: weight bytes read, sequences whose KV one GPU
        reads, the compute seconds before attention (no prefill, then the decode GEMMs), attention
        peak, collectives."""
        weights, kv_sequences, decode_matmul, decode_peak = self._decode(decode_batch)
        prefill = matmul_s(self.dep, 0, self.eff.mfu_prefill, thin=False)
        compute = prefill + self.prefill_attention_per_key * 0 / self.prefill_peak
        compute += decode_matmul
        comm = step_comm_s(self.dep, decode_batch)
        terms = self.decode_only_terms[decode_batch] = (weights, kv_sequences, compute, decode_peak, comm)
        return terms

    def _decode(self, decode_batch: float) -> tuple[float, float, float, float]:
        """Per decode batch: weight bytes read, sequences whose KV one GPU reads, decode GEMMs, attention peak."""
        terms = self.decode_terms.get(decode_batch)
        if terms is None:
            dep, eff = self.dep, self.eff
            batch = max(decode_batch, 1.0)
            terms = self.decode_terms[decode_batch] = (
                weight_bytes_read(dep, batch),
                batch / dep.ep if dep.attention_dp else batch,
                matmul_s(dep, decode_batch, eff.mfu_decode, thin=True) if decode_batch else 0.0,
                decode_attention_peak(dep, eff) if decode_batch else 1.0,
            )
        return terms


@lru_cache(maxsize=65536)
def step_comm_s(dep: Deployment, tokens: float) -> float:
    """Collectives of one step over ``tokens`` tokens: two TP all-reduces a layer and the
    expert-parallel all-to-all of every MoE layer."""
    m = dep.model
    comm = 2 * m.num_layers * allreduce_s(dep, tokens * m.hidden_size * 2)
    if m.moe:
        comm += m.moe.moe_layers * all_to_all_s(dep, tokens / (dep.ep if dep.attention_dp else 1))
    return comm

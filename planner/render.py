"""Plain-text renderings of plans, catalogs and plugins for the terminal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from planner.catalog import Catalog
from planner.manager import PluginHost
from planner.resolve import ResolvedPlan
from planner.specs import GpuSpec, ModelSpec, RuntimeSpec, ServingStackSpec


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Format rows as a left-aligned text table."""
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def billions(count: int) -> str:
    """Format a parameter count in billions."""
    return f"{count / 1e9:.1f}B"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def gpus_table(specs: Sequence[GpuSpec]) -> str:
    """Render GPU specs with their main figures and source."""
    rows = [
        (
            g.id,
            g.name,
            _num(g.hbm_gib, 1),
            _num(g.hbm_tb_s, 2),
            _num(g.dense_tflops.get("bf16") or g.dense_tflops.get("fp16")),
            _num(g.dense_tflops.get("fp8")),
            _num(g.dense_tflops.get("fp4")),
            _num(g.tdp_w),
            f"{g.interconnect.kind} {g.interconnect.gb_s_per_gpu:g}",
            g.nvlink_domain,
            f"~{g.price.eur:,.0f}" if g.price else "-",
            g.source,
        )
        for g in specs
    ]
    headers = (
        "id",
        "name",
        "GiB",
        "TB/s",
        "bf16 TF",
        "fp8 TF",
        "fp4 TF",
        "TDP W",
        "link GB/s/dir",
        "domain",
        "EUR (est.)",
        "source",
    )
    return table(headers, rows)


def models_table(specs: Sequence[ModelSpec]) -> str:
    """Render model specs: architecture, parameters, context, licence, source."""
    rows = [
        (
            m.id,
            m.name,
            _attention(m),
            f"{m.moe.num_experts}x top-{m.moe.experts_per_token}" if m.moe else "dense",
            billions(m.total_params),
            billions(m.active_params),
            f"{m.max_context:,}",
            m.native_weight_dtype,
            m.license,
            m.source,
        )
        for m in specs
    ]
    return table(("id", "name", "attention", "MoE", "total", "active", "context", "weights", "licence", "source"), rows)


def _attention(m: ModelSpec) -> str:
    text = f"{m.attention} {m.num_attention_heads}/{m.num_kv_heads}" if m.attention != "mla" else "mla"
    if m.sliding_window:
        text += f" +SWA {m.sliding_window.window} x{m.sliding_window.layers}"
    return text


def runtimes_table(specs: Sequence[RuntimeSpec]) -> str:
    """Render runtimes: parallelism, KV dtypes, KV budget rule and knob."""
    rows = [
        (
            r.id,
            r.name,
            ",".join(r.parallelism),
            ",".join(r.kv_dtypes),
            f"{r.kv_budget_rule} ({r.kv_budget_knob}={r.knob(r.kv_budget_knob).default})",
            ",".join(r.vendors),
            r.source,
        )
        for r in specs
    ]
    return table(("id", "name", "parallelism", "KV dtypes", "KV budget", "vendors", "source"), rows)


def stacks_table(specs: Sequence[ServingStackSpec]) -> str:
    """Render serving stacks: disaggregation, KV transport, autoscaling, metrics."""
    rows = [
        (
            s.id,
            s.name,
            "yes" if s.disaggregated_prefill_decode else "no",
            ",".join(s.kv_transfer) or "-",
            "yes" if s.requires_rdma_for_disaggregation else "no",
            s.metrics_endpoint,
            s.source,
        )
        for s in specs
    ]
    return table(("id", "name", "P/D disagg.", "KV transfer", "needs RDMA", "metrics", "source"), rows)


CATALOG_TABLES: dict[str, Callable[[Sequence[Any]], str]] = {
    "gpus": gpus_table,
    "models": models_table,
    "runtimes": runtimes_table,
    "stacks": stacks_table,
}


def plugins_table(host: PluginHost, catalog: Catalog) -> str:
    """Render each plugin: version, status, what it contributes, and its problems."""
    contributions = catalog.contributions()
    hooks = _hooks_by_plugin(host)
    rows = []
    for name in sorted(host.plugins):
        info = host.plugins[name]
        counts = contributions.get(name, {})
        provides = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        converters = [h for h in hooks.get(name, []) if h.endswith("_from_config")]
        if converters:
            provides = ", ".join(filter(None, [provides, "config.json import"]))
        problems = [p.error for p in catalog.problems if p.plugin == name]
        rows.append(
            (
                name,
                info.version,
                info.status,
                "built-in" if info.builtin else info.distribution,
                provides or "-",
                "; ".join(problems) or "-",
            )
        )
    return table(("plugin", "version", "status", "from", "contributes", "problems"), rows)


def _hooks_by_plugin(host: PluginHost) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for hook_name in ("planner_model_from_config", "planner_rule_packs", "planner_benchmark_importers"):
        for impl in getattr(host.pm.hook, hook_name).get_hookimpls():
            out.setdefault(impl.plugin_name, []).append(hook_name)
    return out


def resolved_plan_text(resolved: ResolvedPlan, filename: str) -> str:
    """Render a resolved plan step by step, then the open choices."""
    p, m = resolved.plan, resolved.model
    w, t = p.workload, p.traffic
    lines = [f"Plan: {p.name}  ({filename}, schema {p.schema_version})", ""]
    lines.append(f"1 Use case   {p.use_case.title}: {p.use_case.task}, {p.use_case.deployment}, {p.use_case.hosting}")
    lines.append(
        f"2 Workload   input {_tokens_text(w.input_tokens)}, output {_tokens_text(w.output_tokens)} tokens; "
        f"p95 context {w.context_p95_tokens:,}; shared prefix {w.shared_prefix_tokens:,}"
    )
    if not w.has_percentiles:
        lines.append(
            "             note: no p95 given, so sizing falls back to the largest figure (worst case, not average)"
        )
    lines.append(f"3 Traffic    {_traffic_text(p)}; headroom {t.headroom:.0%} = max(growth, burst)")
    lines.append(f"4 SLO        {_slo_text(p)}")
    lines.append(
        f"5 Model      {m.id} ({m.name}): {_attention(m)}, "
        + (f"MoE {m.moe.num_experts} experts top-{m.moe.experts_per_token}, " if m.moe else "")
        + f"{billions(m.total_params)} total / {billions(m.active_params)} active; "
        f"weights {resolved.weights_dtype}, KV {resolved.kv_dtype}, context {resolved.context_tokens:,}; "
        f"licence {m.license}"
    )
    lines.append(f"7 Runtime    {_runtime_text(resolved)}")
    lines.append(f"8 Hardware   {_hardware_text(resolved)}")
    lines.append(f"9 Stack      {_stack_text(resolved)}")
    lines.append("")
    if resolved.open_choices:
        lines.append("Open choices (the planner chooses these): " + ", ".join(resolved.open_choices))
    else:
        lines.append("No open choices: every step 5-9 choice is pinned.")
    return "\n".join(lines)


def _tokens_text(d: Any) -> str:
    figures = (("mean", d.mean), ("p50", d.p50), ("p95", d.p95), ("p99", d.p99))
    return " / ".join(f"{name} {value:,}" for name, value in figures if value is not None)


def _traffic_text(p: Any) -> str:
    t = p.traffic
    if t.users is not None:
        base = f"{t.users:,} users x {t.active_fraction:.0%} active x duty cycle {t.duty_cycle:g}"
    elif t.requests_per_s is not None:
        base = f"{t.requests_per_s:g} requests/s"
    else:
        base = f"{t.concurrency} concurrent requests"
    extras = [f"peak factor {t.peak_factor:g}"]
    if t.growth is not None:
        extras.append(f"growth {t.growth:.0%} in {t.horizon_months} months")
    if t.burst_factor is not None:
        extras.append(f"burst x{t.burst_factor:g}")
    return f"{base}; " + ", ".join(extras)


def _slo_text(p: Any) -> str:
    s = p.slo
    targets = [
        f"{label} <= {value:,.0f} ms"
        for label, value in (("TTFT", s.ttft_ms), ("ITL", s.itl_ms), ("E2E", s.e2e_ms))
        if value is not None
    ]
    spares = "N+2" if s.critical else "N+1"
    return (
        f"p{s.percentile:g} "
        + ", ".join(targets)
        + (f"; availability {s.availability_pct:g}%; {spares}; {s.effective_scenario}")
    )


def _runtime_text(r: ResolvedPlan) -> str:
    rt = r.plan.runtime
    axes = ", ".join(f"{a.upper()} {getattr(rt, a) or 'open'}" for a in ("tp", "pp", "ep", "dp"))
    name = f"{r.runtime.id} ({r.runtime.name})" if r.runtime else "open"
    knobs = ", ".join(f"{k}={v}" for k, v in rt.knobs.items())
    return f"{name}; {axes}" + (f"; knobs {knobs}" if knobs else "")


def _hardware_text(r: ResolvedPlan) -> str:
    g = r.gpu
    if g is None:
        return "GPU open"
    hw = r.plan.hardware
    text = (
        f"{g.id} ({g.name}): {g.hbm_gib:g} GiB at {g.hbm_tb_s:g} TB/s, "
        f"{g.interconnect.kind} {g.interconnect.gb_s_per_gpu:g} GB/s/dir, {g.gpus_per_node} per node"
    )
    if hw.nodes:
        text += f"; {hw.nodes} nodes"
    if hw.inter_node_fabric:
        text += f"; inter-node {hw.inter_node_fabric}"
    return text


def _stack_text(r: ResolvedPlan) -> str:
    st = r.plan.serving_stack
    name = f"{r.stack.id} ({r.stack.name})" if r.stack else "open"
    disagg = {None: "disaggregation open", True: "disaggregated prefill/decode", False: "aggregated"}
    return f"{name}; {disagg[st.disaggregated]}" + (f"; KV transport {st.kv_transport}" if st.kv_transport else "")

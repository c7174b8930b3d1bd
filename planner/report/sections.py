"""The sections of the decision record, each a function of the :class:`DecisionRecord`.

Formatting only: every figure comes from the record as stored or computed by the workflows, and
each is shown with where it comes from and, where the planner has one, its error band.
"""

from __future__ import annotations

from typing import Any

from planner.report.content import DecisionRecord, RevisionStep
from planner.report.markup import (
    Html,
    band,
    definitions,
    number,
    paragraph,
    section,
    share,
    table,
    text,
)
from planner.store.diff import flatten

#: The eleven steps of the method: (number, title, the plan's section holding its inputs).
STEPS = (
    (1, "Use case", "use_case"),
    (2, "Workload profile", "workload"),
    (3, "Traffic profile", "traffic"),
    (4, "Workload SLO", "slo"),
    (5, "Model architecture", "model"),
    (6, "Capacity (6a) and performance (6b)", None),
    (7, "Runtime architecture", "runtime"),
    (8, "Hardware and fabric", "hardware"),
    (9, "Serving stack", "serving_stack"),
    (10, "Benchmark and baseline", "baseline"),
    (11, "Scaling decision", None),
)


def summary(record: DecisionRecord) -> Html:
    """The answer on one screen: the configuration, the fleet, the envelope, the cost, what is open."""
    chosen, sim = record.chosen, record.simulation
    rev = record.revision
    errors = [f for f in rev.get("findings", []) if f.get("severity") == "error"]
    if not chosen:
        why = (rev.get("result", {}).get("sizing") or {}).get("why_none") or []
        return section(
            "summary",
            "Summary",
            paragraph("No configuration meets this plan, so nothing is signed off."),
            table(["why"], [[line] for line in why]),
        )
    gpu = (chosen.get("operating_point") or {}).get("deployment", {}).get("gpu")
    pairs = [
        ("Chosen configuration", _configuration_text(chosen, sim)),
        ("GPU", gpu),
        (
            "Replicas",
            f"{chosen.get('replicas')} ({chosen.get('replicas_for_load')} for the load + "
            f"{chosen.get('spares')} spare), {chosen.get('gpus')} GPUs in {chosen.get('nodes')} node(s)",
        ),
        ("Cr_closed per replica", _cr_closed_text(record)),
        ("Cr_open per replica", number(sim.get("cr_open_req_s"), 3, "requests/s") if sim else None),
        ("EUR per 1M output tokens", _eur_text(record)),
        ("Open error findings", len(errors)),
    ]
    return section("summary", "Summary", definitions(pairs))


def _configuration_text(chosen: dict[str, Any], sim: dict[str, Any]) -> str:
    """The chosen deployment; where prefill and decode pools serve the load, the pools, with the
    replicas aggregated serving would need of the deployment beside them."""
    pools = sim.get("disaggregated") or {}
    if not pools:
        return str(chosen.get("deployment"))
    return (
        f"{pools.get('prefill_replicas')} prefill x {pools.get('prefill_deployment')} + "
        f"{pools.get('decode_replicas')} decode x {pools.get('decode_deployment')}, KV over "
        f"{pools.get('transport')} (aggregated serving would need {pools.get('aggregated_replicas')} x "
        f"{chosen.get('deployment')})"
    )


def _cr_closed_text(record: DecisionRecord) -> str:
    """The simulated Cr_closed of a replica; where pools serve the load, that of a replica served
    aggregated, with each pool's beside it (what the fleet is priced at); the measured one."""
    sim = record.simulation
    planned = f"{sim['cr_closed']:,} requests in flight (simulated)" if sim.get("cr_closed") is not None else "-"
    pools = (sim.get("disaggregated") or {}).get("cr_closed") or {}
    if pools.get("prefill") is not None and pools.get("decode") is not None:
        planned = planned.replace("(simulated)", "(simulated, served aggregated)") + (
            f"; the pools: {pools['prefill']:,} per prefill and {pools['decode']:,} per decode replica"
        )
    measured = (record.measured.envelope.get("cr_closed") if record.measured else None) or None
    return planned + (f"; measured {measured:,.0f}" if measured is not None else "")


def _eur_text(record: DecisionRecord) -> str:
    ranked = record.chosen.get("eur_per_1m_tokens")
    parts = [f"{ranked:,.3f} for GPU servers and GPU power (what the search ranks by)"] if ranked is not None else []
    every = (record.tco or {}).get("tco", {}).get("eur_per_1m_output_tokens")
    if every is not None:
        parts.append(f"{every:,.3f} with every cost line")
    return "; ".join(parts) or "no price for this GPU"


# ----------------------------------------------------------------------- figures


#: The operating point's figures: (label, performance key, digits, unit, the key of the figure
#: read at the sizing's percentile, or None for the point itself).
_PERFORMANCE = (
    ("TTFT p{q} at the operating point", "ttft_ms", 0, "ms", "ttft_p{q}_ms"),
    ("ITL (mean gap) at the operating point", "itl_ms", 1, "ms", None),
    ("ITL p{q} gap at the operating point", "itl_ms", 1, "ms", "itl_p{q}_ms"),
    ("E2E at the operating point", "e2e_ms", 0, "ms", None),
    ("Output tokens/s per replica", "output_tok_s", 0, "tok/s", None),
)


def _performance_rows(performance: dict[str, Any], percentile: Any) -> list[tuple[str, str, int, str, Any, Any]]:
    """(label, key, digits, unit, value, band) of each operating-point figure: TTFT and the ITL gap at
    the percentile the plan was sized at, as `planner plan` prints and the targets judge them (with
    the bands the estimate moved with them), the mean gap, E2E and throughput at the point."""
    rows = []
    for label, key, digits, unit, read in _PERFORMANCE:
        field = read.format(q=percentile) if read else key
        if performance.get(field) is None:
            continue  # a record written before the figure was kept, or an unusual percentile
        rows.append(
            (label.format(q=percentile), key, digits, unit, performance[field], performance.get(f"{field}_band"))
        )
    return rows


def figures(record: DecisionRecord) -> Html:
    """Every headline figure with its value, band and provenance."""
    chosen, sim = record.chosen, record.simulation
    if not chosen:
        return Html("")
    point = chosen.get("operating_point") or {}
    provenance, performance = point.get("provenance") or {}, point.get("performance") or {}
    model = provenance.get("performance", "")
    rows: list[list[Any]] = [
        [
            "GPU",
            (point.get("deployment") or {}).get("gpu"),
            None,
            f"catalog: memory {provenance.get('hbm_gib')}; "
            f"bandwidth {provenance.get('hbm_tb_s')}; compute {provenance.get('peak_tflops')}",
        ],
        ["Model", (point.get("deployment") or {}).get("model"), None, provenance.get("model")],
        [
            "Sequences per replica (memory / SLOs)",
            f"{(chosen.get('per_replica') or {}).get('capacity_cap')} / "
            f"{(chosen.get('per_replica') or {}).get('latency_cap')}",
            None,
            f"dominant: {chosen.get('dominant_constraint')}; KV budget {provenance.get('kv_budget')}",
        ],
    ]
    for label, key, digits, unit, value, moved in _performance_rows(performance, chosen.get("sizing_percentile")):
        rows.append(
            [
                label,
                number(value, digits, unit),
                band(moved, digits),
                f"{model}; band: {provenance.get(f'{key}_band', 'none')}",
            ]
        )
    if sim:
        rows += _simulated_rows(chosen, sim)
    rows += _measured_rows(record)
    rows += _cost_rows(record)
    return section(
        "figures",
        "Figures, their bands and where they come from",
        paragraph(
            "Bands are the 10th-90th percentile of measured/predicted on held-out measurements "
            "of the same runtime, GPU family and model class; a figure without a band has none."
        ),
        table(["figure", "value", "band", "provenance"], rows, "figures"),
    )


def _simulated_rows(chosen: dict[str, Any], sim: dict[str, Any]) -> list[list[Any]]:
    for_load = sim.get("replicas_for_load")
    checks = {c["replicas"]: c for c in sim.get("checks") or []}
    held, fewer = checks.get(for_load), checks.get((for_load or 0) - 1)
    evidence = [f"{for_load} for the load"]
    if held:
        evidence.append(f"the whole fleet simulated at the peak meets the SLOs at {held.get('load')}")
    if fewer and not fewer.get("meets_slo"):
        evidence.append(f"{fewer['replicas']} replicas miss them")
    evidence.append(f"+ {sim.get('spares')} spare; the analytic estimate said {sim.get('estimated_replicas_for_load')}")
    aggregated = sim.get("simulated_aggregated_replicas")
    if sim.get("disaggregated") and aggregated:  # the estimate sizes aggregated replicas, not pools
        evidence[-1] += f" aggregated replicas, against {aggregated} aggregated in simulation"
    return [
        [
            "Cr_closed per replica",
            number(sim.get("cr_closed"), 0, "requests in flight"),
            None,
            "discrete-event simulation of one replica in a closed loop: the largest concurrency meeting the SLOs",
        ],
        [
            "Cr_open per replica",
            number(sim.get("cr_open_req_s"), 3, "requests/s"),
            None,
            "discrete-event simulation of one replica in an open loop, queue time included",
        ],
        ["Replicas", number(chosen.get("replicas")), None, "; ".join(evidence)],
    ]


def _measured_rows(record: DecisionRecord) -> list[list[Any]]:
    if record.measured is None:
        return []
    env = record.measured.envelope
    bracket = env.get("closed_bracket") or [None, None]
    return [
        [
            "Cr_closed measured",
            number(env.get("cr_closed"), 0, "requests in flight"),
            text(f"meets at {bracket[0]}, misses at {bracket[1]}") if bracket[1] is not None else None,
            f"measured: {record.measured.runs_from}, judged against {env.get('slo_from')}",
        ],
        [
            "Cr_open measured",
            number(env.get("cr_open_req_s"), 3, "requests/s"),
            None,
            f"measured: {record.measured.runs_from}",
        ],
    ]


def _cost_rows(record: DecisionRecord) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            "EUR per 1M output tokens (GPU servers and power)",
            number(record.chosen.get("eur_per_1m_tokens"), 3),
            None,
            "catalog price hints or the plan's quotes, at Cr_closed; what the search ranks candidates by",
        ],
    ]
    tco = (record.tco or {}).get("tco") or {}
    if tco:
        basis = tco.get("throughput") or {}
        rows.append(
            [
                "EUR per 1M output tokens (every cost line)",
                number(tco.get("eur_per_1m_output_tokens"), 3),
                None,
                f"{basis.get('label')} x utilisation {share(basis.get('utilisation'))}; the assumptions below",
            ]
        )
    return rows


# ------------------------------------------------------------------------- steps


def steps(record: DecisionRecord) -> Html:
    """The eleven steps, each with the inputs the plan gave and what the planner settled."""
    plan = record.revision.get("plan") or {}
    rows = [
        [number_, title, _inputs(plan.get(key)) if key else "-", _settled(record, number_)]
        for number_, title, key in STEPS
    ]
    return section("steps", "The 11 steps and their inputs", table(["step", "", "inputs", "settled"], rows, "steps"))


def _inputs(value: Any) -> Html:
    """A plan section's set fields, one per line."""
    if not value:
        return text("not given")
    fields = {k: v for k, v in flatten(value).items() if v not in (None, "", {}, [])}
    if not fields:
        return text("not given (open: the planner chooses)")
    return Html("<br>".join(f"{text(k)} = {text(v)}" for k, v in fields.items()))


def _settled(record: DecisionRecord, step: int) -> str:
    """What the planner settled at a step, from the stored revision."""
    result, chosen, sim = record.revision.get("result") or {}, record.chosen, record.simulation
    dep = (chosen.get("operating_point") or {}).get("deployment") or {}
    resolved = result.get("resolved") or {}
    effective = result.get("effective") or {}
    pools_axes = (sim.get("disaggregated") or {}).get("axes") or ""
    settled = {
        2: f"sized at the p{chosen.get('sizing_percentile')} request: "
        f"{chosen.get('isl_p95')} in / {chosen.get('osl_p95')} out"
        if chosen
        else "",
        3: f"peak concurrency {chosen.get('peak_concurrency')} ({chosen.get('concurrency_source')}); "
        f"+{share(chosen.get('headroom'))} headroom -> {chosen.get('provisioned_concurrency')}"
        if chosen
        else "",
        4: f"scenario {effective.get('scenario')}; {effective.get('spare_failure_domains')} spare failure domain(s)",
        5: f"{(resolved.get('model') or {}).get('name')}; weights {effective.get('weights_dtype')}, "
        f"KV {effective.get('kv_dtype')}, context {effective.get('context_tokens')}",
        6: f"per replica{' served aggregated' if pools_axes else ''}, memory holds "
        f"{(chosen.get('per_replica') or {}).get('capacity_cap')} sequences and the "
        f"SLOs {(chosen.get('per_replica') or {}).get('latency_cap')}: {chosen.get('to_move_it')}"
        + (f"; served as pools, each bound by its own axis: {pools_axes}" if pools_axes else "")
        if chosen
        else "",
        7: f"{dep.get('runtime')} TP{dep.get('tp')} PP{dep.get('pp')} EP{dep.get('ep')}" if dep else "",
        8: f"{chosen.get('replicas')} x {dep.get('gpus')} x {dep.get('gpu')} in {chosen.get('nodes')} node(s)"
        if chosen
        else "",
        9: str((resolved.get("serving_stack") or {}).get("id") or "no serving stack chosen"),
        10: f"simulated Cr_closed {sim.get('cr_closed')}, Cr_open {sim.get('cr_open_req_s')} requests/s"
        + (f"; baseline of {len(record.baseline['runs'])} run(s)" if record.baseline else "; no baseline yet")
        if sim
        else ("baseline set" if record.baseline else "no baseline yet"),
        11: f"{len(record.decisions)} decision(s) recorded" if record.decisions else "no scaling decision yet",
    }
    return settled.get(step, "") or "-"


# ------------------------------------------------------------------ alternatives


def alternatives(record: DecisionRecord) -> Html:
    """The chosen configuration and the runners-up, each with why it lost."""
    sizing = (record.revision.get("result") or {}).get("sizing") or {}
    chosen = record.chosen
    if not chosen:
        return section(
            "alternatives",
            "Configurations considered",
            table(["why nothing met the plan"], [[w] for w in sizing.get("why_none") or []]),
        )
    best = chosen.get("eur_per_1m_tokens")
    rows: list[list[Any]] = [
        [
            Html("<strong>chosen</strong>"),
            chosen.get("deployment"),
            chosen.get("gpus"),
            chosen.get("replicas"),
            chosen.get("dominant_constraint"),
            number(best, 3),
            "cheapest that meets the SLOs on both axes, checked in simulation",
        ]
    ]
    for alt in sizing.get("alternatives") or []:
        rows.append(
            [
                "runner-up",
                alt.get("deployment"),
                alt.get("gpus"),
                alt.get("replicas"),
                alt.get("dominant_constraint"),
                number(alt.get("eur_per_1m_tokens"), 3),
                _why_lost(alt, best),
            ]
        )
    intro = (
        f"{sizing.get('candidates_tried')} configurations tried, {sizing.get('feasible')} meet the SLOs on "
        "both axes; the cheapest per 1M output tokens is chosen."
    )
    headers = ["", "configuration", "GPUs", "replicas", "dominant constraint", "EUR/1M tok", "why"]
    return section(
        "alternatives", "Chosen configuration and the alternatives considered", paragraph(intro), table(headers, rows)
    )


def _why_lost(alt: dict[str, Any], best: float | None) -> str:
    """Why a runner-up lost, in the search's own terms: the cheapest by estimate are checked in
    simulation first (the search stops once two hold), and the cheapest that holds is chosen."""
    cost = alt.get("eur_per_1m_tokens")
    if not alt.get("checked_in_simulation"):
        behind = "ranked behind the configurations checked in simulation by the estimate, so not simulated"
        if cost is not None and best is not None and cost > best:
            more = f"costs {cost - best:,.3f} EUR (+{(cost - best) / best:.1%}) more per 1M output tokens"
            return f"{more} by the estimate; {behind}"
        return f"{behind}; its EUR per 1M tokens is the estimate's, the chosen's the simulation's"
    if cost is None or best is None:
        return "held in simulation; no price to compare"
    return (
        f"held in simulation but costs {cost - best:,.3f} EUR (+{(cost - best) / best:.1%}) more per 1M output tokens"
    )


# ---------------------------------------------------------------------- findings


def findings(record: DecisionRecord) -> Html:
    """The revisions, what each raised and resolved, and the findings of the one signed off."""
    history_rows = [
        [
            s["number"],
            s["created_at"][:19].replace("T", " "),
            s["author"],
            s["message"],
            s.get("gpu"),
            s.get("replicas"),
            number(s.get("eur_per_1m_tokens"), 3),
            s.get("errors"),
            s.get("warnings"),
        ]
        for s in (step.summary for step in record.history)
    ]
    current = record.revision.get("findings") or []
    current_rows = [
        [f.get("severity"), f.get("rule_id"), f.get("message"), f.get("remedy"), _raised_in(record, f)] for f in current
    ]
    parts = [
        table(
            ["rev", "saved (UTC)", "by", "message", "GPU", "replicas", "EUR/1M tok", "errors", "warnings"], history_rows
        ),
        "<h3>How each finding was resolved</h3>",
        table(["rule", "severity", "raised in", "resolved in", "how"], _resolutions(record.history))
        if any(step.resolved for step in record.history)
        else paragraph("No finding was resolved by a later revision."),
        f"<h3>Findings of revision {text(record.revision.get('number'))}</h3>",
        table(["severity", "rule", "finding", "remedy", "raised in"], current_rows)
        if current_rows
        else paragraph("The rules raise nothing on this revision."),
    ]
    return section("findings", "Findings and how each was resolved across revisions", *parts)


def _resolutions(history: list[RevisionStep]) -> list[list[Any]]:
    """One row per finding a revision resolved: where it was raised and the message of the fix."""
    raised_at: dict[str, int] = {}
    rows = []
    for step in history:
        number_ = step.summary["number"]
        for f in step.raised:
            raised_at.setdefault(str(f.get("rule_id")), number_)
        for f in step.resolved:
            rule = str(f.get("rule_id"))
            rows.append(
                [
                    rule,
                    f.get("severity"),
                    raised_at.pop(rule, "-"),
                    number_,
                    step.summary.get("message") or "(no message)",
                ]
            )
    return rows


def _raised_in(record: DecisionRecord, finding: dict[str, Any]) -> Any:
    rule = finding.get("rule_id")
    raised = [s.summary["number"] for s in record.history if any(f.get("rule_id") == rule for f in s.raised)]
    return raised[-1] if raised else "-"


# ----------------------------------------------------------------------- sign-off


#: Blank rows of the sign-off table, for the people who approve the record on paper.
SIGNATURE_ROWS = 4


def sign_off(record: DecisionRecord) -> Html:
    """A table to sign on paper: who, in what role, approving which revision, when."""
    rev = record.revision
    what = (
        f"I have read this record of {record.project.get('name')} revision {rev.get('number')} "
        f"(sha256:{str(rev.get('digest'))[:12]}) and approve, approve with the conditions noted, or reject it."
    )
    blank = [[Html("&nbsp;")] * 5 for _ in range(SIGNATURE_ROWS)]
    return section(
        "signoff", "Sign-off", paragraph(what),
        table(["name", "role", "approve / conditions / reject", "date", "signature"], blank, "signatures"),
    )  # fmt: skip

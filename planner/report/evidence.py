"""The decision record's evidence: predicted against measured envelopes (charts), the baseline,
the TCO with its growth, the scaling decisions and where the figures come from."""

from __future__ import annotations

from typing import Any

from planner.report.content import DecisionRecord
from planner.report.markup import Html, band, definitions, figure, number, paragraph, section, share, table
from planner.report.svg import MEASURED_COLOUR, PREDICTED_COLOUR, TARGET_COLOUR, Series, line_chart

#: Envelope charts: (title, curve key, unit, SLO target key, the baseline comparison's figure).
_CHARTS = (
    ("TTFT p95", "ttft_p95_ms", "ms", "ttft_ms", "TTFT p95 (ms)"),
    ("ITL p95", "itl_p95_ms", "ms", "itl_ms", None),
    ("E2E p95", "e2e_p95_ms", "ms", "e2e_ms", "E2E p95 (ms)"),
    ("Output tokens/s per replica", "output_tok_s", "tok/s", None, "output tok/s"),
)

_LOAD_AXIS = {"closed": "concurrent requests per replica", "open": "requests/s per replica"}


def envelopes(record: DecisionRecord) -> Html:
    """Predicted (the simulated curve, and the band at each measured load) against measured, per figure."""
    predicted = record.simulation.get("curve") or []
    measured = record.measured.envelope.get("curve", []) if record.measured else []
    slo = _targets(record)
    charts = []
    for mode in ("closed", "open"):
        for title, key, unit, target, compared in _CHARTS:
            series = _series(record, mode, key, predicted, measured, slo.get(target) if target else None, compared)
            svg = line_chart(f"{title}, {mode} loop", _LOAD_AXIS[mode], f"{title} ({unit})", series)
            charts.append(
                figure(
                    svg,
                    f"{title} against load, {mode} loop: predicted for {record.chosen.get('deployment')} and measured",
                )
            )
    intro = (
        "The line is the simulated envelope of one replica of the chosen configuration at the plan's request "
        "shape; the bars are the prediction's band at each measured load (simulated at the run's own load); "
        "the dots are measured runs; the dashed line is the SLO target."
    )
    if not measured:
        intro += " No benchmark run is stored yet: every figure here is a prediction."
    parts = [paragraph(intro), *charts, _comparisons(record)]
    return section("envelopes", "Predicted and measured envelopes", *parts)


def _targets(record: DecisionRecord) -> dict[str, float]:
    """SLO targets in ms: the measured envelope's (the same the runs were judged on), else the plan's."""
    slo = (record.measured.envelope.get("slo") if record.measured else None) or (
        (record.revision.get("plan") or {}).get("slo") or {}
    )
    return {k: float(v) for k, v in slo.items() if k in ("ttft_ms", "itl_ms", "e2e_ms") and v is not None}


def _series(
    record: DecisionRecord,
    mode: str,
    key: str,
    predicted: list[dict[str, Any]],
    measured: list[dict[str, Any]],
    target: float | None,
    compared: str | None,
) -> list[Series]:
    def points(curve: list[dict[str, Any]]) -> list[tuple[float, float]]:
        return [(float(p["load"]), float(p[key])) for p in curve if p.get("mode") == mode and p.get(key) is not None]

    out = [Series("predicted (simulated)", "line", PREDICTED_COLOUR, points(predicted))]
    bars = _bars(record, mode, compared)
    if bars:
        out.append(
            Series(
                "predicted band at the measured load",
                "bars",
                PREDICTED_COLOUR,
                [(x, mid) for x, mid, _, _ in bars],
                [b[2] for b in bars],
                [b[3] for b in bars],
            )
        )
    out.append(Series("measured", "points", MEASURED_COLOUR, points(measured)))
    if target is not None and (out[0].points or out[-1].points):
        out.append(Series(f"SLO target {target:,.0f}", "target", TARGET_COLOUR, [(0.0, target)]))
    return out


def _bars(record: DecisionRecord, mode: str, compared: str | None) -> list[tuple[float, float, float, float]]:
    """(load, predicted, band low, band high) of each run's comparison of figure ``compared``."""
    if record.measured is None or compared is None:
        return []
    loads = {r["name"]: r.get("metadata", {}) for r in record.runs}
    out = []
    for c in record.measured.comparisons:
        meta = loads.get(c["run"], {})
        if c["figure"] == compared and meta.get("mode") == mode and isinstance(meta.get("load"), int | float):
            out.append((float(meta["load"]), c["predicted"], c["band"][0], c["band"][1]))
    return out


def _comparisons(record: DecisionRecord) -> Html:
    if record.measured is None or not record.measured.comparisons:
        return Html("")
    rows = [
        [
            c["run"],
            c["figure"],
            number(c["measured"], 1),
            number(c["predicted"], 1),
            band(c["band"], 1),
            f"{c['error_pct']:+.0f}%",
            "yes" if c["inside_band"] else Html("<strong>no</strong>"),
        ]
        for c in record.measured.comparisons
    ]
    inside = sum(c["inside_band"] for c in record.measured.comparisons)
    return Html(
        "<h3>Measured against predicted, run by run</h3>"
        + paragraph(
            f"Prediction of {record.measured.deployment} at each run's load; {inside} of "
            f"{len(rows)} measured figures lie inside the predicted band."
        )
        + table(["run", "figure", "measured", "predicted", "band", "error", "inside band"], rows)
    )


def baseline(record: DecisionRecord) -> Html:
    """The runs the project measures itself against, their envelope and the plan's baseline section."""
    parts: list[str] = []
    runs_by_digest = {r["digest"]: r for r in record.runs}
    if record.baseline is None:
        parts.append(paragraph("No baseline is set: `planner bench baseline PROJECT RUNS` sets one."))
    else:
        b = record.baseline
        parts.append(
            definitions(
                [
                    ("set by", b["author"]),
                    ("on (UTC)", b["created_at"][:19].replace("T", " ")),
                    ("note", b["note"] or "-"),
                ]
            )
        )
        rows = [
            [
                runs_by_digest.get(d, {}).get("number", d[:12]),
                runs_by_digest.get(d, {}).get("name"),
                runs_by_digest.get(d, {}).get("source"),
            ]
            for d in b["runs"]
        ]
        parts.append(table(["run", "name", "source"], rows))
    if record.runs:
        parts += ["<h3>Every run stored</h3>", _runs_table(record)]
    if record.measured is not None:
        env = record.measured.envelope
        parts.append(
            definitions(
                [
                    ("runs read", record.measured.runs_from),
                    ("judged against", env.get("slo_from")),
                    ("Cr_closed measured", number(env.get("cr_closed"))),
                    ("Cr_open measured", number(env.get("cr_open_req_s"), 3)),
                    ("goodput", number(env.get("goodput_req_s"), 3, "requests/s")),
                ]
            )
        )
        parts += [paragraph(note) for note in env.get("notes") or []]
    section_of_plan = (record.revision.get("plan") or {}).get("baseline")
    if section_of_plan:
        parts.append("<h3>The plan's baseline section (used instead of the estimate)</h3>")
        parts.append(definitions([(k, v) for k, v in section_of_plan.items() if v is not None]))
    return section("baseline", "Baseline", *parts)


def _runs_table(record: DecisionRecord) -> Html:
    in_baseline = set(record.baseline["runs"]) if record.baseline else set()
    rows = []
    for r in record.runs:
        meta = r.get("metadata") or {}
        rows.append([
            r["number"], r["name"], meta.get("format"), meta.get("mode"), _value(meta.get("load")),
            meta.get("completed"), meta.get("errors"), r["author"], r["created_at"][:19].replace("T", " "),
            "yes" if r["digest"] in in_baseline else "no",
        ])  # fmt: skip
    headers = ["run", "name", "tool", "loop", "load", "completed", "failed", "imported by", "on (UTC)", "in baseline"]
    return table(headers, rows)


def costs(record: DecisionRecord) -> Html:
    """The TCO summary, its cost lines and assumptions, and the growth view."""
    if record.tco is None:
        return section("tco", "Total cost of ownership", paragraph(record.tco_note or "Not priced."))
    tco, growth = record.tco["tco"], record.tco.get("growth") or {}
    rented, api = tco.get("rented") or {}, tco.get("api") or {}
    summary_ = definitions(
        [
            ("priced at", (tco.get("throughput") or {}).get("label")),
            ("EUR per year", number((tco.get("eur_per_year") or {}).get("total"), 0, "EUR")),
            ("EUR per 1M output tokens, owned", number(tco.get("eur_per_1m_output_tokens"), 3)),
            ("EUR per 1M output tokens, rented", number(rented.get("eur_per_1m_output_tokens"), 3)),
            ("EUR per 1M output tokens, API", number(api.get("eur_per_1m_output_tokens"), 3)),
            ("cheapest at the assumed utilisation", tco.get("cheapest")),
            ("owning beats renting above utilisation", share(rented.get("break_even_utilisation"))),
            ("owning beats the API above utilisation", share(api.get("break_even_utilisation"))),
        ]
    )
    lines = [[k.replace("_", " "), number(v, 0)] for k, v in (tco.get("eur_per_year") or {}).items()]
    assumptions = [
        [a.get("label"), _value(a.get("value")), a.get("unit"), a.get("origin"), a.get("source")]
        for a in record.tco.get("assumptions") or []
    ]
    parts = [
        summary_,
        paragraph(record.tco_note) if record.tco_note else "",
        "<h3>Cost lines, EUR a year</h3>",
        table(["line", "EUR/year"], lines),
        _growth(growth),
        "<h3>Assumptions</h3>",
        table(["assumption", "value", "unit", "from", "source"], assumptions),
    ]
    return section("tco", "Total cost of ownership", *parts)


def _value(value: Any) -> Any:
    """An assumption's value with thousands separators and no float noise (28,700 rather than 28700.0)."""
    return f"{value:,.6g}" if isinstance(value, int | float) and not isinstance(value, bool) else value


def _growth(growth: dict[str, Any]) -> Html:
    quarters = growth.get("quarters") or []
    if not quarters:
        return Html("")
    series = [
        Series(name, "line", colour, [(q["number"], q[key]) for q in quarters if q.get(key) is not None])
        for name, key, colour in (
            ("owned", "cumulative_owned_eur", PREDICTED_COLOUR),
            ("rented", "cumulative_rented_eur", MEASURED_COLOUR),
            ("API", "cumulative_api_eur", TARGET_COLOUR),
        )
    ]
    chart = line_chart("Cumulative cost as traffic grows", "quarter", "cumulative EUR", series, log_x=False)
    rows = [
        [
            f"Q{q['number']}",
            number(q["peak_concurrency"], 1),
            q["replicas"],
            q["gpus"],
            q["nodes"],
            number(q["cumulative_owned_eur"]),
            number(q.get("cumulative_rented_eur")),
            number(q.get("cumulative_api_eur")),
        ]
        for q in quarters
    ]
    events = growth.get("events") or []
    return Html(
        f"<h3>Growth: {share(growth.get('growth_per_year'))} traffic a year</h3>"
        + figure(chart, "Cumulative cost of owning, renting and buying from an API, quarter by quarter")
        + table(
            ["quarter", "peak concurrency", "replicas", "GPUs", "nodes", "owned EUR", "rented EUR", "API EUR"], rows
        )
        + (table(["what the growth calls for"], [[e] for e in events]) if events else "")
    )


def decisions(record: DecisionRecord) -> Html:
    """Step 11: each recorded decision with its rationale, lever and expected effect."""
    if not record.decisions:
        return section("scaling", "Scaling decisions", paragraph("No decision recorded: `planner scale PROJECT`."))
    rows = []
    for d in record.decisions:
        details = d.get("details") or {}
        lever = details.get("lever") or {}
        expected = details.get("expected") or {}
        rows.append(
            [
                d["created_at"][:19].replace("T", " "),
                d["author"],
                d["decision"],
                d["rationale"],
                details.get("bottleneck"),
                lever.get("family"),
                "; ".join(f"{k} {_value(v)}" for k, v in expected.items()) or None,
                (d.get("revision") or "")[:12] or None,
            ]
        )
    headers = ["decided (UTC)", "by", "decision", "rationale", "bottleneck", "lever", "expected", "on revision"]
    return section("scaling", "Scaling decisions", table(headers, rows))


def provenance(record: DecisionRecord) -> Html:
    """The planner, performance model, plugins and calibration data the revision was sized with."""
    rev = record.revision
    catalog = rev.get("catalog") or {}
    pairs: list[tuple[str, Any]] = [
        ("planner that sized the revision", catalog.get("planner")),
        ("performance model asked for", rev.get("backend")),
        ("plugins", ", ".join(f"{k} {v}" for k, v in (catalog.get("plugins") or {}).items())),
        ("efficiency calibration data", ", ".join(catalog.get("calibration") or [])),
        ("backend corrections data", ", ".join(catalog.get("corrections") or [])),
        ("revision digest", rev.get("digest")),
        ("projects database", record.database),
        ("record written by", f"planner {record.planner_version} at {record.generated_at} (UTC)"),
    ]
    return section("provenance", "Provenance", definitions(pairs))

"""Choosing between performance backends: corrections, per-metric selection from held-out
errors, and ``auto`` answering each metric from its chosen backend (no extra needed)."""

from __future__ import annotations

from typing import Any

import pytest

from planner import corrections
from planner.bench.fit import Residual
from planner.bench.selection import Choice, compose_auto, select
from planner.corrections import Correction, parse_choice
from planner.performance_models import (
    BUILTIN,
    AutoModel,
    Blend,
    Corrected,
    Fallback,
    answering_models,
    calibrated,
    choose,
    step_function_of,
)
from planner.sizing.deployment import CLASSES, Deployment, config_class
from planner.sizing.estimate import estimate
from planner.sizing.steady_state import steady_state
from tests.test_perfmodel import TwiceAsSlow


def Slow() -> TwiceAsSlow:
    """A stand-in backend: three times the roofline, NVIDIA only."""
    return TwiceAsSlow(name="slow", factor=3.0)


def dep(catalog: Any, model: str = "llama-3.1-8b", gpu: str = "h100-sxm", **kw: Any) -> Deployment:
    return Deployment(
        catalog.models.get(model), catalog.gpus.get(gpu), catalog.runtimes.get("vllm"), "fp8", "fp8", **kw
    )


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the corrections file with a table the test controls."""
    table: dict[str, Any] = {"corrections": {}, "bands": {}, "selection": {}}
    monkeypatch.setattr(corrections, "_stored_tables", lambda: table)
    return table


def test_configuration_classes(catalog: Any) -> None:
    assert config_class(dep(catalog)) == "dense"
    assert config_class(dep(catalog, model="mixtral-8x7b", tp=2)) == "moe-tp"
    assert config_class(dep(catalog, model="mixtral-8x7b", tp=2, ep=2)) == "moe-ep"
    assert config_class(dep(catalog, model="deepseek-r1", ep=8, attention_dp=True)) == "moe-ep"


def test_a_correction_scales_prefill_and_decode_and_adds_overhead(catalog: Any) -> None:
    d = dep(catalog)
    fixed = Corrected(Slow(), Correction(prefill_scale=0.5, decode_scale=0.25, overhead_ms=2.0, source="test"))
    assert fixed.prefill_s(d, 2, 1000) == pytest.approx(1.5 * BUILTIN.prefill_s(d, 2, 1000))
    assert fixed.decode_step_s(d, 8, 2000) == pytest.approx(0.75 * BUILTIN.decode_step_s(d, 8, 2000) + 0.002)
    assert fixed.overhead_s(d) == pytest.approx(Slow().overhead_s(d) + 0.002)
    assert "x0.50 prefill, x0.25 decode, +2.00 ms a step (test)" in fixed.source(d)


def test_corrections_apply_per_class_with_any_as_fallback(catalog: Any, tables: dict[str, Any]) -> None:
    tables["corrections"][("slow", "any")] = Correction(1.0, 2.0, 0.0, "any")
    tables["corrections"][("slow", "moe-tp")] = Correction(1.0, 4.0, 0.0, "moe-tp")
    dense, moe = dep(catalog), dep(catalog, model="mixtral-8x7b", tp=2)
    assert isinstance(choose(Slow(), dense), Corrected) and choose(Slow(), dense).correction.source == "any"  # type: ignore[attr-defined]
    assert calibrated(Slow(), moe).correction.source == "moe-tp"  # type: ignore[attr-defined]
    assert isinstance(choose(Slow(), dep(catalog, gpu="mi300x")), Fallback)
    assert calibrated(BUILTIN, dense) is BUILTIN


def test_auto_times_every_figure_with_one_set_of_phase_times(catalog: Any, tables: dict[str, Any]) -> None:
    # Throughput, ITL and TTFT under load are built from the same decode steps and prefill, so
    # auto combines phase times, not figures (issue 14 item 3): steps from the ITL choice,
    # prefill from the TTFT choice; the throughput choice times nothing.
    tables["selection"]["dense"] = {"throughput": "builtin", "itl": "slow", "ttft": "slow"}
    auto = AutoModel((Slow(),))
    d = dep(catalog)
    assert {g: m.name for g, m in answering_models(auto, d).items()} == dict.fromkeys(
        ("throughput", "itl", "ttft"), "slow"
    )
    merged, slow = steady_state(d, 32, 1000, 200, auto), steady_state(d, 32, 1000, 200, Slow())
    for figure in ("output_tok_s", "itl_s", "ttft_s", "e2e_s", "prefill_s"):
        assert getattr(merged, figure) == pytest.approx(getattr(slow, figure)), figure
    # the simulator's step function is the same mixed step (the ITL choice's), not the throughput choice's
    step = step_function_of(auto, d)
    assert step(512, 256, 16, 2000) == pytest.approx(auto.mixed_step_s(d, 512, 256, 16, 2000))
    assert step(512, 256, 16, 2000) == pytest.approx(Slow().mixed_step_s(d, 512, 256, 16, 2000))
    assert "throughput, ITL, TTFT from slow (one set of phase times)" in auto.source(d)
    tables["selection"]["dense"]["ttft"] = "builtin"
    assert auto.prefill_s(d, 1, 1000) == pytest.approx(BUILTIN.prefill_s(d, 1, 1000))
    assert auto.decode_step_s(d, 8, 1000) == pytest.approx(Slow().decode_step_s(d, 8, 1000))
    assert "decode steps (throughput, ITL) from slow; prefill (TTFT) from builtin" in auto.source(d)
    # a chosen backend that does not cover the configuration gives way to the built-in model
    amd = dep(catalog, gpu="mi300x")
    assert {auto.pick(amd, g).name for g in ("throughput", "itl", "ttft")} == {"builtin"}


def test_estimate_with_auto_reports_each_metric_and_its_band(catalog: Any, tables: dict[str, Any]) -> None:
    tables["selection"]["dense"] = {"throughput": "slow", "itl": "slow", "ttft": "builtin"}
    tables["corrections"][("slow", "any")] = Correction(1.0, 1.0, 0.0, "fit")
    tables["bands"][("slow", "any")] = {"throughput": (0.9, 1.2, 40, None)}
    d, auto = dep(catalog), AutoModel((Slow(),))
    est = estimate(d, 1000, 200, model=auto, concurrency=16)
    plain = estimate(d, 1000, 200, model=BUILTIN, concurrency=16)
    # decode steps from slow (3x), prefill from the built-in model: between a third and a half
    assert plain.output_tok_s / 3 < est.output_tok_s < plain.output_tok_s / 2
    assert est.bands["output_tok_s"] == pytest.approx((0.9 * est.output_tok_s, 1.2 * est.output_tok_s))
    assert est.band_sources["output_tok_s"] == "slow x any (40 held-out figures)"
    assert est.band_sources["ttft_ms"].startswith("vllm x")  # the built-in model's class band
    # auto's own held-out band for the class, where the file has one, comes first
    tables["bands"][("auto", "dense")] = {"throughput": (0.8, 1.1, 30, 12)}
    again = estimate(d, 1000, 200, model=auto, concurrency=16)
    assert again.band_sources["output_tok_s"] == "auto x dense (30 held-out figures of 12 documents)"
    assert again.band_sources["ttft_ms"] == est.band_sources["ttft_ms"]


def _residuals(errors: dict[str, float]) -> list[Residual]:
    return [Residual(row, "output_tok_s", 100.0, 100.0 * (1 + e / 100)) for row, e in errors.items()]


class _Rows:
    """Measurements stand-in: every row dense."""

    def __init__(self, ids: list[str]) -> None:
        self.rows = [type("M", (), {"row_id": i})() for i in ids]


def test_select_prefers_a_backend_only_with_enough_figures_and_a_lower_error(
    catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from planner.bench import selection

    monkeypatch.setattr(selection, "measurement_class", lambda m, c: "dense")
    rows = _Rows([str(i) for i in range(8)]).rows
    builtin = _residuals({str(i): 20.0 for i in range(8)})
    better = _residuals({str(i): 5.0 for i in range(6)})  # covers 6 of 8
    sparse = _residuals({str(i): 1.0 for i in range(3)})  # too few figures
    worse = _residuals({str(i): 50.0 for i in range(8)})
    choices = select({"builtin": builtin, "aic": better, "few": sparse, "bad": worse}, rows, catalog)  # type: ignore[arg-type]
    throughput = next(c for c in choices if c.cls == "dense" and c.group == "throughput")
    assert throughput.backend == "aic"
    assert throughput.errors["builtin"] == (8, 20.0) and throughput.errors["aic"] == (8, 5.0)
    assert throughput.errors["few"][1] == 20.0 and throughput.errors["bad"][1] == 50.0
    itl = next(c for c in choices if c.cls == "dense" and c.group == "itl")
    assert itl.backend == "builtin" and itl.errors == {}
    composed = compose_auto(
        {"builtin": builtin, "aic": better},
        [Choice("dense", "throughput", "aic", {})],
        rows,
        catalog,  # type: ignore[arg-type]
    )
    assert sorted(round(r.abs_pct) for r in composed) == [5] * 6 + [20] * 2


def test_the_catalog_names_a_choice_for_every_class_and_metric_with_its_evidence(catalog: Any) -> None:
    entries = {e["class"]: e for e in corrections.selection_entries()}
    assert set(entries) == set(CLASSES)
    for cls, entry in entries.items():
        assert set(entry["choice"]) == set(corrections.GROUPS), cls
        for group, chosen in entry["choice"].items():
            assert parse_choice(chosen)[0] in catalog.performance_models, (cls, group, chosen)
            errors = entry["held_out_median_abs_pct"].get(group) or {}
            if chosen != "builtin":
                # another backend is chosen only where it lowers the held-out error
                assert errors[chosen][1] == min(err for _, err in errors.values()) < errors["builtin"][1], (cls, group)


def test_a_blend_is_the_geometric_mean_of_two_models(catalog: Any, tables: dict[str, Any]) -> None:
    d = dep(catalog)
    blend = Blend(BUILTIN, Slow())
    assert blend.name == "builtin+slow"
    assert blend.prefill_s(d, 1, 1000) == pytest.approx(3**0.5 * BUILTIN.prefill_s(d, 1, 1000))
    assert blend.mix(4.0, 1.0) == pytest.approx(2.0) and Blend(BUILTIN, Slow(), 0.25).mix(16.0, 1.0) == pytest.approx(
        8.0
    )
    a, b, both = (steady_state(d, 16, 1000, 200, m) for m in (BUILTIN, Slow(), blend))
    assert both.output_tok_s == pytest.approx((a.output_tok_s * b.output_tok_s) ** 0.5)
    # in the engine; the front end's latency belongs to the built-in factors, which do not answer
    # TTFT in a blend (its correction's prefill scale carries what the other backend misses)
    engine_ttft = [t.ttft_s - t.frontend_s for t in (a, b, both)]
    assert engine_ttft[2] == pytest.approx((engine_ttft[0] * engine_ttft[1]) ** 0.5) and both.frontend_s == 0
    assert blend.coverage(dep(catalog, gpu="mi300x")) == "NVIDIA only"
    tables["selection"]["dense"] = {"throughput": "builtin+slow", "itl": "builtin", "ttft": "builtin"}
    picked = AutoModel((Slow(),)).pick(d, "throughput")
    assert isinstance(picked, Blend) and picked.second.name == "slow" and picked.weight == 0.5
    tables["selection"]["dense"]["throughput"] = "builtin+slow@0.75"
    weighted = AutoModel((Slow(),)).pick(d, "throughput")
    assert isinstance(weighted, Blend) and weighted.weight == 0.75 and weighted.name == "builtin+slow@0.75"
    assert weighted.prefill_s(d, 1, 1000) == pytest.approx(3**0.75 * BUILTIN.prefill_s(d, 1, 1000))
    assert parse_choice("slow") == ("slow", None) and parse_choice("builtin") == ("builtin", None)
    assert AutoModel((Slow(),)).pick(dep(catalog, gpu="mi300x"), "throughput") is BUILTIN


def test_blend_residuals_mix_only_shared_figures() -> None:
    from planner.bench.selection import blend_residuals

    first = [Residual("1", "itl_ms", 10.0, 8.0), Residual("2", "itl_ms", 10.0, 20.0)]
    second = [Residual("1", "itl_ms", 10.0, 12.5)]
    mixed = blend_residuals(first, second)
    assert mixed[0].predicted == pytest.approx(10.0) and mixed[1].predicted == 20.0


def test_best_per_figure_takes_the_closest_prediction_of_each_figure() -> None:
    from planner.bench.selection import best_per_figure

    first = [Residual("1", "itl_ms", 10.0, 8.0), Residual("2", "itl_ms", 10.0, 10.5)]
    second = [Residual("1", "itl_ms", 10.0, 10.9), Residual("2", "itl_ms", 10.0, 14.0), Residual("3", "ttft_ms", 5, 6)]
    best = {(r.row_id, r.metric): r.predicted for r in best_per_figure({"a": first, "b": second})}
    assert best == {("1", "itl_ms"): 10.9, ("2", "itl_ms"): 10.5, ("3", "ttft_ms"): 6}

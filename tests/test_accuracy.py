"""Accuracy against published measurements: the calibrated catalog meets its targets on
the calibration file, and the fit is per class, reproducible, and honest about held-out rows."""

from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from planner import corrections
from planner.bench.accuracy_tables import (
    FLOOR,
    HELD_OUT_TITLE,
    ONE_VOTE_EACH,
    START_SPREAD_HEADER,
    SWEEP_DOCUMENT_TITLE,
    SWEEP_TITLE,
    is_sweep,
    start_spread_table,
    summary_table,
    sweep_document_table,
    sweep_table,
    with_fallback,
    with_floor,
)
from planner.bench.calibration import CalibrationFileError, harness_setting, load_measurements
from planner.bench.coverage import COVERAGE_TITLE, band_coverage, data_digest, every_band_coverage, read_residuals
from planner.bench.fit import (
    BOUNDS,
    METRIC_GROUP,
    SPREAD_SCALES,
    START,
    Residual,
    band_evidence,
    class_key,
    echoes_offered_load,
    fit_efficiency,
    ratio_bands,
    residuals,
    shifted_start,
    shipped_factors,
    source_document,
    spread_scales,
    weighted_quantile,
)
from planner.bench.selection import answered_by_other, backend_band_evidence, measurement_class, with_blends
from planner.performance_models import AnalyticModel
from planner.sizing.deployment import CLASSES
from planner.sizing.efficiency import band_for, calibration_for, calibrations
from tests.conftest import REPO

DATA = REPO / "benchmarks" / "data" / "calibration.csv"
#: In-sample guards. TTFT's is looser since each class is held to its parent's factors: the
#: catalog's own rows fit worse (18% -> 28%), the held-out TTFT better (42.5% -> 38.0%); with
#: dstack's vLLM rows read as vLLM, 30.5% in sample and 35.3% held out.
TARGETS = {"throughput": 15.0, "itl": 20.0, "ttft": 32.0}
#: Every backend's held-out residuals behind docs/accuracy.md's held-out tables and band coverage.
HELD_OUT = REPO / "benchmarks" / "data" / "calibration-held-out.csv"
PAGE = REPO / "docs" / "accuracy.md"
REGENERATE = "regenerate: python benchmarks/accuracy.py --cv --markdown docs/accuracy.md"


@pytest.fixture(scope="module")
def measurements(catalog: Any) -> list[Any]:
    rows, skipped = load_measurements(DATA, catalog)
    assert len(rows) >= 90, skipped
    return rows


def test_catalog_factors_meet_the_targets(catalog: Any, measurements: list[Any]) -> None:
    found = residuals(measurements, catalog, shipped_factors(catalog))
    for group, target in TARGETS.items():
        errors = [r.abs_pct for r in found if METRIC_GROUP[r.metric] == group]
        assert len(errors) >= 10, group
        assert statistics.median(errors) <= target, f"{group}: median {statistics.median(errors):.1f}% > {target}%"


def test_every_class_is_a_runtime_generation_kind_never_a_row(measurements: list[Any]) -> None:
    table = calibrations()
    assert {c.key for c in table} >= {("*", "*", "*"), ("trtllm", "hopper", "dense")}
    for c in table:
        assert c.rows >= 4, f"{c.label}: classes rest on several rows"
        assert 0 < c.efficiency.mfu_prefill <= 1 and 0 < c.efficiency.mbu_decode <= 1
        assert c.bands, f"{c.label} carries error bands"
    assert len(table) < len(measurements) / 4


def test_fit_recovers_known_factors(catalog: Any, measurements: list[Any]) -> None:
    """Measurements generated from known factors are fitted back to those factors."""
    from planner.bench.predict import predict_measurement
    from planner.sizing.efficiency import Efficiency

    truth = Efficiency(mfu_prefill=0.45, mbu_decode=0.7, mfu_decode=0.3, overhead_ms=2.0)
    rows = [m for m in measurements if m.gpu_id == "h100-sxm" and m.family == "trtllm"][:20]
    synthetic = []
    for m in rows:
        predicted = predict_measurement(m, catalog, truth)
        copy = type(m)(**{**m.__dict__, "measured": {k: predicted[k] for k in m.measured if k in predicted}})
        synthetic.append(copy)
    fitted = fit_efficiency(synthetic, catalog)
    errors = [r.abs_pct for r in residuals(synthetic, catalog, lambda _m: fitted)]
    assert statistics.median(errors) < 2.0


def test_a_factor_the_rows_barely_constrain_stays_near_the_parent_class(catalog: Any, measurements: list[Any]) -> None:
    """Sixty TTFT figures the decode bandwidth does not change, and one ITL figure at half what
    the truth gives: alone, that figure drags the bandwidth to its bound; held to the parent's
    factors, it moves only as far as that one figure pays for. (Under the capped mean loss a figure
    pulls with its share of the class's figures: among twenty, held or not, it reaches the bound.)"""
    from planner.bench.fit import prior_penalty
    from planner.bench.predict import predict_measurement
    from planner.sizing.efficiency import Efficiency

    truth = Efficiency(mfu_prefill=0.45, mbu_decode=0.5, mfu_decode=0.3, overhead_ms=2.0)
    faster = replace(truth, mbu_decode=0.8)

    def figures(m: Any) -> tuple[dict[str, float], dict[str, float]]:
        return predict_measurement(m, catalog, truth), predict_measurement(m, catalog, faster)

    def as_measured(m: Any, measured: dict[str, float]) -> Any:
        return type(m)(**{**m.__dict__, "measured": measured})

    prefill_only, pulling = [], None
    for m in (m for m in measurements if m.gpu_id == "h100-sxm"):
        now, then = figures(m)
        if "ttft_ms" not in now or now["ttft_ms"] != pytest.approx(then["ttft_ms"], rel=1e-6):
            continue
        if pulling is None and then["itl_ms"] < 0.75 * now["itl_ms"]:
            pulling = as_measured(m, {"itl_ms": now["itl_ms"] / 2})
        elif len(prefill_only) < 60:
            prefill_only.append(as_measured(m, {"ttft_ms": now["ttft_ms"]}))
    assert pulling is not None and len(prefill_only) == 60
    rows = [pulling, *prefill_only]
    free = fit_efficiency(rows, catalog, truth)
    held = fit_efficiency(rows, catalog, truth, prior=truth)
    assert free.mbu_decode > 0.9, "one figure's pull moves a factor nothing else constrains to its bound"
    assert truth.mbu_decode <= held.mbu_decode < 0.7, "held to the parent, it moves a step, not to the bound"
    assert prior_penalty(truth, truth, ["mbu_decode", "overhead_ms"]) == 0
    assert prior_penalty(replace(truth, overhead_ms=0.0), truth, ["overhead_ms"]) > 0


def test_missing_or_malformed_calibration_file(catalog: Any, tmp_path: Path) -> None:
    with pytest.raises(CalibrationFileError, match="cannot read"):
        load_measurements(tmp_path / "none.csv", catalog)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,model\n1,Llama-3.1-8B\n")
    with pytest.raises(CalibrationFileError, match="lacks columns"):
        load_measurements(bad, catalog)


def test_builtin_throughput_in_sample_for_dense_and_moe_alike(catalog: Any, measurements: list[Any]) -> None:
    found = residuals(measurements, catalog, shipped_factors(catalog))
    moe = {m.row_id for m in measurements if catalog.models.get(m.model_id).moe}
    early = {m.row_id for m in measurements if m.early_build}
    # guards a little above the in-sample figures on the 569 rows (dense 10.4%, MoE 10.0%), leaving
    # out the early builds, which no class of theirs is fitted on (predicted by current engines'
    # classes, their MoE rows take MoE's median to 31.4%)
    for kind, members, guard in (
        ("dense", [r for r in found if r.row_id not in moe], 12.5),
        ("moe", [r for r in found if r.row_id in moe and r.row_id not in early], 12.0),
    ):
        errors = [r.abs_pct for r in members if METRIC_GROUP[r.metric] == "throughput"]
        assert len(errors) >= 20, kind
        assert statistics.median(errors) <= guard, f"{kind}: median {statistics.median(errors):.1f}%"


def test_a_band_counts_its_figures_and_their_source_documents() -> None:
    found = [
        Residual("1", "itl_ms", 10.0, 10.0),
        Residual("2", "itl_ms", 12.0, 10.0),
        Residual("3", "e2e_ms", 9.0, 10.0),  # E2E takes the ITL band
        Residual("1", "output_tok_s", 100.0, 90.0),
    ]
    bands = ratio_bands(found, {"1": "vendor-a", "2": "vendor-a", "3": "vendor-b"})
    assert bands["itl"][2:] == (3, 2)
    assert bands["throughput"][2:] == (1, 1)
    assert "ttft" not in bands


def test_band_percentiles_are_a_prediction_with_one_vote_per_document() -> None:
    nine = [(float(v), 1.0) for v in range(1, 10)]  # the k-th of 9 sits at k / 10
    assert weighted_quantile(nine, 0.1) == 1.0 and weighted_quantile(nine, 0.9) == 9.0
    assert weighted_quantile(nine[:3], 0.1) == 1.0, "a small sample reads the 10th percentile at its extreme"
    # one document of 8 figures at 1.0 and 3 documents of one figure: 4 votes, not 11
    many = [(1.0, 1 / 8)] * 8 + [(0.5, 1.0), (2.0, 1.0), (3.0, 1.0)]
    assert weighted_quantile(sorted(many), 0.6) == 2.0 and weighted_quantile(sorted(many), 0.2) == 0.5
    assert weighted_quantile(sorted((v, 1.0) for v, _ in many), 0.6) == 1.0, "figure by figure, one document rules"


def _documented_coverage() -> dict[tuple[str, str], tuple[int, int]]:
    """(backend, metric group) -> (inside, figures) from docs/accuracy.md's band coverage table."""
    page = (REPO / "docs" / "accuracy.md").read_text(encoding="utf-8")
    assert COVERAGE_TITLE in page, REGENERATE
    section = page.split(COVERAGE_TITLE, 1)[1].split("\n### ", 1)[0]
    rows = re.finditer(r"^\| (\w+) \| (\w+) \| (\d+) of (\d+) \|", section, re.M)
    return {(m[1], m[2]): (int(m[3]), int(m[4])) for m in rows}


def test_the_band_coverage_in_the_docs_is_what_the_code_computes(catalog: Any, measurements: list[Any]) -> None:
    """The held-out coverage the page quotes for every backend, recomputed by today's band code
    from the stored held-out residuals (which must come from today's calibration file)."""
    label, held_out = read_residuals(HELD_OUT)
    assert label == f"{DATA.name} sha256:{data_digest(DATA)}", REGENERATE
    computed = {
        (c.backend, c.group): (c.inside, c.figures) for c in every_band_coverage(measurements, held_out, catalog)
    }
    assert {backend for backend, _ in computed} == {"builtin", "aiconfigurator", "auto"}
    assert _documented_coverage() == computed, REGENERATE


def test_every_backends_bands_hold_the_held_out_figures_at_their_stated_rate(
    catalog: Any, measurements: list[Any]
) -> None:
    """Issue 14 item 5: each backend's 10-90% bands hold 80% +/- 10 points of the held-out figures
    of every metric group (recomputed from the stored held-out residuals by today's band code)."""
    _, held_out = read_residuals(HELD_OUT)
    found = every_band_coverage(measurements, held_out, catalog)
    assert len(found) == 9
    assert [(c.backend, c.group, round(c.share * 100, 1)) for c in found if not c.on_target] == []


def _documented_table(title: str) -> list[list[str]]:
    """The body rows of the markdown table under the page's heading ``title``."""
    section = PAGE.read_text(encoding="utf-8").split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def _page_results(stored: Any, measurements: list[Any], catalog: Any) -> Any:
    """The stored held-out residuals with what the page adds to them: blends, each backend with the
    built-in model where it does not cover a row, and the per-figure floor."""
    return with_floor(with_fallback(with_blends(stored), measurements, catalog))


def test_the_held_out_errors_in_the_docs_are_what_the_code_computes(catalog: Any, measurements: list[Any]) -> None:
    """Every held-out table of the page (concurrency sweeps against their targets, every backend
    per class) rebuilt from the stored held-out residuals by the code that wrote it."""
    label, stored = read_residuals(HELD_OUT)
    assert label == f"{DATA.name} sha256:{data_digest(DATA)}", REGENERATE
    assert {"builtin", "auto", "auto (catalog choices)"} <= set(stored)
    rows = {m.row_id: m for m in measurements}
    held = _page_results(stored, measurements, catalog)
    assert _documented_table(SWEEP_TITLE) == sweep_table(held, rows), REGENERATE
    assert _documented_table(SWEEP_DOCUMENT_TITLE) == sweep_document_table(held["builtin"], rows), REGENERATE
    assert _documented_table(HELD_OUT_TITLE) == summary_table(held, rows, catalog), REGENERATE


#: The README's labels for the backends of its held-out table.
README_BACKENDS = {
    "builtin (calibrated roofline)": "builtin",
    "aiconfigurator (built-in model where it does not cover a row)": "aiconfigurator (else builtin)",
    "blend of the two (geometric mean, equal weights)": "builtin+aiconfigurator",
    "auto, with the catalog's per-class choices": "auto (catalog choices)",
    "auto, choices also made without the held-out document": "auto",
    "best of each figure (not a model: the floor any choice can reach)": FLOOR,
}


#: The first row of calibration.csv gathered in December 2026 (France Travail's and silybench's sweeps).
FIRST_DECEMBER_2026_ROW = 1900


def test_the_readme_quotes_the_held_out_errors_the_code_computes(catalog: Any, measurements: list[Any]) -> None:
    """The README's held-out table (every document) and its concurrency-sweep sentence, figure by
    figure, against what the stored held-out residuals give."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How far to trust the numbers", 1)[1].split("\n## ", 1)[0]
    _, stored = read_residuals(HELD_OUT)
    rows = {m.row_id: m for m in measurements}
    held = _page_results(stored, measurements, catalog)
    computed = {(name, cls): cells for name, cls, _, *cells in summary_table(held, rows, catalog)}
    quoted = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in README_BACKENDS:
            quoted[README_BACKENDS[cells[0]]] = cells[1:]
    assert set(quoted) == set(README_BACKENDS.values())
    for name, cells in quoted.items():
        assert cells == [c.split(" ")[0] for c in computed[(name, "all")]], f"README row {name}"
    sweep = {(name, group): cell.split(" ")[0] for name, group, cell, *_ in sweep_table(held, rows)}
    sentence = " ".join(section.split())
    for name in ("builtin", "auto (catalog choices)", "auto"):
        figures = " / ".join(sweep[(name, g)] for g in ("throughput", "itl", "ttft"))
        assert figures in sentence, f"README sweep figures of {name}: {figures}"
    votes = sweep_document_table(held["builtin"], rows)[-1][1:]
    assert " / ".join(v.split(" ")[0] for v in votes) in sentence, "README's one-vote-per-document figures"
    # the sweep documents before December 2026's (rows from 1900 on came then), with today's refit
    before = {i: m for i, m in rows.items() if int(i) < FIRST_DECEMBER_2026_ROW}
    earlier = {name: [r for r in found if r.row_id in before] for name, found in held.items()}
    sweep = {(name, group): cell.split(" ")[0] for name, group, cell, *_ in sweep_table(earlier, before)}
    for name in ("builtin", "auto (catalog choices)"):
        figures = " / ".join(sweep[(name, g)] for g in ("throughput", "itl", "ttft"))
        assert f"to {figures}" in sentence, f"README sweep figures of {name} on the earlier documents: {figures}"
    # the sweeps without the documents of early builds
    current = {i: m for i, m in rows.items() if not m.early_build}
    found = {name: [r for r in residuals if r.row_id in current] for name, residuals in held.items()}
    sweep = {(name, group): cell.split(" ")[0] for name, group, cell, *_ in sweep_table(found, current)}
    builtin, auto = (
        " / ".join(sweep[(n, g)] for g in ("throughput", "itl", "ttft")) for n in ("builtin", "auto (catalog choices)")
    )
    assert f"are at {builtin} (built-in) and {auto} (`auto`" in sentence, (
        f"README sweeps without early builds: {builtin}, {auto}"
    )


def test_the_concurrency_sweep_table_counts_only_closed_loop_rows(catalog: Any, measurements: list[Any]) -> None:
    """A sweep figure far off moves the sweep table; the same error on an offline row does not."""
    rows = {m.row_id: m for m in measurements}
    sweep = next(m for m in measurements if m.mode == "concurrency")
    offline = next(m for m in measurements if m.mode == "offline")
    base = [Residual(sweep.row_id, "ttft_ms", 100.0, 110.0), Residual(offline.row_id, "ttft_ms", 100.0, 100.0)]
    ten = sweep_table({"builtin": base}, rows)[0]
    assert ten[:3] == ["builtin", "ttft", "10.0% (1)"] and ten[4:] == ["15%", "yes"]
    off = [Residual(sweep.row_id, "ttft_ms", 100.0, 150.0), Residual(offline.row_id, "ttft_ms", 100.0, 900.0)]
    assert sweep_table({"builtin": off}, rows)[0][2:] == ["50.0% (1)", "1", "15%", "no"]


def test_the_per_document_sweep_table_gives_each_document_one_vote(catalog: Any, measurements: list[Any]) -> None:
    """Ten figures 50% high from one document and one figure 10% high from another: the figure count
    says 50%, the documents' row says 30% (the median of 50 and 10), and each cell says which way."""
    sweeps = [m for m in measurements if is_sweep(m)]
    first = sweeps[0]
    other = next(m for m in sweeps if source_document(m) != source_document(first))
    many = [Residual(first.row_id, "itl_ms", 10.0, 15.0)] * 10 + [Residual(other.row_id, "itl_ms", 10.0, 11.0)]
    rows = {m.row_id: m for m in measurements}
    table = sweep_document_table(many, rows)
    assert table[0] == [source_document(first), "-", "50.0% (10) x1.50", "-"]
    assert table[1] == [source_document(other), "-", "10.0% (1) x1.10", "-"]
    assert table[-1] == [ONE_VOTE_EACH, "-", "30.0% (2 documents)", "-"]
    assert sweep_table({"builtin": many}, rows)[1][2] == "50.0% (11)"


def test_a_shifted_start_moves_every_factor_the_fit_searches() -> None:
    """Every searched factor moves by the scale and stays inside its bounds; x 1 is the usual start."""
    for scale in (0.9, 1.1):
        moved = shifted_start(scale)
        for name, (low, high) in BOUNDS.items():
            assert getattr(moved, name) == pytest.approx(getattr(START, name) * scale)
            assert low <= getattr(moved, name) <= high
    assert all(getattr(shifted_start(1.0), name) == getattr(START, name) for name in BOUNDS)


def test_the_fit_and_each_held_out_fold_start_the_global_search_where_told(
    catalog: Any, measurements: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The global class's search begins at ``start`` and every other class at its parent's factors,
    in a plain fit and in each fold of the cross-validation (searches skipped: only where they begin
    is checked)."""
    import planner.bench.fit as fit

    calls: list[tuple[Any, Any]] = []

    def record(rows: Any, catalog: Any, start: Any = START, bounds: Any = BOUNDS, prior: Any = None) -> Any:
        calls.append((start, prior))
        return start

    monkeypatch.setattr(fit, "fit_efficiency", record)
    monkeypatch.setattr(fit, "per_document", lambda job, documents: job(sorted(documents)[0]))
    moved = shifted_start(1.1)
    for run in (
        lambda: fit.fit_classes(measurements, catalog, moved),
        lambda: fit.cross_validate(measurements, catalog, only=is_sweep, start=moved),
    ):
        calls.clear()
        run()
        assert calls[0] == (moved, None), "the global class starts where it is told"
        assert len(calls) > 3 and all(prior is not None and start is prior for start, prior in calls[1:])


def test_a_class_whose_first_tokens_one_document_times_takes_its_runtimes_front_end(
    catalog: Any, measurements: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class fits its own front end only on TTFT figures of two documents or more: TensorRT-LLM's
    MoE-EP rows time no first token, so its MoE-EP classes take TensorRT-LLM's front end (its class
    with the most such documents, dense) with their other factors searched, not the front end of
    every runtime's MoE-EP rows; sariekr's gpt-oss-20b is the only document of vLLM's MoE rows on
    Hopper that times one, so that class takes vLLM's MoE class's (two documents). (Searches
    skipped: each searched front end is made the class's row count, so whose a class took shows.)"""
    import planner.bench.fit as fit

    def record(rows: Any, catalog: Any, start: Any = START, bounds: Any = BOUNDS, prior: Any = None) -> Any:
        return replace(start, frontend_ms=float(len(rows))) if "frontend_ms" in bounds else start

    monkeypatch.setattr(fit, "fit_efficiency", record)
    fits = {f.key: f for f in fit.fit_classes(measurements, catalog)}

    def front_end(key: tuple[str, str, str]) -> float:
        return fits[key].efficiency.frontend_ms

    for runtime in ("trtllm", "vllm"):
        timed = [f for f in fits.values() if f.runtime == runtime and f.generation == "*" and f.ttft_documents >= 2]
        assert max(timed, key=lambda f: f.ttft_documents).key == (runtime, "*", "dense")
        for f in timed:
            assert front_end(f.key) == f.rows, f"{f.key}: its own figures"
    untimed = [k for k in fits if k[0] == "trtllm" and k[2] == "moe-ep"]
    assert ("trtllm", "*", "moe-ep") in untimed and all(not fits[k].ttft_documents for k in untimed)
    for key in untimed:
        assert front_end(key) == front_end(("trtllm", "*", "dense")), key
    assert front_end(("*", "*", "moe-ep")) != front_end(("trtllm", "*", "dense")), "every runtime's MoE-EP class"
    assert fits[("vllm", "hopper", "moe-tp")].ttft_documents == 1
    assert fits[("vllm", "*", "moe-tp")].ttft_documents == 2
    assert front_end(("vllm", "hopper", "moe-tp")) == front_end(("vllm", "*", "moe-tp")), "one document's TTFT"


def test_the_start_spread_in_the_docs_starts_from_the_stored_fit(measurements: list[Any]) -> None:
    """The spread table's usual-start row (docs/accuracy.md) gives the held-out sweep figures of the
    shipped fit, and the README quotes the table's range: a refit that moves the figures must rerun
    ``--sweeps --start-spread``."""
    _, stored = read_residuals(HELD_OUT)
    usual = start_spread_table({"usual": stored["builtin"]}, {m.row_id: m for m in measurements})[0][1:]
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    rerun = "rerun: python benchmarks/accuracy.py --sweeps --start-spread; update the table and README's range"
    assert next(x for x in lines if x.startswith("| usual (`START`")).strip(" |").split(" | ")[1:] == usual, rerun
    ttft, itl, throughput = next(x for x in lines if x.startswith("| range |")).strip(" |").split(" | ")[1:]
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert f"give {throughput} / {itl} / {ttft} (throughput / ITL / TTFT)" in readme, rerun


def _accuracy_script(*args: str) -> subprocess.CompletedProcess[str]:
    """``benchmarks/accuracy.py`` run with ``args`` as a user runs it (a subprocess)."""
    script = str(REPO / "benchmarks" / "accuracy.py")
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=120)


def test_the_start_spread_asked_without_the_sweeps_is_one_clear_error() -> None:
    """``--start-spread`` refits the sweep folds only; asked alone it says so (exit 2, no traceback)."""
    done = _accuracy_script("--start-spread")
    assert done.returncode == 2 and "give it with --sweeps" in done.stderr and "Traceback" not in done.stderr


def test_the_start_spread_takes_the_scales_it_is_given() -> None:
    """``--start-spread 0.9,1.1`` runs those two starts; a value that is not a list of factors above 0
    other than 1 is refused with the fix."""
    assert spread_scales("0.9,1.1") == (0.9, 1.1)
    assert spread_scales("1.05") == (1.05,)
    assert spread_scales("1.1,0.9,1.1") == (1.1, 0.9), "a repeated start is fitted once"
    assert SPREAD_SCALES == (0.9, 0.95, 1.05, 1.1)
    for bad in ("", "0.9,", "abc", "0", "-0.9", "1", "0.9,1", "nan", "inf"):
        with pytest.raises(ValueError, match="above 0 other than 1"):
            spread_scales(bad)


def test_the_start_spread_with_bad_scales_is_one_clear_error() -> None:
    """A bad SCALES on the command line: exit 2 and the fix, before any fit runs, no traceback."""
    done = _accuracy_script("--sweeps", "--start-spread", "0.9,abc")
    assert done.returncode == 2 and "'0.9,abc': give factors above 0" in done.stderr
    assert "Traceback" not in done.stderr and "rows used" not in done.stdout


def test_the_start_spread_table_gives_each_start_and_the_range(catalog: Any, measurements: list[Any]) -> None:
    """Two starts whose held-out sweep TTFT is 10% and 30% off: a row each, then the range; a metric
    no run has stays '-'."""
    rows = {m.row_id: m for m in measurements}
    sweep = next(m for m in measurements if is_sweep(m))
    runs = {
        "usual": [Residual(sweep.row_id, "ttft_ms", 100.0, 110.0), Residual(sweep.row_id, "itl_ms", 10.0, 12.0)],
        "x 1.1": [Residual(sweep.row_id, "ttft_ms", 100.0, 70.0), Residual(sweep.row_id, "itl_ms", 10.0, 12.5)],
    }
    assert START_SPREAD_HEADER == ["search start", "TTFT", "ITL", "throughput"]
    assert start_spread_table(runs, rows) == [
        ["usual", "10.0%", "20.0%", "-"],
        ["x 1.1", "30.0%", "25.0%", "-"],
        ["range", "10.0-30.0%", "20.0-25.0%", "-"],
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PLANNER_TEST_CROSS_VALIDATION") != "1",
    reason="refits once per source document (12 minutes on 2 cores): set PLANNER_TEST_CROSS_VALIDATION=1; the "
    "residuals' data digest and the coverage they give are checked in every run",
)
def test_the_stored_held_out_residuals_are_what_cross_validation_gives(catalog: Any, measurements: list[Any]) -> None:
    """Refits once per source document (minutes): the residuals behind the docs' coverage are today's."""
    from planner.bench.fit import cross_validate

    _, held = read_residuals(HELD_OUT)
    stored = held["builtin"]
    fresh = cross_validate(measurements, catalog)
    assert [(r.row_id, r.metric) for r in fresh] == [(r.row_id, r.metric) for r in stored], REGENERATE
    for new, old in zip(fresh, stored, strict=True):
        assert new.predicted == pytest.approx(old.predicted, rel=1e-9), REGENERATE


def test_a_row_runs_on_the_runtime_it_names_not_on_its_benchmark_client(measurements: list[Any]) -> None:
    """dstack measured vLLM and TensorRT-LLM servers with SGLang's bench_serving: the client named
    in the runtime column must not make them SGLang (its scheduling, KV rule and fit class)."""
    by_id = {m.row_id: m for m in measurements}
    assert by_id["1720"].harness == "vLLM (vllm serve, ROCm; dstack-modified sglang bench_serving)"
    assert by_id["1720"].runtime_id == by_id["1738"].runtime_id == "vllm"
    assert by_id["1744"].runtime_id == "trtllm"
    assert by_id["1726"].runtime_id == by_id["1732"].runtime_id == "sglang"
    clients = {m.runtime_id for m in measurements if "sglang bench_serving" in m.harness}
    assert clients == {"vllm", "sglang", "trtllm"}


def test_a_row_on_the_runtime_default_kv_dtype_keeps_bf16_kv_beside_fp8_weights(measurements: list[Any]) -> None:
    """vLLM's, SGLang's and TensorRT-LLM's "auto" KV dtype is the activation dtype unless the
    checkpoint carries KV scales; dstack ran its servers on the default with checkpoints that
    carry none (deepseek-ai's FP8, meta-llama's FP8), while AMD's FP8-KV checkpoints and the
    vendors' blank columns quantise the KV cache with the weights."""
    by_id = {m.row_id: m for m in measurements}
    deepseek_vllm, deepseek_sglang, deepseek_trtllm, llama_meta = (by_id[i] for i in ("1738", "1732", "1744", "1775"))
    for row in (deepseek_vllm, deepseek_sglang, deepseek_trtllm, llama_meta):
        assert (row.weights_dtype, row.kv_dtype) == ("fp8", "bf16"), row.row_id
    llama_amd_fp8_kv, rocm_blog_vllm = by_id["1792"], by_id["1200"]
    assert llama_amd_fp8_kv.kv_dtype == rocm_blog_vllm.kv_dtype == "fp8"


def test_a_median_itl_is_compared_with_the_median_gap(catalog: Any, measurements: list[Any]) -> None:
    """A source's median ITL (the median of all gaps: vLLM's ``vllm bench serve``, silybench) is the
    plain decode step where prompt chunks stretch a minority of the gaps, below the mean gap that
    spreads the chunks over every gap; a mean ITL (SGLang's cookbook) is compared with the mean, and
    a median over requests of each request's mean gap (GuideLLM) is a mean gap."""
    from planner.bench.predict import deployment_for, predict_measurement
    from planner.sizing.estimate import closed_loop

    by_id = {m.row_id: m for m in measurements}
    silybench, cookbook, guidellm = by_id["1981"], by_id["1409"], by_id["1473"]
    assert "itl_p50_ms" in silybench.measured and "itl_ms" not in silybench.measured
    assert "itl_ms" in cookbook.measured and "itl_p50_ms" not in cookbook.measured
    assert "itl_ms" in guidellm.measured
    eff = calibration_for(*class_key(silybench, catalog)).efficiency
    predicted = predict_measurement(silybench, catalog, eff)  # 128 in / 1,024 out at 64 clients
    # the 64 clients' loop, some of them in the front end between two requests (below the KV capacity)
    timing, _ = closed_loop(deployment_for(silybench, catalog), 64, 64, 128, 1024, AnalyticModel(fixed=eff))
    assert predicted["itl_p50_ms"] == pytest.approx(timing.decode_step_s * 1000)
    assert predicted["itl_p50_ms"] < predicted["itl_ms"] == pytest.approx(timing.itl_s * 1000)


def test_rows_measured_with_speculative_decoding_are_left_out(catalog: Any, measurements: list[Any]) -> None:
    """TensorRT-LLM's DeepSeek-R1 min-latency runs use three MTP layers; read as plain decode they
    asked the MoE-EP classes for a step 2-3x the engine's speed. The same harness's figure without
    MTP (tech blog 1, 111 tok/s a user at batch 1) stands in for them."""
    _, skipped = load_measurements(DATA, catalog)
    assert {row for row, reason in skipped if "speculative decoding" in reason} == {"116", "119"}
    plain = next(m for m in measurements if m.row_id == "1995")
    assert (plain.mode, plain.batch, plain.tp, plain.ep) == ("static", 1, 8, 4)
    assert class_key(plain, catalog) == ("trtllm", "blackwell", "moe-ep")


def test_the_fit_loss_counts_each_figure_up_to_a_factor_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    """A figure far off costs what one twice off does, but for a thousandth of the uncapped mean (a
    row the model cannot represent does not steer the factors), every figure counts (a median would
    give up a minority for free), and the loss never goes flat, so a fit that starts with every
    figure far off still moves."""
    import planner.bench.fit as fit

    def loss(*measured: float) -> float:
        figures = [fit.Residual(str(i), "output_tok_s", value, 1.0) for i, value in enumerate(measured)]
        monkeypatch.setattr(fit, "residuals", lambda *_args: figures)
        return fit.fit_loss([], catalog=None, timing=None)  # type: ignore[arg-type]

    errors = [math.log(x) for x in (1.0, 1.5, 4.0, 100.0)]
    capped = statistics.fmean(min(e, math.log(2)) for e in errors)
    assert loss(1.0, 1.5, 4.0, 100.0) == pytest.approx(capped + 0.001 * statistics.fmean(errors))
    assert loss(1.0, 1.5, 4.0, 100.0) - loss(1.0, 1.5, 4.0, 4.0) < 0.001
    assert loss(10.0, 10.0) > loss(5.0, 5.0) > loss(3.0, 3.0)


def test_early_builds_inform_only_the_general_class(catalog: Any, measurements: list[Any]) -> None:
    """dstack's DeepSeek-R1 study and SGLang v0.4.1's DeepSeek-V3 table measured engine builds from
    the models' first weeks: they enter the general class, no runtime's or configuration class's
    factors, and are predicted by the classes of current engines."""
    from planner.bench.fit import class_members

    early = [m for m in measurements if m.early_build]
    assert len(early) == 49 and {source_document(m) for m in early} == set(harness_setting("early_builds"))
    members = class_members(measurements, catalog)
    assert sum(m.early_build for m in members[("*", "*", "*")]) == len(early)
    assert not [key for key, rows in members.items() if key != ("*", "*", "*") and any(m.early_build for m in rows)]
    dstack_sglang_h200 = next(m for m in early if m.runtime_id == "sglang" and m.gpu_id == "h200-sxm")
    assert calibration_for(*class_key(dstack_sglang_h200, catalog)).key == ("*", "*", "moe-ep")


def test_early_builds_set_no_class_correction(
    catalog: Any, measurements: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiconfigurator's per-class corrections are fitted without the early builds; its ``any``
    correction, like the general class, with them."""
    import planner.bench.selection as selection

    fitted: list[set[str]] = []

    def record(rows: Any, *_args: Any) -> float:
        fitted.append({m.row_id for m in rows})
        return 0.0

    monkeypatch.setattr(selection, "covered", lambda rows, *_args: list(rows))
    monkeypatch.setattr(selection, "fit_loss", record)
    monkeypatch.setattr(selection, "coordinate_search", lambda start, _bounds, loss: (loss(start), start)[1])
    fits = selection.fit_corrections(measurements, catalog, AnalyticModel())
    early = {m.row_id for m in measurements if m.early_build}
    assert fits[0].cls == "any" and early <= fitted[0]
    assert len(fitted) == len(fits) > 1 and not any(rows & early for rows in fitted[1:])


def test_mlperf_results_are_one_document_per_round_and_submitter(measurements: list[Any]) -> None:
    """A submitter's systems in one round share harness and tuning: leaving one result file out
    while its siblings stay would let them vouch for it."""
    from dataclasses import replace

    from planner.bench.fit import source_document

    m = measurements[0]
    root = "https://github.com/mlcommons/inference_results_v5.1/blob/965182b03376a00fcae415c54e560e1c83937932"
    h200 = replace(m, source=f"{root}/closed/NVIDIA/results/H200-SXM-141GBx8_TRT/llama2-70b-99/Server/x.txt (log)")
    b200 = replace(m, source=f"{root}/closed/NVIDIA/results/B200-SXM-180GBx8_TRT/llama3.1-8b/Offline/x.txt (log)")
    amd = replace(m, source=f"{root}/closed/AMD/results/8xMI300X_2xEPYC_9575F/llama2-70b-99/Server/x.txt (log)")
    assert source_document(h200) == source_document(b200) != source_document(amd)
    assert source_document(amd).endswith("inference_results_v5.1 closed/AMD")
    blog = replace(m, source="https://github.com/o/r/blob/abc/post.md (Table 2)")
    assert source_document(blog) == "https://github.com/o/r/blob/abc/post.md"


def test_a_class_is_fitted_only_on_rows_of_three_source_documents(catalog: Any, measurements: list[Any]) -> None:
    from dataclasses import replace

    from planner.bench.fit import class_members

    trtllm = [m for m in measurements if class_key(m, catalog) == ("trtllm", "hopper", "dense")][:12]
    others = [m for m in measurements if class_key(m, catalog)[0] == "vllm"][:12]
    others = [replace(m, source=f"https://example.org/other{i % 3}.md") for i, m in enumerate(others)]
    two = [replace(m, source=f"https://example.org/doc{i % 2}.md") for i, m in enumerate(trtllm)]
    three = [replace(m, source=f"https://example.org/doc{i % 3}.md") for i, m in enumerate(trtllm)]
    assert ("trtllm", "*", "dense") not in class_members(two + others, catalog), "12 rows, but from 2 documents"
    assert ("trtllm", "*", "dense") in class_members(three + others, catalog)


def test_folds_run_in_parallel_give_what_they_give_one_after_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.bench.fit import per_document

    def job(document: str) -> list[Residual]:
        return [Residual(f"{document}-{i}", "itl_ms", float(len(document)), float(i + 1)) for i in range(3)]

    documents = [f"doc{'x' * n}" for n in range(7)]
    monkeypatch.setenv("PLANNER_FIT_WORKERS", "1")
    serial = per_document(job, documents)
    monkeypatch.setenv("PLANNER_FIT_WORKERS", "2")
    assert per_document(job, documents) == serial
    assert [r.row_id for r in serial[:4]] == ["doc-0", "doc-1", "doc-2", "docx-0"]


def test_a_quick_cross_validation_holds_out_only_the_documents_asked_for(
    catalog: Any, measurements: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--sweeps`` holds out the concurrency-sweep documents only, and a fold predicts the figures
    the full run stored for it (so it is fitted on every other document, sweep or not)."""
    import planner.bench.fit as fit

    sweep_documents = {source_document(m) for m in measurements if is_sweep(m)}
    seen: list[str] = []

    def one_fold(job: Any, documents: list[str]) -> list[Residual]:
        seen.extend(documents)
        picked = sorted(documents)[0]  # one fold run for real: the one the full run also has
        return job(picked)

    monkeypatch.setattr(fit, "per_document", one_fold)
    quick = fit.cross_validate(measurements, catalog, only=is_sweep)
    assert set(seen) == sweep_documents and len(seen) == len(sweep_documents)
    _, stored = read_residuals(HELD_OUT)
    full = {(r.row_id, r.metric): r.predicted for r in stored["builtin"]}
    assert quick and all(r.predicted == pytest.approx(full[(r.row_id, r.metric)], rel=1e-9) for r in quick)


def test_a_closed_loop_replay_shares_clients_and_queues_beyond_capacity(catalog: Any, measurements: list[Any]) -> None:
    """Concurrency counts the clients of the whole system; those beyond what a replica holds wait
    (Little's law, as ``planner estimate`` adds it), which a benchmark's TTFT includes; each client's
    request spends the front end's latency outside the engine on every loop."""
    from dataclasses import replace

    from planner.bench.predict import _concurrency_cap, deployment_for, predict_measurement
    from planner.sizing.efficiency import Efficiency
    from planner.sizing.steady_state import steady_state

    eff = Efficiency(0.5, 0.7, 0.4, 1.0, frontend_ms=30.0)
    m = next(m for m in measurements if m.mode == "concurrency" and m.replicas == 1 and not m.requests)
    dep = deployment_for(m, catalog)
    cap = _concurrency_cap(dep, m.isl + m.osl)
    full = predict_measurement(replace(m, batch=cap), catalog, eff)
    beyond = predict_measurement(replace(m, batch=3 * cap), catalog, eff)
    t = steady_state(dep, cap, m.isl, m.osl, AnalyticModel(fixed=eff))
    # beyond its capacity the engine runs full and a client waits the rest of its loop: 3 x cap clients
    # complete cap / engine E2E a second, so each waits 3 engine E2Es less the engine's and the front end's
    assert beyond["ttft_ms"] == pytest.approx((t.ttft_s + 2 * t.engine_e2e_s - 0.030) * 1000)
    assert beyond["output_tok_s"] == pytest.approx(t.output_tok_s)
    # at its capacity a few clients are in the front end between two requests: the engine runs fewer
    assert full["output_tok_s"] < beyond["output_tok_s"]
    assert full["output_tok_s"] == pytest.approx(beyond["output_tok_s"], rel=0.05)
    shared = predict_measurement(replace(m, batch=2 * (m.batch or 1), replicas=2), catalog, eff)
    alone = predict_measurement(m, catalog, eff)
    assert shared["output_tok_s"] == pytest.approx(2 * alone["output_tok_s"])
    assert shared["ttft_ms"] == pytest.approx(alone["ttft_ms"]) and shared["itl_ms"] == pytest.approx(alone["itl_ms"])


def test_a_median_ttft_is_replayed_as_the_models_median(catalog: Any, measurements: list[Any]) -> None:
    """Where the source gives a median TTFT the row is fitted on it, against the model's median (the
    p50 over the requests); a mean against the model's mean. SGLang's cookbook, Llama-3.1-70B on 8 A100
    at 16 clients of 3,750-token prompts: the prefill runs that queue some prompts put the median 11%
    below the mean there (shipped factors)."""
    from planner.bench.predict import _concurrency_cap, deployment_for, predict_measurement
    from planner.bench.ttft_floor import mean_ttft_reading
    from planner.sizing.estimate import closed_loop

    m = next(m for m in measurements if m.row_id == "1422")
    assert m.measured["ttft_ms"] == m.ttft_median_ms == pytest.approx(531.82) and m.ttft_mean_ms == 603.42
    dep, eff = deployment_for(m, catalog), calibration_for(*class_key(m, catalog)).efficiency
    timing, queued = closed_loop(dep, m.batch, _concurrency_cap(dep, m.isl + m.osl), m.isl, m.osl, AnalyticModel(eff))
    median, mean = timing.ttft_at_percentile_s(50) + queued, timing.ttft_s + queued
    assert median < 0.95 * mean
    assert predict_measurement(m, catalog, eff)["ttft_ms"] == pytest.approx(median * 1000)
    (as_mean,) = mean_ttft_reading([m])
    assert predict_measurement(as_mean, catalog, eff)["ttft_ms"] == pytest.approx(mean * 1000)


def test_an_open_loop_replay_runs_the_batch_littles_law_gives(catalog: Any, measurements: list[Any]) -> None:
    from planner.bench.predict import _concurrency_cap, _solve_rate, deployment_for

    m = next(m for m in measurements if m.mode == "rate" and m.rate_per_s)
    dep = deployment_for(m, catalog)
    model = AnalyticModel(fixed=calibration_for(*class_key(m, catalog)).efficiency)
    cap = _concurrency_cap(dep, m.isl + m.osl)
    for rate in (0.2, 1.0, 4.0, 1e6):
        timing = _solve_rate(dep, rate, m.isl, m.osl, cap, model)
        target = min(max(rate * timing.engine_e2e_s, 1.0), cap)
        assert timing.batch == pytest.approx(target, rel=0.011), rate


def test_an_open_loop_run_that_fell_behind_is_judged_on_its_throughput_only(
    catalog: Any, measurements: list[Any]
) -> None:
    """Its queue grew through the run, so its TTFT depends on how long the run lasted, and so did
    its running batch and with it the gaps between tokens."""
    from dataclasses import replace

    from planner.bench.predict import KEPT_UP_SHARE, fell_behind, predict_measurement

    m = next(m for m in measurements if m.mode == "rate" and m.rate_per_s and "ttft_ms" in m.measured)
    eff = calibration_for(*class_key(m, catalog)).efficiency
    offered = m.rate_per_s * m.osl
    kept_up = replace(m, measured=m.measured | {"output_tok_s": 0.9 * offered})
    behind = replace(m, measured=m.measured | {"output_tok_s": 0.5 * offered})
    assert not fell_behind(kept_up) and fell_behind(behind) and KEPT_UP_SHARE == 0.8
    assert {"ttft_ms", "itl_ms", "itl_p50_ms"} <= set(predict_measurement(kept_up, catalog, eff))
    assert set(predict_measurement(behind, catalog, eff)) == {"output_tok_s", "total_tok_s"}
    dsv3 = [m for m in measurements if "benchmark_dsv3" in m.source]  # SGLang v0.4.1 at 1-8 requests/s
    assert len(dsv3) == 4 and all(fell_behind(m) and "itl_p50_ms" in m.measured for m in dsv3)


def test_the_bands_leave_out_the_latencies_of_runs_the_model_puts_past_capacity(
    catalog: Any, measurements: list[Any], tmp_path: Path
) -> None:
    """Where even the replica's full batch could not carry the offered rate by the model's own timing,
    the queue it predicts grows with the run's length: Mixtral-8x7B on MI300X at MLPerf's Server rate
    is predicted a TTFT of 104 s against 758 ms measured. The replay still compares every figure
    (the accuracy tables keep the capacity error), but the error bands, read around an operating
    point that lies within capacity, leave out its latencies (they set vLLM's MoE TTFT band at
    0.006-1.5 of the point). A quarter of the rate it carries."""
    from planner.bench.coverage import write_residuals
    from planner.bench.fit import band_evidence, residuals
    from planner.bench.predict import PAST_CAPACITY, _concurrency_cap, _solve_rate, deployment_for, past_capacity

    m = next(m for m in measurements if m.row_id == "1251")
    assert m.mode == "rate" and {"ttft_ms", "itl_ms", "output_tok_s"} <= set(m.measured)
    eff = calibration_for(*class_key(m, catalog)).efficiency
    dep, model = deployment_for(m, catalog), AnalyticModel(fixed=eff)
    cap = _concurrency_cap(dep, m.isl + m.osl)
    rate = m.rate_per_s / m.replicas
    assert past_capacity(rate, _solve_rate(dep, rate, m.isl, m.osl, cap, model), cap)
    assert not past_capacity(rate / 4, _solve_rate(dep, rate / 4, m.isl, m.osl, cap, model), cap)
    found = residuals([m], catalog, lambda _m: eff)
    assert {r.metric for r in found} >= {"ttft_ms", "itl_ms", "output_tok_s"} and all(r.past_capacity for r in found)
    assert next(r for r in found if r.metric == "ttft_ms").ratio < 0.05
    # its latencies leave the band evidence (its throughput, at a set rate, never was: an echo of the load)
    assert band_evidence(found, [m]) == []
    unmarked = [replace(r, past_capacity=False) for r in found]
    assert {r.metric for r in band_evidence(unmarked, [m])} >= {"ttft_ms", "itl_ms"}
    slower = replace(m, rate_per_s=m.rate_per_s / 4)
    assert not any(r.past_capacity for r in residuals([slower], catalog, lambda _m: eff))
    assert PAST_CAPACITY not in m.measured
    path = tmp_path / "held.csv"
    write_residuals(path, {"builtin": found}, REPO / "benchmarks" / "data" / "calibration.csv")
    assert read_residuals(path)[1]["builtin"] == found, "the stored residuals keep the mark"
    # the shipped residuals carry it, and the catalog's bands were built without those latencies
    _, stored = read_residuals(HELD_OUT)
    assert any(r.past_capacity and r.metric == "ttft_ms" for r in stored["builtin"])


def test_a_backends_figure_is_judged_against_the_backends_own_band(catalog: Any, measurements: list[Any]) -> None:
    """A backend that predicts four times the built-in model's figures gets bands from its own
    held-out figures (ratios a quarter of the built-in model's), which hold its figures about as
    often as the built-in model's hold the built-in model's; had its figures been shown the
    built-in model's band, far fewer would land inside (the check would catch it)."""
    _, held_out = read_residuals(HELD_OUT)
    builtin = held_out["builtin"]
    slow = [replace(r, predicted=4 * r.predicted) for r in builtin]
    mine = {c.group: c for c in band_coverage(measurements, builtin, catalog, "slow", slow)}
    plain = {c.group: c for c in band_coverage(measurements, builtin, catalog)}
    by_id = {m.row_id: m for m in measurements}
    for group, found in mine.items():
        assert found.backend == "slow" and found.figures == plain[group].figures > 100
        assert found.share >= 0.8, group
        figures = [r for r in band_evidence(slow, measurements) if METRIC_GROUP[r.metric] == group]
        shown = [band_for(*class_key(by_id[r.row_id], catalog), group)[0].apply(r.predicted) for r in figures]
        naive = sum(low <= r.measured <= high for r, (low, high) in zip(figures, shown, strict=True)) / len(figures)
        assert naive < found.share - 0.15, group


def test_a_backend_that_answers_like_the_builtin_model_is_checked_on_its_bands() -> None:
    """Where auto (or a fallback) took the built-in model's figure, the figure is the built-in
    model's and takes its band; only the figures another backend answered build the backend's."""
    builtin = [Residual("a", "itl_ms", 10.0, 9.0), Residual("b", "itl_ms", 10.0, 11.0)]
    found = [Residual("a", "itl_ms", 10.0, 9.0), Residual("b", "itl_ms", 10.0, 12.0)]
    assert answered_by_other(found, builtin) == [found[1]]
    assert answered_by_other(builtin, builtin) == []


def test_the_backends_stored_bands_rest_on_the_figures_each_backend_answered(
    catalog: Any, measurements: list[Any]
) -> None:
    """The bands in backends.yaml are the stored held-out residuals' percentiles over the figures
    the backend answered, less echoes of the offered load, as the built-in model's bands are: so a
    band of `auto` says how far its own figures land (where the built-in model answers, its band is
    shown), and an open-loop run's offered load does not narrow a throughput band."""
    _, held_out = read_residuals(HELD_OUT)
    builtin = held_out["builtin"]
    classes = {m.row_id: measurement_class(m, catalog) for m in measurements}
    documents = {m.row_id: source_document(m) for m in measurements}
    stored = corrections._stored_tables()["bands"]
    expected = {}
    for backend, found in (
        ("aiconfigurator", held_out["aiconfigurator"]),
        ("auto", held_out["auto (catalog choices)"]),
    ):
        evidence = backend_band_evidence(found, builtin, measurements)
        for cls in (*CLASSES, "any") if backend != "auto" else CLASSES:
            mine = [r for r in evidence if cls in ("any", classes[r.row_id])]
            expected[(backend, cls)] = ratio_bands(mine, documents)
    assert {key: stored.get(key, {}) for key in expected} == expected, REGENERATE
    # auto answers MoE-EP with the built-in model alone: no band of its own there
    assert expected[("auto", "moe-ep")] == {}
    by_id = {m.row_id: m for m in measurements}
    echoes = [r for r in builtin if echoes_offered_load(by_id[r.row_id], r.metric)]
    assert echoes and not {(r.row_id, r.metric) for r in echoes} & {
        (r.row_id, r.metric) for r in backend_band_evidence(held_out["auto (catalog choices)"], builtin, measurements)
    }

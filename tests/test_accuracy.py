"""Accuracy against published measurements: the calibrated catalog meets its targets on
the calibration file, and the fit is per class, reproducible, and honest about held-out rows."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from planner.bench.calibration import CalibrationFileError, load_measurements
from planner.bench.fit import METRIC_GROUP, Residual, class_key, fit_efficiency, ratio_bands, residuals
from planner.sizing.efficiency import calibration_for, calibrations
from tests.conftest import REPO

DATA = REPO / "benchmarks" / "data" / "calibration.csv"
TARGETS = {"throughput": 15.0, "itl": 20.0, "ttft": 20.0}


@pytest.fixture(scope="module")
def measurements(catalog: Any) -> list[Any]:
    rows, skipped = load_measurements(DATA, catalog)
    assert len(rows) >= 90, skipped
    return rows


def test_catalog_factors_meet_the_targets(catalog: Any, measurements: list[Any]) -> None:
    found = residuals(measurements, catalog, lambda m: calibration_for(*class_key(m, catalog)).efficiency)
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


def test_missing_or_malformed_calibration_file(catalog: Any, tmp_path: Path) -> None:
    with pytest.raises(CalibrationFileError, match="cannot read"):
        load_measurements(tmp_path / "none.csv", catalog)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,model\n1,Llama-3.1-8B\n")
    with pytest.raises(CalibrationFileError, match="lacks columns"):
        load_measurements(bad, catalog)


def test_builtin_throughput_within_12_percent_for_dense_and_moe_alike(catalog: Any, measurements: list[Any]) -> None:
    found = residuals(measurements, catalog, lambda m: calibration_for(*class_key(m, catalog)).efficiency)
    moe = {m.row_id for m in measurements if catalog.models.get(m.model_id).moe}
    for kind, members in (
        ("dense", [r for r in found if r.row_id not in moe]),
        ("moe", [r for r in found if r.row_id in moe]),
    ):
        errors = [r.abs_pct for r in members if METRIC_GROUP[r.metric] == "throughput"]
        assert len(errors) >= 20, kind
        assert statistics.median(errors) <= 12.0, f"{kind}: median {statistics.median(errors):.1f}%"


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

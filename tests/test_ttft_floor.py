"""The TTFT floor diagnosis (planner/bench/ttft_floor.py, benchmarks/ttft_floor.py): how close a
front end alone could bring the sweeps' TTFT, found on rows whose front ends are known."""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from planner.bench.accuracy_tables import is_sweep
from planner.bench.calibration import load_measurements
from planner.bench.fit import residuals, shipped_factors, source_document
from planner.bench.ttft_floor import (
    FRONTEND_GRID_MS,
    document_front_ends,
    mean_ttft_reading,
    pooled_median,
    runtime_front_ends,
)
from tests.conftest import REPO

DATA = REPO / "benchmarks" / "data" / "calibration.csv"


@pytest.fixture(scope="module")
def sweeps(catalog: Any) -> list[Any]:
    rows, _ = load_measurements(DATA, catalog)
    return [m for m in rows if is_sweep(m) and "ttft_ms" in m.measured]


def _planted(rows: list[Any], catalog: Any, front_end_ms: float) -> list[Any]:
    """``rows`` whose measured TTFT is what the shipped factors predict with ``front_end_ms``."""
    shipped = shipped_factors(catalog)
    predicted = {
        r.row_id: r.predicted
        for r in residuals(rows, catalog, lambda m: replace(shipped(m), frontend_ms=front_end_ms))
        if r.metric == "ttft_ms"
    }
    return [replace(m, measured={"ttft_ms": predicted[m.row_id]}) for m in rows if m.row_id in predicted]


def test_each_documents_planted_front_end_is_found_and_its_runtimes_others_give_the_held_out_one(
    catalog: Any, sweeps: list[Any]
) -> None:
    """Three vLLM documents given front ends of 80, 20 and 40 ms: each one's best is its own (no
    error left), and each is held out with the median of the other two, which leaves an error."""
    by_document: dict[str, list[Any]] = {}
    for m in sweeps:
        if m.family == "vllm":
            by_document.setdefault(source_document(m), []).append(m)
    documents = sorted(by_document)[:3]
    assert len(documents) == 3, by_document.keys()
    planted = dict(zip(documents, (80, 20, 40), strict=True))
    rows = [m for d in documents for m in _planted(by_document[d], catalog, planted[d])]
    found = {d.document: d for d in document_front_ends(rows, catalog, shipped_factors(catalog))}
    assert {d: found[d].best_ms for d in documents} == planted
    assert all(max(found[d].best_errors) < 0.01 for d in documents)
    others = [found[d].others_ms for d in documents]
    assert others == [30, 60, 50], "the others' median: 30, 60, 50 (all on the grid)"
    assert all(statistics.median(found[d].others_errors) > 1 for d in documents), "held out, an error is left"
    assert pooled_median(list(found.values()), lambda d: d.best_errors) < 0.01


def test_one_front_end_per_runtime_is_found_and_leaves_what_its_documents_disagree_on(
    catalog: Any, sweeps: list[Any]
) -> None:
    """Two SGLang documents planted with 40 ms each take 40 ms and no error; two vLLM documents planted
    with 20 and 80 ms share one front end, which leaves an error on one of them."""
    by_document: dict[tuple[str, str], list[Any]] = {}
    for m in sweeps:
        by_document.setdefault((m.family, source_document(m)), []).append(m)
    sglang = sorted(d for d in by_document if d[0] == "sglang")[:2]
    vllm = sorted(d for d in by_document if d[0] == "vllm")[:2]
    planted = {sglang[0]: 40, sglang[1]: 40, vllm[0]: 20, vllm[1]: 80}
    rows = [m for d, front_end in planted.items() for m in _planted(by_document[d], catalog, front_end)]
    found = {r.family: r for r in runtime_front_ends(rows, catalog, shipped_factors(catalog))}
    assert set(found) == {"sglang", "vllm"}
    assert found["sglang"].best_ms == 40 and max(found["sglang"].errors) < 0.01
    assert found["sglang"].documents == 2 and found["vllm"].documents == 2
    assert found["vllm"].best_ms in (20, 80), "the median figure's document sets it"
    assert max(found["vllm"].errors) > 5 and min(found["vllm"].errors) < 0.01, "documents that disagree leave an error"
    vllm_rows = len(by_document[vllm[0]]) + len(by_document[vllm[1]])
    assert len(found["vllm"].errors) == vllm_rows


def test_the_grid_reaches_past_the_largest_fitted_front_end(catalog: Any) -> None:
    """A front end above every class's fitted one can be found (the grid does not cap the diagnosis)."""
    from planner.sizing.efficiency import calibrations

    largest = max(c.efficiency.frontend_ms for c in calibrations())
    assert FRONTEND_GRID_MS[0] == 0 and FRONTEND_GRID_MS[-1] > largest


def test_the_loader_reads_the_median_and_the_mean_reading_the_mean(sweeps: list[Any]) -> None:
    """Rows with a median TTFT are fitted on it (the loader reads it first); the mean reading takes the
    source's mean where it gives one, predicted as a mean (no median left); other rows are the same object."""
    assert all(m.measured["ttft_ms"] == m.ttft_median_ms for m in sweeps if m.ttft_median_ms is not None)
    read = mean_ttft_reading(sweeps)
    with_mean = [(m, r) for m, r in zip(sweeps, read, strict=True) if m.ttft_mean_ms is not None]
    without = [(m, r) for m, r in zip(sweeps, read, strict=True) if m.ttft_mean_ms is None]
    assert with_mean and without
    assert all(r.measured["ttft_ms"] == m.ttft_mean_ms and r.ttft_median_ms is None for m, r in with_mean)
    assert any(m.measured["ttft_ms"] != r.measured["ttft_ms"] for m, r in with_mean), "the median was read first"
    assert all(r is m for m, r in without)


def test_the_script_prints_both_readings_with_their_floors() -> None:
    """``benchmarks/ttft_floor.py`` as a user runs it: both readings, each with its two pooled figures."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "ttft_floor.py")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "TTFT read as the median where the source gives one (as fitted):" in done.stdout
    assert "TTFT read as the mean where the source gives one:" in done.stdout
    assert done.stdout.count("each document's own best front end") == 2
    assert done.stdout.count("one front end per runtime, chosen on all its documents' figures (in sample):") == 2
    assert "    sglang: " in done.stdout and "    vllm: " in done.stdout
    assert "https://github.com/sgl-project/sgl-cookbook/" in done.stdout


@pytest.mark.parametrize("script", ["ttft_floor.py", "accuracy.py"])
def test_a_missing_calibration_file_is_one_clear_error(script: str, tmp_path: Any) -> None:
    """``--data`` naming no file: exit 2, the file and the fix, no traceback."""
    missing = tmp_path / "nothing.csv"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--data", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"error: cannot read {missing}" in done.stderr and "fix: check the path" in done.stderr
    assert "Traceback" not in done.stderr

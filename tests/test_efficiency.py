"""Error bands: the point always lies inside its band, and thin evidence widens the band and says so."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.performance_models import BUILTIN
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import (
    DEFAULT_BAND,
    SOLID_BAND_DOCUMENTS,
    SOLID_BAND_ROWS,
    Band,
    Calibration,
    Efficiency,
    band_for,
    widened_if_thin,
)
from planner.sizing.estimate import estimate

RATIO = st.floats(min_value=0.05, max_value=20.0, allow_nan=False)


@given(low=RATIO, high=RATIO, value=st.floats(min_value=1e-3, max_value=1e7, allow_nan=False))
def test_a_band_always_contains_its_point(low: float, high: float, value: float) -> None:
    band = Band(min(low, high), max(low, high), 10)
    lower, upper = band.apply(value)
    assert lower <= value <= upper
    assert lower == pytest.approx(value * min(band.low, 1.0))
    assert upper == pytest.approx(value * max(band.high, 1.0))


def _class(runtime: str, generation: str, kind: str, band: Band) -> Calibration:
    return Calibration(runtime, generation, kind, Efficiency(0.5, 0.8, 0.3, 1.0), band.rows, {"ttft": band})


def test_a_thin_class_widens_toward_its_broader_class_and_says_why() -> None:
    """4 of the 11 figures a solid band rests on: each end moves 7/11 of the way to the broader
    class's where that is outward (the low end), and stays where it is not (the high end)."""
    thin = _class("vllm", "cdna3", "dense", Band(2.3, 3.0, 4))
    broad = _class("*", "*", "dense", Band(0.76, 2.98, 45))
    band, label = band_for("vllm", "cdna3", "dense", "ttft", (thin, broad))
    assert band.low == pytest.approx(4 / 11 * 2.3 + 7 / 11 * 0.76)
    assert band.high == 3.0
    assert "only 4 held-out figures" in label and "widened toward * x * x dense" in label and "36% its own" in label


def test_a_solid_class_keeps_its_own_band() -> None:
    solid = _class("vllm", "cdna3", "dense", Band(0.9, 1.2, SOLID_BAND_ROWS))
    broad = _class("*", "*", "dense", Band(0.5, 3.0, 45))
    band, label = band_for("vllm", "cdna3", "dense", "ttft", (solid, broad))
    assert (band.low, band.high) == (0.9, 1.2)
    assert "widened" not in label and "biased" not in label


def test_a_band_from_few_documents_widens_and_says_why() -> None:
    """Many figures from one or two harnesses are not many independent samples."""
    few = _class("sglang", "hopper", "moe-ep", Band(0.9, 1.2, 30, SOLID_BAND_DOCUMENTS - 1))
    broad = _class("*", "*", "moe-ep", Band(0.7, 1.6, 40, SOLID_BAND_DOCUMENTS))
    band, label = band_for("sglang", "hopper", "moe-ep", "ttft", (few, broad))
    share = (SOLID_BAND_DOCUMENTS - 1) / SOLID_BAND_DOCUMENTS
    assert band.low == pytest.approx(share * 0.9 + (1 - share) * 0.7)
    assert band.high == pytest.approx(share * 1.2 + (1 - share) * 1.6)
    assert f"from only 30 held-out figures of {SOLID_BAND_DOCUMENTS - 1} documents: widened" in label


def test_a_broader_class_from_few_documents_is_no_refuge() -> None:
    """Widening skips a broader class that is itself thin, up to one that is not."""
    thin = _class("sglang", "hopper", "moe-ep", Band(0.9, 1.1, 4, 1))
    also_thin = _class("sglang", "*", "moe-ep", Band(0.95, 1.05, 20, 2))
    solid = _class("*", "*", "moe-ep", Band(0.6, 1.5, 40, SOLID_BAND_DOCUMENTS))
    band, label = band_for("sglang", "hopper", "moe-ep", "ttft", (thin, also_thin, solid))
    share = 1 / SOLID_BAND_DOCUMENTS  # (one document of 11; its 4 figures are more of 11)
    assert band.low == pytest.approx(share * 0.9 + (1 - share) * 0.6)
    assert band.high == pytest.approx(share * 1.1 + (1 - share) * 1.5)
    assert "* x * x moe-ep" in label


def test_thin_evidence_with_nothing_broader_widens_toward_a_factor_of_two() -> None:
    thin = _class("vllm", "cdna3", "dense", Band(1.1, 1.3, 3))
    band, label = band_for("vllm", "cdna3", "dense", "ttft", (thin,))
    assert band.low == pytest.approx(3 / 11 * 1.1 + 8 / 11 * DEFAULT_BAND.low)
    assert band.high == pytest.approx(3 / 11 * 1.3 + 8 / 11 * DEFAULT_BAND.high)
    assert "a factor of two" in label


@given(
    low=RATIO,
    high=RATIO,
    rows=st.integers(min_value=3, max_value=40),
    documents=st.integers(min_value=1, max_value=20),
    broad_low=RATIO,
    broad_high=RATIO,
)
def test_a_thin_band_only_widens_and_the_less_so_the_more_evidence_it_has(
    low: float, high: float, rows: int, documents: int, broad_low: float, broad_high: float
) -> None:
    """Thin evidence never narrows a band: the widened band holds the class's own; it reaches the
    broader band's ends only with no evidence at all, and a solid band keeps its own."""
    own = Band(min(low, high), max(low, high), rows, documents)
    broader = Band(min(broad_low, broad_high), max(broad_low, broad_high), 45, SOLID_BAND_DOCUMENTS)
    band, _ = widened_if_thin(own, "the class", (broader, "the broader class"))
    assert band.low <= own.low and band.high >= own.high
    assert band.low >= min(own.low, broader.low) - 1e-12 and band.high <= max(own.high, broader.high) + 1e-12
    if not own.thin:
        assert (band.low, band.high) == (own.low, own.high)
    more = Band(own.low, own.high, rows + 11, documents + 11)
    widened_more_evidence, _ = widened_if_thin(more, "the class", (broader, "the broader class"))
    assert band.low <= widened_more_evidence.low + 1e-12 and band.high >= widened_more_evidence.high - 1e-12


def test_a_biased_class_says_so() -> None:
    biased = _class("vllm", "cdna3", "dense", Band(1.4, 2.0, 30))
    band, label = band_for("vllm", "cdna3", "dense", "ttft", (biased,))
    assert "biased" in label
    assert band.apply(100.0) == pytest.approx((100.0, 200.0))


def test_a_thin_backend_band_widens_to_the_builtin_band(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner import performance_models

    thin = (0.95, 1.05, 3, None, "auto x moe-tp (3 held-out figures)")
    monkeypatch.setattr(performance_models, "correction_band", lambda _backend, _cls, _group: thin)
    dep = _deployment(catalog, CONFIGS[3])
    auto = catalog.performance_model("auto")
    band, label = performance_models.error_band(auto, object(), dep, "itl")  # type: ignore[arg-type]
    builtin, _ = performance_models.error_band(BUILTIN, BUILTIN, dep, "itl")
    assert band.low == pytest.approx(min(0.95, 3 / 11 * 0.95 + 8 / 11 * builtin.low))
    assert band.high == pytest.approx(max(1.05, 3 / 11 * 1.05 + 8 / 11 * builtin.high))
    assert "from only 3 held-out figures: widened toward the built-in model's band" in label


#: Deployments spanning dense, MoE-TP and MoE-EP, NVIDIA and AMD, three runtimes and four formats.
CONFIGS = [
    ("llama-3.3-70b", "mi300x", "vllm", "fp8", 2, 1, False),  # the demo plan's answer
    ("llama-3.1-8b", "h100-sxm", "vllm", "bf16", 1, 1, False),
    ("llama-3.1-70b", "h200-sxm", "trtllm", "fp8", 4, 1, False),
    ("qwen3-30b-a3b", "h100-sxm", "sglang", "bf16", 1, 1, False),
    ("deepseek-r1", "h200-sxm", "sglang", "fp8", 8, 8, False),
    ("deepseek-r1", "b200", "trtllm", "nvfp4", 1, 8, True),
    ("gpt-oss-120b", "mi355x", "vllm", "mxfp4", 1, 1, False),
]


def _deployment(catalog: Any, config: tuple[str, str, str, str, int, int, bool]) -> Deployment:
    model, gpu, runtime, weights, tp, ep, attention_dp = config
    return Deployment(
        catalog.models.get(model),
        catalog.gpus.get(gpu),
        catalog.runtimes.get(runtime),
        weights,
        "fp8",
        tp=tp,
        ep=ep,
        attention_dp=attention_dp,
    )


@settings(max_examples=25, deadline=None)
@given(
    config=st.sampled_from(CONFIGS),
    isl=st.integers(min_value=64, max_value=8000),
    osl=st.integers(min_value=16, max_value=2000),
    concurrency=st.integers(min_value=1, max_value=256),
)
def test_every_point_estimate_lies_inside_its_band(
    catalog: Any, config: tuple[str, str, str, str, int, int, bool], isl: int, osl: int, concurrency: int
) -> None:
    est = estimate(_deployment(catalog, config), isl, osl, model=BUILTIN, concurrency=concurrency)
    if est.timing is None:
        return
    for metric in ("ttft_ms", "itl_ms", "e2e_ms", "output_tok_s", "total_tok_s"):
        low, high = est.bands[metric]
        value = est.metrics()[metric]
        assert low <= value <= high, (metric, config, low, value, high)

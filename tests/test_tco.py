"""The first cost model (planner/tco.py): yearly cost and EUR per 1M output tokens by hand."""

from __future__ import annotations

from typing import Any

import pytest

from planner.catalogfiles import load_entries
from planner.specs import GpuSpec, PriceHint
from planner.tco import SECONDS_PER_YEAR, CostAssumptions, default_costs, eur_per_million_tokens, yearly_cost_eur

COSTS = CostAssumptions(eur_per_kwh=0.2, pue=1.5, amortisation_years=4, server_overhead_fraction=0.25, utilisation=0.5)


def priced(catalog: Any, eur: float = 20_000.0, tdp_w: float = 500.0) -> GpuSpec:
    hint = PriceHint(eur=eur, estimate=True, source="https://example.org/quote")
    return catalog.gpus.get("h100-sxm").model_copy(update={"price": hint, "tdp_w": tdp_w})


def test_yearly_cost_is_amortised_hardware_plus_energy(catalog: Any) -> None:
    gpu = priced(catalog)
    hardware = 8 * 20_000 * 1.25 / 4  # GPUs x price x (1 + server overhead) / years
    energy = 8 * 0.5 * 1.5 * 8760 * 0.2  # GPUs x kW x PUE x hours x EUR/kWh
    assert yearly_cost_eur(gpu, 8, COSTS) == pytest.approx(hardware + energy)
    assert yearly_cost_eur(gpu, 16, COSTS) == pytest.approx(2 * (hardware + energy))


def test_eur_per_million_tokens_from_throughput_and_utilisation(catalog: Any) -> None:
    gpu = priced(catalog)
    yearly = yearly_cost_eur(gpu, 8, COSTS)
    assert yearly is not None
    tokens_a_year = 10_000 * SECONDS_PER_YEAR * 0.5
    assert eur_per_million_tokens(gpu, 8, 10_000, COSTS) == pytest.approx(yearly / tokens_a_year * 1e6)
    assert eur_per_million_tokens(gpu, 8, 20_000, COSTS) == pytest.approx(
        eur_per_million_tokens(gpu, 8, 10_000, COSTS) / 2
    )  # type: ignore[operator]


def test_no_price_or_no_throughput_means_no_cost(catalog: Any) -> None:
    unpriced = catalog.gpus.get("h100-sxm").model_copy(update={"price": None})
    assert yearly_cost_eur(unpriced, 8, COSTS) is None
    assert eur_per_million_tokens(unpriced, 8, 10_000, COSTS) is None
    assert eur_per_million_tokens(priced(catalog), 8, 0.0, COSTS) is None


def test_defaults_come_from_the_sourced_catalog_file(catalog: Any) -> None:
    entry = load_entries("costs/defaults.yaml")[0]
    costs = default_costs()
    assert costs.eur_per_kwh == entry["eur_per_kwh"] and costs.pue == entry["pue"]
    assert costs.amortisation_years == entry["amortisation_years"] and costs.utilisation == entry["utilisation"]
    assert set(entry["field_sources"]) == {"eur_per_kwh", "pue", "amortisation_years", "server_overhead_fraction",
                                           "utilisation"}  # fmt: skip
    gpu = priced(catalog)
    assert yearly_cost_eur(gpu, 4) == pytest.approx(yearly_cost_eur(gpu, 4, costs))

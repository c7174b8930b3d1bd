"""The cost model (planner/tco.py) by hand: every line, EUR per token, the alternatives, break-even,
the plan's inputs over the catalog's sourced defaults, and what search ranks by kept as it was."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from planner.catalogfiles import load_entries
from planner.plan_costs import CostInputs
from planner.specs import GpuSpec, PriceHint
from planner.tco import (
    HOURS_PER_YEAR,
    SCALAR_INPUTS,
    SECONDS_PER_YEAR,
    api_eur_per_million_output,
    assumption_table,
    break_even_utilisation,
    cost_assumptions,
    cost_lines,
    default_costs,
    energy_kwh_per_year,
    eur_per_gpu_year,
    eur_per_million_tokens,
    eur_per_node_year,
    rented_eur_per_year,
    server_eur_per_gpu,
    yearly_cost_eur,
)
from tests.test_catalog_sources import numbers

COSTS = replace(
    default_costs(), eur_per_kwh=0.2, pue=1.5, amortisation_years=4, server_overhead_fraction=0.25, utilisation=0.5
)


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
    assert cost_lines(unpriced, 8, 1, COSTS) is None and server_eur_per_gpu(unpriced, COSTS) is None
    assert eur_per_million_tokens(priced(catalog), 8, 0.0, COSTS) is None


def test_defaults_come_from_the_sourced_catalog_file(catalog: Any) -> None:
    entry = load_entries("costs/defaults.yaml")[0]
    costs = default_costs()
    for key, _, _ in SCALAR_INPUTS:
        assert getattr(costs, key) == entry[key], key
    assert set(entry["field_sources"]) == set(numbers(entry)), "every default cites its own source"
    gpu = priced(catalog)
    assert yearly_cost_eur(gpu, 4) == pytest.approx(yearly_cost_eur(gpu, 4, costs))


def test_what_search_ranks_by_is_the_first_cost_model_to_the_last_bit(catalog: Any) -> None:
    """Without a `costs` section every plan's EUR per 1M tokens is exactly what the first model gave."""
    c = default_costs()
    priced_gpus = [g for g in catalog.gpus.specs() if g.price is not None]
    assert len(priced_gpus) >= 5
    for gpu in priced_gpus:
        for gpus in (1, 7, 24, 130):
            hardware = gpus * gpu.price.eur * (1 + c.server_overhead_fraction) / c.amortisation_years
            energy = gpus * gpu.tdp_w / 1000 * c.pue * 8760 * c.eur_per_kwh
            assert yearly_cost_eur(gpu, gpus) == hardware + energy, gpu.id
            first = (hardware + energy) / (1234.5 * SECONDS_PER_YEAR * c.utilisation) * 1e6
            assert eur_per_million_tokens(gpu, gpus, 1234.5) == first


def test_every_cost_line_by_hand(catalog: Any) -> None:
    gpu = priced(catalog, eur=20_000, tdp_w=500)
    c = replace(
        COSTS,
        residual_value_fraction=0.2,
        load_factor=0.8,
        server_power_overhead_fraction=0.5,
        network_eur_per_node=10_000,
        storage_eur_per_node=2_000,
        hosting_eur_per_kw_year=1_000,
        hosting_eur_per_rack_unit_year=100,
        rack_units_per_node=8,
        licences_eur_per_gpu_year=300,
        support_eur_per_gpu_year=700,
        operations_fte_per_gpu=0.01,
        operations_eur_per_fte_year=90_000,
    )
    lines = cost_lines(gpu, 16, 2, c)
    assert lines is not None
    gpu_power = 16 * 0.5 * 1.5 * 8760 * 0.2 * 0.8
    expected = {
        "gpu_servers": 16 * 20_000 * 1.25 * 0.8 / 4,
        "network": 2 * 10_000 * 0.8 / 4,
        "storage": 2 * 2_000 * 0.8 / 4,
        "gpu_power": gpu_power,
        "server_power": gpu_power * 0.5,
        "hosting": 16 * 0.5 * 1.5 * 1_000 + 2 * 8 * 100,
        "licences": 16 * 300,
        "support": 16 * 700,
        "operations": 16 * 0.01 * 90_000,
    }
    assert lines.as_dict() == pytest.approx(expected)
    assert lines.total == pytest.approx(sum(expected.values()))
    assert lines.ranked == pytest.approx(expected["gpu_servers"] + expected["gpu_power"])
    assert energy_kwh_per_year(gpu, 16, c) == pytest.approx(16 * 0.5 * 1.5 * 8760 * 0.8 * 1.5)
    per_gpu, per_node = eur_per_gpu_year(gpu, c), eur_per_node_year(c)
    assert per_gpu is not None and 16 * per_gpu + 2 * per_node == pytest.approx(lines.total), "lines scale linearly"


def test_a_server_quote_replaces_the_price_hint(catalog: Any) -> None:
    gpu = priced(catalog, eur=20_000)
    quoted = replace(COSTS, server_price_eur={gpu.id: 240_000.0})
    assert server_eur_per_gpu(gpu, COSTS) == pytest.approx(20_000 * 1.25)
    assert server_eur_per_gpu(gpu, quoted) == pytest.approx(240_000 / gpu.gpus_per_node)
    lines = cost_lines(gpu, 16, 2, quoted)
    assert lines is not None and lines.gpu_servers == pytest.approx(16 * 30_000 / 4)
    unpriced = gpu.model_copy(update={"price": None})
    assert yearly_cost_eur(unpriced, 8, quoted) is not None, "a quote prices a GPU the catalog does not"


def test_renting_and_the_api_and_where_owning_breaks_even(catalog: Any) -> None:
    gpu = priced(catalog)
    c = replace(
        COSTS,
        rented_eur_per_gpu_hour={gpu.id: 2.0},
        api_eur_per_million_input_tokens=0.5,
        api_eur_per_million_output_tokens=1.5,
    )
    assert rented_eur_per_year(gpu, 10, c) == pytest.approx(10 * 8760 * 0.5 * 2.0), "hours the load uses"
    assert rented_eur_per_year(gpu, 10, replace(c, rented_eur_per_gpu_hour={})) is None
    assert api_eur_per_million_output(20, c) == pytest.approx(20 * 0.5 + 1.5), "input tokens ride on each output"
    assert api_eur_per_million_output(20, replace(c, api_eur_per_million_input_tokens=None)) is None
    assert break_even_utilisation(50_000, 100_000) == pytest.approx(0.5)
    assert break_even_utilisation(50_000, None) is None and break_even_utilisation(50_000, 0.0) is None


def test_a_plans_costs_override_the_catalog_and_say_so(catalog: Any) -> None:
    inputs = CostInputs(
        eur_per_kwh=0.3, utilisation=0.8, server_price_eur={"h100-sxm": 300_000.0}, api_eur_per_million_input_tokens=2
    )
    costs = cost_assumptions(inputs, "llama-3.3-70b")
    default = cost_assumptions(None, "llama-3.3-70b")
    assert costs.eur_per_kwh == 0.3 and costs.utilisation == 0.8 and costs.pue == default.pue
    assert costs.api_eur_per_million_input_tokens == 2
    assert costs.api_eur_per_million_output_tokens == default.api_eur_per_million_output_tokens == 0.8096
    assert costs.from_plan == {
        "eur_per_kwh",
        "utilisation",
        "server_price_eur.h100-sxm",
        "api_eur_per_million_input_tokens",
    }
    h100 = catalog.gpus.get("h100-sxm")
    rows = {a.key: a for a in assumption_table(costs, h100, "llama-3.3-70b")}
    assert rows["eur_per_kwh"].origin == "plan" and rows["eur_per_kwh"].source == "the plan's costs section"
    assert rows["pue"].origin == "catalog" and rows["pue"].source.startswith("https://")
    assert (
        rows["server_price_eur"].value == 300_000 and rows["server_price_eur"].plan_field == "server_price_eur.h100-sxm"
    )
    assert rows["rented_eur_per_gpu_hour"].origin == "catalog" and rows["rented_eur_per_gpu_hour"].value == 3.67
    assert rows["gpu_price_eur"].value == h100.price.eur and rows["gpu_price_eur"].plan_field == ""
    assert all(r.source for r in rows.values() if r.origin == "catalog"), "every catalog default has a source"


def test_rented_and_api_prices_are_per_gpu_class_and_per_model(catalog: Any) -> None:
    costs = cost_assumptions(None, "deepseek-r1")
    assert costs.api_eur_per_million_input_tokens is None, "no API price known for this model"
    for entry in load_entries("costs/rented.yaml"):
        gpu = catalog.gpus.get(entry["id"])
        assert costs.rent(gpu) == entry["eur_per_gpu_hour"] and gpu.id == entry["id"], "ids are catalog GPU ids"
    models = {m.id for m in catalog.models.specs()}
    assert {e["id"] for e in load_entries("costs/api.yaml")} <= models, "ids are catalog model ids"
    assert math.isclose(cost_assumptions(None, "gpt-oss-120b").api_eur_per_million_output_tokens or 0, 0.552)
    assert HOURS_PER_YEAR == 8760 and SECONDS_PER_YEAR == HOURS_PER_YEAR * 3600

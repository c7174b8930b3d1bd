"""Cost per token: a first TCO model, EUR per 1M output tokens from the fleet's throughput.

yearly cost = GPUs x price x (1 + server overhead) / amortisation years
            + GPUs x TDP x PUE x 8760 h x EUR/kWh
EUR per 1M tokens = yearly cost / (fleet output tokens/s x seconds per year x utilisation) x 1e6

The throughput is the closed-loop capacity the sizing predicts at the operating point
(the replicas carrying load, spares excluded), the planner's estimate of Cr_closed.
GPU prices are the catalog's hints (estimates); the other assumptions come from
``catalogs/costs/defaults.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from planner.catalogfiles import load_entries
from planner.specs import GpuSpec

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class CostAssumptions:
    """Inputs of the cost model other than the GPU's own price and power."""

    eur_per_kwh: float
    pue: float
    amortisation_years: float
    server_overhead_fraction: float
    utilisation: float


@cache
def default_costs() -> CostAssumptions:
    """The default assumptions from the catalog."""
    entry = load_entries("costs/defaults.yaml")[0]
    return CostAssumptions(
        eur_per_kwh=float(entry["eur_per_kwh"]),
        pue=float(entry["pue"]),
        amortisation_years=float(entry["amortisation_years"]),
        server_overhead_fraction=float(entry["server_overhead_fraction"]),
        utilisation=float(entry["utilisation"]),
    )


def yearly_cost_eur(gpu: GpuSpec, gpus: int, costs: CostAssumptions | None = None) -> float | None:
    """Hardware amortisation plus energy for ``gpus`` GPUs a year; None without a price hint."""
    if gpu.price is None:
        return None
    c = costs or default_costs()
    hardware = gpus * gpu.price.eur * (1 + c.server_overhead_fraction) / c.amortisation_years
    energy = gpus * gpu.tdp_w / 1000 * c.pue * 8760 * c.eur_per_kwh
    return hardware + energy


def eur_per_million_tokens(
    gpu: GpuSpec, gpus: int, output_tok_s: float, costs: CostAssumptions | None = None
) -> float | None:
    """EUR per 1M output tokens for a fleet of ``gpus`` delivering ``output_tok_s``."""
    yearly = yearly_cost_eur(gpu, gpus, costs)
    if yearly is None or output_tok_s <= 0:
        return None
    c = costs or default_costs()
    return yearly / (output_tok_s * SECONDS_PER_YEAR * c.utilisation) * 1e6

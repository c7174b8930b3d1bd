"""The plan's ``costs:`` section: the assumptions of the cost model, each optional.

A field left out takes the catalog's sourced default (``catalogs/costs/``), so a plan
without the section is priced exactly as the catalog says; ``planner plan`` and the JSON
show which value came from where. Units live in the field names (``eur_per_kwh``,
``hosting_eur_per_kw_year``); fractions are written 0-1. Quotes and rented prices are per
GPU class, keyed by a GPU id or alias (the plan may leave the GPU open and the search
prices every class it tries).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Eur = Annotated[float, Field(ge=0)]
PositiveEur = Annotated[float, Field(gt=0)]


class CostInputs(BaseModel):
    """Cost assumptions of a plan; every field defaults to the catalog's sourced value."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    # Owned hardware and its life
    server_price_eur: dict[str, PositiveEur] = Field(
        default_factory=dict,
        description="Your quote per GPU server (GPUs, CPUs, memory, NICs), by GPU id, e.g. {h100-sxm: 310000}; "
        "else the catalog's GPU price hint x (1 + server_overhead_fraction) per GPU.",
    )
    server_overhead_fraction: float | None = Field(
        default=None, ge=0, le=10, description="Server cost beyond the GPUs, as a share of the GPU price hint."
    )
    network_eur_per_node: Eur | None = Field(default=None, description="Switch ports, NICs and cables per node.")
    storage_eur_per_node: Eur | None = Field(default=None, description="Storage bought per node beyond the server.")
    amortisation_years: float | None = Field(
        default=None, gt=0, le=20, description="Years owned hardware is written off over."
    )
    residual_value_fraction: float | None = Field(
        default=None, ge=0, lt=1, description="Resale value at the end of amortisation, as a share of the price."
    )
    # Power and hosting
    eur_per_kwh: float | None = Field(default=None, gt=0, le=10, description="Electricity price, EUR per kWh.")
    pue: float | None = Field(default=None, ge=1, le=5, description="Power usage effectiveness of the facility.")
    load_factor: float | None = Field(
        default=None, gt=0, le=2, description="Average GPU draw as a share of its TDP while the fleet runs."
    )
    server_power_overhead_fraction: float | None = Field(
        default=None, ge=0, le=5, description="What a server draws beyond its GPUs, as a share of the GPUs' TDP."
    )
    hosting_eur_per_kw_year: Eur | None = Field(
        default=None, description="Colocation or facility cost per kW of nameplate power a year (energy excluded)."
    )
    hosting_eur_per_rack_unit_year: Eur | None = Field(default=None, description="Facility cost per rack unit a year.")
    rack_units_per_node: float | None = Field(default=None, ge=0, le=100, description="Rack units one node takes.")
    # Software, support and people
    licences_eur_per_gpu_year: Eur | None = Field(default=None, description="Software licences per GPU a year.")
    support_eur_per_gpu_year: Eur | None = Field(default=None, description="Hardware support contract per GPU a year.")
    operations_fte_per_gpu: float | None = Field(
        default=None, ge=0, le=1, description="Operations staff (full-time equivalents) per GPU."
    )
    operations_eur_per_fte_year: Eur | None = Field(default=None, description="Loaded cost of one FTE a year.")
    # Use and horizon
    utilisation: float | None = Field(
        default=None, gt=0, le=1, description="Share of the year the fleet serves at its operating point (0-1)."
    )
    horizon_years: int | None = Field(default=None, ge=1, le=10, description="Years the growth view covers.")
    # Alternatives
    rented_eur_per_gpu_hour: dict[str, PositiveEur] = Field(
        default_factory=dict, description="Rented price per GPU-hour by GPU id, e.g. {h100-sxm: 2.4}."
    )
    api_eur_per_million_input_tokens: Eur | None = Field(
        default=None, description="A hosted API's price per 1M input tokens for the plan's model."
    )
    api_eur_per_million_output_tokens: Eur | None = Field(
        default=None, description="A hosted API's price per 1M output tokens for the plan's model."
    )

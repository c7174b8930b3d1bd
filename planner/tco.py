"""Cost per token: the TCO model of an owned fleet, and the rented and per-token API alternatives.

Every input is a plan field (:class:`~planner.plan_costs.CostInputs`) with a sourced default
in ``catalogs/costs/``. A fleet of G GPUs in N nodes costs, a year:

==============  =====================================================================
GPU servers     G x server cost per GPU x (1 - residual value) / amortisation years;
                server cost per GPU = your quote / GPUs per node, else the catalog's
                price hint x (1 + server overhead)
network         N x network per node x (1 - residual value) / amortisation years
storage         N x storage per node x (1 - residual value) / amortisation years
GPU power       G x TDP kW x PUE x 8760 h x EUR/kWh x load factor
server power    GPU power x server power overhead (CPUs, memory, fans beyond the GPUs)
hosting         G x TDP kW x (1 + server power overhead) x EUR per kW-year
                + N x rack units per node x EUR per rack unit-year
licences        G x licences per GPU-year
support         G x support per GPU-year
operations      G x operations FTE per GPU x EUR per FTE-year
==============  =====================================================================

EUR per 1M tokens = yearly cost / (tokens/s at Cr_closed x seconds a year x utilisation) x 1e6.
Renting is priced by the GPU-hour for the hours the load uses (GPUs x 8760 h x utilisation x
EUR per GPU-hour) and the API by the token, so owning wins above a break-even utilisation:
owned yearly cost / the alternative's yearly cost at full use.

``planner plan`` and ``planner search`` rank candidates by the GPU servers and GPU power lines
alone (:func:`yearly_cost_eur`, :func:`eur_per_million_tokens`): the other lines need the
fleet's nodes and are the same for every candidate of a GPU class but for their scale.
Everything here is a pure function of its arguments; the fleet and throughput come from
the sizing (:mod:`planner.plan_tco`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from planner.catalogfiles import load_entries
from planner.plan_costs import CostInputs
from planner.specs import GpuSpec

SECONDS_PER_YEAR = 365 * 24 * 3600
HOURS_PER_YEAR = 8760


@dataclass(frozen=True)
class CostAssumptions:
    """Every input of the cost model other than the GPU's own price, power and the fleet.

    Quotes and rented prices are by GPU id; API prices are those of the plan's model
    (``None`` where neither the plan nor the catalog gives one). ``from_plan`` names the
    fields the plan set (the rest are catalog defaults).
    """

    eur_per_kwh: float
    pue: float
    amortisation_years: float
    server_overhead_fraction: float
    utilisation: float
    load_factor: float
    residual_value_fraction: float
    server_power_overhead_fraction: float
    network_eur_per_node: float
    storage_eur_per_node: float
    hosting_eur_per_kw_year: float
    hosting_eur_per_rack_unit_year: float
    rack_units_per_node: float
    licences_eur_per_gpu_year: float
    support_eur_per_gpu_year: float
    operations_fte_per_gpu: float
    operations_eur_per_fte_year: float
    horizon_years: int
    server_price_eur: Mapping[str, float] = field(default_factory=dict)
    rented_eur_per_gpu_hour: Mapping[str, float] = field(default_factory=dict)
    api_eur_per_million_input_tokens: float | None = None
    api_eur_per_million_output_tokens: float | None = None
    from_plan: frozenset[str] = frozenset()

    def server_quote(self, gpu: GpuSpec) -> float | None:
        """Your quote per server of ``gpu``, when the plan gives one."""
        return self.server_price_eur.get(gpu.id)

    def rent(self, gpu: GpuSpec) -> float | None:
        """EUR per GPU-hour to rent ``gpu`` (the plan's price, else the catalog's), or ``None``."""
        return self.rented_eur_per_gpu_hour.get(gpu.id)


#: The scalar inputs: (field, label, unit), in the order the workbook and the command line show them.
SCALAR_INPUTS: tuple[tuple[str, str, str], ...] = (
    ("server_overhead_fraction", "Server cost beyond the GPUs (share of the GPU price hint)", "fraction"),
    ("network_eur_per_node", "Network: switch ports, NICs, cables", "EUR per node"),
    ("storage_eur_per_node", "Storage beyond the server", "EUR per node"),
    ("amortisation_years", "Amortisation", "years"),
    ("residual_value_fraction", "Residual value at the end of amortisation", "fraction"),
    ("eur_per_kwh", "Electricity price", "EUR per kWh"),
    ("pue", "Power usage effectiveness (PUE)", "ratio"),
    ("load_factor", "GPU draw as a share of TDP", "fraction"),
    ("server_power_overhead_fraction", "Server draw beyond the GPUs (share of GPU TDP)", "fraction"),
    ("hosting_eur_per_kw_year", "Hosting per kW of nameplate power", "EUR per kW-year"),
    ("hosting_eur_per_rack_unit_year", "Hosting per rack unit", "EUR per RU-year"),
    ("rack_units_per_node", "Rack units per node", "RU"),
    ("licences_eur_per_gpu_year", "Software licences", "EUR per GPU-year"),
    ("support_eur_per_gpu_year", "Hardware support", "EUR per GPU-year"),
    ("operations_fte_per_gpu", "Operations staff", "FTE per GPU"),
    ("operations_eur_per_fte_year", "Operations staff cost", "EUR per FTE-year"),
    ("utilisation", "Utilisation: share of the year at the operating point", "fraction"),
    ("horizon_years", "Horizon of the growth view", "years"),
)


@cache
def _catalog_entry() -> dict[str, Any]:
    return load_entries("costs/defaults.yaml")[0]


@cache
def _catalog_prices(name: str) -> dict[str, dict[str, Any]]:
    """Entries of ``costs/<name>.yaml`` by id (rented prices by GPU, API prices by model)."""
    return {entry["id"]: entry for entry in load_entries(f"costs/{name}.yaml")}


def catalog_source(key: str) -> str:
    """The public source of the catalog default of the scalar input ``key``."""
    entry = _catalog_entry()
    return str(entry.get("field_sources", {}).get(key, entry["source"]))


def rented_source(gpu_id: str) -> str | None:
    """The source of the catalog's rented price for ``gpu_id``, or ``None`` without one."""
    entry = _catalog_prices("rented").get(gpu_id)
    return str(entry["source"]) if entry else None


def api_source(model_id: str) -> str | None:
    """The source of the catalog's API prices for ``model_id``, or ``None`` without them."""
    entry = _catalog_prices("api").get(model_id)
    return str(entry["source"]) if entry else None


def cost_assumptions(inputs: CostInputs | None = None, model_id: str | None = None) -> CostAssumptions:
    """The plan's cost inputs over the catalog defaults.

    :param inputs: the plan's ``costs`` section (its GPU keys already resolved to catalog ids).
    :param model_id: the plan's model, whose API prices the catalog may give.
    """
    given = _given(inputs)
    entry = _catalog_entry()
    scalars: dict[str, Any] = {key: given.get(key, entry[key]) for key, _, _ in SCALAR_INPUTS}
    rented = {gpu: float(e["eur_per_gpu_hour"]) for gpu, e in _catalog_prices("rented").items()}
    rented.update(given.get("rented_eur_per_gpu_hour", {}))
    api = _catalog_prices("api").get(model_id or "", {})
    return CostAssumptions(
        **{key: float(value) for key, value in scalars.items() if key != "horizon_years"},
        horizon_years=int(scalars["horizon_years"]),
        server_price_eur=dict(given.get("server_price_eur", {})),
        rented_eur_per_gpu_hour=rented,
        api_eur_per_million_input_tokens=given.get(
            "api_eur_per_million_input_tokens", api.get("eur_per_million_input_tokens")
        ),
        api_eur_per_million_output_tokens=given.get(
            "api_eur_per_million_output_tokens", api.get("eur_per_million_output_tokens")
        ),
        from_plan=frozenset(_plan_keys(given)),
    )


def _plan_keys(given: dict[str, Any]) -> list[str]:
    """The inputs the plan set; per-GPU prices as ``field.gpu-id``."""
    keys = []
    for key, value in given.items():
        keys += [f"{key}.{gpu}" for gpu in value] if isinstance(value, dict) else [key]
    return keys


def _given(inputs: CostInputs | None) -> dict[str, Any]:
    """The fields the plan set, with their values."""
    if inputs is None:
        return {}
    values = {key: getattr(inputs, key) for key in inputs.model_fields_set}
    return {key: value for key, value in values.items() if value is not None and value != {}}


@cache
def default_costs() -> CostAssumptions:
    """The catalog's default assumptions (no plan)."""
    return cost_assumptions(None)


# ------------------------------------------------------------ owned: per line


def server_eur_per_gpu(gpu: GpuSpec, costs: CostAssumptions) -> float | None:
    """What one GPU's share of a server costs: the quote / GPUs per node, else price hint x (1 + overhead)."""
    quote = costs.server_quote(gpu)
    if quote is not None:
        return quote / gpu.gpus_per_node
    if gpu.price is None:
        return None
    return gpu.price.eur * (1 + costs.server_overhead_fraction)


def _gpu_servers_eur(gpu: GpuSpec, gpus: int, costs: CostAssumptions) -> float | None:
    """GPU servers amortised a year; the expression of the first cost model when there is no quote."""
    quote = costs.server_quote(gpu)
    if quote is not None:
        bought = gpus * (quote / gpu.gpus_per_node)
    elif gpu.price is not None:
        bought = gpus * gpu.price.eur * (1 + costs.server_overhead_fraction)
    else:
        return None
    return bought * (1 - costs.residual_value_fraction) / costs.amortisation_years


def _gpu_power_eur(gpu: GpuSpec, gpus: int, costs: CostAssumptions) -> float:
    return gpus * gpu.tdp_w / 1000 * costs.pue * HOURS_PER_YEAR * costs.eur_per_kwh * costs.load_factor


def yearly_cost_eur(gpu: GpuSpec, gpus: int, costs: CostAssumptions | None = None) -> float | None:
    """GPU servers (amortised) plus GPU power for ``gpus`` GPUs a year: what ``plan`` and ``search``
    rank candidates by; ``None`` without a price hint or a quote."""
    c = costs or default_costs()
    servers = _gpu_servers_eur(gpu, gpus, c)
    if servers is None:
        return None
    return servers + _gpu_power_eur(gpu, gpus, c)


def eur_per_million_tokens(
    gpu: GpuSpec, gpus: int, output_tok_s: float, costs: CostAssumptions | None = None
) -> float | None:
    """EUR per 1M output tokens of GPU servers and GPU power for ``gpus`` GPUs delivering ``output_tok_s``."""
    yearly = yearly_cost_eur(gpu, gpus, costs)
    if yearly is None or output_tok_s <= 0:
        return None
    c = costs or default_costs()
    return yearly / (output_tok_s * SECONDS_PER_YEAR * c.utilisation) * 1e6


@dataclass(frozen=True)
class CostLines:
    """Yearly cost of an owned fleet, line by line, in EUR."""

    gpu_servers: float
    network: float
    storage: float
    gpu_power: float
    server_power: float
    hosting: float
    licences: float
    support: float
    operations: float

    @property
    def total(self) -> float:
        """Every line added up."""
        return sum(self.as_dict().values())

    @property
    def ranked(self) -> float:
        """GPU servers and GPU power: the part ``plan`` and ``search`` rank by."""
        return self.gpu_servers + self.gpu_power

    def as_dict(self) -> dict[str, float]:
        """Line name to EUR a year, in the order of the model."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Each line's label, in the order of :class:`CostLines`.
LINE_LABELS = {
    "gpu_servers": "GPU servers (amortised)",
    "network": "Network: switches, NICs (amortised)",
    "storage": "Storage (amortised)",
    "gpu_power": "GPU power",
    "server_power": "Server power beyond the GPUs",
    "hosting": "Hosting",
    "licences": "Software licences",
    "support": "Hardware support",
    "operations": "Operations staff",
}


def cost_lines(gpu: GpuSpec, gpus: int, nodes: int, costs: CostAssumptions) -> CostLines | None:
    """The yearly cost of ``gpus`` GPUs in ``nodes`` nodes, line by line; ``None`` without a price."""
    servers = _gpu_servers_eur(gpu, gpus, costs)
    if servers is None:
        return None
    written_off = (1 - costs.residual_value_fraction) / costs.amortisation_years
    gpu_power = _gpu_power_eur(gpu, gpus, costs)
    nameplate_kw = gpus * gpu.tdp_w / 1000 * (1 + costs.server_power_overhead_fraction)
    return CostLines(
        gpu_servers=servers,
        network=nodes * costs.network_eur_per_node * written_off,
        storage=nodes * costs.storage_eur_per_node * written_off,
        gpu_power=gpu_power,
        server_power=gpu_power * costs.server_power_overhead_fraction,
        hosting=nameplate_kw * costs.hosting_eur_per_kw_year
        + nodes * costs.rack_units_per_node * costs.hosting_eur_per_rack_unit_year,
        licences=gpus * costs.licences_eur_per_gpu_year,
        support=gpus * costs.support_eur_per_gpu_year,
        operations=gpus * costs.operations_fte_per_gpu * costs.operations_eur_per_fte_year,
    )


def energy_kwh_per_year(gpu: GpuSpec, gpus: int, costs: CostAssumptions) -> float:
    """kWh a year the GPUs and their servers draw from the grid (PUE included)."""
    return (
        gpus * gpu.tdp_w / 1000 * costs.pue * HOURS_PER_YEAR * costs.load_factor
        * (1 + costs.server_power_overhead_fraction)
    )  # fmt: skip


def eur_per_gpu_year(gpu: GpuSpec, costs: CostAssumptions) -> float | None:
    """Yearly cost of one more GPU (every line that scales with GPUs); ``None`` without a price."""
    lines = cost_lines(gpu, 1, 0, costs)
    return None if lines is None else lines.total


def eur_per_node_year(costs: CostAssumptions) -> float:
    """Yearly cost of one more node (network, storage, rack space)."""
    written_off = (1 - costs.residual_value_fraction) / costs.amortisation_years
    return (costs.network_eur_per_node + costs.storage_eur_per_node) * written_off + (
        costs.rack_units_per_node * costs.hosting_eur_per_rack_unit_year
    )


# ------------------------------------------------------------ tokens and alternatives


def tokens_per_year(tok_s: float, costs: CostAssumptions) -> float:
    """Tokens a year at ``tok_s`` for the utilisation's share of the year."""
    return tok_s * SECONDS_PER_YEAR * costs.utilisation


def eur_per_million(eur_per_year: float, tokens_a_year: float) -> float | None:
    """EUR per 1M tokens; ``None`` when no token is served."""
    return eur_per_year / tokens_a_year * 1e6 if tokens_a_year > 0 else None


def rented_eur_per_year(gpu: GpuSpec, gpus: int, costs: CostAssumptions) -> float | None:
    """The same GPUs rented for the hours the load uses; ``None`` without a rented price."""
    rent = costs.rent(gpu)
    return None if rent is None else gpus * HOURS_PER_YEAR * costs.utilisation * rent


def api_eur_per_million_output(input_per_output: float, costs: CostAssumptions) -> float | None:
    """What the API charges per 1M output tokens with their ``input_per_output`` input tokens."""
    price_in, price_out = costs.api_eur_per_million_input_tokens, costs.api_eur_per_million_output_tokens
    if price_in is None or price_out is None:
        return None
    return input_per_output * price_in + price_out


def break_even_utilisation(owned_eur_per_year: float, alternative_at_full_use_eur: float | None) -> float | None:
    """Utilisation above which owning costs less than the alternative (above 1: never)."""
    if not alternative_at_full_use_eur:
        return None
    return owned_eur_per_year / alternative_at_full_use_eur


# ------------------------------------------------------------ the assumptions as shown


@dataclass(frozen=True)
class Assumption:
    """One input as ``planner plan``, ``planner tco`` and the workbook show it.

    ``plan_field`` is how a plan sets it (``costs.`` omitted; empty when a plan cannot).
    """

    key: str
    label: str
    value: float | None
    unit: str
    origin: str
    source: str
    plan_field: str


def assumption_table(costs: CostAssumptions, gpu: GpuSpec | None, model_id: str | None) -> list[Assumption]:
    """Every input with its value, unit, origin (``plan``, ``catalog``, or ``none``) and source."""

    def origin(key: str, value: float | None) -> str:
        """Where the value of ``key`` came from."""
        return "plan" if key in costs.from_plan else ("catalog" if value is not None else "none")

    rows = [
        Assumption(
            key, label, getattr(costs, key), unit, origin(key, 0.0), _source(key, costs, catalog_source(key)), key
        )
        for key, label, unit in SCALAR_INPUTS
    ]
    if gpu is not None:
        hint = gpu.price.eur if gpu.price else None
        quote_key, rent_key = f"server_price_eur.{gpu.id}", f"rented_eur_per_gpu_hour.{gpu.id}"
        rows += [
            Assumption("gpu_price_eur", f"{gpu.id} price hint", hint, "EUR per GPU", origin("", hint),
                       gpu.price.source if gpu.price else "", ""),
            Assumption("server_price_eur", f"Your quote per {gpu.id} server ({gpu.gpus_per_node} GPUs)",
                       costs.server_quote(gpu), "EUR per server", origin(quote_key, costs.server_quote(gpu)),
                       _source(quote_key, costs, ""), quote_key),
            Assumption("rented_eur_per_gpu_hour", f"Rented {gpu.id}", costs.rent(gpu), "EUR per GPU-hour",
                       origin(rent_key, costs.rent(gpu)), _source(rent_key, costs, rented_source(gpu.id) or ""),
                       rent_key),
        ]  # fmt: skip
    api_source_text = api_source(model_id or "") or ""
    for key, label in (
        ("api_eur_per_million_input_tokens", "API price, input tokens"),
        ("api_eur_per_million_output_tokens", "API price, output tokens"),
    ):
        value = getattr(costs, key)
        source = _source(key, costs, api_source_text)
        rows.append(Assumption(key, label, value, "EUR per 1M tokens", origin(key, value), source, key))
    return rows


def _source(key: str, costs: CostAssumptions, catalog: str) -> str:
    return "the plan's costs section" if key in costs.from_plan else catalog

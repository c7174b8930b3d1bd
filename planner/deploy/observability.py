"""Prometheus alerting rules and a Grafana dashboard for the plan's SLOs.

Both are built from one list of :class:`Signal` (the PromQL, the plan's threshold and why),
so an alert and its dashboard panel never disagree. Metric names come from the runtime
catalog (``metrics``) for the deployed engine version: the latencies are quantiles at the
SLO percentile over the engine's own histograms (``histogram_quantile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.deploy.values import DeployError, DeployValues, pool_values
from planner.specs import RuntimeMetric, RuntimeSpec, in_versions

#: The window rates and quantiles are computed over, and how long a breach must last.
RATE_WINDOW = "5m"
FOR = "10m"
#: KV-cache use above this share for FOR means the next burst preempts or queues (vLLM preempts
#: running sequences when blocks run out); the sizing kept the p95 context within the cache.
KV_USAGE_ALERT = 0.9
_LATENCY = {"ttft": "time to first token", "itl": "inter-token latency", "e2e": "end-to-end latency"}


@dataclass(frozen=True)
class Signal:
    """One SLO signal: its query, the threshold from the plan, and the alert around it."""

    key: str
    title: str
    expr: str
    threshold: float
    unit: str  # a Grafana unit id: s, percentunit, short
    severity: str
    summary: str
    below: bool = False  # alert when the value falls below the threshold


def metric_for(values: DeployValues, role: str) -> RuntimeMetric:
    """The metric that plays ``role`` in the deployed engine version (see :func:`runtime_metric`)."""
    return runtime_metric(values.runtime, values.runtime_version, role)


def runtime_metric(runtime: RuntimeSpec, version: str, role: str) -> RuntimeMetric:
    """The metric that plays ``role`` in ``version`` of ``runtime``.

    :raises DeployError: when the catalog has none for that version.
    """
    for metric in runtime.metrics:
        if metric.role == role and in_versions(metric.since, metric.until, version):
            return metric
    raise DeployError(
        f"the catalog records no {role} metric that {runtime.name} {version} exports",
        path="runtime.version",
        fix=f"pin a {runtime.id} version the catalog covers (checked at {runtime.version})",
    )


def _selector(values: DeployValues, metric: RuntimeMetric) -> str:
    """Label matchers: the served model, plus the metric's own (e.g. finished_reason)."""
    matchers = [f'model_name="{values.value("served_model_name")}"']
    if metric.selector:
        matchers.append(metric.selector)
    return "{" + ",".join(matchers) + "}"


def signals(values: DeployValues) -> list[Signal]:
    """The plan's SLO signals for the deployed engine."""
    q = values.slo_percentile / 100
    out = []
    for key, target_ms in values.targets_ms.items():
        metric = metric_for(values, key)
        expr = (
            f"histogram_quantile({q:g}, sum by (le) "
            f"(rate({metric.name}_bucket{_selector(values, metric)}[{RATE_WINDOW}])))"
        )
        out.append(
            Signal(
                key,
                f"{_LATENCY[key].capitalize()} p{values.slo_percentile:g}",
                expr,
                round(target_ms / 1000, 6),
                "s",
                "critical",
                f"p{values.slo_percentile:g} {_LATENCY[key]} above the plan's SLO of {target_ms:g} ms",
            )
        )
    return out + _health_signals(values)


def _health_signals(values: DeployValues) -> list[Signal]:
    kv, waiting, running = (metric_for(values, r) for r in ("kv_usage", "waiting", "running"))
    errors, finished = metric_for(values, "errors"), metric_for(values, "finished")
    budget = round(1 - values.availability_pct / 100, 6)
    n_plus = values.replicas_for_load + values.spares
    # prefill and decode pools keep a spare each: N+1 in each pool, not N+2 for the fleet
    spared = f"N+{values.spares // 2} in each pool" if values.pools is not None else f"N+{values.spares}"
    errors_rate = f"sum(rate({errors.name}{_selector(values, errors)}[{RATE_WINDOW}]))"
    finished_rate = f"sum(rate({finished.name}{_selector(values, finished)}[{RATE_WINDOW}]))"
    serving = f"count(count by (instance) ({running.name}{_selector(values, running)}))"
    return [
        Signal(
            "kv_usage",
            "KV-cache usage (highest replica)",
            f"max({kv.name}{_selector(values, kv)})",
            KV_USAGE_ALERT,
            "percentunit",
            "warning",
            f"a replica's KV cache is above {KV_USAGE_ALERT:.0%}: the next burst queues or preempts",
        ),
        Signal(
            "waiting",
            "Requests waiting (all replicas)",
            f"sum({waiting.name}{_selector(values, waiting)})",
            0,
            "short",
            "warning",
            f"requests queue although each replica admits up to {_admitted(values)}: "
            "load is above what the fleet was sized for",
        ),
        Signal(
            "errors",
            "Error rate",
            f"({errors_rate} / clamp_min({finished_rate}, 1e-9))",
            budget,
            "percentunit",
            "critical",
            f"error rate above the availability budget ({values.availability_pct:g}% -> {budget:g})",
        ),
        Signal(
            "replicas",
            f"Serving replicas ({spared}: {n_plus})",
            serving,
            n_plus,
            "short",
            "critical",
            f"fewer than {n_plus} replicas serve ({values.replicas_for_load} carry the peak + {values.spares} spare): "
            "the next failure breaks the SLOs",
            below=True,
        ),
    ]


def _admitted(values: DeployValues) -> str:
    """The running-batch limit of a replica, each pool's where prefill and decode pools serve the load."""
    if values.pools is None:
        return str(values.value("max_sequences"))
    limits = [
        (name, pool_values(values, layout).value("max_sequences")) for name, (_, layout) in values.pools.each().items()
    ]
    return " and ".join(f"{limit} in the {name} pool" for name, limit in limits)


def alert_rules(values: DeployValues) -> dict[str, Any]:
    """A Prometheus rule file (groups of alerting rules) for the plan's SLOs."""
    rules = []
    for signal in signals(values):
        op = "<" if signal.below else ">"
        rules.append(
            {
                "alert": f"{_camel(values.name)}{_camel(signal.key)}",
                "expr": f"{signal.expr} {op} {signal.threshold:g}",
                "for": FOR,
                "labels": {"severity": signal.severity, "deployment": values.name},
                "annotations": {"summary": signal.summary, "plan": values.origin.plan_name},
            }
        )
    return {"groups": [{"name": f"{values.name}-slo", "rules": rules}]}


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("_", "-").split("-"))


def dashboard(values: DeployValues) -> dict[str, Any]:
    """A Grafana dashboard (JSON model) with one panel per signal and its SLO line."""
    panels = [_panel(i, signal) for i, signal in enumerate(signals(values))]
    return {
        "title": f"{values.origin.plan_name} ({values.runtime.name} {values.runtime_version})",
        "uid": values.name[:40],
        "description": " ".join(values.origin.lines()),
        "tags": ["planner", values.runtime.id, values.target],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def _panel(index: int, signal: Signal) -> dict[str, Any]:
    bad, good = "red", "green"
    steps = (
        [{"color": bad, "value": None}, {"color": good, "value": signal.threshold}]
        if signal.below
        else [{"color": good, "value": None}, {"color": bad, "value": signal.threshold}]
    )
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": signal.title,
        "description": signal.summary,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "targets": [{"refId": "A", "expr": signal.expr, "legendFormat": signal.key}],
        "fieldConfig": {
            "defaults": {
                "unit": signal.unit,
                "thresholds": {"mode": "absolute", "steps": steps},
                "custom": {"thresholdsStyle": {"mode": "line"}},
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
    }

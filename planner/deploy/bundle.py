"""Every generated file of one deployment, as text, and the trace that explains each value."""

from __future__ import annotations

from planner.deploy.manifests import manifests, render
from planner.deploy.observability import alert_rules, dashboard
from planner.deploy.runtime_args import flag_for, serve_command
from planner.deploy.values import DeployValues

RULES_FILE = "prometheus-rules.yaml"
DASHBOARD_FILE = "grafana-dashboard.json"
TRACE_FILE = "TRACE.md"


def bundle(values: DeployValues) -> dict[str, str]:
    """File name -> text for the target's manifests, the alert rules, the dashboard and the trace.

    :raises DeployError: when the target or the engine version cannot realise the plan.
    """
    header = values.origin.lines()
    data = {**manifests(values), RULES_FILE: alert_rules(values), DASHBOARD_FILE: dashboard(values)}
    files = {name: render(name, content, header) for name, content in data.items()}
    files[TRACE_FILE] = trace_text(values)
    return files


def trace_text(values: DeployValues) -> str:
    """A Markdown table: every setting, the engine's flag for it, its value and why."""
    command = serve_command(values)
    lines = [*(f"<!-- {line} -->" for line in values.origin.lines()), ""]
    lines += [
        f"# {values.origin.plan_name}: {values.target} with {values.runtime.name} {values.runtime_version}",
        "",
        f"Fleet: {values.replicas} replicas ({values.replicas_for_load} for the peak + {values.spares} spare) x "
        f"{values.gpus_per_replica} {values.gpu_id} = {values.gpus} GPUs on {values.nodes} node(s)."
        + (
            f" Spread them over {values.spread_nodes} nodes at least (the plan's failure domains: the spares apart "
            "and the placement its availability target needs); the Kubernetes Deployment says so with a "
            "topology spread constraint, other targets leave it to the scheduler's configuration."
            if values.spread_nodes > 1
            else ""
        ),
        "",
        f"Image: `{values.image}` ({values.image_why}).",
        "",
        "| setting | flag | value | why |",
        "|---|---|---|---|",
    ]
    for role, setting in values.settings.items():
        flag = flag_for(values.runtime, role, values.runtime_version)
        name = flag.flag if flag else "(engine default)" if role in command.skipped else "-"
        lines.append(f"| {role} | `{name}` | {setting.value} | {setting.why} |")
    return "\n".join(lines) + "\n"

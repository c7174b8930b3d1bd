"""Every generated file of one deployment, as text, and the trace that explains each value."""

from __future__ import annotations

from planner.deploy.manifests import manifests, render
from planner.deploy.observability import alert_rules, dashboard
from planner.deploy.runtime_args import flag_for, serve_command
from planner.deploy.values import DeployValues, pool_values

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
    """A Markdown table: every setting, the engine's flag for it, its value and why; one for each of
    the prefill and decode pools where they serve the load (each its own layout)."""
    lines = [*(f"<!-- {line} -->" for line in values.origin.lines()), ""]
    lines += [
        f"# {values.origin.plan_name}: {values.target} with {values.runtime.name} {values.runtime_version}",
        "",
        f"Fleet: {values.fleet_text()} on {values.nodes} node(s)." + _spread_text(values),
        "",
        f"Image: `{values.image}` ({values.image_why}).",
    ]
    if values.pools is None:
        return "\n".join([*lines, "", *_settings_table(values)]) + "\n"
    for name, (replicas, layout) in values.pools.each().items():
        own = pool_values(values, layout)
        gpus = own.gpus_per_replica
        lines += ["", f"## The {name} pool: {replicas} replicas x {gpus} GPU{'s' if gpus > 1 else ''}", ""]
        lines += _settings_table(own)
    return "\n".join(lines) + "\n"


def _settings_table(values: DeployValues) -> list[str]:
    """The settings of one replica as a Markdown table: role, the engine's flag, value, why."""
    command = serve_command(values)
    lines = ["| setting | flag | value | why |", "|---|---|---|---|"]
    for role, setting in values.settings.items():
        flag = flag_for(values.runtime, role, values.runtime_version)
        name = flag.flag if flag else "(engine default)" if role in command.skipped else "-"
        lines.append(f"| {role} | `{name}` | {setting.value} | {setting.why} |")
    return lines


#: How each target realises the spread over nodes (:func:`planner.deploy.manifests.node_spread`).
SPREAD_HOW = {
    "vllm": "the Kubernetes Deployment says so with a pod topology spread on the hostname",
    "sglang": "the Kubernetes Deployment says so with a pod topology spread on the hostname",
    "trtllm": "the Kubernetes Deployment says so with a pod topology spread on the hostname",
    "kserve": (
        "the InferenceService's predictor says so with a pod topology spread on the hostname (in KServe's "
        "Knative mode, enable kubernetes.podspec-topologyspreadconstraints in knative-serving's config-features "
        "first; the Standard mode, RawDeployment before, takes it as it is)"
    ),
    "llm-d": "each pool's extraConfig says so with a pod topology spread on the hostname, over the pods the "
    "chart labels with llm-d.ai/model and llm-d.ai/role",
    "dynamo": "each worker service's extraPodSpec says so with a pod topology spread on the hostname, over the "
    "pods its extraPodMetadata labels",
    "ray-serve": (
        "Ray Serve LLM places every replica in a placement group, which rules out Serve's max_replicas_per_node: "
        "give the RayCluster's GPU worker group one worker pod per node and a pod topology spread on the hostname "
        "(the RayCluster is not written here)"
    ),
}


def _spread_text(values: DeployValues) -> str:
    """The sentence that says how many nodes the replicas spread over, and how the target does it
    ('' where one node is spread enough)."""
    pools = values.pools
    if pools is None:
        if values.spread_nodes <= 1:
            return ""
        counts = f"Spread them over {values.spread_nodes} nodes at least"
    else:
        prefill, decode = (values.spread_nodes_for(n) for n in (pools.prefill_replicas, pools.decode_replicas))
        if max(prefill, decode) <= 1:
            return ""
        counts = f"Spread the prefill pool over {prefill} nodes at least and the decode pool over {decode}"
    return (
        f" {counts} (the plan's failure domains: the spares apart and the placement its availability target "
        f"needs); {SPREAD_HOW[values.target]}."
    )

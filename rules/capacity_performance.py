"""Capacity is not performance: two axes, sized separately, the dominant one wins."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="capacity_performance",
    concern="Capacity is not performance",
    rules=[
        Rule(
            id="axes.latency-unchecked",
            principle="Capacity ≠ Performance",
            severity="error",
            fact="slo",
            when={"$and": [{"scenario": "latency-first"}, {"bounds_latency": False}]},
            message="A latency-first plan without a TTFT or ITL target: per-replica concurrency is only "
            "validated on one axis.",
            remedy="Give slo.ttft_ms and slo.itl_ms, or declare slo.scenario throughput-first.",
            evidence=["scenario", "bounds_latency"],
        ),
        Rule(
            id="axes.dominant-constraint",
            principle="Capacity ≠ Performance",
            severity="info",
            fact="fleet",
            when={"$and": [{"axes_differ": True}, {"feasible": True}, {"served_as_pools": False}]},
            message="Memory holds {capacity_cap} sequences per replica and the SLOs hold {latency_cap}: "
            "{dominant} is the dominant constraint.",
            remedy="Choose hardware for the {dominant} axis; improving the other axis will not add capacity.",
            evidence=["capacity_cap", "latency_cap", "dominant"],
        ),
        Rule(
            id="axes.each-pools-constraint",
            principle="Capacity ≠ Performance",
            severity="info",
            fact="fleet",
            when={"$and": [{"served_as_pools": True}, {"feasible": True}]},
            message="Served as prefill and decode pools, each bound by its own axis: {pools_axes}. (A replica "
            "served aggregated would hold {latency_cap} within the SLOs, where its memory holds {capacity_cap}.)",
            remedy="Choose each pool's hardware for its own axis: more KV memory per GPU where memory binds (fewer "
            "replicas of that pool), a faster step where the SLOs bind (compute for prefill, bandwidth for decode).",
            evidence=["pools_axes", "capacity_cap", "latency_cap"],
        ),
    ],
)

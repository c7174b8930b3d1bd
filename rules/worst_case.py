"""Worst case, not average: peaks break SLOs."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="worst_case",
    concern="Worst case, not average",
    rules=[
        Rule(
            id="worst-case.only-averages",
            principle="Worst case, not average",
            severity="error",
            fact="workload",
            when={"only_averages": True},
            message="The workload gives only averages or medians (no p95), so sizing ran on a typical request.",
            remedy="Measure or negotiate p95 (and p99) input and output token counts and set them in workload.",
            evidence=["has_p95", "sizing_percentile", "context_p95"],
        ),
        Rule(
            id="worst-case.percentile-below-slo",
            principle="Worst case, not average",
            severity="error",
            fact="workload",
            when={"$and": [{"$gt": {"percentile_gap": 0}}, {"only_averages": False}]},
            message="The SLO is set at p{slo_percentile:g} but the workload only gives up to p{sizing_percentile}.",
            remedy="Add p99 input and output token counts to the workload so sizing can use the SLO's percentile.",
            evidence=["slo_percentile", "sizing_percentile"],
        ),
    ],
)

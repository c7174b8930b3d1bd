"""Observability from day 1."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="observability",
    concern="Observability from day 1",
    rules=[
        Rule(
            id="observability.no-metrics",
            principle="Observability from day 1",
            severity="warning",
            fact="observability",
            when={"$or": [{"metrics_endpoint": False}, {"dashboards": False}]},
            message="The serving stack has no metrics endpoint or no dashboards planned (stack metrics: {stack_metrics}).",
            remedy="Scrape the runtime's Prometheus /metrics (TTFT, ITL, queue, KV usage) and build dashboards "
            "before go-live: set serving_stack.observability.",
            evidence=["metrics_endpoint", "dashboards", "alerts"],
        ),
    ],
)

"""Assume that assumptions are wrong: measure, and keep overrides in a plausible range."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="assumptions",
    concern="Assume that assumptions are wrong",
    rules=[
        Rule(
            id="assumptions.no-baseline",
            principle="Assume that assumptions are wrong",
            severity="info",
            fact="baseline",
            when={"measured": False},
            message="No benchmark baseline yet: the sizing is an estimate.",
            remedy="Run {benchmark} on the deployed stack and record it in baseline.",
            evidence=["scenario"],
        ),
        Rule(
            id="assumptions.efficiency-out-of-range",
            principle="Assume that assumptions are wrong",
            severity="warning",
            fact="efficiency_override",
            when={"outside": True},
            message="The plan overrides {factor} to {value:g}, outside the calibrated range {low:g}-{high:g}.",
            remedy="Use a measured value, or remove the override to use the calibrated factor.",
            evidence=["factor", "value", "low", "high"],
        ),
    ],
)

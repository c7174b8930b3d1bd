"""Explicit provisioning headroom: the maximum of expected growth and burst absorption."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="headroom",
    concern="Explicit provisioning headroom",
    rules=[
        Rule(
            id="headroom.missing",
            principle="Explicit provisioning headroom",
            severity="error",
            fact="traffic",
            when={"$lte": {"headroom": 0}},
            message="No provisioning headroom: growth {growth:.0%}, burst factor {burst_factor:g}.",
            remedy="Set traffic.growth (e.g. 0.4 for +40% a year) and traffic.burst_factor (e.g. 1.5); "
            "headroom = max(growth, burst - 1).",
            evidence=["headroom", "growth", "burst_factor"],
        ),
        Rule(
            id="headroom.below-growth-or-burst",
            principle="Explicit provisioning headroom",
            severity="error",
            fact="traffic",
            when={"$and": [{"$gt": {"headroom_gap": 0}}, {"$gt": {"headroom": 0}}]},
            message="Headroom {headroom:.0%} is below max(growth, burst - 1) = {required_headroom:.0%}.",
            remedy="Raise traffic.provisioning_headroom to at least {required_headroom:.0%}, or remove it to use the "
            "required value.",
            evidence=["headroom", "required_headroom", "growth", "burst_factor"],
        ),
    ],
)

"""Heterogeneous fleet as a TCO lever."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="heterogeneous",
    concern="Heterogeneous fleet as a TCO lever",
    rules=[
        Rule(
            id="heterogeneous.cheaper-gpu-class",
            principle="Heterogeneous fleet as a TCO lever",
            severity="info",
            fact="gpu_class",
            when={"cheaper_found": True},
            message="The plan pins {pinned}; {alternative} meets the same SLOs {saving:.0%} cheaper per 1M tokens.",
            remedy="Consider that GPU class, or a mix of classes by request size (planner search without the pin).",
            evidence=["pinned", "alternative", "saving"],
        ),
    ],
)

"""SLOs as a validation constraint: predicted latency against the targets, with the margin."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="slo",
    concern="Workload SLOs",
    rules=[
        Rule(
            id=f"slo.{name}-breach",
            principle="Workload SLO",
            severity="error",
            fact="prediction",
            when={"$gt": {f"{name}_margin_ms": 0}},
            message=f"Predicted {label} {{{name}_ms:,.0f}} ms exceeds the p{{percentile:g}} target of "
            f"{{{name}_target_ms:,.0f}} ms by {{{name}_margin_ms:,.0f}} ms (at {{concurrency:g}} per replica).",
            remedy="More GPUs per replica, a faster GPU or lower precision; or relax the target.",
            evidence=[f"{name}_ms", f"{name}_target_ms", f"{name}_margin_ms", f"{name}_band_high_ms"],
        )
        for name, label in (("ttft", "TTFT"), ("itl", "ITL"), ("e2e", "E2E"))
    ],
)

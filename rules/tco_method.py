"""TCO, not throughput: EUR per 1M tokens from the measured closed-loop envelope."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="tco_method",
    concern="TCO, not throughput",
    rules=[
        Rule(
            id="tco.not-from-cr-closed",
            principle="TCO, not throughput",
            severity="warning",
            fact="cost",
            when={"measured": False},
            message="EUR per 1M tokens rests on {basis} throughput, not a measured Cr_closed.",
            remedy="Run a closed-loop concurrency sweep on the chosen stack and record baseline.cr_closed_output_tok_s.",
            evidence=["basis", "eur_per_1m_tokens"],
        ),
    ],
)

"""Assume that assumptions are wrong: the plan is sized, and the simulation checks the estimate."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="sizing",
    concern="Assume that assumptions are wrong",
    rules=[
        Rule(
            id="sizing.nothing-meets-the-plan",
            principle="Assume that assumptions are wrong",
            severity="error",
            fact="sizing",
            when={"feasible": False},
            message="No configuration meets the plan ({tried} tried): {why}.",
            remedy="Fix the pins named above, pin fewer choices (`planner search` shows what else is possible), "
            "or relax the SLOs; `planner plan` lists what each candidate misses.",
            evidence=["tried", "why"],
        ),
        Rule(
            id="sizing.simulation-corrected-estimate",
            principle="Assume that assumptions are wrong",
            severity="info",
            fact="sizing",
            when={"corrected": True},
            message="The analytic estimate called for {estimated_replicas} replicas; the simulation of the whole "
            "fleet at the peak settled {simulated_replicas} (the estimate was off by {off_by_pct}%){served_by}.",
            remedy="The plan uses the simulated count; a benchmark of the deployed stack (step 10) settles it.",
            evidence=["estimated_replicas", "simulated_replicas", "off_by_pct"],
        ),
    ],
)

"""Plan the exit, not just the entry: alternatives and licences."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="exit_plan",
    concern="Plan the exit",
    rules=[
        Rule(
            id="exit.not-recorded",
            principle="Plan the exit, not just the entry",
            severity="warning",
            fact="exit",
            when={"recorded": False},
            message="No exit plan: no alternative model, runtime or hardware is recorded.",
            remedy="Add exit_plan with alternative_models, alternative_runtimes and alternative_hardware.",
            evidence=["recorded"],
        ),
        Rule(
            id="exit.licence-forbids-use",
            principle="Plan the exit, not just the entry",
            severity="error",
            fact="licence",
            when={"forbids_use": True},
            message="The {license} licence of {model} does not allow this use: {reason}.",
            remedy="Choose a model whose licence allows the use case, or obtain a licence from the model's owner.",
            evidence=["license", "commercial_use", "reason"],
        ),
        Rule(
            id="exit.licence-unknown",
            principle="Plan the exit, not just the entry",
            severity="warning",
            fact="licence",
            when={"unknown": True},
            message="The licence of {model} is unknown.",
            remedy="Record the licence (planner model import --license ID) and check it allows the use case.",
            evidence=["license"],
        ),
    ],
)

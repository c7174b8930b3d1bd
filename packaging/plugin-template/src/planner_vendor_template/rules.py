"""The vendor's rule pack: advice that holds on its GPUs, checked on every plan.

Rules match the facts of :mod:`planner.facts` (``precision``, ``parallelism``,
``capacity`` ...); ``docs/rules.md`` lists their fields. Rule ids start with the pack's
name so a finding says whose advice it is.
"""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="vendor_template",
    concern="Vendor advice for the AMD Instinct MI210",
    rules=[
        Rule(
            id="vendor_template.cdna2-rocm-build",
            principle="Seams between layers",
            severity="info",
            fact="precision",
            when={"gpu": "mi210"},
            message="The {gpu} ({generation}) runs the runtime's ROCm build, serving {weights} weights and a {kv} "
            "KV cache; CDNA2 has no fp8, so fp8 weights or KV cache are not an option on it.",
            remedy="Pin the runtime image validated for ROCm on CDNA2 and benchmark it (step 10) before sizing on "
            "these estimates; keep weights and KV cache in bf16 or int8.",
            evidence=["gpu", "generation", "weights", "kv"],
        ),
    ],
)

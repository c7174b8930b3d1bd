"""Built-in rule packs, one module per concern (see docs/rules.md).

Each module defines ``PACK``, a :class:`planner.rulepack.RulePack`. The built-in
plugin ``principles`` contributes them through the ``planner_rule_packs`` hook, as a
vendor plugin contributes its own.
"""

MODULES = (
    "worst_case",
    "headroom",
    "resilience",
    "capacity_performance",
    "slo",
    "seams",
    "fabric",
    "exit_plan",
    "observability",
    "tco_method",
    "assumptions",
    "sizing",
    "heterogeneous",
)

"""N+1 failure domains (N+2 for critical workloads), and spreading them out."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="resilience",
    concern="N+1 / N+2 failure domains",
    rules=[
        Rule(
            id="resilience.cannot-lose-a-domain",
            principle="N+1 failure domain (N+2 when critical)",
            severity="error",
            fact="fleet",
            when={"$gt": {"shortfall": 0}},
            message="After losing {spares_needed} failure domain(s) only {surviving_replicas} {existing_units} "
            "remain, but the peak needs {existing_needed}.",
            remedy="Add {to_add} (more nodes), or lower the load per replica.",
            evidence=["available_replicas", "surviving_replicas", "existing_needed", "existing_units", "spares_needed"],
        ),
        Rule(
            id="resilience.one-failure-domain",
            principle="N+1 failure domain (N+2 when critical)",
            severity="warning",
            fact="fleet",
            when={"one_failure_domain": True},
            message="All {replicas} replicas sit in too few failure domains ({placement}) for a {availability_pct:g}% target.",
            remedy="Spread replicas over more nodes, racks or sites (hardware.placement: 99.9% needs two nodes, "
            "99.95% two racks, 99.99% two sites) so one failure does not take the service down.",
            evidence=["replicas", "nodes", "placement", "availability_pct"],
        ),
        Rule(
            id="resilience.spares-share-the-failure-domain",
            principle="N+1 failure domain (N+2 when critical)",
            severity="error",
            fact="fleet",
            when={"spares_share_domain": True},
            message="A critical service keeps its {spares} spare replica(s) on the one node that holds all "
            "{replicas}: one node failure takes the service and its spares down together.",
            remedy="Place the replicas on at least {spares_needed} + 1 nodes (hardware.placement: one-rack or wider) "
            "so that the spares survive what they protect against.",
            evidence=["replicas", "spares", "spares_needed", "placement", "nodes"],
        ),
    ],
)

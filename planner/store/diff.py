"""What changed between two revisions: inputs, chosen configuration, key figures, findings.

Not a judgement of which is better: it lines the two up field by field, so the architect
can say what moved and why in the revision message.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from planner.store.content import Revision, RevisionSummary

#: The figures a history line compares with the revision before.
HISTORY_FIGURES = ("gpu", "deployment", "replicas", "eur_per_1m_tokens", "errors")
#: Fields of the chosen configuration that repeat the workload (compared under inputs).
_WORKLOAD_ECHOES = ("isl", "osl")


@dataclass(frozen=True)
class Change:
    """One field that differs: its dotted path, the value before and after (``None``: absent)."""

    field: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        """``{"field", "before", "after"}``."""
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class RevisionDiff:
    """Two revisions of one project lined up section by section."""

    project: str
    before: RevisionSummary
    after: RevisionSummary
    inputs: list[Change]
    configuration: list[Change]
    figures: list[Change]
    provenance: list[Change]
    findings_added: list[dict[str, Any]]
    findings_resolved: list[dict[str, Any]]
    findings_changed: list[Change]

    @property
    def identical(self) -> bool:
        """True when no section differs."""
        sections = (self.inputs, self.configuration, self.figures, self.provenance, self.findings_changed)
        return not any(sections) and not self.findings_added and not self.findings_resolved

    def to_json(self) -> dict[str, Any]:
        """Every section, changes as ``{"field", "before", "after"}``."""
        return {
            "project": self.project,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "inputs": [c.to_json() for c in self.inputs],
            "configuration": [c.to_json() for c in self.configuration],
            "figures": [c.to_json() for c in self.figures],
            "provenance": [c.to_json() for c in self.provenance],
            "findings_added": self.findings_added,
            "findings_resolved": self.findings_resolved,
            "findings_changed": [c.to_json() for c in self.findings_changed],
        }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as ``{"a.b[0].c": leaf}``; an empty one is a leaf."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Every leaf that differs between two nested mappings, in the order the fields appear."""
    flat_before, flat_after = flatten(before), flatten(after)
    fields = list(flat_before) + [key for key in flat_after if key not in flat_before]
    return [
        Change(name, flat_before.get(name), flat_after.get(name))
        for name in fields
        if flat_before.get(name) != flat_after.get(name)
    ]


def configuration(result: dict[str, Any]) -> dict[str, Any]:
    """The chosen configuration: the deployment and its serving stack, and the prefill and decode
    pools that serve the load where the simulation chose them (the deployment is then a replica
    served aggregated); empty when none met the SLOs."""
    chosen = (result.get("sizing") or {}).get("chosen") or {}
    if not chosen:
        return {}
    deployment = dict((chosen.get("operating_point") or {}).get("deployment") or {})
    for echo in _WORKLOAD_ECHOES:
        deployment.pop(echo, None)
    stack = ((result.get("resolved") or {}).get("serving_stack") or {}).get("id")
    pools = (chosen.get("simulation") or {}).get("disaggregated") or {}
    served = (
        {
            "pools": {
                "prefill": f"{pools.get('prefill_replicas')} x {pools.get('prefill_deployment')}",
                "decode": f"{pools.get('decode_replicas')} x {pools.get('decode_deployment')}",
            }
        }
        if pools
        else {}
    )
    return {"deployment": chosen.get("deployment"), **deployment, "serving_stack": stack, **served}


def key_figures(revision: Revision) -> dict[str, Any]:
    """The figures an architect compares: fleet, cost, latency at the operating point, envelope, findings."""
    sizing = revision.result.get("sizing") or {}
    chosen = sizing.get("chosen") or {}
    performance = (chosen.get("operating_point") or {}).get("performance") or {}
    envelope = revision.result.get("envelope") or {}
    q = chosen.get("sizing_percentile") or 95
    return {
        "feasible_configurations": sizing.get("feasible"),
        "replicas": chosen.get("replicas"),
        "spares": chosen.get("spares"),
        "gpus": chosen.get("gpus"),
        "nodes": chosen.get("nodes"),
        "eur_per_1m_tokens": chosen.get("eur_per_1m_tokens"),
        "fleet_output_tok_s": chosen.get("fleet_output_tok_s"),
        "dominant_constraint": chosen.get("dominant_constraint"),
        "per_replica": (chosen.get("per_replica") or {}).get("holds"),
        # TTFT and the ITL gap at the percentile the plan was sized at (what `planner plan` prints and the
        # targets judge), then the means
        f"ttft_p{q}_ms": performance.get(f"ttft_p{q}_ms"),
        f"itl_p{q}_ms": performance.get(f"itl_p{q}_ms"),
        "ttft_ms": performance.get("ttft_ms"),
        "itl_ms": performance.get("itl_ms"),
        "e2e_ms": performance.get("e2e_ms"),
        "envelope_cr_closed": envelope.get("cr_closed"),
        "envelope_cr_open_req_s": envelope.get("cr_open_req_s"),
        "envelope_replicas": envelope.get("replicas"),
        "errors": revision.summary.errors,
        "warnings": revision.summary.warnings,
    }


def _keyed_findings(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Findings by rule id; a rule that fired twice gets ``#2`` on its second key."""
    seen: Counter[str] = Counter()
    keyed = {}
    for finding in findings:
        rule = str(finding.get("rule_id", ""))
        seen[rule] += 1
        keyed[rule if seen[rule] == 1 else f"{rule}#{seen[rule]}"] = finding
    return keyed


def diff_revisions(project: str, before: Revision, after: Revision) -> RevisionDiff:
    """Line two revisions up: what was written, what was chosen, what it gives, what the rules say."""
    old, new = _keyed_findings(before.findings), _keyed_findings(after.findings)
    changed = [
        Change(key, _brief(old[key]), _brief(new[key]))
        for key in old
        if key in new and _brief(old[key]) != _brief(new[key])
    ]
    return RevisionDiff(
        project=project,
        before=before.summary,
        after=after.summary,
        inputs=changes(before.plan, after.plan),
        configuration=changes(configuration(before.result), configuration(after.result)),
        figures=changes(key_figures(before), key_figures(after)),
        provenance=changes(_provenance(before), _provenance(after)),
        findings_added=[new[key] for key in new if key not in old],
        findings_resolved=[old[key] for key in old if key not in new],
        findings_changed=changed,
    )


def _brief(finding: dict[str, Any]) -> str:
    return f"{finding.get('severity')}: {finding.get('message')}"


def _provenance(revision: Revision) -> dict[str, Any]:
    return {"backend": revision.summary.backend, "catalog": revision.catalog}


def history_changes(before: RevisionSummary | None, after: RevisionSummary) -> list[Change]:
    """The history figures (:data:`HISTORY_FIGURES`) that differ from the revision before."""
    if before is None:
        return []
    return [
        Change(name, getattr(before, name), getattr(after, name))
        for name in HISTORY_FIGURES
        if getattr(before, name) != getattr(after, name)
    ]

"""Step 9 as user actions: write the configuration that realises a plan, check a configuration
against the plan, and order the tuning experiments."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner import __version__
from planner.deploy.bundle import bundle
from planner.deploy.check import POOL_FILES, Disagreement, config_knobs, disagreements, read_config
from planner.deploy.tuning import TuningPlan, tuning_plan
from planner.deploy.values import (
    TARGETS,
    DeployError,
    DeployValues,
    Origin,
    Pools,
    check_target,
    deploy_values,
    kubernetes_name,
    pool_values,
)
from planner.errors import PlannerError
from planner.resolve import resolve_plan
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import FleetSizing
from planner.sizing.plan_sizing import PlanSizing
from planner.validation import validate_plan
from planner.workflows.planning import nothing_sized, size
from planner.workflows.projects import PlanInput
from planner.workflows.session import Progress, Session

#: The engine servers and platforms ``deploy`` writes a configuration for.
DEPLOY_TARGETS: tuple[str, ...] = TARGETS


def origin_of(given: PlanInput) -> Origin:
    """The header every generated file carries: the plan, its project revision if any, the planner version."""
    revision = given.revision
    return Origin(
        given.plan.name, given.source, __version__, given.project,
        revision.number if revision else None, revision.digest if revision else None,
    )  # fmt: skip


def default_out(given: PlanInput, target: str) -> Path:
    """The folder ``deploy`` writes to when none is given: deploy-<plan name>-<target>."""
    return Path(f"deploy-{kubernetes_name(given.plan.name)}-{target}")


def _chosen(sizing: PlanSizing, source: str, consequence: str) -> FleetSizing:
    if sizing.best is None:
        raise nothing_sized(sizing, source, consequence)
    return sizing.best.sizing


@dataclass
class DeployReport:
    """The files written for one target and the values behind them."""

    target: str
    out: Path
    values: DeployValues
    files: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The target, the folder, the files, and every setting with its reason."""
        v = self.values
        return {
            "target": self.target,
            "out": str(self.out),
            "runtime": {"id": v.runtime.id, "version": v.runtime_version},
            "fleet": {
                "replicas": v.replicas,
                "replicas_for_load": v.replicas_for_load,
                "spares": v.spares,
                "gpus_per_replica": v.gpus_per_replica,
                "gpus": v.gpus,
                "gpu": v.gpu_id,
                "pools": {
                    name: {"replicas": replicas, "gpus_per_replica": v.pool_gpus(layout)}
                    for name, (replicas, layout) in v.pools.each().items()
                }
                if v.pools is not None
                else None,
            },
            "settings": {r: {"value": s.value, "why": s.why} for r, s in v.settings.items()},
            "files": sorted(self.files),
        }


def deploy_values_for(
    session: Session,
    given: PlanInput,
    target: str,
    *,
    image: str | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
) -> tuple[DeployValues, Any, PlanSizing]:
    """Size the plan and turn its chosen deployment into settings for ``target``."""
    check_target(given.plan, session.catalog, target)
    resolved, sizing = size(session, given.plan, given.source, backend=backend, progress=progress)
    fleet = _chosen(sizing, given.source, "no deployment to configure")
    values = deploy_values(resolved, fleet, session.catalog, target, origin_of(given), image, _pools(sizing))
    return values, resolved, sizing


def _pools(sizing: PlanSizing) -> Pools | None:
    """The prefill and decode pools the sizing decided (a spare in each, each pool's own layout where it
    differs from the chosen deployment's), if it decided any."""
    decision = sizing.best.decision if sizing.best else None
    if decision is None or decision.pools is None:
        return None
    spare = decision.spares // 2
    pools = decision.pools
    own = {
        name: pool[0] if pool[0] != decision.deployment else None
        for name, pool in (("prefill", pools.prefill), ("decode", pools.decode))
    }
    return Pools(
        pools.prefill_replicas + spare, pools.decode_replicas + spare, pools.transport, own["prefill"], own["decode"]
    )


def deploy(
    session: Session,
    given: PlanInput,
    target: str,
    out: Path,
    *,
    image: str | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
) -> DeployReport:
    """Size the plan and write the target's configuration, alert rules, dashboard and trace to ``out``.

    :param image: the engine's container image (default: the public one for the version and GPU vendor).

    :raises DeployError: naming the capability the target or engine version lacks (nothing is written).
    :raises NothingFitsError: when nothing meets the plan.
    """
    values, _, _ = deploy_values_for(session, given, target, image=image, backend=backend, progress=progress)
    files = bundle(values)
    write_files(out, files)
    return DeployReport(target, out, values, files)


def write_files(out: Path, files: dict[str, str]) -> None:
    """Write every file whole (a temporary file renamed into place), or report the folder.

    :raises PlannerError: when ``out`` cannot be created or written.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            if name.endswith(".sh"):
                os.chmod(tmp, 0o755)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, out / name)
    except OSError as exc:
        raise PlannerError(
            f"cannot write the configuration: {exc.strerror}", path=str(out), fix="choose a writable --out folder"
        ) from None


@dataclass
class ConfigCheck:
    """Where a configuration folder and the plan disagree."""

    folder: Path
    file: str
    target: str
    disagreements: list[Disagreement]
    findings: list[Any] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """True when no error-level disagreement or seam finding remains."""
        return not any(d.severity == "error" for d in self.disagreements) and not any(
            f.severity == "error" for f in self.findings
        )

    def to_json(self) -> dict[str, Any]:
        """The folder, whether it agrees, and each disagreement and seam finding."""
        return {
            "folder": str(self.folder),
            "file": self.file,
            "target": self.target,
            "agrees": self.agrees,
            "disagreements": [d.to_json() for d in self.disagreements],
            "findings": [f.model_dump(mode="json") for f in self.findings],
        }


#: The file each target writes its engine arguments to (to tell the target of a folder).
_TARGET_OF_FILE = {
    "inferenceservice.yaml": "kserve",
    "llm-d-values.yaml": "llm-d",
    "dynamo-graph.yaml": "dynamo",
    "ray-serve.yaml": "ray-serve",
}


def check_config(
    session: Session,
    given: PlanInput,
    folder: Path,
    *,
    backend: str | None = None,
    progress: Progress | None = None,
) -> ConfigCheck:
    """Compare the configuration in ``folder`` with the plan; run the plan's seam rules on its settings.

    :raises DeployError: when the folder holds no configuration `planner deploy` writes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DeployError("no such folder", path=str(folder), fix="give the folder `planner deploy --out` wrote")
    target = next((t for f, t in _TARGET_OF_FILE.items() if (folder / f).is_file()), None)
    resolved, sizing = size(session, given.plan, given.source, backend=backend, progress=progress)
    fleet = _chosen(sizing, given.source, "no configuration to check against")
    target = target or fleet.deployment.runtime.id
    values = deploy_values(resolved, fleet, session.catalog, target, origin_of(given), pools=_pools(sizing))
    found: list[Disagreement] = []
    findings: list[Any] = []
    for pool, own, layout in _checked_pools(values, folder):
        config = read_config(folder, own, pool)
        found += [replace(d, what=f"{pool} pool: {d.what}") if pool else d for d in disagreements(config, own)]
        seams = _seam_findings(session, given, _with_layout(sizing, layout), config, own)
        findings += [f for f in seams if f.model_dump() not in [g.model_dump() for g in findings]]
    return ConfigCheck(folder, config.file, target, found, findings)


def _checked_pools(values: DeployValues, folder: Path) -> list[tuple[str | None, DeployValues, Deployment | None]]:
    """What :func:`check_config` reads: the one pool of an aggregated plan, or each of the prefill and
    decode pools (its own layout and replicas, its spare included) where the folder holds pools; each
    with its layout where it differs from the chosen deployment's (None: that one)."""
    pools = values.pools
    if pools is None or not any((folder / name).is_file() for name in POOL_FILES):
        return [(None, values, None)]
    spare = values.spares // 2  # a spare in each pool

    def own(layout: Deployment | None, replicas: int) -> DeployValues:
        return replace(pool_values(values, layout), replicas=replicas, replicas_for_load=replicas - spare, spares=spare)

    return [
        ("prefill", own(pools.prefill, pools.prefill_replicas), pools.prefill),
        ("decode", own(pools.decode, pools.decode_replicas), pools.decode),
    ]


def _with_layout(sizing: PlanSizing, layout: Deployment | None) -> PlanSizing:
    """``sizing`` with its chosen deployment in a pool's own ``layout``, so that the seam rules judge
    the pool's settings by what its replicas hold (a TP 2 prefill pool admits more sequences than
    the TP 1 replica the plan chose; judged as that one, its limit read as above its KV cache)."""
    if layout is None or sizing.best is None:
        return sizing
    fleet = replace(sizing.best.sizing, deployment=layout)
    return replace(sizing, best=replace(sizing.best, sizing=fleet))


def _seam_findings(
    session: Session, given: PlanInput, sizing: PlanSizing, config: Any, values: DeployValues
) -> list[Any]:
    """The plan's seam rules, run with the configuration's settings as its runtime's knobs (the runtime
    the configuration runs: a plan that leaves it open had each knob checked against every runtime
    that has it, and vLLM's KV dtype 'fp8' refused as SGLang's)."""
    knobs = {**given.plan.runtime.knobs, **config_knobs(config, values)}
    runtime = given.plan.runtime.model_copy(update={"knobs": knobs, "id": values.runtime.id})
    edited = given.plan.model_copy(update={"runtime": runtime})
    resolved = resolve_plan(edited, session.catalog, given.source)
    validation = validate_plan(resolved, session.catalog, sizing, session.rules)
    return [f for f in validation.findings if f.rule_id.startswith("seams.")]


def tune(
    session: Session, given: PlanInput, *, backend: str | None = None, progress: Progress | None = None
) -> TuningPlan:
    """Size the plan and order step 9's one-lever-at-a-time experiments for its chosen deployment.

    :raises NothingFitsError: when nothing meets the plan.
    """
    resolved, sizing = size(session, given.plan, given.source, backend=backend, progress=progress)
    fleet = _chosen(sizing, given.source, "nothing to tune")
    version = given.plan.runtime.version or fleet.deployment.runtime.version or ""
    decision = sizing.best.decision if sizing.best is not None else None
    return tuning_plan(resolved, fleet, version, decision.pools if decision is not None else None)

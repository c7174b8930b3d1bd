"""Read a (possibly hand-edited) configuration back and say where it and the plan disagree.

The engine arguments are found wherever the target keeps them (a Deployment's container,
an InferenceService's model args, the llm-d chart's decode containers, a Dynamo worker,
Ray Serve's engine_kwargs, serve.sh) and read back into roles through the runtime catalog's
flags, so the comparison is by meaning, not by text.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planner.deploy.manifests import OPTIONS_FILE, flag_pairs, typed_word
from planner.deploy.runtime_args import flag_for, setting_flags
from planner.deploy.values import DeployError, DeployValues

#: Where each target keeps the engine arguments, in the order they are looked for.
CONFIG_FILES = (
    "deployment.yaml",
    "inferenceservice.yaml",
    "llm-d-values.yaml",
    "dynamo-graph.yaml",
    "ray-serve.yaml",
    "serve.sh",
)


#: The files of targets that write disaggregated prefill and decode pools (read pool by pool).
POOL_FILES = ("llm-d-values.yaml", "dynamo-graph.yaml")

#: Arguments the manifests add around the engine settings (model, address), not settings of the plan.
_PLATFORM_ARGS = {"--host", "--model", "--model-path", "--model_name", "--model_id"}
#: Arguments that make a worker part of a prefill or decode pool (written for disaggregated plans).
_POOL_ARGS = {
    "--is-prefill-worker",
    "--disaggregation-mode",
    "--disaggregation-transfer-backend",
    "--kv-transfer-config",
}


@dataclass(frozen=True)
class ReadConfig:
    """What a configuration folder says: engine settings by role, replicas and GPUs per replica."""

    file: str
    settings: dict[str, Any]
    replicas: int | None
    gpus_per_replica: int | None
    unknown_flags: list[str] = field(default_factory=list)
    #: The fewest nodes the file makes the replicas spread over (its pod topology spread's
    #: ``minDomains`` on the hostname, 1 without one); None where the format holds no such setting.
    spread_nodes: int | None = None


@dataclass(frozen=True)
class Disagreement:
    """One place where the configuration and the plan differ."""

    what: str
    config: Any
    plan: Any
    why: str
    severity: str = "error"  # error: the plan's sizing no longer holds; warning: differs, still within it

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"what": self.what, "config": self.config, "plan": self.plan, "why": self.why, "severity": self.severity}


def read_config(folder: Path, values: DeployValues, pool: str | None = None) -> ReadConfig:
    """Read the engine settings, replicas and GPUs from ``folder``.

    :param pool: "prefill" or "decode": that pool's workers, for targets that write disaggregated
        pools (llm-d, Dynamo); None reads the decode (or only) workers, with the replicas of both pools.
    :raises DeployError: naming the folder and the files looked for when none is there or readable.
    """
    for name in CONFIG_FILES:
        path = folder / name
        if path.is_file():
            return _read(path, values, pool)
    raise DeployError(
        "no configuration found",
        path=str(folder),
        fix=f"point at a folder written by `planner deploy` (one of {', '.join(CONFIG_FILES)})",
    )


def _load_yaml(path: Path) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise DeployError(f"cannot read it: {exc}", path=str(path), fix="fix the YAML syntax") from None


def _read(path: Path, values: DeployValues, pool: str | None) -> ReadConfig:
    if path.name == "serve.sh":
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        line = next((ln for ln in text.splitlines() if ln.startswith("exec ")), "")
        return _from_args(path, shlex.split(line)[1:], values, None, None)
    docs = _load_yaml(path)
    try:
        return _READERS[path.name](path, docs, values, pool)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DeployError(
            f"its layout is not the one `planner deploy` writes (missing {exc})",
            path=str(path),
            fix="regenerate it with `planner deploy`, then edit values only",
        ) from None


def _from_args(
    path: Path,
    args: list[str],
    values: DeployValues,
    replicas: int | None,
    gpus: int | None,
    spread_nodes: int | None = None,
) -> ReadConfig:
    flags = setting_flags(values.runtime, values.runtime_version)
    by_flag = {f.flag: (key, f) for key, f in flags.items() if f.where == "cli"}
    settings: dict[str, Any] = {}
    unknown: list[str] = []
    for flag, value in flag_pairs([a for a in args if a.startswith("--") or not a.startswith("-")]):
        name = flag.split("=", 1)[0]
        found = by_flag.get(name) or by_flag.get(name.replace("--", "--no-", 1))
        if found is None:
            if name.startswith("--") and name not in _PLATFORM_ARGS | _POOL_ARGS:
                unknown.append(name)
            continue
        key, spec = found
        settings[key] = _role_value(spec.style, value)
    options = path.parent / OPTIONS_FILE
    if options.is_file():
        settings |= _from_options(_load_yaml(options)[0] or {}, values)
    return ReadConfig(path.name, settings, replicas, gpus, unknown, spread_nodes)


def _role_value(style: str, value: Any) -> Any:
    if style == "inverted":
        return not value
    return value


def _from_options(options: dict[str, Any], values: DeployValues) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, flag in setting_flags(values.runtime, values.runtime_version).items():
        if flag.where != "config":
            continue
        node: Any = options
        for part in flag.flag.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            out[key] = node
    return out


def _spread_of(pod_spec: dict[str, Any]) -> int:
    """The fewest nodes a pod spec's topology spread holds its pods to (1 without one): the largest
    ``minDomains`` of the hard constraints on the hostname."""
    return max(
        (
            int(c.get("minDomains", 1))
            for c in pod_spec.get("topologySpreadConstraints") or []
            if c.get("topologyKey") == "kubernetes.io/hostname" and c.get("whenUnsatisfiable") == "DoNotSchedule"
        ),
        default=1,
    )


def _gpus(resources: dict[str, Any], values: DeployValues) -> int:
    return int(resources["limits"][values.gpu_resource])


def _deployment(path: Path, docs: list[Any], values: DeployValues, pool: str | None) -> ReadConfig:
    deployment = next(d for d in docs if d.get("kind") == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    gpus = _gpus(container["resources"], values)
    spread = _spread_of(deployment["spec"]["template"]["spec"])
    return _from_args(path, container["args"], values, deployment["spec"]["replicas"], gpus, spread)


def _inferenceservice(path: Path, docs: list[Any], values: DeployValues, pool: str | None) -> ReadConfig:
    predictor = docs[0]["spec"]["predictor"]
    model = predictor["model"]
    gpus = _gpus(model["resources"], values)
    return _from_args(path, model["args"], values, predictor["minReplicas"], gpus, _spread_of(predictor))


def _llm_d(path: Path, docs: list[Any], values: DeployValues, pool: str | None) -> ReadConfig:
    decode, prefill = docs[0]["decode"], docs[0].get("prefill") or {}
    if pool is not None:
        part = docs[0][pool]
        if not part.get("create", True):
            return _no_pool(path)
        container = part["containers"][0]
        gpus, spread = _gpus(container["resources"], values), _spread_of(part.get("extraConfig") or {})
        return _from_args(path, container["args"], values, part["replicas"], gpus, spread)
    container = decode["containers"][0]
    replicas = decode["replicas"] + (prefill.get("replicas", 0) if prefill.get("create") else 0)
    gpus, spread = _gpus(container["resources"], values), _spread_of(decode.get("extraConfig") or {})
    return _from_args(path, container["args"], values, replicas, gpus, spread)


def _dynamo(path: Path, docs: list[Any], values: DeployValues, pool: str | None) -> ReadConfig:
    services = docs[0]["spec"]["services"]
    workers = [services[name] for name in ("Worker", "PrefillWorker", "DecodeWorker") if name in services]
    worker = workers[-1]  # the decode pool's settings when there are pools
    if pool is not None:
        name = {"prefill": "PrefillWorker", "decode": "DecodeWorker"}[pool]
        if name not in services:
            return _no_pool(path)
        worker = services[name]
        workers = [worker]
    args = worker["extraPodSpec"]["mainContainer"]["args"]
    replicas = sum(w["replicas"] for w in workers)
    gpus = int(worker["resources"]["limits"]["gpu"])
    return _from_args(path, args, values, replicas, gpus, _spread_of(worker["extraPodSpec"]))


def _no_pool(path: Path) -> ReadConfig:
    """A pool the plan has and the configuration lacks (written for aggregated serving): no replicas."""
    return ReadConfig(path.name, {}, 0, None)


def _ray(path: Path, docs: list[Any], values: DeployValues, pool: str | None) -> ReadConfig:
    llm = docs[0]["applications"][0]["args"]["llm_configs"][0]
    args: list[str] = []
    for key, value in llm["engine_kwargs"].items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            args += [flag, str(value)]
    replicas = llm["deployment_config"]["autoscaling_config"]["min_replicas"]
    return _from_args(path, args, values, replicas, None)


_READERS = {
    "deployment.yaml": _deployment,
    "inferenceservice.yaml": _inferenceservice,
    "llm-d-values.yaml": _llm_d,
    "dynamo-graph.yaml": _dynamo,
    "ray-serve.yaml": _ray,
}


def disagreements(config: ReadConfig, values: DeployValues) -> list[Disagreement]:
    """Where ``config`` departs from the plan: the fleet invariants first, then each setting."""
    out = _invariants(config, values)
    for role, setting in values.settings.items():
        if role in ("served_model_name", "metrics", "options_file"):
            continue
        have = config.settings.get(role)
        if have is None or _same(have, setting.value):
            continue
        flag = flag_for(values.runtime, role, values.runtime_version)
        if role in ("tensor_parallel", "pipeline_parallel") or _breaks_a_seam(role, have, values):
            continue  # the invariants and the seam rules report these with their reasons
        out.append(
            Disagreement(
                f"{flag.flag if flag else role}", have, setting.value, f"the plan: {setting.why}", severity="warning"
            )
        )
    for name in config.unknown_flags:
        out.append(
            Disagreement(
                name,
                "set",
                None,
                f"{values.runtime.name} {values.runtime_version} has no such flag in the catalog",
                severity="warning",
            )
        )
    return out


def _breaks_a_seam(role: str, have: Any, values: DeployValues) -> bool:
    """True when the seam rules report this value (more sequences than KV holds, context below p95)."""
    number = _number({role: have}, role, 0)
    if role == "max_sequences":
        return number > values.capacity_cap
    if role == "max_context":
        return number < values.context_p95
    return False


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).lower() == str(b).lower()


def _number(settings: dict[str, Any], role: str, default: float) -> float:
    try:
        return float(settings.get(role, default))
    except (TypeError, ValueError):
        return default


def _invariants(config: ReadConfig, values: DeployValues) -> list[Disagreement]:
    s = config.settings
    out: list[Disagreement] = []
    tp, pp = _number(s, "tensor_parallel", 1), _number(s, "pipeline_parallel", 1)
    dp = _number(s, "data_parallel", 1) if values.runtime.id == "vllm" else 1
    ranks = int(tp * pp * dp)
    if ranks != values.gpus_per_replica:
        out.append(
            Disagreement(
                "TP x PP (x DP) per replica",
                ranks,
                values.gpus_per_replica,
                f"the plan sized replicas of {values.gpus_per_replica} GPUs ({values.value('tensor_parallel')} x "
                f"{values.value('pipeline_parallel') or 1})",
            )
        )
    if config.gpus_per_replica is not None and config.gpus_per_replica != ranks:
        out.append(
            Disagreement("GPUs requested per replica", config.gpus_per_replica, ranks, "must equal TP x PP (x DP)")
        )
    needed = values.replicas_for_load + values.spares
    if config.replicas is not None and config.replicas < needed:
        out.append(
            Disagreement(
                "replicas",
                config.replicas,
                values.replicas,
                f"{values.replicas_for_load} carry the peak and {values.spares} are spares (N+{values.spares})",
            )
        )
    if config.spread_nodes is not None and config.spread_nodes < values.spread_nodes:
        out.append(
            Disagreement(
                "nodes the replicas spread over (topology spread minDomains on the hostname)",
                config.spread_nodes,
                values.spread_nodes,
                f"the plan's failure domains: its {values.spares} spare(s) on other nodes than what they protect, "
                f"and the placement {values.availability_pct:g}% availability needs",
            )
        )
    return out


def config_knobs(config: ReadConfig, values: DeployValues) -> dict[str, Any]:
    """The configuration's settings under the runtime's knob names (for the plan's seam rules)."""
    runtime = values.runtime
    names: dict[str, str] = {role: name for role, name in runtime.knob_roles.items() if role != "kv_block_tokens"}
    names["kv_budget"] = runtime.kv_budget_knob
    names["kv_dtype"] = next((k.name for k in runtime.knobs if k.name.endswith("dtype")), "kv_cache_dtype")
    out: dict[str, Any] = {}
    for role, knob_name in names.items():
        value = config.settings.get(role)
        if isinstance(value, bool) or value is None:
            continue
        out[knob_name] = value if isinstance(value, int | float) else typed_word(str(value))
    return out

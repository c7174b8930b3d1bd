"""planner deploy and check-config: the generated configuration realises the plan, is read back
and checked against it, carries no secrets, and a plan the target cannot realise is refused."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner import workflows
from planner.deploy.bundle import DASHBOARD_FILE, RULES_FILE, TRACE_FILE, bundle
from planner.deploy.check import disagreements, read_config
from planner.deploy.values import (
    IMAGES,
    TARGETS,
    DeployError,
    DeployValues,
    Origin,
    Pools,
    deploy_values,
    kubernetes_name,
)
from planner.resolve import resolve_plan
from planner.sizing.estimate import estimate
from planner.sizing.plan_sizing import size_plan
from planner.specs import in_versions
from planner.workflows.deploy import write_files
from tests.conftest import PLANS, run_cli

CODE = PLANS / "code-assistant.yaml"
#: The code assistant with longer prompts, sized as prefill/decode pools while disaggregation is open.
LONG_PROMPTS = PLANS / "code-assistant-long-prompts.yaml"
K8S_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
#: What a leaked credential looks like: Hugging Face tokens, bearer tokens, inline secret values.
SECRET = re.compile(
    r"hf_[A-Za-z0-9]{20,}|Bearer\s+\S+|(api[_-]?key|password|token)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{12,}", re.I
)


def _plan(runtime: str, **model: Any) -> Any:
    plan = workflows.read_plan(CODE)
    return plan.model_copy(
        update={
            "runtime": plan.runtime.model_copy(update={"id": runtime}),
            "model": plan.model.model_copy(update=model),
        }
    )


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


@pytest.fixture(scope="module")
def sized(session: workflows.Session) -> dict[str, tuple[Any, Any]]:
    """The code-assistant plan sized per runtime (TRT-LLM with 16-bit weights: it has no online FP8).

    These in-process tests take the estimate's choice without the simulation (which only moves
    the replica count, in seconds per plan): what they check is that the files realise the fleet
    they are given. The command-line test below deploys the simulated fleet end to end.
    """
    plans = {"vllm": _plan("vllm"), "sglang": _plan("sglang"), "trtllm": _plan("trtllm", weights="bf16")}
    out = {}
    for runtime, plan in plans.items():
        resolved = resolve_plan(plan, session.catalog, f"{runtime}.yaml")
        sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
        assert sizing.best is not None, runtime
        out[runtime] = (resolved, sizing.best.sizing)
    return out


MIRROR = "registry.internal/llm/engine:pinned"


def _values(
    session: workflows.Session, sized: dict[str, Any], runtime: str, target: str, name: str = ""
) -> DeployValues:
    """Values for one target; an engine without a public image for the GPU vendor gets a mirror's."""
    resolved, fleet = sized[runtime]
    if name:
        resolved = replace(resolved, plan=resolved.plan.model_copy(update={"name": name}))
    origin = Origin(resolved.plan.name, "code.yaml", "0.1.0")
    public = (runtime, str(fleet.deployment.gpu.vendor)) in IMAGES
    return deploy_values(resolved, fleet, session.catalog, target, origin, None if public else MIRROR)


CASES = [("vllm", t) for t in ("vllm", "kserve", "llm-d", "dynamo", "ray-serve")] + [
    ("sglang", "sglang"),
    ("sglang", "llm-d"),
    ("trtllm", "trtllm"),
]


@pytest.mark.parametrize(("runtime", "target"), CASES)
def test_generated_files_realise_the_plan(
    session: workflows.Session, sized: dict[str, Any], runtime: str, target: str, tmp_path: Path
) -> None:
    values = _values(session, sized, runtime, target)
    files = bundle(values)
    write_files(tmp_path, files)
    _, fleet = sized[runtime]
    for name, text in files.items():
        if name.endswith((".yaml", ".sh")):
            assert "from plan 'Code assistant'" in text and "planner 0.1.0" in text, name
        if name.endswith(".yaml"):
            assert list(yaml.safe_load_all(text)), name
    config = read_config(tmp_path, values)
    tp = int(config.settings.get("tensor_parallel", 1))
    pp = int(config.settings.get("pipeline_parallel", 1))
    assert tp * pp * (config.replicas or 0) == fleet.gpus == values.gpus
    assert (config.replicas or 0) == fleet.replicas_for_load + fleet.spares
    assert 0 < int(config.settings["max_sequences"]) <= fleet.capacity_cap
    assert int(config.settings["max_context"]) >= fleet.isl + fleet.osl
    assert config.unknown_flags == []
    if config.gpus_per_replica is not None:
        assert config.gpus_per_replica == fleet.deployment.gpus
    assert disagreements(config, values) == []


def _hostname_spread(nodes: int, pods: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "maxSkew": 1,
            "minDomains": nodes,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": pods},
        }
    ]


@pytest.fixture(scope="module")
def critical(session: workflows.Session) -> tuple[Any, Any]:
    """The code assistant made critical (N+2 at 99.95%), sized without the simulation: its resolved plan and fleet."""
    plan = _plan("vllm")
    plan = plan.model_copy(update={"slo": plan.slo.model_copy(update={"critical": True, "availability_pct": 99.95})})
    resolved = resolve_plan(plan, session.catalog, "critical.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None
    return resolved, sizing.best.sizing


def test_a_fleet_spread_over_its_failure_domains_is_deployed_spread(
    session: workflows.Session, sized: dict[str, Any], critical: tuple[Any, Any]
) -> None:
    """A critical plan (N+2 at 99.95%) spreads its replicas over three nodes at least: the Kubernetes
    Deployment keeps the scheduler from stacking them on fewer (a pod topology spread with
    ``minDomains``), and TRACE.md says so for every target; a plan that needs no spread gets none."""
    resolved, fleet = critical
    plan = resolved.plan
    assert fleet.min_nodes == 3 and fleet.nodes >= 3 and fleet.replicas > 3
    values = deploy_values(resolved, fleet, session.catalog, "vllm", Origin(plan.name, "critical.yaml", "0.1.0"))
    files = bundle(values)
    pod = next(d for d in yaml.safe_load_all(files["deployment.yaml"]) if d and d["kind"] == "Deployment")
    spread = pod["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread == _hostname_spread(3, {"app.kubernetes.io/name": values.name})
    assert f"on {fleet.nodes} node(s). Spread them over 3 nodes at least" in files[TRACE_FILE]
    plain = bundle(_values(session, sized, "vllm", "vllm"))  # availability 99.5%: one node is spread enough
    plain_pod = next(d for d in yaml.safe_load_all(plain["deployment.yaml"]) if d and d["kind"] == "Deployment")
    assert "topologySpreadConstraints" not in plain_pod["spec"]["template"]["spec"]
    assert "Spread them over" not in plain[TRACE_FILE]


def test_every_platform_target_spreads_the_fleet_and_check_config_reads_it_back(
    session: workflows.Session, critical: tuple[Any, Any], tmp_path: Path
) -> None:
    """KServe, llm-d and Dynamo spread a critical plan's replicas as the plain Deployment does, each
    where its own format takes a pod spec and on labels its pods carry (pools each over their own
    nodes); Ray Serve LLM cannot (its replicas sit in placement groups) and TRACE.md says what to
    do. check-config reads the spread back: a file whose spread was dropped breaks the plan. Before,
    only the plain Deployment carried a spread and TRACE.md left the rest 'to the scheduler'."""
    resolved, fleet = critical
    plan = resolved.plan
    origin = Origin(plan.name, "critical.yaml", "0.1.0")

    def files(target: str, pools: Pools | None = None) -> tuple[DeployValues, dict[str, str]]:
        values = deploy_values(resolved, fleet, session.catalog, target, origin, pools=pools)
        return values, bundle(values)

    values, kserve = files("kserve")
    assert values.spread_nodes == 3
    predictor = yaml.safe_load(kserve["inferenceservice.yaml"])["spec"]["predictor"]
    pods = {"serving.kserve.io/inferenceservice": values.name, "component": "predictor"}
    assert predictor["topologySpreadConstraints"] == _hostname_spread(3, pods)
    assert "kubernetes.podspec-topologyspreadconstraints" in kserve[TRACE_FILE]
    _, llm_d = files("llm-d")
    chart = yaml.safe_load(llm_d["llm-d-values.yaml"])
    assert chart["modelArtifacts"]["labels"] == {"llm-d.ai/inference-serving": "true", "llm-d.ai/model": values.name}
    decode_pods = {"llm-d.ai/model": values.name, "llm-d.ai/role": "decode"}
    assert chart["decode"]["extraConfig"]["topologySpreadConstraints"] == _hostname_spread(3, decode_pods)
    _, dynamo = files("dynamo")
    worker = yaml.safe_load(dynamo["dynamo-graph.yaml"])["spec"]["services"]["Worker"]
    worker_pods = {"app.kubernetes.io/name": values.name, "app.kubernetes.io/component": "worker"}
    assert worker["extraPodMetadata"]["labels"] == worker_pods
    assert worker["extraPodSpec"]["topologySpreadConstraints"] == _hostname_spread(3, worker_pods)
    _, ray = files("ray-serve")
    assert "max_replicas_per_node" in ray[TRACE_FILE] and "RayCluster's GPU worker group" in ray[TRACE_FILE]
    # pools: a decode pool of 2 spreads over 2 nodes, a prefill pool of 4 over 3
    pools = Pools(prefill_replicas=4, decode_replicas=2, transport="nixl")
    _, pooled = files("dynamo", pools)
    services = yaml.safe_load(pooled["dynamo-graph.yaml"])["spec"]["services"]
    assert services["PrefillWorker"]["extraPodSpec"]["topologySpreadConstraints"][0]["minDomains"] == 3
    assert services["DecodeWorker"]["extraPodSpec"]["topologySpreadConstraints"][0]["minDomains"] == 2
    assert "Spread the prefill pool over 3 nodes at least and the decode pool over 2" in pooled[TRACE_FILE]
    _, pooled_chart = files("llm-d", pools)
    chart = yaml.safe_load(pooled_chart["llm-d-values.yaml"])
    prefill_pods = {"llm-d.ai/model": values.name, "llm-d.ai/role": "prefill"}
    assert chart["prefill"]["extraConfig"]["topologySpreadConstraints"] == _hostname_spread(3, prefill_pods)
    # check-config: the files as written agree; with the spread dropped they break the plan
    for target, written in (("kserve", kserve), ("llm-d", llm_d), ("dynamo", dynamo)):
        folder = tmp_path / target
        write_files(folder, written)
        own = deploy_values(resolved, fleet, session.catalog, target, origin)
        config = read_config(folder, own)
        assert config.spread_nodes == 3 and disagreements(config, own) == [], target
    plain = deploy_values(resolved, fleet, session.catalog, "vllm", origin)
    stacked = tmp_path / "stacked"
    write_files(stacked, bundle(plain))
    text = (stacked / "deployment.yaml").read_text(encoding="utf-8")
    (stacked / "deployment.yaml").write_text(text.replace("minDomains: 3", "minDomains: 1"), encoding="utf-8")
    broken = [d for d in disagreements(read_config(stacked, plain), plain) if d.what.startswith("nodes the replicas")]
    assert [(d.config, d.plan, d.severity) for d in broken] == [(1, 3, "error")]


@pytest.mark.parametrize("runtime", ["vllm", "sglang", "trtllm"])
def test_every_flag_and_metric_exists_in_the_runtime_version(
    session: workflows.Session, sized: dict[str, Any], runtime: str
) -> None:
    values = _values(session, sized, runtime, runtime)
    files = bundle(values)
    known = {f.flag for f in values.runtime.flags if in_versions(f.since, f.until, values.runtime_version)}
    argv = [w for w in files["serve.sh"].split() if w.startswith("--")]
    assert argv and all(a in known or a == "--host" or a == "--model-path" for a in argv), argv
    exported = {m.name for m in values.runtime.metrics if in_versions(m.since, m.until, values.runtime_version)}
    rules = yaml.safe_load(files[RULES_FILE])
    text = json.dumps(rules) + files[DASHBOARD_FILE]
    used = set(re.findall(r"\b((?:vllm:|sglang:|trtllm_)[a-z_:]+?)(?:_bucket)?[{(]", text))
    assert used and used <= exported, used - exported


def test_an_older_vllm_gets_the_metric_names_it_exports(session: workflows.Session, sized: dict[str, Any]) -> None:
    resolved, fleet = sized["vllm"]
    old = replace(
        resolved,
        plan=resolved.plan.model_copy(
            update={"runtime": resolved.plan.runtime.model_copy(update={"version": "0.9.2"})}
        ),
    )
    values = deploy_values(old, fleet, session.catalog, "vllm", Origin("p", "p.yaml", "0.1.0"))
    rules = bundle(values)[RULES_FILE]
    assert "vllm:time_per_output_token_seconds_bucket" in rules and "vllm:gpu_cache_usage_perc" in rules
    assert "inter_token_latency" not in rules and "kv_cache_usage_perc" not in rules


def test_alert_rules_pass_promtool(session: workflows.Session, sized: dict[str, Any], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    for runtime in ("vllm", "sglang", "trtllm"):
        values = _values(session, sized, runtime, runtime)
        path = tmp_path / f"{runtime}.yaml"
        path.write_text(bundle(values)[RULES_FILE], encoding="utf-8")
        rules = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"][0]["rules"]
        assert {r["alert"].removeprefix("CodeAssistant") for r in rules} == {
            "Ttft",
            "Itl",
            "KvUsage",
            "Waiting",
            "Errors",
            "Replicas",
        }  # fmt: skip (the plan sets no E2E target)
        assert all(r["expr"] and r["for"] and r["labels"]["severity"] for r in rules)
        if promtool:
            done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0 and "SUCCESS: 6 rules found" in done.stdout, done.stdout + done.stderr
    ttft = next(r for r in rules if r["alert"].endswith("Ttft"))
    assert ttft["expr"].startswith("histogram_quantile(0.95, ") and ttft["expr"].endswith(" > 0.5")


def test_the_dashboard_is_a_grafana_model_with_slo_lines(session: workflows.Session, sized: dict[str, Any]) -> None:
    board = json.loads(bundle(_values(session, sized, "vllm", "kserve"))[DASHBOARD_FILE])
    assert {"title", "uid", "schemaVersion", "panels", "time", "templating"} <= set(board)
    assert "Code assistant" in board["description"]
    titles = {p["title"]: p for p in board["panels"]}
    itl = next(p for t, p in titles.items() if t.startswith("Inter-token latency"))
    steps = itl["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == 0.025 and itl["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
    assert all({"id", "type", "gridPos", "targets"} <= set(p) for p in board["panels"])


@pytest.mark.parametrize(
    "odd", ["Code Assistant (EU) v2!", "--x--", "123 numbers first", "ÜBER_Plan.prod", "a" * 90, "!!!"]
)
def test_names_from_the_plan_become_valid_kubernetes_names(
    session: workflows.Session, sized: dict[str, Any], odd: str
) -> None:
    assert K8S_NAME.match(kubernetes_name(odd)) and len(kubernetes_name(odd)) <= 63
    values = _values(session, sized, "vllm", "kserve", name=odd)
    service = yaml.safe_load(bundle(values)["inferenceservice.yaml"])
    assert K8S_NAME.match(service["metadata"]["name"]), service["metadata"]["name"]


@pytest.mark.parametrize("target", TARGETS)
def test_no_secret_is_written_only_a_secret_name(
    session: workflows.Session, sized: dict[str, Any], target: str
) -> None:
    runtime = target if target in ("sglang", "trtllm") else "vllm"
    files = bundle(_values(session, sized, runtime, target))
    text = "\n".join(files.values())
    assert not SECRET.search(text), SECRET.search(text)
    if target != "ray-serve":  # a Serve config has no pod spec: the cluster passes the token
        manifest = next(t for n, t in files.items() if n.endswith(".yaml") and n != RULES_FILE and "options" not in n)
        assert "hf-token" in manifest  # the token is referenced by the secret's name


def test_capabilities_the_target_lacks_are_refused(session: workflows.Session, sized: dict[str, Any]) -> None:
    resolved, fleet = sized["sglang"]
    origin = Origin("p", "p.yaml", "0.1.0")
    with pytest.raises(DeployError, match="KServe does not run sglang"):
        deploy_values(resolved, fleet, session.catalog, "kserve", origin)
    with pytest.raises(DeployError, match="chosen runtime is sglang, not vllm"):
        deploy_values(resolved, fleet, session.catalog, "vllm", origin)
    disagg = replace(
        resolved,
        plan=resolved.plan.model_copy(
            update={"serving_stack": resolved.plan.serving_stack.model_copy(update={"disaggregated": True})}
        ),
    )
    with pytest.raises(DeployError, match="disaggregated prefill/decode, which sglang cannot run"):
        deploy_values(disagg, fleet, session.catalog, "sglang", origin)
    with pytest.raises(DeployError, match="does not write prefill/decode pools for llm-d with sglang"):
        deploy_values(disagg, fleet, session.catalog, "llm-d", origin)
    with pytest.raises(DeployError, match="its sizing gives no pools to deploy"):
        deploy_values(disagg, fleet, session.catalog, "dynamo", origin)


def test_the_engine_image_follows_the_gpu_vendor_and_generation(
    session: workflows.Session, sized: dict[str, Any]
) -> None:
    resolved, fleet = sized["sglang"]

    def on(gpu: str, image: str | None = None) -> Any:
        moved = replace(fleet, deployment=replace(fleet.deployment, gpu=session.catalog.gpus.get(gpu)))
        return deploy_values(resolved, moved, session.catalog, "sglang", Origin("p", "p.yaml", "0.1.0"), image)

    # SGLang's ROCm builds: one per GPU generation (gfx942: MI300X and MI325X; gfx950: MI355X)
    for gpu, build in (("mi300x", "rocm630-mi30x"), ("mi325x", "rocm630-mi30x"), ("mi355x", "rocm700-mi35x")):
        values = on(gpu)
        assert f"image: lmsysorg/sglang:v{values.runtime_version}-{build}" in bundle(values)["deployment.yaml"]
        assert build in values.image_why and "check the tag exists" in values.image_why
    with pytest.raises(DeployError, match="no public sglang image for intel GPUs") as err:
        bundle(on("gaudi3"))
    assert "--image" in err.value.fix
    assert f"image: {MIRROR}" in bundle(on("gaudi3", MIRROR))["deployment.yaml"]


def test_a_runtime_version_without_a_needed_flag_is_refused(session: workflows.Session, sized: dict[str, Any]) -> None:
    resolved, fleet = sized["trtllm"]
    fp8 = replace(fleet, deployment=replace(fleet.deployment, weights_dtype="fp8"))
    values = deploy_values(resolved, fp8, session.catalog, "trtllm", Origin("p", "p.yaml", "0.1.0"))
    with pytest.raises(DeployError, match=r"TensorRT-LLM 1\.0\.0 has no flag for online weight quantization") as err:
        bundle(values)
    assert "checkpoint" in err.value.fix


def test_check_config_reads_a_configuration_with_the_runtime_it_runs(tmp_path: Path) -> None:
    """Use case 2 leaves the runtime open and is served by vLLM behind Dynamo: check-config read the
    configuration's settings as knobs of a plan whose runtime was still open, so vLLM's KV dtype
    'fp8' was checked against SGLang's choices and the unedited configuration refused."""
    plan, out = PLANS / "usecases" / "2-code-assistant.yaml", tmp_path / "d"
    auto = {"PLANNER_PERF_BACKEND": "auto"}  # (the CLI's default, which chooses vLLM here)
    written = run_cli("deploy", str(plan), "--target", "dynamo", "--out", str(out), env=auto)
    assert written.returncode == 0, written.stderr
    graph = (out / "dynamo-graph.yaml").read_text(encoding="utf-8")
    assert "dynamo.vllm" in graph and "--kv-cache-dtype\n          - fp8\n" in graph, "the case: vLLM's fp8"
    checked = run_cli("check-config", str(plan), str(out), env=auto)
    assert checked.returncode == 0 and "agrees with the plan" in checked.stdout, checked.stdout + checked.stderr


def test_check_config_judges_each_pool_by_its_own_layout(tmp_path: Path) -> None:
    """The disaggregated code assistant's prefill pool runs TP 2 beside TP 1 decode replicas: its
    running-batch limit is what a TP 2 replica holds, and the seam rule judged it by the TP 1 replica
    the plan chose ('max_num_seqs 267 is more than the KV cache holds', on a fresh configuration)."""
    plan, out = PLANS / "code-assistant-disaggregated.yaml", tmp_path / "d"
    auto = {"PLANNER_PERF_BACKEND": "auto"}  # (the CLI's default, which splits the layouts here)
    written = run_cli("deploy", str(plan), "--target", "dynamo", "--out", str(out), env=auto)
    assert written.returncode == 0, written.stderr
    services = yaml.safe_load((out / "dynamo-graph.yaml").read_text(encoding="utf-8"))["spec"]["services"]
    args = [services[name]["extraPodSpec"]["mainContainer"]["args"] for name in ("PrefillWorker", "DecodeWorker")]
    limits = [int(a[a.index("--max-running-requests") + 1]) for a in args]
    assert limits[0] > limits[1], "the case: a prefill pool whose layout holds more"
    checked = run_cli("check-config", str(plan), str(out), env=auto)
    assert checked.returncode == 0 and "agrees with the plan" in checked.stdout, checked.stdout + checked.stderr


def test_deploy_a_saved_project_and_check_an_edited_config(tmp_path: Path) -> None:
    db = tmp_path / "projects.db"
    assert run_cli("project", "new", "Code Assistant", "--db", str(db)).returncode == 0
    # the plan leaves disaggregation open and is sized as prefill/decode pools: a plain runtime cannot run them
    pooled = run_cli("plan", str(LONG_PROMPTS), "--save", "Code Assistant", "--db", str(db))
    assert pooled.returncode == 0, pooled.stderr
    refused = run_cli("deploy", "Code Assistant@1", "--target", "sglang", "--out", str(tmp_path / "p"), "--db", str(db))
    assert (
        refused.returncode == 2
        and "was sized as disaggregated prefill/decode, which sglang cannot run" in refused.stderr
    )
    data = yaml.safe_load(LONG_PROMPTS.read_text(encoding="utf-8"))
    data.setdefault("serving_stack", {})["disaggregated"] = False
    aggregated = tmp_path / "aggregated.yaml"
    aggregated.write_text(yaml.safe_dump(data), encoding="utf-8")
    saved = run_cli("plan", str(aggregated), "--save", "Code Assistant", "--db", str(db))
    assert saved.returncode == 0, saved.stderr
    out = tmp_path / "out"
    # --image: a registry's mirror, as air-gapped sites run
    done = run_cli("deploy", "Code Assistant@2", "--target", "sglang", "--out", str(out), "--db", str(db),
                   "--image", "registry.local/sglang:0.5.3")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {"serve.sh", "deployment.yaml", RULES_FILE, DASHBOARD_FILE, TRACE_FILE} <= {p.name for p in out.iterdir()}
    doc = (out / "deployment.yaml").read_text(encoding="utf-8")
    assert any("Project 'Code Assistant' revision 2" in line for line in doc.splitlines()[:3])
    assert "--max-running-requests" in (out / "serve.sh").read_text(encoding="utf-8")
    edited = tmp_path / "edited"
    shutil.copytree(out, edited)
    seqs = re.search(r"- --max-running-requests\n\s+- '(\d+)'", doc)
    assert seqs
    doc = doc.replace(seqs.group(0), seqs.group(0).replace(seqs.group(1), str(int(seqs.group(1)) * 10)))
    (edited / "deployment.yaml").write_text(re.sub(r"replicas: (\d+)", "replicas: 1", doc, count=1), encoding="utf-8")
    check = run_cli("check-config", "Code Assistant", str(edited), "--json", "--db", str(db))
    assert check.returncode == 1, check.stderr
    report = json.loads(check.stdout)
    assert not report["agrees"]
    assert any(d["what"] == "replicas" and d["config"] == 1 for d in report["disagreements"])
    assert any(f["rule_id"] == "seams.max-num-seqs-above-kv" for f in report["findings"])


def test_deploy_refusals_exit_2_with_the_missing_capability(tmp_path: Path) -> None:
    done = run_cli("deploy", str(CODE), "--target", "kserve", "--out", str(tmp_path / "k"))
    assert done.returncode == 2 and "KServe does not run sglang" in done.stderr and "fix:" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "k").exists()
    missing = run_cli("deploy", "no-such-project", "--target", "vllm", "--db", str(tmp_path / "p.db"))
    assert missing.returncode == 2 and "neither a plan file nor a saved project" in missing.stderr


def test_the_tuning_plan_moves_one_lever_at_a_time(session: workflows.Session, sized: dict[str, Any]) -> None:
    from planner.deploy.tuning import CAPACITY, FIRST_FAMILY, tuning_plan

    resolved, fleet = sized["vllm"]
    plan = tuning_plan(resolved, fleet, "0.11.0")
    steps = plan.experiments
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert steps[0].family == "baseline" and "defaults" in steps[0].lever
    assert steps[1].family == FIRST_FAMILY[fleet.dominant]
    levers = [e.lever for e in steps[1:]]
    assert len(levers) == len(set(levers)) and all(" and " not in lever and "," not in lever for lever in levers)
    families = [e.family for e in steps[1:]]
    assert families == sorted(families, key=families.index)  # a family's experiments run together
    exported = {m.name for m in fleet.deployment.runtime.metrics}
    assert all(e.watch and set(e.watch) <= exported and e.expect and e.stop for e in steps)
    seqs = next(e for e in steps if e.lever == "max_num_seqs")
    assert seqs.change.startswith(f"{fleet.capacity_cap} ") and f"-> {fleet.latency_cap} " in seqs.change
    itl = re.search(r"ITL ([\d.]+) -> ([\d.]+) ms", seqs.expect)
    assert itl and float(itl.group(2)) < float(itl.group(1))
    budget = next(e for e in steps if e.lever == "gpu_memory_utilization")
    held = re.search(r"held (\d+) -> (\d+)", budget.expect)
    assert budget.family == CAPACITY and held and int(held.group(2)) > int(held.group(1))
    assert any(s.lever == "speculative decoding" for s in plan.skipped)
    # where memory binds (the SLOs would allow more sequences than the KV cache holds), the running
    # batch is not raised past what the cache holds: use case 3 was told 38 -> 127 on A100s
    bound = replace(fleet, latency_cap=fleet.capacity_cap + 10, dominant="memory")
    memory_bound = tuning_plan(resolved, bound, "0.11.0")
    assert "max_num_seqs" not in [e.lever for e in memory_bound.experiments]
    skipped = next(s for s in memory_bound.skipped if s.lever == "max_num_seqs")
    assert f"holds {fleet.capacity_cap} sequences" in skipped.why and "would preempt" in skipped.why


def test_the_tuning_plan_moves_the_token_budget_from_the_engines_default_to_the_plans(
    session: workflows.Session, sized: dict[str, Any]
) -> None:
    """The baseline runs the engine's default budget: where the plan (or its search) set another, that
    move is an experiment, quoted at the SLO's percentile as the model times it; at the default, the
    budget doubles."""
    from planner.deploy.tuning import tuning_plan
    from planner.sizing.capacity import knob

    resolved, fleet = sized["vllm"]
    dep = fleet.deployment
    name = dep.runtime.knob_roles["batched_tokens"]
    default = int(knob(replace(dep, knobs={}), "batched_tokens"))
    at_default = replace(fleet, deployment=replace(dep, knobs={k: v for k, v in dep.knobs.items() if k != name}))
    planned = replace(fleet, deployment=replace(dep, knobs={**dep.knobs, name: default * 2}))

    def budget_step(sizing: Any) -> Any:
        return next(e for e in tuning_plan(resolved, sizing, "0.11.0").experiments if e.lever == name)

    assert budget_step(at_default).change == f"{default} -> {default * 2}"
    moved = budget_step(planned)
    assert moved.change == f"{default} (the engine's default) -> {default * 2} (the plan's)"
    p = resolved.plan.slo.percentile
    runs = [
        estimate(d, fleet.isl, fleet.osl, model=fleet.model, concurrency=fleet.operating_point.clients,
                 population=fleet.population)
        for d in (at_default.deployment, planned.deployment)
    ]  # fmt: skip
    itl = [r.itl_at_percentile_ms(p) for r in runs]
    ttft = [r.ttft_at_percentile_ms(p) for r in runs]
    assert itl[1] < 0.9 * itl[0], "8,000-token prompts stall the decodes in fewer steps of a larger budget"
    assert f"ITL p{p:g} {itl[0]:.1f} -> {itl[1]:.1f} ms" in moved.expect, moved.expect
    assert f"TTFT p{p:g} {ttft[0]:.0f} -> {ttft[1]:.0f} ms" in moved.expect, moved.expect
    assert "inter_token_latency" in moved.stop and "stop doubling" not in moved.stop, "watch what moves most"


def test_tune_from_the_command_line() -> None:
    done = run_cli("tune", str(CODE), "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["experiments"][0]["family"] == "baseline"
    assert any(e["lever"] == "max_running_requests" for e in plan["experiments"])  # SGLang's own knob name


@pytest.mark.parametrize("runtime", ["vllm", "sglang", "trtllm"])
def test_every_flag_and_metric_in_the_catalog_cites_a_source(catalog: Any, runtime: str) -> None:
    spec = catalog.runtimes.get(runtime)
    assert spec.version and spec.launch and spec.serve_port
    assert {m.role for m in spec.metrics} >= {"ttft", "itl", "e2e", "kv_usage", "waiting", "running", "errors"}
    for item in [*spec.flags, *spec.metrics]:
        assert re.search(r"https?://\S+\.[a-z]{2,}", item.source), item


def test_an_unreadable_or_foreign_config_is_named_with_the_fix(
    session: workflows.Session, sized: dict[str, Any], tmp_path: Path
) -> None:
    values = _values(session, sized, "vllm", "kserve")
    (tmp_path / "inferenceservice.yaml").write_text("spec: [unclosed\n", encoding="utf-8")
    with pytest.raises(DeployError, match="cannot read it") as err:
        read_config(tmp_path, values)
    assert err.value.path.endswith("inferenceservice.yaml")
    (tmp_path / "inferenceservice.yaml").write_text("kind: InferenceService\nspec: {}\n", encoding="utf-8")
    with pytest.raises(DeployError, match="not the one `planner deploy` writes"):
        read_config(tmp_path, values)
    (tmp_path / "inferenceservice.yaml").unlink()
    with pytest.raises(DeployError, match="no configuration found"):
        read_config(tmp_path, values)


@pytest.mark.parametrize(("runtime", "flag"), [("vllm", "--enable-expert-parallel"), ("sglang", "--ep-size")])
def test_expert_parallelism_of_a_moe_plan_is_written_and_read_back(
    session: workflows.Session, runtime: str, flag: str, tmp_path: Path
) -> None:
    plan = _plan(runtime, id="qwen3-30b-a3b")
    plan = plan.model_copy(
        update={
            "runtime": plan.runtime.model_copy(update={"tp": 4, "ep": 4}),
            "hardware": plan.hardware.model_copy(update={"gpu": "h100-sxm"}),
            # expert-parallel steps pay their all-to-all (SGLang's fitted ~23 ms a step on Hopper)
            "slo": plan.slo.model_copy(update={"itl_ms": 40}),
        }
    )
    resolved = resolve_plan(plan, session.catalog, "moe.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None and sizing.best.sizing.deployment.ep == 4
    values = deploy_values(resolved, sizing.best.sizing, session.catalog, runtime, Origin("moe", "moe.yaml", "0.1.0"))
    files = bundle(values)
    assert flag in files["serve.sh"]
    write_files(tmp_path, files)
    config = read_config(tmp_path, values)
    assert config.settings["expert_parallel"] in (True, 4) and disagreements(config, values) == []


#: Knobs a plan sets that no role's flag carries, per runtime: (knobs, words each engine's files must hold).
PLAN_KNOBS = {
    "sglang": ({"enable_mixed_chunk": True, "max_total_tokens": 400_000}, ("--enable-mixed-chunk",
               "--max-total-tokens 400000")),
    "vllm": ({"kv_cache_memory_bytes": 30_000_000_000, "enable_chunked_prefill": True},
             ("--kv-cache-memory-bytes 30000000000", "--enable-chunked-prefill")),
    "trtllm": ({"max_tokens": 300_000, "max_input_len": 16_000}, ("max_tokens: 300000", "max_input_len: 16000")),
}  # fmt: skip


@pytest.mark.parametrize("runtime", sorted(PLAN_KNOBS))
def test_the_knobs_a_plan_sets_are_deployed_under_their_flags_and_read_back(
    session: workflows.Session, runtime: str, tmp_path: Path
) -> None:
    """What the sizing read is what the engine runs: a plan's knob that no role carries (SGLang's mixed
    chunks, which the steady state times, or a cap on the KV tokens) is written under the engine's own
    flag or options-file key, TRACE.md says so, and check-config reads it back and names an edit."""
    knobs, words = PLAN_KNOBS[runtime]
    plan = _plan(runtime, weights="bf16") if runtime == "trtllm" else _plan(runtime)
    plan = plan.model_copy(update={"runtime": plan.runtime.model_copy(update={"knobs": knobs})})
    resolved = resolve_plan(plan, session.catalog, "knobs.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None
    values = deploy_values(resolved, sizing.best.sizing, session.catalog, runtime, Origin("k", "knobs.yaml", "0.1.0"))
    files = bundle(values)
    text = "\n".join(files.values()).replace(" \\\n  ", " ")
    for word in words:
        assert word in text, word
    for name in knobs:  # (under its own setting, or the role's whose flag it is)
        assert any(name in line and "runtime.knobs" in line for line in files[TRACE_FILE].splitlines()), name
    write_files(tmp_path, files)
    config = read_config(tmp_path, values)
    assert disagreements(config, values) == []
    assert not config.unknown_flags, "the knobs' flags are the engine's own"
    name, value = next((n, v) for n, v in knobs.items() if not isinstance(v, bool))
    edited = {**config.settings, f"knob {name}": value + 1}
    found = disagreements(replace(config, settings=edited), values)
    assert len(found) == 1 and found[0].config == value + 1 and found[0].plan == value, found


def test_a_plan_knob_the_runtime_cannot_pass_is_refused(session: workflows.Session) -> None:
    from planner.deploy.values import plan_knob_settings
    from planner.sizing.deployment import Deployment

    runtime = session.catalog.runtimes.get("sglang").model_copy(update={"knob_flags": None})
    dep = Deployment(session.catalog.models.get("qwen3-32b"), session.catalog.gpus.get("h100-sxm"), runtime, "bf16",
                     "bf16", knobs={"max_total_tokens": 100_000, "max_running_requests": 8})  # fmt: skip
    with pytest.raises(DeployError) as caught:
        plan_knob_settings(dep, "0.5.3")
    assert caught.value.path == "runtime.knobs.max_total_tokens", "a knob a role carries is not refused"


def test_with_the_runtime_open_only_the_chosen_runtimes_knobs_are_deployed(session: workflows.Session) -> None:
    """A plan that leaves the runtime open may set knobs of several runtimes; the deployment carries
    those of the runtime the sizing chose (another's once stopped `planner deploy` with a KeyError)."""
    plan = workflows.read_plan(CODE)
    knobs = {"enable_mixed_chunk": True, "max_total_tokens": 200_000, "kv_cache_memory_bytes": 20_000_000_000}
    plan = plan.model_copy(update={"runtime": plan.runtime.model_copy(update={"id": None, "knobs": knobs})})
    resolved = resolve_plan(plan, session.catalog, "open.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None
    fleet = sizing.best.sizing
    runtime = fleet.deployment.runtime
    values = deploy_values(resolved, fleet, session.catalog, runtime.id, Origin("open", "open.yaml", "0.1.0"))
    carried = {role.removeprefix("knob ") for role in values.settings if role.startswith("knob ")}
    assert carried == {name for name in knobs if name in {k.name for k in runtime.knobs}}, (runtime.id, carried)


def test_a_configuration_vllm_would_refuse_to_start_is_refused_with_the_fix(session: workflows.Session) -> None:
    """Chunked prefill turned off with the budget left at vLLM's default below max_model_len: vLLM would
    not start (SchedulerConfig._verify_args), so `planner deploy` names the knob to set instead of
    writing it; with the budget raised to hold a whole request it deploys."""
    plan = _plan("vllm")
    off = plan.model_copy(
        update={"runtime": plan.runtime.model_copy(update={"knobs": {"enable_chunked_prefill": False}})}
    )
    resolved = resolve_plan(off, session.catalog, "off.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None
    with pytest.raises(DeployError) as caught:
        deploy_values(resolved, sizing.best.sizing, session.catalog, "vllm", Origin("off", "off.yaml", "0.1.0"))
    assert "would refuse this configuration at start-up" in str(caught.value)
    assert (
        caught.value.path == "runtime.knobs.max_num_batched_tokens"
        and "enable_chunked_prefill: true" in caught.value.fix
    )


def test_a_vllm_token_budget_below_the_default_limit_deploys_the_limit_within_it(session: workflows.Session) -> None:
    """vLLM refuses max_num_seqs above max_num_batched_tokens: a plan that sets only a small budget
    is deployed with the budget as the running-batch limit (it was refused for the default 1,024),
    and a plan that sets both is refused with the fix."""
    plan = _plan("vllm")
    small = plan.model_copy(
        update={"runtime": plan.runtime.model_copy(update={"knobs": {"max_num_batched_tokens": 64}})}
    )
    resolved = resolve_plan(small, session.catalog, "small.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None
    values = deploy_values(resolved, sizing.best.sizing, session.catalog, "vllm", Origin("s", "small.yaml", "0.1.0"))
    limit = values.settings["max_sequences"]
    assert limit.value <= 64 and values.value("batched_tokens") == 64
    if limit.value == 64:  # (where the KV cache holds fewer, memory binds as ever)
        assert "capped by the token budget 64" in limit.why, limit.why
    both = small.runtime.model_copy(update={"knobs": {"max_num_batched_tokens": 64, "max_num_seqs": 128}})
    resolved = resolve_plan(small.model_copy(update={"runtime": both}), session.catalog, "both.yaml")
    sizing = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False)
    assert sizing.best is not None
    with pytest.raises(DeployError) as caught:
        deploy_values(resolved, sizing.best.sizing, session.catalog, "vllm", Origin("b", "both.yaml", "0.1.0"))
    assert caught.value.path == "runtime.knobs.max_num_batched_tokens" and "max_num_seqs (128" in str(caught.value)


def test_the_running_batch_limit_deployed_is_the_one_every_simulation_of_the_plan_admits(
    session: workflows.Session,
) -> None:
    """`planner deploy` writes the sequences of the sized context the KV cache holds, and the plan's
    simulations admit as many (they ran the engine's default, 1,024 for vLLM on a B200, beside a
    configuration capped at what the KV cache holds); a p99 SLO sizes, deploys and simulates the p99
    context where the workload gives one."""
    from planner.plan_simulation import context_of, scheduler_for
    from planner.sizing.capacity import knob, size_capacity

    plan = _plan("vllm")
    p99 = plan.model_copy(
        update={
            "slo": plan.slo.model_copy(update={"percentile": 99}),
            "workload": plan.workload.model_copy(
                update={"input_tokens": plan.workload.input_tokens.model_copy(update={"p99": 30_000})}
            ),
        }
    )
    for each in (plan, p99):
        resolved = resolve_plan(each, session.catalog, "code.yaml")
        best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
        assert best is not None
        fleet = best.sizing
        values = deploy_values(resolved, fleet, session.catalog, "vllm", Origin(each.name, "code.yaml", "0.1.0"))
        written = values.settings["max_sequences"].value
        assert written == scheduler_for(fleet.deployment, context_of(each)).max_num_seqs == fleet.capacity_cap
        assert written < int(knob(fleet.deployment, "max_sequences")), "the KV cache binds, not the engine's limit"
    assert context_of(p99) == 30_000 + 300
    p95_cap = size_capacity(fleet.deployment, p99.workload.context_p95_tokens).max_concurrency
    assert p95_cap > written, "the p95 context would have let the simulation admit more than the configuration"

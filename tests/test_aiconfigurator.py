"""The aiconfigurator plugin: NVIDIA's profiled kernel database answering the performance
contract, offline, for the configurations it covers, and the built-in model elsewhere.

These tests run for real: the README's test command installs the ``aic`` extra. The
rest of the suite does not need it (see ``test_planner_runs_without_the_extra``).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

import pytest

from planner.performance_models import AutoModel, Corrected, Fallback, choose
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from tests.conftest import run_cli

pytest.importorskip("aiconfigurator_core", reason="the aic extra is not installed (pip install '.[aic]')")

from planner.plugins import aiconfigurator as aic


def deployment(catalog: Any, model: str = "llama-3.1-8b", gpu: str = "h100-sxm", **kw: Any) -> Deployment:
    spec = catalog.models.get(model)
    kw.setdefault("weights_dtype", "bf16")
    kw.setdefault("kv_dtype", "bf16")
    return Deployment(spec, catalog.gpus.get(gpu), catalog.runtimes.get(kw.pop("runtime", "trtllm")), **kw)


def test_registered_and_covers_nvidia_configurations(catalog: Any) -> None:
    plugin, model = catalog.performance_models["aiconfigurator"]
    assert plugin == "aiconfigurator" and model is aic.MODEL
    dep = deployment(catalog)
    assert model.coverage(dep) is None
    source = model.source(dep)
    assert "trtllm 1.3.0rc20" in source and "h100_sxm" in source and "aiconfigurator-core 0.12.0" in source


@pytest.mark.parametrize(
    ("gpu", "runtime", "version", "reason"),
    [
        ("mi300x", "vllm", None, "NVIDIA systems only"),
        ("gaudi3", "vllm", None, "NVIDIA systems only"),
        ("h200-nvl", "trtllm", None, "no profiled database for GPU 'h200-nvl'"),
        ("h100-sxm", "trtllm", "0.17.0", "no trtllm 0.17.0 database for h100_sxm (has 1.3.0rc20, 1.3.0rc23)"),
    ],
)
def test_says_why_a_configuration_is_not_covered(
    catalog: Any, gpu: str, runtime: str, version: str | None, reason: str
) -> None:
    dep = deployment(catalog, gpu=gpu, runtime=runtime, runtime_version=version)
    assert reason in (aic.MODEL.coverage(dep) or "")
    chosen = choose(aic.MODEL, dep)
    assert isinstance(chosen, Fallback) and chosen.name == "builtin"
    assert reason in chosen.source(dep) and "builtin roofline" in chosen.source(dep)


def test_a_pinned_version_matches_on_major_minor(catalog: Any) -> None:
    dep = deployment(catalog, runtime="vllm", runtime_version="0.24.3", weights_dtype="fp8")
    assert aic.MODEL.coverage(dep) is None
    assert "vllm 0.24.0" in aic.MODEL.source(dep)


def test_phase_times_grow_with_work_and_interpolate_batches(catalog: Any) -> None:
    dep = deployment(catalog, weights_dtype="fp8", kv_dtype="fp8")
    model = aic.MODEL
    assert 0 < model.prefill_s(dep, 1, 1024) < model.prefill_s(dep, 4, 1024) < model.prefill_s(dep, 4, 4096)
    assert (
        0 < model.decode_step_s(dep, 1, 2048) < model.decode_step_s(dep, 64, 2048) < model.decode_step_s(dep, 64, 8192)
    )
    low, high, mid = (model.decode_step_s(dep, b, 2048) for b in (8, 9, 8.5))
    assert mid == pytest.approx((low + high) / 2)
    mixed = model.mixed_step_s(dep, 2048, 2048 * 1024, 32, 32 * 2048)
    assert (
        model.decode_step_s(dep, 32, 2048) < mixed < model.prefill_s(dep, 1, 2048) + model.decode_step_s(dep, 32, 2048)
    )


def test_fp8_is_faster_than_bf16_and_expert_parallel_moe_is_modelled(catalog: Any) -> None:
    bf16 = deployment(catalog, model="llama-3.1-70b", tp=4)
    fp8 = replace(bf16, weights_dtype="fp8", kv_dtype="fp8")
    assert aic.MODEL.decode_step_s(fp8, 64, 2048) < aic.MODEL.decode_step_s(bf16, 64, 2048)
    moe = deployment(
        catalog, model="deepseek-r1", gpu="h200-sxm", weights_dtype="fp8", kv_dtype="fp8", ep=8, attention_dp=True
    )
    assert aic.MODEL.coverage(moe) is None, aic.MODEL.coverage(moe)
    # attention data parallel: the batch is spread over the 8 ranks
    assert aic.MODEL.decode_step_s(moe, 64, 2048) < aic.MODEL.decode_step_s(replace(moe, ep=2), 64, 2048) * 2


def test_models_without_a_bundled_config_use_the_catalogs_config_offline(catalog: Any) -> None:
    dep = deployment(catalog, model="llama-2-7b")
    assert aic.MODEL.coverage(dep) is None
    assert "planner catalog config of llama-2-7b" in aic.MODEL.source(dep)
    assert aic.MODEL.prepare(dep) is None, "the database times both phases"
    written = json.loads((aic._FOLDERS["llama-2-7b"] / "config.json").read_text())
    assert written["num_hidden_layers"] == 32 and written["architectures"] == ["LlamaForCausalLM"]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_bundled_configs_are_matched_by_hugging_face_id_or_alias() -> None:
    bundled = frozenset({"meta-llama/Meta-Llama-3.1-8B", "Qwen/Qwen3-32B"})
    assert aic._bundled_name("meta-llama/Llama-3.1-8B-Instruct", ["meta-llama/meta-llama-3.1-8b"], bundled) == (
        "meta-llama/Meta-Llama-3.1-8B"
    )
    assert aic._bundled_name("Qwen/Qwen3-32B", [], bundled) == "Qwen/Qwen3-32B"
    assert aic._bundled_name("acme/unknown", ["other"], bundled) == ""


def test_estimate_through_the_backend_carries_its_provenance(catalog: Any) -> None:
    dep = deployment(catalog, weights_dtype="fp8", kv_dtype="fp8")
    chosen = choose(aic.MODEL, dep)
    assert isinstance(chosen, Corrected) and chosen.base is aic.MODEL
    est = estimate(dep, 1000, 200, model=chosen, concurrency=32)
    provenance = est.to_json()["provenance"]
    assert provenance["performance_model"] == "aiconfigurator"
    assert "profiled database trtllm" in provenance["performance"] and "corrected on dense" in provenance["performance"]
    assert 1000 < est.output_tok_s < 20000 and 3 < est.itl_ms < 40


def test_auto_takes_each_metric_from_its_chosen_backend(catalog: Any) -> None:
    from planner.corrections import choice_for

    auto = catalog.performance_model("auto")
    assert isinstance(auto, AutoModel)
    dep = deployment(catalog, weights_dtype="fp8", kv_dtype="fp8")
    for group in ("throughput", "itl", "ttft"):
        assert auto.pick(dep, group).name == choice_for("dense", group)
    amd = deployment(catalog, gpu="mi300x", runtime="vllm", weights_dtype="fp8")
    assert {auto.pick(amd, g).name for g in ("throughput", "itl", "ttft")} == {"builtin"}
    assert "auto (dense class" in auto.source(dep)


def test_cli_estimate_names_the_backend_and_falls_back_on_amd() -> None:
    common = ["estimate", "--model", "llama-3.1-8b", "--isl", "1000", "--osl", "200", "--concurrency", "16", "--json"]
    nvidia = run_cli(*common, "--gpu", "h100-sxm", "--runtime", "trtllm", "--perf-backend", "aiconfigurator")
    assert nvidia.returncode == 0, nvidia.stderr
    assert json.loads(nvidia.stdout)["provenance"]["performance_model"] == "aiconfigurator"
    amd = run_cli(*common, "--gpu", "mi300x", "--runtime", "vllm", "--perf-backend", "aiconfigurator")
    assert amd.returncode == 0, amd.stderr
    provenance = json.loads(amd.stdout)["provenance"]
    assert provenance["performance_model"] == "builtin"
    assert "aiconfigurator does not cover this configuration" in provenance["performance"]
    assert "Traceback" not in amd.stderr + nvidia.stderr


def test_plugins_lists_the_backend_with_its_sdk_version() -> None:
    from plugins.aiconfigurator import sdk_version

    listed = run_cli("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    models = {p["name"]: p["performance_models"] for p in json.loads(listed.stdout)}
    assert models["aiconfigurator"] == [f"aiconfigurator (aiconfigurator-core {sdk_version()})"]
    assert models["analytic"] == ["builtin"] and sdk_version().startswith("0.12")


@pytest.mark.slow
def test_auto_on_the_calibration_set(catalog: Any) -> None:
    """``auto`` with the catalog's choices over the whole calibration file: within the in-sample
    regression guards of docs/accuracy.md, and, held out (each source document predicted without
    it, the residuals behind docs/accuracy.md), no worse than aiconfigurator alone (which leaves
    the rows it does not cover to the built-in model) on any metric group: ``auto`` chooses on
    held-out errors, so that is where it must win."""
    from planner.bench.calibration import load_measurements
    from planner.bench.coverage import read_residuals
    from planner.bench.fit import residuals
    from planner.bench.selection import median_error
    from tests.conftest import REPO

    rows, _ = load_measurements(REPO / "benchmarks" / "data" / "calibration.csv", catalog)
    auto = residuals(rows, catalog, lambda _m: catalog.performance_model("auto"))
    assert len(auto) >= 1000
    for group, guard in IN_SAMPLE_GUARDS.items():
        mine = median_error(auto, group)
        assert mine is not None and mine[1] <= guard, f"{group}: auto {mine} > {guard}% in sample"
    _, held = read_residuals(REPO / "benchmarks" / "data" / "calibration-held-out.csv")
    covered = {(r.row_id, r.metric): r for r in held["aiconfigurator"]}
    alone = [covered.get((r.row_id, r.metric), r) for r in held["builtin"]]
    for group in ("throughput", "itl", "ttft"):
        mine, theirs = median_error(held["auto (catalog choices)"], group), median_error(alone, group)
        assert mine is not None and theirs is not None
        assert mine[1] <= theirs[1] + 0.5, f"{group}: auto {mine[1]:.1f}% vs aiconfigurator alone {theirs[1]:.1f}%"


#: In-sample median absolute % error of ``auto`` on the 569 rows with the shipped catalog (regression
#: guards a little above the figures docs/accuracy.md reports in sample). Before the median ITL, the
#: capped loss and the early builds kept apart (stop 35, 570 rows) they were 10.0%, 15.0% and 23.3%:
#: median ITLs now meet the median gap (ITL), and the early builds' rows, fitted into no class of
#: their own, are predicted by current engines' factors (throughput).
IN_SAMPLE_GUARDS = {"throughput": 12.5, "itl": 12.5, "ttft": 21.0}  # reported: 11.7%, 11.2%, 19.0%


def test_the_sdk_is_imported_only_when_a_configuration_asks_for_it() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from planner.catalog import load_catalog\n"
        "from planner.sizing.deployment import Deployment\n"
        "from planner.sizing.estimate import estimate\n"
        "_, c = load_catalog()\n"
        "def heavy(): return sorted({m.split('.')[0] for m in sys.modules} & {'aiconfigurator_core', 'pandas', 'pyarrow'})\n"
        "print('CATALOG', heavy())\n"
        "d = Deployment(c.models.get('llama-3.1-8b'), c.gpus.get('mi300x'), c.runtimes.get('vllm'), 'fp8', 'fp8')\n"
        "estimate(d, 1000, 200, model=c.performance_model('auto'), concurrency=8)\n"
        "print('AMD', heavy())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "CATALOG []" in out and "AMD []" in out


@pytest.fixture
def fresh_memo() -> Any:
    """Memos of this process forgotten (they are class-level), before and after the test."""
    aic.Memo.forget()
    yield aic.Memo
    aic.Memo.forget()


def test_coverage_is_a_lookup_and_prepare_builds_once(catalog: Any, fresh_memo: Any) -> None:
    model = aic.AiconfiguratorModel()
    dep = deployment(catalog, model="llama-3.1-70b", tp=4, weights_dtype="fp8", kv_dtype="fp8")
    assert model.coverage(dep) is None and model._handles == {}, "coverage loads no database"
    assert model.prepare(dep) is None and len(model._handles) == 1
    assert model.prepare(dep) is None and len(model._handles) == 1, "handles are built once per configuration"
    first = model.decode_step_s(dep, 32, 3000)
    assert model.decode_step_s(dep, 32, 3000) == first


def test_a_data_hole_is_found_by_prepare_and_the_builtin_model_answers(catalog: Any, fresh_memo: Any) -> None:
    # vLLM's databases hold no fp8 context attention: only the data shows it
    dep = deployment(catalog, model="llama-3.3-70b", gpu="h100-sxm", runtime="vllm", tp=2, weights_dtype="fp8",
                     kv_dtype="fp8")  # fmt: skip
    model = aic.AiconfiguratorModel()
    assert model.coverage(dep) is None
    reason = model.prepare(dep)
    assert reason and "context attention data missing" in reason
    chosen = choose(model, dep)
    assert isinstance(chosen, Fallback) and "context attention data missing" in chosen.source(dep)


def test_a_configuration_seen_before_answers_without_the_sdk(planner_home: Any) -> None:
    """The second process answers from PLANNER_HOME/cache: same figures, no SDK import."""
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from planner import workflows\n"
        "s = workflows.open_session()\n"
        "r = workflows.EstimateRequest(model='llama-3.1-8b', gpu='h100-sxm', isl=2000, osl=200, concurrency=16,\n"
        "                              runtime='trtllm', backend='auto')\n"
        "e = workflows.estimate(s, r)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('aiconfigurator_core'))\n"
        "print(json.dumps({'itl': e.itl_ms, 'tok': e.output_tok_s, 'sdk': bool(loaded), 'by': e.model.name}))\n"
    )
    env = {**os.environ, "PLANNER_HOME": str(planner_home)}
    command = [sys.executable, "-c", code]
    runs = [json.loads(subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout)
            for _ in range(2)]  # fmt: skip
    assert runs[0]["sdk"] and not runs[1]["sdk"], "the first run queried the SDK, the second the memo"
    assert runs[0] == {**runs[1], "sdk": True} and runs[0]["by"] == "auto"
    assert list((planner_home / "cache" / "aiconfigurator").glob("*.json"))


def test_a_memo_that_cannot_be_read_is_ignored(planner_home: Any, fresh_memo: Any) -> None:
    folder = planner_home / "cache" / "aiconfigurator"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    memo = fresh_memo.named("broken")
    assert memo.get("verdict") is None
    memo.put("verdict", "")
    memo.flush()
    assert json.loads((folder / "broken.json").read_text(encoding="utf-8")) == {"verdict": ""}


def test_the_memo_key_covers_the_sdk_version(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = aic.AiconfiguratorModel()._config(deployment(catalog))
    assert isinstance(config, aic.Config)
    before = config.digest
    monkeypatch.setattr(aic, "sdk_version", lambda: "9.9.9")
    assert config.digest != before

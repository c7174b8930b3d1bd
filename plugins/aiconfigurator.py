"""NVIDIA's aiconfigurator as a performance model: profiled kernel times instead of a roofline.

aiconfigurator (Apache-2.0) ships a database of kernel timings measured on NVIDIA
systems for given TensorRT-LLM, vLLM and SGLang versions, and composes a forward pass
from them (GEMMs, attention, MoE, collectives). This plugin answers the planner's
performance-model contract through its estimator core (the ``aiconfigurator-core``
distribution, installed with ``pip install 'llm-inference-planner[aic]'``):

- prefill of N prompts of L tokens: one context pass (``run_static_latency_only``,
  mode ``static_ctx``);
- a decode step of B sequences at C tokens of context: one generation step;
- a chunked-prefill step: one mixed pass (``run_mixed``).

Everything stays offline: the model's config.json comes from aiconfigurator's bundled
copies or from the planner's own catalog (written to a private temporary folder), and
``HF_HUB_OFFLINE=1`` is set before the SDK is imported. The SDK is imported on first
use, never at start-up, so the CLI stays fast with the extra installed.

Where a configuration is not covered (AMD or Intel GPUs, a GPU or runtime without a
database, a model aiconfigurator cannot build, a pinned runtime version it has no data
for) :meth:`AiconfiguratorModel.coverage` says why and the built-in model answers.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner import hookimpl
from planner.perfmodel import PerformanceModel

if TYPE_CHECKING:
    from planner.sizing.deployment import Deployment

#: Our GPU ids -> aiconfigurator system names (its ``systems/<name>.yaml``). NVL boards run
#: at other clocks and power than the SXM parts the databases were profiled on, so they
#: are left out rather than guessed.
SYSTEMS: dict[str, str] = {
    "a100-sxm-80gb": "a100_sxm",
    "h100-sxm": "h100_sxm",
    "h100-pcie": "h100_pcie",
    "h200-sxm": "h200_sxm",
    "b200": "b200_sxm",
    "b300": "b300_sxm",
    "gb200": "gb200",
    "l40s": "l40s",
    "l4": "l4",
    "rtx-pro-6000": "rtx_pro_6000_server",
}
#: Our runtime ids -> aiconfigurator backend names.
BACKENDS: dict[str, str] = {"trtllm": "trtllm", "vllm": "vllm", "sglang": "sglang"}
INSTALL_HINT = "pip install 'llm-inference-planner[aic]'"


def installed() -> bool:
    """True when the aiconfigurator estimator core can be imported (checked without importing it)."""
    try:
        return find_spec("aiconfigurator_core") is not None
    except (ImportError, ValueError):  # blocked in sys.modules, or a broken install
        return False


def sdk_version() -> str:
    """The installed aiconfigurator-core version, or '' when absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiconfigurator-core")
    except PackageNotFoundError:
        return ""


@dataclass(frozen=True, eq=False)  # hashed by identity: the SDK objects are cache keys
class Handles:
    """What one configuration needs from the SDK: its model, backend and database."""

    model: Any
    backend: Any
    database: Any
    system: str
    backend_name: str
    version: str
    model_source: str


@dataclass
class AiconfiguratorModel:
    """Phase times from aiconfigurator's profiled kernel database (see the module docstring)."""

    name: str = "aiconfigurator"
    _handles: dict[tuple[Any, ...], Handles | str] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------- contract

    def coverage(self, dep: Deployment) -> str | None:
        """``None`` when a database and model cover ``dep``; otherwise the reason."""
        found = self._resolve(dep)
        return found if isinstance(found, str) else None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """One context pass over ``requests`` prompts of ``length`` tokens (per attention-DP rank)."""
        per_rank = requests / dep.ep if dep.attention_dp else requests
        handles, length = self._ready(dep), _bucket(max(int(length), 1))
        return _interpolate(lambda b: _context_ms(handles, b, length), per_rank) / 1000

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """One generation step of ``batch`` sequences whose KV holds ``context`` tokens."""
        per_rank = batch / dep.ep if dep.attention_dp else batch
        handles, context = self._ready(dep), _bucket(max(int(context), 1))
        return _interpolate(lambda b: _decode_ms(handles, b, context), per_rank) / 1000

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """One chunked-prefill pass: ``prefill_tokens`` of prompt plus ``decode_batch`` decodes.

        aiconfigurator's mixed step takes one sequence length for both parts; the
        decoding sequences' mean context is used, since their KV reads dominate.
        """
        if prefill_tokens < 1:
            return self.decode_step_s(dep, decode_batch, int(decode_keys / decode_batch) if decode_batch else 1)
        ranks = dep.ep if dep.attention_dp else 1
        context = int(decode_keys / decode_batch) if decode_batch else int(2 * prefill_keys / prefill_tokens)
        tokens = max(round(prefill_tokens / ranks), 1)
        return (
            _mixed_ms(self._ready(dep), _bucket(tokens), round(decode_batch / ranks), _bucket(max(context, 1))) / 1000
        )

    def describe(self) -> str:
        """Name and SDK version, or how to install it (checked without importing the SDK)."""
        if not installed():
            return f"aiconfigurator (not installed: {INSTALL_HINT})"
        return f"aiconfigurator (aiconfigurator-core {sdk_version()})"

    def overhead_s(self, dep: Deployment) -> float:
        """The profiled times already include launch costs; nothing is added on top."""
        return 0.0

    def source(self, dep: Deployment) -> str:
        """Database version, system and backend behind the times for ``dep``."""
        found = self._resolve(dep)
        if isinstance(found, str):
            return f"aiconfigurator does not cover this configuration ({found})"
        return (
            f"aiconfigurator-core {sdk_version()} profiled database {found.backend_name} {found.version} "
            f"on {found.system}; model config {found.model_source}"
        )

    # ------------------------------------------------------------- SDK calls

    def _resolve(self, dep: Deployment) -> Handles | str:
        key = _config_key(dep)
        if key not in self._handles:
            self._handles[key] = _build_handles(dep)
        return self._handles[key]

    def _ready(self, dep: Deployment) -> Handles:
        found = self._resolve(dep)
        if isinstance(found, str):
            raise ValueError(f"aiconfigurator does not cover {dep.label}: {found}")
        return found


def _interpolate(time_ms: Any, batch: float) -> float:
    """Time at a fractional batch: linear between the two whole batches around it."""
    batch = max(batch, 1.0)
    low = math.floor(batch)
    if batch == low:
        return float(time_ms(low))
    t_low, t_high = time_ms(low), time_ms(low + 1)
    return float(t_low + (t_high - t_low) * (batch - low))


def _bucket(tokens: int) -> int:
    """Token counts rounded to 1/16 of their power of two: keeps the caches small (the database interpolates)."""
    if tokens <= 64:
        return tokens
    step = 2 ** max(int(math.log2(tokens)) - 4, 0)
    return int(round(tokens / step) * step)


@lru_cache(maxsize=65536)
def _context_ms(handles: Handles, batch: int, length: int) -> float:
    from aiconfigurator_core.sdk.config import RuntimeConfig

    config = RuntimeConfig(batch_size=batch, isl=length, osl=1)
    return float(handles.backend.run_static_latency_only(handles.model, handles.database, config, mode="static_ctx"))


@lru_cache(maxsize=65536)
def _decode_ms(handles: Handles, batch: int, context: int) -> float:
    from aiconfigurator_core.sdk.config import RuntimeConfig

    config = RuntimeConfig(batch_size=batch, isl=context, osl=1)
    # The step with (isl=C, osl=1) reads C tokens of KV per sequence.
    found = handles.backend._get_genonly_step_latency(handles.model, handles.database, config, batch, context, 1)
    return float(found[0])


@lru_cache(maxsize=65536)
def _mixed_ms(handles: Handles, tokens: int, decodes: int, context: int) -> float:
    from aiconfigurator_core.sdk.config import RuntimeConfig
    from aiconfigurator_core.sdk.step_estimate import MixedStepInput

    config = RuntimeConfig(batch_size=max(decodes, 1), isl=context, osl=1)
    step = MixedStepInput(context_tokens=tokens, num_decode_requests=decodes)
    return float(handles.backend.run_mixed(handles.model, handles.database, config, step).latency_ms)


# ------------------------------------------------------------------ mapping


def _config_key(dep: Deployment) -> tuple[Any, ...]:
    return (
        dep.model.id,
        dep.gpu.id,
        dep.runtime.id,
        dep.runtime_version,
        dep.weights_dtype,
        dep.kv_dtype,
        dep.tp,
        dep.pp,
        dep.ep,
        dep.attention_dp,
    )


def _build_handles(dep: Deployment) -> Handles | str:
    """The SDK handles for ``dep``, or why it is not covered."""
    if not installed():
        return f"aiconfigurator-core is not installed ({INSTALL_HINT})"
    system = SYSTEMS.get(dep.gpu.id)
    if system is None:
        return f"no profiled database for GPU {dep.gpu.id!r} (aiconfigurator profiles NVIDIA systems only)"
    backend_name = BACKENDS.get(dep.runtime.id)
    if backend_name is None:
        return f"no database for runtime {dep.runtime.id!r}"
    sdk = _sdk()
    version = _database_version(system, backend_name, dep.runtime_version)
    if version.startswith("!"):
        return version[1:]
    quant = _quant_modes(sdk, dep)
    if isinstance(quant, str):
        return quant
    model_path, model_source = _model_path(dep)
    if not model_path:
        return model_source
    try:
        database = sdk.get_database(system, backend_name, version)
        if database is None:
            return f"no {backend_name} {version} database for {system}"
        model = sdk.get_model(model_path, sdk.ModelConfig(**_parallelism(dep), **quant), backend_name)
        handles = Handles(model, sdk.get_backend(backend_name), database, system, backend_name, version, model_source)
        # one probe of each phase, so an unsupported shape is found here, not mid-search
        _context_ms(handles, 1, 128)
        _decode_ms(handles, 1, 128)
    except Exception as exc:  # the SDK raises many types; any of them means "not covered"
        first_line = str(exc).splitlines()[0][:200] if str(exc) else ""
        return f"aiconfigurator cannot model it: {type(exc).__name__}: {first_line}"
    return handles


@dataclass(frozen=True)
class _Sdk:
    get_database: Any
    get_model: Any
    get_backend: Any
    ModelConfig: Any
    common: Any
    slots: Any
    default_models: frozenset[str]


@lru_cache(maxsize=1)
def _sdk() -> _Sdk:
    """Import the SDK once, offline and quietly."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)
    logging.getLogger("aiconfigurator").setLevel(logging.ERROR)
    from aiconfigurator_core.sdk import common
    from aiconfigurator_core.sdk.backends.factory import get_backend
    from aiconfigurator_core.sdk.config import ModelConfig
    from aiconfigurator_core.sdk.models import get_model
    from aiconfigurator_core.sdk.perf_database import get_database, get_version_slots

    return _Sdk(
        get_database,
        get_model,
        get_backend,
        ModelConfig,
        common,
        get_version_slots,
        frozenset(common.DefaultHFModels),
    )


def _database_version(system: str, backend: str, asked: str | None) -> str:
    """The database version to use, or '!' + why none fits.

    The SDK exposes per system and backend a maintained ``current`` version (the
    default here, when the plan pins none) and possibly ``previous`` and ``next``. A
    pinned version must match one of those on major.minor (patch releases share kernels).
    """
    versions = _queryable_versions(system, backend)
    if not versions:
        return f"!no {backend} database for {system}"
    if not asked:
        return versions[0]
    wanted = asked.lstrip("v").split(".")[:2]
    matching = [v for v in versions if v.lstrip("v").split(".")[:2] == wanted]
    if not matching:
        return f"!no {backend} {asked} database for {system} (has {', '.join(sorted(versions))})"
    return matching[0]


@lru_cache(maxsize=64)
def _queryable_versions(system: str, backend: str) -> tuple[str, ...]:
    """The SDK's queryable versions for a system and backend, ``current`` first ('' entries dropped)."""
    slots = _sdk().slots(system, backend) or {}
    ordered = [slots.get("current"), slots.get("next"), slots.get("previous")]
    return tuple(dict.fromkeys(str(v) for v in ordered if v))


def _quant_modes(sdk: _Sdk, dep: Deployment) -> dict[str, Any] | str:
    """aiconfigurator's GEMM, MoE and KV quantisation modes for our precisions."""
    common = sdk.common
    fp4 = dep.gpu.supports("fp4")
    weights = dep.weights_dtype
    deepseek_block = dep.model.family == "deepseek" and weights == "fp8"
    gemm = {
        "bf16": "bfloat16",
        "fp16": "bfloat16",
        "fp8": "fp8_block" if deepseek_block else "fp8",
        "int8": "int8_wo",
        "int4": "int4_wo",
        "nvfp4": "nvfp4" if fp4 else "nvfp4_wo",
        "mxfp4": "bfloat16",  # gpt-oss quantises the experts only
    }.get(weights)
    moe = {
        "bf16": "bfloat16",
        "fp16": "bfloat16",
        "fp8": "fp8_block" if deepseek_block else "fp8",
        "int4": "int4_wo",
        "nvfp4": "nvfp4" if fp4 else "nvfp4_wo",
        "mxfp4": "w4a8_mxfp4_mxfp8" if fp4 else "w4a16_mxfp4",
    }.get(weights)
    if gemm is None or (dep.model.moe and moe is None):
        return f"no aiconfigurator quantisation mode for {weights} weights"
    kv_fp8 = dep.kv_dtype == "fp8"
    modes: dict[str, Any] = {
        "gemm_quant_mode": common.GEMMQuantMode[gemm],
        "kvcache_quant_mode": common.KVCacheQuantMode["fp8" if kv_fp8 else "bfloat16"],
        # MLA kernels were profiled in bf16 only (whatever the KV type); others run FP8 attention on FP8 KV
        "fmha_quant_mode": common.FMHAQuantMode["fp8" if kv_fp8 and dep.model.attention != "mla" else "bfloat16"],
    }
    if dep.model.moe and moe is not None:
        modes["moe_quant_mode"] = common.MoEQuantMode[moe]
    return modes


def _parallelism(dep: Deployment) -> dict[str, Any]:
    """TP/PP/EP/attention-DP in aiconfigurator's terms (attention width = expert width)."""
    if dep.attention_dp:
        out = {"tp_size": 1, "pp_size": dep.pp, "attention_dp_size": dep.ep}
        return out | ({"moe_tp_size": 1, "moe_ep_size": dep.ep} if dep.model.moe else {})
    out = {"tp_size": dep.tp, "pp_size": dep.pp}
    if dep.model.moe:
        out |= {"moe_ep_size": dep.ep, "moe_tp_size": max(dep.tp // dep.ep, 1)}
    return out


def _model_path(dep: Deployment) -> tuple[str, str]:
    """(path or bundled name for get_model, where the config came from); ('', why) when none."""
    model = dep.model
    bundled = _bundled_name(model.hf_id, list(model.aliases), _sdk().default_models)
    if bundled:
        return bundled, f"{bundled} (bundled with aiconfigurator)"
    from planner.catalogfiles import catalog_config

    config = catalog_config(model.id)
    if config is None:
        return "", f"no config.json for model {model.id!r} (aiconfigurator needs the Hugging Face config)"
    return str(_config_folder(model.id, json.dumps(config, sort_keys=True))), f"planner catalog config of {model.id}"


def _bundled_name(hf_id: str, aliases: list[str], bundled: frozenset[str]) -> str:
    """The bundled config matching the model's Hugging Face id or one of its aliases."""
    by_lower = {name.lower(): name for name in bundled}
    for name in [hf_id, *aliases]:
        if name and name.lower() in by_lower:
            return by_lower[name.lower()]
    return ""


_FOLDERS: dict[str, Path] = {}


def _config_folder(model_id: str, config_json: str) -> Path:
    """A private temporary folder holding ``config.json``, removed when the process ends."""
    if model_id not in _FOLDERS:
        folder = Path(tempfile.mkdtemp(prefix=f"planner-aic-{model_id}-"))
        (folder / "config.json").write_text(config_json, encoding="utf-8")
        atexit.register(shutil.rmtree, folder, True)
        _FOLDERS[model_id] = folder
    return _FOLDERS[model_id]


MODEL = AiconfiguratorModel()


@hookimpl
def planner_performance_models() -> list[PerformanceModel]:
    """Return the aiconfigurator model (named ``aiconfigurator``); it reports itself
    as not covering anything when the ``aic`` extra is not installed."""
    return [MODEL]

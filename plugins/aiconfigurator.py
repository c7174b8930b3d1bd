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
database, a pinned runtime version it has no data for, a precision or model it has no
mode or config for) :meth:`AiconfiguratorModel.coverage` says why from a lookup; where
only the data shows a hole (a kernel never profiled), :meth:`AiconfiguratorModel.prepare`
does; either way the built-in model answers and says so. Verdicts and answers are kept
in the user's cache folder (``PLANNER_HOME/cache/aiconfigurator``; ``PLANNER_AIC_MEMO=0``
turns that off), so a configuration seen before costs no SDK import.
"""

from __future__ import annotations

import atexit
import hashlib
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
from typing import TYPE_CHECKING, Any, ClassVar

from planner import hookimpl
from planner.paths import user_cache_dir
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


@lru_cache(maxsize=1)
def sdk_version() -> str:
    """The installed aiconfigurator-core version, or '' when absent (read once: it parses metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiconfigurator-core")
    except PackageNotFoundError:
        return ""


@dataclass(frozen=True)
class Config:
    """A configuration in the SDK's terms, found without loading any database."""

    system: str
    backend_name: str
    version: str
    quant: tuple[tuple[str, str, str], ...]  # (ModelConfig field, SDK enum, member name)
    parallelism: tuple[tuple[str, int], ...]
    model_id: str
    bundled_model: str  # the SDK's bundled config name, '' when the catalog's config is used
    catalog_config: str  # that config as JSON, '' for a bundled model
    model_source: str

    @property
    def digest(self) -> str:
        """A stable name for this configuration's memo (the SDK version and everything above)."""
        return hashlib.sha256(repr((sdk_version(), MEMO_SCHEMA, self)).encode()).hexdigest()[:24]


@lru_cache(maxsize=4096)
def _digest_of(config: Config) -> str:
    """``config.digest``, computed once per configuration (queries ask for it thousands of times)."""
    return config.digest


@dataclass(frozen=True, eq=False)  # hashed by identity: the SDK objects are cache keys
class Handles:
    """What one configuration needs from the SDK: its model, backend and database."""

    model: Any
    backend: Any
    database: Any


@dataclass
class AiconfiguratorModel:
    """Phase times from aiconfigurator's profiled kernel database (see the module docstring).

    Three levels, from cheap to costly: ``coverage`` maps the configuration onto the SDK's
    systems, backends, database versions, quantisation modes and model configs (no
    database is loaded); ``prepare`` builds the SDK handles and probes one step of each
    phase, since only the data shows its holes (vLLM's databases have no fp8 context
    attention, say); phase calls query the database. Handles are built once per
    configuration and kept for the process; the probe's verdict and every query's answer
    are memoised in the process and in the user's cache folder (:class:`Memo`), so a
    configuration seen before answers without importing the SDK at all.
    """

    name: str = "aiconfigurator"
    _configs: dict[tuple[Any, ...], Config | str] = field(default_factory=dict, repr=False)
    _handles: dict[Config, Handles] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------- contract

    def coverage(self, dep: Deployment) -> str | None:
        """``None`` when the SDK has a system, backend, database version, quantisation modes and
        a model config for ``dep``; otherwise why not. Loads no database."""
        found = self._config(dep)
        return found if isinstance(found, str) else None

    def prepare(self, dep: Deployment) -> str | None:
        """``None`` when the database answers both phases of ``dep``; otherwise why not.

        The first time a configuration is seen on this machine, the handles are built and
        probed (about a second for a new database); the verdict is memoised.
        """
        found = self._config(dep)
        if isinstance(found, str):
            return found
        memo = self._memo(found)
        if memo.get("verdict") is None:
            built = self._build(found)
            memo.put("verdict", "" if isinstance(built, Handles) else built)
        return memo.get("verdict") or None

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """One context pass over ``requests`` prompts of ``length`` tokens (per attention-DP rank)."""
        per_rank = requests / dep.ep if dep.attention_dp else requests
        length = _bucket(max(int(length), 1))
        return _interpolate(lambda b: self._query(dep, "context", b, length), per_rank) / 1000

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """One generation step of ``batch`` sequences whose KV holds ``context`` tokens."""
        per_rank = batch / dep.ep if dep.attention_dp else batch
        context = _bucket(max(int(context), 1))
        return _interpolate(lambda b: self._query(dep, "decode", b, context), per_rank) / 1000

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
        decodes = round(decode_batch / ranks)
        return self._query(dep, "mixed", _bucket(tokens), decodes, _bucket(max(context, 1))) / 1000

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
        found = self._config(dep)
        if isinstance(found, str):
            return f"aiconfigurator does not cover this configuration ({found})"
        return (
            f"aiconfigurator-core {sdk_version()} profiled database {found.backend_name} {found.version} "
            f"on {found.system}; model config {found.model_source}"
        )

    # ------------------------------------------------------------- SDK calls

    def _config(self, dep: Deployment) -> Config | str:
        key = _config_key(dep)
        if key not in self._configs:
            self._configs[key] = _map_configuration(dep)
        return self._configs[key]

    def _memo(self, config: Config) -> Memo:
        return Memo.named(_digest_of(config))

    def _build(self, config: Config) -> Handles | str:
        if config not in self._handles:
            built = _build_handles(config)
            if isinstance(built, str):
                return built
            self._handles[config] = built
        return self._handles[config]

    def _query(self, dep: Deployment, op: str, *args: int) -> float:
        """One database query, answered from the memo when it was asked before."""
        config = self._config(dep)
        if isinstance(config, str):
            raise ValueError(f"aiconfigurator does not cover {dep.label}: {config}")
        memo = self._memo(config)
        key = f"{op}:{':'.join(str(a) for a in args)}"
        found = memo.get(key)
        if found is None:
            handles = self._build(config)
            if isinstance(handles, str):
                raise ValueError(f"aiconfigurator cannot time {dep.label}: {handles}")
            found = _QUERIES[op](handles, *args)
            memo.put(key, found)
        return float(found)


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


def _context_ms(handles: Handles, batch: int, length: int) -> float:
    from aiconfigurator_core.sdk.config import RuntimeConfig

    config = RuntimeConfig(batch_size=batch, isl=length, osl=1)
    return float(handles.backend.run_static_latency_only(handles.model, handles.database, config, mode="static_ctx"))


def _decode_ms(handles: Handles, batch: int, context: int) -> float:
    from aiconfigurator_core.sdk.config import RuntimeConfig

    config = RuntimeConfig(batch_size=batch, isl=context, osl=1)
    # The step with (isl=C, osl=1) reads C tokens of KV per sequence.
    found = handles.backend._get_genonly_step_latency(handles.model, handles.database, config, batch, context, 1)
    return float(found[0])


def _mixed_ms(handles: Handles, tokens: int, decodes: int, context: int) -> float:
    from aiconfigurator_core.sdk.config import RuntimeConfig
    from aiconfigurator_core.sdk.step_estimate import MixedStepInput

    config = RuntimeConfig(batch_size=max(decodes, 1), isl=context, osl=1)
    step = MixedStepInput(context_tokens=tokens, num_decode_requests=decodes)
    return float(handles.backend.run_mixed(handles.model, handles.database, config, step).latency_ms)


_QUERIES = {"context": _context_ms, "decode": _decode_ms, "mixed": _mixed_ms}


# ------------------------------------------------------------------- memo

#: Bumped when what the memo stores, or how this plugin maps configurations, changes.
MEMO_SCHEMA = 1


@dataclass
class Memo:
    """Answers of the SDK kept between runs: one JSON file of flat keys per name.

    Each configuration's file is named by :attr:`Config.digest` (which covers the SDK
    version, the database version, the quantisation modes, the parallelism and the model
    config), so an upgraded SDK or a changed mapping never reads stale answers; the
    ``sdk-VERSION`` file keeps the SDK's database versions and bundled model names. A
    file is written when the process ends, merged with what another process wrote
    meanwhile, and replaced atomically; a folder that cannot be written only costs speed.
    """

    path: Path | None
    data: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False

    _open: ClassVar[dict[str, Memo]] = {}

    @classmethod
    def named(cls, name: str) -> Memo:
        """The memo called ``name``, read from disk the first time this process asks."""
        if name not in cls._open:
            folder = memo_folder()
            path = folder / f"{name}.json" if folder else None
            cls._open[name] = cls(path, _read_json(path))
            if len(cls._open) == 1:
                atexit.register(cls.flush_all)
        return cls._open[name]

    def get(self, key: str) -> Any:
        """The stored answer for ``key``, or ``None``."""
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        """Keep an answer (written at exit)."""
        self.data[key], self.dirty = value, True

    def flush(self) -> None:
        """Write what this process added, merged with the file as it is now."""
        if not self.dirty or self.path is None:
            return
        self.data = {**_read_json(self.path), **self.data}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(self.data, out)
            os.replace(temporary, self.path)
            self.dirty = False
        except OSError:
            return

    @classmethod
    def flush_all(cls) -> None:
        """Write every memo this process changed."""
        for memo in cls._open.values():
            memo.flush()

    @classmethod
    def forget(cls) -> None:
        """Write and drop the memos held in this process (tests; a changed cache folder)."""
        cls.flush_all()
        cls._open.clear()


def memo_folder() -> Path | None:
    """``<user cache>/aiconfigurator``; ``None`` when ``PLANNER_AIC_MEMO=0`` turns the memo off."""
    if os.environ.get("PLANNER_AIC_MEMO") == "0":
        return None
    return user_cache_dir() / "aiconfigurator"


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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


def _map_configuration(dep: Deployment) -> Config | str:
    """``dep`` in the SDK's terms, or why the SDK cannot cover it; loads no database."""
    if not installed():
        return f"aiconfigurator-core is not installed ({INSTALL_HINT})"
    system = SYSTEMS.get(dep.gpu.id)
    if system is None:
        return f"no profiled database for GPU {dep.gpu.id!r} (aiconfigurator profiles NVIDIA systems only)"
    backend_name = BACKENDS.get(dep.runtime.id)
    if backend_name is None:
        return f"no database for runtime {dep.runtime.id!r}"
    version = _database_version(system, backend_name, dep.runtime_version)
    if version.startswith("!"):
        return version[1:]
    quant = _quant_modes(dep)
    if isinstance(quant, str):
        return quant
    bundled = _bundled_name(dep.model.hf_id, list(dep.model.aliases), _bundled_models())
    catalog_json = ""
    if bundled:
        source = f"{bundled} (bundled with aiconfigurator)"
    else:
        from planner.catalogfiles import catalog_config

        config = catalog_config(dep.model.id)
        if config is None:
            return f"no config.json for model {dep.model.id!r} (aiconfigurator needs the Hugging Face config)"
        catalog_json, source = json.dumps(config, sort_keys=True), f"planner catalog config of {dep.model.id}"
    return Config(
        system=system,
        backend_name=backend_name,
        version=version,
        quant=quant,
        parallelism=tuple(_parallelism(dep).items()),
        model_id=dep.model.id,
        bundled_model=bundled,
        catalog_config=catalog_json,
        model_source=source,
    )


def _build_handles(config: Config) -> Handles | str:
    """The SDK handles for ``config``, probed once per phase, or why the SDK cannot time it."""
    sdk = _sdk()
    model_path = config.bundled_model or str(_config_folder(config.model_id, config.catalog_config))
    try:
        quant = {name: getattr(sdk.common, enum)[member] for name, enum, member in config.quant}
        database = sdk.get_database(config.system, config.backend_name, config.version)
        if database is None:
            return f"no {config.backend_name} {config.version} database for {config.system}"
        model_config = sdk.ModelConfig(**dict(config.parallelism), **quant)
        handles = Handles(
            sdk.get_model(model_path, model_config, config.backend_name), sdk.get_backend(config.backend_name), database
        )
        # one probe of each phase: only the data shows its holes (a missing attention kernel, say)
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


@lru_cache(maxsize=1)
def _sdk() -> _Sdk:
    """Import the SDK once, offline and quietly."""
    _quiet_offline()
    from aiconfigurator_core.sdk import common
    from aiconfigurator_core.sdk.backends.factory import get_backend
    from aiconfigurator_core.sdk.config import ModelConfig
    from aiconfigurator_core.sdk.models import get_model
    from aiconfigurator_core.sdk.perf_database import get_database

    return _Sdk(get_database, get_model, get_backend, ModelConfig, common)


def _quiet_offline() -> None:
    """Before any SDK import: never reach for the network, and keep its logging quiet."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)
    logging.getLogger("aiconfigurator").setLevel(logging.ERROR)


def _sdk_index() -> Memo:
    """The SDK's database versions and bundled model names, kept per SDK version."""
    return Memo.named(f"sdk-{sdk_version()}-{MEMO_SCHEMA}")


def _bundled_models() -> frozenset[str]:
    """The Hugging Face ids whose config.json ships with the SDK."""
    index = _sdk_index()
    names = index.get("bundled")
    if names is None:
        _quiet_offline()
        from aiconfigurator_core.sdk import common

        names = sorted(common.DefaultHFModels)
        index.put("bundled", names)
    return frozenset(names)


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


def _queryable_versions(system: str, backend: str) -> tuple[str, ...]:
    """The SDK's queryable versions for a system and backend, ``current`` first ('' entries dropped)."""
    index = _sdk_index()
    key = f"versions:{system}:{backend}"
    versions = index.get(key)
    if versions is None:
        _quiet_offline()
        from aiconfigurator_core.sdk.perf_database import get_version_slots

        slots = get_version_slots(system, backend) or {}
        ordered = [slots.get("current"), slots.get("next"), slots.get("previous")]
        versions = list(dict.fromkeys(str(v) for v in ordered if v))
        index.put(key, versions)
    return tuple(versions)


#: Our weight precisions -> aiconfigurator's GEMM and MoE quantisation modes (``*_wo``:
#: weight-only, dequantised on the fly), by whether the GPU computes fp4.
_GEMM_MODES = {"bf16": "bfloat16", "fp16": "bfloat16", "int8": "int8_wo", "int4": "int4_wo",
               "mxfp4": "bfloat16"}  # fmt: skip  # gpt-oss quantises the experts only
_MOE_MODES = {"bf16": "bfloat16", "fp16": "bfloat16", "int4": "int4_wo"}


def _quant_modes(dep: Deployment) -> tuple[tuple[str, str, str], ...] | str:
    """aiconfigurator's GEMM, MoE, KV and attention quantisation modes for our precisions, by name."""
    fp4 = dep.gpu.supports("fp4")
    weights = dep.weights_dtype
    deepseek_block = dep.model.family == "deepseek" and weights == "fp8"
    fp8 = "fp8_block" if deepseek_block else "fp8"
    nvfp4 = "nvfp4" if fp4 else "nvfp4_wo"
    gemm = {**_GEMM_MODES, "fp8": fp8, "nvfp4": nvfp4}.get(weights)
    moe = {**_MOE_MODES, "fp8": fp8, "nvfp4": nvfp4, "mxfp4": "w4a8_mxfp4_mxfp8" if fp4 else "w4a16_mxfp4"}.get(weights)
    if gemm is None or (dep.model.moe and moe is None):
        return f"no aiconfigurator quantisation mode for {weights} weights"
    kv_fp8 = dep.kv_dtype == "fp8"
    modes = [
        ("gemm_quant_mode", "GEMMQuantMode", gemm),
        ("kvcache_quant_mode", "KVCacheQuantMode", "fp8" if kv_fp8 else "bfloat16"),
        # MLA kernels were profiled in bf16 only (whatever the KV type); others run FP8 attention on FP8 KV
        ("fmha_quant_mode", "FMHAQuantMode", "fp8" if kv_fp8 and dep.model.attention != "mla" else "bfloat16"),
    ]
    if dep.model.moe and moe is not None:
        modes.append(("moe_quant_mode", "MoEQuantMode", moe))
    return tuple(modes)


def _parallelism(dep: Deployment) -> dict[str, Any]:
    """TP/PP/EP/attention-DP in aiconfigurator's terms (attention width = expert width)."""
    if dep.attention_dp:
        out = {"tp_size": 1, "pp_size": dep.pp, "attention_dp_size": dep.ep}
        return out | ({"moe_tp_size": 1, "moe_ep_size": dep.ep} if dep.model.moe else {})
    out = {"tp_size": dep.tp, "pp_size": dep.pp}
    if dep.model.moe:
        out |= {"moe_ep_size": dep.ep, "moe_tp_size": max(dep.tp // dep.ep, 1)}
    return out


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

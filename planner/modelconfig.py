"""Shared pieces for turning Hugging Face ``config.json`` files into model specs.

Model-family plugins read their own fields with :class:`ConfigReader` (which names
the bad field when a value is missing or of the wrong type), describe the network as
a :class:`TransformerShape`, and call :func:`build_model_spec`; the parameter counts
and the native weight dtype are computed here once for every family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from planner.errors import InputError, Problem
from planner.inputfiles import parse_json, read_text_file
from planner.specs import MlaSpec, ModelSpec, MoeSpec, SlidingWindowSpec

_MISSING = object()

#: Sanity bound of any integer in a config (estimates, far above any published model: the
#: largest vocabularies are ~10^6 tokens, contexts ~10^7, hidden sizes ~10^5).
CONFIG_INT_MAXIMUM = 10**9
#: Tighter bounds where converters loop over the value (the deepest published LLMs have a few
#: hundred layers).
CONFIG_INT_MAXIMA = {"num_hidden_layers": 100_000, "decoder_sparse_step": 100_000, "first_k_dense_replace": 100_000}


class ConfigReader:
    """Typed access to a config dict that collects every problem with its field path."""

    def __init__(self, config: dict[str, Any], *, file: str = "config.json", prefix: str = "") -> None:
        self.config = config
        self.file = file
        self.prefix = prefix
        self.problems: list[Problem] = []

    def sub(self, key: str) -> ConfigReader:
        """Return a reader over the nested dict ``key`` (e.g. ``text_config``)."""
        value = self.config.get(key)
        if not isinstance(value, dict):
            self._problem(key, "missing or not an object", f"add the `{key}` section of the model's config.json")
            value = {}
        reader = ConfigReader(value, file=self.file, prefix=f"{self.prefix}{key}.")
        reader.problems = self.problems
        return reader

    def has(self, key: str) -> bool:
        """Return True when ``key`` is present and not null."""
        return self.config.get(key) is not None

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int = 1) -> int:
        """Read an integer field of at least ``minimum`` and at most its sanity bound
        (:data:`CONFIG_INT_MAXIMA`); a problem (and 0) if absent or bad."""
        value = self.config.get(key, default)
        if value is _MISSING or value is None:
            self._problem(key, "missing", f"add `{key}` (an integer) as in the model's published config.json")
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self._problem(key, f"expected an integer, got {value!r}", f"write `{key}` as a whole number")
            return 0
        if value < minimum:
            self._problem(key, f"must be at least {minimum}, got {value}", f"correct `{key}`")
            return 0
        maximum = CONFIG_INT_MAXIMA.get(key, CONFIG_INT_MAXIMUM)
        if value > maximum:
            self._problem(key, f"must be at most {maximum:,}, got {value}", f"correct `{key}`")
            return 0
        return value

    def optional_integer(self, key: str) -> int | None:
        """Read an integer field that may be absent or null."""
        return self.integer(key, minimum=0) if self.has(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        """Read a boolean field with a default."""
        value = self.config.get(key, default)
        if not isinstance(value, bool):
            self._problem(key, f"expected true or false, got {value!r}", f"write `{key}` as true or false")
            return default
        return value

    def str_list(self, key: str) -> list[str]:
        """Read a list of strings (empty when absent)."""
        value = self.config.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._problem(key, f"expected a list of strings, got {value!r}", f"write `{key}` as a list of strings")
            return []
        return value

    def decoder(self) -> dict[str, Any]:
        """The fields every decoder config shares, as :class:`TransformerShape` arguments.

        Reads hidden size, heads and layers first (stopping if they are bad, since the
        defaults of the rest derive from them), then KV heads, head dim, vocabulary and
        tied embeddings.
        """
        hidden, heads = self.integer("hidden_size"), self.integer("num_attention_heads")
        layers = self.integer("num_hidden_layers")
        self.check()
        return {
            "num_layers": layers,
            "hidden": hidden,
            "heads": heads,
            "kv_heads": self.integer("num_key_value_heads", heads),
            "head_dim": self.integer("head_dim", hidden // heads),
            "vocab": self.integer("vocab_size"),
            "tie_embeddings": self.boolean("tie_word_embeddings", False),
        }

    def check(self) -> None:
        """Raise :class:`InputError` when any read found a problem."""
        if self.problems:
            raise InputError(self.file, list(self.problems))

    def _problem(self, key: str, what: str, fix: str) -> None:
        self.problems.append(Problem(f"{self.prefix}{key}", what, fix))


@dataclass(frozen=True)
class MoeShape:
    """Experts of one MoE layer, and how many layers have them."""

    num_experts: int
    experts_per_token: int
    expert_ffn: int
    moe_layers: int
    shared_experts: int = 0
    shared_expert_ffn: int = 0
    router_bias: bool = False
    expert_bias: bool = False


@dataclass(frozen=True)
class TransformerShape:
    """The counts that define a decoder-only transformer's weights.

    Every FFN is gated (three matrices: gate, up, down), as in all the families we
    import; ``extra_params`` holds parts outside the decoder (a vision tower).
    """

    num_layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    dense_ffn: int
    tie_embeddings: bool = False
    moe: MoeShape | None = None
    mla: MlaSpec | None = None
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False
    attention_sinks: bool = False
    norms_per_layer: int = 2
    extra_params: int = 0
    sliding_window: int | None = None
    sliding_layers: int = 0
    dense_layers_override: int | None = field(default=None)

    @property
    def dense_layers(self) -> int:
        """Layers with a dense FFN (all of them when the model is not MoE)."""
        if self.dense_layers_override is not None:
            return self.dense_layers_override
        return self.num_layers - (self.moe.moe_layers if self.moe else 0)


def attention_params(s: TransformerShape) -> int:
    """Weights of one attention block (projections, biases, norms inside attention)."""
    if s.mla is not None:
        m = s.mla
        qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (
            s.hidden * s.heads * qk_head
            if m.q_lora_rank == 0
            else (s.hidden * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * s.heads * qk_head)
        )
        kv = s.hidden * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        kv += m.kv_lora_rank * s.heads * (m.qk_nope_head_dim + m.v_head_dim)
        return q + kv + s.heads * m.v_head_dim * s.hidden
    q_out, kv_out = s.heads * s.head_dim, s.kv_heads * s.head_dim
    params = s.hidden * (q_out + 2 * kv_out) + q_out * s.hidden
    if s.qkv_bias:
        params += q_out + 2 * kv_out
    if s.o_bias:
        params += s.hidden
    if s.qk_norm:
        params += 2 * s.head_dim
    if s.attention_sinks:
        params += s.heads
    return params


def _moe_params(s: TransformerShape, moe: MoeShape) -> tuple[int, int]:
    """Return (all weights, weights of one routed expert) of one MoE layer."""
    per_expert = 3 * s.hidden * moe.expert_ffn + ((2 * moe.expert_ffn + s.hidden) if moe.expert_bias else 0)
    router = s.hidden * moe.num_experts + (moe.num_experts if moe.router_bias else 0)
    shared = moe.shared_experts * 3 * s.hidden * (moe.shared_expert_ffn or moe.expert_ffn)
    return router + shared + moe.num_experts * per_expert, per_expert


def count_params(s: TransformerShape) -> tuple[int, int]:
    """Count (total, active) parameters.

    ``total`` is every weight held in memory. ``active`` is what one token multiplies:
    MoE layers count only the top-k routed experts (plus shared ones), and the input
    embedding is left out because it is a table lookup (a tied embedding still counts
    once, as the output head).
    """
    embedding = s.vocab * s.hidden
    head = 0 if s.tie_embeddings else embedding
    per_layer_common = attention_params(s) + s.norms_per_layer * s.hidden
    total = embedding + head + s.hidden + s.num_layers * per_layer_common + s.extra_params
    total += s.dense_layers * 3 * s.hidden * s.dense_ffn
    inactive = 0
    if s.moe is not None:
        layer_total, per_expert = _moe_params(s, s.moe)
        total += s.moe.moe_layers * layer_total
        inactive = s.moe.moe_layers * (s.moe.num_experts - s.moe.experts_per_token) * per_expert
    lookup_only = 0 if s.tie_embeddings else embedding
    return total, total - inactive - lookup_only - s.extra_params


_TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "float": "fp32", "half": "fp16"}


def weight_format(config: dict[str, Any], file: str = "config.json") -> tuple[str, str]:
    """Return (native weight dtype, which layers it covers) from the quantization config.

    Reads ``quantization_config`` (fp8, awq, gptq, mxfp4, compressed-tensors, modelopt)
    or a ModelOpt ``hf_quant_config.json`` passed under ``_hf_quant_config``; without
    either, the checkpoint's ``torch_dtype`` (``dtype`` in newer files).
    """
    modelopt = config.get("_hf_quant_config")
    if isinstance(modelopt, dict):
        return _modelopt_format(modelopt.get("quantization", modelopt), file)
    quant = config.get("quantization_config")
    if quant is None and isinstance(config.get("text_config"), dict):
        quant = config["text_config"].get("quantization_config")
    if quant is not None:
        return _quantized_format(quant, file)
    raw = config.get("torch_dtype") or config.get("dtype")
    if raw is None and isinstance(config.get("text_config"), dict):
        raw = config["text_config"].get("torch_dtype") or config["text_config"].get("dtype")
    return _TORCH_DTYPES.get(str(raw or "bfloat16"), "bf16"), "none"


def _quantized_format(quant: Any, file: str) -> tuple[str, str]:
    if not isinstance(quant, dict):
        raise InputError(file, [Problem("quantization_config", "expected an object", "fix or remove the section")])
    method = str(quant.get("quant_method", "")).lower()
    if method == "fp8":
        return "fp8", "all"
    if method == "mxfp4":
        return "mxfp4", "experts"
    if method in ("awq", "gptq", "bitsandbytes", "autoround"):
        bits = quant.get("bits", quant.get("w_bit", 4))
        return ("int4" if bits == 4 else "int8"), "all"
    if method == "compressed-tensors":
        return _compressed_tensors_format(quant, file), "all"
    if method == "modelopt" or "quant_algo" in quant:
        return _modelopt_format(quant, file)
    raise InputError(
        file,
        [
            Problem(
                "quantization_config.quant_method",
                f"unknown quantization method {method!r}",
                "supported: fp8, awq, gptq, mxfp4, compressed-tensors, modelopt; "
                "remove the section to size the model at its torch_dtype",
            )
        ],
    )


def _compressed_tensors_format(quant: dict[str, Any], file: str) -> str:
    if "nvfp4" in str(quant.get("format", "")):
        return "nvfp4"
    for group in (quant.get("config_groups") or {}).values():
        weights = (group or {}).get("weights") or {}
        bits, kind = weights.get("num_bits"), weights.get("type", "int")
        if bits == 8:
            return "fp8" if kind == "float" else "int8"
        if bits == 4:
            return "fp4" if kind == "float" else "int4"
    raise InputError(
        file,
        [
            Problem(
                "quantization_config.config_groups",
                "no group gives weights.num_bits of 4 or 8",
                "check the llm-compressor export; the planner reads config_groups.*.weights.num_bits",
            )
        ],
    )


def _modelopt_format(quant: dict[str, Any], file: str) -> tuple[str, str]:
    algo = str(quant.get("quant_algo", "")).upper()
    formats = {"FP8": "fp8", "NVFP4": "nvfp4", "W4A16_AWQ": "int4", "W4A8_AWQ": "int4", "INT8_WO": "int8"}
    for prefix, dtype in formats.items():
        if algo.startswith(prefix):
            return dtype, "all"
    raise InputError(
        file,
        [Problem("quant_algo", f"unknown ModelOpt quant_algo {algo!r}", "supported: " + ", ".join(formats))],
    )


def build_model_spec(
    shape: TransformerShape,
    *,
    config: dict[str, Any],
    family: str,
    max_context: int,
    model_id: str = "imported-model",
    name: str = "",
    license: str = "unknown",
    source: str = "",
) -> ModelSpec:
    """Turn a shape into a :class:`ModelSpec`, computing parameter counts and dtype.

    :raises InputError: naming the config.json fields when the shape they describe is not a
        model (KV heads that do not divide the heads, more active experts than experts).
    """
    try:
        return _model_spec(shape, config, family, max_context, model_id, name, license, source)
    except ValidationError as exc:
        problems = [_shape_problem(err) for err in exc.errors(include_url=False)]
        raise InputError(str(config.get("_source", "config.json")), problems) from None


#: The config.json keys behind the spec fields a converter fills, for messages.
_CONFIG_KEY_OF = {
    "num_kv_heads": "num_key_value_heads",
    "num_attention_heads": "num_attention_heads",
    "num_layers": "num_hidden_layers",
    "experts_per_token": "num_experts_per_tok",
    "num_experts": "num_experts",
    "max_context": "max_position_embeddings",
    "active_params": "num_experts_per_tok",
}


def _shape_problem(err: Any) -> Problem:
    """A pydantic error on the spec, told in the config's own field names."""
    message = str(err["msg"]).removeprefix("Value error, ")
    for spec_name, key in _CONFIG_KEY_OF.items():
        message = message.replace(spec_name, f"{spec_name} (config.json `{key}`)", 1) if key != spec_name else message
    where = ".".join(str(p) for p in err["loc"])
    got = err.get("input")
    value = f", got {got!r}" if isinstance(got, int | float | str) and where else ""
    fix = "check these values against the model's published config.json; a converted spec must describe a real model"
    return Problem(where, f"{message}{value}", fix)


def _model_spec(
    shape: TransformerShape,
    config: dict[str, Any],
    family: str,
    max_context: int,
    model_id: str,
    name: str,
    license: str,
    source: str,
) -> ModelSpec:
    total, active = count_params(shape)
    dtype, quantized = weight_format(config, config.get("_source", "config.json"))
    attention: Literal["mha", "gqa", "mqa", "mla"] = "gqa"
    if shape.mla:
        attention = "mla"
    elif shape.kv_heads == shape.heads:
        attention = "mha"
    elif shape.kv_heads == 1:
        attention = "mqa"
    moe = None
    if shape.moe:
        moe = MoeSpec(
            num_experts=shape.moe.num_experts,
            experts_per_token=shape.moe.experts_per_token,
            shared_experts=shape.moe.shared_experts,
            expert_intermediate_size=shape.moe.expert_ffn,
            moe_layers=shape.moe.moe_layers,
        )
    window = None
    if shape.sliding_window and shape.sliding_layers:
        window = SlidingWindowSpec(window=shape.sliding_window, layers=shape.sliding_layers)
    architectures = config.get("architectures") or ["unknown"]
    return ModelSpec(
        id=model_id,
        name=name or model_id,
        source=source or str(config.get("_source", "config.json")),
        family=family,
        architecture=str(architectures[0]),
        num_layers=shape.num_layers,
        hidden_size=shape.hidden,
        num_attention_heads=shape.heads,
        num_kv_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        intermediate_size=shape.dense_ffn if shape.dense_layers else 0,
        vocab_size=shape.vocab,
        tie_word_embeddings=shape.tie_embeddings,
        attention=attention,
        moe=moe,
        mla=shape.mla,
        sliding_window=window,
        total_params=total,
        active_params=active,
        max_context=max_context,
        native_weight_dtype=dtype,  # type: ignore[arg-type]
        quantized_layers=quantized,  # type: ignore[arg-type]
        license=license,
    )


def finish_spec(r: ConfigReader, shape: TransformerShape, config: dict[str, Any], family: str) -> ModelSpec:
    """Read the context length, stop on any problem found so far, and build the spec."""
    max_context = r.integer("max_position_embeddings")
    r.check()
    return build_model_spec(shape, config=config, family=family, max_context=max_context)


def architecture_of(config: dict[str, Any]) -> str:
    """Return ``architectures[0]`` of a config, or '' when absent."""
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0]
    return ""


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a ``config.json`` (and a sibling ModelOpt ``hf_quant_config.json``).

    :raises InputError: naming the file when it is missing or not a JSON object.
    """
    config = parse_json(read_text_file(path), str(path))
    if not isinstance(config, dict):
        raise InputError(str(path), [Problem("", "expected a JSON object at the top level", "use the config.json")])
    sidecar = path.with_name("hf_quant_config.json")
    if sidecar.is_file():
        config["_hf_quant_config"] = parse_json(read_text_file(sidecar), str(sidecar))
    config["_source"] = str(path)
    return config

"""A vendor-style plugin for the CI machine: its CPU as an accelerator, llama.cpp, and a small llama.

Test data, written the way a vendor would ship a catalog for its own hardware. The CPU's
figures are estimates for a 2-vCPU AMD EPYC (Zen 5, family 26) KVM guest: memory bandwidth
and FP32 throughput measured on the machine with numpy (a 512 MB copy and a 2048^3 SGEMM,
while other jobs shared it), memory from ``free``. The model is the random-weight llama that
``tests/llama_server.py`` writes (``LlamaShape()``); its counts are computed from that shape.
"""

from planner import hookimpl

#: Source of the CPU's numbers: measured here, so every one is an estimate.
_MEASURED = (
    "measured on the CI machine: numpy copy of 512 MB (22.9 GB/s), 2048^3 SGEMM (53.7 GFLOP/s), free -g (23 GiB)"
)
_LLAMA_CPP = "https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md"


@hookimpl
def planner_gpus():
    """Return this machine's CPU as a GPU-like spec (figures measured, so estimates)."""
    return [
        {
            "id": "ci-epyc-2vcpu",
            "name": "CI machine: AMD EPYC (Zen 5) 2 vCPU, KVM guest (test fixture)",
            "vendor": "amd",
            "generation": "zen5-cpu",
            "form_factor": "pcie",
            "hbm_gib": 16.0,
            "hbm_tb_s": 0.0229,
            "dense_tflops": {"fp32": 0.0537, "bf16": 0.0537},
            "tdp_w": 30.0,
            "interconnect": {"kind": "ethernet", "gb_s_per_gpu": 1.0, "pcie_gen": 4},
            "nvlink_domain": 1,
            "gpus_per_node": 1,
            "source": _MEASURED,
            "estimates": ["hbm_gib", "hbm_tb_s", "dense_tflops", "tdp_w", "interconnect"],
            "notes": "hbm_gib: what the tests may use of the 23 GiB; tdp_w and interconnect are placeholders a CPU lacks.",
        }
    ]


@hookimpl
def planner_runtimes():
    """Return llama.cpp's llama-server: continuous batching over -np slots, KV sized by --ctx-size."""
    knob = {"source": _LLAMA_CPP}
    return [
        {
            "id": "llama.cpp",
            "name": "llama.cpp llama-server",
            "aliases": ["llama-server", "llamacpp"],
            "parallelism": ["tp"],
            "kv_dtypes": ["fp16", "bf16", "int8"],
            "weight_dtypes": ["fp32", "fp16", "bf16", "int8", "int4"],
            "vendors": ["amd", "nvidia", "intel"],
            "kv_budget_rule": "fraction_of_total",
            "kv_budget_knob": "memory_fraction",
            "memory_reserve_gib": 0.25,
            "knobs": [
                {
                    **knob,
                    "name": "memory_fraction",
                    "default": 0.9,
                    "type": "float",
                    "minimum": 0,
                    "maximum": 1,
                    "exclusive_minimum": True,
                    "unit": "fraction of memory",
                    "meaning": "Stand-in for the planner's budget rule: llama.cpp sizes KV by --ctx-size, not a fraction.",
                },
                {
                    **knob,
                    "name": "parallel",
                    "default": 4,
                    "type": "int",
                    "minimum": 1,
                    "unit": "sequences",
                    "meaning": "-np: parallel slots, continuously batched; requests beyond them queue.",
                },
                {
                    **knob,
                    "name": "batch_size",
                    "default": 2048,
                    "type": "int",
                    "minimum": 1,
                    "unit": "tokens per step",
                    "meaning": "-b: logical batch size of one decode step (prefill chunk).",
                },
                {
                    **knob,
                    "name": "ctx_size",
                    "default": 4096,
                    "type": "int",
                    "minimum": 1,
                    "unit": "tokens",
                    "meaning": "-c: KV cache tokens, shared by the slots.",
                },
            ],
            "knob_roles": {"max_sequences": "parallel", "batched_tokens": "batch_size", "max_context": "ctx_size"},
            "launch": ["llama-server"],
            "serve_port": 8080,
            "source": _LLAMA_CPP,
            "estimates": ["memory_reserve_gib"],
        }
    ]


@hookimpl
def planner_models():
    """Return the random-weight test llama (4 layers x 256, 332 tokens; see tests/llama_server.py)."""
    layers, hidden, ffn, vocab = 4, 256, 688, 332
    params = 2 * vocab * hidden + layers * (4 * hidden * hidden + 3 * hidden * ffn + 2 * hidden) + hidden
    return [
        {
            "id": "ci-tiny-llama",
            "name": "CI tiny llama (random weights, test fixture)",
            "family": "llama",
            "architecture": "LlamaForCausalLM",
            "num_layers": layers,
            "hidden_size": hidden,
            "num_attention_heads": 4,
            "num_kv_heads": 4,
            "head_dim": 64,
            "intermediate_size": ffn,
            "vocab_size": vocab,
            "attention": "mha",
            "total_params": params,
            "active_params": params,
            "max_context": 4096,
            "native_weight_dtype": "fp32",
            "license": "test-fixture",
            "source": "tests/llama_server.py LlamaShape() (written by the test, not published)",
        }
    ]

"""Time a whole decode step of a Llama-3.1-8B-shaped model on a real GPU (run on a machine with one).

    python benchmarks/device_decode_step.py --out steps.csv      # needs PyTorch with CUDA

A plain PyTorch step with random BF16 weights: per layer a fused RMSNorm, the q/k/v GEMM, the new
token's keys written into a KV cache of ``context`` tokens, attention over the cache (PyTorch's
scaled-dot-product attention with each KV head's four query heads as four query rows, the
grouped-query layout FlashInfer's decode kernels use), the output GEMM, the gated FFN; then the
final norm, the output head over the 128,256-token vocabulary and a greedy pick. The step is
captured once per (context, batch) and replayed as a CUDA graph, as vLLM and SGLang replay decode
steps. It also times one prompt's prefill at 512 to 16,384 tokens (causal attention, the output
head for the last token only; CSV mode ``prefill``, ``context`` the prompt's tokens). No
scheduler, no sampling parameters, no detokenizer, no HTTP: what remains of a served
step's time is the GPU's own work, so ``benchmarks/device_check.py`` can set it beside the
built-in model's decode step (which carries the engines' other costs in its calibrated factors).

It does not import the planner (the GPU machine has PyTorch, not the planner's dependencies).
"""

from __future__ import annotations

import argparse
import csv

from device_timing import eager_and_graph_ms, time_ms

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, FFN, LAYERS, VOCAB = 4096, 32, 8, 128, 14336, 32, 128256
#: (context tokens a sequence, batches); a batch's KV cache stays under about 70 GB.
#: Prompt lengths of the prefill runs (one prompt each).
PROMPTS = (512, 1024, 2048, 4096, 8192, 16384)
LOADS = ((1024, (1, 8, 32, 64, 128, 256)), (4096, (1, 8, 32, 64, 128)))


def make_weights(torch):  # type: ignore[no-untyped-def]
    """Random BF16 weights of every layer and the output head."""

    def w(*shape: int):  # type: ignore[no-untyped-def]
        return torch.randn(*shape, device="cuda", dtype=torch.bfloat16) * 0.02

    layers = [
        {
            "qkv": w(HIDDEN + 2 * KV_HEADS * HEAD_DIM, HIDDEN),
            "o": w(HIDDEN, HIDDEN),
            "gate_up": w(2 * FFN, HIDDEN),
            "down": w(HIDDEN, FFN),
            "norm1": torch.ones(HIDDEN, device="cuda", dtype=torch.bfloat16),
            "norm2": torch.ones(HIDDEN, device="cuda", dtype=torch.bfloat16),
        }
        for _ in range(LAYERS)
    ]
    return layers, w(VOCAB, HIDDEN), torch.ones(HIDDEN, device="cuda", dtype=torch.bfloat16)


def decode_step(torch, layers, head, final_norm, caches, x, context: int):  # type: ignore[no-untyped-def]
    """One decode step of ``x.shape[0]`` sequences at ``context`` tokens (a closure to capture)."""
    f = torch.nn.functional
    batch = x.shape[0]
    group = HEADS // KV_HEADS

    def step():  # type: ignore[no-untyped-def]
        h = x
        for layer, (k_cache, v_cache) in zip(layers, caches, strict=True):
            a = f.rms_norm(h, (HIDDEN,), layer["norm1"])
            qkv = a @ layer["qkv"].t()
            q = qkv[:, :HIDDEN].view(batch, KV_HEADS, group, HEAD_DIM)
            k = qkv[:, HIDDEN : HIDDEN + KV_HEADS * HEAD_DIM].view(batch, KV_HEADS, HEAD_DIM)
            v = qkv[:, HIDDEN + KV_HEADS * HEAD_DIM :].view(batch, KV_HEADS, HEAD_DIM)
            k_cache[:batch, :, context - 1] = k
            v_cache[:batch, :, context - 1] = v
            attended = f.scaled_dot_product_attention(q, k_cache[:batch], v_cache[:batch])
            h = h + attended.reshape(batch, HIDDEN) @ layer["o"].t()
            a = f.rms_norm(h, (HIDDEN,), layer["norm2"])
            gate, up = (a @ layer["gate_up"].t()).chunk(2, dim=-1)
            h = h + (f.silu(gate) * up) @ layer["down"].t()
        logits = f.rms_norm(h, (HIDDEN,), final_norm) @ head.t()
        return logits.argmax(dim=-1)

    return step


def prefill(torch, layers, head, final_norm, x):  # type: ignore[no-untyped-def]
    """One prompt of ``x.shape[0]`` tokens through every layer, causal attention (the first
    token's step; a closure to time): the output head only for the last token, as engines do."""
    f = torch.nn.functional
    length = x.shape[0]
    group = HEADS // KV_HEADS

    def step():  # type: ignore[no-untyped-def]
        h = x
        for layer in layers:
            a = f.rms_norm(h, (HIDDEN,), layer["norm1"])
            qkv = a @ layer["qkv"].t()
            q = qkv[:, :HIDDEN].view(1, length, HEADS, HEAD_DIM).transpose(1, 2)
            kv = qkv[:, HIDDEN:].view(1, length, 2 * KV_HEADS, HEAD_DIM).transpose(1, 2)
            # each KV head repeated for its query heads, in (batch, heads, tokens, dim): the flash
            # kernel then runs plain causal multi-head attention (three-dimensional inputs fall back
            # to a kernel that writes the whole score matrix)
            k, v = (t.repeat_interleave(group, dim=1) for t in kv.split(KV_HEADS, dim=1))
            attended = f.scaled_dot_product_attention(q, k, v, is_causal=True)
            h = h + attended.transpose(1, 2).reshape(length, HIDDEN) @ layer["o"].t()
            a = f.rms_norm(h, (HIDDEN,), layer["norm2"])
            gate, up = (a @ layer["gate_up"].t()).chunk(2, dim=-1)
            h = h + (f.silu(gate) * up) @ layer["down"].t()
        logits = f.rms_norm(h[-1:], (HIDDEN,), final_norm) @ head.t()
        return logits.argmax(dim=-1)

    return step


def measure_prefills(torch, layers, head, final_norm, repeats: int) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    """(prompt tokens, ms) for one prompt of each length in ``PROMPTS``, launched eagerly (the
    kernels are long enough that launches do not count)."""
    found = []
    for length in PROMPTS:
        x = torch.randn(length, HIDDEN, device="cuda", dtype=torch.bfloat16)
        ms = time_ms(torch, prefill(torch, layers, head, final_norm, x), max(repeats // 4, 3))
        found.append((length, ms))
        print(f"prefill {length:5d} tokens: {ms:7.3f} ms", flush=True)
    return found


def measure(torch, layers, head, final_norm, repeats: int) -> list[tuple[int, int, float, float]]:  # type: ignore[no-untyped-def]
    """(context, batch, graph ms, eager ms) for every load."""
    found = []
    for context, batches in LOADS:
        top = max(batches)
        caches = [
            tuple(
                torch.empty(top, KV_HEADS, context, HEAD_DIM, device="cuda", dtype=torch.bfloat16).fill_(0.01)
                for _ in range(2)
            )
            for _ in range(LAYERS)
        ]
        for batch in batches:
            x = torch.randn(batch, HIDDEN, device="cuda", dtype=torch.bfloat16)
            step = decode_step(torch, layers, head, final_norm, caches, x, context)
            eager, replayed = eager_and_graph_ms(torch, step, repeats)
            found.append((context, batch, replayed, eager))
            print(f"context {context:5d} batch {batch:4d}: graph {replayed:7.3f} ms, eager {eager:7.3f} ms", flush=True)
        caches.clear()
        torch.cuda.empty_cache()
    return found


def main() -> int:
    """Measure every load and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    import torch

    name = torch.cuda.get_device_name()
    print(name, torch.__version__, flush=True)
    with torch.inference_mode():
        layers, head, final_norm = make_weights(torch)
        prefills = measure_prefills(torch, layers, head, final_norm, args.repeats)
        found = measure(torch, layers, head, final_norm, args.repeats)
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["gpu", "model", "context", "batch", "mode", "step_ms"])
        for context, batch, replayed, eager in found:
            writer.writerow([name, "llama-3.1-8b", context, batch, "graph", f"{replayed:.4f}"])
            writer.writerow([name, "llama-3.1-8b", context, batch, "eager", f"{eager:.4f}"])
        for length, ms in prefills:
            writer.writerow([name, "llama-3.1-8b", length, 1, "prefill", f"{ms:.4f}"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

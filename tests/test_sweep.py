"""Every catalog model on a spread of GPUs and runtimes: estimates and simulations never
raise, and give finite, ordered figures or an explicit 'does not fit'."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.performance_models import BUILTIN
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from planner.sizing.search import gpu_runs

GPUS = ["h100-sxm", "b200", "mi300x", "l40s", "gb200", "gaudi3"]


@pytest.mark.parametrize("gpu_id", GPUS)
def test_every_model_estimates_on_every_gpu(catalog: Any, gpu_id: str) -> None:
    gpu = catalog.gpus.get(gpu_id)
    for model in catalog.models.specs():
        for runtime in catalog.runtimes.specs():
            if gpu.vendor not in runtime.vendors:
                continue
            weights = model.native_weight_dtype if gpu_runs(gpu, model.native_weight_dtype) else "bf16"
            for tp in (1, 8):
                if model.num_attention_heads % tp:
                    continue
                dep = Deployment(model, gpu, runtime, weights, "bf16", tp=tp, ep=tp if model.moe else 1)
                est = estimate(dep, 2000, 300, model=BUILTIN, concurrency=16)
                cap = est.capacity
                assert cap.weights_gib_per_gpu > 0 and cap.kv_bytes_per_token_per_gpu > 0
                if cap.max_concurrency == 0:
                    assert est.timing is None and cap.binding_cap in ("weights", "memory", "context")
                    continue
                for name, value in est.metrics().items():
                    assert math.isfinite(value) and value > 0, (dep.label, name, value)
                assert est.ttft_ms <= est.e2e_ms
                low, high = est.bands["output_tok_s"]
                assert 0 < low <= high

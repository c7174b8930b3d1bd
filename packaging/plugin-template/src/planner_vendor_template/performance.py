"""``vendor-roofline``: the planner's roofline timed with the vendor's efficiency factors.

The physics (FLOPs, bytes read, collectives) is the planner's own
(:mod:`planner.sizing.roofline`); what a vendor knows better is how close its kernels come
to peak on its GPUs, so this model only swaps in those factors, per GPU generation.
"""

from __future__ import annotations

from functools import cache

from planner.catalogfiles import load_entries
from planner.sizing import roofline
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Efficiency

#: The model's name, as ``--perf-backend`` and ``planner plugins`` show it.
NAME = "vendor-roofline"


@cache
def factors_by_generation() -> dict[str, Efficiency]:
    """The vendor's efficiency factors per GPU generation, from ``efficiency.yaml`` (read once)."""
    return {
        entry["generation"]: Efficiency(
            mfu_prefill=float(entry["mfu_prefill"]),
            mbu_decode=float(entry["mbu_decode"]),
            mfu_decode=float(entry["mfu_decode"]),
            overhead_ms=float(entry["overhead_ms"]),
            source=f"{NAME} {entry['id']} (estimate: {entry['source']})",
        )
        for entry in load_entries("efficiency.yaml", "planner_vendor_template")
    }


class VendorRoofline:
    """The planner's roofline with the vendor's factors, for the vendor's GPU generations."""

    name = NAME

    def coverage(self, dep: Deployment) -> str | None:
        """``None`` for a GPU generation the vendor has factors for, else why not (the built-in model answers)."""
        if dep.gpu.generation in factors_by_generation():
            return None
        return f"{NAME} has factors for {', '.join(sorted(factors_by_generation()))} GPUs only"

    def efficiency(self, dep: Deployment) -> Efficiency:
        """The vendor's factors for ``dep``'s GPU generation."""
        return factors_by_generation()[dep.gpu.generation]

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """Seconds for one batched prefill of ``requests`` prompts of ``length`` tokens."""
        return roofline.prefill_s(dep, requests, length, self.efficiency(dep))

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """Seconds for one decode step of ``batch`` sequences at ``context`` tokens."""
        return roofline.decode_step_s(dep, batch, context, self.efficiency(dep))

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """Seconds for one chunked-prefill step mixing prefill tokens and a decode batch."""
        return roofline.mixed_step_s(dep, prefill_tokens, prefill_keys, decode_batch, decode_keys, self.efficiency(dep))

    def overhead_s(self, dep: Deployment) -> float:
        """The fixed per-step cost inside the step times above."""
        return self.efficiency(dep).overhead_ms / 1000

    def source(self, dep: Deployment) -> str:
        """Where the factors behind ``dep``'s times come from."""
        return self.efficiency(dep).source

    def describe(self) -> str:
        """What ``planner plugins`` shows for the model."""
        return f"{NAME} (planner roofline, vendor factors for {', '.join(sorted(factors_by_generation()))})"

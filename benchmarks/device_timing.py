"""Timing on the GPU for the device scripts (``device_decode_gemms.py``, ``device_decode_step.py``).

Imported by path from those scripts' folder: the GPU machine has PyTorch, not the planner's
dependencies, so they import nothing from the planner.
"""

from __future__ import annotations

from collections.abc import Callable


def time_ms(torch, run: Callable[[], object], repeats: int) -> float:  # type: ignore[no-untyped-def]
    """Mean wall time of ``run`` on the GPU over ``repeats`` calls after three warm-ups (CUDA events)."""
    for _ in range(3):
        run()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        run()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


def eager_and_graph_ms(torch, step: Callable[[], object], repeats: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """``step`` timed launched eagerly, then captured once and replayed as a CUDA graph (as vLLM
    and SGLang replay decode steps): (eager ms, graph ms). A warm-up on a side stream first lets
    cuBLAS set up its workspace outside the capture."""
    eager = time_ms(torch, step, repeats)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    replayed = time_ms(torch, graph.replay, repeats)
    del graph
    return eager, replayed

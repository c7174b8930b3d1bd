"""How fast the load generator of ``planner bench run`` is, and what it measures on a real server.

    python benchmarks/loadgen.py [--seconds 3] [--no-llama]

Prints
- requests per second the generator sustains (closed loop, c = 1, 8, 32), by the wall clock and
  per second of its own CPU time, against the stub
  OpenAI-compatible server of the tests (tests/openai_stub.py, 4 tokens per answer) running
  in a process of its own on this machine (target: at least 500 requests/s);
- its own overhead on TTFT at c = 1: the median TTFT it records minus the median TTFT a
  minimal raw-socket client measures against the same server (target: under 1 ms);
- the measured llama-server sweep (closed loop, c = 1 to 16 on 8 slots) as a table, when the
  binary is built (tests/llama_server.py says where it is looked for).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.bench.loadgen import Endpoint, Limits, Prompt, measured_run, run_sweep  # noqa: E402
from planner.bench.prompts import LengthDistribution, fit_tokenizer, synthetic_prompts  # noqa: E402
from tests.llama_server import llama_server, server_binary, write_llama_gguf  # noqa: E402


def stub_process() -> tuple[subprocess.Popen[str], str]:
    """The stub server in a process of its own; its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_stub", "4"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def sustained(url: str, seconds: float) -> None:
    """Requests per second at c = 1, 8, 32: by the wall clock, and per second of the client's own
    CPU time (what one core sustains, whatever else runs on the machine)."""
    endpoint = Endpoint(url, "stub")
    prompts = itertools.repeat(Prompt("a short prompt of a few words", 4))
    print(f"load generator against the stub (4 tokens per answer, server in its own process); load {_load()}")
    print(f"{'users':>6} {'requests':>9} {'req/s':>8} {'client CPU ms/req':>18} {'req per CPU-s':>14} "
          f"{'TTFT p50 ms':>12} {'errors':>7}")  # fmt: skip
    for users in (1, 8, 32):
        cpu_s = time.process_time()
        [result] = run_sweep(endpoint, prompts, "closed", [users], Limits(1_000_000, seconds))
        cpu_s = time.process_time() - cpu_s
        run = measured_run(result, endpoint, "stub")
        done = len(result.records)
        print(f"{users:>6} {done:>9} {done / result.duration_s:>8.0f} {cpu_s / done * 1000:>18.2f} "
              f"{done / cpu_s:>14.0f} {run.latency['ttft_ms']['p50']:>12.3f} {run.errors:>7}")  # fmt: skip


def _load() -> str:
    """The machine's load average: figures measured on a busy machine say so."""
    one, five, _ = os.getloadavg()
    return f"average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


async def raw_ttft_ms(url: str, requests: int) -> list[float]:
    """TTFT as a minimal client sees it: one keep-alive socket, the request bytes prebuilt, timed
    from the write to the first chunk with text."""
    parsed = urlparse(url)
    body = json.dumps({"model": "stub", "messages": [{"role": "user", "content": "a short prompt of a few words"}],
                       "max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}}).encode()  # fmt: skip
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {parsed.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
    out = []
    for _ in range(requests):
        start = time.perf_counter()
        writer.write(head + body)
        buffer, first = b"", None
        while not buffer.endswith(b"0\r\n\r\n"):
            buffer += await reader.read(65536)
            if first is None and b'"content"' in buffer:
                first = time.perf_counter()
        out.append(((first or time.perf_counter()) - start) * 1000)
    writer.close()
    return out


def overhead(url: str, requests: int = 2000) -> None:
    """The generator's TTFT minus the raw client's, medians at c = 1."""
    endpoint = Endpoint(url, "stub")
    prompts = itertools.repeat(Prompt("a short prompt of a few words", 4))
    raw = statistics.median(asyncio.run(raw_ttft_ms(url, requests)))
    [result] = run_sweep(endpoint, prompts, "closed", [1], Limits(requests, 60))
    ours = statistics.median(r["ttft_ms"] for r in result.records)
    print(f"TTFT at c=1, median of {requests}: raw socket {raw:.3f} ms, load generator {ours:.3f} ms, "
          f"client overhead {ours - raw:.3f} ms; load {_load()}")  # fmt: skip


def llama_sweep(seconds: float) -> None:
    """The closed-loop sweep against llama-server with 8 slots, as a table."""
    binary = server_binary()
    if binary is None:
        print("llama-server not built (run .ci/run, or set PLANNER_LLAMA_SERVER): sweep skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = write_llama_gguf(Path(tmp) / "tiny.gguf")
        with llama_server(binary, model, slots=8, context=1024) as url:
            endpoint = Endpoint(url, "tiny", ignore_eos=True)
            fit = asyncio.run(fit_tokenizer(endpoint))
            prompts = synthetic_prompts(fit, LengthDistribution.fixed(96), LengthDistribution.fixed(48))
            results = run_sweep(endpoint, prompts, "closed", [1, 2, 4, 8, 12, 16], Limits(100_000, seconds))
    print(
        f"\nllama-server ({binary.parent.name}), random-weight llama 4 x 256, 8 slots, 1 thread; 96 tokens in, 48 out"
    )
    print(f"tokenizer fit: {fit.tokens_per_word:.2f} tokens per word + {fit.overhead_tokens:.1f}")
    print(f"{'c':>3} {'requests':>9} {'TTFT p50':>9} {'TTFT p90':>9} {'ITL p50':>8} {'ITL p90':>8} {'E2E p50':>8} "
          f"{'out tok/s':>10} {'req/s':>7}")  # fmt: skip
    for result in results:
        run = measured_run(result, endpoint, "llama-server")
        lat = run.latency
        print(f"{run.load:>3g} {run.completed:>9} {lat['ttft_ms']['p50']:>9.1f} {lat['ttft_ms']['p90']:>9.1f} "
              f"{lat['itl_ms']['p50']:>8.2f} {lat['itl_ms']['p90']:>8.2f} {lat['e2e_ms']['p50']:>8.1f} "
              f"{run.output_tok_s or 0:>10.0f} {run.request_s or 0:>7.1f}")  # fmt: skip


def main() -> None:
    """Run the three measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per load level (default %(default)s)")
    parser.add_argument("--no-llama", action="store_true", help="skip the llama-server sweep")
    args = parser.parse_args()
    proc, url = stub_process()
    try:
        sustained(url, args.seconds)
        overhead(url)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    if not args.no_llama:
        llama_sweep(args.seconds)


if __name__ == "__main__":
    main()

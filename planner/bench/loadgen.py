"""The load generator of ``planner bench run``: streams requests to one OpenAI-compatible endpoint.

Two loops, as the benchmark tools define them (docs/benchmarks.md):

- **closed**: ``load`` users, each sending its next request when its last one ends;
- **open**: Poisson arrivals at ``load`` requests per second. An arrival is never delayed by a
  slow server: each request starts at its scheduled time, and its TTFT and E2E are measured
  from that time, so time spent waiting for a connection counts (``queue_ms`` says how much).

Each request is one streamed completion (``/v1/chat/completions`` or ``/v1/completions``,
``stream: true``; chat asks for ``stream_options.include_usage``). Its record keeps the
scheduled send time, TTFT at the first chunk with non-empty text (a chat stream's first chunk
carries only the role), the gaps between text chunks (ITL), E2E, and the prompt and completion
tokens from the usage the stream reports; without usage the text chunks are counted and the
record says so (``tokens_counted``). A failed request keeps its error kind (:data:`ERROR_KINDS`).

Every run is bounded by a request count and a time limit, and contacts only the one URL it was
given. This module holds no printing: callers pass a progress callback and a stop event.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planner.errors import PlannerError
from planner.measured_run import MeasuredRun

if TYPE_CHECKING:
    import asyncio
    import ssl

    import httpx

#: Error kinds of a failed request, and what each means.
ERROR_KINDS = {
    "rate_limited": "HTTP 429: the server refused the request for now",
    "server_error": "HTTP 5xx: the server failed or was unavailable",
    "http_error": "another HTTP status (4xx): the request was refused",
    "connection": "no connection could be made, or it closed before the response started",
    "dropped": "the connection closed in the middle of the stream",
    "stalled": "the stream sent nothing for longer than the stall timeout",
    "timeout": "the request took longer than the request timeout",
    "malformed": "a chunk of the stream was not the JSON an OpenAI-compatible server sends",
    "empty": "the stream ended without any text",
}
#: The two APIs and their paths under ``/v1``.
API_PATHS = {"chat": "/chat/completions", "completions": "/completions"}
#: Records are kept to this many decimals of a millisecond (a microsecond).
_MS_DECIMALS = 3


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send: the URL, the served model name, the API, the timeouts.

    :param url: the server (``http://host:port``), its ``/v1``, or the full completions URL.
    :param request_timeout_s: a request running longer fails as ``timeout``.
    :param stall_timeout_s: a stream silent for longer fails as ``stalled``.
    :param ignore_eos: ask the server to generate exactly ``max_tokens`` (vLLM, SGLang, llama.cpp).
    """

    url: str
    model: str
    api: str = "chat"
    request_timeout_s: float = 120.0
    stall_timeout_s: float = 30.0
    ignore_eos: bool = False

    @property
    def completions_url(self) -> str:
        """The URL the requests go to."""
        base = self.url.rstrip("/")
        if base.endswith(tuple(API_PATHS.values())):
            return base
        return (base if base.endswith("/v1") else base + "/v1") + API_PATHS[self.api]

    def body(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        """The JSON body of one streamed request."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "stream": True}
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
            body["stream_options"] = {"include_usage": True}
        else:
            body["prompt"] = prompt
        if self.ignore_eos:
            body["ignore_eos"] = True
        return body


@dataclass(frozen=True)
class Prompt:
    """One request to send: its text and how many tokens to ask for."""

    text: str
    max_tokens: int


@dataclass(frozen=True)
class Limits:
    """The bounds of one run: at most ``requests`` requests, and no new one after ``duration_s``."""

    requests: int
    duration_s: float


@dataclass
class LevelResult:
    """What one load level measured: the records, how long it ran, and why it stopped."""

    mode: str
    load: float
    records: list[dict[str, Any]]
    duration_s: float
    started_at: float
    stopped: str = ""
    cancelled: int = 0


# --------------------------------------------------------------------- one request


@dataclass
class _Stream:
    """What a stream has delivered so far."""

    first_text_s: float | None = None
    last_text_s: float | None = None
    gaps_ms: list[float] = field(default_factory=list)
    text_chunks: int = 0
    usage: dict[str, Any] | None = None
    done: bool = False

    def text_arrived(self, now_s: float) -> None:
        if self.first_text_s is None:
            self.first_text_s = now_s
        elif self.last_text_s is not None:
            self.gaps_ms.append(round((now_s - self.last_text_s) * 1000, _MS_DECIMALS))
        self.last_text_s = now_s
        self.text_chunks += 1


class _Failure(Exception):
    """A request that failed, with its kind of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def _chunk_text(chunk: dict[str, Any]) -> str:
    """The text a chunk carries (chat ``delta.content`` or completions ``text``), ``""`` for none."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise _Failure("malformed", f"a chunk without a choices list: {json.dumps(chunk)[:120]}")
    text = ""
    for choice in choices:
        if not isinstance(choice, dict):
            raise _Failure("malformed", f"a choice that is not an object: {json.dumps(chunk)[:120]}")
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        text += piece if isinstance(piece, str) else ""
    return text


def _read_event(data: bytes, stream: _Stream, now_s: float) -> None:
    """Take one SSE ``data:`` payload into ``stream``."""
    if data == b"[DONE]":
        stream.done = True
        return
    try:
        chunk = json.loads(data)
    except ValueError:
        raise _Failure("malformed", f"a chunk that is not JSON: {data[:120]!r}") from None
    if not isinstance(chunk, dict):
        raise _Failure("malformed", f"a chunk that is not a JSON object: {data[:120]!r}")
    if "error" in chunk and not chunk.get("choices"):
        raise _Failure("server_error", f"the stream reported an error: {json.dumps(chunk['error'])[:200]}")
    if isinstance(chunk.get("usage"), dict):
        stream.usage = chunk["usage"]
    if _chunk_text(chunk):
        stream.text_arrived(now_s)


async def _consume(response: httpx.Response, stream: _Stream) -> None:
    """Read the SSE body event by event, timing each at its arrival."""
    buffer = b""
    async for block in response.aiter_raw():
        now_s = time.perf_counter()
        buffer += block
        *events, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    _read_event(line[5:].strip(), stream, now_s)
    if buffer.strip().startswith(b"data:"):
        _read_event(buffer.strip()[5:].strip(), stream, time.perf_counter())


def _status_failure(status: int, body: bytes) -> _Failure:
    detail = f"HTTP {status}: {body[:200].decode('utf-8', 'replace').strip()}"
    if status == 429:
        return _Failure("rate_limited", detail)
    return _Failure("server_error" if status >= 500 else "http_error", detail)


async def _stream_one(client: httpx.AsyncClient, endpoint: Endpoint, prompt: Prompt, stream: _Stream) -> None:
    """Send one request and read its stream into ``stream``; raises :class:`_Failure`."""
    import httpx

    started = False
    try:
        request = client.build_request(
            "POST", endpoint.completions_url, json=endpoint.body(prompt.text, prompt.max_tokens)
        )
        response = await client.send(request, stream=True)
        started = True
        try:
            if response.status_code != 200:
                raise _status_failure(response.status_code, await response.aread())
            await _consume(response, stream)
        finally:
            await response.aclose()
    except httpx.ReadTimeout as exc:
        raise _Failure("stalled", f"nothing for {endpoint.stall_timeout_s:g} s") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise _Failure("dropped" if started else "connection", str(exc) or type(exc).__name__) from exc
    except httpx.TransportError as exc:
        raise _Failure("connection", str(exc) or type(exc).__name__) from exc
    if stream.first_text_s is None:
        raise _Failure("empty", "the stream ended without any text")
    if not stream.done and stream.usage is None:
        raise _Failure("dropped", "the stream ended without [DONE]")


async def send_request(client: httpx.AsyncClient, endpoint: Endpoint, prompt: Prompt, due_s: float) -> dict[str, Any]:
    """Send one request due at ``due_s`` (``perf_counter`` seconds) and return its record.

    TTFT and E2E count from ``due_s``, so time waiting for a connection is part of them. A request
    whose connection closed before any answer (a server dropping an idle keep-alive connection as
    the request went out) is sent again once, as the OpenAI client does; the record says so.
    """
    import asyncio

    sent_s = time.perf_counter()
    stream = _Stream()
    error: _Failure | None = None
    retried = False
    try:
        async with asyncio.timeout(endpoint.request_timeout_s):
            try:
                await _stream_one(client, endpoint, prompt, stream)
            except _Failure as failure:
                if failure.kind != "connection" or stream.first_text_s is not None:
                    raise
                retried = True
                await _stream_one(client, endpoint, prompt, stream)
    except _Failure as failure:
        error = failure
    except TimeoutError:
        error = _Failure("timeout", f"over {endpoint.request_timeout_s:g} s")
    return _record(stream, error, due_s, sent_s, time.perf_counter()) | {"retried": retried}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, _MS_DECIMALS)


def _record(stream: _Stream, error: _Failure | None, due_s: float, sent_s: float, end_s: float) -> dict[str, Any]:
    """The per-request record (``start_s`` is made relative to the run's start by the caller)."""
    usage = stream.usage or {}
    counted = not isinstance(usage.get("completion_tokens"), int)
    output = stream.text_chunks if counted else int(usage["completion_tokens"])
    ttft_ms = _ms(stream.first_text_s - due_s) if stream.first_text_s is not None else None
    e2e_ms = _ms((stream.last_text_s or end_s) - due_s)
    tpot_ms = None
    if error is None and ttft_ms is not None and output > 1:
        tpot_ms = round((e2e_ms - ttft_ms) / (output - 1), _MS_DECIMALS)
    prompt_tokens = usage.get("prompt_tokens")
    return {
        "start_s": due_s,
        "queue_ms": _ms(max(sent_s - due_s, 0.0)),
        "ttft_ms": ttft_ms,
        "tpot_ms": tpot_ms,
        "itl_ms": stream.gaps_ms,
        "e2e_ms": e2e_ms if error is None else _ms(end_s - due_s),
        "input_tokens": int(prompt_tokens) if isinstance(prompt_tokens, int) else None,
        "output_tokens": output,
        "tokens_counted": counted,
        "error": error.kind if error else None,
        "error_detail": str(error) if error else None,
    }


# ------------------------------------------------------------------------ the loops


def client_for(endpoint: Endpoint, connections: int | None) -> httpx.AsyncClient:
    """An HTTP client for ``endpoint`` with ``connections`` connections at most (``None``: no limit)."""
    import httpx

    timeout = httpx.Timeout(endpoint.request_timeout_s, read=endpoint.stall_timeout_s)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # trust_env=False: no proxy from the environment, so only the given endpoint is contacted.
    return httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False, verify=_tls_context())


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: each new one would load the CA bundle again
    (some 20 ms, more than a thousand requests' worth of the generator's own work)."""
    import httpx

    return httpx.create_ssl_context()


async def closed_loop(
    endpoint: Endpoint, prompts: Iterator[Prompt], users: int, limits: Limits,
    on_record: Callable[[dict[str, Any]], None], stop: asyncio.Event,
) -> None:  # fmt: skip
    """``users`` users, each sending its next prompt when its last request ends, until a limit or ``stop``."""
    import asyncio

    deadline = time.perf_counter() + limits.duration_s
    budget = iter(range(limits.requests))

    async def user() -> None:
        # A client (one connection) per user: httpx's shared pool scans every connection for
        # every request, which at 32 users cost a third of the throughput.
        async with client_for(endpoint, 1) as client:
            while not stop.is_set() and time.perf_counter() < deadline and next(budget, None) is not None:
                on_record(await send_request(client, endpoint, next(prompts), time.perf_counter()))

    await asyncio.gather(*(user() for _ in range(users)))


async def open_loop(
    endpoint: Endpoint, prompts: Iterator[Prompt], rate_per_s: float, limits: Limits,
    on_record: Callable[[dict[str, Any]], None], stop: asyncio.Event, seed: int = 0,
) -> None:  # fmt: skip
    """Poisson arrivals at ``rate_per_s`` (exponential gaps), each request started at its time
    whatever the server's state, until a limit or ``stop``; then waits for those in flight."""
    import asyncio

    arrivals = random.Random(seed)
    start = time.perf_counter()
    due = start
    in_flight: set[asyncio.Task[None]] = set()
    # Single-connection clients reused as they come free (see closed_loop for why not one pool).
    idle: list[httpx.AsyncClient] = []
    made: list[httpx.AsyncClient] = []

    async def one(prompt: Prompt, due_s: float) -> None:
        if not idle:
            made.append(client_for(endpoint, 1))
            idle.append(made[-1])
        client = idle.pop()
        try:
            on_record(await send_request(client, endpoint, prompt, due_s))
        finally:
            idle.append(client)

    try:
        for _ in range(limits.requests):
            due += arrivals.expovariate(rate_per_s)
            if due - start > limits.duration_s or stop.is_set():
                break
            await _sleep_until(due, stop)
            if stop.is_set():
                break
            task = asyncio.create_task(one(next(prompts), due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
    finally:
        await asyncio.gather(*(client.aclose() for client in made), return_exceptions=True)


async def _sleep_until(when_s: float, stop: asyncio.Event) -> None:
    import asyncio

    delay = when_s - time.perf_counter()
    if delay > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def run_level(
    endpoint: Endpoint, prompts: Iterator[Prompt], mode: str, load: float, limits: Limits, stop: asyncio.Event,
    progress: Callable[[dict[str, Any]], None] | None = None, seed: int = 0,
) -> LevelResult:  # fmt: skip
    """One load level: a closed loop of ``load`` users or an open loop at ``load`` requests/s.

    ``stop`` (Ctrl-C) ends it at once: requests in flight are cancelled and not recorded, the
    rest are kept. Requests still running ``request_timeout_s`` after the time limit are cancelled
    the same way.
    """
    import asyncio

    records: list[dict[str, Any]] = []
    drawn = _Counted(prompts)

    def keep(record: dict[str, Any]) -> None:
        records.append(record)
        if progress is not None:
            progress(record)

    wall, start = time.time(), time.perf_counter()
    if mode == "closed":
        work = closed_loop(endpoint, drawn, int(load), limits, keep, stop)
    else:
        work = open_loop(endpoint, drawn, load, limits, keep, stop, seed)
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    hard_limit_s = limits.duration_s + endpoint.request_timeout_s
    await asyncio.wait({task, stopper}, timeout=hard_limit_s, return_when=asyncio.FIRST_COMPLETED)
    stopped = "stopped (Ctrl-C)" if stop.is_set() else ""
    if not task.done():
        stopped = stopped or f"still running {hard_limit_s:g} s after the start: cancelled"
        task.cancel()
    stopper.cancel()
    await asyncio.gather(task, stopper, return_exceptions=True)
    for record in records:
        record["start_s"] = round(record["start_s"] - start, 6)
    records.sort(key=lambda r: r["start_s"])
    return LevelResult(mode, load, records, time.perf_counter() - start, wall, stopped, drawn.count - len(records))


class _Counted(Iterator[Prompt]):
    """The prompts, counting those taken: each taken is a request sent."""

    def __init__(self, prompts: Iterator[Prompt]) -> None:
        self.prompts, self.count = prompts, 0

    def __next__(self) -> Prompt:
        self.count += 1
        return next(self.prompts)


def run_sweep(
    endpoint: Endpoint, prompts: Iterator[Prompt], mode: str, loads: list[float], limits: Limits,
    progress: Callable[[float, dict[str, Any]], None] | None = None,
) -> list[LevelResult]:  # fmt: skip
    """Each load level in turn (a fresh connection pool for each); Ctrl-C ends the sweep and
    returns what was measured, the level it interrupted included."""
    import asyncio

    return asyncio.run(_sweep(endpoint, prompts, mode, loads, limits, progress))


async def _sweep(
    endpoint: Endpoint, prompts: Iterator[Prompt], mode: str, loads: list[float], limits: Limits,
    progress: Callable[[float, dict[str, Any]], None] | None,
) -> list[LevelResult]:  # fmt: skip
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
        handled = True
    except (RuntimeError, NotImplementedError, ValueError):
        handled = False  # not the main thread, or no signals here: KeyboardInterrupt as usual
    try:
        results = []
        for index, load in enumerate(loads):
            tick = (lambda record, load=load: progress(load, record)) if progress else None
            results.append(await run_level(endpoint, prompts, mode, load, limits, stop, tick, seed=index))
            if stop.is_set():
                break
        return results
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


# ---------------------------------------------------------------------- as a run


def measured_run(result: LevelResult, endpoint: Endpoint, source: str) -> MeasuredRun:
    """The level as a :class:`~planner.measured_run.MeasuredRun` (format ``planner-loadgen``),
    its summary computed from every record, errors counted by kind in ``server``."""
    from planner.bench.importing import completed_from_records

    good = [r for r in result.records if not r["error"]]
    kinds: dict[str, int] = {}
    for record in result.records:
        if record["error"]:
            kinds[record["error"]] = kinds.get(record["error"], 0) + 1
    counted = sum(1 for r in good if r["tokens_counted"])
    notes = [f"{n} {kind}: {ERROR_KINDS[kind]}" for kind, n in sorted(kinds.items())]
    if counted:
        notes.append(f"{counted} requests without usage in the stream: output tokens counted from text chunks")
    if result.stopped:
        notes.append(f"{result.stopped}; {result.cancelled} requests in flight then were not recorded")
    run = MeasuredRun(
        format="planner-loadgen", source=source, mode=result.mode, load=result.load, completed=len(good),
        errors=len(result.records) - len(good), model=endpoint.model, notes=notes, records=result.records,
        server={"url": endpoint.completions_url, "api": endpoint.api, "error_kinds": kinds,
                "tokens_counted": counted, "started_at": result.started_at, "stopped": result.stopped},
    )  # fmt: skip
    run.duration_s = _active_span_s(good) or None
    completed_from_records(run)
    gaps = sorted(g for r in good for g in r["itl_ms"])
    if gaps:
        run.latency["itl_ms"] = _distribution(gaps)
    if run.duration_s and run.input_tokens_mean is not None:
        run.total_tok_s = (
            sum(r["input_tokens"] or 0 for r in good) + sum(r["output_tokens"] for r in good)
        ) / run.duration_s
    return run


def _active_span_s(records: list[dict[str, Any]]) -> float:
    """From the first send to the last end: what rates are measured over."""
    if not records:
        return 0.0
    return float(max(r["start_s"] + r["e2e_ms"] / 1000 for r in records) - min(r["start_s"] for r in records))


def _distribution(ordered: list[float]) -> dict[str, float]:
    from planner.simulate import percentile

    stats = {f"p{q}": percentile(ordered, q, ordered=True) for q in (50, 90, 95, 99)}
    return stats | {"mean": math.fsum(ordered) / len(ordered)}


def check_loads(mode: str, loads: list[float]) -> list[float]:
    """The load levels, checked: whole users above 0 for closed, rates above 0 for open."""
    if not loads:
        raise PlannerError("no load level given", path="--concurrency/--rate", fix="give e.g. --concurrency 1,2,4")
    for load in loads:
        if not (load > 0 and math.isfinite(load)) or (mode == "closed" and load != int(load)):
            what = "--concurrency takes whole numbers above 0" if mode == "closed" else "--rate takes rates above 0"
            raise PlannerError(
                f"bad load level {load:g}", path="--concurrency" if mode == "closed" else "--rate", fix=what
            )
    return loads

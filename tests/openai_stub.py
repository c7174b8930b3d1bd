"""A small OpenAI-compatible streaming server for the load generator's tests and benchmark.

Raw asyncio HTTP/1.1 with keep-alive and chunked SSE, in a thread of its own, so it costs the
client little CPU. Each request takes the next behaviour of ``behaviours`` (cycled): ``ok``,
``429``/``500``/``503``, ``stall`` (one token then silence), ``drop`` (the connection closed
mid-stream), ``malformed`` (a chunk that is not JSON), ``no_usage`` (``stream_options`` ignored),
``close`` (the connection closed before any answer, as a server dropping a keep-alive one).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StubServer:
    """The stub's settings and what it saw."""

    behaviours: Sequence[str] = ("ok",)
    tokens: int = 4
    token_delay_s: float = 0.0
    stall_s: float = 5.0
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    bodies: list[dict] = field(default_factory=list)
    keep_bodies: bool = True
    port: int = 0

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``)."""
        return f"http://127.0.0.1:{self.port}"


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(obj: object) -> bytes:
    return _chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")


_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n\r\n"
)


async def _serve_one(stub: StubServer, behaviour: str, body: dict, writer: asyncio.StreamWriter) -> bool:
    """Answer one request; False when the connection must close."""
    if behaviour == "close":
        return False
    if behaviour in ("429", "500", "503"):
        text = json.dumps({"error": {"message": f"stub {behaviour}"}}).encode()
        writer.write(
            b"HTTP/1.1 %s Stub\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (behaviour.encode(), len(text), text)
        )
        return True
    chat = "messages" in body
    tokens = int(body.get("max_tokens") or stub.tokens)

    def piece(i: int) -> dict:
        choice = {"index": 0, "delta": {"content": f"t{i} "}} if chat else {"index": 0, "text": f"t{i} "}
        return {"choices": [choice]}

    writer.write(_HEAD)
    if chat:
        writer.write(_event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
    for i in range(tokens):
        if behaviour == "malformed" and i == 1:
            writer.write(_chunk(b"data: {not json\n\n"))
        writer.write(_event(piece(i)))
        if behaviour == "drop" and i == 1:
            await writer.drain()
            return False
        if behaviour == "stall" and i == 0:
            await writer.drain()
            await asyncio.sleep(stub.stall_s)
            return False
        if stub.token_delay_s:
            await writer.drain()
            await asyncio.sleep(stub.token_delay_s)
    prompt_tokens = len(str(body.get("messages") or body.get("prompt")).split())
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": tokens, "total_tokens": prompt_tokens + tokens}
    wants_usage = not chat or (body.get("stream_options") or {}).get("include_usage")
    if behaviour != "no_usage" and wants_usage:
        writer.write(_event({"choices": [], "usage": usage}))
    writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return True


async def _connection(
    stub: StubServer, turns: Iterator[str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = json.loads(await reader.readexactly(length)) if length else {}
            stub.requests += 1
            if stub.keep_bodies:
                stub.bodies.append(body)
            stub.in_flight += 1
            stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            try:
                keep = await _serve_one(stub, next(turns), body, writer)
                await writer.drain()
            finally:
                stub.in_flight -= 1
            if not keep:
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@contextmanager
def serving(stub: StubServer) -> Iterator[StubServer]:
    """Run ``stub`` on 127.0.0.1 (a free port) in a thread for the ``with`` block."""
    loop = asyncio.new_event_loop()
    turns = itertools.cycle(stub.behaviours)
    ready = threading.Event()
    holder: dict = {}

    async def start() -> None:
        server = await asyncio.start_server(lambda r, w: _connection(stub, turns, r, w), "127.0.0.1", 0, backlog=1024)
        stub.port = server.sockets[0].getsockname()[1]
        holder["server"] = server
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield stub
    finally:
        asyncio.run_coroutine_threadsafe(_shut(holder["server"]), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def _shut(server: asyncio.Server) -> None:
    """Close the server and end every connection task, so none is left pending."""
    server.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    """``python -m tests.openai_stub [TOKENS]``: serve until stdin closes, printing the URL first."""
    tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    with serving(StubServer(tokens=tokens, keep_bodies=False)) as stub:
        print(stub.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

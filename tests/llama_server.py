"""A real llama.cpp ``llama-server`` for the load generator's tests and benchmark.

``.ci/run`` builds the binary from the llama.cpp source in the ``llama-cpp-python`` sdist and
sets ``PLANNER_LLAMA_SERVER`` to it (shared/reference/real-server.md has the flags and traps).
The model is a llama with random weights written here with the ``gguf`` package: a
SentencePiece-style vocabulary of single characters with the 256 byte-fallback tokens (without
them a character outside the vocabulary aborts the server), and an output projection whose
rows for the special and byte tokens are zero while the others give large logits, so
generation practically never ends early and every request runs to ``max_tokens``.

The server runs one thread without polling (``-t 1 --poll 0``): on a shared 2-core machine two
threads that meet at a barrier every step stall whenever either is descheduled, which made the
measured latencies noise (ITL gaps of seconds); one thread keeps the batching effects clear.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: The llama-cpp-python release whose vendored llama.cpp ``.ci/run`` builds.
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
DEFAULT_BINARY = Path.home() / ".cache" / "planner-ci" / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}" / "llama-server"


def server_binary() -> Path | None:
    """The llama-server to run: ``PLANNER_LLAMA_SERVER``, else the CI cache; ``None`` when absent."""
    given = os.environ.get("PLANNER_LLAMA_SERVER")
    path = Path(given) if given else DEFAULT_BINARY
    return path if path.is_file() and os.access(path, os.X_OK) else None


@dataclass(frozen=True)
class LlamaShape:
    """The shape of the random llama written; its parameter count is what a catalog entry states."""

    layers: int = 4
    hidden: int = 256
    heads: int = 4
    kv_heads: int = 4
    ffn: int = 688
    context: int = 4096

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads

    def vocabulary(self) -> list[tuple[str, int]]:
        """(token, gguf token type) in id order: specials, bytes, then single characters."""
        from gguf import TokenType

        tokens = [("<unk>", TokenType.UNKNOWN), ("<s>", TokenType.CONTROL), ("</s>", TokenType.CONTROL)]
        tokens += [(f"<0x{b:02X}>", TokenType.BYTE) for b in range(256)]
        chars = "\u2581" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'-()"
        return tokens + [(c, TokenType.NORMAL) for c in chars]

    @property
    def vocab_size(self) -> int:
        """Tokens in the vocabulary."""
        return len(self.vocabulary())

    @property
    def params(self) -> int:
        """Every weight: embeddings and output (untied), attention, FFN and norms."""
        kv = self.kv_heads * self.head_dim
        layer = self.hidden * (2 * self.hidden + 2 * kv) + 3 * self.hidden * self.ffn + 2 * self.hidden
        return 2 * self.vocab_size * self.hidden + self.layers * layer + self.hidden


def write_llama_gguf(path: Path, shape: LlamaShape = LlamaShape(), seed: int = 0) -> Path:
    """Write a random-weight llama of ``shape`` as an f32 GGUF at ``path``."""
    import numpy as np
    from gguf import GGUFWriter

    rng = np.random.default_rng(seed)
    vocab = shape.vocabulary()
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("planner-test-llama")
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.hidden)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(0)  # all f32
    writer.add_tokenizer_model("llama")
    writer.add_token_list([t for t, _ in vocab])
    writer.add_token_scores([0.0] * len(vocab))
    writer.add_token_types([int(k) for _, k in vocab])
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_chat_template(
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )

    def weights(*dims: int, scale: float = 0.05) -> object:
        return (rng.standard_normal(dims) * scale).astype(np.float32)

    kv = shape.kv_heads * shape.head_dim
    writer.add_tensor("token_embd.weight", weights(len(vocab), shape.hidden, scale=1.0))
    for i in range(shape.layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(shape.hidden, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weights(shape.hidden, shape.hidden))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weights(kv, shape.hidden))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weights(kv, shape.hidden))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weights(shape.hidden, shape.hidden))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(shape.hidden, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(shape.ffn, shape.hidden))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(shape.ffn, shape.hidden))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(shape.hidden, shape.ffn))
    writer.add_tensor("output_norm.weight", np.ones(shape.hidden, dtype=np.float32))
    # Large logits for the characters, zero for specials and bytes: never an early end, no partial UTF-8.
    output = weights(len(vocab), shape.hidden, scale=1.0)
    output[: 3 + 256] = 0.0
    writer.add_tensor("output.weight", output)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(binary: Path, model: Path, *, slots: int, context: int = 4096, name: str = "tiny") -> Iterator[str]:
    """Serve ``model`` on 127.0.0.1 with ``slots`` parallel slots; yields the base URL."""
    port = _free_port()
    command = [str(binary), "-m", str(model), "-a", name, "--host", "127.0.0.1", "--port", str(port),
               "-c", str(context * slots), "-np", str(slots), "-t", "1", "--poll", "0", "--no-webui"]  # fmt: skip
    log = model.with_suffix(f".{port}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"llama-server not healthy after 60 s: {log.read_text(errors='replace')[-2000:]}")

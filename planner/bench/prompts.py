"""The prompts ``planner bench run`` sends: synthetic ones of the plan's lengths, or a dataset file.

A synthetic prompt is random common words. How many tokens a word makes depends on the
endpoint's tokenizer, which the planner cannot read offline; so it asks the endpoint: two
probe prompts of different lengths (one output token each), and the prompt tokens their usage
reports give a straight line, tokens = overhead + per_word x words (the overhead is the chat
template). Lengths are drawn from a log-normal fitted to the plan's p50 and p95.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.bench.loadgen import Endpoint, Prompt
from planner.errors import PlannerError
from planner.plan import TokenDistribution
from planner.traffic import lognormal_sigma

#: Short common English words: few tokens each in any tokenizer, never a special token.
_COMMON_WORDS = (
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night "
    "point home water room mother area money story fact month lot right study book eye job word business "
    "issue side kind head house service friend father power hour game line end member law car city "
    "community name team minute idea kid body information back parent face others level office door "
    "health person art war history party result change morning reason research girl guy moment air "
    "teacher force education"
)
_WORDS = tuple(_COMMON_WORDS.split())
#: Probe lengths in words: far enough apart for a slope, short enough for a small context (a
#: tokenizer of single characters makes some 400 tokens of the longer one).
PROBE_WORDS = (8, 64)
#: Tokens per English word when the endpoint reports no usage: the common rule of thumb of
#: about 4 tokens per 3 words (OpenAI, "What are tokens and how to count them",
#: https://help.openai.com/en/articles/4936856). An estimate; the runs say it was used.
FALLBACK_TOKENS_PER_WORD = 4 / 3


@dataclass(frozen=True)
class TokenizerFit:
    """Prompt tokens = ``overhead_tokens`` + ``tokens_per_word`` x words, for one endpoint."""

    tokens_per_word: float
    overhead_tokens: float
    measured: bool

    def words_for(self, tokens: int) -> int:
        """Words that make about ``tokens`` prompt tokens (at least one)."""
        return max(1, round((tokens - self.overhead_tokens) / self.tokens_per_word))

    def to_json(self) -> dict[str, Any]:
        """The fit and whether it was measured."""
        return dict(self.__dict__)


def random_text(words: int, rng: random.Random) -> str:
    """``words`` random common words: no two prompts share a prefix, so no prefix cache helps."""
    return " ".join(rng.choices(_WORDS, k=words))


async def fit_tokenizer(endpoint: Endpoint) -> TokenizerFit:
    """Fit words to prompt tokens on ``endpoint`` with two one-token probes (see the module docstring).

    :raises PlannerError: when a probe fails (the endpoint is down or refuses the model).
    """
    import time

    from planner.bench.loadgen import client_for, send_request

    rng = random.Random(7)
    counts = []
    async with client_for(endpoint, 1) as client:
        for words in PROBE_WORDS:
            record = await send_request(client, endpoint, Prompt(random_text(words, rng), 1), time.perf_counter())
            if record["error"]:
                raise PlannerError(
                    f"the endpoint failed a probe request ({record['error']}: {record['error_detail']})",
                    path=endpoint.completions_url,
                    fix="check the URL, that the server is up, and the --model name it serves",
                )
            counts.append(record["input_tokens"])
    if None in counts or counts[1] <= counts[0]:
        return TokenizerFit(FALLBACK_TOKENS_PER_WORD, 0.0, measured=False)
    per_word = (counts[1] - counts[0]) / (PROBE_WORDS[1] - PROBE_WORDS[0])
    return TokenizerFit(per_word, max(counts[0] - per_word * PROBE_WORDS[0], 0.0), measured=True)


@dataclass(frozen=True)
class LengthDistribution:
    """Token counts drawn from a log-normal through the median and the p95, capped at ``cap``."""

    median: float
    sigma: float
    cap: int

    @classmethod
    def of(cls, dist: TokenDistribution) -> LengthDistribution:
        """The log-normal of a plan's ``input_tokens`` or ``output_tokens`` (fixed without a p95)."""
        median = float(dist.typical)
        sigma = lognormal_sigma(median, dist.p95) if dist.p95 else 0.0
        return cls(median, sigma, dist.p99 or max(dist.worst_case * 2, int(median)))

    @classmethod
    def fixed(cls, tokens: int) -> LengthDistribution:
        """Always ``tokens``."""
        return cls(float(tokens), 0.0, tokens)

    def draw(self, rng: random.Random) -> int:
        """One length."""
        value = self.median * math.exp(rng.gauss(0.0, self.sigma)) if self.sigma else self.median
        return max(1, min(round(value), self.cap))


def synthetic_prompts(
    fit: TokenizerFit, inputs: LengthDistribution, outputs: LengthDistribution, seed: int = 0
) -> Iterator[Prompt]:
    """Endless prompts of the given lengths, reproducible from ``seed``."""
    rng = random.Random(seed)
    while True:
        yield Prompt(random_text(fit.words_for(inputs.draw(rng)), rng), outputs.draw(rng))


def dataset_prompts(path: Path, default_max_tokens: int) -> Iterator[Prompt]:
    """The prompts of a JSON Lines file, in order and round again: each line an object with
    ``prompt`` (text) and optionally ``max_tokens`` (or ``output_tokens``).

    :raises PlannerError: naming the line and the field when the file cannot be used.
    """
    prompts = _read_dataset(path, default_max_tokens)
    return itertools.cycle(prompts)


def _read_dataset(path: Path, default_max_tokens: int) -> list[Prompt]:
    from planner.measured_run import FileReader

    reader = FileReader(path, "prompt dataset (JSON Lines)")
    fix = 'each line: {"prompt": "text", "max_tokens": 128}'
    prompts = []
    for number, item in enumerate(reader.json_lines(), 1):
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item["prompt"]:
            raise reader.fail(f"line {number}, prompt", "expected an object with a non-empty text 'prompt'", fix)
        tokens = item.get("max_tokens", item.get("output_tokens", default_max_tokens))
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise reader.fail(f"line {number}, max_tokens", f"expected a whole number above 0, found {tokens!r}", fix)
        prompts.append(Prompt(item["prompt"], tokens))
    if not prompts:
        raise reader.fail("", "the file holds no prompt", fix)
    return prompts

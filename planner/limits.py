"""The ranges of every number a user gives the planner, in one place.

Plan fields (:mod:`planner.plan`) and command-line flags (:mod:`planner.cli`) take their
bounds from here, so a value refused in a plan file is refused as a flag too. The upper
bounds are sanity limits (estimates, not measurements): far beyond any one deployment the
method sizes, low enough that a typo of a few extra zeros cannot ask the simulator for
years of events. This module imports nothing heavy: the command line builds its parser
from it before pydantic is loaded.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

#: GPUs in one replica, and each parallel size (TP, PP, EP, DP): a rack-scale NVLink domain is 72.
MAX_PARALLEL = 1024
#: Tokens in one request (input or output); the longest context windows are a few million.
MAX_TOKENS = 10_000_000
#: Users behind one deployment.
MAX_USERS = 1_000_000_000
#: Requests in flight.
MAX_CONCURRENCY = 10_000_000
#: Arrival rate, requests per second.
MAX_RATE_PER_S = 1_000_000.0
#: Replicas behind one router.
MAX_REPLICAS = 100_000
#: A day, in milliseconds: no latency target is longer.
MAX_LATENCY_MS = 86_400_000.0
#: A day, in seconds: the longest simulated duration or think time.
MAX_DURATION_S = 86_400.0
#: Coefficient of variation of bursty arrivals (1 is Poisson; measured traces stay below 10).
MAX_CV = 100.0
#: Years of a cost or growth view.
MAX_YEARS = 30
#: Random seeds: the 32-bit range every generator and tool takes.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Bound:
    """The values one number may take: finite, between ``low`` and ``high``, whole when ``integer``."""

    low: float
    high: float
    integer: bool = False
    low_open: bool = False

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None when it is within them."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number"
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        if self.integer and not float(value).is_integer():
            return f"{value:g} is not a whole number"
        if value < self.low or (self.low_open and value == self.low) or value > self.high:
            return f"{_number(value)} is out of range"
        return None

    def text(self) -> str:
        """The bounds in words, e.g. ``a whole number >= 1 and <= 1024``."""
        kind = "a whole number" if self.integer else "a number"
        return f"{kind} {'>' if self.low_open else '>='} {_number(self.low)} and <= {_number(self.high)}"


def _number(value: float) -> str:
    """A bound as people write it: 1000000 as 1,000,000, 0.5 as 0.5."""
    return f"{int(value):,}" if float(value).is_integer() and abs(value) < 1e18 else f"{value:g}"


def out_of_bounds(values: list[tuple[str, float | None, Bound]]) -> list[tuple[str, str]]:
    """(what is wrong, the fix) for each ``(flag, value, bound)`` whose value is set and out of bounds."""
    found = []
    for flag, value, bound in values:
        problem = None if value is None else bound.problem(value)
        if problem:
            found.append((f"{flag} {problem}", f"give {bound.text()}"))
    return found


#: Bounds of the counts and sizes that commands take.
PARALLEL = Bound(1, MAX_PARALLEL, integer=True)
TOKENS = Bound(1, MAX_TOKENS, integer=True)
CONCURRENCY = Bound(1, MAX_CONCURRENCY, integer=True)
RATE = Bound(0, MAX_RATE_PER_S, low_open=True)
REPLICAS = Bound(1, MAX_REPLICAS, integer=True)
DURATION = Bound(0, MAX_DURATION_S, low_open=True)
THINK = Bound(0, MAX_DURATION_S)
CV = Bound(0, MAX_CV, low_open=True)
SEED = Bound(0, MAX_SEED, integer=True)
YEARS = Bound(1, MAX_YEARS, integer=True)
#: Rows a table prints, and request-size buckets of a mix.
TOP = Bound(1, 100_000, integer=True)
BUCKETS = Bound(1, 20, integer=True)
#: Wall-clock budget of the simulations of one command, seconds.
WALL = Bound(1, MAX_DURATION_S)


def seconds_from_env(name: str, default: float) -> float:
    """A time budget from the environment variable ``name``: ``default`` when it is unset or
    not a positive finite number (a budget that is never spent would not bound anything)."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default

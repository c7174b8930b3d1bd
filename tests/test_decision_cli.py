"""Plan, simulate and envelope print one decision: the same replicas, Cr_closed and Cr_open, from
separate processes of the CLI (kept apart from test_decision.py so that the two spread over workers)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PLANS, REPO, run_cli

EXAMPLE = REPO / "planner" / "examples" / "knowledge-assistant.yaml"
USE_CASES = PLANS / "usecases"

#: Bundled and test plans that some configuration can serve. Use case 1 is the bundled example
#: itself; the reasoning agent (use case 4) is checked in process by test_decision.py, one
#: decision for the three workflows rather than three.
FEASIBLE = [
    EXAMPLE,
    PLANS / "code-assistant.yaml",
    PLANS / "trap-averages-only.yaml",
    USE_CASES / "2-code-assistant.yaml",
    USE_CASES / "3-nightly-summarisation.yaml",
]
NOTHING_FITS = [PLANS / "reasoning-agent-unreachable.yaml", PLANS / "trap-multinode-tp-pcie.yaml"]


@functools.cache  # one process per command line: the text test reads the decision a JSON test printed
def _json(*args: str) -> dict[str, Any]:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _figures(block: dict[str, Any]) -> tuple[int, float, int, int]:
    return block["cr_closed"], round(block["cr_open_req_s"], 6), block["replicas_for_load"], block["replicas"]


@pytest.mark.parametrize("path", FEASIBLE, ids=lambda p: p.stem)
def test_plan_simulate_and_envelope_print_one_decision(path: Path) -> None:
    printed = _json("plan", str(path))
    planned = printed["sizing"]["chosen"]
    if printed["existing_fleet"]:  # brownfield: the command prints what the nodes carry, and the what-ifs
        assert printed["existing_fleet"]["replicas_needed"] == planned["simulation"]["replicas_for_load"]
        assert all(a["existing_fleet"] for a in printed["existing_fleet"]["alternatives"])
    decision = planned["simulation"]
    simulated = _json("simulate", str(path))
    enveloped = _json("envelope", str(path))
    assert _figures(decision) == _figures(simulated["plan"]) == _figures(enveloped)
    assert planned["replicas"] == decision["replicas"], "the fleet line uses it too"
    assert simulated["replicas"] == decision["replicas_for_load"], "simulate runs the replicas that carry the load"
    pools = decision["disaggregated"]
    as_pools = (
        f" as {pools['prefill_replicas']} prefill + {pools['decode_replicas']} decode replicas (KV over {pools['transport']})"
        if pools
        else ""
    )
    assert enveloped["deployment"] == planned["deployment"], "the envelope is one replica's"
    each_pool = f"{pools['prefill_deployment']} + {pools['decode_deployment']}" if pools else planned["deployment"]
    assert simulated["deployment"] == each_pool + as_pools, "pools are labelled with each pool's own layout"
    assert simulated["meets_slo"], "the simulated fleet at the plan's peak meets the SLOs"


def test_the_text_of_each_command_shows_the_same_decision() -> None:
    path = str(PLANS / "code-assistant.yaml")
    decision = _json("plan", path)["sizing"]["chosen"]["simulation"]
    cr_open = f"Cr_open {decision['cr_open_req_s']:,.3f} requests/s"
    load = f"{decision['replicas_for_load']} replicas for the load + {decision['spares']} spare"
    planned, simulated, enveloped = (run_cli(c, path).stdout for c in ("plan", "simulate", "envelope"))
    assert f"Cr_closed {decision['cr_closed']:,} requests in flight" in planned and cr_open in planned
    assert load in planned and load in simulated
    assert f"per replica Cr_closed {decision['cr_closed']:,}, {cr_open}" in simulated
    assert load in enveloped and f"Cr_closed = {decision['cr_closed']} concurrent" in enveloped
    assert f"Cr_open   = {decision['cr_open_req_s']:,.3f} requests/s" in enveloped


@pytest.mark.parametrize("path", NOTHING_FITS, ids=lambda p: p.stem)
def test_every_command_says_when_nothing_fits_with_one_exit_code(path: Path) -> None:
    for command in ("plan", "simulate", "envelope"):
        assert run_cli(command, str(path)).returncode == 3, command
    checked = run_cli("check", str(path))
    assert checked.returncode == 1 and "sizing.nothing-meets-the-plan" in checked.stdout, "check gates on it too"

"""The ten guiding principles and the structural traps, as rule packs (from ``rules/``)."""

from __future__ import annotations

import importlib

from planner.rules import MODULES

from planner import hookimpl
from planner.rulepack import RulePack


@hookimpl
def planner_rule_packs() -> list[RulePack]:
    """Return the built-in rule packs, one per concern."""
    return [importlib.import_module(f"planner.rules.{name}").PACK for name in MODULES]

"""Validating a sized plan: rule packs evaluated by the durable-rules engine.

durable-rules stays behind this module (the rest of the planner sees rule packs, facts
and findings). Its pitfalls, and what we do about each (see reliability-and-deps.md §1):

- a global host that refuses a ruleset name twice: each :class:`RulesEngine` owns a
  private ``Host``, so tests and long sessions can build as many as they like;
- background dispatcher threads that segfault after ``delete_state``: our host never
  starts them (``_run`` does nothing; we use no timers or async actions);
- at most 1024 live sessions per ruleset: every evaluation uses a fresh session id and
  deletes it afterwards, so 1,000 plans (or the same plan twice) evaluate identically;
- action exceptions swallowed into the session state: actions only record the match,
  and the state is checked after every run; templates are formatted outside the engine,
  and a failure there is a problem of that rule pack, not a crash;
- facts that match no rule are rejected: a catch-all rule accepts every fact.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from planner.catalog import describe_validation_error
from planner.manager import PluginHost
from planner.rulepack import Finding, Rule, RulePack

Fact = dict[str, Any]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class RuleProblem:
    """A rule pack that could not be loaded or whose rule failed while evaluating."""

    pack: str
    error: str

    def __str__(self) -> str:
        return f"rule pack {self.pack}: {self.error}"


@dataclass
class Validation:
    """Findings of one evaluation, and any rule-pack problems met on the way."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        """True when any finding is an error."""
        return any(f.severity == "error" for f in self.findings)

    def by_severity(self) -> dict[str, list[Finding]]:
        """Findings grouped error, warning, info."""
        groups: dict[str, list[Finding]] = {"error": [], "warning": [], "info": []}
        for finding in self.findings:
            groups[finding.severity].append(finding)
        return groups


def _host_class() -> Any:
    from durable import engine

    class QuietHost(engine.Host):  # type: ignore[misc]
        """A private host without the dispatcher threads (no timers, no async actions)."""

        def __init__(self, actions: dict[str, Any]) -> None:
            self._actions = actions
            super().__init__()

        def _run(self) -> None:
            return None

        def get_action(self, name: str) -> Any:
            return self._actions[name]

    return QuietHost


class RulesEngine:
    """Rule packs compiled once into a private durable-rules host; evaluate many plans."""

    def __init__(self, packs: Sequence[RulePack]) -> None:
        self._lock = threading.Lock()
        self._matches: dict[str, list[tuple[str, Fact]]] = {}
        self._packs: dict[str, RulePack] = {}
        self._rules: dict[str, Rule] = {}
        self.problems: list[RuleProblem] = []
        actions: dict[str, Any] = {"__accept": lambda c: None}
        host = _host_class()(actions)
        for pack in packs:
            self._add_pack(host, actions, pack)
        self._host = host

    def _add_pack(self, host: Any, actions: dict[str, Any], pack: RulePack) -> None:
        definition: dict[str, Any] = {"__accept": {"all": [{"m": {"$ex": {"kind": 1}}}], "run": "__accept"}}
        for rule in pack.rules:
            action = f"{pack.name}:{rule.id}"
            definition[rule.id.replace(".", "_")] = {
                "all": [{"m": {"$and": [{"kind": rule.fact}, rule.when]}}],
                "run": action,
            }
            actions[action] = self._recorder(rule.id)
        try:
            host.set_rulesets({pack.name: copy.deepcopy(definition)})
        except Exception as exc:  # a malformed condition: that pack is out, the rest stays
            self.problems.append(RuleProblem(pack.name, f"could not compile: {type(exc).__name__}: {exc}"))
            return
        self._packs[pack.name] = pack
        for rule in pack.rules:
            self._rules[rule.id] = rule

    def _recorder(self, rule_id: str) -> Any:
        def record(c: Any) -> None:
            content = c.m._d if hasattr(c.m, "_d") else c.m
            self._matches.setdefault(content["sid"], []).append((rule_id, dict(content)))

        return record

    @property
    def rules(self) -> list[tuple[str, Rule]]:
        """(pack name, rule) for every rule that compiled."""
        return [(pack.name, rule) for pack in self._packs.values() for rule in pack.rules]

    def evaluate(self, facts: Iterable[Fact]) -> Validation:
        """Run every pack over ``facts`` in fresh sessions; return findings sorted by severity."""
        facts = list(facts)
        result = Validation(problems=list(self.problems))
        with self._lock:
            for pack in self._packs.values():
                matches = self._run_pack(pack, facts, result)
                # an $or condition fires once per branch that matches: report the rule once per fact
                unique = {(rule_id, fact["id"]): (rule_id, fact) for rule_id, fact in matches}
                for rule_id, fact in unique.values():
                    finding = self._finding(pack, self._rules[rule_id], fact, result)
                    if finding is not None:
                        result.findings.append(finding)
        result.findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.rule_id))
        return result

    def _run_pack(self, pack: RulePack, facts: list[Fact], result: Validation) -> list[tuple[str, Fact]]:
        sid = uuid.uuid4().hex
        try:
            for fact in facts:
                self._host.assert_fact(pack.name, {**fact, "sid": sid})
            state = self._host.get_state(pack.name, sid)
            if state.get("exception"):
                result.problems.append(RuleProblem(pack.name, f"an action failed: {state['exception']}"))
        except Exception as exc:
            result.problems.append(RuleProblem(pack.name, f"evaluation failed: {type(exc).__name__}: {exc}"))
        finally:
            with contextlib.suppress(Exception):  # the session may never have been created
                self._host.delete_state(pack.name, sid)
        return self._matches.pop(sid, [])

    @staticmethod
    def _finding(pack: RulePack, rule: Rule, fact: Fact, result: Validation) -> Finding | None:
        clean = {k: v for k, v in fact.items() if k not in ("sid", "id", "kind")}
        try:
            return Finding(
                rule_id=rule.id,
                principle=rule.principle,
                severity=rule.severity,
                message=rule.message.format(**clean),
                remedy=rule.remedy.format(**clean),
                evidence={name: clean[name] for name in rule.evidence},
                pack=pack.name,
            )
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            result.problems.append(RuleProblem(pack.name, f"rule {rule.id} failed: {type(exc).__name__}: {exc}"))
            return None


def collect_rule_packs(host: PluginHost) -> tuple[list[RulePack], list[RuleProblem]]:
    """Rule packs from every plugin (built-in ones included), validated; invalid ones reported."""
    packs: list[RulePack] = []
    problems: list[RuleProblem] = []
    seen: dict[str, str] = {}
    for plugin, result in host.call_each("planner_rule_packs"):
        for item in result or []:
            try:
                pack = item if isinstance(item, RulePack) else RulePack.model_validate(item)
            except ValidationError as exc:
                name = item.get("name", "?") if isinstance(item, dict) else "?"
                problems.append(RuleProblem(name, f"from plugin {plugin} is invalid: {describe_validation_error(exc)}"))
                continue
            if pack.name in seen:
                problems.append(
                    RuleProblem(pack.name, f"from plugin {plugin} duplicates the pack from {seen[pack.name]}")
                )
                continue
            seen[pack.name] = plugin
            packs.append(pack)
    return packs, problems


def build_engine(host: PluginHost) -> RulesEngine:
    """A rules engine over every rule pack the plugins contribute."""
    packs, problems = collect_rule_packs(host)
    engine = RulesEngine(packs)
    engine.problems[:0] = problems
    return engine


def validate_plan(resolved: Any, catalog: Any, sizing: Any, engine: RulesEngine) -> Validation:
    """Findings for one sized plan."""
    from planner.facts import plan_facts

    return engine.evaluate(plan_facts(resolved, catalog, sizing))

"""The plan being edited, as the forms see it: plan fields by dotted path, and their problems.

Qt-free on purpose: the forms, the undo stack and the tests all go through this one object,
and it validates through the workflow layer, so a field's message is the one ``planner plan``
prints for the same value in a file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner import workflows
from planner.errors import InputError, Problem
from planner.plan import Plan

#: A field's place in the plan, e.g. ``("slo", "ttft_ms")``.
FieldPath = tuple[str, ...]


def dotted(path: FieldPath) -> str:
    """``("slo", "ttft_ms")`` as ``slo.ttft_ms``, the way problems name fields."""
    return ".".join(path)


@dataclass
class Checked:
    """The document's plan when every field holds, else the problems by the field they name."""

    plan: Plan | None
    problems: list[Problem] = field(default_factory=list)

    def problems_at(self, path: FieldPath) -> list[Problem]:
        """The problems naming ``path`` itself."""
        return [p for p in self.problems if p.where == dotted(path)]

    def problems_under(self, prefix: FieldPath) -> list[Problem]:
        """The problems naming ``prefix`` or a field inside it (a step's section)."""
        name = dotted(prefix)
        return [p for p in self.problems if p.where == name or p.where.startswith(f"{name}.")]


class PlanDocument:
    """Plan fields held as the plan file's mapping, with the file they came from and a dirty flag."""

    def __init__(self, data: dict[str, Any] | None = None, path: Path | None = None) -> None:
        self.data: dict[str, Any] = data if data is not None else {"schema_version": 1}
        self.path = path
        self.dirty = False
        self.checked = self.check()

    @classmethod
    def from_plan(cls, plan: Plan, path: Path | None = None) -> PlanDocument:
        """A document holding ``plan`` as a person would write it (defaults left out)."""
        data = plan.model_dump(mode="json", exclude_defaults=True)
        return cls({"schema_version": plan.schema_version, **data}, path)

    @classmethod
    def open(cls, path: Path) -> PlanDocument:
        """Read a plan file. :raises InputError: as ``planner plan`` reports it."""
        return cls.from_plan(workflows.read_plan(path), path)

    @property
    def source(self) -> str:
        """The name messages give the plan: its file's name, or ``<unsaved plan>``."""
        return self.path.name if self.path else "<unsaved plan>"

    def get(self, path: FieldPath) -> Any:
        """The value at ``path``, or ``None`` when the plan leaves it out."""
        node: Any = self.data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def set(self, path: FieldPath, value: Any) -> None:
        """Set the field at ``path`` (``None`` leaves it out of the plan) and check the plan again."""
        node = self.data
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = copy.deepcopy(value)
        self.dirty = True
        self.checked = self.check()

    def check(self) -> Checked:
        """Validate the fields as a plan file, naming each bad field by its dotted path."""
        try:
            return Checked(workflows.plan_from_fields(self.data, self.source))
        except InputError as exc:
            return Checked(None, list(exc.problems))

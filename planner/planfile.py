"""Reading plan files (YAML or JSON) with errors that name the field, its line and the fix."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import InputError, Problem
from planner.inputfiles import parse_document, read_text_file
from planner.plan import SCHEMA_VERSION, Plan

_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([a-zA-Z%]+)\s*$")
_TO_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "min": 60_000.0, "h": 3_600_000.0}


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file.

    :raises InputError: naming the file, each bad field (with its line) and the fix;
        never a raw pydantic or YAML exception.
    """
    return parse_plan(read_text_file(path), str(path))


def parse_plan(text: str, filename: str = "<plan>") -> Plan:
    """Validate plan text (YAML, of which JSON is a subset) as a :class:`Plan`."""
    data = _parse_document(text, filename)
    return _validated(data, filename, _line_finder(text))


def plan_from_data(data: dict[str, Any], filename: str = "<plan>") -> Plan:
    """Validate plan fields held in memory (a form's values) with the messages a plan file gets.

    The problems name the field by its dotted path (``slo.ttft_ms``), without a line number.

    :raises InputError: naming each bad field and the fix.
    """
    return _validated(data, filename, lambda loc: None)


def _validated(data: dict[str, Any], filename: str, lines: Any) -> Plan:
    _check_schema_version(data, filename)
    try:
        return Plan.model_validate(data, strict=True)
    except ValidationError as exc:
        raise InputError(filename, [_problem(err, lines) for err in exc.errors(include_url=False)]) from None


def _parse_document(text: str, filename: str) -> dict[str, Any]:
    data = parse_document(text, filename)
    if not isinstance(data, dict):
        fix = "a plan is a mapping that starts with `schema_version: 1`; see `planner schema`"
        raise InputError(filename, [Problem("", "the file does not hold a mapping of plan fields", fix)])
    return data


def _check_schema_version(data: dict[str, Any], filename: str) -> None:
    version = data.get("schema_version")
    if version is None:
        fix = f"add `schema_version: {SCHEMA_VERSION}` at the top of the file"
        raise InputError(filename, [Problem("schema_version", "missing", fix)])
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        what = f"the file is schema version {version}, newer than this planner reads ({SCHEMA_VERSION})"
        raise InputError(filename, [Problem("schema_version", what, "upgrade the planner")])


def _problem(err: Any, lines: Any) -> Problem:
    loc = tuple(err["loc"])
    where = _dotted(loc)
    line = lines(loc)
    if line:
        where = f"{where} (line {line})"
    return Problem(where, _what(err), _fix(err, loc))


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _what(err: dict[str, Any]) -> str:
    kind, msg = err["type"], str(err["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ").split("; fix: ")[0]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required but missing"
    got = err.get("input")
    if isinstance(got, str | int | float | bool):
        return f"{msg[0].lower()}{msg[1:]}, got {got!r}"
    return msg


def _fix(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind, field = err["type"], str(loc[-1]) if loc else ""
    model = _model_at(loc[:-1])
    if kind == "value_error" and "; fix: " in err["msg"]:
        return str(err["msg"]).split("; fix: ", 1)[1]
    if kind == "extra_forbidden":
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(field, allowed, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"{hint}remove or rename `{field}`; allowed here: {', '.join(allowed)}" if allowed else "remove it"
    if kind == "missing":
        description = _description(model, field)
        return f"add `{field}`" + (f": {description}" if description else "")
    if kind in ("float_type", "int_type") and isinstance(err.get("input"), str):
        return _unit_fix(field, err["input"])
    if kind == "int_from_float" or (kind == "int_type" and isinstance(err.get("input"), float)):
        return f"write `{field}` as a whole number"
    if kind == "literal_error":
        return "use one of the values listed"
    description = _description(model, field)
    bound = _bound_text(err.get("ctx") or {})
    if bound:
        return f"use a value {bound}" + (f" ({description})" if description else "")
    return description and f"`{field}`: {description}"


def _bound_text(ctx: dict[str, Any]) -> str:
    """Describe the numeric bound that a range error reports, e.g. '>= 1'."""
    for key, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            return f"{symbol} {ctx[key]}"
    return ""


def _unit_fix(field: str, raw: str) -> str:
    """Explain the unit a numeric field takes, converting '1.5 s' for a `_ms` field."""
    match = _QUANTITY.match(raw)
    if field.endswith("_ms") and match and match.group(2).lower() in _TO_MS:
        value = float(match.group(1)) * _TO_MS[match.group(2).lower()]
        return f"`{field}` is in milliseconds: write {value:g} (a number, no unit)"
    if field.endswith("_pct") and match and match.group(2) == "%":
        return f"`{field}` is a percentage: write {match.group(1)} (a number, no % sign)"
    unit = field.rsplit("_", 1)[-1] if "_" in field else ""
    return f"write `{field}` as a plain number" + (f" (unit: {unit})" if unit in ("ms", "s", "pct", "gib") else "")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Walk the Plan model along ``loc`` to the model that holds the last field."""
    model: type[BaseModel] | None = Plan
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        model = _model_of(field.annotation) if field else None
    return model


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None


def _description(model: type[BaseModel] | None, field: str) -> str:
    if model is None or field not in model.model_fields:
        return ""
    return model.model_fields[field].description or ""


def _line_finder(text: str) -> Any:
    """Return a function mapping an error location to its 1-based line in ``text``."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        root = None

    def line_of(loc: tuple[Any, ...]) -> int | None:
        node, line = root, None
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = child.start_mark.line + 1
        return line

    return line_of


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def plan_text(plan: Plan, *, as_json: bool = False) -> str:
    """Write ``plan`` as a plan file (YAML, or JSON with ``as_json``) that :func:`parse_plan` reads back equal.

    Fields left at their defaults are left out, so the file reads like one a person wrote.
    """
    data = plan.model_dump(mode="json", exclude_defaults=True)
    data = {"schema_version": plan.schema_version, **data}
    if as_json:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False))

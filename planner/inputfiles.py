"""The one reader of every file a user gives the planner: plan files, config.json and its
neighbours, the user's catalog files, length traces, calibration tables, project files.

Whatever the bytes hold, the answer is the parsed document or an :class:`InputError`
naming the file, the line where known and the fix; never a ``UnicodeDecodeError``, a
``RecursionError`` or a value a later step trips over. The limits, documented in
``docs/input-files.md``:

- size: at most :data:`MAX_FILE_BYTES` (project exports :data:`MAX_PROJECT_FILE_BYTES`);
- encoding: UTF-8 (a UTF-8 byte-order mark is allowed); UTF-16/32 and binary files are refused;
- nesting: at most :data:`MAX_DEPTH` levels of mappings and lists;
- size once YAML aliases are expanded: at most :data:`MAX_NODES` values (a "billion laughs"
  file of nested aliases would otherwise take hours to validate);
- numbers: integers of at most :data:`MAX_INT_DIGITS` digits, floats finite (no NaN, no
  infinity, no ``1e400``);
- keys: no key twice in one mapping (the second would silently replace the first);
- YAML tags: only the safe ones, and their values must parse (``!!float 'abc'`` is refused).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from planner.errors import InputError, Problem

#: Largest file read (plan files, configs, traces are kilobytes; 16 MiB leaves room for long traces).
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Largest project export read (it carries every revision and run of a project).
MAX_PROJECT_FILE_BYTES = 512 * 1024 * 1024
#: Deepest nesting of mappings and lists (a plan is 4 levels deep, a config.json 3).
MAX_DEPTH = 64
#: Most values in a document once YAML aliases are expanded.
MAX_NODES = 1_000_000
#: Longest integer, in digits (the largest count the planner reads, bytes of KV, has 15).
MAX_INT_DIGITS = 30

_UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text_file(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a user's text file as UTF-8 within the size limit.

    :raises InputError: when it cannot be read, is too large, binary or not UTF-8.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise _error(path, "", f"cannot read the file: {exc.strerror or exc}", "check the path") from None
    if len(data) > max_bytes:
        what = f"the file is larger than {max_bytes // (1024 * 1024)} MiB, the most the planner reads"
        raise _error(path, "", what, "check that this is the right file")
    return decode_text(data, str(path))


def decode_text(data: bytes, filename: str) -> str:
    """Decode a file's bytes as UTF-8 (a byte-order mark allowed), naming the first bad byte's line."""
    for bom, encoding in _UNICODE_BOMS:
        if data.startswith(bom):
            raise _error(filename, "", f"the file is {encoding} text", "save it as UTF-8")
    data = data.removeprefix(_UTF8_BOM)
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise _error(filename, f"line {line}", "the file holds binary data (a NUL byte)", "give a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        what = f"byte 0x{data[exc.start]:02x} at position {exc.start} is not UTF-8"
        raise _error(filename, f"line {line}", what, "save the file as UTF-8") from None


def read_document(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read a JSON (``.json``) or YAML (anything else) file within every limit above."""
    text = read_text_file(path, max_bytes=max_bytes)
    return parse_document(text, str(path))


def parse_document(text: str, filename: str) -> Any:
    """Parse text as JSON when ``filename`` ends in ``.json``, else as YAML."""
    return parse_json(text, filename) if filename.endswith(".json") else parse_yaml(text, filename)


# ----------------------------------------------------------------------------- JSON


def parse_json(text: str, filename: str) -> Any:
    """Parse JSON text within the limits: depth, integer digits, finite numbers, unique keys."""
    _check_json_depth(text, filename)
    try:
        data = json.loads(
            text,
            object_pairs_hook=lambda pairs: _unique_json_object(pairs, text, filename),
            parse_int=lambda digits: _json_int(digits, filename),
            parse_float=lambda digits: _json_float(digits, filename),
            parse_constant=lambda name: _json_constant(name, filename),
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _error(filename, where, f"not valid JSON: {exc.msg}", "fix the syntax there") from None
    except RecursionError:
        raise _too_deep(filename) from None
    _check_size(data, filename)
    return data


def _check_json_depth(text: str, filename: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before the parser recurses into it."""
    depth = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise _too_deep(filename)


def _unique_json_object(pairs: list[tuple[str, Any]], text: str, filename: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            where = _json_key_line(text, key)
            what = f"key {key!r} appears twice in one object (the second would replace the first)"
            raise _error(filename, where, what, f"keep one `{key}` and merge what the two held")
        seen[key] = value
    return seen


def _json_key_line(text: str, key: str) -> str:
    """The line of the second ``"key":`` in ``text`` ('' when it cannot be told)."""
    hits = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    return f"line {text.count(chr(10), 0, hits[1]) + 1}" if len(hits) > 1 else ""


def _json_int(digits: str, filename: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _number_error(filename, digits)
    return int(digits)


def _json_float(digits: str, filename: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise _number_error(filename, digits)
    return value


def _json_constant(name: str, filename: str) -> float:
    what = f"{name} is not a number the planner accepts"
    raise _error(filename, "", what, "write a finite number (JSON itself has no NaN or Infinity)")


def _number_error(filename: str, digits: str) -> InputError:
    shown = digits if len(digits) <= 24 else f"{digits[:12]}...{digits[-6:]} ({len(digits)} characters)"
    what = f"the number {shown} is out of range"
    return _error(filename, "", what, f"write a finite number of at most {MAX_INT_DIGITS} digits")


# ----------------------------------------------------------------------------- YAML


class _Refused(yaml.constructor.ConstructorError):
    """A value the YAML syntax allows but the planner refuses, with the fix."""

    def __init__(self, what: str, mark: Any, fix: str) -> None:
        super().__init__(None, None, what, mark)
        self.fix = fix


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, refusing duplicate keys and naming the line of a tag that fails."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                raise _Refused(
                    "a mapping key is itself a mapping or list", key_node.start_mark, "use a plain name as the key"
                ) from None
            if first is not None:
                raise _Refused(
                    f"key {key!r} appears twice in one mapping (first at line {first}); "
                    "the second would replace the first",
                    key_node.start_mark,
                    f"keep one `{key}` and merge what the two held",
                )
            seen[key] = key_node.start_mark.line + 1
        return dict(super().construct_mapping(node, deep=deep))

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag == "tag:yaml.org,2002:int" and len(str(node.value).lstrip("+-")) > MAX_INT_DIGITS:
            # Checked before Python converts it: past 4,300 digits int() itself refuses.
            fix = f"write a number of at most {MAX_INT_DIGITS} digits"
            raise _Refused("the number is out of range", node.start_mark, fix)
        try:
            value = super().construct_object(node, deep=deep)
        # PyYAML's constructors fail on malformed values with whatever the parsing step
        # raises (a timestamp that does not match its pattern gives AttributeError).
        except (ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError) as exc:
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            what = f"the value {node.value!r} is not a valid {tag} ({exc})"
            raise _Refused(what, node.start_mark, f"correct the value, or drop the `!!{tag}` tag") from None
        return value


def parse_yaml(text: str, filename: str) -> Any:
    """Parse YAML text within the limits: safe tags, unique keys, depth and expanded size."""
    try:
        root = yaml.compose(text, Loader=_StrictLoader)
        if root is None:
            return None
        _check_node_depth(root, filename)
        loader = _StrictLoader("")
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = f"{getattr(exc, 'problem', None) or exc}"
        if isinstance(exc, _Refused):
            raise _error(filename, where, what, exc.fix) from None
        raise _error(filename, where, f"not valid YAML: {what}", "fix the indentation or quoting there") from None
    except RecursionError:
        raise _too_deep(filename) from None
    _check_size(data, filename)
    return data


def _check_node_depth(root: yaml.Node, filename: str) -> None:
    """Refuse a node tree deeper than MAX_DEPTH (walked without recursion)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(filename, node.start_mark.line + 1)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack += [(child, depth + 1) for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in node.value]


# --------------------------------------------------------------------- shared limits


def _check_size(data: Any, filename: str) -> None:
    """Refuse documents whose values, aliases expanded, number more than MAX_NODES."""
    for count, _ in enumerate(_values(data), start=1):
        if count > MAX_NODES:
            what = f"the document expands to more than {MAX_NODES:,} values (nested YAML aliases?)"
            raise _error(filename, "", what, "write the values out instead of nesting aliases")


def _values(data: Any) -> Iterator[Any]:
    stack = [data]
    while stack:
        value = stack.pop()
        yield value
        if isinstance(value, dict):
            stack += list(value.keys()) + list(value.values())
        elif isinstance(value, list):
            stack += value


def _too_deep(filename: str, line: int | None = None) -> InputError:
    where = f"line {line}" if line else ""
    what = f"mappings and lists are nested more than {MAX_DEPTH} levels deep"
    return _error(filename, where, what, "flatten the file; a plan is a few levels deep")


def _error(filename: str | Path, where: str, what: str, fix: str) -> InputError:
    return InputError(str(filename), [Problem(where, what, fix)])

"""Regenerate the rule table of docs/rules.md from the registered rule packs.

python docs/rules_doc.py > docs/rules-table.md   (then paste, or let the test tell you)
"""

from __future__ import annotations

from typing import Any

from planner.catalog import load_catalog
from planner.validation import build_engine

OPS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">=", "$neq": "!="}


def condition(when: dict[str, Any]) -> str:
    """Render a condition in words, e.g. 'headroom <= 0 and growth > 0'."""
    parts = []
    for key, value in when.items():
        if key in ("$and", "$or"):
            parts.append(f" {key[1:]} ".join(condition(v) for v in value))
        elif key in OPS:
            parts += [f"{field} {OPS[key]} {v}" for field, v in value.items()]
        else:
            parts.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    return " and ".join(parts)


def main() -> None:
    """Print the rule table."""
    host, _ = load_catalog()
    engine = build_engine(host)
    print("| rule | principle | severity | fires when (fact: condition) | remedy |")
    print("|---|---|---|---|---|")
    for _pack, rule in engine.rules:
        remedy = rule.remedy.replace("|", "/")
        print(f"| `{rule.id}` | {rule.principle} | {rule.severity} | {rule.fact}: {condition(rule.when)} | {remedy} |")


if __name__ == "__main__":
    main()

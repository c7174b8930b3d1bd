"""Text renderings of the benchmark actions' results: formatting only, no decisions."""

from __future__ import annotations

import math
from typing import Any

from planner.render import table
from planner.render_projects import safe
from planner.workflows import BenchImportReport


def _ms(stats: dict[str, float] | None, key: str) -> str:
    value = (stats or {}).get(key)
    return "-" if value is None else f"{value:,.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def imported_runs_text(report: BenchImportReport, *, styled: bool = False) -> str:
    """One row per run read, then what was stored in the project."""
    rows: list[list[Any]] = []
    for run in report.runs:
        latency = run.latency
        rows.append(
            [
                safe(run.format),
                safe(run.name),
                run.completed,
                run.errors,
                _ms(latency.get("ttft_ms"), "p50"),
                _ms(latency.get("ttft_ms"), "p99"),
                _ms(latency.get("tpot_ms"), "p50" if "p50" in latency.get("tpot_ms", {}) else "mean"),
                _ms(latency.get("e2e_ms"), "p50"),
                _num(run.output_tok_s),
                _num(run.request_s, 2),
                f"{len(run.records)}{' (sample)' if run.records_sampled else ''}",
            ]
        )
    headers = ["format", "run", "ok", "errors", "TTFT p50", "TTFT p99", "TPOT p50", "E2E p50", "out tok/s",
               "req/s", "records"]  # fmt: skip
    lines = [table(headers, rows, styled=styled)]
    for run in report.runs:
        lines.extend(f"  {safe(run.source)}: {safe(note)}" for note in run.notes)
    if report.project is not None:
        added = ", ".join(str(s.number) for s in report.stored) or "none"
        lines.append(f"project {safe(report.project)}: stored runs {added}")
        if report.already:
            known = ", ".join(str(s.number) for s in report.already)
            lines.append(f"  already stored (same file, same place): runs {known}")
    else:
        lines.append("not stored: give --project NAME to keep these runs in a project")
    return "\n".join(lines)

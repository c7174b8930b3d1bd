"""Reading benchmark files through the importers plugins contribute (``planner_benchmark_importers``).

Each file is recognised by the first importer whose ``can_read`` accepts it (the built-in
ones are ordinary plugins), read into :class:`~planner.measured_run.MeasuredRun` s, and
completed from its per-request records where the file gives records but not the summary
(percentiles as the simulator computes them, :func:`planner.simulate.percentile`). Every
file is read before anything is returned, so a caller that stores the runs stores all of
them or, when one file fails, none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.manager import PluginHost
from planner.measured_run import HEAD_BYTES, LATENCIES, MODES, BenchmarkFileError, BenchmarkImporter, MeasuredRun
from planner.simulate import PERCENTILES, percentile


@dataclass(frozen=True)
class Importer:
    """An importer with the plugin that contributed it."""

    plugin: str
    reader: BenchmarkImporter

    @property
    def name(self) -> str:
        """The importer's format name."""
        return self.reader.name


def benchmark_importers(host: PluginHost) -> list[Importer]:
    """Every importer the plugins contribute, in registration order (built-ins first).

    An object that does not follow :class:`~planner.measured_run.BenchmarkImporter` is
    reported as a problem of its plugin and skipped.
    """
    found = []
    for plugin, objects in host.call_each("planner_benchmark_importers"):
        for obj in objects or []:
            if isinstance(obj, BenchmarkImporter) and isinstance(getattr(obj, "name", None), str):
                found.append(Importer(plugin, obj))
            else:
                host.report(plugin, f"planner_benchmark_importers(): {obj!r} has no name, title, can_read and read")
    return found


def file_head(path: Path) -> str:
    """The first bytes of a file as text, for the importers to recognise it."""
    try:
        with path.open("rb") as handle:
            return handle.read(HEAD_BYTES).decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise PlannerError(f"cannot read the file: {exc}", path=str(path), fix="check the path") from exc


def detect(path: Path, importers: Sequence[Importer]) -> Importer:
    """The importer that reads ``path``; an error listing the formats known when none does."""
    head = file_head(path)
    if not head.strip():
        raise BenchmarkFileError(path, "", "", "the file is empty", "rerun the benchmark; it wrote nothing")
    for importer in importers:
        try:
            if importer.reader.can_read(path, head):
                return importer
        except Exception:  # a plugin's broken recogniser must not hide the others
            continue
    known = ", ".join(f"{i.reader.title} ({i.plugin})" for i in importers)
    raise BenchmarkFileError(
        path, "", "", "no importer recognises this file", f"give a file one of these wrote as it wrote it: {known}"
    )


def read_benchmark_files(paths: Sequence[Path], importers: Sequence[Importer]) -> list[MeasuredRun]:
    """Every run of every file, completed from records and checked; the first bad file raises."""
    runs = []
    for path in paths:
        if not Path(path).is_file():
            raise PlannerError("no such file", path=str(path), fix="give the path of a benchmark result file")
        importer = detect(Path(path), importers)
        for run in _read(Path(path), importer):
            runs.append(completed_from_records(_checked(run, path, importer)))
    return runs


def _read(path: Path, importer: Importer) -> list[MeasuredRun]:
    try:
        runs = importer.reader.read(path)
    except PlannerError:
        raise
    except Exception as exc:
        raise BenchmarkFileError(
            path,
            importer.reader.title,
            "",
            f"the {importer.plugin} importer failed: {type(exc).__name__}: {exc}",
            "check the file is as the tool wrote it; if it is, report this to the plugin's author",
        ) from exc
    if not runs:
        raise BenchmarkFileError(path, importer.reader.title, "", "the file holds no run")
    return list(runs)


def _checked(run: Any, path: Path, importer: Importer) -> MeasuredRun:
    title = importer.reader.title
    if not isinstance(run, MeasuredRun):
        raise BenchmarkFileError(path, title, "", f"the {importer.plugin} importer returned {type(run).__name__}")
    if run.mode not in MODES:
        raise BenchmarkFileError(path, title, "load", f"unknown load mode {run.mode!r}")
    if not run.load > 0 or math.isnan(run.load):
        raise BenchmarkFileError(path, title, "load", f"the load must be above 0, found {run.load:g}")
    if run.completed < 0 or run.errors < 0:
        raise BenchmarkFileError(path, title, "completed", "negative request counts")
    for name, stats in run.latency.items():
        if name not in LATENCIES or any(not math.isfinite(v) or v < 0 for v in stats.values()):
            raise BenchmarkFileError(path, title, name, f"latencies must be finite and not negative: {stats}")
    return run


def completed_from_records(run: MeasuredRun) -> MeasuredRun:
    """Fill what the summary lacks from the per-request records (never from a sample of them).

    Percentiles by :func:`planner.simulate.percentile` over the successful requests; the
    duration from the first start to the last end; rates over that duration.
    """
    good = [r for r in run.records if not r.get("error")]
    if run.records_sampled or not good:
        return run
    for name in ("ttft_ms", "tpot_ms", "e2e_ms"):
        values = sorted(float(r[name]) for r in good if r.get(name) is not None)
        if values:
            stats = {f"p{q}": percentile(values, q, ordered=True) for q in PERCENTILES}
            stats["mean"] = sum(values) / len(values)
            run.latency[name] = stats | run.latency.get(name, {})
    if run.duration_s is None:
        timed = [r for r in good if r.get("start_s") is not None and r.get("e2e_ms") is not None]
        spans = [(r["start_s"], r["start_s"] + r["e2e_ms"] / 1000) for r in timed]
        if spans:
            run.duration_s = max(end for _, end in spans) - min(start for start, _ in spans)
    outputs = [r["output_tokens"] for r in good if r.get("output_tokens") is not None]
    inputs = [r["input_tokens"] for r in good if r.get("input_tokens") is not None]
    if run.output_tokens_mean is None and outputs:
        run.output_tokens_mean = sum(outputs) / len(outputs)
    if run.input_tokens_mean is None and inputs:
        run.input_tokens_mean = sum(inputs) / len(inputs)
    if run.duration_s:
        run.request_s = run.request_s if run.request_s is not None else len(good) / run.duration_s
        if run.output_tok_s is None and outputs:
            run.output_tok_s = sum(outputs) / run.duration_s
    return run

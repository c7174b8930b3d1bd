"""Text renderings of the project actions' results: formatting only, no decisions.

Whatever a user typed (project names, messages, notes) is shown as text: control
characters, which a terminal would obey (escape sequences, carriage returns), are shown
escaped, and tables never read markup.
"""

from __future__ import annotations

from typing import Any

from planner.render import table
from planner.workflows import (
    CheckedOut,
    Exported,
    History,
    ImportReport,
    ProjectList,
    ProjectReport,
    RevisionDiff,
    RevisionSummary,
    SavedRevision,
)

#: How each history figure is named in "what changed".
_FIGURE_NAMES = {
    "gpu": "GPU",
    "deployment": "configuration",
    "replicas": "replicas",
    "eur_per_1m_tokens": "EUR/1M",
    "errors": "errors",
}


def safe(text: object) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\n``), so it cannot steer the terminal."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0 or ch in "\u2028\u2029":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def _eur(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _when(timestamp: str) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' (UTC)."""
    return timestamp[:16].replace("T", " ")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return safe(value)


def project_line(report: ProjectReport, verb: str) -> str:
    """One line: what happened to which project in which file."""
    p = report.project
    held = f"{p.revisions} revision{'s' * (p.revisions != 1)}, {p.runs} run{'s' * (p.runs != 1)}"
    return f"{verb} project '{safe(p.name)}' ({held}) in {report.path}"


def project_list_text(report: ProjectList, *, styled: bool = False) -> str:
    """``planner project list``: one row per project with its latest revision's figures."""
    if not report.projects:
        return f"no projects in {report.path} yet; `planner project new NAME` creates one"
    rows = []
    for p in report.projects:
        head = p.head
        rows.append(
            (
                safe(p.name),
                p.revisions,
                p.runs,
                safe(head.gpu) if head and head.gpu else "-",
                _value(head.replicas) if head else "-",
                _eur(head.eur_per_1m_tokens) if head else "-",
                _when(head.created_at) if head else _when(p.created_at),
            )
        )
    headers = ("project", "revisions", "runs", "GPU", "replicas", "EUR/1M tok", "last change (UTC)")
    return f"{report.path}\n" + table(headers, rows, styled=styled)


def project_detail_text(report: ProjectReport, *, styled: bool = False) -> str:
    """``planner project show``: the project, its inputs, revisions, runs, baseline and decisions."""
    p = report.project
    lines = [
        f"Project     {safe(p.name)}",
        f"Database    {report.path}",
        f"Created     {_when(p.created_at)} UTC by {safe(p.created_by)}   (uid {p.uid})",
    ]
    if p.notes:
        lines.append(f"Notes       {safe(p.notes)}")
    lines += ["", "Inputs (steps 1-4)" if p.inputs else "Inputs (steps 1-4): none yet"]
    lines += [f"  {safe(key)}: {_value(value)}" for key, value in report.input_fields().items()]
    lines += ["", f"Revisions   {p.revisions}"]
    if report.revisions:
        lines.append(revisions_table(report.revisions, styled=styled))
    lines += ["", f"Runs        {p.runs}"]
    for run in report.runs:
        lines.append(f"  {run.number}  {safe(run.name)}  ({run.records} requests, from {safe(run.source)})")
    if report.baseline:
        b = report.baseline
        lines.append(
            f"Baseline    runs {', '.join(d[:12] for d in b.runs)} set {_when(b.created_at)} by {safe(b.author)}"
        )
    if report.decisions:
        lines += ["", "Decisions"]
        lines += [f"  {_when(d.created_at)}  {safe(d.decision)}: {safe(d.rationale)}" for d in report.decisions]
    return "\n".join(lines)


def revisions_table(revisions: list[RevisionSummary], *, styled: bool = False) -> str:
    """Revisions as rows: number, time, author, GPU, replicas, EUR per 1M tokens, errors, message."""
    rows = [
        (
            r.number,
            _when(r.created_at),
            safe(r.author),
            safe(r.gpu or "-"),
            _value(r.replicas),
            _eur(r.eur_per_1m_tokens),
            r.errors,
            safe(r.message),
        )
        for r in revisions
    ]
    return table(("rev", "when (UTC)", "author", "GPU", "replicas", "EUR/1M tok", "errors", "message"), rows,
                 styled=styled)  # fmt: skip


def history_text(report: History, *, styled: bool = False) -> str:
    """``planner history``: one line per revision with what changed since the one before."""
    if not report.entries:
        return f"project '{safe(report.project)}' has no revisions yet; `planner plan PLAN --save PROJECT` adds one"
    rows = []
    for entry in report.entries:
        r = entry.revision
        changed = ", ".join(
            _history_change(c.field, c.before, c.after)
            for c in entry.changes
            # the configuration's words name the GPU when both changed
            if not (c.field == "gpu" and any(o.field == "deployment" for o in entry.changes))
        )
        rows.append((r.number, _when(r.created_at), safe(r.author), safe(r.gpu or "-"), _value(r.replicas),
                     _eur(r.eur_per_1m_tokens), r.errors, changed or ("first" if r.parent is None else "-"),
                     safe(r.message)))  # fmt: skip
    headers = ("rev", "when (UTC)", "author", "GPU", "replicas", "EUR/1M tok", "errors", "changed", "message")
    return table(headers, rows, styled=styled)


def _history_change(name: str, before: Any, after: Any) -> str:
    if name == "eur_per_1m_tokens":
        return f"{_FIGURE_NAMES[name]} {_eur(before)} -> {_eur(after)}"
    if name == "deployment" and isinstance(before, str) and isinstance(after, str):
        before, after = _differing_words(before, after)
    return f"{_FIGURE_NAMES[name]} {_value(before)} -> {_value(after)}"


def _differing_words(before: str, after: str) -> tuple[str, str]:
    """Two labels without the words they share at both ends ('vllm' -> 'sglang')."""
    a, b = before.split(), after.split()
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return " ".join(a[start : len(a) - end]), " ".join(b[start : len(b) - end])


def diff_text(report: RevisionDiff) -> str:
    """``planner diff``: each section's changed fields, then the findings added, resolved and changed."""
    a, b = report.before, report.after
    lines = [f"{safe(report.project)}: revision {a.number} -> {b.number}"]
    lines += [
        f"  {a.number}: {safe(a.message) or '(no message)'}",
        f"  {b.number}: {safe(b.message) or '(no message)'}",
    ]
    if report.identical:
        return "\n".join([*lines, "", "no differences"])
    sections = (
        ("Inputs", report.inputs),
        ("Chosen configuration", report.configuration),
        ("Key figures", report.figures),
        ("Backend and catalog", report.provenance),
    )
    for title, changes in sections:
        if changes:
            lines += ["", title]
            lines += [f"  {safe(c.field)}: {_value(c.before)} -> {_value(c.after)}" for c in changes]
    findings = (("Findings added", report.findings_added), ("Findings resolved", report.findings_resolved))
    for title, items in findings:
        if items:
            lines += ["", title]
            lines += [
                f"  [{safe(f.get('severity'))}] {safe(f.get('rule_id'))}: {safe(f.get('message'))}" for f in items
            ]
    if report.findings_changed:
        lines += ["", "Findings changed"]
        lines += [f"  {safe(c.field)}: {safe(c.before)} -> {safe(c.after)}" for c in report.findings_changed]
    return "\n".join(lines)


def saved_text(saved: SavedRevision) -> str:
    """The line ``planner plan --save`` adds: which revision the plan became."""
    r = saved.revision
    return f"saved as revision {r.number} of '{safe(saved.project)}' ({r.digest[:12]}) in {saved.path}"


def checked_out_text(done: CheckedOut) -> str:
    """``planner checkout``: which revision went to which file."""
    return f"wrote revision {done.revision.number} of '{safe(done.project)}' to {done.path}"


def exported_text(done: Exported) -> str:
    """``planner project export``: the file, what it holds, its checksum."""
    return (
        f"exported '{safe(done.name)}' ({done.revisions} revisions, {done.runs} runs, {done.size_bytes:,} bytes) "
        f"to {done.path}\nchecksum {done.checksum}"
    )


def imported_text(done: ImportReport) -> str:
    """``planner project import``: what was added and what was there already."""
    i = done.imported
    verb = "imported new project" if i.created else "merged into project"
    return (
        f"{verb} '{safe(i.name)}' in {done.path}: {i.revisions_added} revisions added "
        f"({i.revisions_present} already there), {i.runs_added} runs added ({i.runs_present} already there), "
        f"{i.baselines_added} baselines, {i.decisions_added} decisions"
    )

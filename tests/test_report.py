"""The decision record (`planner report`): a real project in a temporary SQLite store, built through the
workflows (two revisions, the second resolving a finding; imported benchmark runs; a baseline; a
decision), written by the command line in a subprocess, read back with html.parser and rendered in
headless Chromium where it is installed."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from planner import workflows
from planner.errors import PlannerError
from planner.report import SECTIONS
from planner.report.svg import Series, line_chart
from tests.conftest import DATA, PLANS, REPO, run_cli

CODE = PLANS / "usecases" / "2-code-assistant.yaml"
BENCH = DATA / "benchmarks"
#: A name and a decision full of markup: the record must show them as text.
PROJECT = 'Code <IDE> & "friends"'
DECISION = "add 2 replicas before Q3 <script>alert(1)</script>"
EXIT_PLAN = (
    "exit_plan: {alternative_models: [llama-3.3-70b], alternative_runtimes: [vllm], "
    "alternative_hardware: [mi300x], notes: the OpenAI API keeps the stack swappable}\n"
)


@dataclass(frozen=True)
class Built:
    db: Path
    home: Path
    out: Path
    head: dict[str, Any]
    cli: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The project, built once, and its record written once by the command line."""
    root = tmp_path_factory.mktemp("record")
    home, db = root / "home", root / "projects.db"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_HOME", str(home))
        session = workflows.open_session()
        workflows.create_project(PROJECT, notes="Bank IT <pilot>", db=db)
        plan = workflows.read_plan(CODE)
        workflows.plan_and_save(session, plan, "code.yaml", PROJECT, "first cut", backend="builtin", db=db)
        second = root / "code-with-exit-plan.yaml"
        second.write_text(CODE.read_text(encoding="utf-8") + EXIT_PLAN, encoding="utf-8")
        workflows.plan_and_save(
            session, workflows.read_plan(second), str(second), PROJECT, "record the exit plan", backend="builtin", db=db
        )
        files = [BENCH / "guidellm-v0.3-concurrent.yaml", *sorted((BENCH / "genai-perf").rglob("*.json"))]
        workflows.import_benchmarks(session, files, project=PROJECT, db=db)
        workflows.bench_baseline(session, PROJECT, "all", note="lab, week 12", backend="builtin", db=db)
        workflows.record_decision(PROJECT, workflows.Decision(DECISION, "growth of 30% a year & bursts"), db)
    out, offline = root / "record.html", root / "offline"
    offline.mkdir()
    (offline / "sitecustomize.py").write_text(  # the record is written with sockets forbidden
        "import socket\n"
        "def _refuse(*args, **kwargs):\n    raise OSError('network use is forbidden in this test')\n"
        "socket.socket.connect = _refuse\nsocket.create_connection = _refuse\nsocket.getaddrinfo = _refuse\n"
    )
    env = {"PLANNER_HOME": str(home), "PYTHONPATH": str(offline)}
    cli = run_cli("report", PROJECT, "--out", str(out), "--db", str(db), env=env)
    head = workflows.open_revision(PROJECT, "head", db).revision.to_json()
    return Built(db, home, out, head, cli)


class _Page(HTMLParser):
    """The page's text (outside styles and charts), its tags, section ids and links."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.tags: list[str] = []
        self.sections: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "section":
            self.sections.append(str(found.get("id")))
        self.links += [str(found[k]) for k in ("href", "src") if found.get(k)]
        self._hidden += tag in ("style", "svg")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "svg")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.words.append(data.strip())

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _headline(head: dict[str, Any]) -> list[str]:
    """The chosen GPU, replicas, Cr_closed and EUR per 1M tokens as the record writes them."""
    chosen = head["result"]["sizing"]["chosen"]
    gpu = chosen["operating_point"]["deployment"]["gpu"]
    return [
        f"GPU {gpu}",
        f"Replicas {chosen['replicas']} ({chosen['replicas_for_load']} for the load",
        f"Cr_closed per replica {chosen['simulation']['cr_closed']:,} requests in flight",
        f"{chosen['eur_per_1m_tokens']:,.3f} for GPU servers and GPU power",
    ]


def test_the_record_has_every_section_and_the_chosen_figures(built: Built) -> None:
    assert built.cli.returncode == 0, built.cli.stderr
    assert f"revision 2 to {built.out}" in built.cli.stdout
    page = _page(built.out)
    assert page.sections == [
        "summary", "figures", "steps", "alternatives", "findings", "envelopes", "baseline", "tco", "scaling",
        "provenance", "signoff",
    ]  # fmt: skip
    for line in _headline(built.head):
        assert line in page.text, line
    assert "with every cost line" in page.text and "Cost lines, EUR a year" in page.text, "the TCO summary"
    assert "Growth:" in page.text and "Q12" in page.text, "three years of growth, quarter by quarter"
    for step in (
        "Use case",
        "Workload profile",
        "Traffic profile",
        "Workload SLO",
        "Serving stack",
        "Scaling decision",
    ):
        assert step in page.text
    assert "requests_per_s = 40.0" in page.text and "ttft_ms = 500.0" in page.text, "the steps' inputs"


def test_every_figure_has_its_band_and_provenance(built: Built) -> None:
    page = _page(built.out)
    performance = built.head["result"]["sizing"]["chosen"]["operating_point"]["performance"]
    low, high = performance["ttft_ms_band"]
    # TTFT and the ITL gap as the plan prints them and the targets judge them: at the sizing's percentile
    # (the page showed the mean TTFT, 331 ms for use case 2, where `planner plan` said p95 389 ms)
    q = built.head["result"]["sizing"]["chosen"]["sizing_percentile"]
    ttft, scale = performance[f"ttft_p{q}_ms"], performance[f"ttft_p{q}_ms"] / performance["ttft_ms"]
    assert ttft > performance["ttft_ms"]
    assert f"TTFT p{q} at the operating point {ttft:,.0f} ms {low * scale:,.0f} - {high * scale:,.0f}" in page.text
    assert f"ITL p{q} gap at the operating point {performance[f'itl_p{q}_ms']:,.1f} ms" in page.text
    assert f"ITL (mean gap) at the operating point {performance['itl_ms']:,.1f} ms" in page.text
    assert "band: 10th-90th percentile of measured/predicted" in page.text
    assert "Cr_closed measured" in page.text and "measured: the baseline (3 runs)" in page.text
    assert "Every run stored" in page.text and "closed loop c=16" in page.text
    assert "discrete-event simulation of one replica in a closed loop" in page.text


def test_alternatives_say_why_they_lost(built: Built) -> None:
    page = _page(built.out)
    alternatives = built.head["result"]["sizing"]["alternatives"]
    assert alternatives, "the search keeps runners-up"
    for alt in alternatives:
        assert alt["deployment"] in page.text
    assert "cheapest that meets the SLOs on both axes, checked in simulation" in page.text
    assert "ranked behind the configurations checked in simulation" in page.text or "held in simulation" in page.text


def test_a_finding_resolved_by_the_second_revision_says_so(built: Built) -> None:
    text = _page(built.out).text
    assert "exit.not-recorded warning 1 2 record the exit plan" in text, "raised in 1, resolved in 2, by its message"
    assert "Findings of revision 2" in text and "exit.not-recorded" not in text.split("Findings of revision 2")[1]


def test_predicted_and_measured_envelopes_are_inline_charts(built: Built) -> None:
    html = built.out.read_text(encoding="utf-8")
    page = _page(built.out)
    charts = html.count("<svg ")
    assert charts >= 5, "TTFT, ITL, E2E and throughput against load, and the growth view"
    assert html.count("<polyline") >= 4 and html.count("<circle") >= 3, "predicted lines and measured points"
    assert "Measured against predicted, run by run" in page.text and "inside band" in page.text


def test_the_page_is_self_contained_and_escapes_what_users_wrote(built: Built) -> None:
    page = _page(built.out)
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    assert all(link.startswith("#") for link in page.links), page.links
    assert f"Decision record: {PROJECT}" in page.text and DECISION in page.text, "shown as text"
    assert "Bank IT <pilot>" in page.text
    html = built.out.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in html and "@media print" in html and "@page" in html


def test_a_bad_project_or_output_is_one_clear_error(built: Built, tmp_path: Path) -> None:
    done = run_cli("report", "nobody", "--out", str(tmp_path / "r.html"), "--db", str(built.db),
                   env={"PLANNER_HOME": str(built.home)})  # fmt: skip
    assert done.returncode == 2 and "no project named 'nobody'" in done.stderr and "fix:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    session = workflows.open_session()
    cases = [
        (PROJECT, tmp_path / "r.pdf", built.db, "the record is an HTML page"),
        (PROJECT, tmp_path / "missing" / "r.html", built.db, "the folder does not exist"),
        (PROJECT, tmp_path, built.db, "the record is an HTML page"),
        (f"{PROJECT}@9", tmp_path / "r.html", built.db, "matches no revision"),
        (PROJECT, tmp_path / "r.html", tmp_path / "none.db", "there is no projects database"),
        ("Empty", tmp_path / "r.html", built.db, "has no revision to sign off"),
    ]
    workflows.create_project("Empty", db=built.db)
    for ref, out, db, message in cases:
        with pytest.raises(PlannerError, match=message) as raised:
            workflows.report(session, ref, out, db=db)
        assert raised.value.exit_code == 2 and raised.value.fix
    assert not list(tmp_path.rglob("*.html")) and not (tmp_path / "none.db").exists(), "nothing written on an error"


def test_an_earlier_revision_of_a_plan_nothing_meets_is_recorded_with_why_and_no_price(
    built: Built, tmp_path: Path
) -> None:
    session = workflows.open_session()
    workflows.create_project("Trap@customer", db=built.db)
    trap = workflows.read_plan(PLANS / "trap-multinode-tp-pcie.yaml")
    for message in ("pinned by the customer", "the same, asked again"):
        workflows.plan_and_save(session, trap, "trap.yaml", "Trap@customer", message, backend="builtin", db=built.db)
    done = workflows.report(session, "Trap@customer@1", tmp_path / "trap.html", db=built.db)
    text = _page(tmp_path / "trap.html").text
    assert done.revision == 1 and "Revision 1 " in text and "pinned by the customer" in text
    assert "the same, asked again" not in text, "the record stops at the revision it signs off"
    assert not done.priced and "No configuration meets this plan, so nothing is signed off." in text
    head = workflows.report(session, "Trap@customer", tmp_path / "head.html", db=built.db)
    assert head.revision == 2 and head.project == "Trap@customer", "a name with @ in it is a name"
    why = workflows.open_revision("Trap@customer", "1", built.db).revision.result["sizing"]["why_none"]
    assert why and all(line in text for line in why), "each candidate with what it misses"
    assert (
        "Not priced: none of the 2 candidate configurations meets the SLOs on both axes" in text
        and "trap.multi-node-tp-without-nvlink" in text
    )


# ------------------------------------------------------------------------ browser


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_chromium_renders_the_record_with_its_figures(built: Built, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path}"]
    url = built.out.as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=True).stdout
    read_back = _Page()
    read_back.feed(dom)
    for line in _headline(built.head):
        assert line in read_back.text, line
    pdf = tmp_path / "record.pdf"
    subprocess.run([*flags, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url], capture_output=True, timeout=90,
                   check=True)  # fmt: skip
    printed = pdf.read_bytes()
    assert printed.startswith(b"%PDF") and printed.count(b"/Type /Page\n") + printed.count(b"/Type/Page") >= 3, (
        "prints to PDF over several pages"
    )
    shot = tmp_path / "record.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,1400", url], capture_output=True, timeout=90,
                   check=True)  # fmt: skip
    assert _distinct_bytes(shot) > 50, "the screenshot shows text and charts, not a blank page"


def _distinct_bytes(png: Path) -> int:
    """How many distinct byte values the PNG's pixel data holds (a blank page holds a handful)."""
    data, pixels, at = png.read_bytes(), b"", 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        if kind == b"IDAT":
            pixels += data[at + 8 : at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(pixels)))


# -------------------------------------------------------------------------- charts


def test_a_chart_spreads_a_sweep_on_a_log_axis_and_escapes_its_labels() -> None:
    svg = line_chart(
        "TTFT <p95>", "users", "ms",
        [Series("predicted & simulated", "line", "#000000", [(1, 10.0), (256, 900.0)]),
         Series("measured", "points", "#111111", [(4, 50.0)]), Series("SLO", "target", "#222222", [(0, 500.0)])],
    )  # fmt: skip
    assert "(log scale)" in svg and "TTFT &lt;p95&gt;" in svg and "predicted &amp; simulated" in svg
    assert svg.count("<circle") == 2 and "stroke-dasharray" in svg, "a legend dot, the point, and the target"
    assert "users" in json.dumps(svg) and "<script" not in svg
    assert line_chart("empty", "x", "y", [Series("target only", "target", "#000000", [(0, 1.0)])]) == ""


def test_the_docs_describe_every_section_and_the_readme_the_command() -> None:
    doc = (REPO / "docs" / "report.md").read_text(encoding="utf-8")
    assert [title for _, title, _ in SECTIONS if f"| {title} |" not in doc] == []
    assert "`planner report PROJECT[@REV] --out FILE.html" in (REPO / "README.md").read_text(encoding="utf-8")

"""The decision record as one self-contained HTML page: styles inline, charts as inline SVG, no
script and no link to fetch, with a print stylesheet so the browser prints it to PDF page by page."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from planner.errors import PlannerError
from planner.report import evidence, sections
from planner.report.content import DecisionRecord
from planner.report.markup import text

#: The sections in the order the record shows them: (anchor, title in the contents, writer).
SECTIONS = (
    ("summary", "Summary", sections.summary),
    ("figures", "Figures and their provenance", sections.figures),
    ("steps", "The 11 steps and their inputs", sections.steps),
    ("alternatives", "Chosen configuration and alternatives", sections.alternatives),
    ("findings", "Findings across revisions", sections.findings),
    ("envelopes", "Predicted and measured envelopes", evidence.envelopes),
    ("baseline", "Baseline", evidence.baseline),
    ("tco", "Total cost of ownership", evidence.costs),
    ("scaling", "Scaling decisions", evidence.decisions),
    ("provenance", "Provenance", evidence.provenance),
    ("signoff", "Sign-off", sections.sign_off),
)

_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; color: #1a1a1a; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.25rem; border-bottom: 2px solid #0072B2;
padding-bottom: 0.2rem; margin-top: 2rem; } h3 { font-size: 1.05rem; margin-top: 1.2rem; }
.meta { color: #555555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.6rem 0; font-size: 9.5pt; }
th, td { border: 1px solid #cccccc; padding: 0.25rem 0.4rem; text-align: left; vertical-align: top; }
th { background: #eef3f8; } td { overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0.6rem 0; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
figure { margin: 0.8rem 0; } figcaption { font-size: 9pt; color: #555555; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #dddddd; }
nav ol { columns: 2; }
table.signatures td { height: 2.2rem; }
@page { size: A4; margin: 15mm 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 9.5pt; }
  nav { display: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, tr, dl { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  section { break-before: auto; }
  #signoff { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def record_html(record: DecisionRecord) -> str:
    """The whole page."""
    project, revision = record.project, record.revision
    title = f"Decision record: {project.get('name')}"
    contents = "".join(f'<li><a href="#{anchor}">{text(name)}</a></li>' for anchor, name, _ in SECTIONS)
    meta = (
        f"Revision {revision.get('number')} (sha256:{str(revision.get('digest'))[:12]}) "
        f"saved by {revision.get('author')} on {str(revision.get('created_at'))[:19].replace('T', ' ')} UTC: "
        f"\u201c{revision.get('message') or 'no message'}\u201d"
    )
    body = "\n".join(writer(record) for _, _, writer in SECTIONS)
    notes = f"<p>{text(project.get('notes'))}</p>" if project.get("notes") else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{text(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f'<header><h1>{text(title)}</h1><p class="meta">{text(meta)}</p>{notes}</header>\n'
        f"<nav><h2>Contents</h2><ol>{contents}</ol></nav>\n{body}\n</body></html>\n"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_record(record: DecisionRecord, out: Path) -> int:
    """Write the page to ``out`` whole or not at all (a temporary file renamed over it); returns its bytes.

    :raises PlannerError: when the folder cannot be written.
    """
    data = record_html(record).encode("utf-8")
    out = Path(out)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a record is for sharing
            os.replace(temporary, out)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise PlannerError(
            f"cannot write the record: {exc.strerror}", path=str(out), fix="choose a folder you can write to"
        ) from exc
    return len(data)

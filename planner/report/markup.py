"""The small HTML vocabulary of the decision record: escaped text, numbers, tables, sections.

Everything that reaches the page goes through :func:`text` unless it is :class:`Html` built here,
so a project name, a plan's description or a commit message can never inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any


class Html(str):
    """Markup built by this package: put on the page as it is, never escaped again."""


def text(value: Any) -> Html:
    """``value`` as escaped text; ``-`` for nothing."""
    if isinstance(value, Html):
        return value
    if value is None or value == "":
        return Html("-")
    return Html(escape(str(value)))


def number(value: Any, digits: int = 0, unit: str = "") -> Html:
    """A figure with thousands separators and ``digits`` decimals (``-`` when missing or not finite)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return text(value if isinstance(value, str) else None)
    return text(f"{value:,.{digits}f}" + (f" {unit}" if unit else ""))


def band(low_high: Any, digits: int = 0) -> Html:
    """``[low-high]`` of a band given as a pair, ``-`` without one."""
    if not isinstance(low_high, list | tuple) or len(low_high) != 2 or None in low_high:
        return text(None)
    return text(f"{low_high[0]:,.{digits}f} - {low_high[1]:,.{digits}f}")


def share(value: Any) -> Html:
    """A fraction as a percentage."""
    return text(f"{value:.0%}") if isinstance(value, int | float) and math.isfinite(value) else text(None)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> Html:
    """A table; cells that are not :class:`Html` are escaped."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{text(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    klass = f' class="{escape(css)}"' if css else ""
    return Html(f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def definitions(pairs: Iterable[tuple[str, Any]]) -> Html:
    """A definition list of (term, value) pairs."""
    items = "".join(f"<dt>{text(term)}</dt><dd>{text(value)}</dd>" for term, value in pairs)
    return Html(f"<dl>{items}</dl>")


def paragraph(value: Any, css: str = "") -> Html:
    """One paragraph of escaped text (or markup)."""
    klass = f' class="{escape(css)}"' if css else ""
    return Html(f"<p{klass}>{text(value)}</p>")


def section(anchor: str, title: str, *parts: str) -> Html:
    """A numbered-in-the-contents section: ``<section id=anchor><h2>title</h2>parts</section>``."""
    body = "\n".join(parts)
    return Html(f'<section id="{escape(anchor)}">\n<h2>{text(title)}</h2>\n{body}\n</section>')


def figure(svg: str, caption: str) -> Html:
    """An inline SVG chart with its caption (nothing when there is no chart)."""
    if not svg:
        return Html("")
    return Html(f"<figure>{svg}<figcaption>{text(caption)}</figcaption></figure>")

"""Terminal output through rich: tables and progress bars, plain text when not a terminal.

Imported only by the command line, and rich only when a table is drawn or a bar shown, so
``planner --help`` and commands that print JSON never load it (about 50 ms). On a
terminal, tables get rules and bold headers and long actions draw a progress bar on stderr;
when the output is piped or ``--json`` is asked for, tables are plain aligned columns and no
bar is drawn.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

#: Plain columns: a dashed rule under the headers, no other lines (rich's box characters).
_PLAIN_BOX = "    \n    \n -  \n    \n    \n    \n    \n    \n"


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, styled: bool) -> str:
    """The rows under their headers: rich's table with rules and bold headers when ``styled``,
    else plain left-aligned columns (no trailing spaces) for pipes, files and tests."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD if styled else box.Box(_PLAIN_BOX),
        show_edge=False,
        pad_edge=False,
        header_style="bold" if styled else "",
        padding=(0, 1, 0, 0),
    )
    for header in headers:
        table.add_column(str(header), no_wrap=True)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out = io.StringIO()
    console = Console(
        file=out,
        width=100_000,
        force_terminal=styled,
        color_system="standard" if styled else None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A progress callback ``(done, total or None, what)`` drawing a bar on stderr, or ``None``.

    Disabled (yields ``None``) when not on a terminal or when the caller prints JSON.
    """
    if not enabled or not is_terminal(sys.stderr):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(done: int, total: int | None, what: str) -> None:
            key = what if total is not None else "points"
            if key not in tasks:
                tasks[key] = bar.add_task(what, total=total)
            bar.update(tasks[key], completed=done, total=total, description=what)

        yield update

"""Terminal output through rich: styled tables and a progress bar on a terminal, plain text elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from planner.terminal import progress_bar, render_table
from tests.conftest import CLI_BACKEND, PLANS

ROWS = [("1", "mi300x", "1.047"), ("10", "b200", None)]


def test_plain_tables_are_aligned_columns_without_codes() -> None:
    lines = render_table(("#", "gpu", "EUR"), ROWS, styled=False).splitlines()
    assert lines[0].split() == ["#", "gpu", "EUR"] and set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["1", "mi300x", "1.047"] and lines[3].split() == ["10", "b200"]
    assert all(line == line.rstrip() for line in lines), "no trailing spaces"
    assert "\x1b[" not in "\n".join(lines)
    starts = {line.index(word) for line, word in zip(lines[2:], ("mi300x", "b200"), strict=True)}
    assert len(starts) == 1, "columns line up"


def test_styled_tables_carry_rules_and_bold_headers() -> None:
    text = render_table(("#", "gpu", "EUR"), ROWS, styled=True)
    assert "\x1b[1m" in text and "─" in text


def test_no_progress_bar_off_a_terminal() -> None:
    with progress_bar(True) as bar:  # pytest captures stderr: not a terminal
        assert bar is None
    with progress_bar(False) as bar:
        assert bar is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals as on Linux")
def test_on_a_terminal_search_draws_a_bar_and_a_styled_table() -> None:
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, **CLI_BACKEND, "COLUMNS": "200"}
    command = [sys.executable, "-m", "planner", "search", str(PLANS / "code-assistant.yaml"), "--top", "3"]
    process = subprocess.Popen(command, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=120) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "sizing candidate configurations" in screen, "the progress bar"
    assert "\x1b[1m" in screen and "─" in screen and "EUR/1M tok" in screen, "the styled table"

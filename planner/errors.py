"""Errors a user can act on: each names the place (file, field) and the fix.

The command line prints them and exits with code 2; the GUI shows them in a
dialog. Anything else that escapes is a bug, not a message for the user.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Exit codes of the command line, one meaning each (the README lists them).
EXIT_OK = 0
#: ``planner check``: the plan has findings of severity error (a review gate, like a linter).
EXIT_FINDINGS = 1
#: A problem with the user's input: a file, a field, a flag, an id.
EXIT_INPUT = 2
#: ``planner plan``: no configuration meets the plan (what each misses is printed).
EXIT_NOTHING_FITS = 3
#: A bug in the planner or a plugin (EX_SOFTWARE of sysexits.h).
EXIT_INTERNAL = 70


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what, and how to fix it."""

    where: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text}\n    fix: {self.fix}" if self.fix else text


class PlannerError(Exception):
    """Base of all errors meant for the user."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, path: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.fix = fix

    def render(self) -> str:
        """Return the text shown to the user: place, what went wrong, the fix."""
        head = f"{self.path}: {self.message}" if self.path else self.message
        return f"error: {head}\n  fix: {self.fix}" if self.fix else f"error: {head}"


class InputError(PlannerError):
    """A file the user gave (plan, config.json) is unreadable or invalid."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.problems = problems
        summary = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"{summary} found", path=path)

    def render(self) -> str:
        """Return every problem, one per line, each with its fix."""
        lines = [f"error: {self.path}: {self.message}"]
        for p in self.problems:
            lines.append(f"  - {p.where}: {p.what}" if p.where else f"  - {p.what}")
            if p.fix:
                lines.append(f"    fix: {p.fix}")
        return "\n".join(lines)


class NothingFitsError(PlannerError):
    """No configuration meets the plan, so there is nothing to simulate or measure."""

    exit_code = EXIT_NOTHING_FITS


class UnknownIdError(PlannerError):
    """An id or alias that no plugin provides."""


class CatalogError(PlannerError):
    """The user's own catalog folder could not be written or read."""


class StoreError(PlannerError):
    """The project database or a project export cannot be used as asked; nothing in it was changed."""


class StoreLockedError(StoreError):
    """Another program kept the project database busy for longer than the planner waits."""


class StoreCorruptError(StoreError):
    """The file is not what the planner expects (a SQLite project database, a project export), or is damaged."""


class StoreVersionError(StoreError):
    """The database or project file was written by a newer planner than this one."""

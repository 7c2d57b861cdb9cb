"""What the script sandbox raises: one root, a refusal found when compiling, and the limits."""

from __future__ import annotations

from engine.errors import OneWindowError


class ScriptError(OneWindowError):
    """A script or expression that the sandbox refused or stopped; ``lineno`` is the line, 0 if unknown."""

    status = 422
    title = "Script error"

    def __init__(self, message: str, lineno: int = 0):
        super().__init__(message)
        self.lineno = lineno


class ScriptRefused(ScriptError):
    """The source uses something the sandbox forbids (found when compiling, before any effect)."""

    def __init__(self, problems: list[str], lineno: int = 0):
        super().__init__("; ".join(problems), lineno)
        self.problems = list(problems)


class ScriptLimit(ScriptError):
    """The script hit one of the limits (time, CPU time, size, memory): a case is flagged for it."""


class ScriptTimeout(ScriptLimit):
    """The script ran past its time limit."""


class ScriptTooLarge(ScriptLimit):
    """The script tried to build a value beyond the sandbox's size limits, or ran out of memory."""

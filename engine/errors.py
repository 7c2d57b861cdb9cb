"""The engine's one error root and its narrow subclasses.

Entry points map these to HTTP problem details or CLI messages; services raise them and never
catch-and-swallow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, line, element or field) and what."""

    message: str
    element_id: str | None = None
    line: int | None = None
    file: str | None = None
    field: str | None = None
    severity: str | None = None  # None: an error; "warning": reported, never refused

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p)
        ids = f"[{self.element_id}]" if self.element_id else ""
        fld = f"{self.field}: " if self.field else ""
        prefix = " ".join(p for p in (where, ids) if p)
        return f"{prefix} {fld}{self.message}".strip()

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class OneWindowError(Exception):
    """Root of every error the project raises on purpose."""

    status = 400
    title = "Bad request"


class Invalid(OneWindowError):
    """The input is malformed or breaks a rule; ``problems`` lists each issue."""

    status = 422
    title = "Invalid input"

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems: list[Problem] = list(problems or [])


class DefinitionInvalid(Invalid):
    """A BPMN/DMN bundle that cannot be deployed."""

    title = "Invalid process definition"


class NotFound(OneWindowError):
    status = 404
    title = "Not found"


class Forbidden(OneWindowError):
    status = 403
    title = "Forbidden"


class Unauthorized(OneWindowError):
    status = 401
    title = "Unauthorized"


class Conflict(OneWindowError):
    """Someone else changed the thing first (task taken, case version moved)."""

    status = 409
    title = "Conflict"

    def __init__(self, message: str, holder: str | None = None):
        super().__init__(message)
        self.holder = holder


class TooManyRequests(OneWindowError):
    """Asked too often: try again after ``retry_after`` seconds (sent as the Retry-After header)."""

    status = 429
    title = "Too many requests"

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TooLarge(OneWindowError):
    status = 413
    title = "Content too large"


@dataclass
class ProblemList:
    problems: list[Problem] = field(default_factory=list)

    def add(self, message: str, **where) -> None:
        self.problems.append(Problem(message, **where))

    def __bool__(self) -> bool:
        return bool(self.problems)

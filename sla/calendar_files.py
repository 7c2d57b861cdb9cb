"""A year's holiday arrangement and the office YAML files that declare one.

An office adds a year the library does not know yet (the State Council publishes the next year's
arrangement around November), corrects a year, or adds local closures, by dropping one file per year
into the calendar directory; no release is needed. The format is documented in
``bpmn/calendar/README.md``. Every problem in every file is reported at once, each naming its file,
field and line, so an officer can fix a file in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Invalid, Problem

FILE_PATTERNS = ("*.yaml", "*.yml")
DATE_FIELDS = ("holidays", "workdays", "closures")
KNOWN_FIELDS = frozenset({"year", "status", "source", *DATE_FIELDS})
RANGE_SEPARATOR = ".."
# date.fromisoformat also takes 20270101 and week dates; a calendar file should be unambiguous to read.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

ReportProblem = Callable[..., None]


class YearStatus(StrEnum):
    """How far a year's data can be trusted for a legal deadline."""

    OFFICIAL = "official"
    PROVISIONAL = "provisional"
    MISSING = "missing"


@dataclass(frozen=True)
class YearArrangement:
    """The days of one year that differ from a plain Monday-Friday week.

    ``holidays`` may include weekend days inside a holiday period (harmless: they are off anyway);
    ``workdays`` are weekend days declared working days (调休上班); ``closures`` are local or office
    closures, counted as non-working even on a declared workday.
    """

    year: int
    status: YearStatus
    sources: tuple[str, ...]
    holidays: frozenset[date]
    workdays: frozenset[date]
    closures: frozenset[date] = frozenset()


@dataclass(frozen=True)
class OfficeFile:
    """One validated office file.

    ``replaces_library`` is False for a closures-only file (no ``holidays``/``workdays`` keys), which
    keeps the library's arrangement for its year and only adds closures and its status.
    """

    path: Path
    content: bytes
    year: int
    status: YearStatus
    source: str
    holidays: frozenset[date]
    workdays: frozenset[date]
    closures: frozenset[date]
    replaces_library: bool


def read_office_files(directory: Path) -> list[OfficeFile]:
    """Read and validate every ``*.yaml``/``*.yml`` file in ``directory``, sorted by year.

    Raises Invalid listing every problem of every file (missing directory, bad YAML, bad field,
    two files for one year).
    """
    if not directory.is_dir():
        raise Invalid(
            f"calendar directory {directory} does not exist",
            [Problem("directory does not exist", file=str(directory))],
        )
    paths = sorted({p for pattern in FILE_PATTERNS for p in directory.glob(pattern) if p.is_file()})
    files: list[OfficeFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            files.append(parse_office_file(path.read_bytes(), path))
        except Invalid as error:
            problems.extend(error.problems)
    by_year: dict[int, OfficeFile] = {}
    for office_file in files:
        earlier = by_year.setdefault(office_file.year, office_file)
        if earlier is not office_file:
            problems.append(
                Problem(
                    f"{office_file.year} is already declared by {earlier.path.name}; one file per year",
                    file=str(office_file.path),
                    field="year",
                )
            )
    if problems:
        raise Invalid(f"invalid calendar files in {directory}", problems)
    return sorted(files, key=lambda f: f.year)


def parse_office_file(content: bytes, path: Path) -> OfficeFile:
    """Validate one office file's content; ``path`` is used for messages and the result.

    Raises Invalid whose problems each name the file, the field and (where known) the line.
    """
    file = str(path)
    try:
        text = content.decode("utf-8")
        data = yaml.safe_load(text)
        lines = _field_lines(text)
    except UnicodeDecodeError as error:
        raise Invalid(f"{file}: not UTF-8", [Problem(f"not UTF-8 text: {error}", file=file)]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        bad_yaml = Problem(f"not valid YAML: {error}", file=file, line=line)
        raise Invalid(f"{file}: not valid YAML", [bad_yaml]) from None
    if not isinstance(data, dict):
        raise Invalid(f"{file}: not a calendar file", [Problem("expected a mapping of fields", file=file)])

    problems: list[Problem] = []

    def problem(message: str, field: str, line: int | None = None) -> None:
        field_line = lines.get(field.split("[")[0], (None, []))[0]
        problems.append(Problem(message, file=file, field=field, line=line or field_line))

    for key in data:
        if key not in KNOWN_FIELDS:
            problem(f"unknown field {key!r}; expected one of {', '.join(sorted(KNOWN_FIELDS))}", str(key))

    year = data.get("year")
    if "year" not in data:
        problem("required", "year")
    elif not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
        problem(f"expected a year such as 2027, got {year!r}", "year")
        year = None

    status = data.get("status")
    if "status" not in data:
        problem("required: official or provisional", "status")
    elif status not in (YearStatus.OFFICIAL.value, YearStatus.PROVISIONAL.value):
        problem(f"unknown status {status!r}; expected official or provisional", "status")

    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        problem("required: the notice (or office decision) the dates come from", "source")

    given = {name for name in ("holidays", "workdays") if name in data}
    if len(given) == 1:
        missing = ({"holidays", "workdays"} - given).pop()
        problem(
            "give both holidays and workdays (an empty list if none), or neither to keep the library's dates",
            missing,
        )

    dates: dict[str, set[date]] = {}
    for name in DATE_FIELDS:
        dates[name] = _read_dates(data.get(name, []), name, year, lines.get(name, (None, []))[1], problem)

    for day in sorted(dates["holidays"] & dates["workdays"]):
        problem(f"{day} is listed both as a holiday and as a workday", "workdays")
    for day in sorted(dates["workdays"]):
        if day.weekday() < 5:
            problem(f"{day} is a {day:%A}; workdays lists only weekend days made working days", "workdays")

    if problems:
        raise Invalid(f"{file}: invalid calendar file", problems)
    # narrowed by the checks above
    assert isinstance(year, int) and isinstance(source, str) and isinstance(status, str)
    return OfficeFile(
        path=path,
        content=content,
        year=year,
        status=YearStatus(status),
        source=source.strip(),
        holidays=frozenset(dates["holidays"]),
        workdays=frozenset(dates["workdays"]),
        closures=frozenset(dates["closures"]),
        replaces_library=bool(given),
    )


def _read_dates(
    raw: Any, name: str, year: int | None, item_lines: list[int], problem: ReportProblem
) -> set[date]:
    """Expand a list of dates and ``start..end`` ranges, reporting each bad item."""
    if raw is None:
        return set()
    if not isinstance(raw, list):
        problem("expected a list of dates (YYYY-MM-DD) or ranges (YYYY-MM-DD..YYYY-MM-DD)", name)
        return set()
    days: set[date] = set()
    for index, item in enumerate(raw):
        field = f"{name}[{index}]"
        line = item_lines[index] if index < len(item_lines) else None
        try:
            first, last = _parse_item(item)
        except ValueError as error:
            problem(str(error), field, line)
            continue
        if last < first:
            problem(f"range reversed: {first} is after {last}", field, line)
            continue
        if year is not None and (first.year != year or last.year != year):
            problem(f"{item} is not in {year}, the file's year", field, line)
            continue
        days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
    return days


def _parse_item(item: Any) -> tuple[date, date]:
    # YAML turns an unquoted 2027-01-01 into a date already; a datetime would carry a time we must not drop.
    if isinstance(item, date) and not isinstance(item, datetime):
        return item, item
    if not isinstance(item, str):
        raise ValueError(f"expected a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD, got {item!r}")
    parts = item.strip().split(RANGE_SEPARATOR)
    if len(parts) > 2:
        raise ValueError(f"bad range {item!r}; expected YYYY-MM-DD..YYYY-MM-DD")
    try:
        days = [_parse_date(part.strip()) for part in parts]
    except ValueError:
        raise ValueError(f"bad date {item!r}; expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from None
    return days[0], days[-1]


def _parse_date(text: str) -> date:
    if not ISO_DATE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


def _field_lines(text: str) -> dict[str, tuple[int, list[int]]]:
    """Line of each top-level field and of each item in its list, for messages."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[str, tuple[int, list[int]]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            items = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
            lines[str(key_node.value)] = (
                key_node.start_mark.line + 1,
                [item.start_mark.line + 1 for item in items],
            )
    return lines

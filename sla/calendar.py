"""The working-day calendar every time limit is counted in.

A working day (工作日) is Monday-Friday, minus the State Council's public holidays and the office's
closures, plus the weekend days declared working days (调休上班). Official data comes from the
``chinesecalendar`` package; office files (see :mod:`sla.calendar_files`) add years, correct years and
add closures. A deadline must never rest on a silent guess: a computation reaching a year without
data raises :class:`YearNotCovered` unless the caller asks for a provisional answer, which is then
marked as such.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from engine.errors import Invalid, Problem
from sla.calendar_files import OfficeFile, YearArrangement, YearStatus, read_office_files

LIBRARY_NAME = "chinesecalendar"
LIBRARY_VERSION: str = chinese_calendar.__version__
LIBRARY_SOURCE = f"{LIBRARY_NAME} {LIBRARY_VERSION} (State Council holiday notices)"


@dataclass(frozen=True)
class DueDate:
    """A computed deadline, with the calendar it was computed in.

    ``provisional`` is True when the computation touched a year without official data; such a date
    must be shown as provisional and recomputed once the year's arrangement is published.
    """

    date: date
    provisional: bool
    calendar_version: str


class YearNotCovered(Invalid):
    """A computation needs a year the calendar has no holiday arrangement for."""

    title = "Calendar year not covered"

    def __init__(self, year: int):
        super().__init__(
            f"the working-day calendar has no holiday arrangement for {year}; "
            f"add a {year} file to the calendar directory, or ask for a provisional answer",
            [Problem(f"no holiday arrangement for {year}", field="year")],
        )
        self.year = year


@dataclass(frozen=True)
class _YearDays:
    """One year's working days as sorted ordinals (for bisect) and a set (for membership)."""

    ordinals: tuple[int, ...]
    members: frozenset[int]
    provisional: bool


class WorkingCalendar:
    """Working-day arithmetic over a fixed set of year arrangements.

    Built once (see :func:`load_calendar`); every year's working days are precomputed, so lookups
    are set membership and counting is a bisect per year touched.
    """

    def __init__(self, arrangements: Mapping[int, YearArrangement], version: str):
        self.version = version
        self._arrangements = dict(arrangements)
        self._years = {year: _working_days(a) for year, a in self._arrangements.items()}
        self._guessed: dict[int, _YearDays] = {}

    def years_covered(self) -> tuple[int, ...]:
        """Years with data (official or provisional), ascending."""
        return tuple(sorted(self._years))

    def year_status(self, year: int) -> YearStatus:
        arrangement = self._arrangements.get(year)
        return arrangement.status if arrangement else YearStatus.MISSING

    def arrangement(self, year: int) -> YearArrangement:
        """The holidays, workdays, closures and sources of ``year``; raises YearNotCovered."""
        try:
            return self._arrangements[year]
        except KeyError:
            raise YearNotCovered(year) from None

    def is_working_day(self, day: date, *, provisional: bool = False) -> bool:
        """Raises YearNotCovered for a year without data unless ``provisional``."""
        return day.toordinal() in self._days(day.year, provisional).members

    def add_working_days(self, start: date, n: int, *, provisional: bool = False) -> DueDate:
        """The ``n``-th working day after ``start`` (day 1 is the first working day after it).

        ``n == 0`` gives ``start`` itself. Raises Invalid for a negative ``n`` and YearNotCovered
        when the count reaches a year without data, unless ``provisional``.
        """
        if n < 0:
            raise Invalid(f"cannot add {n} working days", [Problem("must not be negative", field="n")])
        if n == 0:
            return DueDate(start, False, self.version)
        after, needed, year, touched_provisional = start.toordinal(), n, start.year, False
        while True:
            days = self._days(year, provisional)
            touched_provisional = touched_provisional or days.provisional
            first = bisect_right(days.ordinals, after)
            available = len(days.ordinals) - first
            if needed <= available:
                found = date.fromordinal(days.ordinals[first + needed - 1])
                return DueDate(found, touched_provisional, self.version)
            needed -= available
            year += 1

    def working_days_between(self, a: date, b: date, *, provisional: bool = False) -> int:
        """Working days in (a, b]; 0 when ``b`` is not after ``a``.

        Raises YearNotCovered for a year without data in the span unless ``provisional``.
        """
        if b <= a:
            return 0
        low, high = a.toordinal(), b.toordinal()
        count = 0
        for year in range(a.year, b.year + 1):
            ordinals = self._days(year, provisional).ordinals
            count += bisect_right(ordinals, high) - bisect_right(ordinals, low)
        return count

    def is_provisional_span(self, a: date, b: date) -> bool:
        """True when any year from ``a`` to ``b`` (either order) lacks official data."""
        first, last = sorted((a.year, b.year))
        return any(self.year_status(year) is not YearStatus.OFFICIAL for year in range(first, last + 1))

    def _days(self, year: int, provisional: bool) -> _YearDays:
        known = self._years.get(year)
        if known is not None:
            return known
        if not provisional:
            raise YearNotCovered(year)
        guessed = self._guessed.get(year)
        if guessed is None:
            # The documented provisional answer: plain Monday-Friday, and marked so.
            guessed = _working_days(
                YearArrangement(year, YearStatus.PROVISIONAL, (), frozenset(), frozenset())
            )
            self._guessed[year] = guessed
        return guessed


def _working_days(arrangement: YearArrangement) -> _YearDays:
    first = date(arrangement.year, 1, 1)
    off = arrangement.holidays | arrangement.closures
    on = arrangement.workdays - arrangement.closures
    ordinals = tuple(
        day.toordinal()
        for day in (first + timedelta(days=i) for i in range((date(arrangement.year + 1, 1, 1) - first).days))
        if (day.weekday() < 5 and day not in off) or day in on
    )
    return _YearDays(ordinals, frozenset(ordinals), arrangement.status is not YearStatus.OFFICIAL)


def library_arrangements() -> dict[int, YearArrangement]:
    """The official arrangements carried by ``chinesecalendar``, one per year it covers."""
    # Read the package's dicts rather than call is_workday(): one pass, and no NotImplementedError
    # to translate for years it does not carry.
    holidays: dict[int, set[date]] = {}
    workdays: dict[int, set[date]] = {}
    for day in chinese_calendar.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in chinese_calendar.workdays:
        workdays.setdefault(day.year, set()).add(day)
    return {
        year: YearArrangement(
            year,
            YearStatus.OFFICIAL,
            (LIBRARY_SOURCE,),
            frozenset(holidays.get(year, ())),
            frozenset(workdays.get(year, ())),
        )
        for year in range(min(holidays), max(holidays) + 1)
    }


def overlay(
    library: Mapping[int, YearArrangement], office_files: Iterable[OfficeFile]
) -> dict[int, YearArrangement]:
    """The library's arrangements with the office files laid over them.

    A file with holidays and workdays replaces the library's year; a closures-only file keeps the
    library's dates. Raises Invalid for a closures-only file on a year the library lacks.
    """
    years = dict(library)
    problems: list[Problem] = []
    for office in office_files:
        source = f"{office.source} ({office.path.name})"
        base = years.get(office.year)
        if office.replaces_library:
            years[office.year] = YearArrangement(
                office.year, office.status, (source,), office.holidays, office.workdays, office.closures
            )
        elif base is None:
            problems.append(
                Problem(
                    f"{LIBRARY_NAME} has no data for {office.year}: give its holidays and workdays",
                    file=str(office.path),
                    field="holidays",
                )
            )
        else:
            status = YearStatus.PROVISIONAL if office.status is YearStatus.PROVISIONAL else base.status
            years[office.year] = YearArrangement(
                office.year, status, (*base.sources, source), base.holidays, base.workdays, office.closures
            )
    if problems:
        raise Invalid("invalid calendar files", problems)
    return years


def calendar_version(office_files: Iterable[OfficeFile]) -> str:
    """A stable identifier of the data: library version plus each office file's content.

    File names and locations do not enter it, so the same files give the same version everywhere.
    """
    digest = hashlib.sha256(f"{LIBRARY_NAME}=={LIBRARY_VERSION}\n".encode())
    for office in sorted(office_files, key=lambda f: f.year):
        digest.update(f"{office.year}:{hashlib.sha256(office.content).hexdigest()}\n".encode())
    return f"{LIBRARY_NAME}-{LIBRARY_VERSION}+{digest.hexdigest()[:12]}"


def load_calendar(directory: Path | str | None) -> WorkingCalendar:
    """The library's calendar overlaid by the office files in ``directory`` (None: library only).

    Raises Invalid naming file and field for any bad office file.
    """
    office_files = read_office_files(Path(directory)) if directory is not None else []
    return WorkingCalendar(overlay(library_arrangements(), office_files), calendar_version(office_files))

"""The working-day calendar as an administrator reads it: which years have data and from where, the
office's own files (added years, corrections, closures), what is provisional, and whether next year
is still missing (the State Council publishes it around November)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from engine.models import Case
from sla.calendar import WorkingCalendar
from sla.calendar_cli import WARN_FROM_MONTH
from sla.calendar_files import OfficeFile, YearStatus, read_office_files


@dataclass(frozen=True)
class YearView:
    year: int
    status: YearStatus
    sources: tuple[str, ...]
    holidays: int
    workdays: int
    closures: tuple[date, ...]
    office_file: str | None


@dataclass(frozen=True)
class CalendarView:
    version: str
    years: list[YearView]
    files: list[OfficeFile]
    next_year_missing: int | None  # the year to add, once it is November or later
    provisional_cases: int  # open cases whose due date rests on a provisional year


def calendar_view(session, calendar: WorkingCalendar, directory: str | None, today: date) -> CalendarView:
    files = read_office_files(Path(directory)) if directory else []
    by_year = {f.year: f.path.name for f in files}
    years = []
    for year in calendar.years_covered():
        a = calendar.arrangement(year)
        years.append(YearView(year, a.status, a.sources, len(a.holidays), len(a.workdays), tuple(sorted(a.closures)),
                              by_year.get(year)))
    following = today.year + 1
    missing = (following if calendar.year_status(following) is YearStatus.MISSING
               and today >= date(today.year, WARN_FROM_MONTH, 1) else None)
    provisional = session.scalar(select(func.count()).select_from(Case).where(
        Case.status == "running", Case.due_provisional.is_(True))) or 0
    return CalendarView(calendar.version, years, files, missing, provisional)

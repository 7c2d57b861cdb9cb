"""The engine's working-day port, answered by the office calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sla.calendar import WorkingCalendar, load_calendar


class CalendarWorkingDays:
    def __init__(self, calendar: WorkingCalendar):
        self.calendar = calendar

    @classmethod
    def from_directory(cls, directory: str | Path | None) -> CalendarWorkingDays:
        return cls(load_calendar(Path(directory) if directory else None))

    def add(self, start: date, n: int, *, provisional: bool = False) -> tuple[date, bool]:
        due = self.calendar.add_working_days(start, n, provisional=provisional)
        return due.date, due.provisional

    def between(self, a: date, b: date, *, provisional: bool = False) -> int:
        return self.calendar.working_days_between(a, b, provisional=provisional)

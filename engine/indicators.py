"""What the director's dashboard counts, each counted by the package that owns the facts.

The SLA package counts clocks; intake counts applications, ratings and the catalog. Neither imports
the other (the import contracts), so each registers a *source* here, and the dashboard asks every
source for the same weeks and adds up their counts by department, service and week. A count names
its measure (``closed``, ``received``...; docs/sla.md lists them and what each counts); a source
may also offer *listings*, rows shown as they are (the bad ratings' follow-ups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

MAX_WEEKS = 104  # two years a page: more is an export's job, not a chart's


@dataclass(frozen=True)
class Weeks:
    """Whole weeks, Monday to Sunday, in the office's calendar, and the day they are read on."""

    first: date  # a Monday
    count: int
    today: date

    @classmethod
    def ending(cls, day: date, count: int, today: date) -> Weeks:
        """``count`` weeks, the last of them holding ``day``."""
        return cls(monday(day) - timedelta(weeks=count - 1), count, today)

    @property
    def end(self) -> date:
        """The day after the last Sunday (exclusive bound)."""
        return self.first + timedelta(weeks=self.count)

    @property
    def last(self) -> date:
        """The last Sunday."""
        return self.end - timedelta(days=1)

    def mondays(self) -> list[date]:
        return [self.first + timedelta(weeks=i) for i in range(self.count)]

    def week_of(self, day: date) -> date | None:
        """The Monday of ``day``'s week, None when outside these weeks."""
        return monday(day) if self.first <= day < self.end else None


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Count:
    """One measure counted for a department and a service in a week (``week`` None: a standing
    figure, as of today, such as the catalog or the cases open now)."""

    measure: str
    department: str | None
    service: str | None
    week: date | None
    value: float


Source = Callable[[Session, Weeks], Iterable[Count]]
Listing = Callable[[Session, Weeks], list[dict[str, Any]]]
_sources: dict[str, Source] = {}
_listings: dict[str, Listing] = {}


def add_source(name: str, source: Source) -> None:
    """Register ``source`` under ``name`` (registering a name again replaces it)."""
    _sources[name] = source


def add_listing(name: str, listing: Listing) -> None:
    _listings[name] = listing


def counts(session: Session, weeks: Weeks) -> list[Count]:
    """Every source's counts for ``weeks``."""
    return [c for _name, source in sorted(_sources.items()) for c in source(session, weeks)]


def listing(session: Session, name: str, weeks: Weeks) -> list[dict[str, Any]]:
    """The rows of listing ``name`` (none when no package offers it)."""
    found = _listings.get(name)
    return found(session, weeks) if found is not None else []

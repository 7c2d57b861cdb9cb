"""What the SLA actors, handlers and the sweep need at run time, handed over by ``init_app``.

Actors run in worker threads or processes without an application context, so the composition
root's choices (database, calendar, escalation chain, channels) are kept here, like
``engine.events.bind_database``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.db import Database
from sla.calendar import WorkingCalendar, calendar_version, load_calendar
from sla.calendar_files import read_office_files
from sla.escalation import DEFAULT, Escalation


@dataclass
class SlaRuntime:
    db: Database | None = None
    calendar: WorkingCalendar = field(default_factory=lambda: load_calendar(None))
    calendar_dir: str | None = None
    escalation: Escalation = DEFAULT
    escalation_file: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    smtp_sender: str = "onewindow@localhost"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_max_retries: int = 5
    webhook_min_backoff_ms: int = 1_000
    webhook_max_backoff_ms: int = 300_000
    webhook_timeout_s: float = 10.0
    sweep_chunk: int = 1_000

    def reload_calendar(self) -> bool:
        """Re-read the calendar directory; True when the data (its version) changed."""
        directory = Path(self.calendar_dir) if self.calendar_dir else None
        files = read_office_files(directory) if directory is not None else []
        if calendar_version(files) == self.calendar.version:
            return False  # the same data: no need to rebuild every year's working days
        fresh = load_calendar(directory)
        self.calendar = fresh
        from engine import office
        from sla.working_days import CalendarWorkingDays

        office.set_working_days(CalendarWorkingDays(fresh))
        return True


current = SlaRuntime()


def database() -> Database:
    if current.db is None:
        raise RuntimeError("sla.init_app was not called")
    return current.db

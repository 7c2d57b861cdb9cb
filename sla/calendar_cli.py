"""``flask calendar ...``: compute a due date, show a year, check the next year is covered.

The commands read the office's calendar directory from ``CALENDAR_DIR`` and today from the one
clock, in the office's time zone (``TIMEZONE``, default Asia/Shanghai): a deadline is a local date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import current_app
from flask.cli import AppGroup

from engine import clock
from engine.errors import OneWindowError
from sla.calendar import WorkingCalendar, load_calendar
from sla.calendar_files import YearStatus

DEFAULT_TIMEZONE = "Asia/Shanghai"
# The State Council publishes the next year's arrangement around November; from then on a missing
# year is a deadline risk worth an operator's attention.
WARN_FROM_MONTH = 11

calendar_cli = AppGroup("calendar", help="Working-day calendar: due dates, years, coverage.")


class _DateParam(click.ParamType):
    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = _DateParam()


@calendar_cli.command("due")
@click.argument("start", type=DATE)
@click.argument("n", type=click.IntRange(min=0))
@click.option("--provisional", is_flag=True, help="Answer Monday-Friday for a year without data, marked so.")
def due_command(start: date, n: int, provisional: bool) -> None:
    """The N-th working day after START (day 1 is the first working day after it)."""
    with _clear_errors():
        due = _calendar().add_working_days(start, n, provisional=provisional)
    click.echo(f"{due.date.isoformat()}{' (provisional)' if due.provisional else ''}")


@calendar_cli.command("show")
@click.argument("year", type=click.IntRange(min=1, max=9998))
def show_command(year: int) -> None:
    """List YEAR's holidays, adjusted workdays and closures, with their source and status."""
    with _clear_errors():
        calendar = _calendar()
        arrangement = calendar.arrangement(year)
    click.echo(f"{year}: {arrangement.status.value}")
    for source in arrangement.sources:
        click.echo(f"source: {source}")
    for title, days in (
        ("holidays", arrangement.holidays),
        ("adjusted workdays (调休上班)", arrangement.workdays),
        ("closures", arrangement.closures),
    ):
        click.echo(f"{title}:" if days else f"{title}: none")
        for line in _ranges(days):
            click.echo(f"  {line}")
    click.echo(f"calendar version: {calendar.version}")


@calendar_cli.command("check")
@click.option("--today", type=DATE, default=None, help="Check as of this date instead of today.")
def check_command(today: date | None) -> None:
    """Exit 1 with a warning when next year has no data and it is November or later."""
    with _clear_errors():
        calendar = _calendar()
        today = today or _today()
    covered = calendar.years_covered()
    if calendar.year_status(today.year) is YearStatus.MISSING:
        raise click.ClickException(f"the calendar has no data for the current year {today.year}")
    following = today.year + 1
    status = calendar.year_status(following)
    if status is YearStatus.MISSING and today >= date(today.year, WARN_FROM_MONTH, 1):
        click.echo(
            f"warning: no holiday arrangement for {following}. Deadlines reaching into {following} are "
            f"refused or provisional until a {following} file (see bpmn/calendar/README.md) is added "
            "from the State Council notice.",
            err=True,
        )
        click.get_current_context().exit(1)
    for year in (today.year, following):
        if calendar.year_status(year) is YearStatus.PROVISIONAL:
            click.echo(f"note: {year} is provisional; deadlines touching it are marked provisional", err=True)
    click.echo(f"ok: calendar covers {covered[0]}-{covered[-1]}, version {calendar.version}")


def _calendar() -> WorkingCalendar:
    directory = current_app.config.get("CALENDAR_DIR")
    return load_calendar(Path(directory) if directory else None)


def _today() -> date:
    zone_name = current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.ClickException(f"unknown time zone {zone_name!r} in TIMEZONE") from None
    return clock.now().astimezone(zone).date()


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Turn the project's errors into a message and a non-zero exit, listing each problem."""
    try:
        yield
    except OneWindowError as error:
        problems = getattr(error, "problems", [])
        lines = [str(error), *(f"  {problem}" for problem in problems)]
        raise click.ClickException("\n".join(lines)) from None


def _ranges(days: Iterable[date]) -> Iterator[str]:
    """Consecutive days folded into ranges, each with its weekdays, for reading at a glance."""
    ordered = sorted(days)
    index = 0
    while index < len(ordered):
        first = last = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == last + timedelta(days=1):
            index += 1
            last = ordered[index]
        index += 1
        if first == last:
            yield f"{first.isoformat()}  {first:%a}"
        else:
            count = (last - first).days + 1
            yield f"{first.isoformat()}..{last.isoformat()}  {first:%a}..{last:%a}  ({count} days)"


@calendar_cli.command("reload")
@click.option("--now", "now_text", default=None, help="ISO instant; default: the system clock")
def reload_command(now_text: str | None) -> None:
    """Re-read the calendar files; when the data changed, recompute open deadlines (recorded in history)."""
    from sla import runtime
    from sla.sweep import recompute_all

    with _clear_errors():
        now = clock.parse_instant(now_text) if now_text else clock.now()
        rt = runtime.current
        changed = rt.reload_calendar()
        moved = recompute_all(runtime.database(), _today() if now_text is None else now.astimezone(
            ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE))).date())
    click.echo(f"calendar version {rt.calendar.version} ({'changed' if changed else 'unchanged'}); "
               f"{moved} case(s) with moved deadlines")

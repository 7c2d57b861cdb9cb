"""Working-day calendar, clocks, warning levels, sweep and escalation, the supervisors' pages."""


def init_app(app) -> None:
    from engine import office
    from sla.calendar_cli import calendar_cli
    from sla.working_days import CalendarWorkingDays

    app.cli.add_command(calendar_cli)
    office.set_working_days(CalendarWorkingDays.from_directory(app.config.get("CALENDAR_DIR")))

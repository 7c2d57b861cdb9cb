"""Working-day calendar, clocks, warning levels, sweep and escalation, the supervisors' pages."""


def init_app(app) -> None:
    from engine import metrics, office, policy, scheduler
    from sla import admin_pages, alerts, api, dashboard, dashboard_pages, pages, runtime, subscribers, sweep  # noqa: F401
    from sla.calendar import load_calendar
    from sla.calendar_cli import calendar_cli
    from sla.cli import sla_cli
    from sla.escalation import load_escalation
    from sla.working_days import CalendarWorkingDays

    settings = app.config["ONEWINDOW"]
    calendar_dir = app.config.get("CALENDAR_DIR")
    rt = runtime.SlaRuntime(
        db=app.extensions["onewindow.db"], calendar=load_calendar(calendar_dir), calendar_dir=calendar_dir,
        escalation=load_escalation(settings.escalation_file), escalation_file=settings.escalation_file,
        redis_url=settings.redis_url, smtp_url=settings.smtp_url, webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
    )
    runtime.current = rt
    app.extensions["sla.runtime"] = rt
    office.set_working_days(CalendarWorkingDays(rt.calendar))
    office.set_warning_working_days(rt.escalation.warning_working_days)
    subscribers.register()
    dashboard.register()
    app.context_processor(lambda: {"oversees": policy.oversees})
    scheduler.on_tick("sla.sweep", sweep.tick_hook)
    metrics.add_collector("sla.alerts", alerts.figures)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin_pages.bp)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(sla_cli)

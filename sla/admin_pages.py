"""Administrators' page of the working-day calendar (``/admin/calendar``): read only; an office adds
a year or closures by dropping a file into the calendar directory (bpmn/calendar/README.md)."""

from __future__ import annotations

from flask import Blueprint, render_template

from engine.access import ADMIN, guard
from engine.web import reading
from sla import clocks, runtime
from sla.calendar_view import calendar_view

bp = Blueprint("sla_admin", __name__, template_folder="templates", url_prefix="/admin/calendar")


@bp.get("")
@guard(ADMIN)
def calendar():
    rt = runtime.current
    with reading() as s:
        view = calendar_view(s, rt.calendar, rt.calendar_dir, clocks.today())
    return render_template("sla/admin_calendar.html", view=view, directory=rt.calendar_dir)

"""The director's dashboard (``/supervision/dashboard``) and its CSV and Excel exports.

Thin routes: the weeks and department from the query, every package's counts (``engine.indicators``),
the figures (``sla.dashboard``), then a page or a file. A department's supervisor reads his
departments only; the director and administrators the whole office.
"""

from __future__ import annotations

from datetime import date

from flask import Response, render_template, request

from engine import indicators, policy
from engine.access import OVERSEES, guard
from engine.errors import Invalid, Problem
from engine.indicators import MAX_WEEKS, Weeks
from engine.web import current_actor, reading
from sla import charts, clocks, dashboard, exports
from sla.pages import bp

DEFAULT_WEEKS = 8
GRADES = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
GRADE_NAMES = {"very_satisfied": "非常满意", "satisfied": "满意", "basically_satisfied": "基本满意",
               "dissatisfied": "不满意", "very_dissatisfied": "非常不满意"}
LEVEL_NAMES = {"green": "正常", "yellow": "预警", "red": "超期"}
STATE_NAMES = {"running": "整改中", "completed": "已办结", "cancelled": "已撤销"}
OUTCOME_NAMES = {"resolved": "已整改", "unresolved": "未能整改"}


def _query(today: date) -> tuple[Weeks, str | None]:
    """The weeks (``weeks`` of them, the last holding ``to``) and the department asked for."""
    problems: list[Problem] = []
    raw_to, raw_weeks = request.args.get("to", "").strip(), request.args.get("weeks", "").strip()
    to = today
    if raw_to:
        try:
            to = date.fromisoformat(raw_to)
        except ValueError:
            problems.append(Problem("a date YYYY-MM-DD", field="to"))
    count = DEFAULT_WEEKS
    if raw_weeks:
        if not raw_weeks.isdigit() or not 1 <= int(raw_weeks) <= MAX_WEEKS:
            problems.append(Problem(f"a whole number of weeks, 1 to {MAX_WEEKS}", field="weeks"))
        else:
            count = int(raw_weeks)
    department = request.args.get("department", "").strip() or None
    scope = policy.supervision_scope(current_actor())
    if department is not None and scope is not None and department not in scope:
        problems.append(Problem("a department you oversee", field="department"))
    if problems:
        raise Invalid("the dashboard cannot be read so", problems)
    return Weeks.ending(to, count, today), department


def _scope(department: str | None) -> frozenset[str] | None:
    scope = policy.supervision_scope(current_actor())
    return frozenset({department}) if department else scope


def _read():
    today = clocks.today()
    weeks, department = _query(today)
    with reading() as s:
        report = dashboard.report(indicators.counts(s, weeks), weeks, _scope(department))
        scope = _scope(department)
        followups = [f for f in indicators.listing(s, "bad_rating_followups", weeks)
                     if scope is None or f["department"] in scope]
        services = {row["code"]: row["name"] for row in indicators.listing(s, "services", weeks)}
    return report, followups, services, department


def _names(services: dict[str, str]) -> exports.Names:
    return exports.Names(
        department=lambda key: key or "—", service=lambda code: services.get(code or "", code or "—"),
        grade=lambda g: GRADE_NAMES.get(g, g), level=lambda lv: LEVEL_NAMES.get(lv or "", "—"),
        state=lambda st: STATE_NAMES.get(st or "", st or "—"), outcome=lambda o: OUTCOME_NAMES.get(o or "", "—"))


@bp.get("/dashboard")
@guard(OVERSEES)
def dashboard_page():
    report, followups, services, department = _read()
    names = _names(services)
    weeks = report.weeks.mondays()
    chart_row = report.departments[0] if department and report.departments else report.office
    charted = [(dashboard.BY_KEY[k], charts.svg(k, dashboard.BY_KEY[k].label,
                                                [(w, chart_row.week_figures(w)[k]) for w in weeks],
                                                dashboard.BY_KEY[k].kind)) for k in dashboard.CHARTED]
    scope = policy.supervision_scope(current_actor())
    choices = sorted(scope) if scope is not None else sorted({r.department for r in report.departments
                                                              if r.department})
    return render_template(
        "sla/dashboard.html", tab="dashboard", report=report, figures=dashboard.FIGURES, names=names,
        followups=followups, grades=GRADES, charted=charted, shown=charts.shown, department=department,
        departments=choices, args=request.args, row_label=lambda row: exports.row_label(report, row, names))


@bp.get("/dashboard.csv")
@guard(OVERSEES)
def dashboard_csv():
    report, _followups, services, _department = _read()
    body = exports.to_csv(report, _names(services))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="dashboard-{report.weeks.first.isoformat()}.csv"'})


@bp.get("/dashboard.xlsx")
@guard(OVERSEES)
def dashboard_xlsx():
    report, followups, services, _department = _read()
    body = exports.to_xlsx(report, _names(services), followups, GRADES)
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers={
        "Content-Disposition": f'attachment; filename="dashboard-{report.weeks.first.isoformat()}.xlsx"'})

"""The director's dashboard: the SLA package's own counts, and the figures made of every package's.

Figures are ratios of measures that every package counts for the same weeks (``engine.indicators``),
added up per department, per service and for the office. docs/sla.md defines each one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case as sql_case
from sqlalchemy import func, select

from engine.indicators import Count, Weeks, add_source
from sla import clocks, runtime
from sla.models import CASE_STEP, Clock

OPEN = ("running", "paused")


def counts(session, weeks: Weeks) -> Iterable[Count]:
    """Case clocks of the catalog's applications (a service code): closed in the weeks, on time, the
    working days they took; open now at yellow or red, cases and steps."""
    in_weeks = (Clock.step == CASE_STEP, Clock.state == "stopped", Clock.service_code.is_not(None),
                Clock.stopped_on >= weeks.first, Clock.stopped_on < weeks.end)
    on_time = func.sum(sql_case((Clock.stopped_on <= Clock.due_date, 1), else_=0))
    for group, service, day, n, ok, used in session.execute(
            select(Clock.group, Clock.service_code, Clock.stopped_on, func.count(), on_time,
                   func.sum(Clock.used_working_days)).where(*in_weeks)
            .group_by(Clock.group, Clock.service_code, Clock.stopped_on)):
        week = weeks.week_of(day)
        yield Count("closed", group, service, week, n)
        yield Count("closed_on_time", group, service, week, int(ok or 0))
        yield Count("closed_working_days", group, service, week, int(used or 0))
    yield from _used_before_it_was_stored(session, weeks, in_weeks)
    for step, level, group, service, n in session.execute(
            select(Clock.step == CASE_STEP, Clock.level, Clock.group, Clock.service_code, func.count())
            .where(Clock.state.in_(OPEN), Clock.level.in_(("yellow", "red")), Clock.service_code.is_not(None))
            .group_by(Clock.step == CASE_STEP, Clock.level, Clock.group, Clock.service_code)):
        what = "cases" if step else "steps"
        yield Count(f"{'overdue' if level == 'red' else 'at_risk'}_{what}", group, service, None, n)


def _used_before_it_was_stored(session, weeks: Weeks, in_weeks) -> Iterable[Count]:
    """Clocks stopped before ``used_working_days`` was stored: their ledgers are read again."""
    rows = list(session.scalars(select(Clock).where(*in_weeks, Clock.used_working_days.is_(None))))
    entries = clocks.ledger(session, [c.id for c in rows])
    rt = runtime.current
    for c in rows:
        reading = clocks.compute(rt.calendar, rt.escalation, c, [clocks.to_entry(e) for e in entries[c.id]],
                                 c.stopped_on).reading
        yield Count("closed_working_days", c.group, c.service_code, weeks.week_of(c.stopped_on), reading.used)


def register() -> None:
    add_source("sla", counts)


# --- figures ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure shown on the dashboard: ``top`` over ``bottom`` (a count when ``bottom`` is None)."""

    key: str
    label: str
    top: str
    bottom: str | None = None
    kind: str = "count"  # count | percent | number
    standing: bool = False  # read as of today, not per week
    section: str = "time"  # which table of the page shows it


FIGURES = (
    Figure("closed", "办结件数", "closed", section="time"),
    Figure("on_time_rate", "按期办结率", "closed_on_time", "closed", "percent", section="time"),
    Figure("avg_working_days", "平均办理用时（工作日）", "closed_working_days", "closed", "number", section="time"),
    Figure("overdue_cases", "超期办件", "overdue_cases", standing=True, section="time"),
    Figure("at_risk_cases", "临期办件", "at_risk_cases", standing=True, section="time"),
    Figure("overdue_steps", "超期环节", "overdue_steps", standing=True, section="time"),
    Figure("at_risk_steps", "临期环节", "at_risk_steps", standing=True, section="time"),
    Figure("received", "收件数", "received", section="reform"),
    Figure("wholly_online_rate", "全程网办率（办件）", "wholly_online", "received", "percent", section="reform"),
    Figure("online_items_rate", "全程网办事项占比", "items_online", "items", "percent", standing=True,
           section="reform"),
    Figure("avg_visits", "平均跑动次数", "visits", "received", "number", section="reform"),
    Figure("zero_visit_rate", "零跑动率", "zero_visits", "received", "percent", section="reform"),
    Figure("at_most_one_visit_rate", "最多跑一次率", "at_most_one_visit", "received", "percent", section="reform"),
    Figure("compression", "承诺时限压缩比", "compressed_days", "statutory_days", "percent", standing=True,
           section="reform"),
    Figure("from_records_rate", "材料免提交率", "materials_from_records", "materials", "percent", section="reform"),
    Figure("rated", "评价数", "rated", section="rating"),
    Figure("good_rate", "好评率", "rated_good", "rated", "percent", section="rating"),
    Figure("followups_open", "差评整改中", "followups_open", standing=True, section="rating"),
    Figure("followups_overdue", "差评整改超期", "followups_overdue", standing=True, section="rating"),
)
SECTIONS = (("time", "办件时效"), ("reform", "改革成效"), ("rating", "好差评"))
BY_KEY = {f.key: f for f in FIGURES}
CHARTED = ("on_time_rate", "closed", "avg_working_days", "wholly_online_rate", "avg_visits", "from_records_rate",
           "good_rate")


def value(figure: Figure, sums: dict[str, float]) -> float | None:
    """The figure from its measures' sums; None when there is nothing to divide by."""
    top = sums.get(figure.top, 0.0)
    if figure.bottom is None:
        return top
    bottom = sums.get(figure.bottom, 0.0)
    return top / bottom if bottom else None


@dataclass
class Row:
    """One line of the dashboard: the office (both None), a department, or a service in it."""

    department: str | None
    service: str | None
    weekly: dict[date, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    standing: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def period(self) -> dict[str, float]:
        """Every measure added up over the weeks, standing ones beside them."""
        total: dict[str, float] = defaultdict(float, self.standing)
        for sums in self.weekly.values():
            for measure, v in sums.items():
                total[measure] += v
        return total

    def figures(self) -> dict[str, float | None]:
        sums = self.period()
        return {f.key: value(f, sums) for f in FIGURES}

    def week_figures(self, week: date) -> dict[str, float | None]:
        sums = self.weekly.get(week, {})
        return {f.key: value(f, sums) for f in FIGURES if not f.standing}


@dataclass
class Report:
    weeks: Weeks
    office: Row
    departments: list[Row]
    services: dict[str | None, list[Row]]  # by department
    scoped: bool = False  # the reader oversees some departments only: the first row adds up those

    @property
    def office_label(self) -> str:
        return "所辖部门合计" if self.scoped else "全中心"

    def rows(self) -> list[Row]:
        """The office, then each department followed by its services."""
        out = [self.office]
        for dept in self.departments:
            out += [dept, *self.services.get(dept.department, [])]
        return out


def report(all_counts: Iterable[Count], weeks: Weeks, scope: frozenset[str] | None) -> Report:
    """Add the counts up per department and service, and for the office (within ``scope``, the
    departments the reader oversees; None: all)."""
    office = Row(None, None)
    departments: dict[str | None, Row] = {}
    services: dict[tuple[str | None, str | None], Row] = {}
    for c in all_counts:
        if scope is not None and c.department not in scope:
            continue
        dept = departments.setdefault(c.department, Row(c.department, None))
        targets = [office, dept]
        if c.service is not None:
            targets.append(services.setdefault((c.department, c.service), Row(c.department, c.service)))
        for row in targets:
            if c.week is None:
                row.standing[c.measure] += c.value
            else:
                row.weekly[c.week][c.measure] += c.value
    by_dept: dict[str | None, list[Row]] = defaultdict(list)
    for (dept, _service), row in sorted(services.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
        by_dept[dept].append(row)
    ordered = [departments[d] for d in sorted(departments, key=lambda d: d or "")]
    return Report(weeks, office, ordered, dict(by_dept), scoped=scope is not None)

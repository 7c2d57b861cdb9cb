"""The director's dashboard against figures computed from the seeded cases (tests/e2e/dashboard_seed.py),
its CSV and Excel exports, who may read which departments, and bad input."""

from __future__ import annotations

import csv
import io

import pytest

from tests import conftest
from tests.conftest import Browser
from tests.e2e import dashboard_seed
from tests.e2e.dashboard_seed import TODAY, WEEKS, expected

QUERY = f"?to={TODAY.isoformat()}&weeks=3"
CHECKED = ("closed", "on_time_rate", "avg_working_days", "received", "wholly_online_rate", "avg_visits",
           "zero_visit_rate", "at_most_one_visit_rate", "from_records_rate", "rated", "good_rate",
           "online_items_rate", "compression", "overdue_steps", "followups_open")
LABELS = {f.key: f.label for f in __import__("sla.dashboard", fromlist=["FIGURES"]).FIGURES}


@pytest.fixture(scope="module")
def office(tmp_path_factory, sqlite_template):
    import shutil

    tmp = tmp_path_factory.mktemp("dashboard")
    shutil.copy(sqlite_template, tmp / "onewindow.db")
    app = conftest.make_app(tmp, f"sqlite:///{tmp / 'onewindow.db'}")
    numbers = dashboard_seed.seed(app)
    yield app, numbers
    from engine import broker

    broker.drain()
    dashboard_seed.reset_clock()
    app.extensions["onewindow.db"].dispose()


def signed_in(app, user: str) -> Browser:
    page = Browser(app)
    page.login(user)
    return page


def csv_rows(app, user: str, query: str = QUERY) -> list[dict[str, str]]:
    r = signed_in(app, user).get(f"/supervision/dashboard.csv{query}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def close(a: str, b: float | None) -> bool:
    if b is None:
        return a == ""
    return a != "" and abs(float(a) - b) < 1e-3


def test_the_figures_are_those_of_the_seeded_cases(office):
    app, _numbers = office
    # When the director exports the three weeks
    rows = csv_rows(app, "director")

    def row(week: str, department: str, service: str = "") -> dict[str, str]:
        found = [r for r in rows if r["周（起始日）"] == week and r["事项编码"] == service
                 and r["部门"] == department]
        assert len(found) == 1, (week, department, service)
        return found[0]

    # Then the office, each department and a service show what the scenario says, over the period ...
    for department, service, line in (
            (None, None, row("本期合计", "全中心")), ("market_dept", None, row("本期合计", "market_dept")),
            ("health_dept", None, row("本期合计", "health_dept")),
            ("market_dept", "110105-XK-0001", row("本期合计", "market_dept", "110105-XK-0001"))):
        want = expected(department, service)
        wrong = {k: (line[LABELS[k]], want[k]) for k in CHECKED if k in want and not close(line[LABELS[k]], want[k])}
        assert wrong == {}, (department, service)
    # ... and week by week (the late change of licence closed in the second week)
    for week in WEEKS:
        line, want = row(week.isoformat(), "market_dept"), expected("market_dept", week=week)
        assert all(close(line[LABELS[k]], want[k]) for k in ("closed", "on_time_rate", "received", "rated")), week
    assert close(row(WEEKS[1].isoformat(), "market_dept")[LABELS["on_time_rate"]], 0.0)


def test_the_page_the_excel_file_and_the_followups(office):
    app, numbers = office
    page = signed_in(app, "director")
    html = page.get(f"/supervision/dashboard{QUERY}").get_data(as_text=True)
    # the page draws a chart per charted figure and lists both bad ratings' follow-ups
    assert html.count('<svg class="chart"') == 7
    assert numbers["B"] in html and numbers["E"] in html and "已整改" in html
    # the Excel file holds the same figures and the follow-ups
    from openpyxl import load_workbook

    r = page.get(f"/supervision/dashboard.xlsx{QUERY}")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.get_data()))
    assert book.sheetnames == ["办件指标", "好差评分布", "差评整改"]
    followups = list(book["差评整改"].iter_rows(min_row=2, values_only=True))
    assert sorted(f[0] for f in followups) == sorted([numbers["B"], numbers["E"]])
    figures = list(book["办件指标"].iter_rows(values_only=True))
    header = figures[0]
    office_row = next(r for r in figures if r[0] == "本期合计" and r[1] == "全中心")
    assert abs(office_row[header.index(LABELS["on_time_rate"])] - expected()["on_time_rate"]) < 1e-3


def test_a_department_supervisor_reads_his_departments_only(office):
    app, _numbers = office
    rows = csv_rows(app, "market_lead")
    assert {r["部门"] for r in rows} == {"所辖部门合计", "market_dept"}
    office_line = next(r for r in rows if r["周（起始日）"] == "本期合计" and r["部门"] == "所辖部门合计")
    assert close(office_line[LABELS["closed"]], expected("market_dept")["closed"])
    lead = signed_in(app, "market_lead")
    r = lead.get(f"/supervision/dashboard{QUERY}&department=health_dept")
    assert r.status_code == 422 and "department" in r.get_data(as_text=True)
    # a caseworker has no dashboard
    assert signed_in(app, "market1").get("/supervision/dashboard").status_code == 403


@pytest.mark.parametrize(("query", "field"), [("?weeks=0", "weeks"), ("?weeks=x", "weeks"), ("?to=2026-13-01", "to"),
                                              (f"?weeks={10**6}", "weeks")])
def test_bad_input_is_refused_naming_the_field(office, query, field):
    app, _numbers = office
    r = signed_in(app, "director").get(f"/supervision/dashboard{query}")
    assert r.status_code == 422 and field in r.get_data(as_text=True)

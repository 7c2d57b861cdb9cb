"""The dashboard as a file: CSV (the figures) and Excel (the figures, the 好差评 distribution and the
bad ratings' follow-ups, one sheet each), with the same rows and values the page shows.

One line per department or service and week, then one for the whole period (where the standing
figures, read as of today, are filled in). Rates are fractions (0.935), shown as percentages in Excel.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sla.dashboard import FIGURES, Report, Row

PERIOD = "本期合计"


@dataclass(frozen=True)
class Names:
    """How the export names what it counts (the office's names, not codes)."""

    department: Callable[[str | None], str]
    service: Callable[[str | None], str]
    grade: Callable[[str], str]
    level: Callable[[str | None], str]
    state: Callable[[str | None], str]
    outcome: Callable[[str | None], str]


def _rounded(v: float | None, kind: str = "number") -> float | int | None:
    if v is None:
        return None
    return int(v) if kind == "count" else round(v, 4)


def figure_rows(report: Report, names: Names) -> tuple[list[str], list[list[Any]]]:
    """The header and the lines of the figures table."""
    header = ["周（起始日）", "部门", "事项编码", "事项名称", *[f.label for f in FIGURES]]
    lines: list[list[Any]] = []
    for row in report.rows():
        who = [names.department(row.department) if row.department or row.service else report.office_label,
               row.service or "", names.service(row.service) if row.service else ""]
        for week in report.weeks.mondays():
            values = row.week_figures(week)
            lines.append([week.isoformat(), *who, *[_rounded(values.get(f.key), f.kind) for f in FIGURES]])
        values = row.figures()
        lines.append([PERIOD, *who, *[_rounded(values[f.key], f.kind) for f in FIGURES]])
    return header, lines


def grade_rows(report: Report, names: Names, grades: Iterable[str]) -> tuple[list[str], list[list[Any]]]:
    grades = list(grades)
    header = ["部门", "事项编码", "事项名称", *[names.grade(g) for g in grades], "评价数"]
    lines = []
    for row in report.rows():
        sums = row.period()
        lines.append([names.department(row.department) if row.department or row.service else report.office_label,
                      row.service or "", names.service(row.service) if row.service else "",
                      *[int(sums.get(f"rated_{g}", 0)) for g in grades], int(sums.get("rated", 0))])
    return header, lines


def followup_rows(followups: list[dict[str, Any]], names: Names) -> tuple[list[str], list[list[Any]]]:
    header = ["被评价办件", "事项", "部门", "评价", "评价日期", "整改办件", "整改期限", "预警", "状态", "办结日期",
              "整改结论"]
    lines = [[f["rated_case_no"], f["service_name"], names.department(f["department"]), names.grade(f["grade"]),
              f["rated_on"].isoformat(), f["followup_case_no"], f["due_date"].isoformat() if f["due_date"] else "",
              names.level(f["level"]), names.state(f["state"]),
              f["ended_on"].isoformat() if f["ended_on"] else "", names.outcome(f["outcome"])] for f in followups]
    return header, lines


def _cell(value: Any) -> Any:
    # a cell starting with = + - @ would be run as a formula by a spreadsheet: quote it as text
    return "'" + value if isinstance(value, str) and value and value[0] in "=+-@" else value


def to_csv(report: Report, names: Names) -> str:
    """The figures table as CSV behind a byte-order mark (spreadsheet programs then read UTF-8)."""
    header, lines = figure_rows(report, names)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for line in lines:
        writer.writerow(["" if v is None else _cell(v) for v in line])
    return "\ufeff" + out.getvalue()


def to_xlsx(report: Report, names: Names, followups: list[dict[str, Any]], grades: Iterable[str]) -> bytes:
    """The three tables as an Excel workbook."""
    from openpyxl import Workbook

    book = Workbook()
    sheets = [("办件指标", figure_rows(report, names)), ("好差评分布", grade_rows(report, names, grades)),
              ("差评整改", followup_rows(followups, names))]
    for i, (title, (header, lines)) in enumerate(sheets):
        sheet = book.active if i == 0 else book.create_sheet()
        sheet.title = title
        sheet.append(header)
        for line in lines:
            sheet.append([_cell(v) for v in line])
        if i == 0:
            _percent_columns(sheet, len(lines))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _percent_columns(sheet, count: int) -> None:
    first = 5  # after week, department, service code and name
    for offset, figure in enumerate(FIGURES):
        if figure.kind != "percent":
            continue
        for cells in sheet.iter_rows(min_row=2, max_row=count + 1, min_col=first + offset, max_col=first + offset):
            for cell in cells:
                cell.number_format = "0.0%"


def row_label(report: Report, row: Row, names: Names) -> str:
    if row.service:
        return names.service(row.service)
    return names.department(row.department) if row.department else report.office_label

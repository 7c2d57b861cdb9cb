"""The catalog in the database, versioned by content hash like process definitions.

Loading the same files twice adds nothing; a changed item gets the next version, and applications
keep pointing at the version they were made under.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import Invalid, NotFound, Problem
from engine.limit_lint import step_limit_total
from engine.models import ProcessDefinition
from intake.catalog import ServiceItem, load_catalog_dir, load_catalog_files, parse_catalog
from intake.models import CatalogItem


@dataclass
class LoadReport:
    added: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def read_paths(paths: Iterable[str | Path]) -> list[ServiceItem]:
    """Parse YAML files and directories of them. Raises Invalid listing every problem."""
    files: list[Path] = []
    items: list[ServiceItem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            items += load_catalog_dir(path)
        elif path.is_file():
            files.append(path)
        else:
            raise Invalid(f"no such catalog file or directory: {path}", [Problem("not found", file=str(path))])
    if files:
        items += load_catalog_files(files)
    codes = [i.code for i in items]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise Invalid("an item code appears twice", [Problem(f"duplicate item code {c}", field="code")
                                                    for c in dupes])
    return items


def read_uploads(files: list[tuple[str, bytes]]) -> list[ServiceItem]:
    """Parse uploaded catalog files (name, content); raises Invalid listing every problem of every file."""
    items: list[ServiceItem] = []
    problems: list[Problem] = []
    if not files:
        raise Invalid("no catalog file", [Problem("choose at least one YAML file", field="file")])
    for name, content in files:
        try:
            items += parse_catalog(content.decode("utf-8"), name)
        except UnicodeDecodeError:
            problems.append(Problem("not UTF-8 text", file=name, field="file"))
        except Invalid as exc:
            problems += exc.problems
    codes = [i.code for i in items]
    problems += [Problem(f"duplicate item code {c}", field="code") for c in sorted({c for c in codes
                                                                                     if codes.count(c) > 1})]
    if problems:
        raise Invalid("the catalog files were not loaded", problems)
    return items


def versions(session: Session, code: str) -> list[CatalogItem]:
    """Every stored version of an item, newest first. Raises NotFound."""
    rows = list(session.scalars(select(CatalogItem).where(CatalogItem.code == code)
                                .order_by(CatalogItem.version.desc())))
    if not rows:
        raise NotFound(f"no service item {code}")
    return rows


def version_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(CatalogItem.code, func.count()).group_by(CatalogItem.code)).all())


def store(session: Session, items: Iterable[ServiceItem], actor: str | None = None) -> LoadReport:
    """Add a version for every item whose content changed; returns what was added."""
    report = LoadReport()
    for item in items:
        latest = _latest_row(session, item.code)
        if latest is not None and latest.content_hash == item.content_hash:
            report.unchanged.append(item.code)
            continue
        known = session.scalar(select(CatalogItem).where(
            CatalogItem.code == item.code, CatalogItem.content_hash == item.content_hash))
        version = (session.scalar(select(func.max(CatalogItem.version)).where(
            CatalogItem.code == item.code)) or 0) + 1
        if known is not None:  # going back to an earlier content: make it current again
            known.version, known.loaded_at = version, clock.now()
            report.added.append((item.code, version))
            continue
        session.add(CatalogItem(
            code=item.code, version=version, content_hash=item.content_hash, name=item.name,
            department=item.department, process=item.process, data=item.as_dict(),
            source_file=item.source_file, loaded_at=clock.now(), loaded_by=actor,
        ))
        report.added.append((item.code, version))
    session.flush()
    report.warnings = limit_warnings(session, items)
    return report


def limit_warnings(session: Session, items: Iterable[ServiceItem]) -> list[Problem]:
    """Items whose process's step limits add up to more than the item promises (a 即办件: more than
    its statutory limit, which governs a case not done on the spot). Warnings: the item loads."""
    found: list[Problem] = []
    latest: dict[str, ProcessDefinition | None] = {}
    for item in items:
        if item.process not in latest:
            latest[item.process] = session.scalar(
                select(ProcessDefinition).where(ProcessDefinition.process_id == item.process)
                .order_by(ProcessDefinition.version.desc()).limit(1))
        definition = latest[item.process]
        if definition is None:
            continue
        path = step_limit_total(definition.files, item.process)
        limit = item.promised_working_days or item.statutory_working_days
        what = "promised_working_days" if item.promised_working_days else "statutory_working_days"
        if path is not None and path.total > limit:
            found.append(Problem(
                f"the steps of {item.process} v{definition.version} add up to {path.total} working days "
                f"({path.spelled()}), more than this item's {what} {limit}: every step can be on time and "
                "the case still late", element_id=item.code, file=item.source_file, field=what,
                severity="warning"))
    return found


def _latest_row(session: Session, code: str) -> CatalogItem | None:
    return session.scalar(select(CatalogItem).where(CatalogItem.code == code)
                          .order_by(CatalogItem.version.desc()).limit(1))


def current(session: Session, code: str) -> CatalogItem:
    """The current version of an item. Raises NotFound."""
    row = _latest_row(session, code)
    if row is None:
        raise NotFound(f"no service item {code}")
    return row


def current_items(session: Session) -> list[CatalogItem]:
    latest = (select(CatalogItem.code, func.max(CatalogItem.version).label("v"))
              .group_by(CatalogItem.code).subquery())
    stmt = select(CatalogItem).join(latest, (CatalogItem.code == latest.c.code)
                                    & (CatalogItem.version == latest.c.v)).order_by(CatalogItem.code)
    return list(session.scalars(stmt))


def guide(row: CatalogItem) -> dict:
    """The service guide of a stored version (as ServiceItem.guide, plus the stored version number)."""
    data = {k: v for k, v in row.data.items() if k not in ("process", "category", "warning_working_days")}
    data["case_type_label"] = "承诺件" if row.data.get("case_type") == "promised" else "即办件"
    data["version"] = row.content_hash
    data["catalog_version"] = row.version
    return data


def material_names(row: CatalogItem) -> dict[str, str]:
    return {m["code"]: m["name"] for m in row.data.get("materials", [])}

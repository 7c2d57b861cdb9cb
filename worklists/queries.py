"""Task lists: inbox (mine), queue (my groups', unclaimed), archive (I finished), team (groups I supervise).

Pages are keyset pages over (sort column, id). A list over several groups is a UNION ALL of one
ordered, limited index range per (group, state), merged and cut to the page: each part walks the
``(group, state, due_at, id)`` index from the cursor, so a deep page costs what the first one does.
A NULL due date sorts last: the undated tasks are their own ranges (``due_at IS NULL``), read by a
second statement only when the dated ranges run out before the page is full, so the row comparison
of the dated part stays an index bound on both databases and most pages never touch the undated tail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, tuple_, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine import office, policy
from engine.errors import Invalid, Problem
from engine.identity import Actor
from engine.models import Case, Task, TaskCandidate
from worklists import cursor as cursors

VIEWS = ("inbox", "queue", "archive", "team")
SLA_LEVELS = ("green", "yellow", "red")
# sort name -> (column, descending); every sort ends with the task id as the tie-breaker
SORTS: dict[str, tuple[str, bool]] = {
    "due": ("due_at", False),
    "created": ("created_at", False),
    "-created": ("created_at", True),
    "case_no": ("case_no", False),
    "-case_no": ("case_no", True),
    "-completed": ("completed_at", True),
}
DEFAULT_SORT = {"inbox": "due", "queue": "due", "team": "due", "archive": "-completed"}
_DATETIME_COLUMNS = {"due_at", "created_at", "completed_at"}
_NULLABLE_COLUMNS = {"due_at", "completed_at"}
MAX_LIMIT = 200

T = Task.__table__.c
C = TaskCandidate.__table__.c
LIST_COLUMNS = (T.id, T.case_no, T.process_id, T.service_code, T.name, T.element_id, T.group, T.assignee,
                T.state, T.version, T.created_at, T.due_at, T.sla_level, T.completed_at, T.completed_by)


@dataclass(frozen=True)
class Filters:
    """What the caseworker narrowed the list to; every field optional."""

    service: str | None = None
    process: str | None = None
    task: str | None = None  # element id or task name
    sla: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    department: str | None = None  # a group key
    q: str | None = None  # case number (prefix) or applicant name (part of Case.subject)

    @classmethod
    def parse(cls, args: dict[str, str]) -> Filters:
        """Read filters from query-string arguments; raises Invalid naming each bad field."""
        if not any(name in args for name in cls.__dataclass_fields__):
            return _NO_FILTERS
        problems: list[Problem] = []

        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            if len(value) > 128:
                problems.append(Problem("at most 128 characters", field=name))
                return None
            return value or None

        sla = text("sla")
        if sla is not None and sla not in SLA_LEVELS:
            problems.append(Problem(f"one of {', '.join(SLA_LEVELS)}", field="sla"))
        before = _instant(args.get("due_before"), "due_before", problems)
        after = _instant(args.get("due_after"), "due_after", problems)
        out = cls(service=text("service"), process=text("process"), task=text("task"), sla=sla,
                  due_before=before, due_after=after, department=text("department"), q=text("q"))
        if problems:
            raise Invalid("invalid list filters", problems)
        return out

    def as_args(self) -> dict[str, str]:
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, datetime) else str(value)
        return out


_NO_FILTERS = Filters()


def _instant(raw: str | None, name: str, problems: list[Problem]) -> datetime | None:
    """A date (the start of that day in the office's zone) or a zoned ISO instant."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), tzinfo=office.zone)
        value = datetime.fromisoformat(raw)
    except ValueError:
        problems.append(Problem("a date YYYY-MM-DD or an ISO instant with its offset", field=name))
        return None
    if value.tzinfo is None:
        problems.append(Problem("an instant needs its UTC offset", field=name))
        return None
    return value


ITEM_KEYS = ("id", "case_no", "process_id", "service", "name", "element_id", "group", "assignee", "state",
             "version", "created_at", "due_date", "sla_level", "completed_at", "completed_by")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def item(row: Sequence[Any]) -> dict[str, Any]:
    """One list item from a row of ``LIST_COLUMNS``; instants as ISO text in UTC."""
    out = dict(zip(ITEM_KEYS, row, strict=True))
    for key in ("created_at", "due_date", "completed_at"):
        if out[key] is not None:
            out[key] = _iso(out[key])
    return out


@dataclass
class Page:
    rows: list[Sequence[Any]]  # LIST_COLUMNS order, which is ITEM_KEYS order
    next_cursor: str | None
    view: str
    sort: str
    filters: Filters = field(default_factory=Filters)

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        return [item(r) for r in self.rows]


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise Invalid("unknown view", [Problem(f"one of {', '.join(VIEWS)}", field="view")])


def _view_scope(actor: Actor, view: str, department: str | None) -> tuple[list[str], tuple[str, ...]]:
    """The groups (queue, team) and the task states a view covers."""
    if view in ("inbox", "archive"):
        return [], (("claimed",) if view == "inbox" else ("completed",))
    groups = policy.queue_groups(actor) if view == "queue" else policy.team_groups(actor)
    if department is not None:
        groups = groups & {department}
    return sorted(groups), (("open",) if view == "queue" else ("open", "claimed"))


def _partitions(view: str, n_groups: int, states: tuple[str, ...], department: bool) -> list[ColumnElement[bool]]:
    """One predicate per index range the view covers (an equality prefix of a tasks index); the queue
    adds the open tasks that name the actor as a further candidate (``task_candidates``)."""
    if view in ("inbox", "archive"):
        who = T.assignee if view == "inbox" else T.completed_by
        part = and_(who == bindparam("me"), T.state == states[0])
        return [and_(part, T.group == bindparam("department"))] if department else [part]
    parts = [and_(T.group == bindparam(f"g{i}"), T.state == s) for i in range(n_groups) for s in states]
    if view == "queue" and not department:
        parts.append(_as_candidate(n_groups))
    return parts


def _as_candidate(n_groups: int) -> ColumnElement[bool]:
    """Open tasks naming ``me`` as a candidate user, or one of my groups as a further group; a task of
    my own group is left to its group's range, so no task is listed twice."""
    named = [and_(C.kind == "user", C.name == bindparam("me"))]
    named += [and_(C.kind == "group", C.name == bindparam(f"g{i}")) for i in range(n_groups)]
    mine = [T.group != bindparam(f"g{i}") for i in range(n_groups)]
    return and_(T.id.in_(select(C.task_id).where(or_(*named))), T.state == "open", *mine)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_clauses(present: tuple[str, ...]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if "service" in present:
        out.append(T.service_code == bindparam("service"))
    if "process" in present:
        out.append(T.process_id == bindparam("process"))
    if "task" in present:
        out.append(or_(T.element_id == bindparam("task"), T.name == bindparam("task")))
    if "sla" in present:
        out.append(T.sla_level == bindparam("sla"))
    if "due_before" in present:
        out.append(T.due_at < bindparam("due_before", type_=T.due_at.type))
    if "due_after" in present:
        out.append(T.due_at >= bindparam("due_after", type_=T.due_at.type))
    if "q" in present:
        by_subject = select(Case.id).where(Case.subject.like(bindparam("q_part"), escape="\\"))
        out.append(or_(T.case_no.like(bindparam("q_prefix"), escape="\\"), T.case_id.in_(by_subject)))
    return out


def _after(col, desc: bool) -> ColumnElement[bool]:
    key = tuple_(col, T.id)
    bound = tuple_(bindparam("after_value", type_=col.type), bindparam("after_id", type_=T.id.type))
    return key < bound if desc else key > bound


def _segments(column_name: str, desc: bool, cursor_kind: str | None) -> list[tuple[list, list]]:
    """(conditions, order) per ordered range after the cursor (``cursor_kind``: None, "value", "null")."""
    col = T[column_name]
    nullable = column_name in _NULLABLE_COLUMNS
    if desc:
        conds = [col.is_not(None)] if nullable else []
        if cursor_kind is not None:
            conds.append(_after(col, True))
        return [(conds, [col.desc(), T.id.desc()])]
    if not nullable:
        return [([_after(col, False)] if cursor_kind else [], [col.asc(), T.id.asc()])]
    segments = []
    if cursor_kind != "null":
        conds = [col.is_not(None)]
        if cursor_kind == "value":
            conds.append(_after(col, False))
        segments.append((conds, [col.asc(), T.id.asc()]))
    null_conds = [col.is_(None)]
    if cursor_kind == "null":
        null_conds.append(T.id > bindparam("after_id", type_=T.id.type))
    # ordered like the index (due_at, id), all NULL here: PostgreSQL reads the range in order and stops
    segments.append((null_conds, [col.asc(), T.id.asc()]))
    return segments


_FILTER_NAMES = ("service", "process", "task", "sla", "due_before", "due_after", "q")


def _union(selects: list[Select], column_name: str, desc: bool, n: int) -> Select:
    if len(selects) == 1:
        return selects[0]
    merged = union_all(*(select(sq.subquery().c) for sq in selects)).subquery("page")
    col = merged.c[column_name]
    order = [col.desc(), merged.c.id.desc()] if desc else [col.asc(), merged.c.id.asc()]
    return select(*merged.c).order_by(*order).limit(n)


@lru_cache(maxsize=512)
def _shape(view: str, n_groups: int, states: tuple[str, ...], department: bool, sort: str,
           present: tuple[str, ...], cursor_kind: str | None, n: int) -> tuple[Select, ...]:
    """The statements for one shape of request, built once; values come as bound parameters.

    One statement per phase, run in order until the page is full: the dated ranges, then (only when
    they run out) the undated ones, so a page that never reaches the undated tail never reads it.
    """
    column_name, desc = SORTS[sort]
    parts = _partitions(view, n_groups, states, department)
    common = _filter_clauses(present)
    return tuple(
        _union([select(*LIST_COLUMNS).where(part, *conds, *common).order_by(*order).limit(n) for part in parts],
               column_name, desc, n)
        for conds, order in _segments(column_name, desc, cursor_kind)
    )


def list_statement(actor: Actor, view: str, filters: Filters | None = None, sort: str | None = None,
                   limit: int = 50, cursor: str | None = None) -> tuple[tuple[Select, ...], dict[str, Any], str]:
    """The SQL of one page (``limit + 1`` rows, to know whether another page follows), its parameters
    and the sort: statements to run in order until ``limit + 1`` rows are in hand.

    Returns ``((), {}, sort)`` when the view covers no group at all. Raises Invalid for a bad view,
    sort, limit or cursor.
    """
    _check_view(view)
    filters = filters or Filters()
    sort = sort or DEFAULT_SORT[view]
    if sort not in SORTS:
        raise Invalid("unknown sort", [Problem(f"one of {', '.join(SORTS)}", field="sort")])
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit out of range", [Problem(f"between 1 and {MAX_LIMIT}", field="limit")])
    column_name, _desc = SORTS[sort]
    cur = cursors.decode(cursor, sort, is_datetime=column_name in _DATETIME_COLUMNS) if cursor else None
    groups, states = _view_scope(actor, view, filters.department)
    if not groups and (view == "team" or (view == "queue" and filters.department is not None)):
        return (), {}, sort
    params: dict[str, Any] = {f"g{i}": g for i, g in enumerate(groups)}
    if view in ("inbox", "archive", "queue"):
        params["me"] = actor.username
        if filters.department is not None:
            params["department"] = filters.department
    present = tuple(name for name in _FILTER_NAMES if getattr(filters, name) is not None)
    for name in present:
        if name == "q":
            q = _escape_like(filters.q or "")
            params["q_prefix"], params["q_part"] = f"{q}%", f"%{q}%"
        else:
            params[name] = getattr(filters, name)
    cursor_kind = None
    if cur is not None:
        cursor_kind = "null" if cur.value is None else "value"
        params["after_id"] = cur.task_id
        if cur.value is not None:
            params["after_value"] = cur.value
    stmts = _shape(view, len(groups), states, filters.department is not None and view in ("inbox", "archive"),
                   sort, present, cursor_kind, limit + 1)
    return stmts, params, sort


_SORT_INDEX = {c.name: i for i, c in enumerate(LIST_COLUMNS)}


def _fetch(reader: Session | Connection, stmts: Sequence[Select], params: dict[str, Any],
           enough: int) -> list[Sequence[Any]]:
    """Run ``stmts`` in order until more than ``enough`` rows are in hand (the undated tail is read
    only when the dated ranges run out), all of them in one snapshot."""
    if not stmts:  # a view over no group
        return []
    found = list(reader.execute(stmts[0], params).all())
    if len(found) > enough or len(stmts) == 1:
        return found
    if isinstance(reader, Connection) and reader.dialect.name == "postgresql" and _autocommit(reader):
        # In autocommit each statement sees its own snapshot, and a task the SLA dated between the two
        # (it dates every new task a moment after its creation, when its caseworker looks for it) was
        # on neither part of the page (the drill found it). Read the page again in one snapshot.
        reader.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            return _all(reader, stmts, params, enough)
        finally:
            reader.exec_driver_sql("COMMIT")
    for stmt in stmts[1:]:  # a session: one transaction (SQLite's reads are serialised with the writers)
        found += reader.execute(stmt, params).all()
        if len(found) > enough:
            break
    return found


def _autocommit(conn: Connection) -> bool:
    """Whether ``conn`` holds no transaction of its own (the list readers' pool), asked of psycopg
    itself: SQLAlchemy's ``get_isolation_level`` would ask the server."""
    return bool(conn.connection.driver_connection.autocommit)  # type: ignore[union-attr]


def _all(reader: Connection, stmts: Sequence[Select], params: dict[str, Any], enough: int) -> list[Sequence[Any]]:
    found: list[Sequence[Any]] = []
    for stmt in stmts:
        found += reader.execute(stmt, params).all()
        if len(found) > enough:
            break
    return found


def task_page(session: Session | Connection, actor: Actor, view: str, filters: Filters | None = None,
              sort: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
    """One page of a view; ``next_cursor`` is None on the last page."""
    filters = filters or Filters()
    stmts, params, sort = list_statement(actor, view, filters, sort, limit, cursor)
    found = _fetch(session, stmts, params, limit)
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        last = found[-1]
        column = SORTS[sort][0]
        value = last[_SORT_INDEX[column]]
        if column in _DATETIME_COLUMNS and value is not None:
            value = _iso(value)
        next_cursor = cursors.encode(sort, value, last[0])
    return Page(found, next_cursor, view, sort, filters)


def task_list(session: Session, actor: Actor, view: str, limit: int = 50) -> list[dict[str, Any]]:
    """The first page of a view, unfiltered (kept for callers that want just the items)."""
    return task_page(session, actor, view, limit=limit).items


COUNT_CAP = 1000


def counts(session: Session | Connection, actor: Actor, cap: int = COUNT_CAP) -> dict[str, int]:
    """How many tasks each view holds, for the badges, counted up to ``cap`` (a badge says "999+").

    Counting stops at the cap so a supervisor's badge over a province's backlog costs what a page does.
    """
    out = {}
    for view in VIEWS:
        groups, states = _view_scope(actor, view, None)
        if view in ("inbox", "archive"):
            who = T.assignee if view == "inbox" else T.completed_by
            where = and_(who == actor.username, T.state == states[0])
        elif view == "queue":
            where = or_(and_(T.group.in_(groups), T.state.in_(states)) if groups else False,
                        and_(T.id.in_(select(C.task_id).where(or_(
                            and_(C.kind == "user", C.name == actor.username),
                            and_(C.kind == "group", C.name.in_(groups)) if groups else False))),
                            T.state == "open", T.group.not_in(groups) if groups else True))
        elif not groups:
            out[view] = 0
            continue
        else:
            where = and_(T.group.in_(groups), T.state.in_(states))
        capped = select(T.id).where(where).limit(cap).subquery()
        out[view] = int(session.scalar(select(func.count()).select_from(capped)) or 0)
    return out

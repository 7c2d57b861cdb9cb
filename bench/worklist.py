"""Worklist latency at a province's scale: 1,000,000 open tasks, 50 groups, 2,000 users, on PostgreSQL.

    python bench/worklist.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/onewindow_bench]
                             [--tasks 1000000] [--reseed] [--runs 300]

Creates the database if it is absent, migrates it, and seeds it with plain SQL (generate_series,
no ORM) unless it already holds the requested number of tasks. Then, for the queue, inbox and team
views, first page and a deep page (a cursor 10,000 rows in for queue and team, 200 for inbox), with
and without a filter, it prints p50 / p95 / p99 of:

- the API: ``GET /api/tasks`` as a WSGI server runs it, minus the socket (:class:`ServerSide`: the
  HTTP request's bytes parsed into a WSGI environ, the app called, status line, headers and body
  written out as bytes); includes bearer-token auth, the query and JSON encoding;
- the same SQL alone: the exact text and parameters the API sends for that request
  (the statements ``worklists.queries.list_statement`` builds, compiled by SQLAlchemy for psycopg), run
  with psycopg 3 on a connection of the API's own read pool (autocommit, no BEGIN; generic plans),
  rows fetched with psycopg's default loaders; ``--show-sql`` prints each scenario's text;

and the ratio API / SQL at p50 and p95. The baseline is the bare query: a worklist's cost is its SQL.

Each side is timed at its own interface: the SQL at the driver, the API at WSGI. The same request
through Flask's test client is printed too (``client p50 / p95``): the test client adds its own
client-side work (an ``EnvironBuilder`` per request, a cookie jar, a ``TestResponse``), which no
server runs: the two columns differ by that work alone.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/onewindow_bench"
GROUPS = 50
USERS = 2000
CASES_PER_TASKS = 5  # one case row for every five task rows
SERVICES = 20


class ServerSide:
    """What a WSGI server does for one HTTP/1.1 request, without the socket.

    The request's bytes are parsed into the environ PEP 3333 asks for (as gunicorn or werkzeug's
    server build it from what they read), the app is called, and the response is written out as the
    bytes a server would send: status line, headers, body.
    """

    def __init__(self, app):
        self.app = app
        self._status = ""
        self._headers: list[tuple[str, str]] = []

    def _start_response(self, status, headers, exc_info=None):
        self._status, self._headers = status, headers
        return lambda _data: None

    def request(self, raw: bytes) -> tuple[int, bytes]:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, protocol = lines[0].split(" ")
        path, _, query = target.partition("?")
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"), "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": protocol,
            "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value.strip()
            else:
                environ["HTTP_" + key] = value.strip()
        result = self.app(environ, self._start_response)
        try:
            out = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        head_out = f"{protocol} {self._status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self._headers)
        return int(self._status[:3]), head_out.encode("latin-1") + b"\r\n" + out

    @staticmethod
    def get_request(path: str, params: dict[str, str], headers: dict[str, str]) -> bytes:
        lines = [f"GET {path}?{urlencode(params)} HTTP/1.1", "Host: 127.0.0.1:8000",
                 *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _driver_sql(stmt, dialect, params: dict) -> tuple[str, dict]:
    """The SQL text and parameters SQLAlchemy hands psycopg for ``stmt``."""
    compiled = stmt.compile(dialect=dialect)
    return compiled.string, compiled.construct_params(params)


def ensure_database(url: str) -> None:
    import sqlalchemy as sa

    base, name = url.rsplit("/", 1)
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if not c.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": name}).scalar():
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            print(f"created database {name}")
    admin.dispose()


SEED_SQL = [
    "TRUNCATE case_events, tasks, timers, cases, api_tokens, memberships, supervisions, users RESTART IDENTITY CASCADE",
    # 2,000 users: u0000..u1999, user i works in group g(i % 50); u0000..u0049 also supervise three groups
    """INSERT INTO users (id, username, display_name, password_hash, is_admin, active, created_at)
       SELECT i + 1, 'u' || lpad(i::text, 4, '0'), '用户' || i, 'x', false, true, now()
       FROM generate_series(0, {users} - 1) i""",
    """INSERT INTO memberships (user_id, "group")
       SELECT i + 1, 'g' || lpad((i % {groups})::text, 2, '0') FROM generate_series(0, {users} - 1) i""",
    """INSERT INTO supervisions (user_id, "group")
       SELECT i + 1, 'g' || lpad(((i + k) % {groups})::text, 2, '0')
       FROM generate_series(0, {groups} - 1) i, generate_series(0, 2) k""",
    """INSERT INTO cases (id, case_no, definition_id, process_id, status, state, serializer_version, subject,
                          service_code, summary, due_provisional, created_at, updated_at, version)
       SELECT c, 'ZW' || lpad(c::text, 10, '0'), {definition}, 'one_window', 'running', '{{}}', '3.0',
              '申请人' || c, 'svc' || lpad((c % {services})::text, 2, '0'), '{{}}', false,
              now() - interval '30 days', now(), 1
       FROM generate_series(1, {cases}) c""",
    # 1,000,000 open tasks: ~80% open, ~20% claimed by one of the first ten members of the group;
    # due dates from 20 days overdue to 40 days ahead, 5% without one; levels follow the due date
    """INSERT INTO tasks (id, case_id, case_no, process_id, service_code, element_id, name, "group", assignee, state,
                          properties, created_at, due_at, sla_level, version)
       SELECT md5(t::text)::uuid::text, c, 'ZW' || lpad(c::text, 10, '0'), 'one_window',
              'svc' || lpad((h % {services})::text, 2, '0'),
              (ARRAY['handle','review','approve','co_review','issue_result'])[1 + t % 5],
              (ARRAY['承办','审核','批准','会办','出件'])[1 + t % 5],
              'g' || lpad(gr::text, 2, '0'),
              CASE WHEN claimed THEN 'u' || lpad((gr + {groups} * ((h / 100) % 10))::text, 4, '0') END,
              CASE WHEN claimed THEN 'claimed' ELSE 'open' END,
              '{{}}', now() - ((t % 43200) || ' minutes')::interval,
              CASE WHEN (h / 1000) % 20 = 0 THEN NULL
                   ELSE now() + (((t * 7919) % 86400) - 28800 || ' minutes')::interval END,
              CASE WHEN (h / 1000) % 20 = 0 THEN NULL
                   WHEN ((t * 7919) % 86400) < 28800 THEN 'red'
                   WHEN ((t * 7919) % 86400) < 31680 THEN 'yellow' ELSE 'green' END,
              1
       FROM (SELECT t, 1 + (t % {cases}) AS c, t % {groups} AS gr, h, (h / {services}) % 5 = 0 AS claimed
             FROM (SELECT t, abs(hashint8(t)::bigint) AS h FROM generate_series(1::bigint, {tasks}::bigint) t) r) s""",
    "SELECT setval(pg_get_serial_sequence('users', 'id'), {users})",
    "SELECT setval(pg_get_serial_sequence('cases', 'id'), {cases})",
]


def seed(db, tasks: int) -> None:
    import sqlalchemy as sa

    from engine import definitions

    with db.unit_of_work() as uow:
        files = {"one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
                 "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes()}
        definition = definitions.deploy(uow.session, files, actor="bench", forms_from=[ROOT / "bpmn"]).definition_id
    params = {"users": USERS, "groups": GROUPS, "cases": max(1, tasks // CASES_PER_TASKS), "tasks": tasks,
              "services": SERVICES, "definition": definition}
    t0 = time.perf_counter()
    with db.engine.begin() as c:
        for sql in SEED_SQL:
            c.execute(sa.text(sql.format(**params)))
    print(f"seeded {tasks:,} tasks in {time.perf_counter() - t0:.1f} s")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(sa.text("VACUUM ANALYZE tasks"))
        c.execute(sa.text("VACUUM ANALYZE cases"))
        c.execute(sa.text("ANALYZE users; ANALYZE memberships; ANALYZE supervisions"))


def task_count(db) -> int:
    import sqlalchemy as sa

    try:
        with db.engine.connect() as c:
            return int(c.execute(sa.text("select count(*) from tasks where state in ('open','claimed')")).scalar())
    except sa.exc.ProgrammingError:
        return 0


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[94], q[98]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default=DEFAULT_URL)
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--reseed", action="store_true")
    ap.add_argument("--show-sql", action="store_true", help="print the SQL text timed for each scenario")
    ap.add_argument("--sql-in-transaction", action="store_true",
                    help="time the bare SQL inside a transaction (psycopg's default: a BEGIN round trip first), "
                         "as this benchmark did before 2026-11; the API sends no BEGIN")
    args = ap.parse_args()

    import logging

    logging.disable(logging.WARNING)
    from sqlalchemy import select

    from engine import identity
    from engine.models import User
    from onewindow import migrate
    from onewindow.app import create_app, freeze_start_up_heap
    from worklists import queries

    ensure_database(args.pg)
    app = create_app(database_url=args.pg, secret_key="bench")
    db = app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    have = task_count(db)
    if args.reseed or have != args.tasks:
        seed(db, args.tasks)
    else:
        print(f"reusing {have:,} open tasks in {args.pg.rsplit('/', 1)[1]}")

    # who: a caseworker of group g07 (20,000 tasks, a fifth claimed by its first ten members), a member
    # with an inbox (u0057, one of those ten: ~400 tasks), a supervisor of g07, g08 and g09
    caseworker, inbox_user, supervisor = "u1007", "u0057", "u0007"
    tokens, actors = {}, {}
    with db.unit_of_work() as uow:
        for name in (caseworker, inbox_user, supervisor):
            user = uow.session.scalar(select(User).where(User.username == name))
            tokens[name] = identity.issue_token(uow.session, user)
            actors[name] = identity.actor_of(user)

    def deep_cursor(actor, view: str, depth: int, filters: queries.Filters) -> str | None:
        """The cursor a client holds after walking ``depth`` rows (walked once, outside the timing)."""
        cur, walked = None, 0
        with db.read() as s:
            while walked < depth:
                page = queries.task_page(s, actor, view, filters, None, queries.MAX_LIMIT, cur)
                walked += len(page.items)
                cur = page.next_cursor
                if cur is None:
                    return None
        return cur

    client = app.test_client()
    server = ServerSide(app)
    filt = {"sla": "red"}
    filt2 = {"service": "svc03"}
    scenarios = []
    for view, user, depth in (("queue", caseworker, 10_000), ("inbox", inbox_user, 200),
                              ("team", supervisor, 10_000)):
        for label, f in (("", {}), ("sla=red", filt), ("service=svc03", filt2)):
            filters = queries.Filters(**f)
            scenarios.append((view, user, f"{view} first {label}".strip(), f, None))
            cur = deep_cursor(actors[user], view, depth, filters)
            if cur:
                scenarios.append((view, user, f"{view} deep@{depth} {label}".strip(), f, cur))

    with db.engine.connect() as c:
        dialect = c.dialect
    freeze_start_up_heap()  # as `onewindow serve` does before it serves
    how_sql = " inside a transaction" if args.sql_in_transaction else " (autocommit, as the API)"
    print(f"\nruns per row: {args.runs} (after 20 warm-up); API = the app as a WSGI server calls it, SQL = same "
          f"statement via psycopg{how_sql}; client = the same request through Flask's test client")
    header = (f"{'scenario':34} {'items':>5} | {'API p50':>8} {'p95':>7} {'p99':>7} | "
              f"{'SQL p50':>8} {'p95':>7} {'p99':>7} | {'ratio p50':>9} {'p95':>5} | {'client p50':>10} {'p95':>5}")
    print(header)
    print("-" * len(header))
    worst_p95, worst_ratio = 0.0, 0.0
    for view, user, label, f, cur in scenarios:
        params = {"view": view, "limit": 50, **f}
        if cur:
            params["cursor"] = cur
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        request = ServerSide.get_request("/api/tasks", params, headers)
        stmts, bound, _ = queries.list_statement(actors[user], view, queries.Filters(**f), None, 50, cur)
        phases = [_driver_sql(st, dialect, bound) for st in stmts]  # what the API sends, text and values
        if args.show_sql:
            for n, (sql, sql_params) in enumerate(phases, 1):
                print(f"-- {label}, statement {n} of {len(phases)}, {sql_params}\n{sql}\n")
        api_times, sql_times, client_times, items = [], [], [], 0
        raw = db.autocommit_engine.raw_connection()  # the API's pool: same session settings
        raw.driver_connection.autocommit = not args.sql_in_transaction  # the API: one statement, no transaction
        try:
            for i in range(args.runs + 20):
                t0 = time.perf_counter()
                status, response = server.request(request)
                t1 = time.perf_counter()
                assert status == 200, response
                with raw.cursor() as cursor:
                    t2 = time.perf_counter()
                    got = 0
                    for sql, sql_params in phases:  # as task_page: dated ranges, then undated if needed
                        cursor.execute(sql, sql_params)
                        got += len(cursor.fetchall())
                        if got > 50:
                            break
                    t3 = time.perf_counter()
                raw.rollback()  # outside the timing; nothing to end in autocommit
                t4 = time.perf_counter()
                r = client.get("/api/tasks", query_string=params, headers=headers)
                t5 = time.perf_counter()
                assert r.status_code == 200 and r.data == response.partition(b"\r\n\r\n")[2]
                items = len(r.get_json()["items"])
                if i >= 20:
                    api_times.append((t1 - t0) * 1000)
                    sql_times.append((t3 - t2) * 1000)
                    client_times.append((t5 - t4) * 1000)
        finally:
            raw.driver_connection.autocommit = True  # back to the pool as it came
            raw.close()
        a50, a95, a99 = percentiles(api_times)
        s50, s95, s99 = percentiles(sql_times)
        c50, c95, _ = percentiles(client_times)
        worst_p95 = max(worst_p95, a95)
        worst_ratio = max(worst_ratio, a95 / s95)
        print(f"{label:34} {items:>5} | {a50:8.2f} {a95:7.2f} {a99:7.2f} | {s50:8.2f} {s95:7.2f} {s99:7.2f} | "
              f"{a50 / s50:9.2f} {a95 / s95:5.2f} | {c50:10.2f} {c95:5.2f}")

    def timed_get(label: str, path: str, user: str) -> None:
        """p50/p95/p99 of one GET (after 20 warm-up runs), printed as a line of the table."""
        times, client_times = [], []
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        request = ServerSide.get_request(path, {}, headers)
        for i in range(args.runs + 20):
            t0 = time.perf_counter()
            status, _ = server.request(request)
            t1 = time.perf_counter()
            assert status == 200 and client.get(path, headers=headers).status_code == 200
            if i >= 20:
                times.append((t1 - t0) * 1000)
                client_times.append((time.perf_counter() - t1) * 1000)
        p50, p95, p99 = percentiles(times)
        c50, c95, _ = percentiles(client_times)
        print(f"{label:34} {'':>5} | {p50:8.2f} {p95:7.2f} {p99:7.2f} | {'':8} {'':7} {'':7} | {'':9} {'':5} | "
              f"{c50:10.2f} {c95:5.2f}")

    timed_get("GET /api/me (fixed cost: auth)", "/api/me", caseworker)
    timed_get("counts (badges, supervisor)", "/api/tasks/counts", supervisor)
    print(f"\nworst list p95 through the API: {worst_p95:.2f} ms (goal < 50); worst API/SQL at p95: {worst_ratio:.2f}x"
          " (goal <= 2)")


if __name__ == "__main__":
    main()

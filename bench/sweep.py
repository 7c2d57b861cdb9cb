"""Benchmark: the SLA sweep on PostgreSQL with 1,000,000 open clocks.

    python bench/sweep.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--clocks 1000000]

Seeds a fresh schema with ``generate_series`` (cases, case clocks, their 'started' ledger lines, a few
users and supervisors), every clock stored as the sweep would have left it the day before. Clocks
due to change are kept dormant (``check_on`` NULL) and woken in groups of 0, 100, 1,000 and 1% of
all open clocks, then one sweep is timed per group: cost should follow the changed clocks, not the open
ones. Half of each group turns yellow, half red, so alerts are raised through the escalation chain.

Baseline (the "raw" way, no check dates): read every open clock and grade it with
:func:`sla.levels.level`; the ratio to the indexed sweep is printed. SpiffWorkflow plays no part in a
sweep, so no SpiffWorkflow baseline is meaningful here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

GROUPS = ["market_dept", "health_dept", "housing_dept", "general_dept"]
TODAY = date(2026, 6, 10)  # a Wednesday with ordinary working days around it
BUDGET = 20
CHANGING_EVERY = 50
PROFILE = "--profile" in sys.argv
PROFILE_SORT = "cumulative"
PROFILE_LABEL = "2,000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--clocks", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--profile", action="store_true", help="profile the 1,000-clock sweep")
    args = parser.parse_args()

    schema = f"bench_sweep_{uuid.uuid4().hex[:8]}"
    base = sa.create_engine(args.url)
    with base.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options=-csearch_path%3D{schema}"
    try:
        run(url, args.clocks)
    finally:
        if not args.keep:
            with base.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        base.dispose()


def run(url: str, n: int) -> None:
    from engine import clock, office
    from onewindow import migrate
    from onewindow.app import create_app
    from sla import clocks, runtime
    from sla.models import Clock
    from sla.sweep import tick_hook

    app = create_app(database_url=url, instance_dir="/tmp/onewindow-bench")
    db = app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    rt = runtime.current
    cal = rt.calendar
    if PROFILE:

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info["t"] = time.perf_counter()

        @sa.event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            spent = time.perf_counter() - conn.info.pop("t", time.perf_counter())
            if spent > 0.02:
                print(f"    slow SQL {spent * 1000:.0f} ms: {statement[:160]!r}")
    now = datetime.combine(TODAY, dtime(7, 0), office.zone)  # before the digest hour: the sweep only

    # Start days: quiet ones (green, next check well after today) and the two kinds that change today.
    def stored(start: date):
        fake = Clock(budget=BUDGET, service_code=None, threshold=None)
        from sla.ledger import Started

        return clocks.compute(cal, rt.escalation, fake, [Started(start)], TODAY - timedelta(days=1))

    quiet, to_yellow, to_red = [], None, None
    for back in range(1, 60):
        start = TODAY - timedelta(days=back)
        c = stored(start)
        if c.check_on is None:
            continue
        if c.check_on > TODAY and c.level == "green" and len(quiet) < 10:
            quiet.append((start, c))
        elif c.check_on == TODAY and c.level == "green" and to_yellow is None:
            to_yellow = (start, c)
        elif c.check_on == TODAY and c.level == "yellow" and to_red is None:
            to_red = (start, c)
    assert quiet and to_yellow and to_red, "no suitable start days around TODAY"
    kinds = quiet + [to_yellow, to_red]
    print(f"PostgreSQL sweep benchmark: {n:,} open case clocks, today {TODAY}, calendar {cal.version}")
    print(f"  quiet start days {[str(s) for s, _ in quiet][:3]}..., turning yellow: started {to_yellow[0]}, "
          f"turning red: started {to_red[0]}")

    t0 = time.perf_counter()
    seed(db, n, kinds, len(quiet))
    print(f"  seeded {n:,} cases + clocks + ledger lines in {time.perf_counter() - t0:.1f} s")

    # 2% of the clocks could change level today (every 50th), dormant until woken: 100, then 1,000,
    # then exactly 1% of all open clocks in one sweep
    changed_ids = [i for i in range(1, n + 1) if i % CHANGING_EVERY == 0]
    woken = 0

    def wake(count: int) -> None:
        nonlocal woken
        ids = changed_ids[woken:woken + count]
        woken += count
        with db.engine.begin() as c:
            c.execute(sa.text("UPDATE sla_clocks SET check_on = :d WHERE id = ANY(:ids)"), {"d": TODAY, "ids": ids})
            c.execute(sa.text("ANALYZE sla_clocks"))

    def timed_sweep(label: str) -> dict:
        start = time.perf_counter()
        profiler = None
        if PROFILE and label.startswith(PROFILE_LABEL):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        with clock.frozen(now):
            report = tick_hook(db, now)
        if profiler is not None:
            profiler.disable()
            import pstats

            pstats.Stats(profiler).sort_stats(PROFILE_SORT).print_stats("sla/|alerts|identity", 40)
        elapsed = time.perf_counter() - start
        moved, raised = report.get("clocks_moved", 0), report.get("alerts_raised", 0)
        rate = f", {raised / elapsed:,.0f} alerts/s" if raised else ""
        print(f"  {label:<38} {elapsed * 1000:9.1f} ms  moved {moved:>6,}  alerts {raised:>6,}{rate}")
        return {"s": elapsed, "moved": moved, "alerts": raised}

    with db.engine.begin() as c:
        c.execute(sa.text("ANALYZE"))
    print("  sweeps (each includes the lock, the calendar check and the deemed-acceptance query):")
    timed_sweep("nothing changed (0 clocks)")
    results = {}
    sizes = [c for c in (100, 1_000, n // 100) if c > 0]
    assert sum(sizes) <= len(changed_ids), "too few changing clocks for these groups"
    for count in sizes:
        wake(count)
        results[count] = timed_sweep(f"{count:,} clocks changed level")
    again = timed_sweep("same instant again (idempotent)")
    assert again["alerts"] == 0

    with db.engine.connect() as c:
        plan = c.execute(sa.text("EXPLAIN SELECT * FROM sla_clocks WHERE check_on <= :d ORDER BY check_on, id "
                                 "LIMIT 1000"), {"d": TODAY}).scalars().all()
        alerts = c.execute(sa.text("SELECT count(*), count(DISTINCT (case_id, step, level, rule_id)) "
                                   "FROM sla_alerts")).one()
    print("  sweep query plan: " + " / ".join(line.strip() for line in plan))
    print(f"  alerts stored {alerts[0]:,}, distinct (case, step, level, rule) {alerts[1]:,}")

    # Baseline: the naive sweep reads and grades every open clock.
    from sla.levels import level

    start = time.perf_counter()
    graded = 0
    with db.engine.connect() as c:
        result = c.execution_options(stream_results=True, yield_per=50_000).execute(
            sa.text("SELECT id, due_date, level FROM sla_clocks WHERE state = 'running'"))
        for _id, due, _lvl in result:
            level(cal, due, TODAY, provisional=True)
            graded += 1
    naive = time.perf_counter() - start
    big = results[sizes[-1]]
    print(f"  baseline: read and grade all {graded:,} open clocks: {naive * 1000:,.0f} ms "
          f"(the indexed sweep of {sizes[-1]:,} changed clocks is "
          f"{naive / big['s']:.1f}x faster; of 100 changed clocks {naive / results[100]['s']:.0f}x)")
    per_clock = [(k, r["s"] / max(r["moved"], 1) * 1e6) for k, r in results.items()]
    print("  cost per changed clock: " + ", ".join(f"{k:,}: {us:.0f} us" for k, us in per_clock))
    db.dispose()


def seed(db, n: int, kinds, quiet_count: int) -> None:
    """Cases, clocks and ledger lines by generate_series; clock i uses start kind i % len(kinds),
    except every 50th clock, which is of the changing kinds (alternately to yellow and to red) and
    dormant (check_on NULL) until woken."""
    rows = []
    for k, (start, c) in enumerate(kinds):
        rows.append({"k": k, "s": start, "due": c.reading.due.date, "warn": c.warn_date, "chk": c.check_on,
                     "lvl": c.level})
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE kinds (k int primary key, s date, due date, warn date, chk date, "
                             "lvl text) ON COMMIT DROP"))
        conn.execute(sa.text("INSERT INTO kinds VALUES (:k, :s, :due, :warn, :chk, :lvl)"), rows)
        conn.execute(sa.text(
            "INSERT INTO process_definitions (id, process_id, version, content_hash, files, spec_json, "
            "serializer_version, properties, deployed_at) VALUES (1, 'bench', 1, 'x', '{}', '{}', '1', '{}', now())"))
        conn.execute(sa.text(
            "INSERT INTO users (username, display_name, password_hash, is_admin, active, created_at) "
            "SELECT u, u, 'x', false, true, now() FROM unnest(ARRAY['director','market1','market2','health1',"
            "'housing1','general1','market_lead','health_lead','housing_lead','general_lead']) AS u"))
        conn.execute(sa.text(
            "INSERT INTO memberships (user_id, \"group\") SELECT id, split_part(username, '1', 1) || '_dept' "
            "FROM users WHERE username IN ('market1','health1','housing1','general1')"))
        conn.execute(sa.text(
            "INSERT INTO supervisions (user_id, \"group\") SELECT id, split_part(username, '_', 1) || '_dept' "
            "FROM users WHERE username LIKE '%\\_lead'"))
        conn.execute(sa.text(
            "INSERT INTO cases (id, case_no, definition_id, process_id, status, state, serializer_version, subject, "
            "summary, due_provisional, created_at, updated_at, version) "
            "SELECT i, 'OW' || lpad(i::text, 12, '0'), 1, 'bench', 'running', '{}', '1', '张三', '{}', false, "
            "now(), now(), 1 FROM generate_series(1, :n) AS i"), {"n": n})
        kind = f"CASE WHEN i % {CHANGING_EVERY} = 0 THEN :q + (i / {CHANGING_EVERY}) % 2 ELSE i % :q END"
        conn.execute(sa.text(
            "INSERT INTO sla_clocks (id, case_id, step, \"group\", budget, state, paused_by, started_on, due_date, "
            "warn_date, check_on, provisional, level, calendar_version, updated_at) "
            f"SELECT i, i, '', (ARRAY{GROUPS!r})[1 + i % {len(GROUPS)}], {BUDGET}, 'running', '[]', k.s, k.due, "
            f"k.warn, CASE WHEN i % {CHANGING_EVERY} = 0 THEN NULL ELSE k.chk END, false, k.lvl, :v, now() "
            f"FROM generate_series(1, :n) AS i JOIN kinds k ON k.k = {kind}"),
            {"n": n, "q": quiet_count, "v": _version()})
        conn.execute(sa.text(
            "INSERT INTO sla_clock_entries (clock_id, kind, day, at) SELECT id, 'started', started_on, now() "
            "FROM sla_clocks"))
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('sla_clocks', 'id'), :n)"), {"n": n})
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('cases', 'id'), :n)"), {"n": n})
        conn.execute(sa.text("INSERT INTO sla_state (key, value) VALUES ('calendar', :v)"),
                     {"v": json.dumps({"version": _version()})})


def _version() -> str:
    from sla import runtime

    return runtime.current.calendar.version


if __name__ == "__main__":
    main()

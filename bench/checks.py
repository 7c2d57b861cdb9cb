"""Mechanics the speed of the hot paths rests on, checked and printed (moved here from the test
suite: they pin how, not what; a behaviour test belongs in tests/).

    python bench/checks.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

On a scratch PostgreSQL database: what one worklist page sends to the database once the bearer token
is known (one statement, on an autocommit connection: no BEGIN, no ROLLBACK), the read pool's plan
cache mode (one generic plan per connection) and its order (the connection returned last is lent
first); then the start-up heap: how many objects ``gc.freeze`` takes out of the collector's sight
and what a full collection costs with and without it. Prints each figure; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

failed: list[str] = []


def check(name: str, ok: bool, figure: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: {figure}")
    if not ok:
        failed.append(name)


@contextmanager
def statements(engine):
    """Statements this thread sends through ``engine`` (with the connection's autocommit state)."""
    from sqlalchemy import event

    sent: list[tuple[str, bool]] = []
    me = threading.get_ident()

    def record(conn, _cursor, statement, *_args):
        if threading.get_ident() == me:
            sent.append((statement, conn.connection.driver_connection.autocommit))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def list_path(pg_admin: str) -> None:
    from bench.drill.stack import ScratchDatabase
    from engine import broker, identity
    from engine.passwords import DEMO_PASSWORD
    from onewindow import demo, migrate
    from onewindow.app import create_app

    scratch = ScratchDatabase(pg_admin)
    try:
        app = create_app(database_url=scratch.url, secret_key="checks")
        db = app.extensions["onewindow.db"]
        migrate.upgrade(db.url, db.engine)
        broker.start_in_process_worker()
        demo.seed(app)
        client = app.test_client()
        token = client.post("/api/auth/token", json={"username": "window1", "password": DEMO_PASSWORD}).get_json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        for _ in range(3):  # a queue longer than the page: intake tasks, dated by the SLA
            client.post("/api/cases", headers=headers, json={"process_id": "one_window", "data": {"category": "food"}})
        broker.drain()
        client.get("/api/tasks?view=queue", headers=headers)  # the token is read and cached
        with statements(db.engine) as main, statements(db.autocommit_engine) as reads:
            answer = client.get("/api/tasks?view=queue&limit=1", headers=headers)
        print("worklist page (GET /api/tasks?view=queue&limit=1 of a longer queue, token cached):")
        check("answers", answer.status_code == 200, str(answer.status_code))
        for s, _a in main + reads:
            print("    " + " ".join(s.split())[:160])
        check("statements sent", len(main) + len(reads) == 1, f"{len(main) + len(reads)} ({len(main)} in a "
              f"transaction, {len(reads)} on the autocommit read pool)")
        check("no transaction to begin or end", all(auto for _s, auto in reads) and not any(
            s.upper().startswith(("BEGIN", "ROLLBACK", "COMMIT")) for s, _a in main + reads), "autocommit")
        with db.autocommit_engine.connect() as conn:
            mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
        with db.engine.connect() as conn:
            main_mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
        check("read pool plans once per connection", mode == "force_generic_plan" and main_mode == "auto",
              f"read pool {mode}, transactions {main_mode}")
        first, second = db.autocommit_engine.raw_connection(), db.autocommit_engine.raw_connection()
        warm = second.driver_connection
        first.close()
        second.close()
        again = db.autocommit_engine.raw_connection()
        check("read pool lends the connection returned last", again.driver_connection is warm, "LIFO")
        again.close()
        identity.actors.clear()
        broker.stop_in_process_worker()
        db.dispose()
    finally:
        scratch.drop()


def start_up_heap() -> None:
    from onewindow.app import create_app, freeze_start_up_heap

    create_app(database_url="sqlite://", secret_key="checks")
    gc.collect()
    tracked = len(gc.get_objects())
    t0 = time.perf_counter()
    gc.collect()
    unfrozen_ms = (time.perf_counter() - t0) * 1000
    freeze_start_up_heap()
    frozen = gc.get_freeze_count()
    t0 = time.perf_counter()
    gc.collect()
    frozen_ms = (time.perf_counter() - t0) * 1000
    gc.unfreeze()
    print("start-up heap (gc.freeze):")
    check("objects frozen after start-up", frozen > 0.9 * tracked, f"{frozen} of {tracked} tracked")
    check("a full collection after the freeze", frozen_ms < unfrozen_ms,
          f"{frozen_ms:.1f} ms, against {unfrozen_ms:.1f} ms unfrozen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    list_path(args.pg)
    start_up_heap()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

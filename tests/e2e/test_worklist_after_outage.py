"""A worklist page after the database dropped every connection (found by the load drill: the list's
hand-written driver path let psycopg's error through, 500, and put the dead connection back in the
pool, so the next page on it answered 500 again). Now the page answers 503 at most once per dead
connection (SQLAlchemy throws it away), and the next page 200."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, Api, deploy_reference


def _terminate_connections(url: str) -> int:
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            return len(c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE datname = :n AND pid <> pg_backend_pid()"),
                                 {"n": make_url(url).database}).all())
    finally:
        admin.dispose()


def test_a_page_after_the_connections_were_terminated_is_503_at_worst_then_200(pg_app):
    # Given a caseworker reading the queue (its read connection warm in the pool)
    deploy_reference(pg_app)
    market1 = Api(pg_app, "market1")
    assert market1.get("/api/tasks", query_string={"view": "queue"}).status_code == 200
    # When the database terminates every connection
    assert _terminate_connections(pg_app.extensions["onewindow.db"].url) >= 1
    # Then the next pages answer 503 (retry) or 200, never 500, and the second one is whole again
    first = market1.get("/api/tasks", query_string={"view": "queue"})
    assert first.status_code in (200, 503), first.get_data(as_text=True)
    second = market1.get("/api/tasks", query_string={"view": "queue"})
    assert second.status_code == 200, second.get_data(as_text=True)
    assert second.get_json()["view"] == "queue"

"""Two first applications of the same new applicant at the same moment both succeed (PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.conftest import Api
from tests.e2e.intake_helpers import FOOD, ORG_ID, setup_office


def test_parallel_first_applications_of_one_applicant(pg_app):
    from intake.models import Applicant, Application

    setup_office(pg_app)
    Api(pg_app, "window1")  # log in once, before the threads share the token cache
    results: list[int] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        api = Api(pg_app, "window1")
        barrier.wait()
        r = api.post("/api/applications", json={
            "service_code": FOOD, "applicant": {"kind": "organization", "id_number": ORG_ID,
                                                "name": "示范餐饮管理有限公司", "phone": "13800138000"}})
        results.append(r.status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [201] * 4
    with pg_app.extensions["onewindow.db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Applicant)) == 1
        assert s.scalar(select(func.count()).select_from(Application)) == 4

"""Parallel claims and completions of one task on real PostgreSQL: exactly one wins, the rest get 409."""

from __future__ import annotations

import threading

import pytest

from engine import broker
from tests.conftest import Api, deploy_reference


def _handle_task(app) -> tuple[str, str]:
    deploy_reference(app)
    window = Api(app, "window1")
    no = window.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}}).get_json()[
        "case_no"]
    intake = window.get(f"/api/cases/{no}").get_json()["open_tasks"][0]
    assert window.post(f"/api/tasks/{intake['id']}/complete", json={"data": {"decision": "accept"}}).status_code == 200
    handle = window.get(f"/api/cases/{no}").get_json()["open_tasks"][0]
    assert handle["element_id"] == "handle"
    return no, handle["id"]


def _race(app, users: list[str], path: str, body: dict) -> list[tuple[str, int, dict]]:
    """Every user posts ``body`` to ``path`` at the same instant, each on its own thread and connection."""
    clients = [Api(app, u) for u in users]  # log in first: only the transition races
    barrier = threading.Barrier(len(users))
    results: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def run(user: str, api: Api) -> None:
        barrier.wait()
        r = api.post(path, json=body)
        with lock:
            results.append((user, r.status_code, r.get_json()))

    threads = [threading.Thread(target=run, args=(u, c)) for u, c in zip(users, clients, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("rounds", [3])
def test_parallel_claims_exactly_one_wins_the_others_see_the_holder(pg_app, rounds):
    for _ in range(rounds):
        no, task_id = _handle_task(pg_app)
        # When four colleagues claim the same task at the same moment
        results = _race(pg_app, ["market1", "market2", "market_lead", "director"],
                        f"/api/tasks/{task_id}/claim", {})
        # Then exactly one succeeds, and every other gets 409 naming the winner
        winners = [u for u, status, _ in results if status == 200]
        assert len(winners) == 1, results
        assert sorted(status for _, status, _ in results) == [200, 409, 409, 409]
        assert {body["holder"] for _, status, body in results if status == 409} == {winners[0]}
        view = Api(pg_app, "admin").get(f"/api/cases/{no}").get_json()
        claims = [e for e in view["history"] if e["what"] == "task_claimed" and e["task_id"] == task_id]
        assert [e["who"] for e in claims] == winners
    broker.drain()


@pytest.mark.postgres
def test_parallel_completions_exactly_one_wins(pg_app):
    no, task_id = _handle_task(pg_app)
    # When two caseworkers complete the same open task at once
    results = _race(pg_app, ["market1", "market2"], f"/api/tasks/{task_id}/complete",
                    {"data": {"outcome": "submit", "opinion": "同意"}})
    # Then one completes it and the other gets 409 naming who did
    statuses = sorted(status for _, status, _ in results)
    assert statuses == [200, 409], results
    winner = next(u for u, status, _ in results if status == 200)
    loser_body = next(body for _, status, body in results if status == 409)
    assert loser_body["holder"] == winner
    view = Api(pg_app, "admin").get(f"/api/cases/{no}").get_json()
    done = [e for e in view["history"] if e["what"] == "task_completed" and e["task_id"] == task_id]
    assert len(done) == 1 and done[0]["who"] == winner
    assert [t["element_id"] for t in view["open_tasks"]] == ["review"]


@pytest.mark.postgres
def test_claim_racing_a_completion_never_both(pg_app):
    no, task_id = _handle_task(pg_app)
    results = _race(pg_app, ["market1", "market2"], f"/api/tasks/{task_id}/claim", {})
    winner = next(u for u, status, _ in results if status == 200)
    other = "market2" if winner == "market1" else "market1"
    # the loser tries to complete anyway while the winner completes: only the holder's completion counts
    clients = {u: Api(pg_app, u) for u in (winner, other)}
    barrier = threading.Barrier(2)
    out: dict[str, int] = {}

    def run(user: str) -> None:
        barrier.wait()
        out[user] = clients[user].post(f"/api/tasks/{task_id}/complete",
                                       json={"data": {"outcome": "submit", "opinion": "同意"}}).status_code

    threads = [threading.Thread(target=run, args=(u,)) for u in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert out == {winner: 200, other: 409}

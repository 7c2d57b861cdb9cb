"""With Redis, the applicant's public pages share one window per client across every web process;
without Redis, or when it is down, each process counts for itself."""

from __future__ import annotations

import time
import uuid

import pytest

from intake.ratelimit import RateLimiter, SharedRateLimiter, TooManyRequests
from onewindow.app import create_app

pytestmark = pytest.mark.redis


def _limiters(redis_url: str, n: int, limit: int, seconds: float) -> list[SharedRateLimiter]:
    prefix = f"test:ratelimit:{uuid.uuid4().hex}:"  # this test's own keys
    return [SharedRateLimiter(redis_url, limit=limit, seconds=seconds, prefix=prefix) for _ in range(n)]


def test_two_processes_share_one_window_per_client(redis_url):
    # Given two web processes' limiters on one Redis, five requests a minute per client
    one, two = _limiters(redis_url, 2, limit=5, seconds=60)
    # When a client spreads its requests over both
    for i in range(5):
        (one if i % 2 else two).hit("203.0.113.7")
    # Then the sixth is refused on either, while another client is not held back
    with pytest.raises(TooManyRequests):
        one.hit("203.0.113.7")
    with pytest.raises(TooManyRequests):
        two.hit("203.0.113.7")
    one.hit("198.51.100.1")


def test_the_window_slides_and_refused_requests_do_not_count(redis_url):
    (limiter,) = _limiters(redis_url, 1, limit=2, seconds=1)
    limiter.hit("c")
    limiter.hit("c")
    for _ in range(3):
        with pytest.raises(TooManyRequests):
            limiter.hit("c")
    time.sleep(1.1)
    limiter.hit("c")  # the two counted requests have left the window; the refused ones never entered
    limiter.hit("c")
    with pytest.raises(TooManyRequests):
        limiter.hit("c")


def test_an_unreachable_redis_falls_back_to_the_process_window():
    limiter = SharedRateLimiter("redis://127.0.0.1:1/0", limit=3, seconds=60)
    for _ in range(3):
        limiter.hit("c")
    with pytest.raises(TooManyRequests):
        limiter.hit("c")


def test_the_app_uses_the_shared_window_when_redis_is_configured(redis_url, tmp_path):
    shared = create_app(database_url=f"sqlite:///{tmp_path}/a.db", secret_key="x", redis_url=redis_url,
                        instance_dir=str(tmp_path))
    local = create_app(database_url=f"sqlite:///{tmp_path}/b.db", secret_key="x", instance_dir=str(tmp_path))
    assert isinstance(shared.extensions["intake.rate_limiter"], SharedRateLimiter)
    assert isinstance(local.extensions["intake.rate_limiter"], RateLimiter)

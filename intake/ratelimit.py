"""How often one client may ask the applicant's public pages (progress query, rating): a window per
client key (its IP address), so a client that guesses case numbers and ID tails is slowed down.

``RateLimiter`` counts in the process. With several web processes (``ONEWINDOW_REDIS_URL`` set) each
would grant the full allowance on its own, so ``SharedRateLimiter`` counts in Redis: one sliding
window per client for the whole office, checked and counted atomically by a Lua script on Redis's own
clock (web hosts' clocks may differ). Should Redis be unreachable, a request is counted by the
process's own window instead of failing the applicant, and the outage is logged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque

from engine.broker import redis_client
from engine.errors import TooManyRequests  # re-exported: the public pages' callers catch it from here

__all__ = ["RateLimiter", "SharedRateLimiter", "TooManyRequests"]

log = logging.getLogger(__name__)
MESSAGE = "查询过于频繁，请稍后再试 / too many requests, try again later"


class RateLimiter:
    """At most ``limit`` requests per ``seconds`` per client key, in memory (one process)."""

    def __init__(self, limit: int = 30, seconds: float = 60.0):
        self.limit, self.seconds = limit, seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one request. Raises TooManyRequests when the window is full."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                for k in [k for k, q in self._hits.items() if not q or q[-1] < now - self.seconds]:
                    del self._hits[k]
            window = self._hits.setdefault(key, deque())
            while window and window[0] <= now - self.seconds:
                window.popleft()
            if len(window) >= self.limit:
                raise TooManyRequests(MESSAGE, retry_after=max(1, math.ceil(window[0] + self.seconds - now)))
            window.append(now)


# KEYS[1] the client's window; ARGV: window in microseconds, limit, a unique member. Returns 1 when
# the request is counted, 0 when the window is full (a refused request is not counted).
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""


class SharedRateLimiter:
    """The same window as :class:`RateLimiter`, shared by every process through Redis."""

    def __init__(self, redis_url: str, limit: int = 30, seconds: float = 60.0,
                 prefix: str = "onewindow:ratelimit:public:"):
        import redis

        self.limit, self.seconds, self.prefix = limit, seconds, prefix
        # fails fast and never retries by itself (redis-py retries three times with backoff by
        # default): a frozen Redis must not hold the public pages; the process's window stands in
        self._redis = redis_client(redis_url, 0.2)
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._local = RateLimiter(limit, seconds)
        self._error = redis.RedisError
        self._warned_at = float("-inf")

    def hit(self, key: str) -> None:
        """Count one request for ``key``. Raises TooManyRequests when its window is full."""
        try:
            counted = self._script(keys=[self.prefix + key],
                                   args=[int(self.seconds * 1_000_000), self.limit, uuid.uuid4().hex])
        except self._error as exc:
            if time.monotonic() - self._warned_at > 60:  # once a minute, not once a request
                self._warned_at = time.monotonic()
                log.warning("rate limit: Redis unreachable (%s); counting in this process", exc)
            self._local.hit(key)
            return
        if not counted:  # the script does not say when the window frees: at the latest, a window from now
            raise TooManyRequests(MESSAGE, retry_after=math.ceil(self.seconds))

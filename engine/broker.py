"""The Dramatiq broker: in-process (StubBroker plus a worker thread) by default, Redis when configured.

Actors are declared with :func:`actor` so that :func:`configure` can bind them to whichever broker
the composition root chooses, after import time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

_actors: list[dramatiq.Actor] = []
_broker: dramatiq.Broker | None = None
_worker: dramatiq.Worker | None = None
_lock = threading.Lock()


def _middleware() -> list:
    return [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries()]


def get_broker() -> dramatiq.Broker:
    global _broker
    with _lock:
        if _broker is None:
            _broker = StubBroker(middleware=_middleware())
            _broker.emit_after("process_boot")
            dramatiq.set_broker(_broker)
        return _broker


def actor(fn: Callable | None = None, **options):
    """Declare a Dramatiq actor on the project's broker (see module doc)."""

    def decorate(f):
        a = dramatiq.actor(f, broker=get_broker(), **options)
        _actors.append(a)
        return a

    return decorate(fn) if fn is not None else decorate


_redis_url: tuple[str | None, float] | None = None


def redis_client(redis_url: str, timeout_s: float):
    """A Redis client that gives up after ``timeout_s`` and never retries by itself.

    redis-py retries a failed command three times with backoff by default, and without a socket
    timeout a frozen Redis holds the caller for as long as it stays frozen: a request that had
    committed hung 12 s on its send that way. The outbox sends again whatever did not go, so failing
    fast loses nothing.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = redis.ConnectionPool.from_url(redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s,
                                         retry=Retry(NoBackoff(), 0))
    return redis.Redis(connection_pool=pool)


def configure(redis_url: str | None, timeout_ms: int = 200) -> dramatiq.Broker:
    """Choose the broker: Redis at ``redis_url``, else the in-process stub. Rebinds every actor.

    ``timeout_ms`` bounds every Redis command (connect, send, fetch): a web process keeps it short,
    since a request waits for its send after commit; a worker longer (``onewindow/worker.py``).
    Configuring the same again keeps the broker (and a running in-process worker); switching
    moves a running in-process worker over to the new broker.
    """
    global _broker, _redis_url
    with _lock:
        current = _broker
    key = (redis_url, timeout_ms / 1000) if redis_url else None
    if current is not None and key == _redis_url:
        return current
    was_running = _worker is not None
    stop_in_process_worker()
    if redis_url:
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(client=redis_client(redis_url, timeout_ms / 1000),
                                              middleware=_middleware())
    else:
        broker = StubBroker(middleware=_middleware())
        broker.emit_after("process_boot")
    with _lock:
        _broker, _redis_url = broker, key
    dramatiq.set_broker(broker)
    for a in _actors:
        a.broker = broker
        broker.declare_actor(a)
    if was_running and not redis_url:
        start_in_process_worker()
    return broker


def start_in_process_worker(threads: int = 1) -> dramatiq.Worker:
    """Run a worker thread inside this process (the embedded default)."""
    global _worker
    if _worker is not None and _worker.broker is not get_broker():
        # configure() chose a new broker (a new app, e.g. the next test): a worker on the old one
        # would never see the new broker's messages.
        _worker.stop()
        _worker = None
    if _worker is None:
        _worker = dramatiq.Worker(get_broker(), worker_threads=threads, worker_timeout=100)
        _worker.start()
    return _worker


def stop_in_process_worker() -> None:
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def drain(timeout_ms: int = 10_000) -> None:
    """Wait until every queue of the in-process broker is empty (tests and drills)."""
    broker = get_broker()
    if isinstance(broker, StubBroker):
        for queue in list(broker.queues):
            broker.join(queue, timeout=timeout_ms, fail_fast=True)
        if _worker is not None:
            _worker.join()


def ping() -> str | None:
    """None when the broker answers, else what went wrong (the in-process broker always answers)."""
    client = getattr(get_broker(), "client", None)
    if client is None:
        return None
    try:
        client.ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"

"""The worker's watchdog ends a process whose Dramatiq threads died, and only then."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from engine.watchdog import Watchdog, dead_threads


def _thread(alive: bool) -> threading.Thread:
    gate = threading.Event()
    thread = threading.Thread(target=gate.wait, daemon=True)
    thread.start()
    if not alive:
        gate.set()
        thread.join()
    return thread, gate


def test_a_dead_delay_queue_consumer_ends_the_process():
    # Given a worker whose delay-queue consumer thread died (Redis dropped mid-enqueue)
    alive, gate1 = _thread(True)
    dead, _ = _thread(False)
    worker_thread, gate2 = _thread(True)
    worker = SimpleNamespace(consumers={"default": alive, "default.DQ": dead}, workers=[worker_thread])
    ended = threading.Event()
    try:
        # When the watchdog looks
        Watchdog(interval=0.02, on_dead=ended.set).after_worker_boot(None, worker)
        # Then it names the dead thread and ends the process
        assert dead_threads(worker) == ["consumer of default.DQ"]
        assert ended.wait(5)
    finally:
        gate1.set()
        gate2.set()


def test_a_whole_worker_and_a_stopping_one_are_left_alone():
    alive, gate = _thread(True)
    worker = SimpleNamespace(consumers={"default": alive}, workers=[])
    ended = threading.Event()
    watchdog = Watchdog(interval=0.02, on_dead=ended.set)
    try:
        watchdog.after_worker_boot(None, worker)
        assert not ended.wait(0.2)
        # A worker shutting down on purpose stops its threads: not a failure
        watchdog.before_worker_shutdown(None, worker)
        gate.set()
        alive.join()
        assert not ended.wait(0.2)
    finally:
        gate.set()

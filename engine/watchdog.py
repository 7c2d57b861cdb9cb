"""A worker process is whole or it exits: never a silent, half-dead process.

Dramatiq runs one consumer thread per queue and per delay queue, plus the worker threads. When Redis
drops, a consumer thread that was moving due delayed messages back to their queue can die (the
enqueue fails, then so does the requeue in its clean-up, and the exception leaves the thread), while
the process goes on looking healthy: retries pile up in the delay queue and nothing moves them.

:class:`Watchdog` is a Dramatiq middleware that looks at every thread of the worker every few
seconds. When one has died it logs which and ends the process with :data:`EXIT_CODE`; Dramatiq's
main process then stops the others and exits non-zero, and so does `onewindow worker`, so its
supervisor (systemd, Kubernetes) starts it again. On restart nothing is lost: messages the dead
process held are requeued by Redis once its heartbeat expires, and the outbox
(``engine/outbox.py``) hands out again every event not yet delivered.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)
EXIT_CODE = 70  # EX_SOFTWARE: the process is broken, not asked to stop


def dead_threads(worker: Any) -> list[str]:
    """Names of the worker's consumer and worker threads that are no longer alive."""
    dead = [f"consumer of {queue}" for queue, thread in list(worker.consumers.items()) if not thread.is_alive()]
    dead += [f"worker thread {i}" for i, thread in enumerate(list(worker.workers)) if not thread.is_alive()]
    return dead


def _exit() -> None:
    logging.shutdown()
    os._exit(EXIT_CODE)


class Watchdog(Middleware):
    """Checks the worker's threads every ``interval`` seconds; ``on_dead`` ends the process."""

    def __init__(self, interval: float = 5.0, on_dead: Callable[[], None] = _exit):
        self.interval, self.on_dead = interval, on_dead
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker) -> None:
        self._stop.clear()
        threading.Thread(target=self._watch, args=(worker,), name="onewindow-watchdog", daemon=True).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()  # a worker stopping on purpose stops its threads: not a failure

    def _watch(self, worker: Any) -> None:
        while not self._stop.wait(self.interval):
            dead = dead_threads(worker)
            if dead and not self._stop.is_set():
                log.critical("worker is half dead (%s); exiting with %d so its supervisor restarts it",
                             ", ".join(dead), EXIT_CODE)
                self.on_dead()
                return

"""One leader among any number of schedulers: whoever holds the lock ticks, the others wait.

PostgreSQL: a session-level advisory lock held on a connection of its own, outside every pool. The
server releases it when that connection ends, so when the leader's process dies (or its machine, once
the server notices the dead connection), a standby's next try takes it. Before each tick the leader
checks that its connection still answers: a leader whose connection was cut has lost the lock
(another scheduler may hold it by now) and must not tick until it has taken it again.

SQLite (one machine): an exclusive ``flock`` on a file beside the database, which the kernel releases
when the process ends.

Two leaders for a moment (a cut connection the old leader has not noticed yet) do no harm: timers fire
under the case lock, alerts are unique by constraint, the sweep takes its own lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


def lock_number(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` from a lock's name."""
    return int.from_bytes(hashlib.sha256(f"onewindow.leader:{name}".encode()).digest()[:8], "big", signed=True)


class LeaderLock:
    """``acquire()`` is True while this process holds the lock named ``name`` for ``database_url``."""

    def __init__(self, database_url: str, name: str = "scheduler"):
        self.url, self.name = database_url, name
        self._conn: Any = None
        self._file: Any = None
        self._engine = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """Take the lock if free, or check that it is still ours. Never blocks."""
        if self.url.startswith("sqlite"):
            return self._acquire_file()
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception as exc:
                log.warning("leader lock %s: lost its connection (%s); trying to take it again", self.name, exc)
                self._drop()
        if self._engine is None:
            self._engine = create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            conn = self._engine.connect()
        except Exception as exc:
            log.warning("leader lock %s: database unreachable (%s)", self.name, exc)
            return False
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_number(self.name)}).scalar())
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            log.info("leader lock %s taken by pid %s", self.name, os.getpid())
        else:
            conn.close()
        return got

    def _acquire_file(self) -> bool:
        import fcntl

        if self._file is not None:
            return True
        path = Path(self.url.removeprefix("sqlite:///") + f".{self.name}.lock")
        handle = open(path, "a+")  # noqa: SIM115 - held open as long as the lock is
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing to release, the server did it
                log.debug("closing a broken leader connection failed", exc_info=True)

    def release(self) -> None:
        self._drop()
        if self._file is not None:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

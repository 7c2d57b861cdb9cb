"""The faults, injected one after another while the office works: each marks its window on the
recorder, so a request it breaks is counted as injected, not as an error.

- kill -9 a Dramatiq worker process (its supervisor, Dramatiq's main process then `onewindow worker`'s
  supervisor, starts it again; what it held comes back through the outbox);
- kill -9 a gunicorn worker (the gunicorn master starts another; its requests in flight are lost);
- the private Redis stopped and started again empty (nothing persisted: every queued message lost);
- the private Redis frozen (SIGSTOP) then thawed: commands hang instead of failing;
- every database connection terminated (pg_terminate_backend);
- kill -9 a scheduler (the other takes the lead at its next tick if that one led).
"""

from __future__ import annotations

import asyncio
import os
import signal

from bench.drill.record import Recorder
from bench.drill.stack import Stack


async def _kill_child(stack: Stack, rec: Recorder, name: str, label: str, hold: float) -> None:
    children = stack.processes[name].children()
    f = rec.fault(label)
    if children:
        os.kill(children[0], signal.SIGKILL)
    print(f"   fault at {f.start:5.1f} s: {label} (pid {children[0] if children else 'none found'})", flush=True)
    await asyncio.sleep(hold)
    f.end = rec.now()


async def _redis_restart(stack: Stack, rec: Recorder, down: float) -> None:
    f = rec.fault("redis restarted empty")
    print(f"   fault at {f.start:5.1f} s: redis stopped for {down:.0f} s, started empty", flush=True)
    await asyncio.to_thread(stack.redis.stop)
    await asyncio.sleep(down)
    await asyncio.to_thread(stack.redis.start)
    f.end = rec.now()


async def _redis_freeze(stack: Stack, rec: Recorder, frozen: float) -> None:
    f = rec.fault("redis frozen")
    print(f"   fault at {f.start:5.1f} s: redis frozen (SIGSTOP) for {frozen:.0f} s", flush=True)
    stack.redis.freeze()
    await asyncio.sleep(frozen)
    stack.redis.thaw()
    f.end = rec.now()


async def _terminate_db(stack: Stack, rec: Recorder) -> None:
    f = rec.fault("database connections terminated")
    n = await asyncio.to_thread(stack.db.terminate_connections)
    print(f"   fault at {f.start:5.1f} s: pg_terminate_backend on {n} connections", flush=True)
    await asyncio.sleep(1)
    f.end = rec.now()


async def inject(stack: Stack, rec: Recorder, seconds: float) -> None:
    """The faults spread over ``seconds`` of load, the first after a tenth of it."""
    plan = [
        lambda: _kill_child(stack, rec, "worker", "worker process killed (-9)", 2),
        lambda: _kill_child(stack, rec, "web", "web process killed (-9)", 2),
        lambda: _redis_restart(stack, rec, 5),
        lambda: _redis_freeze(stack, rec, 5),
        lambda: _terminate_db(stack, rec),
        lambda: _kill_scheduler(stack, rec),
    ]
    gap = seconds * 0.85 / len(plan)
    await asyncio.sleep(seconds * 0.1)
    for step in plan:
        started = rec.now()
        await step()
        await asyncio.sleep(max(0.0, gap - (rec.now() - started)))


async def _kill_scheduler(stack: Stack, rec: Recorder) -> None:
    proc = stack.processes["scheduler-a"].proc
    f = rec.fault("scheduler killed (-9)")
    os.kill(proc.pid, signal.SIGKILL)
    print(f"   fault at {f.start:5.1f} s: scheduler-a killed (pid {proc.pid})", flush=True)
    await asyncio.sleep(1)
    f.end = rec.now()

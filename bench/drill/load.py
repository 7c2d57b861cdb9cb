"""Offering load: applications arriving at a rate (open loop, Poisson), or a fixed number of clerks
working cases back to back (closed loop, for the saturation rate), with a bound on cases in flight.

Open loop is what an office sees: applicants do not wait for the previous one to be served, so a
slow server meets more work, not less; latencies are measured as they are, not hidden by a client
that slows down with the server. When the bound of cases in flight is reached, an arrival waits for
a free place and counts as late: the offered rate was not served.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time

from bench.drill.client import Client
from bench.drill.office import Journey, Mix, Staff
from bench.drill.record import Recorder

_numbers = itertools.count(1)


async def _journey(client: Client, staff: Staff, mix: Mix, rec: Recorder, rnd: random.Random) -> None:
    rec.cases_started += 1
    try:
        done = await Journey(client, staff, mix, rec, random.Random(rnd.random()), next(_numbers)).run()
    except Exception as exc:  # noqa: BLE001 - a drill bug must not hide the others' figures
        rec.failed("journey", f"{type(exc).__name__}: {exc}")
        done = False
    if done:
        rec.cases_finished += 1
    else:
        rec.cases_abandoned += 1


async def open_loop(client: Client, staff: Staff, mix: Mix, rec: Recorder, rate: float, seconds: float,
                    bound: int = 400, seed: int = 1, drain: float = 120.0) -> float:
    """Applications arriving at ``rate`` per second for ``seconds``; waits for the cases in flight
    (at most ``drain`` s). Returns the seconds the arrivals took."""
    rnd = random.Random(seed)
    places = asyncio.Semaphore(bound)
    running: set[asyncio.Task] = set()
    start = time.monotonic()
    due = start
    while True:
        due += rnd.expovariate(rate)
        if due - start > seconds:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if places.locked():
            rec.late_arrivals += 1
        await places.acquire()
        task = asyncio.create_task(_journey(client, staff, mix, rec, rnd))
        running.add(task)
        task.add_done_callback(lambda t: (running.discard(t), places.release()))
    took = time.monotonic() - start
    if running:
        await asyncio.wait(set(running), timeout=drain)
    return took


async def closed_loop(client: Client, staff: Staff, mix: Mix, rec: Recorder, clerks: int, seconds: float,
                      seed: int = 1) -> float:
    """``clerks`` cases in flight at all times for ``seconds``; returns whole cases finished per second
    within the window (a case counts when its last step answered before the window closed)."""
    rnd = random.Random(seed)
    stop = time.monotonic() + seconds
    finished_in_window = 0

    async def clerk() -> None:
        nonlocal finished_in_window
        while time.monotonic() < stop:
            before = rec.cases_finished
            await _journey(client, staff, mix, rec, rnd)
            if rec.cases_finished > before and time.monotonic() <= stop:
                finished_in_window += 1

    start = time.monotonic()
    await asyncio.gather(*(clerk() for _ in range(clerks)))
    return finished_in_window / (stop - start)

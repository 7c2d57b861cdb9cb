"""The load and fault drill: a compressed office day against `onewindow serve` (gunicorn), `onewindow
worker` and two `onewindow scheduler` processes on PostgreSQL and a private Redis.

    python -m bench.drill [--seconds 90] [--rate R] [--web-workers 2] [--faults-only] ...

One run: raw SpiffWorkflow's whole-case rate in memory; the saturation rate of whole reference cases
through HTTP (clerks working cases back to back, more of them until the rate stops growing); a ramp
of the office day's arrival rate to find where it saturates; the office day at 70% of that rate
without faults, then again with faults; after each, the audit. Last, a tick a month later, and the
audit again: no red alert may follow for a step that finished on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from bench.drill import audit, faults, load, profile, raw, record, staffing
from bench.drill.client import Client
from bench.drill.office import Mix
from bench.drill.stack import Shape, Stack


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


async def _saturation(client, staff, rec, seconds: float, clerks: list[int], stack: Stack,
                      profile_dir: Path | None) -> tuple[float, int]:
    """Whole reference cases per second, closed loop, best over ``clerks`` in flight."""
    best, best_n = 0.0, 0
    mix = Mix(office_day=False, think=0.0)
    for n in clerks:
        rec.reset()
        sampling = None
        if profile_dir and n == clerks[-1]:
            pids = stack.processes["web"].children() + stack.processes["worker"].children()
            sampling = profile.start(pids, seconds * 0.9, profile_dir)
        rate = await load.closed_loop(client, staff, mix, rec, n, seconds)
        if sampling:
            await asyncio.to_thread(profile.report, sampling, f"at {n} whole cases in flight")
        print(f"   {n:3d} cases in flight: {rate:6.2f} whole cases/s, errors {len(rec.errors)}  [{load_average()}]",
              flush=True)
        for at, op, detail in rec.errors[:3]:
            print(f"     ERROR at {at:6.1f} s {op}: {detail}")
        if rate > best * 1.03:
            best, best_n = rate, n
        elif rate < best * 0.97:
            break
    return best, best_n


async def _ramp(client, staff, rec, start: float, stage: float) -> float:
    """Raise the office day's arrival rate by a quarter per stage until the completions' p99 passes
    1 s, arrivals wait for the bound, or the cases finished fall short of those offered."""
    rate, sustained = start, 0.0
    while True:
        rec.reset()
        took = await load.open_loop(client, staff, Mix(), rec, rate, stage, bound=300, drain=60)
        done = record.pct([x for op in record.COMPLETIONS for x in rec.latencies.get(op, [])], .99)
        lists = record.pct([x for op in record.LIST_VIEWS for x in rec.latencies.get(op, [])], .99)
        print(f"   offered {rate:5.2f} cases/s: {rec.cases_finished}/{rec.cases_started} finished, completions p99 "
              f"{done:.0f} ms, lists p99 {lists:.0f} ms, late {rec.late_arrivals}, errors {len(rec.errors)} "
              f"(arrivals {took:.0f} s)  [{load_average()}]", flush=True)
        if done > 1000 or rec.late_arrivals or rec.errors or rec.cases_finished < 0.95 * rec.cases_started:
            return sustained
        sustained = rate
        rate *= 1.25


async def _office(stack, client, staff, rec, rate: float, seconds: float, with_faults: bool) -> dict:
    rec.reset()
    title = f"office day at {rate:.2f} cases/s{' with faults' if with_faults else ''}"
    print(f"\n{title} for {seconds:.0f} s  [{load_average()}]", flush=True)
    work = load.open_loop(client, staff, Mix(), rec, rate, seconds, drain=180)
    if with_faults:
        took, _ = await asyncio.gather(work, faults.inject(stack, rec, seconds))
    else:
        took = await work
    figures = record.report(rec, took, title)
    print(f"   [{load_average()}]")
    waited = audit.quiesce(stack.db.url)
    print(f"   event pipeline quiet {waited:.0f} s after the load; restarts: "
          + ", ".join(f"{n} {p.restarts} {p.exit_codes}" for n, p in stack.processes.items()))
    return {**figures, "audit": audit.audit(stack.db.url, title)}


async def drill(args, stack: Stack) -> int:
    users = staffing.seed(stack.env)
    client = Client("127.0.0.1", stack.port, connections=args.connections)
    staff = await staffing.sign_in(client, users)
    rec = record.Recorder()
    verdict: list[str] = []
    shape = stack.shape
    print(f"shape: gunicorn {shape.web_workers} x {shape.web_threads} threads, Dramatiq {shape.worker_processes} "
          f"x {shape.worker_threads}, 2 schedulers (tick {shape.tick_seconds} s), client bound "
          f"{args.connections} connections; {os.cpu_count()} cores  [{load_average()}]", flush=True)

    raw_rate = None
    if not args.skip_saturation:
        raw_rate = await asyncio.to_thread(raw.whole_cases_per_second)
        print(f"\nraw SpiffWorkflow in memory: {raw_rate:.1f} whole reference cases/s (one core)  [{load_average()}]")
        print("\nsaturation, whole reference cases through HTTP (register, accept, 承办, 审核, 批准, issue; "
              "each step found by a search of the caseworker's queue):", flush=True)
        best, n = await _saturation(client, staff, rec, args.stage, args.clerks, stack, args.profile)
        print(f"   saturation: {best:.2f} whole cases/s with {n} in flight; raw SpiffWorkflow {raw_rate:.1f}/s; "
              f"ratio {best / raw_rate:.3f} (goal 0.25)", flush=True)
    rate = args.rate
    if rate is None:
        print("\nramp: the office day's arrival rate, a quarter more each stage", flush=True)
        saturated = await _ramp(client, staff, rec, args.ramp_start, args.stage)
        rate = round(0.7 * saturated, 2)
        print(f"   sustained up to {saturated:.2f} cases/s; the drill runs at 70%: {rate:.2f} cases/s", flush=True)
    runs = [] if args.faults_only else [False]
    runs += [] if args.no_faults else [True]
    for with_faults in runs:
        out = await _office(stack, client, staff, rec, rate, args.seconds, with_faults)
        label = "with faults" if with_faults else "without faults"
        if out["errors"]:
            verdict.append(f"{label}: {out['errors']} errors")
        if any(out["audit"].values()):
            verdict.append(f"{label}: audit " + ", ".join(k for k, v in out["audit"].items() if v))
        if out["list_p99"] >= 100 or out["completion_p99"] >= 250:
            verdict.append(f"{label}: p99 lists {out['list_p99']:.0f} ms (< 100), completions "
                           f"{out['completion_p99']:.0f} ms (< 250)")
    client.close()
    print("\na month later: one tick at that instant, then the audit again", flush=True)
    later = time.strftime("%Y-%m-%dT10:00:00+08:00", time.localtime(time.time() + 30 * 86400))
    print("   " + stack.run("tick", "--now", later).strip().replace("\n", "\n   "))
    found = audit.audit(stack.db.url, "a month later")
    if any(found.values()):
        verdict.append("a month later: audit " + ", ".join(k for k, v in found.items() if v))
    print("\nverdict: " + ("PASS" if not verdict else "FAIL\n  " + "\n  ".join(verdict)) + f"  [{load_average()}]")
    return 1 if verdict else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL; the drill creates its own database there and drops it")
    parser.add_argument("--seconds", type=float, default=90, help="each office-day run")
    parser.add_argument("--stage", type=float, default=20, help="each ramp or saturation stage")
    parser.add_argument("--rate", type=float, help="office-day arrival rate (cases/s); default: 70%% of the ramp's")
    parser.add_argument("--ramp-start", type=float, default=0.5)
    parser.add_argument("--skip-saturation", action="store_true")
    parser.add_argument("--clerks", type=lambda t: [int(x) for x in t.split(",")], default=[2, 4, 8, 16, 32],
                        help="cases in flight, tried in turn, for the saturation rate (comma-separated)")
    parser.add_argument("--profile", type=Path, help="sample the processes with py-spy at the last --clerks; "
                        "samples kept in this directory")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--faults-only", action="store_true")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=64, help="the client's bound on requests in flight")
    parser.add_argument("--keep", type=Path, help="keep the processes' logs in this directory")
    parser.add_argument("--keep-db", action="store_true", help="leave the drill's database for a look afterwards")
    parser.add_argument("--code", type=Path, help="run the onewindow processes from this checkout (compare versions)")
    args = parser.parse_args()
    shape = Shape(args.web_workers, args.web_threads, args.worker_processes, args.worker_threads)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    stack = Stack(args.pg, shape, args.keep, args.code)
    if args.code:
        print(f"onewindow processes run from {stack.code}")
    code = 1
    try:
        stack.start()
        code = asyncio.run(drill(args, stack))
    finally:
        stack.stop()
        if args.keep_db:
            print(f"the database is kept: {stack.db.url}")
        stack.close(drop=not args.keep_db)
    sys.exit(code)


if __name__ == "__main__":
    main()

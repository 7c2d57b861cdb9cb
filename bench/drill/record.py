"""What the drill saw: every request's operation, time, latency and outcome; the faults' windows; and
the figures printed from them (throughput, p50 and p99 per operation, errors).

A failed request is *injected* when a fault explains it: the connection broke or the answer was 503
while a fault was active or within ``GRACE`` seconds after it ended (a killed process's requests, a
terminated database connection). Anything else that is not the expected answer is an *error*,
whenever it happens; a 500 is always an error.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

GRACE = 5.0
LIST_VIEWS = ("list_queue", "list_search", "list_inbox")
COMPLETIONS = ("accept", "correction", "reject", "complete_handle", "complete_review", "complete_approve",
               "complete_co_review", "issue")


@dataclass
class Fault:
    name: str
    start: float
    end: float | None = None


@dataclass
class Recorder:
    t0: float = field(default_factory=time.monotonic)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[tuple[float, str, str]] = field(default_factory=list)
    injected: list[tuple[float, str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    cases_started: int = 0
    cases_finished: int = 0
    cases_abandoned: int = 0
    resolved: int = 0  # retries after a fault that found the lost try had gone through (409)
    late_arrivals: int = 0  # arrivals that waited for the client's bound (the offered rate was not met)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def fault(self, name: str) -> Fault:
        f = Fault(name, self.now())
        self.faults.append(f)
        return f

    def _explained(self, at: float) -> str | None:
        for f in self.faults:
            if f.start <= at and (f.end is None or at <= f.end + GRACE):
                return f.name
        return None

    def answered(self, op: str, answer, ok: bool) -> bool:
        """Record an answer; True when it failed and a fault explains it."""
        self.latencies[op].append(answer.seconds)
        if ok:
            return False
        detail = f"{answer.status} {answer.body[:300].decode(errors='replace')}"
        fault = self._explained(self.now()) if answer.status == 503 else None
        (self.injected if fault else self.errors).append((self.now(), op, f"[{fault}] {detail}" if fault else detail))
        return fault is not None

    def failed(self, op: str, detail: str) -> bool:
        fault = self._explained(self.now()) if not detail.startswith(("no open", "Type", "Key")) else None
        (self.injected if fault else self.errors).append((self.now(), op, f"[{fault}] {detail}" if fault else detail))
        return fault is not None

    def reset(self) -> None:
        """Forget what was seen (a warm-up's figures)."""
        self.latencies.clear()
        self.errors.clear()
        self.injected.clear()
        self.faults.clear()
        self.cases_started = self.cases_finished = self.cases_abandoned = self.late_arrivals = self.resolved = 0
        self.t0 = time.monotonic()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


def report(rec: Recorder, seconds: float, title: str) -> dict:
    """Print the figures of one phase; return them for the verdict."""
    total = sum(len(v) for v in rec.latencies.values())
    print(f"\n== {title}: {seconds:.0f} s, {total} requests, {total / seconds:.1f} requests/s, "
          f"cases started {rec.cases_started}, finished {rec.cases_finished} "
          f"({rec.cases_finished / seconds:.2f}/s), abandoned {rec.cases_abandoned}, late arrivals {rec.late_arrivals}")
    print(f"   {'operation':22s}{'count':>8s}{'per s':>8s}{'p50 ms':>9s}{'p99 ms':>9s}{'max ms':>9s}")
    for op in sorted(rec.latencies):
        v = rec.latencies[op]
        print(f"   {op:22s}{len(v):8d}{len(v) / seconds:8.1f}{pct(v, .5):9.1f}{pct(v, .99):9.1f}{max(v) * 1000:9.1f}")
    lists = [x for op in LIST_VIEWS for x in rec.latencies.get(op, [])]
    done = [x for op in COMPLETIONS for x in rec.latencies.get(op, [])]
    out = {"list_p99": pct(lists, .99), "completion_p99": pct(done, .99), "errors": len(rec.errors),
           "injected": len(rec.injected), "cases_per_s": rec.cases_finished / seconds,
           "requests_per_s": total / seconds,
           "late": rec.late_arrivals}
    print(f"   list views (queue, search, inbox): p50 {pct(lists, .5):.1f} ms, p99 {out['list_p99']:.1f} ms; "
          f"completions: p50 {pct(done, .5):.1f} ms, p99 {out['completion_p99']:.1f} ms")
    print(f"   errors: {len(rec.errors)}; failures explained by an injected fault: {len(rec.injected)}; "
          f"retries that found the lost try done: {rec.resolved}")
    for at, op, detail in rec.errors[:15]:
        print(f"     ERROR at {at:6.1f} s {op}: {detail}")
    by_fault: dict[str, int] = defaultdict(int)
    for _at, _op, detail in rec.injected:
        by_fault[detail.split("]")[0].lstrip("[")] += 1
    for name, n in by_fault.items():
        print(f"     injected ({name}): {n}")
    if rec.faults:
        print("   faults: " + ", ".join(f"{f.name} at {f.start:.0f}-{(f.end or f.start):.0f} s" for f in rec.faults))
    return out

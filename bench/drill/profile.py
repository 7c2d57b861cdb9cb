"""Where the time goes: py-spy samples the web processes (and the Dramatiq worker) while the load
runs, without stopping them (``--nonblocking``), and the drill prints the share of samples spent in
each part: SpiffWorkflow, the engine's store, SQLAlchemy, psycopg (mostly waiting on the server),
Flask and gunicorn, JSON, the app's own packages; then the functions with the most samples of
their own. Needs py-spy (``pip install -e .[bench]``) and the right to trace (root, or ptrace_scope 0).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

PARTS = [  # (label, how a frame's file starts, as py-spy prints it); a sample counts for each part on its stack
    ("SpiffWorkflow", "SpiffWorkflow/"), ("engine/spiff (the door to it)", "engine/spiff/"),
    ("engine/store.py", "engine/store.py"), ("engine/cases.py", "engine/cases.py"),
    ("engine/events.py", "engine/events.py"), ("intake", "intake/"), ("worklists", "worklists/"),
    ("sla", "sla/"), ("sqlalchemy", "sqlalchemy/"), ("psycopg (mostly waiting on the server)", "psycopg/"),
    ("flask", "flask/"), ("werkzeug", "werkzeug/"), ("gunicorn", "gunicorn/"), ("json", "json/"),
    ("jinja2", "jinja2/"), ("jsonschema", "jsonschema/"), ("prometheus_client", "prometheus_client/"),
    ("redis", "redis/"), ("dramatiq", "dramatiq/"), ("logging", "logging/"),
]


def start(pids: list[int], seconds: float, out: Path) -> list[tuple[int, subprocess.Popen, Path]]:
    if shutil.which("py-spy") is None:
        raise RuntimeError("py-spy is not installed (pip install -e .[bench])")
    out.mkdir(parents=True, exist_ok=True)
    running = []
    for pid in pids:
        path = out / f"py-spy-{pid}.txt"
        proc = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)),
                                 "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.append((pid, proc, path))
    return running


def _frames(stack: str) -> list[str]:
    return stack.split(";")


def report(running: list[tuple[int, subprocess.Popen, Path]], title: str) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for _pid, proc, path in running:
        proc.wait(timeout=120)
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = _frames(stack)
            total += n
            for label, marker in PARTS:
                if any(f"({marker}" in f or f"/{marker}" in f for f in frames):
                    inclusive[label] += n
            own[frames[-1]] += n
    if not total:
        print(f"\n== profile {title}: no samples")
        return
    print(f"\n== profile {title}: {total} samples of busy threads in {len(running)} processes "
          "(share of samples with the part anywhere on the stack)")
    for label, _marker in PARTS:
        if inclusive[label]:
            print(f"   {label:32s}{100 * inclusive[label] / total:6.1f} %")
    print("   functions with the most samples of their own:")
    for frame, n in own.most_common(12):
        print(f"   {100 * n / total:6.1f} %  {frame[:150]}")

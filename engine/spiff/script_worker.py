"""A script worker: a process of its own that runs designers' scripts under OS limits.

``engine.spiff.script_pool`` starts it (``python -I``, an empty environment: no settings, no
secrets) and sends it jobs over its stdin; it answers on its stdout (``engine.spiff.script_wire``).
The kernel enforces what the sandbox's in-code checks cannot (a single C-level call such as a
three-argument ``pow`` of huge numbers never returns to them):

* RLIMIT_AS, fixed at start with soft = hard, so nothing in the process can raise it: a script that
  builds more than the limit gets MemoryError, is answered "too large", and the worker then exits
  (a worker that ran out of memory is not trusted with the next job).
* RLIMIT_CPU: before each job the soft limit is moved to the CPU time used so far plus the job's
  allowance; past it the kernel sends SIGXCPU, whose default action ends the process. The hard limit
  stays as inherited so the next job can move the soft one on; the web process's wall-clock
  watchdog (which kills the worker) is the bound nothing in here can move.
* RLIMIT_CORE 0: a worker ended for its CPU time leaves no core file.
"""

from __future__ import annotations

import math
import resource
import sys
from contextlib import nullcontext
from types import TracebackType

from engine import clock
from engine.spiff import sandbox
from engine.spiff.script_errors import ScriptError, ScriptRefused
from engine.spiff.script_wire import PLAIN_ERRORS, WireError, dumps, loads, read_message, write_message

OUR_ERRORS = frozenset({"ScriptError", "ScriptRefused", "ScriptTimeout", "ScriptTooLarge"})


def allow_cpu(seconds: float) -> None:
    """Let the next job use ``seconds`` of CPU time, and half a second to a second and a half more (the
    limit counts whole seconds; the in-code deadline, at ``seconds`` of wall time, speaks first)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(used.ru_utime + used.ru_stime + seconds + 0.5)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _line_of(tb: TracebackType | None) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == sandbox.FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _plain_args(args: tuple) -> tuple:
    return tuple(a if isinstance(a, str | int | float | bool | bytes | None) else repr(a) for a in args)


def error_reply(exc: BaseException) -> tuple:
    """The reply for a job that raised ``exc``: class name, arguments and the script's line."""
    name = type(exc).__name__
    if isinstance(exc, ScriptRefused):
        return ("error", name, (exc.problems,), exc.lineno, False)
    if isinstance(exc, ScriptError):
        return ("error", name if name in OUR_ERRORS else "ScriptError", (str(exc),),
                exc.lineno or _line_of(exc.__traceback__), False)
    if name in PLAIN_ERRORS and type(exc).__module__ == "builtins":
        return ("error", name, _plain_args(exc.args), _line_of(exc.__traceback__), False)
    return ("error", "ScriptError", (f"{name}: {exc}",), _line_of(exc.__traceback__), False)


def answer(payload: bytes, memory_mb: int) -> tuple[bytes, bool]:
    """Run one job; returns the reply and whether this worker ends after sending it."""
    try:
        mode, source, context, external, timeout, frozen = loads(payload)
        allow_cpu(timeout)
        with clock.frozen(frozen) if frozen is not None else nullcontext():
            if mode == "eval":
                value = sandbox.evaluate(source, context, external, timeout)
            else:
                sandbox.execute(source, context, external, timeout)
                value = context
        try:
            return dumps(("ok", value)), False
        except (TypeError, AttributeError, ValueError) as exc:  # what pickle raises for a generator, a module...
            message = f"the script left a value that cannot be kept: {exc}"
            return dumps(("error", "ScriptError", (message,), 0, False)), False
    except MemoryError:
        # what ran out of memory may have left the heap in pieces: answer, then end
        message = f"script ran out of its memory limit of {memory_mb} MB and was stopped"
        return dumps(("error", "ScriptTooLarge", (message,), 0, True)), True
    except WireError as exc:
        return dumps(("error", "ScriptError", (f"the job could not be read: {exc}",), 0, True)), True
    except Exception as exc:
        return dumps(error_reply(exc)), False


def main() -> None:
    memory_mb = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    jobs, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever gets printed by accident cannot corrupt a reply
    while True:
        payload = read_message(jobs)
        if payload is None:  # the web process closed our stdin, or ended
            return
        reply, retire = answer(payload, memory_mb)
        write_message(replies, reply)
        if retire:
            return

"""The script engine every workflow gets: the restricted evaluator, under OS limits.

SpiffWorkflow evaluates gateway conditions, script tasks, DMN cells, timer expressions and
completion conditions either through ``workflow.script_engine`` or straight through its
``environment``; so the sandbox is the *environment*, and nothing takes a way around it.

Every source is compiled here first (a refusal is found before anything runs). Plain code, with no
call, loop or arithmetic (``decision == "accept"``, ``outcome = "done"``: nearly every condition and
DMN cell), then runs in this process, since it cannot outgrow the data it reads. Everything else
runs in a worker process of the pool (``engine.spiff.script_pool``) under a CPU-time and a memory
limit the kernel enforces, so no single call can stall the web process.

Entry points other packages use, kept stable: ``RestrictedEnvironment(timeout).evaluate(expression,
data, external=None)`` and ``.execute(script, data, external=None)``, ``check_script(source,
expression=...)``, ``make_script_engine()``, and the errors (``ScriptError`` and its subclasses).
"""

from __future__ import annotations

import threading

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine import clock
from engine.spiff import sandbox
from engine.spiff.feel_runtime import null_scope
from engine.spiff.sandbox import check_script  # noqa: F401  (an entry point of this module)
from engine.spiff.script_errors import (  # noqa: F401  (callers catch these from here)
    ScriptError,
    ScriptLimit,
    ScriptRefused,
    ScriptTimeout,
    ScriptTooLarge,
)
from engine.spiff.script_pool import Limits, ScriptPool, new_pool
from engine.spiff.timers import install_clock

_limits = Limits()
_pool: ScriptPool | None = None
_pool_lock = threading.Lock()


def configure(limits: Limits) -> None:
    """Set the limits (the composition root passes the configured values); a pool with other
    limits is closed, and the next script starts workers with these."""
    global _limits, _pool
    with _pool_lock:
        _limits = limits
        if _pool is not None and _pool.limits != limits:
            _pool.close()
            _pool = None


def limits() -> Limits:
    return _limits


def pool() -> ScriptPool:
    """The process's pool of script workers (one per process: workers are processes of this one)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = new_pool(_limits)
        return _pool


def _with_nulls(source: str, context: dict, external: dict | None) -> dict | None:
    """FEEL and JUEL read a missing variable as null: compiled ones get ``None`` for each they lack."""
    nulls = null_scope(source, {**(external or {}), **context})
    return {**nulls, **(external or {})} if nulls else external


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff script environment: compile restricted, run plain code here and the rest in a worker."""

    def __init__(self, timeout_seconds: float | None = None):
        super().__init__({})
        self.timeout_seconds = _limits.time_seconds if timeout_seconds is None else timeout_seconds

    def evaluate(self, expression, context, external_context=None):
        source = expression.strip()
        external_context = _with_nulls(source, context, external_context)
        if sandbox.is_bounded(source, "eval"):
            return sandbox.evaluate(source, context, external_context, self.timeout_seconds)
        sandbox.compiled(source, "eval")  # a refusal is raised here, before a worker is asked
        return pool().run("eval", source, context, external_context or {}, self.timeout_seconds, clock.fixed())

    def execute(self, script, context, external_context=None):
        """Run ``script`` over ``context``; the data is replaced only if the script succeeds."""
        external_context = _with_nulls(script, context, external_context)
        if sandbox.is_bounded(script, "exec"):
            sandbox.execute(script, context, external_context, self.timeout_seconds)
            return True
        sandbox.compiled(script, "exec")
        result = pool().run("exec", script, context, external_context or {}, self.timeout_seconds, clock.fixed())
        context.clear()
        context.update(result)
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """Spiff's script engine over :class:`RestrictedEnvironment`, with clearer error messages."""

    def __init__(self, timeout_seconds: float | None = None):
        super().__init__(environment=RestrictedEnvironment(timeout_seconds))

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {type(err).__name__}: {err}",
                task=task, exception=err,
            ) from err

    def create_task_exec_exception(self, task, script, err):
        if isinstance(err, SpiffWorkflowException):
            return super().create_task_exec_exception(task, script, err)
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        return WorkflowTaskException(
            f"{type(err).__name__}: {err}", task=task, exception=err,
            line_number=line_number, error_line=error_line,
        )

    def get_error_line_number_and_content(self, script, err):
        # errors from a worker carry the script's line (their traceback stayed in the worker)
        lineno = getattr(err, "lineno", 0)
        if isinstance(lineno, int) and 0 < lineno <= len(script.splitlines()):
            return lineno, script.splitlines()[lineno - 1]
        return super().get_error_line_number_and_content(script, err)


def make_script_engine(timeout_seconds: float | None = None) -> RestrictedScriptEngine:
    """The script engine every workflow gets; also points Spiff's timers at the one clock."""
    install_clock()
    return RestrictedScriptEngine(timeout_seconds)

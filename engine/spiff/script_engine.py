"""The restricted script engine: the only way designers' Python runs inside onewindow.

SpiffWorkflow evaluates gateway conditions, script tasks, DMN cells, timer expressions and
completion conditions either through ``workflow.script_engine`` or straight through its
``environment``; so the sandbox is the *environment*, and nothing takes a way around it.

The source is compiled by RestrictedPython with a stricter policy (no imports, no class statements,
no ``open``/``eval``/``getattr``... by name, no ``_names``) and cached per source text. At run time
the code sees a small builtins table, ``datetime``/``date``/``timedelta`` (reading the one clock),
and the task data as its globals. Two run-time bounds are compiled into the code rather than bolted on
with ``sys.settrace`` (slow, and it fights debuggers and coverage) or signals (main thread only):

* time: every ``while`` body, every ``for``/comprehension step and every function or lambda call
  checks a per-thread deadline, so a runaway script stops in any thread after ``timeout_seconds``;
  straight-line expressions (most conditions) pay no per-step cost.
* size: ``*``, ``**``, ``<<``, ``pow``, ``%``-format and f-string widths are checked *before* they
  allocate, ``+`` right after; ``range`` and ``str.ljust``-style padding are capped. Other C-level
  growth (``join`` of a long list of long strings, appending in a loop until the deadline) is left
  to the worker's memory limit.
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
import re
import threading
from datetime import timedelta
from functools import lru_cache
from time import monotonic
from types import CodeType

from RestrictedPython import (
    PrintCollector,
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
)
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import IOPERATOR_TO_STR
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import OneWindowError
from engine.spiff.timers import ClockDate, ClockDatetime, install_clock

MAX_ITEMS = 10_000_000  # longest str/list/tuple an operator may build
MAX_RANGE = 1_000_000
MAX_INT_BITS = 1_000_000  # about 300,000 decimal digits
_FILENAME = "<string>"  # Spiff finds the failing line by this frame name
# Not in the builtins anyway; named here so the deploy-time check says why, not "not defined".
_FORBIDDEN_NAMES = frozenset(
    {"open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
     "hasattr", "breakpoint", "memoryview"}
)


class ScriptError(OneWindowError):
    """A script or expression that the sandbox refused or stopped."""

    status = 422
    title = "Script error"


class ScriptRefused(ScriptError):
    """The source uses something the sandbox forbids (found when compiling, before any effect)."""

    def __init__(self, problems: list[str], lineno: int = 0):
        super().__init__("; ".join(problems))
        self.problems = list(problems)
        self.lineno = lineno


class ScriptTimeout(ScriptError):
    """The script ran past its time limit."""


class ScriptTooLarge(ScriptError):
    """The script tried to build a value beyond the sandbox's size limits."""


# ---- compile: policy and cache -------------------------------------------------------------------

def _at(node: ast.AST, where: ast.AST) -> ast.AST:
    return ast.fix_missing_locations(ast.copy_location(node, where))


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    return _at(ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[]), where)


_OP_GUARDS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_"}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, with deadline checks and size guards compiled in."""

    def visit_Import(self, node):
        self.error(node, "import is not allowed (datetime, date and timedelta are already there)")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        self.error(node, "class definitions are not allowed")
        return node

    def visit_Name(self, node):
        if node.id in _FORBIDDEN_NAMES:
            self.error(node, f'"{node.id}" is not allowed in scripts')
        return super().visit_Name(node)

    def visit_Attribute(self, node):
        # ValueError.mro() hands out BaseException, which slips past every `except Exception`.
        if node.attr == "mro":
            self.error(node, '"mro" is not allowed in scripts')
        return super().visit_Attribute(node)

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        guard = _OP_GUARDS.get(type(node.op))
        return _call(guard, [node.left, node.right], node) if guard else node

    def visit_AugAssign(self, node):
        # RestrictedPython refuses `totals["fee"] += 5`; designers write it, so route it to a guard
        # that reads and writes the item once each (attribute targets stay refused).
        target = node.target
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            return super().visit_AugAssign(node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        args = [self.visit(target.value), self.visit(target.slice), op, self.visit(node.value)]
        return _at(ast.Expr(_call("_augitem_", args, node)), node)

    def visit_FormattedValue(self, node):
        # f"{x:>{width}}": the spec is built at run time, so pass it through a check first.
        node = super().visit_FormattedValue(node)
        if node.format_spec is not None:
            checked = ast.FormattedValue(_call("_spec_", [node.format_spec], node), -1, None)
            node.format_spec = _at(ast.JoinedStr([checked]), node)
        return node

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, _at(ast.Expr(_call("_tick_", [], node)), node))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _at(ast.Expr(_call("_tick_", [], node)), node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        node.body = _at(ast.BoolOp(ast.Or(), [_call("_tick_", [], node), node.body]), node)
        return node


@lru_cache(maxsize=4096)
def _compiled(source: str, mode: str) -> CodeType:
    try:
        compile_mode = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compile_mode(source, _FILENAME, policy=_Policy)
    except (SyntaxError, ValueError) as err:  # warnings-as-errors, NUL bytes
        raise ScriptRefused([f"Line {getattr(err, 'lineno', None)}: {err}"]) from None
    if result.errors:
        line = result.errors[0].split(":", 1)[0].removeprefix("Line ")
        raise ScriptRefused(list(result.errors), int(line) if line.isdigit() else 0)
    return result.code


def check_script(source: str, *, expression: bool = False) -> list[str]:
    """Static check at deploy time: what the sandbox would refuse in ``source`` (empty if fine).

    ``expression=True`` checks a condition / DMN cell / timer expression instead of a script.
    """
    try:
        _compiled(source.strip() if expression else source, "eval" if expression else "exec")
    except ScriptRefused as refused:
        return refused.problems
    return []


# ---- run time: deadline and size guards ----------------------------------------------------------

class _Deadline(threading.local):
    at = math.inf
    limit = 0.0


_deadline = _Deadline()


def _tick() -> None:
    if monotonic() > _deadline.at:
        raise ScriptTimeout(f"script ran longer than {_deadline.limit:g} s and was stopped")


def _getiter(iterable):
    at = _deadline.at
    for item in iterable:
        if monotonic() > at:
            _tick()
        yield item


_SIZED = (str, bytes, list, tuple)


def _too_large(what: str, size: int, limit: int):
    raise ScriptTooLarge(f"{what} of {size:,} is over the script limit of {limit:,}")


def _check_mul(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            _too_large("integer product (bits)", a.bit_length() + b.bit_length(), MAX_INT_BITS)
    elif isinstance(b, int) and isinstance(a, _SIZED) and len(a) * b > MAX_ITEMS:
        _too_large("repeated sequence (items)", len(a) * b, MAX_ITEMS)
    elif isinstance(a, int) and isinstance(b, _SIZED) and len(b) * a > MAX_ITEMS:
        _too_large("repeated sequence (items)", len(b) * a, MAX_ITEMS)


def _check_pow(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if a.bit_length() * b > MAX_INT_BITS:
            _too_large("power (bits)", a.bit_length() * b, MAX_INT_BITS)


def _check_lshift(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        _too_large("shifted integer (bits)", a.bit_length() + b, MAX_INT_BITS)


def _mul(a, b):
    _check_mul(a, b)
    return a * b


def _pow(a, b, mod=None):
    if mod is None:
        _check_pow(a, b)
        return a**b
    return pow(a, b, mod)


def _lshift(a, b):
    _check_lshift(a, b)
    return a << b


def _add(a, b):
    # Checked after the fact: a sum is at most twice its larger operand, so doubling stops here.
    result = a + b
    if isinstance(result, _SIZED) and len(result) > MAX_ITEMS:
        _too_large("concatenation (items)", len(result), MAX_ITEMS)
    return result


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([^a-zA-Z%]*)")
_DIGITS = re.compile(r"\d+")


def _spec(spec: str, star_is_width: bool = False) -> str:
    if star_is_width and "*" in spec:
        raise ScriptTooLarge("'*' widths in % formats are not allowed in scripts")
    for digits in _DIGITS.findall(spec):
        if len(digits) > 8 or int(digits) > MAX_ITEMS:
            raise ScriptTooLarge(f"format width {digits[:20]} is over the script limit of {MAX_ITEMS:,}")
    return spec


def _mod(a, b):
    if isinstance(a, str | bytes) and "%" in (text := a if isinstance(a, str) else a.decode("latin-1")):
        for spec in _PERCENT_SPEC.findall(text):
            _spec(spec, star_is_width=True)
    return a % b


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul,
}
_INPLACE_CHECKS = {"*=": _check_mul, "**=": _check_pow, "<<=": _check_lshift}


def _inplacevar(op: str, x, y):
    if op == "%=":
        return _mod(x, y)
    if op in _INPLACE_CHECKS:
        _INPLACE_CHECKS[op](x, y)
    result = _INPLACE[op](x, y)
    if isinstance(result, _SIZED) and len(result) > MAX_ITEMS:
        _too_large("concatenation (items)", len(result), MAX_ITEMS)
    return result


def _augitem(obj, key, op: str, value) -> None:
    full_write_guard(obj)[key] = _inplacevar(op, obj[key], value)


def _range(*args) -> range:
    r = range(*args)
    try:
        n = len(r)
    except OverflowError:  # longer than sys.maxsize
        n = args[-1] if len(args) < 3 else abs(args[1] - args[0])
    if n > MAX_RANGE:
        _too_large("range (items)", n, MAX_RANGE)
    return r


_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _getattr(obj, name: str):
    value = safer_getattr_raise(obj, name)
    if name in _PADDING and isinstance(obj, str | bytes):
        def padded(*args, **kwargs):
            width = args[0] if args else kwargs.get("tabsize", 8)
            tabs = obj.count("\t" if isinstance(obj, str) else b"\t") if name == "expandtabs" else 1
            if width * max(1, tabs) > MAX_ITEMS:
                _too_large("padded string (chars)", width * max(1, tabs), MAX_ITEMS)
            return value(*args, **kwargs)
        return padded
    return value


def _apply(func, *args, **kwargs):
    return func(*args, **kwargs)


_C_INTERNAL_IMPORTS = frozenset({"_strptime", "time"})


def _internal_import(name, *args, **kwargs):
    # datetime.strptime/strftime import these from C through the caller's __builtins__; scripts
    # themselves can never name __import__ (refused at compile), so this serves only the C side.
    if name not in _C_INTERNAL_IMPORTS:
        raise ImportError(f"import of {name!r} is not allowed in scripts")
    return builtins.__import__(name, *args, **kwargs)


_SAFE_BUILTINS = {
    "abs", "all", "any", "bool", "callable", "chr", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "next", "ord", "repr",
    "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip",
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError",
    "LookupError", "NameError", "RuntimeError", "StopIteration", "TypeError", "ValueError",
    "ZeroDivisionError",
}
_BUILTINS = {name: getattr(builtins, name) for name in _SAFE_BUILTINS} | {
    "None": None, "True": True, "False": False, "range": _range, "pow": _pow,
    "datetime": ClockDatetime, "date": ClockDate, "timedelta": timedelta, "__import__": _internal_import,
}

# Set over the task data on every run, so data can never shadow a guard.
_GUARDS = {
    "__builtins__": _BUILTINS, "_getattr_": _getattr, "_getitem_": operator.getitem,
    "_getiter_": _getiter, "_write_": full_write_guard, "_apply_": _apply, "_print_": PrintCollector,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar, "_tick_": _tick, "_mul_": _mul, "_pow_": _pow, "_lshift_": _lshift,
    "_add_": _add, "_augitem_": _augitem, "_mod_": _mod, "_spec_": _spec,
}


# ---- Spiff plug-in ---------------------------------------------------------------------------------

class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff script environment that compiles with RestrictedPython and runs under a deadline."""

    def __init__(self, timeout_seconds: float = 1.0):
        super().__init__({})
        self.timeout_seconds = timeout_seconds

    def _run(self, code: CodeType, scope: dict):
        previous, previous_limit = _deadline.at, _deadline.limit
        _deadline.at, _deadline.limit = monotonic() + self.timeout_seconds, self.timeout_seconds
        try:
            # eval() runs exec-mode code objects too; this one is RestrictedPython's, over guarded globals
            return eval(code, scope)
        finally:
            _deadline.at, _deadline.limit = previous, previous_limit

    def evaluate(self, expression, context, external_context=None):
        code = _compiled(expression.strip(), "eval")
        scope = {**external_context, **context} if external_context else context.copy()
        scope.update(_GUARDS)
        return self._run(code, scope)

    def execute(self, script, context, external_context=None):
        """Run ``script`` over a copy of ``context``; write the data back only if it succeeds."""
        code = _compiled(script, "exec")
        external = external_context or {}
        scope = {**external, **context}
        scope.update(_GUARDS)
        self._run(code, scope)
        result = {
            key: value for key, value in scope.items()
            if key not in _GUARDS and not callable(value) and (key in context or key not in external)
        }
        context.clear()
        context.update(result)
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """Spiff's script engine over :class:`RestrictedEnvironment`, with clearer error messages."""

    def __init__(self, timeout_seconds: float = 1.0):
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
        if isinstance(err, ScriptRefused) and 0 < err.lineno <= len(script.splitlines()):
            return err.lineno, script.splitlines()[err.lineno - 1]
        return super().get_error_line_number_and_content(script, err)


def make_script_engine(timeout_seconds: float = 1.0) -> RestrictedScriptEngine:
    """The script engine every workflow gets; also points Spiff's timers at the one clock."""
    install_clock()
    return RestrictedScriptEngine(timeout_seconds)

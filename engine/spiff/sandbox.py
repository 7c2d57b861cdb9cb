"""The restricted evaluator: how designers' Python is compiled and run (no SpiffWorkflow here).

``engine.spiff.script_engine`` plugs it into SpiffWorkflow; ``engine.spiff.script_worker`` runs it in
worker processes under OS limits. Only :func:`is_bounded` code (no calls, no loops, no arithmetic)
runs in the web process itself.

The source is compiled by RestrictedPython with a stricter policy (no imports, no class statements,
no ``open``/``eval``/``getattr``... by name, no ``_names``) and cached per source text. At run time
the code sees a small builtins table, ``datetime``/``date``/``timedelta`` (reading the one clock),
and the task data as its globals. Two run-time bounds are compiled into the code (``guards``) rather
than bolted on with ``sys.settrace`` (slow, and it fights debuggers and coverage) or signals (main
thread only):

* time: every ``while`` body, every ``for``/comprehension step and every function or lambda call
  checks a per-thread deadline, so a runaway script stops in any thread after ``timeout_seconds``;
  straight-line expressions (most conditions) pay no per-step cost.
* size: ``*``, ``**``, ``<<``, ``pow``, ``%``-format and f-string widths are checked *before* they
  allocate, ``+`` right after; ``range`` and ``str.ljust``-style padding are capped.

Other C-level growth (``join`` of a long list of long strings, appending in a loop until the
deadline) and single C-level calls that run long (a three-argument ``pow`` of big numbers) are
stopped by the worker process's CPU-time and memory limits (``engine.spiff.script_pool``).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from time import monotonic
from types import CodeType

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import IOPERATOR_TO_STR

from engine.spiff.guards import GUARDS, deadline
from engine.spiff.script_errors import (  # noqa: F401  (the names callers import from here)
    ScriptError,
    ScriptLimit,
    ScriptRefused,
    ScriptTimeout,
    ScriptTooLarge,
)

FILENAME = "<string>"  # the failing line is found by this frame name
# Not in the builtins anyway; named here so the deploy-time check says why, not "not defined".
_FORBIDDEN_NAMES = frozenset(
    {"open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
     "hasattr", "breakpoint", "memoryview"}
)


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
def compiled(source: str, mode: str) -> CodeType:
    try:
        compile_mode = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compile_mode(source, FILENAME, policy=_Policy)
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
        compiled(source.strip() if expression else source, "eval" if expression else "exec")
    except ScriptRefused as refused:
        return refused.problems
    return []


# ---- bounded code: what may run in the web process ---------------------------------------------------

# No call, loop, comprehension, arithmetic, slice or f-string: such code does work proportional to the
# size of the data it reads and no more (a comparison walks its operands once), so no single step of it
# can stall the process. Everything else runs in a worker process under OS limits.
_BOUNDED_NODES = (
    ast.Expression, ast.Module, ast.Assign, ast.Expr, ast.Pass, ast.Compare, ast.BoolOp, ast.UnaryOp,
    ast.IfExp, ast.Name, ast.Constant, ast.Subscript, ast.Tuple, ast.List, ast.Set, ast.Dict,
    ast.cmpop, ast.boolop, ast.Not, ast.USub, ast.UAdd, ast.expr_context,
)


@lru_cache(maxsize=4096)
def is_bounded(source: str, mode: str) -> bool:
    """Whether ``source`` (``"eval"`` or ``"exec"`` mode) is plain enough to run in the web process."""
    try:
        tree = ast.parse(source, mode=mode)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if not isinstance(node, _BOUNDED_NODES):
            return False
        if isinstance(node, ast.Assign) and not all(isinstance(t, ast.Name) for t in node.targets):
            return False
        if isinstance(node, ast.Dict) and None in node.keys:  # {**spread} copies a mapping
            return False
    return True


# ---- running -------------------------------------------------------------------------------------------

def _run(code: CodeType, scope: dict, timeout_seconds: float):
    previous, previous_limit = deadline.at, deadline.limit
    deadline.at, deadline.limit = monotonic() + timeout_seconds, timeout_seconds
    try:
        # eval() runs exec-mode code objects too; this one is RestrictedPython's, over guarded globals
        return eval(code, scope)
    finally:
        deadline.at, deadline.limit = previous, previous_limit


def evaluate(expression: str, context: dict, external_context: dict | None, timeout_seconds: float):
    """The value of ``expression`` over the task data ``context`` (and ``external_context``)."""
    code = compiled(expression.strip(), "eval")
    scope = {**external_context, **context} if external_context else context.copy()
    scope.update(GUARDS)
    return _run(code, scope, timeout_seconds)


def execute(script: str, context: dict, external_context: dict | None, timeout_seconds: float) -> None:
    """Run ``script`` over a copy of ``context``; write the data back only if it succeeds."""
    code = compiled(script, "exec")
    external = external_context or {}
    scope = {**external, **context}
    scope.update(GUARDS)
    _run(code, scope, timeout_seconds)
    result = {
        key: value for key, value in scope.items()
        if key not in GUARDS and not callable(value) and (key in context or key not in external)
    }
    context.clear()
    context.update(result)

"""FEEL (DMN's Friendly Enough Expression Language) compiled to Python for the restricted engine.

Camunda 8 writes every expression in FEEL (``= approved = true``), and DMN tables from any modeler
hold FEEL unary tests (``[250..1000]``, ``"budget", "exceptional"``, ``not("x")``, ``< 5``, ``-``).
A grammar on lark parses the text at deploy time; the tree becomes Python source whose every
operator is a call on ``_`` (``engine.spiff.feel_runtime``), so the case runs it in the same sandbox
as every other expression and nothing is ever ``eval``-ed as FEEL. Why not ``bkflow-feel``: it
interprets FEEL itself, outside the sandbox and its limits, and pins ``pytz<2024``.

The subset is what modelers write: literals (numbers, strings, true/false/null, ``@"2026-03-01"``),
names and paths (``a.b``), lists (``[1, 2]``, ``a[1]``, ``a[item > 5]``), contexts (``{a: 1}``),
arithmetic, comparisons, ``and``/``or``/``not()``, ``between``, ``in``, ``if then else``,
``for ... return``, ``some/every ... satisfies`` and the built-in functions of
``feel_runtime.FUNCTIONS``. Anything else is an :class:`ExpressionError` naming the construct.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from engine.spiff.feel_runtime import FUNCTIONS

_KEYWORDS = ("and", "or", "not", "if", "then", "else", "between", "in", "for", "return", "some", "every",
             "satisfies", "instance", "of", "true", "false", "null", "function")
_MULTIWORD = sorted((n for n in FUNCTIONS if " " in n), key=len, reverse=True)

GRAMMAR = r"""
?expression: expr
unary_tests: "-"                                  -> any_input
           | "not" "(" positive_tests ")"         -> negated
           | positive_tests

positive_tests: positive_test ("," positive_test)*
?positive_test: interval
              | COMP endpoint                     -> compare_test
              | expr                              -> expr_test
interval: OPEN endpoint ".." endpoint CLOSE
?endpoint: additive
OPEN: "[" | "(" | "]"
CLOSE: "]" | ")" | "["

?expr: if_expr | for_expr | quantified | disjunction
if_expr: "if" expr "then" expr "else" expr
for_expr: "for" iterator ("," iterator)* "return" expr
quantified: QUANTIFIER iterator ("," iterator)* "satisfies" expr
QUANTIFIER: "some" | "every"
iterator: NAME "in" (range | disjunction)
range: additive ".." additive

?disjunction: conjunction | disjunction "or" conjunction     -> or_
?conjunction: comparison | conjunction "and" comparison     -> and_
?comparison: additive
           | additive COMP additive                         -> compare
           | additive "between" additive "and" additive     -> between
           | additive "in" "(" positive_tests ")"           -> in_
           | additive "in" positive_test                    -> in_one
           | additive "instance" "of" NAME                  -> instance_of
COMP: "!=" | "<=" | ">=" | "=" | "<" | ">"
?additive: multiplicative | additive ADDOP multiplicative    -> arith
ADDOP: "+" | "-"
?multiplicative: power | multiplicative MULOP power         -> arith
MULOP: "*" | "/"
?power: unary | power "**" unary                           -> power
?unary: postfix | "-" unary                                 -> neg
?postfix: primary
        | postfix "." NAME                                  -> path
        | postfix "[" expr "]"                              -> filter
        | FUNCNAME "(" [args] ")"                           -> call
        | NAME "(" [args] ")"                               -> call
        | "not" "(" [args] ")"                              -> not_call
args: expr ("," expr)*
?primary: NUMBER                                            -> number
        | STRING                                            -> string
        | "@" STRING                                        -> temporal
        | "true"                                            -> true
        | "false"                                           -> false
        | "null"                                            -> null
        | "?"                                               -> input_value
        | NAME                                              -> name
        | "[" [expr ("," expr)*] "]"                        -> list_
        | "{" [entry ("," entry)*] "}"                      -> context
        | "(" expr ")"
        | "function" "(" [args] ")" expr                     -> function_def
entry: (NAME | STRING) ":" expr

NUMBER: /\d+(\.\d+)?|\.\d+/
STRING: /"(\\.|[^"\\])*"/
FUNCNAME.2: /(@MULTIWORD@)(?=\s*\()/
NAME: /(?!(@KEYWORDS@)\b)[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*/
%import common.WS
%ignore WS
""".replace("@MULTIWORD@", "|".join(_MULTIWORD)).replace("@KEYWORDS@", "|".join(_KEYWORDS))


class ExpressionError(ValueError):
    """A text that is not FEEL (or not the part onewindow runs); ``fix`` says what to write instead."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message if not fix else f"{message}: {fix}")
        self.reason = message
        self.fix = fix


@dataclass(frozen=True)
class Code:
    """Python source for one FEEL node: ``q`` if it reads the DMN input (``?``), ``number`` if a literal."""

    text: str
    q: bool = False
    number: bool = False


def py_string(value: str) -> str:
    """A Python string literal with no quote or ``?`` inside, so Spiff's DMN ``?`` substitution (a
    regex that counts quotes) can never be fooled by what a designer wrote in a string."""
    out = []
    for ch in value:
        if ch in "\"'?\\" or not ch.isprintable():
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}" if ord(ch) < 65536
                       else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def python_name(name: str, dialect: str = "FEEL") -> str:
    if name in ("True", "False", "None"):
        raise ExpressionError(f"{name} is Python, not {dialect}", f"write {name.lower().replace('none', 'null')}")
    if keyword.iskeyword(name) or name.startswith("_") or not name.isidentifier():
        raise ExpressionError(f"the variable name {name!r} cannot be used",
                              "rename the variable (letters, digits and _, not starting with _, not a Python keyword)")
    return name


def _unquote(token: str) -> str:
    body = token[1:-1]
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _join(codes) -> str:
    return ", ".join(c.text for c in codes)


_COMPARE = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


@v_args(inline=True)
class _ToPython(Transformer):
    """Each rule of the grammar as Python source over ``_``."""

    def __init__(self):
        super().__init__()
        self.bound: list[set[str]] = [set()]

    # literals and names
    def number(self, tok):
        return Code(str(float(tok)) if "." in tok else str(int(tok)), number=True)

    def string(self, tok):
        return Code(py_string(_unquote(tok)))

    def temporal(self, tok):
        text = _unquote(tok)
        fn = "date and time" if "T" in text else "duration" if text.upper().lstrip("-").startswith("P") else "date"
        return Code(f'_.call("{fn}", {py_string(text)})')

    def true(self):
        return Code("True")

    def false(self):
        return Code("False")

    def null(self):
        return Code("None")

    def input_value(self):
        return Code("?", q=True)

    def name(self, tok):
        return Code(python_name(str(tok)))

    def list_(self, *items):
        items = [i for i in items if i is not None]
        return Code(f"[{_join(items)}]", q=any(i.q for i in items))

    def entry(self, key, value):
        k = _unquote(key) if key.type == "STRING" else str(key)
        return Code(f"{py_string(k)}, {value.text}", q=value.q)

    def context(self, *entries):
        entries = [e for e in entries if e is not None]
        return Code(f"_.context({_join(entries)})", q=any(e.q for e in entries))

    def function_def(self, *_args):
        raise ExpressionError("FEEL function definitions are not supported",
                              "compute the value in a script task or a DMN table")

    # operators
    def _op(self, fn, *codes):
        return Code(f"_.{fn}({_join(codes)})", q=any(c.q for c in codes))

    def or_(self, a, b):
        return self._op("or_", a, b)

    def and_(self, a, b):
        return self._op("and_", a, b)

    def compare(self, a, op, b):
        return self._op(_COMPARE[str(op)], a, b)

    def between(self, x, low, high):
        return self._op("between", x, low, high)

    def arith(self, a, op, b):
        return self._op({"+": "add", "-": "sub", "*": "mul", "/": "div"}[str(op)], a, b)

    def power(self, a, b):
        return self._op("pow", a, b)

    def neg(self, a):
        if a.number:
            return Code(f"-{a.text}", number=True)
        return self._op("neg", a)

    def instance_of(self, _x, type_name):
        raise ExpressionError(f"`instance of {type_name}` is not supported", "compare the value itself")

    # paths, filters, calls
    def path(self, obj, tok):
        return Code(f"_.get({obj.text}, {py_string(str(tok))})", q=obj.q)

    def filter(self, obj, selector):
        if selector.number:
            return self._op("index", obj, selector)
        return Code(f"_.filter({obj.text}, lambda item: {selector.text})", q=obj.q or selector.q)

    def args(self, *codes):
        return list(codes)

    def call(self, name, args=None):
        fn = " ".join(str(name).split())
        if fn not in FUNCTIONS:
            raise ExpressionError(f"the FEEL function {fn}() is not available",
                                  f"use one of: {', '.join(sorted(FUNCTIONS))}")
        args = args or []
        tail = "".join(f", {a.text}" for a in args)
        return Code(f"_.call({py_string(fn)}{tail})", q=any(a.q for a in args))

    def not_call(self, args=None):
        if not args or len(args) != 1:
            raise ExpressionError("not() takes one value", "write not(x)")
        return self._op("not_", args[0])

    # control
    def if_expr(self, cond, then, other):
        return Code(f"({then.text} if _.truth({cond.text}) else {other.text})", q=cond.q or then.q or other.q)

    def range(self, low, high):
        return self._op("range", low, high)

    def iterator(self, tok, source):
        return (python_name(str(tok)), source)

    def _clauses(self, iterators) -> str:
        return " ".join(f"for {n} in _.items({s.text})" for n, s in iterators)

    def for_expr(self, *parts):
        *iterators, body = parts
        return Code(f"[{body.text} {self._clauses(iterators)}]", q=body.q)

    def quantified(self, quantifier, *parts):
        *iterators, body = parts
        fn = "any" if str(quantifier) == "some" else "all"
        return Code(f"{fn}(_.truth({body.text}) {self._clauses(iterators)})", q=body.q)

    # unary tests
    def compare_test(self, op, endpoint):
        return Code(f'("{_COMPARE[str(op)]}", {endpoint.text})', q=endpoint.q)

    def interval(self, open_, low, high, close):
        return Code(f'("range", {low.text}, {high.text}, {open_ == "["}, {close == "]"})', q=low.q or high.q)

    def expr_test(self, code):
        # FEEL 1.3: an expression that reads `?` is a boolean of its own; any other value is compared
        return Code(f'("bool", {code.text})' if code.q else f'("eq", {code.text})', q=code.q)

    def positive_tests(self, *tests):
        return list(tests)

    def in_(self, x, tests):
        if any(t.q for t in tests):
            raise ExpressionError("`?` is the DMN input and has no meaning after `in`", "test the value itself")
        return Code(f"_.matches({x.text}, {_join(tests)})", q=x.q)

    def in_one(self, x, test):
        return self.in_(x, [test])

    def any_input(self):
        return None

    def negated(self, tests):
        return ("none", tests)

    def unary_tests(self, tests):
        return ("any", tests)


_PARSERS: dict[str, Lark] = {}


def _parser(start: str) -> Lark:
    if start not in _PARSERS:
        _PARSERS[start] = Lark(GRAMMAR, start=start, parser="earley", lexer="dynamic", ambiguity="resolve")
    return _PARSERS[start]


def _parse(text: str, start: str):
    try:
        tree = _parser(start).parse(text)
        return _ToPython().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ExpressionError):
            raise exc.orig_exc from None
        raise ExpressionError(f"cannot compile {text!r}: {exc.orig_exc}") from None
    except (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput) as exc:
        raise ExpressionError(_syntax_message(text, exc), _hint(text)) from None
    except LarkError as exc:
        raise ExpressionError(f"not FEEL: {exc}") from None


def _syntax_message(text: str, exc: UnexpectedInput) -> str:
    column = getattr(exc, "column", None)
    if isinstance(exc, UnexpectedEOF) or column is None or column < 1:
        return f"FEEL `{text}` ends too early"
    return f"FEEL `{text}` is not understood at column {column} ({text[column - 1:column + 9]!r})"


def _hint(text: str) -> str | None:
    """The usual mistakes, each with what to write."""
    if "==" in text:
        return "FEEL compares with a single `=` (`status = \"approved\"`)"
    if "&&" in text or "||" in text:
        return "FEEL writes `and` / `or`"
    if "${" in text or "#{" in text:
        return "that is JUEL (Camunda 7); in a FEEL file write the expression alone, after `=`"
    if "'" in text:
        return "FEEL strings are in double quotes"
    if text.strip().startswith("!"):
        return "FEEL writes not(x)"
    return None


@lru_cache(maxsize=4096)
def expression(text: str) -> Code:
    """The Python source of a FEEL expression's value (``?`` left in place for DMN)."""
    if not text.strip():
        raise ExpressionError("the expression is empty")
    code = _parse(text, "expression")
    if code.q:
        raise ExpressionError("`?` is the input of a DMN table and has no meaning here", "name the variable")
    return code


def value(text: str) -> str:
    return f"_.value({expression(text).text})"


def condition(text: str) -> str:
    return f"_.truth({expression(text).text})"


def timer(text: str) -> str:
    return f"_.timer({expression(text).text})"


@lru_cache(maxsize=4096)
def unary_tests(text: str) -> str | None:
    """A DMN input entry as a Python test over ``?`` (Spiff's placeholder for the input), or None for ``-``."""
    if not text.strip() or text.strip() == "-":
        return None
    result = _parse(text, "unary_tests")
    if result is None:
        return None
    kind, tests = result
    fn = "matches_none" if kind == "none" else "matches"
    return f"_.{fn}(?, {_join(tests)})"


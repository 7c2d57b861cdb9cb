"""The JUEL subset modelers write (Camunda 7, Activiti, Flowable), compiled to Python for the sandbox.

``${approved}``, ``#{amount > 1000 && !urgent}``, ``${empty comment}``, ``${order.total ge 500}``,
``${execution.getVariable("x")}`` and text with ``${...}`` parts in it. Like FEEL
(``engine.spiff.feel``) the text is parsed with a lark grammar at deploy time and becomes Python over
``_`` (``engine.spiff.feel_runtime``) with EL's rules: null is ``""``/0/false where EL coerces it,
strings compare as numbers against numbers, and a condition holds only for true or "true".
Method calls on beans (``${approvalService.check(x)}``) cannot run here and are refused with the fix.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedEOF, UnexpectedInput, VisitError

from engine.spiff.feel import Code, ExpressionError, py_string, python_name

GRAMMAR = r"""
?start: expr
?expr: or_expr | or_expr "?" expr ":" expr               -> ternary
?or_expr: and_expr | or_expr ("||" | "or") and_expr       -> or_
?and_expr: eq_expr | and_expr ("&&" | "and") eq_expr      -> and_
?eq_expr: rel_expr | eq_expr EQOP rel_expr                 -> compare
?rel_expr: add_expr | rel_expr RELOP add_expr              -> compare
?add_expr: mul_expr | add_expr ADDOP mul_expr              -> arith
?mul_expr: unary | mul_expr MULOP unary                    -> arith
?unary: value
      | ("!" | "not") unary                                -> not_
      | "-" unary                                          -> neg
      | "empty" unary                                      -> empty
?value: primary
      | value "." NAME                                     -> prop
      | value "[" expr "]"                                 -> item
      | value "." NAME "(" [args] ")"                      -> method
      | NAME "(" [args] ")"                                -> function
      | NAME ":" NAME "(" [args] ")"                       -> function
args: expr ("," expr)*
?primary: NUMBER                                           -> number
        | STRING                                           -> string
        | "true"                                           -> true
        | "false"                                          -> false
        | "null"                                           -> null
        | NAME                                             -> name
        | "(" expr ")"
EQOP: "==" | "!=" | /eq\b/ | /ne\b/
RELOP: "<=" | ">=" | "<" | ">" | /lt\b/ | /gt\b/ | /le\b/ | /ge\b/
ADDOP: "+" | "-"
MULOP: "*" | "/" | "%" | /div\b/ | /mod\b/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
NAME: /(?!(and|or|not|eq|ne|lt|gt|le|ge|div|mod|empty|true|false|null|instanceof)\b)[A-Za-z_$][A-Za-z0-9_$]*/
%import common.WS
%ignore WS
"""

_OPS = {"==": "el_eq", "eq": "el_eq", "!=": "el_ne", "ne": "el_ne", "<": "el_lt", "lt": "el_lt",
        "<=": "el_le", "le": "el_le", ">": "el_gt", "gt": "el_gt", ">=": "el_ge", "ge": "el_ge",
        "+": "el_add", "-": "el_sub", "*": "el_mul", "/": "el_div", "div": "el_div", "%": "el_mod",
        "mod": "el_mod"}
_CONTEXT_OBJECTS = ("execution", "task", "delegateTask", "variables")


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


@v_args(inline=True)
class _ToPython(Transformer):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def number(self, tok):
        text = str(tok)
        return Code(text if re.fullmatch(r"\d+", text) else str(float(text)), number=True)

    def string(self, tok):
        return Code(py_string(_unquote(str(tok))))

    def true(self):
        return Code("True")

    def false(self):
        return Code("False")

    def null(self):
        return Code("None")

    def name(self, tok):
        if str(tok) in _CONTEXT_OBJECTS:
            return Code(f"\0{tok}")  # only `execution.getVariable("x")` may use it (see method)
        return Code(python_name(str(tok), "JUEL"))

    def _op(self, fn, *codes):
        return Code(f"_.{fn}({', '.join(c.text for c in codes)})")

    def ternary(self, cond, a, b):
        return Code(f"({a.text} if _.el_bool({cond.text}) else {b.text})")

    def or_(self, a, b):
        return Code(f"(_.el_bool({a.text}) or _.el_bool({b.text}))")

    def and_(self, a, b):
        return Code(f"(_.el_bool({a.text}) and _.el_bool({b.text}))")

    def compare(self, a, op, b):
        return self._op(_OPS[str(op)], a, b)

    def arith(self, a, op, b):
        return self._op(_OPS[str(op)], a, b)

    def not_(self, a):
        return Code(f"(not _.el_bool({a.text}))")

    def neg(self, a):
        return Code(f"-{a.text}", number=True) if a.number else self._op("el_sub", Code("0"), a)

    def empty(self, a):
        return self._op("empty", a)

    def prop(self, obj, tok):
        return Code(f"_.el_get({obj.text}, {py_string(str(tok))})")

    def item(self, obj, key):
        return Code(f"_.el_get({obj.text}, {key.text})")

    def args(self, *codes):
        return list(codes)

    def method(self, obj, tok, args=None):
        # `execution.getVariable("x")` is how Camunda 7 files read a variable: that one we can do
        if obj.text.startswith("\0") and str(tok) == "getVariable" and args and len(args) == 1 \
                and args[0].text.startswith('"'):
            name = _unquote(args[0].text)
            if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                return Code(python_name(name, "JUEL"))
        raise ExpressionError(f"JUEL `{self.source}` calls a Java method ({tok}())",
                              "onewindow runs no Java beans: compute the value in a form field or a script "
                              "task and test the variable")

    def function(self, *parts):
        raise ExpressionError(f"JUEL `{self.source}` calls a function",
                              "compute the value in a form field or a script task and test the variable")


_PARSER: list[Lark] = []


def _parser() -> Lark:
    if not _PARSER:
        _PARSER.append(Lark(GRAMMAR, parser="earley", lexer="dynamic", ambiguity="resolve"))
    return _PARSER[0]


def is_juel(text: str) -> bool:
    return "${" in text or "#{" in text


def split(text: str) -> list[tuple[bool, str]]:
    """``"a ${b} c"`` -> [(False, "a "), (True, "b"), (False, " c")]; braces inside quotes are text."""
    parts: list[tuple[bool, str]] = []
    i, start = 0, 0
    while i < len(text):
        if text[i] in "$#" and text[i + 1:i + 2] == "{":
            if i > start:
                parts.append((False, text[start:i]))
            j, quote = i + 2, None
            while j < len(text):
                ch = text[j]
                if quote:
                    if ch == "\\":
                        j += 1
                    elif ch == quote:
                        quote = None
                elif ch in "'\"":
                    quote = ch
                elif ch == "}":
                    break
                j += 1
            if j >= len(text):
                raise ExpressionError(f"JUEL `{text}` has a `{text[i]}{{` without its `}}`", "close it with `}`")
            parts.append((True, text[i + 2:j]))
            i = start = j + 1
            continue
        i += 1
    if start < len(text):
        parts.append((False, text[start:]))
    return parts


def _body(body: str, whole: str) -> Code:
    try:
        code = _ToPython(whole).transform(_parser().parse(body))
    except VisitError as exc:
        if isinstance(exc.orig_exc, ExpressionError):
            raise exc.orig_exc from None
        raise ExpressionError(f"cannot compile JUEL `{whole}`: {exc.orig_exc}") from None
    except UnexpectedEOF:
        raise ExpressionError(f"JUEL `{whole}` ends too early") from None
    except UnexpectedInput as exc:
        column = getattr(exc, "column", 0) or 0
        raise ExpressionError(f"JUEL `{whole}` is not understood at column {column} "
                              f"({body[max(column - 1, 0):column + 9]!r})") from None
    except LarkError as exc:
        raise ExpressionError(f"not JUEL: {exc}") from None
    if "\0" in code.text:
        used = code.text[code.text.index("\0") + 1:].split(",")[0].split(")")[0]
        raise ExpressionError(f"JUEL `{whole}` reads `{used}`, the Java engine's object",
                              "name the process variable itself")
    return code


@lru_cache(maxsize=4096)
def expression(text: str) -> str:
    """The Python source of a JUEL text's value: one ``${...}`` is its value, a template is a string."""
    parts = split(text.strip())
    if not parts:
        raise ExpressionError("the expression is empty")
    if len(parts) == 1 and parts[0][0]:
        return _body(parts[0][1], text.strip()).text
    pieces = [_body(p, text.strip()).text if is_el else py_string(p) for is_el, p in parts]
    return f"_.el_concat({', '.join(pieces)})"


def value(text: str) -> str:
    return f"_.value({expression(text)})"


def condition(text: str) -> str:
    return f"_.truth({expression(text)})"


def timer(text: str) -> str:
    return f"_.timer({expression(text)})"

"""What FEEL and JUEL expressions call at run time, inside the restricted script engine.

``engine.spiff.feel`` and ``engine.spiff.juel`` compile a designer's expression to Python source
that calls these helpers as ``_.name(...)`` (``_`` is set over the task data by the sandbox, so data
can never shadow it). The helpers give the two languages their own semantics where Python's differ:
null instead of an error for a missing variable or a comparison with null, 1-based lists, ranges
and unary tests, and one truthiness rule for conditions (:func:`truth`).

Nothing here evaluates text: the sandbox compiled the caller, and these are plain functions.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from engine.spiff.timers import ClockDate, ClockDatetime

MAX_ITEMS = 1_000_000  # longest list a range or a `for` may build

# ---- truthiness ---------------------------------------------------------------------------------


def bool3(value: Any) -> bool | None:
    """A value as FEEL's three-valued boolean: true, false or null (unknown).

    ``True`` and the string "true" (any case, spaces ignored: what a web form posts) are true;
    ``False`` and "false" are false; everything else (null, "", 0, 1, [], {}, "yes") is null.
    """
    if value is True or value is False:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
    return None


def truth(value: Any) -> bool:
    """Whether a condition holds: only for true (``True`` or the string "true")."""
    return bool3(value) is True


def and_(*values: Any) -> bool | None:
    seen = [bool3(v) for v in values]
    if False in seen:
        return False
    return None if None in seen else True


def or_(*values: Any) -> bool | None:
    seen = [bool3(v) for v in values]
    if True in seen:
        return True
    return None if None in seen else False


def not_(value: Any) -> bool | None:
    b = bool3(value)
    return None if b is None else not b


# ---- comparison and arithmetic (FEEL: null in, null out) -----------------------------------------


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "context"
    return type(value).__name__


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def eq(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return a is None and b is None
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return None
    if ka == "number":
        return _number(a) == _number(b)
    if ka == "list":
        return len(a) == len(b) and all(eq(x, y) is True for x, y in zip(a, b, strict=True))
    return a == b


def ne(a: Any, b: Any) -> bool | None:
    return not_(eq(a, b))


def _ordered(op):
    def compare(a: Any, b: Any) -> bool | None:
        ka, kb = _kind(a), _kind(b)
        if ka is None or ka != kb or ka not in ("number", "string", "date", "datetime", "duration"):
            return None
        return op(_number(a), _number(b))
    compare.__name__ = op.__name__
    return compare


lt, le, gt, ge = (_ordered(op) for op in (operator.lt, operator.le, operator.gt, operator.ge))


def between(value: Any, low: Any, high: Any) -> bool | None:
    return and_(ge(value, low), le(value, high))


def _arith(op):
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        try:
            if op is operator.truediv and b == 0:
                return None
            return op(_number(a), _number(b))
        except (TypeError, ValueError, OverflowError, ZeroDivisionError):
            return None
    apply.__name__ = op.__name__
    return apply


add, sub, mul, div = (_arith(op) for op in (operator.add, operator.sub, operator.mul, operator.truediv))


def pow_(a: Any, b: Any) -> Any:
    if _kind(a) != "number" or _kind(b) != "number" or abs(_number(b)) > 1024:
        return None
    try:
        return _number(a) ** _number(b)
    except (OverflowError, ZeroDivisionError):
        return None


def neg(a: Any) -> Any:
    return -a if _kind(a) in ("number", "duration") else None


# ---- paths, lists, ranges ------------------------------------------------------------------------


def get(obj: Any, key: str) -> Any:
    """``a.b``: a context's entry, or the entry of every context of a list; null otherwise."""
    if isinstance(obj, dict):
        return obj.get(key)
    if isinstance(obj, list | tuple):
        return [get(item, key) for item in obj]
    if isinstance(obj, date) and key in ("year", "month", "day"):
        return getattr(obj, key)
    return None


def index(obj: Any, position: Any) -> Any:
    """``a[1]``: FEEL lists count from 1, and from the end with a negative index."""
    if not isinstance(obj, list | tuple) or _kind(position) != "number" or position == 0:
        return None
    i = int(position)
    i = i - 1 if i > 0 else len(obj) + i
    return obj[i] if 0 <= i < len(obj) else None


def filter_(obj: Any, keep) -> Any:
    if obj is None:
        return None
    items = obj if isinstance(obj, list | tuple) else [obj]
    return [item for item in items if truth(keep(item))]


def items(obj: Any) -> list:
    """What ``for``/``some``/``every`` iterate: a list as it is, null as nothing, a value as itself."""
    if obj is None:
        return []
    return list(obj) if isinstance(obj, list | tuple | range) else [obj]


def range_(low: Any, high: Any) -> range:
    if _kind(low) != "number" or _kind(high) != "number":
        return range(0)
    low, high = int(low), int(high)
    if abs(high - low) >= MAX_ITEMS:
        raise ValueError(f"a range of {abs(high - low) + 1:,} numbers is over the limit of {MAX_ITEMS:,}")
    return range(low, high + 1) if low <= high else range(low, high - 1, -1)


def context(*pairs: Any) -> dict:
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}


# ---- unary tests (DMN input entries, `x in ...`) -------------------------------------------------


def _one_test(value: Any, test: tuple) -> bool | None:
    kind = test[0]
    if kind == "bool":  # an expression over `?`: its own boolean
        return bool3(test[1])
    if kind == "eq":
        expected = test[1]
        if isinstance(expected, list | tuple) and not isinstance(value, list | tuple):
            return any(eq(value, e) is True for e in expected)
        return eq(value, expected)
    if kind == "range":
        _, low, high, low_closed, high_closed = test
        lower = (ge if low_closed else gt)(value, low)
        upper = (le if high_closed else lt)(value, high)
        return and_(lower, upper)
    return {"ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge}[kind](value, test[1])


def matches(value: Any, *tests: tuple) -> bool:
    """Whether ``value`` passes any one of the positive unary tests."""
    return any(_one_test(value, t) is True for t in tests)


def matches_none(value: Any, *tests: tuple) -> bool:
    """``not(t1, t2)``: the value passes none of the tests (and none of them is unknown)."""
    results = [_one_test(value, t) for t in tests]
    return all(r is False for r in results)


# ---- conversions for the engine ------------------------------------------------------------------


def value(v: Any) -> Any:
    """An expression's value as case data: durations as ISO text."""
    return iso_duration(v) if isinstance(v, timedelta) else v


def timer(v: Any) -> Any:
    """A timer expression's value as the ISO text Spiff's timers read."""
    if isinstance(v, timedelta):
        return iso_duration(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return datetime.combine(v, time()).isoformat()
    return v


def people(v: Any) -> list[str]:
    """Group or user names from an expression: a list, or a comma-separated string; null is none."""
    if v is None:
        return []
    values = v if isinstance(v, list | tuple | set) else [v]
    out: list[str] = []
    for item in values:
        if item is None:
            continue
        if not isinstance(item, str):
            raise TypeError(f"{item!r} is not a group or user name")
        out += [name.strip() for name in item.split(",") if name.strip()]
    return out


def iso_duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = f"{sign}P{f'{days}D' if days else ''}{'T' + clock_part if clock_part else ''}"
    return text if text not in ("P", "-P") else "PT0S"


# ---- FEEL built-in functions ---------------------------------------------------------------------

_DURATION = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _duration(text: Any) -> timedelta | None:
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        return None
    m = _DURATION.match(text.strip().upper())
    if not m or text.strip().upper() in ("P", "-P", "PT"):
        weeks = re.fullmatch(r"P(\d+)W", text.strip().upper())
        return timedelta(weeks=int(weeks.group(1))) if weeks else None
    days, hours, minutes, secs = (float(g) if g else 0.0 for g in m.groups()[1:])
    d = timedelta(days=days, hours=hours, minutes=minutes, seconds=secs)
    return -d if m.group(1) else d


def _date(*args: Any) -> date | None:
    if len(args) == 3:
        try:
            return date(*(int(a) for a in args))
        except (TypeError, ValueError):
            return None
    (v,) = args
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        return None


def _date_and_time(*args: Any) -> datetime | None:
    if len(args) == 2 and isinstance(args[0], date):
        t = args[1] if isinstance(args[1], time) else time()
        return datetime.combine(args[0], t)
    (v,) = args
    if isinstance(v, datetime):
        return v
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")) if isinstance(v, str) else None
    except ValueError:
        return None


def _string(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, timedelta):
        return iso_duration(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v.isoformat() if isinstance(v, date) else str(v)


def _number_of(v: Any) -> Any:
    if _kind(v) == "number":
        return v
    if isinstance(v, str):
        try:
            return int(v) if re.fullmatch(r"\s*-?\d+\s*", v) else float(v)
        except ValueError:
            return None
    return None


def _texts(fn):
    def call(*args):
        return fn(*args) if all(isinstance(a, str) for a in args) else None
    return call


def _numbers(fn):
    def call(*args):
        if not args or any(_kind(a) != "number" for a in args):
            return None
        return fn(*(_number(a) for a in args))
    return call


def _list_of_numbers(fn):
    def call(*args):
        values = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else list(args)
        if not values or any(_kind(v) != "number" for v in values):
            return None
        return fn([_number(v) for v in values])
    return call


def _substring(s: Any, start: Any, length: Any = None) -> str | None:
    if not isinstance(s, str) or _kind(start) != "number":
        return None
    i = int(start) - 1 if start > 0 else len(s) + int(start)
    return s[i:] if length is None else s[i:i + int(length)]


def _decimal(n: Any, scale: Any) -> Any:
    if _kind(n) != "number" or _kind(scale) != "number":
        return None
    q = Decimal(str(n)).quantize(Decimal(1).scaleb(-int(scale)), rounding=ROUND_HALF_EVEN)
    return float(q) if scale > 0 else int(q)


def _list(fn):
    def call(lst, *args):
        return fn(list(lst), *args) if isinstance(lst, list | tuple) else None
    return call


def _distinct(lst: list) -> list:
    out: list = []
    for item in lst:
        if all(eq(item, seen) is not True for seen in out):
            out.append(item)
    return out


def _flatten(lst: list) -> list:
    out: list = []
    for item in lst:
        out += _flatten(list(item)) if isinstance(item, list | tuple) else [item]
    return out


def _now() -> datetime:
    return ClockDatetime.now().replace(microsecond=0)


FUNCTIONS: dict[str, Any] = {
    "not": not_,
    "string": _string,
    "number": _number_of,
    "string length": _texts(len),
    "upper case": _texts(str.upper),
    "lower case": _texts(str.lower),
    "substring": _substring,
    "substring before": _texts(lambda s, m: s.split(m, 1)[0] if m in s else ""),
    "substring after": _texts(lambda s, m: s.split(m, 1)[1] if m in s else ""),
    "contains": _texts(lambda s, m: m in s),
    "starts with": _texts(str.startswith),
    "ends with": _texts(str.endswith),
    "string join": lambda lst, sep="": sep.join(x for x in lst if isinstance(x, str))
    if isinstance(lst, list | tuple) and isinstance(sep, str) else None,
    "count": _list(len),
    "sum": _list_of_numbers(sum),
    "min": _list_of_numbers(min),
    "max": _list_of_numbers(max),
    "mean": _list_of_numbers(lambda v: sum(v) / len(v)),
    "list contains": _list(lambda lst, x: any(eq(i, x) is True for i in lst)),
    "append": _list(lambda lst, *xs: lst + list(xs)),
    "concatenate": lambda *lists: sum((list(x) for x in lists), []) if all(
        isinstance(x, list | tuple) for x in lists) else None,
    "distinct values": _list(_distinct),
    "flatten": _list(_flatten),
    "reverse": _list(lambda lst: lst[::-1]),
    "index of": _list(lambda lst, x: [i + 1 for i, v in enumerate(lst) if eq(v, x) is True]),
    "abs": _numbers(abs),
    "floor": _numbers(math.floor),
    "ceiling": _numbers(math.ceil),
    "decimal": _decimal,
    "modulo": _numbers(lambda a, b: None if b == 0 else a - b * math.floor(a / b)),
    "odd": _numbers(lambda n: n % 2 == 1),
    "even": _numbers(lambda n: n % 2 == 0),
    "is defined": lambda v: v is not None,
    "get value": lambda ctx, key: ctx.get(key) if isinstance(ctx, dict) else None,
    "date": _date,
    "date and time": _date_and_time,
    "duration": _duration,
    "now": _now,
    "today": lambda: ClockDate.today(),
}


def call(name: str, *args: Any) -> Any:
    try:
        return FUNCTIONS[name](*args)
    except (TypeError, ValueError, AttributeError):
        return None  # FEEL: a function given what it cannot take gives null


# ---- JUEL (EL) semantics -------------------------------------------------------------------------


def el_bool(v: Any) -> bool:
    """EL's coercion to boolean, the same rule as :func:`truth`."""
    return truth(v)


def _el_coerce(text: str, other: Any) -> Any:
    return bool3(text) is True if _kind(other) == "bool" else _number_of(text)


def _el_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """EL coerces a string to a number or a boolean when the other side is one."""
    if isinstance(a, str) and _kind(b) in ("number", "bool"):
        return _el_coerce(a, b), b
    if isinstance(b, str) and _kind(a) in ("number", "bool"):
        return a, _el_coerce(b, a)
    return a, b


def el_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = _el_pair(a, b)
    return eq(a, b) is True


def el_ne(a: Any, b: Any) -> bool:
    return not el_eq(a, b)


def _el_ordered(op):
    def compare(a: Any, b: Any) -> bool:
        a, b = _el_pair(a, b)
        return op(a, b) is True
    return compare


el_lt, el_le, el_gt, el_ge = (_el_ordered(op) for op in (lt, le, gt, ge))


def _el_arith(op):
    def apply(a: Any, b: Any) -> Any:
        # EL reads null as 0 in arithmetic, and numeric strings as numbers
        a = 0 if a is None else _number_of(a) if isinstance(a, str) else a
        b = 0 if b is None else _number_of(b) if isinstance(b, str) else b
        return op(a, b)
    return apply


el_add, el_sub, el_mul, el_div = (_el_arith(op) for op in (add, sub, mul, div))
el_mod = _el_arith(_numbers(lambda a, b: None if b == 0 else math.fmod(a, b)))


def empty(v: Any) -> bool:
    return v is None or (isinstance(v, str | list | tuple | dict) and len(v) == 0)


def el_get(obj: Any, key: Any) -> Any:
    """``a.b`` / ``a['b']`` / ``a[0]`` (EL lists count from 0); null when there is nothing."""
    if isinstance(obj, dict):
        return obj.get(key)
    if isinstance(obj, list | tuple) and _kind(key) == "number" and 0 <= int(key) < len(obj):
        return obj[int(key)]
    return None


def el_concat(*parts: Any) -> str:
    """A text with ``${...}`` parts in it: each part as EL writes it (null as "")."""
    return "".join("" if p is None else _string(p) for p in parts)


HELPERS = SimpleNamespace(
    truth=truth, bool3=bool3, and_=and_, or_=or_, not_=not_, eq=eq, ne=ne, lt=lt, le=le, gt=gt, ge=ge,
    between=between, add=add, sub=sub, mul=mul, div=div, pow=pow_, neg=neg, get=get, index=index,
    filter=filter_, items=items, range=range_, context=context, matches=matches, matches_none=matches_none,
    value=value, timer=timer, people=people, call=call, el_bool=el_bool, el_eq=el_eq, el_ne=el_ne,
    el_lt=el_lt, el_le=el_le, el_gt=el_gt, el_ge=el_ge, el_add=el_add, el_sub=el_sub, el_mul=el_mul,
    el_div=el_div, el_mod=el_mod, empty=empty, el_get=el_get, el_concat=el_concat,
)


# ---- missing variables ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def variables(source: str) -> tuple[str, ...]:
    """The variables compiled Python source reads (not those it binds itself)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        tree = ast.parse(source, mode="exec")
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.Lambda) for a in n.args.args}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return tuple(sorted(loaded - bound - {"_", "True", "False", "None", "any", "all"}))


def null_scope(source: str, scope: dict) -> dict:
    """``None`` for each variable a compiled FEEL/JUEL text reads and ``scope`` lacks (see :func:`unbound`)."""
    return dict.fromkeys(unbound(source, scope))


def unbound(source: str, scope: dict) -> tuple[str, ...]:
    """The variables a compiled FEEL/JUEL expression reads that ``scope`` lacks: FEEL and EL read a
    missing variable as null, where Python would raise. Python expressions (Spiff's) are left alone:
    compiled ones, and only they, start with ``_.``."""
    if not source.lstrip().startswith("_."):
        return ()
    try:
        names = variables(source)
    except SyntaxError:
        return ()
    return tuple(n for n in names if n not in scope)

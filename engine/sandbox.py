"""Restricted Python for everything a diagram holds: conditions, timers, DMN cells, scripts.

SpiffWorkflow's default environment runs diagram text with plain ``eval``/``exec`` and every
builtin; RestrictedPython's ``safe_globals`` alone was escaped through ``__subclasses__``. Here
code is compiled by RestrictedPython with a stricter policy and sees only ``SAFE_BUILTINS``, the
helpers the engine passes in, and our guards. ``check_expression``/``check_script`` say in one
line why code is refused: names or attributes starting with ``_``, frame and generator
internals (``gi_frame``, ``f_globals``), ``import``, ``class``, ``.format``/``.format_map``
and a few methods whose result size is an argument (``to_bytes``, ``expandtabs``...). At run
time attributes of modules, ``datetime.now``/``date.today`` (use ``now()``/``today()``, which
follow ``engine.clock``), changing anything but a dict or list, and ``open``, ``eval``,
``getattr``, ``type`` and the rest of ``_FORBIDDEN`` are refused with ``SandboxViolation``.

Bounds (the library has none; these are ours):
- Size: ``range()`` holds at most 100,000 items, and so does every str, bytes, list, tuple,
  dict or set that a call returns or that ``+``, ``*``, ``%``, an f-string or a ``*`` display
  builds; ``join``, ``replace``, ``ljust``/``rjust``/``center``/``zfill``, ``extend``, slice
  assignment, ``sum()``, format widths and ``*`` are checked before they allocate. An int made
  by ``*``, ``**`` or ``<<`` has at most 100,000 bits; ``round()`` takes at most 4,300 digits,
  and a Decimal with over 4,300 digits plus exponent is refused where it would be written out
  (``Decimal()``, ``int()``, ``round()``, ``%``, f-strings: ``int(Decimal('1e999999'))``
  alone takes half a minute).
- Steps: the compiler puts a ``_tick_()`` before every statement of a script and into every
  comprehension item and lambda call, so each loop pass and call costs one. A run may take
  1,000,000 steps and 1 s of wall time and may raise the process's peak RSS by 256 MB (time
  and memory are read every 16 steps). The first breach raises ``SandboxViolation``; so does
  every later step, and a run that caught it still fails.
- An expression without comprehension or lambda has no budget (each operation is capped and
  the text is at most 4,000 characters), so ``urgency == "urgent"`` costs about a microsecond.
  A script may be 50,000 characters.

Not bounded: one C builtin or helper call runs to completion before the next step is counted;
memory is read as the whole process's peak RSS, so another thread's allocation may be charged
to a script; and sizes are per object, so a list holding the same list many times, nested
(``[[0] * 1000] * 1000``), can make ``str()``, ``==`` or JSON serialization huge or slow.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
import resource
import sys
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import CodeType, MappingProxyType, ModuleType, SimpleNamespace
from typing import Any

from dateutil.relativedelta import relativedelta
from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine

from engine import clock
from engine.calendar import parse_moment
from engine.errors import SandboxViolation

MAX_ITEMS = MAX_RANGE = MAX_INT_BITS = 100_000
MAX_DIGITS = 4_300  # Python's own limit for int <-> str
MAX_STEPS, MAX_SECONDS, MAX_RSS_GROWTH = 1_000_000, 1.0, 256 * 2**20
MAX_EXPRESSION_CHARS, MAX_SCRIPT_CHARS = 4_000, 50_000
MAX_MONTHS = 1_200  # a hundred years, for months_after()

_FILENAME = "<string>"  # PythonScriptEngine looks for it to report a script's failing line
_CONTAINERS = (str, bytes, list, tuple, dict, set, frozenset)
_SEQUENCES = (str, bytes, list, tuple)
_DENIED_ATTRS = INSPECT_ATTRIBUTES | {
    "format", "format_map", "mro", "to_bytes", "expandtabs", "translate", "maketrans",
    "as_integer_ratio",
}  # fmt: skip
_CLOCK_ATTRS = frozenset({"now", "today", "utcnow"})
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
_SIZED_NAMES = _WIDTH_METHODS | {"join", "replace", "extend"}
_FORBIDDEN = (
    "open", "eval", "exec", "compile", "getattr", "setattr", "delattr", "hasattr", "globals",
    "locals", "vars", "type", "object", "dir", "help", "input", "breakpoint", "super", "iter",
    "next", "memoryview", "bytearray", "classmethod", "staticmethod", "property", "id",
)  # fmt: skip
_PERCENT_SPEC = re.compile(r"%%|%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _refuse(reason: str) -> SandboxViolation:
    return SandboxViolation(f"Not allowed in a diagram: {reason}")


def _limit(count: int, limit: int = MAX_ITEMS, unit: str = "items") -> int:
    if count > limit:
        raise _refuse(f"this would make {count:,} {unit}; the limit is {limit:,}")
    return count


def _sized(value: Any) -> Any:
    """Checks what a call or ``*`` display built; its inputs were checked, so it is bounded."""
    if isinstance(value, _CONTAINERS):
        _limit(len(value))
    return value


def _check_width(text: str) -> None:
    """A width or precision in a format string is the size of what it will allocate."""
    if text == "*":
        raise _refuse("'*' widths in % formatting")
    if text and (len(text) > 7 or int(text) > MAX_ITEMS):
        raise _refuse(f"a format width of {text}; the limit is {MAX_ITEMS:,}")


def _check_decimal(value: Any) -> None:
    if isinstance(value, Decimal) and value.is_finite():
        _sign, digits, exponent = value.as_tuple()
        if len(digits) + abs(exponent) > MAX_DIGITS:
            raise _refuse(f"a Decimal with over {MAX_DIGITS:,} digits")


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _limit(len(a) + len(b))  # before: s = s + s in a loop doubles each pass
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        _limit(a.bit_length() + b.bit_length(), MAX_INT_BITS, "bits")
    elif isinstance(a, _SEQUENCES) and isinstance(b, int):
        _limit(len(a) * b)
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _limit(len(b) * a)
    return a * b


def _pow(a: Any, b: Any, mod: Any = None) -> Any:
    if mod is not None:
        return pow(a, b, mod)  # modular, so smaller than mod
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _limit(a.bit_length() * b, MAX_INT_BITS, "bits")
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a:
        _limit(a.bit_length() + b, MAX_INT_BITS, "bits")
    return a << b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        for width, precision in _PERCENT_SPEC.findall(
            a.decode("latin-1") if isinstance(a, bytes) else a
        ):
            _check_width(width)
            _check_width(precision)
        for value in b.values() if isinstance(b, dict) else b if isinstance(b, tuple) else (b,):
            _check_decimal(value)  # %d writes a Decimal out as an int
        return _sized(a % b)
    return a % b


def _format(value: Any, conversion: int, spec: str) -> str:
    """One f-string field, which the compiler routes here."""
    if conversion != -1:
        value = {ord("s"): str, ord("r"): repr, ord("a"): ascii}[conversion](value)
    for number in re.findall(r"\d+", spec):
        _check_width(number)
    _check_decimal(value)
    return _sized(format(value, spec))


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    if op == "+=" and isinstance(target, list):
        _checked_extend(target, value)  # in place, so aliases see it as in Python
        return target
    return _INPLACE[op](target, value)


def _augitem(op: str, target: Any, key: Any, value: Any) -> None:
    """``data[key] += value``, which RestrictedPython refuses and scripts need for counting."""
    _guarded_write(target)[key] = _inplacevar(op, target[key], value)


_INPLACE = {
    "+=": _add, "*=": _mul, "**=": _pow, "<<=": _lshift, "%=": _mod, "-=": operator.sub,
    "/=": operator.truediv, "//=": operator.floordiv, ">>=": operator.rshift,
    "&=": operator.and_, "|=": operator.or_, "^=": operator.xor, "@=": operator.matmul,
}  # fmt: skip
_BINOP_GUARDS = {
    ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_",
}  # fmt: skip


def _checked_extend(target: list, items: Any) -> None:
    items = list(items)
    _limit(len(target) + len(items))
    target.extend(items)


def _checked_join(sep: Any, items: Any) -> Any:
    items = list(items)
    _limit(sum(len(i) for i in items if isinstance(i, (str, bytes))) + len(sep) * len(items))
    return sep.join(items)


def _checked_replace(text: Any, old: Any, new: Any, count: int = -1) -> Any:
    hits = text.count(old) if old else len(text) + 1
    _limit(len(text) + (hits if count < 0 else min(hits, count)) * max(0, len(new) - len(old)))
    return text.replace(old, new, count)


_TEXT_CHECKS = {"join": _checked_join, "replace": _checked_replace}


def _sized_method(obj: Any, name: str, method: Any) -> Any:
    """Methods whose result size is an argument are checked before they allocate. Closures,
    not functools.partial, whose public ``.args`` would hand back the unchecked method."""
    if isinstance(obj, (str, bytes)) and name in _TEXT_CHECKS:
        return lambda *args: _TEXT_CHECKS[name](obj, *args)
    if isinstance(obj, (str, bytes)) and name in _WIDTH_METHODS:
        return lambda width, *rest: method(_limit(width), *rest)
    if isinstance(obj, list) and name == "extend":
        return lambda items: _checked_extend(obj, items)
    if any(obj is kind for kind in (str, bytes, list)) and name in _SIZED_NAMES:
        raise _refuse(f"{obj.__name__}.{name}; call it on a value instead")
    return method


def _guarded_getattr(obj: Any, name: str) -> Any:
    if name.startswith("_") or name in _DENIED_ATTRS:
        raise _refuse(f"the attribute '{name}'")
    if isinstance(obj, ModuleType):
        raise _refuse(f"attributes of modules ({name})")
    if name in _CLOCK_ATTRS and (
        isinstance(obj, date) or (isinstance(obj, type) and issubclass(obj, date))
    ):
        raise _refuse(f"{name} reads the server's clock; use now() or today()")
    return _sized_method(obj, name, getattr(obj, name))


class _ListWriter:
    """What ``_write_`` hands out for a list, since slice assignment can double it."""

    __slots__ = ("_target",)

    def __init__(self, target: list):
        self._target = target

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = list(value)
            _limit(len(self._target) + len(value))
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]


def _guarded_write(obj: Any) -> Any:
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, list):
        return _ListWriter(obj)
    raise _refuse(f"changing a {type(obj).__name__}; only lists and dictionaries can change")


_NO_PRINT = SimpleNamespace(_call_print=lambda *args, **kwargs: None)  # no console to print to
_GUARDS: dict[str, Any] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": lambda obj, key: obj[key],
    "_getiter_": lambda obj: obj,  # each pass is counted by _tick_ instead
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _guarded_write,
    "_inplacevar_": _inplacevar,
    "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs),
    "_print_": lambda _getattr_: _NO_PRINT,
    "_print": _NO_PRINT,  # what print() compiles to in an expression
    "_sized_": _sized,
    "_format_": _format,
    "_augitem_": _augitem,
    **{guard: globals()[guard[:-1]] for guard in _BINOP_GUARDS.values()},
}


class _SameInstances(type):
    """Keeps ``isinstance(x, int)`` working in a diagram although its ``int`` is a guard."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.__mro__[1])


class _Int(int, metaclass=_SameInstances):
    def __new__(cls, *args: Any, **kwargs: Any) -> int:  # type: ignore[misc]
        if args:
            _check_decimal(args[0])
        return int(*args, **kwargs)


class _Decimal(Decimal, metaclass=_SameInstances):
    def __new__(cls, value: Any = "0", context: Any = None) -> Decimal:  # type: ignore[misc]
        result = Decimal(value, context)
        _check_decimal(result)
        return result


def _range(*args: int) -> range:
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:
        size = sys.maxsize
    if size > MAX_RANGE:
        raise _refuse(f"a range of {size:,} items; the limit is {MAX_RANGE:,}")
    return result


def _round(number: Any, ndigits: int | None = None) -> Any:
    if ndigits is None:
        _check_decimal(number)
        return round(number)
    if isinstance(ndigits, int) and abs(ndigits) > MAX_DIGITS:
        raise _refuse(f"round() to {ndigits:,} digits")  # round(1, -10**6) builds 10**10**6
    return round(number, ndigits)


def _sum(items: Any, /, start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise _refuse("sum() of lists or strings; use a comprehension or join")
    return sum(items, start)


def _months_after(start: Any, months: int) -> str:
    """The moment ``months`` calendar months after ``start`` (an ISO date or date-time, as a
    script keeps a moment in task data), as an ISO date-time for a timer's ``timeDate``.

    Calendar months, as ``"P6M"`` counts them: a month without the day ends on its last day
    (31 August + 6 is 28 or 29 February). ISO durations cannot say "from that moment", hence
    this helper. ``months`` is bounded because a helper call runs outside the step budget.
    """
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError(f"months_after: months must be a whole number, not {months!r}")
    if not 0 <= months <= MAX_MONTHS:
        raise ValueError(f"months_after: months must be 0 to {MAX_MONTHS:,}, not {months:,}")
    moment = parse_moment(start) + relativedelta(months=months)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _forbidden(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> None:
        raise _refuse(f"{name}() is not available to diagrams")

    return call


SAFE_BUILTINS: Mapping[str, Any] = MappingProxyType({
    "None": None, "True": True, "False": False,
    # Pure functions and containers: bounded by what they are given.
    "abs": abs, "all": all, "any": any, "bool": bool, "chr": chr, "divmod": divmod,
    "enumerate": enumerate, "float": float, "isinstance": isinstance, "len": len, "max": max,
    "min": min, "ord": ord, "repr": repr, "reversed": reversed, "sorted": sorted, "str": str,
    "zip": zip, "dict": dict, "frozenset": frozenset, "list": list, "set": set, "tuple": tuple,
    # Guarded stand-ins (see the module docstring).
    "int": _Int, "Decimal": _Decimal, "range": _range, "round": _round, "sum": _sum, "pow": _pow,
    # Dates; now() and today() read the engine's clock at call time, today() in UTC.
    "date": date, "datetime": datetime, "timedelta": timedelta, "timezone": timezone,
    "now": lambda: clock.now(), "today": lambda: clock.now().date(),
    "months_after": _months_after,
    # Exceptions a script may raise or catch.
    **{error.__name__: error for error in (
        Exception, ArithmeticError, AssertionError, AttributeError, IndexError, KeyError,
        LookupError, NameError, OverflowError, RuntimeError, TypeError, ValueError,
        ZeroDivisionError)},
})  # fmt: skip


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(call, where)
    return call


def _tick_statement(where: ast.stmt) -> ast.Expr:
    statement = ast.Expr(_call("_tick_", [], where))
    copy_locations(statement, where)
    return statement


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus refusals it lacks, size guards and step counting."""

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.error(node, "uses import, which is not allowed: diagram code cannot load modules")

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.error(node, f"defines a class ({node.name}), which is not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr in _DENIED_ATTRS:
            self.error(node, f"uses '.{node.attr}', which is not allowed")
        return super().visit_Attribute(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            return super().visit_AugAssign(node)
        parts = [self.visit(target.value), self.visit(target.slice), self.visit(node.value)]
        operation = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        statement = ast.Expr(_call("_augitem_", [operation, *parts], node))
        copy_locations(statement, node)
        return statement

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        return node if guard is None else _call(guard, [node.left, node.right], node)

    def visit_Call(self, node: ast.Call) -> Any:
        return _call("_sized_", [super().visit_Call(node)], node)

    def visit_List(self, node: ast.List | ast.Tuple | ast.Set) -> Any:
        node = self.node_contents_visit(node)
        splat = any(isinstance(item, ast.Starred) for item in node.elts)
        loading = isinstance(getattr(node, "ctx", ast.Load()), ast.Load)
        return _call("_sized_", [node], node) if splat and loading else node

    visit_Tuple = visit_Set = visit_List  # type: ignore[assignment]

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec = node.format_spec or ast.Constant("")
        node.value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        node.conversion, node.format_spec = -1, None
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        node.body = ast.BoolOp(ast.And(), [_call("_tick_", [], node.body), node.body])
        return node

    def visit_comprehension(self, node: ast.comprehension) -> Any:
        node = super().visit_comprehension(node)
        node.ifs.insert(0, _call("_tick_", [], node.iter))
        return node

    def node_contents_visit(self, node: Any) -> Any:
        """Puts a step before every statement, wherever statements are listed."""
        node = super().node_contents_visit(node)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list):
                ticked = [(_tick_statement(s), s) for s in statements]
                setattr(node, field, [part for pair in ticked for part in pair])
        return node


_UNDERSCORE = re.compile(r'"([^"]+)" is an invalid \w+ name because it starts with "_"')
_RESTRICTED = re.compile(r'"([^"]+)" is a (?:restricted|reserved) name')


def _plain(error: str, mode: str) -> str:
    """RestrictedPython's message ('Line 1: ...'), reworded for a process owner."""
    line, _, info = error.partition(": ")
    if match := _UNDERSCORE.search(info):
        info = f"uses a name starting with '_' ({match[1]}), which is not allowed"
    elif match := _RESTRICTED.search(info):
        info = f"uses '{match[1]}', which is not allowed"
    return f"{info} ({line.lower()})" if mode == "exec" else info


MAX_PREFIX_RUN = 100
_PREFIX_RUN = re.compile(rf"(?:(?:[-+~]|\bnot\b)\s*){{{MAX_PREFIX_RUN + 1},}}")
_TOO_DEEP = "is nested too deeply to check (a condition needs only a few levels)"


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> tuple[CodeType | None, str | None, bool]:
    """(code, why refused, needs a budget); cached, as diagrams repeat a few sources."""
    limit = MAX_EXPRESSION_CHARS if mode == "eval" else MAX_SCRIPT_CHARS
    if len(source) > limit:
        return None, f"is {len(source):,} characters long; the limit is {limit:,}", False
    if _PREFIX_RUN.search(source):
        # Python 3.11 runs out of stack turning such a chain into its syntax tree, and a
        # RecursionError there leaves the parser's depth count wrong for the whole process.
        return None, f"{_TOO_DEEP}: over {MAX_PREFIX_RUN} signs or 'not's in a row", False
    try:
        tree = ast.parse(source, _FILENAME, mode)
        loops = (ast.Lambda, ast.comprehension)
        budgeted = mode == "exec" or any(isinstance(node, loops) for node in ast.walk(tree))
        compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compiler(tree, _FILENAME, policy=_Policy)
    except (SyntaxError, ValueError) as error:
        where = f" on line {error.lineno}" if getattr(error, "lineno", None) else ""
        return None, f"has a syntax error{where}: {getattr(error, 'msg', error)}", False
    except RecursionError:
        return None, _TOO_DEEP, False
    if result.errors:
        return None, _plain(result.errors[0], mode), False
    return result.code, None, budgeted


def check_expression(source: str) -> str | None:
    """None if ``source`` is an acceptable expression, else a one-line reason why not."""
    return _compile(source.strip(), "eval")[1]


def check_script(source: str) -> str | None:
    """None if ``source`` is an acceptable script, else a one-line reason why not."""
    return _compile(source, "exec")[1]


def _compiled(source: Any, mode: str) -> tuple[CodeType, bool]:
    if not isinstance(source, str):
        raise TypeError(f"expected code as text, got {type(source).__name__}")
    # eval() strips leading blanks and SpiffWorkflow relied on it; XML often indents.
    code, reason, budgeted = _compile(source.strip() if mode == "eval" else source, mode)
    if code is None:
        raise SandboxViolation(f"This {'expression' if mode == 'eval' else 'script'} {reason}")
    return code, budgeted


def _peak_rss() -> int:
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


class _Budget:
    """Steps, wall time and memory for one run. Once breached, every step fails, since a
    script that catches the error in an inner loop would otherwise run on in an outer one."""

    __slots__ = ("steps", "checkpoint", "deadline", "rss_limit", "breach")

    def __init__(self) -> None:
        self.steps, self.checkpoint = MAX_STEPS, MAX_STEPS - 16
        self.deadline = time.monotonic() + MAX_SECONDS
        self.rss_limit = _peak_rss() + MAX_RSS_GROWTH
        self.breach: str | None = None

    def tick(self) -> bool:
        self.steps -= 1
        if self.steps <= self.checkpoint:
            self.check()
        return True

    def check(self) -> None:
        self.checkpoint = self.steps - 16  # the clock and getrusage cost ~1 us: not every step
        if self.breach is None:
            if self.steps <= 0:
                self.breach = f"ran more than {MAX_STEPS:,} steps"
            elif time.monotonic() > self.deadline:
                self.breach = f"ran longer than {MAX_SECONDS:g} s"
            elif _peak_rss() > self.rss_limit:
                self.breach = f"used more than {MAX_RSS_GROWTH >> 20} MB of memory"
        if self.breach is not None:
            self.checkpoint = sys.maxsize
            raise SandboxViolation(f"Stopped: the code {self.breach}")


def _run(code: CodeType, scope: dict[str, Any], budgeted: bool, runner: Any = eval) -> Any:
    if not budgeted:
        return runner(code, scope)
    budget = _Budget()
    scope["_tick_"] = budget.tick
    result = runner(code, scope)
    if budget.breach is not None:  # the code caught the violation: it fails all the same
        budget.check()
    return result


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs diagram code in the sandbox."""

    def __init__(self, helpers: Mapping[str, Any] | None = None):
        super().__init__(dict(helpers or {}))
        if any(name.startswith("_") for name in self.globals):
            raise ValueError("helper names must not start with '_'")
        refused = {name: _forbidden(name) for name in _FORBIDDEN}  # to say so, not NameError
        self._builtins = {**refused, **SAFE_BUILTINS, **self.globals}

    def evaluate(self, expression: Any, context: dict, external_context: Any = None) -> Any:
        code, budgeted = _compiled(expression, "eval")
        # Ours last, so task data cannot stand in for a guard or for the builtins.
        scope = {**(external_context or {}), **context, **_GUARDS, "__builtins__": self._builtins}
        return _run(code, scope, budgeted)

    def execute(self, script: Any, context: dict, external_context: Any = None) -> bool:
        """As TaskDataEnvironment.execute: names the script assigns stay in ``context``; what we
        put in, and every callable, is taken out again (task data must stay serializable)."""
        code, _ = _compiled(script, "exec")
        external = dict(external_context or {})
        if clash := (self.globals.keys() | external.keys()) & context.keys():
            raise ValueError(f"Task data hides predefined function(s), rename: {sorted(clash)}")
        context.update(external, **_GUARDS, __builtins__=self._builtins)
        try:
            _run(code, context, True, exec)
        finally:
            added = {"__builtins__", *self.globals, *external, *_GUARDS}
            for name in [
                name for name, value in context.items() if name in added or callable(value)
            ]:
                del context[name]
        return True


def make_script_engine(helpers: Mapping[str, Any] | None = None) -> PythonScriptEngine:
    """The script engine every workflow must use (re-attach it after each deserialization)."""
    return PythonScriptEngine(environment=RestrictedEnvironment(helpers))

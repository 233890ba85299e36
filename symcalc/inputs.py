"""The one boundary where objects handed to the Python API become SymPy objects.

symcalc never evaluates text: SymPy's non-strict ``sympify`` (and everything that
calls it: ``Matrix([...])``, ``sympify`` of a tuple, ``expr.subs(dict)``,
``Function(arg)``) runs a string it meets as Python. So every public function
reads its arguments through these helpers, which refuse a string *anywhere* in
the object (also inside lists, tuples, dicts and NumPy arrays) with an
:class:`~symcalc.errors.InputTypeError` that points to ``symcalc.parse``, and
convert everything else strictly (numbers, NumPy scalars, SymPy objects).

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> as_expr(2.5), as_expr(x + 1)
(2.50000000000000, x + 1)
>>> as_matrix([[1, x], [0, 2]])
Matrix([
[1, x],
[0, 2]])
>>> as_expr("__import__('os')", "f")
Traceback (most recent call last):
...
symcalc.errors.InputTypeError: f is a string ("__import__('os')"); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
>>> as_matrix([[1, "x"]], "A")
Traceback (most recent call last):
...
symcalc.errors.InputTypeError: A[0][1] is a string ('x'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import sympy as sp

from symcalc.errors import InputError, InputTypeError, ShapeError, reject_text

__all__ = [
    "reject_text",
    "as_expr",
    "as_scalar_expr",
    "as_matrix",
    "as_items",
    "as_symbols",
    "is_container",
    "short",
    "is_matrix_problem",
]

_CONTAINERS = (list, tuple, dict, set, frozenset)


def is_container(obj: Any) -> bool:
    """A Python container or an array (what ``as_matrix`` reads), not a SymPy object."""
    return isinstance(obj, _CONTAINERS) or (
        hasattr(obj, "ndim") and hasattr(obj, "tolist") and not isinstance(obj, sp.Basic)
    )


def as_expr(obj: Any, what: str = "the argument", *, exact_floats: bool = False) -> sp.Basic:
    """A SymPy object from a SymPy object or a number; text and containers are refused.

    A mutable Matrix becomes an ImmutableMatrix; ``exact_floats`` turns a float
    into the rational it prints as (``0.1`` -> ``1/10``).

    >>> as_expr(0.5, exact_floats=True), as_expr(3)
    (1/2, 3)
    >>> as_expr([1, 2], "p")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: p must be a SymPy expression or a number, got a list
    """
    reject_text(obj, what)
    if isinstance(obj, sp.MatrixBase):
        return sp.ImmutableMatrix(obj)
    if isinstance(obj, sp.Basic):
        return obj
    if isinstance(obj, bool) or obj is None or is_container(obj):
        raise InputTypeError(f"{what} must be a SymPy expression or a number, got {_kind(obj)}")
    if exact_floats and isinstance(obj, float):
        return sp.nsimplify(obj)
    if isinstance(obj, Fraction):
        return sp.Rational(obj.numerator, obj.denominator)
    try:
        return sp.sympify(obj, strict=True)  # strict: numbers, NumPy scalars, _sympy_()
    except (sp.SympifyError, TypeError, ValueError, AttributeError):
        raise InputTypeError(
            f"{what} must be a SymPy expression or a number, got {_kind(obj)}"
        ) from None


def as_scalar_expr(obj: Any, what: str = "f") -> sp.Expr:
    """A scalar SymPy expression (a 1 x 1 explicit Matrix is unwrapped).

    >>> as_scalar_expr(sp.Matrix([[sp.Symbol("x")]]))
    x
    """
    reject_text(obj, what)
    if isinstance(obj, sp.MatrixBase):
        if obj.shape != (1, 1):
            raise ShapeError(
                f"{what} must be a scalar, got a {obj.rows} x {obj.cols} Matrix; "
                "use jacobian() for a vector-valued function"
            )
        obj = obj[0, 0]
    e = as_expr(obj, what)
    if not isinstance(e, sp.Expr):
        raise InputTypeError(f"{what} must be a scalar expression, got {type(e).__name__}")
    return e


def as_matrix(
    obj: Any, what: str = "the matrix", *, exact_floats: bool = False
) -> sp.ImmutableMatrix:
    """An explicit ImmutableMatrix from a Matrix, a list of rows, a flat list (a column)
    or a NumPy array; every entry goes through :func:`as_expr`.

    >>> as_matrix([1, 2]).shape, as_matrix(sp.Matrix([[1, 2]])).shape
    ((2, 1), (1, 2))
    >>> as_matrix([[1, 2], [3]], "A")
    Traceback (most recent call last):
    ...
    symcalc.errors.ShapeError: A has rows of different lengths (2, 1)
    """
    reject_text(obj, what)
    if isinstance(obj, sp.MatrixBase):
        return sp.ImmutableMatrix(obj)
    if isinstance(obj, sp.MatrixExpr):
        if not all(getattr(d, "is_Integer", False) for d in obj.shape):
            raise ShapeError(f"{what} = {obj} has symbolic size {obj.shape}; give concrete sizes")
        return sp.ImmutableMatrix(obj.as_explicit())
    if hasattr(obj, "ndim") and hasattr(obj, "tolist") and not isinstance(obj, sp.Basic):
        if obj.ndim not in (1, 2):
            raise ShapeError(f"{what} must be a 1-D or 2-D array, got {obj.ndim} dimensions")
        obj = obj.tolist()
    if not isinstance(obj, (list, tuple)):
        raise InputTypeError(f"{what} must be a Matrix or a list of rows, got {_kind(obj)}")
    if not obj:
        raise ShapeError(f"{what} is empty")
    if all(isinstance(r, (list, tuple)) for r in obj):
        lengths = tuple(len(r) for r in obj)
        if len(set(lengths)) != 1 or lengths[0] == 0:
            raise ShapeError(
                f"{what} has rows of different lengths {lengths}"
                if len(set(lengths)) != 1
                else f"{what} has empty rows"
            )
        rows = [
            [_entry(v, f"{what}[{i}][{j}]", exact_floats) for j, v in enumerate(r)]
            for i, r in enumerate(obj)
        ]
        return sp.ImmutableMatrix(rows)
    if any(isinstance(r, (list, tuple)) for r in obj):
        raise ShapeError(f"{what} mixes rows (lists) and single entries")
    return sp.ImmutableMatrix(
        [[_entry(v, f"{what}[{i}]", exact_floats)] for i, v in enumerate(obj)]
    )


def _entry(v: Any, what: str, exact_floats: bool) -> sp.Expr:
    e = as_expr(v, what, exact_floats=exact_floats)
    if isinstance(e, sp.ImmutableMatrix) and e.shape == (1, 1):
        e = e[0, 0]
    if not isinstance(e, sp.Expr) or isinstance(e, sp.MatrixExpr):
        raise InputTypeError(f"{what} must be a scalar expression, got {type(e).__name__}")
    return e


def as_items(obj: Any, what: str, kind: str) -> list:
    """A sequence, or a row or column Matrix, as a non-empty list (text refused anywhere).

    >>> as_items(sp.Matrix([1, 2]), "v", "numbers")
    [1, 2]
    """
    reject_text(obj, what)
    if isinstance(obj, sp.MatrixBase):
        if obj.cols != 1 and obj.rows != 1:
            raise ShapeError(
                f"{what} must be a vector (a row or a column), got a {obj.rows} x {obj.cols} Matrix"
            )
        items = list(obj)
    elif isinstance(obj, (dict, set, frozenset)):
        raise InputTypeError(
            f"{what} must be a sequence of {kind} or a column Matrix, got {_kind(obj)}"
        )
    elif isinstance(obj, Iterable) and not isinstance(obj, sp.Basic):
        items = list(obj)
        reject_text(items, what)  # a generator is only seen once it is listed
    else:
        raise InputTypeError(
            f"{what} must be a sequence of {kind} or a column Matrix, got {type(obj).__name__}"
        )
    if not items:
        raise InputError(f"{what} is empty: give at least one entry")
    return items


def as_symbols(wrt: Any, what: str = "wrt") -> list[sp.Symbol]:
    """The variables as a list of distinct Symbols (one Symbol, a sequence or a column Matrix).

    >>> x, y = sp.symbols("x y")
    >>> as_symbols(x), as_symbols([x, y])
    ([x], [x, y])
    >>> as_symbols([x, x])
    Traceback (most recent call last):
    ...
    symcalc.errors.InputError: the variable x appears twice in wrt
    """
    items = [wrt] if isinstance(wrt, sp.Symbol) else as_items(wrt, what, "Symbols")
    seen = set()
    for k, s in enumerate(items):
        if not isinstance(s, sp.Symbol):
            raise InputTypeError(
                f"{what}[{k}] = {short(s)} is not a Symbol (it is a {type(s).__name__})"
            )
        if s in seen:
            raise InputError(f"the variable {s} appears twice in {what}")
        seen.add(s)
    return items


def _kind(obj: Any) -> str:
    return {list: "a list", tuple: "a tuple", dict: "a dict"}.get(type(obj), type(obj).__name__)


def short(obj: Any, limit: int = 60) -> str:
    """``obj`` on one line of at most ``limit`` characters, for error messages.

    SymPy objects in SymPy's notation, text and exceptions as they read, anything
    else by its repr; longer text ends in "...".

    >>> x = sp.Symbol("x")
    >>> short(x**2 + 1), short([1, 2]), short("two\\nlines"), short(ValueError("bad"))
    ('x**2 + 1', '[1, 2]', 'two lines', 'bad')
    >>> short(sp.Add(*sp.symbols("a:30")), 20)
    'a0 + a1 + a10 + a...'
    """
    if isinstance(obj, sp.Basic):
        s = sp.sstr(obj)
    elif isinstance(obj, (str, BaseException)):
        s = str(obj)
    else:
        s = repr(obj)
    s = s.replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 3] + "..."


def as_choice(value: Any, choices: Iterable[str], what: str) -> str:
    """``value`` when it is one of the option strings ``choices``, else one clear InputError.

    >>> as_choice("numpy", ("numpy", "native"), "backend")
    'numpy'
    >>> as_choice(["numpy"], ("numpy", "native"), "backend")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputError: backend must be one of 'numpy', 'native', got ['numpy']
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InputError(
            f"{what} must be one of {', '.join(map(repr, choices))}, got {short(repr(value) if isinstance(value, str) else value)}"
        )
    return value


def as_title(value: Any, what: str = "name") -> str | None:
    """A title given by the user: a string (kept as data, never run) or None.

    >>> as_title("Kernel; import os")
    'Kernel; import os'
    >>> as_title(3)
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: name must be a string or None, not int
    """
    if value is None or isinstance(value, str):
        return value
    raise InputTypeError(f"{what} must be a string or None, not {type(value).__name__}")


def _neutral_name(a: Any, i: int) -> Any:
    """A stand-in for argument ``a`` whose printed name is symcalc's own (``_m0``, a Dummy)."""
    if isinstance(a, sp.MatrixSymbol):
        return sp.MatrixSymbol(f"_m{i}", *a.shape)
    return sp.Dummy(f"arg{i}")


def safe_lambdify(args: Any, expr: Any, modules: Any, printer: Any = None):
    """``sympy.lambdify`` that never prints a user's name into the code it generates.

    lambdify writes Python source from the names of symbols and functions; a symbol
    named ``sin`` would shadow the function, and an undefined function's name is printed
    as it is. Here every argument is renamed to a Dummy first (``dummify``), a free symbol
    that is not an argument is refused, and so is an undefined function (no numeric
    meaning).

    >>> import sympy as sp
    >>> s = sp.Symbol("sin")
    >>> safe_lambdify([s], sp.sin(s) + s, "math")(0.5) == __import__("math").sin(0.5) + 0.5
    True
    >>> safe_lambdify([s], sp.Function("f")(s), "math")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputError: cannot evaluate the undefined function f numerically
    """
    from sympy.core.function import AppliedUndef

    arg_list = list(args) if isinstance(args, (list, tuple)) else [args]
    target = expr if isinstance(expr, sp.Basic) else sp.ImmutableMatrix(expr)
    undefined = sorted({type(a).__name__ for a in target.atoms(AppliedUndef)})
    if undefined:
        raise InputError(
            f"cannot evaluate the undefined function {', '.join(undefined)} numerically"
        )
    loose = target.free_symbols - set(arg_list)
    if loose:
        raise InputError(
            f"cannot evaluate numerically: {', '.join(sorted(map(str, loose)))} has no value"
        )
    # lambdify also puts each symbol's name in the function's namespace: rename them all
    renamed = {a: _neutral_name(a, i) for i, a in enumerate(arg_list)}
    code_args = [renamed[a] for a in arg_list] if isinstance(args, (list, tuple)) else renamed[args]
    return sp.lambdify(
        code_args,
        target.xreplace(renamed)
        if isinstance(expr, sp.Basic)
        else sp.ImmutableMatrix(expr).xreplace(renamed),
        modules=modules,
        printer=printer,
        dummify=False,  # every argument is renamed above (MatrixSymbols stay matrices)
    )


def is_matrix_problem(f: Any, wrt: Any) -> bool:
    """Whether ``f`` and ``wrt`` go to the closed-form matrix engine (else: explicit entries).

    A matrix problem has a MatrixSymbol variable, or an ``f`` written with MatrixSymbols
    (a matrix expression, or a scalar such as a trace or a quadratic form). An explicit
    Matrix of entries (``Matrix`` or ``ImmutableMatrix``, which SymPy also counts as a
    MatrixExpr) differentiated by symbols is not; nor is a list of scalar expressions,
    unless one of them holds a MatrixSymbol. A pure test: nothing is converted.

    >>> x, y = sp.symbols("x y")
    >>> A, v = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("v", 2, 1)
    >>> is_matrix_problem(sp.ImmutableMatrix([x * y, x]), [x, y]), is_matrix_problem(x**2, x)
    (False, False)
    >>> is_matrix_problem((v.T * A * v)[0, 0], v), is_matrix_problem(sp.Trace(A), [x])
    (True, True)
    >>> is_matrix_problem([x * y, sp.Trace(A)], [x, y]), is_matrix_problem([x, y], [x, y])
    (True, False)
    """
    if isinstance(wrt, sp.MatrixExpr) and not isinstance(wrt, sp.MatrixBase):
        return True
    if isinstance(f, (list, tuple)):
        return any(is_matrix_problem(e, wrt) for e in f)
    if not isinstance(f, sp.Basic) or isinstance(f, sp.MatrixBase):
        return False  # an explicit Matrix (ImmutableMatrix is also a MatrixExpr)
    return isinstance(f, sp.MatrixExpr) or bool(f.atoms(sp.MatrixSymbol))

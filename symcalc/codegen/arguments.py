"""Checking what the user passes to ``compile``: symbols, expressions, given derivatives and arrays.

Shared by every kernel generator (:mod:`symcalc.codegen.kernels`, :mod:`symcalc.codegen.array_api`).

>>> import sympy as sp
>>> _array_shape(sp.MatrixSymbol("X", sp.Symbol("m"), sp.Symbol("n")))
(m, n)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from symcalc.errors import InputError, InputTypeError, ShapeError
from symcalc.errors import reject_text as _reject_text
from symcalc.inputs import is_matrix_problem


def _as_symbol_list(items: Any, what: str, allow_empty: bool) -> list[sp.Symbol]:
    _reject_text(items, what)
    if isinstance(items, sp.Symbol):
        items = [items]
    elif isinstance(items, sp.MatrixBase):
        items = list(items)
    try:
        items = list(items)
    except TypeError:
        raise InputTypeError(
            f"{what} must be a sequence of Symbols, got {type(items).__name__}"
        ) from None
    if not items and not allow_empty:
        raise InputError(f"{what} is empty: name at least one variable")
    for k, s in enumerate(items):
        _reject_text(s, f"{what}[{k}]")
        if not isinstance(s, sp.Symbol):
            raise InputTypeError(
                f"{what}[{k}] = {s!r} is not a Symbol (it is a {type(s).__name__})"
            )
    return items


def _check_distinct(wrt, params):
    seen = set()
    for s in list(wrt) + list(params):
        if s in seen:
            raise InputError(
                f"the symbol {s} appears twice in wrt/params; each name must be given once"
            )
        seen.add(s)


def _scalar_expr(f: Any) -> sp.Expr:
    _reject_text(f, "f")
    if isinstance(f, sp.MatrixBase):
        if f.shape != (1, 1):
            raise ShapeError(f"f must be a scalar, got a {f.rows} x {f.cols} Matrix")
        f = f[0, 0]
    try:
        f = sp.sympify(f, strict=True)
    except (sp.SympifyError, TypeError):
        raise InputTypeError(f"f must be a SymPy expression, got {type(f).__name__}") from None
    if not isinstance(f, sp.Expr):
        raise InputTypeError(f"f must be a scalar expression, got {type(f).__name__}")
    return f


def _check_free_symbols(exprs, known, what="f"):
    free = set()
    for e in exprs:
        free |= e.free_symbols
    unknown = sorted(free - set(known), key=str)
    if unknown:
        names = ", ".join(map(str, unknown))
        raise InputError(
            f"{what} contains {names}, which is neither a variable (wrt) nor a parameter "
            f"(params); add it to params=... to pass its value at call time"
        )


def _given_entries(value: Any, what: str) -> list:
    """A precomputed gradient / Hessian (a Matrix, or a possibly nested list of SymPy objects
    and numbers) as a flat list of SymPy expressions. Text is refused, never sympified.

    >>> _given_entries([sp.Symbol("x"), 2], "gradient")
    [x, 2]
    >>> _given_entries([[1, "x"]], "hessian")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: hessian[0][1] is a string ('x'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    """
    if isinstance(value, sp.MatrixBase):
        return list(value)
    _reject_text(value, what)
    if isinstance(value, (list, tuple)):
        return [e for k, item in enumerate(value) for e in _given_entries(item, f"{what}[{k}]")]
    try:
        return [sp.sympify(value, strict=True)]
    except (sp.SympifyError, TypeError):
        raise InputTypeError(
            f"{what} must hold SymPy expressions or numbers, got {type(value).__name__}"
        ) from None


def _unknown_matrix_symbols(expr, known) -> list:
    """The MatrixSymbols and Symbols in expr that are not in known (names sorted)."""
    if not isinstance(expr, sp.Basic):
        return []
    return sorted((s for s in _matrix_symbols_of(expr) if s not in known), key=str)


def _matrix_given(value, what: str, known):
    """A precomputed matrix-form derivative: a SymPy object whose symbols are all known."""
    _reject_text(value, what)
    if value is None:
        return None
    if not isinstance(value, sp.Basic):
        raise InputTypeError(
            f"{what} must be a SymPy matrix expression, got {type(value).__name__}"
        )
    unknown = _unknown_matrix_symbols(value, known)
    if unknown:
        raise InputError(
            f"the given {what} contains {', '.join(map(str, unknown))}, which is neither wrt "
            "nor in params"
        )
    return value


def _float_array(value: Any, name: str, dtype=None) -> np.ndarray:
    """value as a float32/float64 array; integers become float64; others are refused."""
    try:
        arr = np.asarray(value)
    except Exception:
        raise InputError(f"{name} must be a numeric array, got {type(value).__name__}") from None
    kind = arr.dtype.kind
    if kind in "iub":
        arr = arr.astype(dtype or np.float64)
    elif kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
    else:
        raise InputError(
            f"{name} must be a real floating array (float32 or float64), got dtype {arr.dtype}"
        )
    return arr


def _is_matrix_problem(f, wrt, params) -> bool:
    return is_matrix_problem(f, wrt)  # the one test (symcalc.inputs)


def _matrix_symbols_of(expr):
    return {a for a in expr.atoms(sp.MatrixSymbol)} | {
        a for a in expr.free_symbols if isinstance(a, sp.Symbol)
    }


def _dims(shape):
    return [d for d in shape if isinstance(d, sp.Symbol)]


def _array_ndim(M) -> int:
    """How many axes the array for M has: 0 scalar, 1 vector (n x 1 or 1 x n), 2 matrix."""
    if not isinstance(M, sp.MatrixSymbol):
        return 0
    r, c = M.shape
    return 1 if (c == 1 or r == 1) else 2


def _array_shape(M):
    if _array_ndim(M) == 0:
        return ()
    r, c = M.shape
    if c == 1:
        return (r,)
    if r == 1:
        return (c,)
    return (r, c)


def _matrix_scalar(f):
    _reject_text(f, "f")
    if isinstance(f, sp.MatrixExpr):
        if f.shape != (1, 1):
            raise ShapeError(f"f must be a scalar (a 1 x 1 matrix expression), got shape {f.shape}")
        return sp.Trace(f)
    if not isinstance(f, sp.Expr):
        raise InputTypeError(
            f"f must be a SymPy scalar or 1 x 1 matrix expression, got {type(f).__name__}"
        )
    return f


def _shape_text(shape, bound=None):
    bound = bound or {}
    parts = [f"{d}={bound[d][0]}" if d in bound else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


class SingularMatrixError(InputError):
    """A matrix parameter a kernel solves with, inverts or factors (a covariance Sigma) is
    singular or not positive definite at the values given."""


def solved_matrices(exprs: Any, params: Any) -> list[str]:
    """The names of the square matrix parameters that ``exprs`` invert, solve with or take the
    determinant of (the ones a LinAlgError can be about).

    >>> S, A = sp.MatrixSymbol("S", 3, 3), sp.MatrixSymbol("A", 3, 3)
    >>> x = sp.MatrixSymbol("x", 3, 1)
    >>> solved_matrices([sp.Trace(x.T * S.I * x) + sp.Trace(A)], [S, A])
    ['S']
    """
    nodes = set()
    for e in exprs if isinstance(exprs, (list, tuple)) else [exprs]:
        if isinstance(e, sp.Basic):
            nodes |= e.atoms(sp.Inverse, sp.Determinant, sp.MatPow)
    square = [p for p in params if isinstance(p, sp.MatrixSymbol) and p.shape[0] == p.shape[1]]
    return [str(p) for p in square if any(n.has(p) for n in nodes)]


def singular_matrix_error(exc: Exception, exprs: Any, params: Any) -> SingularMatrixError:
    """The one clear error for a NumPy LinAlgError raised inside a kernel, naming the matrix.

    >>> S = sp.MatrixSymbol("Sigma", 2, 2)
    >>> str(singular_matrix_error(np.linalg.LinAlgError("Singular matrix"), [S.I], [S]))
    "the matrix parameter 'Sigma' is singular or not positive definite at the values given (NumPy: Singular matrix)"
    """
    names = solved_matrices(exprs, params) or [
        str(p) for p in params if isinstance(p, sp.MatrixSymbol) and p.shape[0] == p.shape[1]
    ]
    which = (
        f"the matrix parameter {names[0]!r} is"
        if len(names) == 1
        else f"one of the matrix parameters {', '.join(map(repr, names))} is"
        if names
        else "a matrix in the expression is"
    )
    return SingularMatrixError(
        f"{which} singular or not positive definite at the values given (NumPy: {exc})"
    )

"""Shapes in formulas: the size checks of matrices and scalars, with their errors."""

from __future__ import annotations

import math

import sympy as sp
from sympy import MatrixBase, MatrixExpr

from symcalc.errors import ParseError, ShapeError
from symcalc.parsing.lexer import LIMITS, Token


# ======================================================================================
# What names mean
# ======================================================================================
def _is_matrix(v) -> bool:
    return isinstance(v, (MatrixExpr, MatrixBase))


def _as_scalar(v):
    """A 1 x 1 matrix as a scalar (Trace of a 1 x 1 matrix expression is its entry)."""
    if isinstance(v, MatrixBase) and v.shape == (1, 1):
        return v[0, 0]
    if isinstance(v, MatrixExpr) and v.shape == (1, 1):
        return sp.Trace(v)
    return v


def _dims(v):
    r, c = v.shape
    return f"{r} x {c}"


class ShapeMismatchError(ParseError, ShapeError):
    """The formula multiplies or adds matrices whose sizes do not fit (says where)."""


class _Refused(TypeError):
    """An operation the parser's own rules refuse; its message is written for the user."""


class _ShapeMismatch(_Refused):
    pass


class _TooLarge(_Refused):
    """The work asked for is over one of the LIMITS (checked before it starts)."""


def _has_symbols(v) -> bool:
    return isinstance(v, sp.Basic) and bool(v.free_symbols)


def _check_symbolic_square(v, limit: str, what: str) -> None:
    """An explicit matrix with symbols in it is at most LIMITS[limit] x LIMITS[limit] for ``what``."""
    n = LIMITS[limit]
    if isinstance(v, MatrixBase) and max(v.shape) > n and _has_symbols(v):
        raise _TooLarge(
            f"the {what} of a {_dims(v)} matrix with symbols in it is too costly "
            f"to compute (limit {n} x {n}, parse.LIMITS['{limit}']): use a "
            "MatrixSymbol for it"
        )


def _check_explicit_entries(shapes, what: str) -> None:
    """An explicit result of ``what`` has at most LIMITS['max_matrix_entries'] entries."""
    entries = math.prod(r * c for r, c in shapes)
    if entries > LIMITS["max_matrix_entries"]:
        raise _TooLarge(
            f"the {what} would have {entries} entries; the limit is "
            f"{LIMITS['max_matrix_entries']} (parse.LIMITS['max_matrix_entries'])"
        )


_OPERATIONS = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "^": "raise to a power",
    "∘": "take the elementwise product of",
    "⊗": "take the Kronecker product of",
}


def _operation(tok: Token) -> str:
    """The verb for what the token does: 'multiply', "apply 'det' to", ..."""
    if tok.kind == "name":
        return f"apply '{tok.value}' to"
    return _OPERATIONS.get(tok.value, "multiply")


def _kind(v) -> str:
    """'a scalar', 'a 3 x 2 matrix', 'a n x n matrix expression' (never SymPy's text)."""
    if isinstance(v, MatrixBase):
        return f"a {_dims(v)} matrix"
    if isinstance(v, MatrixExpr):
        return f"a {_dims(v)} matrix expression"
    if isinstance(v, sp.Basic) and not isinstance(v, sp.Expr):
        return f"a {type(v).__name__}"
    return "a scalar"


def _kinds(args) -> str:
    """The operands of an operation, by kind: 'a 2 x 2 matrix and a scalar'."""
    flat = []
    for a in args:
        if isinstance(a, (list, tuple)):
            flat.extend(a)
        elif not isinstance(a, str):
            flat.append(a)
    kinds = [_kind(v) for v in flat]
    if len(kinds) <= 1:
        return kinds[0] if kinds else "these"
    return ", ".join(kinds[:-1]) + " and " + kinds[-1]

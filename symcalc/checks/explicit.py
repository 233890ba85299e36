"""Explicit evaluation: matrix expressions carried out, and values at a point as numbers.

>>> import sympy as sp
>>> A = sp.MatrixSymbol("A", 2, 2)
>>> materialize(sp.Trace(A) * sp.Identity(2), {A: sp.Matrix([[1, 2], [3, 4]])})
Matrix([
[5, 0],
[0, 5]])
>>> x = sp.Symbol("x")
>>> numeric(sp.sqrt(x), {x: 2})
(1.4142135623730951+0j)
"""

from __future__ import annotations

from typing import Any

import sympy as sp

__all__ = ["materialize", "numeric"]


def materialize(expr: Any, subs: dict) -> Any:
    """Substitute explicit matrices and evaluate matrix expressions to Matrices."""
    out = expr.subs(subs) if subs else expr
    if isinstance(out, sp.Basic) and out.has(sp.OneMatrix, sp.Identity):
        out = out.replace(
            lambda e: isinstance(e, (sp.OneMatrix, sp.Identity)),
            lambda e: sp.ones(*e.shape) if isinstance(e, sp.OneMatrix) else sp.eye(e.shape[0]),
        )
    if hasattr(out, "doit"):
        out = out.doit()
    if isinstance(out, sp.MatrixExpr) and not isinstance(out, sp.MatrixBase):
        out = out.as_explicit()
    return out


def numeric(expr: Any, point: dict, digits: int = 30) -> complex:
    """The value of a scalar expression at ``point`` ({Symbol: number}), evaluated with
    ``digits`` significant digits, as a Python complex."""
    return complex(expr.xreplace(point).evalf(digits))

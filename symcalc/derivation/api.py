"""Gradients, Hessians and Jacobians on SymPy objects: the public derivative entry points.

Layout convention, kept everywhere: a gradient has the shape of its variable
(a column for a vector of symbols), the Jacobian dF/dx of F in R^m by x in R^n
is m x n, and the Hessian is the Jacobian of the gradient (symmetric).

For explicit symbols the work is element-wise (through :mod:`symcalc.derivation.fastdiff`);
when the variable is a MatrixSymbol, or f is written with MatrixSymbols, the
call goes to the closed-form matrix engine (:mod:`symcalc.derivation.matrix`).

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> gradient(x**2 * y, [x, y]).T
Matrix([[2*x*y, x**2]])
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symcalc.budget import budgeted
from symcalc.derivation import fastdiff
from symcalc.errors import ShapeError
from symcalc.inputs import as_items, as_scalar_expr, as_symbols, is_matrix_problem, reject_text

# ---------------------------------------------------------------------------
# Input checking: every public function goes through symcalc.inputs
# ---------------------------------------------------------------------------
_scalar = as_scalar_expr  # the names landscape.py imports
_wrt_symbols = as_symbols


def _vector_field(F: Any, what: str = "F") -> list[sp.Expr]:
    """``F`` as a list of scalar expressions (a sequence, or a row or column Matrix)."""
    return [_scalar(c, f"{what}[{k}]") for k, c in enumerate(as_items(F, what, "expressions"))]


def _square_field(F: Any, wrt: Any) -> tuple[list[sp.Expr], list[sp.Symbol]]:
    comps, syms = _vector_field(F), _wrt_symbols(wrt)
    if len(comps) != len(syms):
        raise ShapeError(
            f"the field F has {len(comps)} components but there are {len(syms)} variables; "
            "a vector field on R^n needs n components"
        )
    return comps, syms


def _is_matrix_problem(f: Any, wrt: Any) -> bool:
    reject_text(f, "f")
    reject_text(wrt, "wrt")
    return is_matrix_problem(f, wrt)


def _matrix_problem(f: Any, wrt: Any) -> tuple[Any, Any]:
    """(f, wrt) in the engine's canonical spelling (symcalc.expr.canonical)."""
    from symcalc.expr.canonical import canonical_problem
    from symcalc.expr.registry import canonical

    return canonical_problem(canonical(f), wrt)  # registry hook: Max(0, t) -> relu(t), ...


def _matrix_engine():
    from symcalc.derivation import matrix as matrix_calculus

    return matrix_calculus


# ---------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------


@budgeted("gradient")
def gradient(f: Any, wrt: Any) -> sp.Matrix:
    """The gradient of a scalar ``f`` as a column (the shape of ``wrt``).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> gradient((1 - x)**2 + 100*(y - x**2)**2, [x, y]).T
    Matrix([[-400*x*(-x**2 + y) + 2*x - 2, -200*x**2 + 200*y]])

    With a MatrixSymbol variable the closed-form matrix engine answers.
    """
    if _is_matrix_problem(f, wrt):
        return _matrix_engine().matrix_gradient(*_matrix_problem(f, wrt))
    f, syms = _scalar(f), _wrt_symbols(wrt)
    return sp.Matrix(fastdiff.gradient_entries(f, syms))


@budgeted("hessian")
def hessian(f: Any, wrt: Any) -> sp.Matrix:
    """The symmetric n x n Hessian of a scalar ``f``, taken from its gradient.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> hessian(x**3 - 3*x*y**2, [x, y])
    Matrix([
    [ 6*x, -6*y],
    [-6*y, -6*x]])
    """
    if _is_matrix_problem(f, wrt):
        return _matrix_engine().matrix_hessian(*_matrix_problem(f, wrt))
    f, syms = _scalar(f), _wrt_symbols(wrt)
    return fastdiff.hessian_from_gradient(fastdiff.gradient_entries(f, syms), syms)


@budgeted("jacobian")
def jacobian(F: Any, wrt: Any) -> sp.Matrix:
    """The m x n Jacobian dF_i/dx_j of a vector-valued ``F``.

    >>> import sympy as sp
    >>> r, t = sp.symbols("r t")
    >>> jacobian([r*sp.cos(t), r*sp.sin(t)], [r, t])
    Matrix([
    [cos(t), -r*sin(t)],
    [sin(t),  r*cos(t)]])
    """
    if _is_matrix_problem(F, wrt):
        from symcalc.expr.canonical import as_column  # a row vector: its column's Jacobian

        F, wrt = _matrix_problem(F, wrt)  # first the boundary: (x.T*x)*x.T is a row
        return _matrix_engine().matrix_jacobian(as_column(F), wrt)
    comps, syms = _vector_field(F), _wrt_symbols(wrt)
    return fastdiff.jacobian_entries(comps, syms)

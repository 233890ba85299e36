"""Second-order tools in closed form: the Laplacian (trace of the Hessian), Hessian-vector
products and the Gauss-Newton matrix of a least-squares loss.

* ``laplacian(f, x)``: tr(d^2 f / dx dx^T) for a MatrixSymbol x, written without the
  Hessian's index structure where a trace identity applies
  (tr(L diag(v) R) = v^T (R o L^T) 1, tr(A kron B) = tr A tr B), so it is a scalar
  expression the engine differentiates again: ``gradient(laplacian(f, x), W)`` is the
  score-matching gradient.
* ``hvp(f, x, v)``: the directional derivative of the gradient, d grad f [v], of x's shape;
  equal to unvec(H vec v), without forming H.
* ``gauss_newton(r, x)``: J^T J for the residual r(x) of the loss 1/2 ||r||^2.

>>> import sympy as sp
>>> from symcalc.expr.structure import matrix_symbol, vector, ones, elementwise, sum_entries
>>> from symcalc.expr.functions import softplus
>>> W, b, x = matrix_symbol("W", "h", "n"), vector("b", "h"), vector("x", "n")
>>> E = sum_entries(elementwise(softplus, W*x + b))
>>> hessian_trace(E, x)
Trace((HadamardProduct(sigmoid(b.T + x.T*W.T), -sigmoid(b.T + x.T*W.T) + 1))*(HadamardProduct(W, W))*1)
"""

from __future__ import annotations

import sympy as sp
from sympy import (
    Identity,
    KroneckerProduct,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Trace,
)
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.budget import budgeted
from symcalc.derivation.algebra import collect, normalize
from symcalc.derivation.matrix import matrix_gradient, matrix_hessian, matrix_jacobian
from symcalc.derivation.phases import Differentiator
from symcalc.derivation.vecform import Vec
from symcalc.errors import InputError, ShapeError
from symcalc.expr.algebra import hadamard, mul, transpose
from symcalc.inputs import reject_text

__all__ = ["hessian_trace", "hvp", "gauss_newton", "trace_of"]


def _variable(x, what="the variable"):
    reject_text(x, what)
    if not isinstance(x, MatrixSymbol):
        raise InputError(f"{what} must be a MatrixSymbol (a vector or matrix variable), not {x!r}")
    return x


def _split(M):
    """(scalar coefficient, matrix factors) of a product."""
    if isinstance(M, MatMul):
        scal = [a for a in M.args if not isinstance(a, MatrixExpr)]
        return sp.Mul(*scal), [a for a in M.args if isinstance(a, MatrixExpr)]
    return sp.S.One, [M]


def trace_of(M):
    """tr(M) by the trace identities where one applies, else Trace(M).

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, B = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("B", n, n)
    >>> v = sp.MatrixSymbol("v", n, 1)
    >>> trace_of(3 * Identity(n) + KroneckerProduct(A, B))
    3*n + Trace(A)*Trace(B)
    >>> trace_of(A.T * DiagMatrix(v) * A)
    Trace(v.T*(HadamardProduct(A, A))*1)
    """
    if isinstance(M, MatAdd):
        return sp.Add(*[trace_of(a) for a in M.args])
    coef, mats = _split(M)
    if coef != 1:
        return coef * trace_of(mul(*mats))
    if len(mats) == 1:
        (A,) = mats
        if isinstance(A, Identity):
            return A.rows
        if isinstance(A, KroneckerProduct):
            return sp.Mul(*[trace_of(a) for a in A.args])
        if isinstance(A, sp.Transpose):  # tr(A^T) = tr(A)
            return trace_of(A.arg)
        if isinstance(A, DiagMatrix) and isinstance(A.args[0], Vec):  # 1^T vec(B) = sum(B)
            B = A.args[0].arg
            return Trace(mul(OneMatrix(1, B.rows), B, OneMatrix(B.cols, 1)))
        if isinstance(A, DiagMatrix) and A.args[0].cols == 1:
            return Trace(mul(OneMatrix(1, A.rows), A.args[0]))
        return Trace(A)
    diags = [i for i, a in enumerate(mats) if isinstance(a, DiagMatrix) and a.args[0].cols == 1]
    if len(diags) == 1:
        i = diags[0]
        v = mats[i].args[0]
        L, R = mats[:i], mats[i + 1 :]
        # tr(L diag(v) R) = sum_i v_i (R L)_ii = v^T (R o L^T) 1
        if L and R:
            P = hadamard(mul(*R), transpose(mul(*L)))
        else:
            P = hadamard(Identity(v.rows), mul(*(R or L)))
        if P.rows == v.rows:
            return Trace(mul(transpose(v), P, OneMatrix(P.cols, 1)))
    return Trace(M)


def hessian_trace(f, x):
    """The Laplacian of scalar f with respect to the MatrixSymbol x: the sum of the second
    derivatives d^2 f / dx_ij^2, the trace of the (vec) Hessian, in closed form."""
    _variable(x)
    return trace_of(matrix_hessian(f, x))


@budgeted("hessian")
def hvp(f, x, v):
    """The Hessian-vector product of scalar f at x along v (a MatrixSymbol of x's shape):
    d grad f [v] = unvec(H vec v), of x's shape, in closed form without forming H.

    >>> from symcalc.expr.structure import matrix_symbol, vector, quadratic_form
    >>> A, x, v = matrix_symbol("A", "n", "n"), vector("x", "n"), vector("v", "n")
    >>> hvp(quadratic_form(x, A), x, v)
    (A + A.T)*v
    """
    _variable(x)
    _variable(v, "the direction v")
    if v.shape != x.shape:
        raise ShapeError(f"the direction {v} is {v.shape}, the variable {x} is {x.shape}")
    if v.name == x.name or normalize(f).has(v):
        raise InputError(f"the direction {v} must be a new matrix symbol, not one in f")
    G = matrix_gradient(f, x)
    out = Differentiator({x: v})(G)
    return collect(out) if isinstance(out, MatrixExpr) else sp.ZeroMatrix(*x.shape)


@budgeted("hessian")
def gauss_newton(r, x):
    """The Gauss-Newton matrix J^T J of the least-squares loss 1/2 ||r(x)||^2, J the
    Jacobian d vec r / d vec x (n x n for a vector x, mn x mn for an m x n matrix).

    >>> from symcalc.expr.structure import matrix_symbol, vector, elementwise
    >>> A, x, y = matrix_symbol("A", "m", "n"), vector("x", "n"), vector("y", "m")
    >>> gauss_newton(A*x - y, x)
    A.T*A
    """
    _variable(x)
    if not isinstance(r, MatrixExpr):
        raise ShapeError(f"the residual {r} must be a vector or matrix expression")
    J = matrix_jacobian(r, x)
    return collect(mul(transpose(J), J))

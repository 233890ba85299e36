"""Reading a matrix off an expression linear in a column: T = P C, and s = r C for a scalar.

The Jacobian of a vector F(x) is read off the adjoint of its differential: with C the
cotangent of dF, tr(Cᵀ dF) = tr((Jᵀ C)ᵀ dx), so the adjoint is a column linear in C and
J = Pᵀ for the P with adjoint = P C. The adjoint is a sum of terms of a few shapes:

* ``L C R`` with R a 1 × 1 product: ``tr(R) L`` (a scalar times the differential, s dx);
* ``L Cᵀ R`` with L a column and R a column: ``L Rᵀ`` (an outer product, (vᵀ dx) u);
* ``s(C) M`` with s a scalar linear in C (a trace) and M a column: ``M r`` where
  ``s = r C`` (the derivative of a scalar times a vector, x (∇s)ᵀ);
* ``L (b ∘ C') R``: diag(b) between, and ``L diag(C') R`` as ``L diag(R) C'``.

Every term is expanded into products first (sums inside products are distributed, the
transposes pushed in), so the differential stands as one factor of each product.

>>> import sympy as sp
>>> from symcalc.expr.structure import vector, matrix_symbol
>>> x, C = vector("x", "n"), vector("C", "n")
>>> A = matrix_symbol("A", "n", "n")
>>> column_map(sp.Trace(C.T * x) * A * x + sp.Trace(x.T * x) * C, C)
Trace(x.T*x)*I + A*x*x.T
>>> row_map(sp.Trace(x * C.T * A), C)
x.T*A.T
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sympy as sp
from sympy import (
    HadamardProduct,
    Identity,
    MatAdd,
    MatMul,
    MatrixExpr,
    Trace,
    Transpose,
)
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.derivation.vecform import Unvec, Vec
from symcalc.errors import NoRuleError
from symcalc.expr.algebra import add, hadamard, is_zero, mul, transpose

__all__ = ["column_map", "row_map"]

#: (scalar coefficient free of C, a scalar factor holding C or None, the matrix factors)
Term = tuple[sp.Expr, sp.Expr | None, list]
#: called as record(before, after) when a Hadamard product is read as a diagonal matrix
Recorder = Callable[[sp.Basic, sp.Basic], None] | None


def _not_linear(T, C) -> NoRuleError:
    return NoRuleError(f"cannot read a Jacobian off {T}: it is not linear in {C}")


def terms(T, C) -> Iterator[Term]:
    """The products that make up T, each holding C in exactly one factor.

    >>> from symcalc.expr.structure import vector, matrix_symbol
    >>> x, C, A = vector("x", "n"), vector("C", "n"), matrix_symbol("A", "n", "n")
    >>> [(c, s, m) for c, s, m in terms(2 * A * (C + sp.Trace(C.T * x) * x), C)]
    [(2, Trace(C.T*x), [A, x]), (2, None, [A, C])]
    """
    if not T.has(C):
        raise _not_linear(T, C)
    if isinstance(T, (MatAdd, sp.Add)):
        for a in T.args:
            if not is_zero(a):
                yield from terms(a, C)
        return
    if isinstance(T, (MatMul, sp.Mul)):
        dependent = [i for i, a in enumerate(T.args) if a.has(C)]
        if len(dependent) != 1:
            raise _not_linear(T, C)
        k = dependent[0]
        others = T.args[:k] + T.args[k + 1 :]
        coef = sp.Mul(*[a for a in others if not isinstance(a, MatrixExpr)])
        left = [a for a in T.args[:k] if isinstance(a, MatrixExpr)]
        right = [a for a in T.args[k + 1 :] if isinstance(a, MatrixExpr)]
        for c, s, mats in terms(T.args[k], C):
            yield coef * c, s, left + mats + right
        return
    if isinstance(T, Transpose):
        pushed = transpose(T.arg)
        if pushed != T:
            yield from terms(pushed, C)
            return
    if isinstance(T, MatrixExpr):
        yield sp.S.One, None, [T]
    else:
        yield sp.S.One, T, []


def column_map(T, C, record: Recorder = None):
    """P with T = P C, for a column T linear in the column C (a closed-form matrix).

    >>> from symcalc.expr.structure import vector
    >>> x, C, b = vector("x", "n"), vector("C", "n"), vector("b", "n")
    >>> column_map(x * C.T * b + sp.HadamardProduct(b, C), C)
    DiagMatrix(b) + x*b.T
    """
    if T == C:
        return Identity(C.rows)
    return add(*[_column_term(c, s, mats, C, record) for c, s, mats in terms(T, C)])


def _product(mats):
    return mul(*mats) if mats else None


def _scalar_of(mats):
    """The scalar a 1 × 1 product stands for (1 for no factor)."""
    if not mats:
        return sp.S.One
    M = mul(*mats)
    if M.shape != (1, 1):
        raise NoRuleError(f"cannot read a Jacobian off a product ending in the {M.shape} {M}")
    return Trace(M)


def _column_term(coef, s, mats, C, record):
    if s is not None:  # s(C) M = M (r C): an outer product with the row of s
        return mul(coef, *mats, row_map(s, C, record))
    k = next(i for i, M in enumerate(mats) if M.has(C))
    L, Y, R = mats[:k], mats[k], mats[k + 1 :]
    if Y.cols == 1:  # L Y R with R 1 x 1: tr(R) L Y
        return mul(coef * _scalar_of(R), *L, _leaf_column(Y, C, record))
    if Y.rows == 1:  # L Y R with Y R 1 x 1: L (Y R) = L R^T Y^T
        Rt = transpose(_product(R)) if R else None
        return mul(coef, *L, Rt, column_map(transpose(Y), C, record))
    if isinstance(Y, DiagMatrix) and R and _product(R).cols == 1:
        # L diag(v) r = L (v o r) = L diag(r) v
        return mul(coef, *L, DiagMatrix(_product(R)), column_map(Y.args[0], C, record))
    raise NoRuleError(
        f"cannot read a Jacobian off {mul(coef, *mats)}: the differential sits inside the "
        f"{Y.rows} x {Y.cols} factor {Y}"
    )


def _leaf_column(Y, C, record):
    """P with Y = P C, for a column Y that is no sum or product."""
    if Y == C:
        return Identity(C.rows)
    if isinstance(Y, HadamardProduct):
        dependent = [a for a in Y.args if a.has(C)]
        if len(dependent) == 1:
            b = hadamard(*[a for a in Y.args if not a.has(C)])
            if record is not None:
                record(Y, mul(DiagMatrix(b), dependent[0]))
            return mul(DiagMatrix(b), column_map(dependent[0], C, record))
    if isinstance(Y, (Vec, Unvec)) and Y.args[0].cols == 1:  # vec(v) = v for a column v
        return column_map(Y.args[0], C, record)
    raise NoRuleError(f"cannot read a Jacobian off {type(Y).__name__} ({Y})")


def row_map(s, C, record: Recorder = None):
    """r with s = r C, for a scalar s linear in the column C (a 1 × m row).

    >>> from symcalc.expr.structure import vector, matrix_symbol
    >>> x, C, A = vector("x", "n"), vector("C", "n"), matrix_symbol("A", "n", "n")
    >>> row_map(3 * sp.Trace(x.T * A * C) + sp.Trace(C.T * x), C)
    x.T + 3*x.T*A
    """
    out = []
    for coef, factor, mats in terms(s, C):
        if mats or not isinstance(factor, Trace):
            raise NoRuleError(f"cannot write {s} as a row times {C}")
        out.append(mul(coef, _trace_row(factor.arg, C, record)))
    return add(*out)


def _trace_row(W, C, record):
    """r with tr(W) = r C, for a square W linear in C."""
    out = []
    for coef, s, mats in terms(W, C):
        if s is not None:  # tr(s(C) M) = tr(M) s(C)
            out.append(mul(coef * Trace(mul(*mats)).doit(), row_map(s, C, record)))
            continue
        k = next(i for i, M in enumerate(mats) if M.has(C))
        L, Y, R = mats[:k], mats[k], mats[k + 1 :]
        K = _product(R + L)  # tr(L Y R) = tr(K Y)
        if Y.cols == 1:  # K Y, K a row
            out.append(mul(coef, K, _leaf_column(Y, C, record)))
        elif Y.rows == 1:  # Y K = K^T Y^T, K a column
            Kt = transpose(K) if K is not None else None
            out.append(mul(coef, Kt, column_map(transpose(Y), C, record)))
        else:
            raise NoRuleError(
                f"cannot write tr({W}) as a row times {C}: the differential sits inside "
                f"the {Y.rows} x {Y.cols} factor {Y}"
            )
    return add(*out)

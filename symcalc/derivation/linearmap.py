"""Reading a linear map off a differential: dF = J dx (vectors), d vec F = J d vec X.

>>> import sympy as sp
>>> from symcalc.records import Derivation
>>> X = sp.MatrixSymbol("X", 3, 2); A = sp.MatrixSymbol("A", 4, 3)
>>> _linear_map(A * X, X, Derivation(expr=A * X, wrt=(X,)), "jacobian")
KroneckerProduct(I, A)
"""

from __future__ import annotations

import sympy as sp
from sympy import (
    HadamardProduct,
    Identity,
    KroneckerProduct,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.derivation.algebra import collect, regroup, substitute
from symcalc.derivation.phases import Canonicalizer, Differentiator, differential_symbol
from symcalc.derivation.readoff import column_map
from symcalc.derivation.vecform import CommutationMatrix, Unvec, Vec
from symcalc.errors import NoRuleError
from symcalc.expr.algebra import add, hadamard, is_zero, mul, transpose
from symcalc.records import Derivation
from symcalc.rules.matrix import THEOREMS


def _vec_row(s, C):
    """The row r with s = r vec(C), for a scalar s linear in the matrix C."""
    if isinstance(s, sp.Add):
        return add(*[_vec_row(a, C) for a in s.args if a.has(C)])
    if isinstance(s, sp.Mul):
        dep = [a for a in s.args if a.has(C)]
        if len(dep) != 1:
            raise NoRuleError(f"{s} is not linear in the differential")
        return mul(sp.Mul(*[a for a in s.args if not a.has(C)]), _vec_row(dep[0], C))
    if isinstance(s, Trace):
        W = s.arg
        if (
            isinstance(W, MatMul)
            and len(W.args) == 2
            and not W.args[1].has(C)
            and W.args[0] == Transpose(C)
        ):
            return transpose(Vec(W.args[1]))  # tr(C^T A) = vec(A)^T vec(C)
        if W == C or W == Transpose(C):
            return transpose(Vec(Identity(C.rows)))  # tr(C) = vec(I)^T vec(C)
        if isinstance(W, MatMul) and len(W.args) == 2 and W.args[1] == C and not W.args[0].has(C):
            return transpose(Vec(transpose(W.args[0])))  # tr(A C) = vec(A^T)^T vec(C)
        return mul(transpose(Vec(Identity(W.rows))), _vec_factor(W, C))
    raise NoRuleError(f"cannot write {s} as a row times vec of the differential")


def _kronecker(A, B):
    """A kron B, a 1 x 1 identity factor dropped (I_1 kron B = B).

    >>> B = sp.MatrixSymbol("B", 3, 2)
    >>> _kronecker(Identity(1), B), _kronecker(B, Identity(2))
    (B, KroneckerProduct(B, I))
    """
    if A.shape == (1, 1):
        return B if A == Identity(1) else mul(Trace(A), B)
    if B.shape == (1, 1):
        return A if B == Identity(1) else mul(Trace(B), A)
    return KroneckerProduct(A, B)


def _vec_factor(T, C):
    """M with vec(T) = M vec(C), for T linear in the matrix C (Kronecker form)."""
    if T == C:
        return Identity(C.rows * C.cols)
    if isinstance(T, Transpose) and T.arg == C:
        return CommutationMatrix(C.rows, C.cols)
    if isinstance(T, Unvec) and T.args[0].has(C):  # vec(unvec(v)) = v
        return _vec_factor(T.args[0], C)
    if isinstance(T, Vec) and T.arg.has(C):  # vec of a column is the column
        return _vec_factor(T.arg, C)
    if isinstance(T, MatAdd):
        return add(*[_vec_factor(a, C) for a in T.args if a.has(C)])
    if isinstance(T, MatMul):
        scal = [a for a in T.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in T.args if isinstance(a, MatrixExpr)]
        if any(a.has(C) for a in scal):  # s(C) M: vec = vec(M) (row of s) vec(C)
            dep = sp.Mul(*[a for a in scal if a.has(C)])
            coef = sp.Mul(*[a for a in scal if not a.has(C)])
            return mul(coef, Vec(mul(*mats)), _vec_row(dep, C))
        k = next(i for i, M in enumerate(mats) if M.has(C))
        L, Y, R = mats[:k], mats[k], mats[k + 1 :]
        Lm = mul(*L) if L else Identity(Y.rows)
        Rm = mul(*R) if R else Identity(Y.cols)
        return mul(sp.Mul(*scal), _kronecker(transpose(Rm), Lm), _vec_factor(Y, C))
    if isinstance(T, HadamardProduct):  # vec(B o Y) = diag(vec B) vec(Y)
        dep = [a for a in T.args if a.has(C)]
        if len(dep) == 1:
            B = hadamard(*[a for a in T.args if not a.has(C)])
            return mul(DiagMatrix(Vec(B)), _vec_factor(dep[0], C))
    if isinstance(T, Transpose):  # vec(Y^T) = K vec(Y)
        return mul(CommutationMatrix(T.arg.rows, T.arg.cols), _vec_factor(T.arg, C))
    raise NoRuleError(
        f"cannot write d vec F = H d vec X for {type(T).__name__} ({T}) in Kronecker form"
    )


def _vector_map(adjoint, C, X, F, dX, d):
    """The m x n Jacobian of a vector F by a vector x, read as P in tr(C^T dF) = C^T P dx."""

    def record(before, after):
        d.add_step(THEOREMS["hadamard_as_diag"], before, after, "canonical")

    Jt = column_map(adjoint, C, record) if not is_zero(adjoint) else ZeroMatrix(X.rows, F.rows)
    J = regroup(transpose(Jt))
    d.add_step(THEOREMS["jacobian_identification"], mul(J, dX), J, "identify")
    return J


def _cotangent(F):
    """A column symbol of F's shape whose name no matrix in F uses (the cotangent C)."""
    names = {M.name for M in F.atoms(MatrixSymbol)}
    name = "C"
    while name in names:
        name += "_"
    return MatrixSymbol(name, *F.shape)


def _linear_map(F, X, d: Derivation, note: str):
    """J with d vec F = J d vec X, for a matrix expression F (the gradient or a vector).

    A row vector is read as its column (vec of a row is its transpose): F = wᵀ-forms
    and a row variable w take the Jacobian's closed form of the column case.
    """
    if X.rows == 1 and X.cols != 1:  # a row variable w: F(w) = F((w^T)^T), read in w^T
        x = MatrixSymbol(X.name, X.cols, 1)
        J = _linear_map(substitute(F, X, transpose(x)), x, d, note)
        return substitute(J, x, transpose(X))
    if F.rows == 1 and F.cols != 1:  # vec of a row is its transpose
        F = transpose(F)
    dX = differential_symbol(X, F.atoms(MatrixSymbol))
    dF = Differentiator({X: dX}, d, note)(F)
    if is_zero(dF):
        return ZeroMatrix(F.rows * F.cols, X.rows * X.cols)
    C = _cotangent(F)
    canon = Canonicalizer([dX], d, note)
    canon.pull(dF, C)
    adjoint = collect(add(*canon.contributions[dX]))
    if X.cols == 1 and F.cols == 1:
        try:
            return _vector_map(adjoint, C, X, F, dX, d)
        except NoRuleError:  # e.g. a broadcast over a batch, (... o (C 1^T)) 1: vec form
            pass
    Jt = (
        _vec_factor(adjoint, C)
        if not is_zero(adjoint)
        else ZeroMatrix(X.rows * X.cols, F.rows * F.cols)
    )
    J = collect(transpose(Jt))
    d.add_step(THEOREMS["vec_identification"], adjoint, J, "identify")
    return J

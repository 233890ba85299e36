"""The one matrix algebra every stage writes with: products, sums, transposes, Hadamard
products and powers, and elementwise functions, built the way a person writes them
(constants pulled out, zeros dropped, one shared Lambda variable so that two separately
built sigmoid(Xw) are the same object).

>>> import sympy as sp
>>> X, w = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("w", 2, 1)
>>> mul(X, sp.ZeroMatrix(2, 1))
0
>>> elementwise(sp.exp, X * w) == elementwise(sp.exp, X * w)
True
"""

from __future__ import annotations

import sympy as sp
from sympy import (
    HadamardPower,
    HadamardProduct,
    Identity,
    Inverse,
    KroneckerProduct,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)
from sympy.core.sympify import _sympify
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.expr.elementwise import ELEMENTWISE_VAR, Elementwise, canonical_lambda

__all__ = [
    "ELEMENTWISE_VAR",
    "add",
    "canonical_lambda",
    "elementwise",
    "elementwise_parts",
    "hadamard",
    "hadamard_power",
    "is_zero",
    "mul",
    "ones_like",
    "transpose",
]


def is_zero(e) -> bool:
    return e == 0 or isinstance(e, ZeroMatrix)


def transpose(e):
    """e^T with the transposes pushed in (structure-aware: S^T = S for symmetric S).

    Written out by hand because SymPy's deep ``doit`` rewrites (AB)^-1 as B^-1 A^-1
    even for rectangular A, B (wrong for (X^T X)^-1).
    """
    if not isinstance(e, MatrixExpr):
        return e
    if isinstance(e, Transpose):
        return e.arg
    if isinstance(e, MatMul):
        return mul(*[transpose(a) for a in reversed(e.args)])
    if isinstance(e, MatAdd):
        return add(*[transpose(a) for a in e.args])
    if isinstance(e, Inverse):
        return Inverse(transpose(e.arg))
    if isinstance(e, MatPow):
        return MatPow(transpose(e.base), e.exp)
    if isinstance(e, HadamardProduct):
        return HadamardProduct(*[transpose(a) for a in e.args])
    if isinstance(e, HadamardPower):
        return HadamardPower(transpose(e.base), e.exp)
    if isinstance(e, KroneckerProduct):
        return KroneckerProduct(*[transpose(a) for a in e.args])
    if isinstance(e, ElementwiseApplyFunction):  # SymPy's own convention: f(Z)^T = f(Z^T)
        return elementwise(e.function, transpose(e.expr))
    if isinstance(e, (Identity, DiagMatrix)):
        return e
    if isinstance(e, ZeroMatrix):
        return ZeroMatrix(e.cols, e.rows)
    if isinstance(e, OneMatrix):
        return OneMatrix(e.cols, e.rows)
    return e.T


def mul(*args):
    """A matrix product with scalars collected and identities dropped."""
    args = [a for a in args if a is not None]
    if any(is_zero(a) for a in args):
        return 0
    if len(args) == 1:
        return args[0]
    return MatMul(*args).doit(deep=False)


def add(*terms):
    """A sum with zeros dropped and like terms combined."""
    terms = [t for t in terms if not is_zero(t)]
    if not terms:
        return 0
    if len(terms) == 1:
        return terms[0]
    if all(isinstance(t, MatrixExpr) for t in terms):
        return MatAdd(*terms).doit(deep=False)
    return sp.Add(*terms)


def hadamard(*args):
    """A Hadamard product with all-ones factors dropped."""
    coef = sp.S.One
    kept = []
    for a in args:
        if (
            isinstance(a, MatMul)
            and any(isinstance(m, OneMatrix) for m in a.args)
            and len([m for m in a.args if isinstance(m, MatrixExpr)]) == 1
        ):
            coef *= sp.Mul(*[m for m in a.args if not isinstance(m, MatrixExpr)])
        elif not isinstance(a, OneMatrix):
            kept.append(a)
    if coef != 1:
        return mul(coef, hadamard(*kept)) if kept else mul(coef, OneMatrix(*args[0].shape))
    args = kept
    if not args:
        raise ValueError("empty Hadamard product")
    if len(args) == 1:
        return args[0]
    return HadamardProduct(*args)


def hadamard_power(Z, p):
    p = _sympify(p)  # strict: p is a SymPy object or a number, never text
    if p == 1:
        return Z
    if p == 0:
        return OneMatrix(*Z.shape)
    return HadamardPower(Z, p)


def ones_like(Z):
    return OneMatrix(*Z.shape)


def elementwise(f, Z):
    return Elementwise(canonical_lambda(f), Z)  # printed f(Z) (symcalc.expr.elementwise)


def elementwise_parts(node):
    """(variable, body) of an ElementwiseApplyFunction's Lambda (a class f -> f(t))."""
    f = node.function
    if isinstance(f, sp.Lambda):
        (t,) = f.variables
        return t, f.expr
    t = sp.Dummy("t")
    return t, f(t)

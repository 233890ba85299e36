"""The differential of a formula in a direction: ``d f`` with ``dX`` a matrix of its own.

``differential(f, X, dX)`` is the directional derivative d/dt f(X + t dX) at t = 0, built
with the rules of matrix differentials (d(AB) = dA B + A dB, d(X^-1) = -X^-1 dX X^-1,
d det X = det X tr(X^-1 dX), d tr A = tr dA, elementwise functions f'(U) o dU, ...). It
is the truth of a line ``d f = ...`` in :func:`symcalc.check_derivation`; the tests
compare it with central differences.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> X, dX = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("dX", n, n)
>>> differential(X.I, X, dX)
-X**(-1)*dX*X**(-1)
>>> differential(sp.log(sp.det(X)), X, dX)
Trace(X**(-1)*dX)
"""

from __future__ import annotations

import sympy as sp
from sympy import MatrixExpr
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardProduct

from symcalc.errors import InputError

__all__ = ["differential", "gradient_of", "hessian_of", "NoDifferentialError"]


class NoDifferentialError(InputError):
    """A formula whose differential the rules here do not cover."""


def _zero_like(e):
    return sp.ZeroMatrix(*e.shape) if isinstance(e, MatrixExpr) else sp.S.Zero


def _depends(e, X) -> bool:
    return e == X or (isinstance(e, sp.Basic) and e.has(X))


def differential(f, X, dX):
    """d f at X in the direction dX (same shape as X); see the module docstring.

    >>> x, dx = sp.Symbol("x"), sp.Symbol("dx")
    >>> differential(sp.sin(x**2), x, dx)
    2*dx*x*cos(x**2)
    """
    return _simplify(_d(f, X, dX))


def _simplify(e):
    try:
        return e.doit() if isinstance(e, MatrixExpr) else sp.expand(e.doit())
    except Exception:  # noqa: BLE001 - a form that will not simplify is still right
        return e


def _d(e, X, dX):
    if e == X:
        return dX
    if not _depends(e, X):
        return _zero_like(e)
    rule = next((_RULES[c.__name__] for c in type(e).__mro__ if c.__name__ in _RULES), None)
    if rule is not None:  # by class or base class (symcalc's Elementwise is SymPy's)
        return rule(e, X, dX)
    if isinstance(e, sp.Function) and len(e.args) == 1:
        return _scalar_function(e, X, dX)
    raise NoDifferentialError(f"no rule for the differential of {type(e).__name__}: {e}")


def _terms_sum(terms, like):
    terms = [t for t in terms if t is not None]
    if not terms:
        return _zero_like(like)
    if isinstance(like, MatrixExpr):
        return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]
    return sp.Add(*terms)


def _sum(e, X, dX):
    return _terms_sum([_d(a, X, dX) for a in e.args if _depends(a, X)], e)


def _product(e, X, dX, build):
    args = list(e.args)
    terms = []
    for i, a in enumerate(args):
        if _depends(a, X):
            terms.append(build(*args[:i], _d(a, X, dX), *args[i + 1 :]))
    return _terms_sum(terms, e)


def _matmul(e, X, dX):
    return _product(e, X, dX, lambda *a: sp.MatMul(*a))


def _mul(e, X, dX):
    return _product(e, X, dX, lambda *a: sp.Mul(*a))


def _hadamard(e, X, dX):
    return _product(e, X, dX, lambda *a: HadamardProduct(*a))


def _transpose(e, X, dX):
    return sp.Transpose(_d(e.arg, X, dX))


def _inverse(e, X, dX):
    A = e.arg
    return -sp.MatMul(A.I, _d(A, X, dX), A.I)


def _matpow(e, X, dX):
    base, k = e.args
    if not (k.is_Integer):
        raise NoDifferentialError(f"no rule for the differential of a matrix power {e}")
    if k < 0:
        return _inverse(sp.Inverse(sp.MatPow(base, -k)), X, dX) if k != -1 else _inverse(e, X, dX)
    return _matmul(sp.MatMul(*([base] * int(k)), evaluate=False), X, dX)


def _trace(e, X, dX):
    return sp.Trace(_d(e.arg, X, dX))


def _det(e, X, dX):
    A = e.arg
    return sp.Determinant(A) * sp.Trace(sp.MatMul(A.I, _d(A, X, dX)))


def _pow(e, X, dX):
    base, k = e.args
    if not _depends(k, X):
        return k * base ** (k - 1) * _d(base, X, dX)
    return e * (_d(k, X, dX) * sp.log(base) + k * _d(base, X, dX) / base)


def _scalar_function(e, X, dX):
    z = sp.Dummy("z")
    outer = sp.diff(e.func(z), z)
    return outer.subs(z, e.args[0]) * _d(e.args[0], X, dX)


def _elementwise(e, X, dX):
    lam = e.function
    z = lam.variables[0]
    prime = sp.Lambda(z, sp.diff(lam.expr, z))
    return HadamardProduct(ElementwiseApplyFunction(prime, e.expr), _d(e.expr, X, dX))


def _element(e, X, dX):
    parent, i, j = e.args
    return _d(parent, X, dX)[i, j]


def _abs(e, X, dX):
    u = e.args[0]
    return sp.sign(u) * _d(u, X, dX)


_RULES = {
    "Add": _sum,
    "MatAdd": _sum,
    "Mul": _mul,
    "MatMul": _matmul,
    "HadamardProduct": _hadamard,
    "Transpose": _transpose,
    "Inverse": _inverse,
    "MatPow": _matpow,
    "Trace": _trace,
    "Determinant": _det,
    "Pow": _pow,
    "ElementwiseApplyFunction": _elementwise,
    "MatrixElement": _element,
    "Abs": _abs,
}


def gradient_of(F, W):
    """The gradient of F in W: ``diff`` for a scalar W, symcalc's matrix engine otherwise."""
    if isinstance(W, sp.Symbol):
        return sp.diff(F, W)
    from symcalc.derivation.api import gradient

    return gradient(F, W)


def hessian_of(F, W):
    """The Hessian of F in W (the second derivative for a scalar W)."""
    if isinstance(W, sp.Symbol):
        return sp.diff(F, W, 2)
    from symcalc.derivation.api import hessian

    return hessian(F, W)

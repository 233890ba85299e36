"""Log-densities as SymPy matrix expressions, ready to differentiate in closed form.

>>> from symcalc.expr.structure import vector, positive_definite
>>> from symcalc.derivation.matrix import matrix_gradient, matrix_hessian
>>> x, mu = vector("x", "n"), vector("mu", "n"); Sigma = positive_definite("Sigma", "n")
>>> f = gaussian_logpdf(x, mu, Sigma)
>>> matrix_hessian(f, x)
-Sigma**(-1)
"""

from __future__ import annotations

import sympy as sp
from sympy import MatrixExpr, Trace

from symcalc.errors import InputError, ShapeError

__all__ = ["gaussian_logpdf"]


def gaussian_logpdf(x, mu, Sigma):
    """log N(x; mu, Sigma) = -1/2 (x-mu)^T Sigma^-1 (x-mu) - 1/2 log det Sigma - n/2 log(2 pi).

    x, mu: n x 1 matrix expressions; Sigma: n x n, symmetric positive definite (declare it
    with ``positive_definite("Sigma", n)``; a general MatrixSymbol is accepted and taken
    to be SPD). Returns a SymPy scalar (the quadratic form as ``Trace`` of a 1 x 1 matrix).

    >>> from symcalc.expr.structure import vector, positive_definite
    >>> f = gaussian_logpdf(vector("x", 2), vector("mu", 2), positive_definite("S", 2))
    >>> sorted(str(a) for a in f.args)
    ['-Trace((-mu.T + x.T)*S**(-1)*(-mu + x))/2', '-log(2*pi)', '-log(Determinant(S))/2']
    """
    for name, v in (("x", x), ("mu", mu), ("Sigma", Sigma)):
        if not isinstance(v, MatrixExpr):
            raise InputError(
                f"gaussian_logpdf: {name} must be a matrix expression "
                f"(e.g. vector('{name}', n)), got {v!r}"
            )
    n = x.rows
    if x.shape != (n, 1) or mu.shape != (n, 1):
        raise ShapeError(
            f"gaussian_logpdf: x and mu must be n x 1 column vectors of one size, "
            f"got {x.shape} and {mu.shape}"
        )
    if Sigma.shape != (n, n):
        raise ShapeError(f"gaussian_logpdf: Sigma must be {n} x {n}, got {Sigma.shape}")
    r = x - mu
    quad = Trace(r.T * Sigma.I * r)
    return -quad / 2 - sp.log(sp.det(Sigma)) / 2 - n * sp.log(2 * sp.pi) / 2

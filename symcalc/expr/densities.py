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
from symcalc.expr.canonical import canonical_sizes, spd_covariance

__all__ = ["gaussian_logpdf"]


def gaussian_logpdf(x, mu, Sigma):
    """log N(x; mu, Sigma) = -1/2 (x-mu)^T Sigma^-1 (x-mu) - 1/2 log det Sigma - n/2 log(2 pi).

    x, mu: n x 1 matrix expressions; Sigma: n x n, symmetric positive definite. Declare it
    with ``positive_definite("Sigma", n)``; a plain ``MatrixSymbol`` is a covariance too, so
    it is taken to be SPD (it becomes a ``CovarianceMatrixSymbol`` and the Derivation lists
    the assumption). Sizes may be symcalc's (``vector("x", "n")``) or plain
    ``sp.Symbol("n")``: one name is one size. Returns a SymPy scalar (the quadratic form as
    ``Trace`` of a 1 x 1 matrix).

    >>> import sympy as sp
    >>> n = sp.Symbol("n")
    >>> x, mu, S = (sp.MatrixSymbol(a, n, b) for a, b in (("x", 1), ("mu", 1), ("Sigma", n)))
    >>> from symcalc.derivation.matrix import matrix_hessian
    >>> from symcalc.expr.canonical import canonical_problem
    >>> matrix_hessian(*canonical_problem(gaussian_logpdf(x, mu, S), x))
    -Sigma**(-1)

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
    x, mu, Sigma = canonical_sizes(x, mu, Sigma)
    Sigma = spd_covariance(Sigma)
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

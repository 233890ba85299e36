"""Canonical forms of natural spellings (issue 13): each spelling gives the canonical answer.

Checked against SymPy's elementwise derivative at a concrete size and against central
differences of a hand-written NumPy function.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symcalc.derivation.matrix import matrix_gradient, matrix_hessian
from symcalc.expr.canonical import (
    CovarianceMatrixSymbol,
    adopt_declared,
    canonical_problem,
    canonical_scalars,
    canonical_sizes,
    declared_structure,
    spd_covariance,
)
from symcalc.expr.densities import gaussian_logpdf
from symcalc.expr.structure import matrix_symbol, positive_definite, vector

RNG = np.random.default_rng(20261202)


def _spd(k):
    M = RNG.normal(size=(k, k))
    return M @ M.T + k * np.eye(k)


def _gaussian_logpdf_numpy(xv, muv, S):
    r = xv - muv
    _, logdet = np.linalg.slogdet(S)
    return -0.5 * r @ np.linalg.solve(S, r) - 0.5 * logdet - len(xv) / 2 * np.log(2 * np.pi)


def _central(f, v, h=1e-6):
    g = np.zeros_like(v)
    for i in range(v.size):
        e = np.zeros_like(v)
        e.flat[i] = h
        g.flat[i] = (f(v + e) - f(v - e)) / (2 * h)
    return g


def test_a_plain_covariance_is_symmetric_positive_definite():
    n = sp.Symbol("n")
    x, mu = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1)
    Sigma = sp.MatrixSymbol("Sigma", n, n)
    f, wrt = canonical_problem(gaussian_logpdf(x, mu, Sigma), x)
    H = matrix_hessian(f, wrt)
    S_decl = next(iter(f.atoms(CovarianceMatrixSymbol)))
    assert sp.simplify(H + S_decl.I) == sp.ZeroMatrix(*H.shape)  # -Sigma^-1, not -(S^-1+S^-T)/2
    assert declared_structure(f) == ["Sigma is symmetric positive definite (a covariance)"]


@pytest.mark.parametrize("k", [2, 3])
def test_the_plain_covariance_score_matches_central_differences(k):
    x, mu = vector("x", k), vector("mu", k)
    Sigma = sp.MatrixSymbol("Sigma", k, k)
    f, wrt = canonical_problem(gaussian_logpdf(x, mu, Sigma), x)
    g = matrix_gradient(f, wrt)
    xv, muv, S = RNG.normal(size=k), RNG.normal(size=k), _spd(k)
    S_decl = next(iter(f.atoms(CovarianceMatrixSymbol)))
    subs = {x: sp.Matrix(xv), mu: sp.Matrix(muv), S_decl: sp.Matrix(S)}
    ours = np.array(sp.Matrix(g.subs(subs).doit()).evalf(), dtype=float).ravel()
    fd = _central(lambda v: _gaussian_logpdf_numpy(v, muv, S), xv)
    np.testing.assert_allclose(ours, fd, rtol=1e-6, atol=1e-8)


def test_the_users_plain_symbol_means_the_declared_one():
    S = sp.MatrixSymbol("Sigma", 3, 3)
    f = gaussian_logpdf(vector("x", 3), vector("mu", 3), S)
    adopted = adopt_declared(f, S)
    assert isinstance(adopted, CovarianceMatrixSymbol) and adopted.name == "Sigma"
    assert adopt_declared(f, [S, vector("x", 3)])[1] == vector("x", 3)
    # a different name or shape is not adopted
    assert adopt_declared(f, sp.MatrixSymbol("Sigma", 2, 2)) == sp.MatrixSymbol("Sigma", 2, 2)


def test_a_declared_structure_is_kept():
    P = positive_definite("P", 3)
    assert spd_covariance(P) is P
    assert declared_structure(gaussian_logpdf(vector("x", 3), vector("mu", 3), P)) == []


def test_sizes_with_one_name_are_one_size():
    n = sp.Symbol("n")
    A = sp.MatrixSymbol("A", n, n)
    x = vector("x", "n")
    A2, x2 = canonical_sizes(A, x)
    assert A2.shape == (x2.rows, x2.rows) and A2.rows.is_positive and A2.rows.is_integer
    assert canonical_sizes(x) == (x,)  # nothing to do: the very same objects


@pytest.mark.parametrize("k", [2, 4])
def test_a_scalar_written_as_an_entry_is_the_quadratic_form(k):
    n = sp.Symbol("n")
    x, A = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("A", n, n)
    f, wrt = canonical_problem((x.T * A * x)[0, 0], x)
    assert f.has(sp.Trace) and not f.has(sp.Sum)
    g = matrix_gradient(f, wrt)
    # SymPy's elementwise derivative of the explicit quadratic form at size k
    xs, As = sp.MatrixSymbol("x", k, 1), sp.MatrixSymbol("A", k, k)
    explicit = (xs.T * As * xs)[0, 0]
    truth = sp.Matrix([sp.diff(explicit, xs[i, 0]) for i in range(k)])
    xv, Av = RNG.normal(size=(k, 1)), RNG.normal(size=(k, k))
    g_k = g.subs(wrt.rows, k)
    vals = {sp.MatrixSymbol("x", k, 1): sp.Matrix(xv), sp.MatrixSymbol("A", k, k): sp.Matrix(Av)}
    ours_v = np.array(sp.Matrix(g_k.xreplace(vals).doit()), dtype=float)
    truth_v = np.array(truth.xreplace({xs: sp.Matrix(xv), As: sp.Matrix(Av)}).doit(), dtype=float)
    np.testing.assert_allclose(ours_v, truth_v, rtol=1e-12)
    np.testing.assert_allclose(ours_v.ravel(), (Av + Av.T) @ xv.ravel(), rtol=1e-12)


def test_powers_of_one_by_one_matrices_are_scalar_powers():
    x, y = vector("x", "n"), vector("y", "n")
    half = sp.Rational(1, 2)
    assert canonical_scalars(sp.MatPow(x.T * y, half)) == sp.sqrt(sp.Trace(x.T * y))
    X, a, b = matrix_symbol("X", "n", "n"), vector("a", "n"), vector("b", "n")
    from symcalc.expr.structure import hadamard_power

    e = canonical_scalars(hadamard_power(a.T * X * b, half))
    assert e == sp.sqrt(sp.Trace(a.T * X * b))
    assert canonical_scalars(sp.sqrt((x.T * x)[0, 0])) == sp.sqrt(sp.Trace(x.T * x))


@pytest.mark.parametrize("k", [2, 3])
def test_the_public_gradient_in_a_plain_covariance_matches_central_differences(k):
    import symcalc as sc

    x, mu = sc.vector("x", k), sc.vector("mu", k)
    Sigma = sp.MatrixSymbol("Sigma", k, k)  # the user's own, plain symbol
    lp = sc.gaussian_logpdf(x, mu, Sigma)
    G = sc.gradient(lp, Sigma)
    assert G != sp.ZeroMatrix(k, k)
    xv, muv, S = RNG.normal(size=k), RNG.normal(size=k), _spd(k)
    S_decl = adopt_declared(lp, Sigma)
    value = sp.Matrix(
        G.xreplace({x: sp.Matrix(xv), mu: sp.Matrix(muv), S_decl: sp.Matrix(S)}).doit()
    )
    fd = _central(lambda M: _gaussian_logpdf_numpy(xv, muv, M), S)
    np.testing.assert_allclose(np.array(value.evalf(), dtype=float), fd, rtol=1e-6, atol=1e-8)
    # and the Hessian in x is -Sigma^-1 through the public route too
    assert sc.hessian(lp, x) == -S_decl.I


def test_public_routes_read_scalars_written_through_one_by_one_matrices():
    import symcalc as sc

    n = sp.Symbol("n")
    x, y, A = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("y", n, 1), sp.MatrixSymbol("A", n, n)
    g = sc.gradient((x.T * A * x)[0, 0], x)
    assert str(g) == "(A + A.T)*x"
    g = sc.gradient((x.T * y) ** sp.Rational(1, 2), x)
    k = 3
    yv, xv = RNG.uniform(0.5, 1, size=k), RNG.uniform(0.5, 1, size=k)
    gk = g.subs(g.shape[0], k)
    xs, ys = (sp.MatrixSymbol(s, k, 1) for s in "xy")
    value = np.array(
        sp.Matrix(gk.xreplace({xs: sp.Matrix(xv), ys: sp.Matrix(yv)}).doit()).evalf(), dtype=float
    )
    fd = _central(lambda v: np.sqrt(v @ yv), xv)
    np.testing.assert_allclose(value.ravel(), fd, rtol=1e-6)

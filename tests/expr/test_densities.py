"""gaussian_logpdf: the value, the score, the Hessian and the gradients in mu and Sigma."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from scipy.stats import multivariate_normal

from symcalc.derivation.matrix import matrix_gradient, matrix_hessian, to_explicit
from symcalc.derivation.walker import derive
from symcalc.errors import InputError, ShapeError
from symcalc.expr.densities import gaussian_logpdf
from symcalc.expr.structure import matrix_symbol, positive_definite, vector

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "routes"))  # the identity checker
from test_cookbook import run_identity  # noqa: E402

n = sp.Symbol("n", integer=True, positive=True)
x, mu = vector("x", "n"), vector("mu", "n")
Sigma = positive_definite("Sigma", "n")
f = gaussian_logpdf(x, mu, Sigma)
r = x - mu
Si = Sigma.I


def test_hessian_wrt_x_is_minus_sigma_inverse_exactly():
    assert matrix_hessian(f, x) == -Sigma.I
    assert derive(f, x, order=2).results["hessian"] == -Sigma.I


def test_score_and_gradient_wrt_mu():
    assert matrix_gradient(f, x) == -Si * r
    assert matrix_gradient(f, mu) == Si * r
    run_identity("score", f, x, -Si * r, "gradient", None, {n: 3})
    run_identity("mu", f, mu, Si * r, "gradient", None, {n: 3})
    run_identity("hess", f, x, -Si, "hessian", None, {n: 3})


def test_gradient_wrt_sigma():
    G = matrix_gradient(f, Sigma)
    expected = (Si * r * r.T * Si - Si) / 2
    run_identity("Sigma", f, Sigma, expected, "gradient", None, {n: 3})
    assert G.has(sp.Inverse) and not G.has(sp.Transpose(Sigma))


def test_value_equals_scipy():
    rng = np.random.default_rng(3)
    k = 3
    B = rng.normal(size=(k, k))
    S = B @ B.T + k * np.eye(k)
    xv, mv = rng.normal(size=k), rng.normal(size=k)
    sizes = {n: k}
    env = {
        x.xreplace(sizes): sp.ImmutableMatrix(xv.reshape(k, 1)),
        mu.xreplace(sizes): sp.ImmutableMatrix(mv.reshape(k, 1)),
        Sigma.xreplace(sizes): sp.ImmutableMatrix(S),
    }
    value = float(sp.N(to_explicit(f.xreplace(sizes), env)))
    assert abs(value - multivariate_normal(mean=mv, cov=S).logpdf(xv)) < 1e-10


def test_concrete_size_gaussian():
    x2, m2, S2 = vector("x", 2), vector("mu", 2), positive_definite("S", 2)
    g = gaussian_logpdf(x2, m2, S2)
    assert matrix_hessian(g, x2) == -S2.I


def test_bad_arguments():
    with pytest.raises(ShapeError):
        gaussian_logpdf(x, vector("mu", "m"), Sigma)
    with pytest.raises(ShapeError):
        gaussian_logpdf(x, mu, matrix_symbol("S", "n", "m"))
    with pytest.raises(InputError):
        gaussian_logpdf(sp.Symbol("x"), mu, Sigma)

"""Compiled gradients that contain unvec (the adjoint of vec): c^T vec(X) and vec(X)^T M vec(X).

Checked against SymPy's elementwise derivative at a concrete size and central differences of
hand-written NumPy at random points; parameters of composite size (n*k) are sized from the
variable.
"""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import ShapeError

RNG = np.random.default_rng(7)


def _vec(a):
    return a.reshape(-1, order="F")


def _central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.fixture
def linear():
    X = sc.matrix_symbol("X", "n", "k")
    c = sp.MatrixSymbol("c", X.shape[0] * X.shape[1], 1)
    return X, c, c.T * sc.vec(X)


def test_gradient_of_linear_form_is_unvec(linear):
    X, c, f = linear
    kernel = sc.compile(f, X, params=[c])
    x, cv = RNG.normal(size=(2, 3)), RNG.normal(size=6)
    got = kernel.gradient(x, cv)
    assert np.allclose(got, _central(lambda z: cv @ _vec(z), x), atol=1e-8)
    assert np.allclose(got, cv.reshape(2, 3, order="F"))


def test_gradient_matches_sympy_elementwise(linear):
    X, c, f = linear
    Xc, cc = sp.MatrixSymbol("X", 2, 3), sp.MatrixSymbol("c", 6, 1)
    explicit = (cc.T * sp.Matrix(Xc.T.as_explicit().reshape(6, 1)))[0, 0]
    x, cv = RNG.normal(size=(2, 3)), RNG.normal(size=6)
    subs = {
        **{Xc[i, j]: x[i, j] for i in range(2) for j in range(3)},
        **{cc[i, 0]: cv[i] for i in range(6)},
    }
    # vec is column-major: Xc.T's rows are Xc's columns
    want = np.array(
        [[float(sp.diff(explicit, Xc[i, j]).subs(subs)) for j in range(3)] for i in range(2)]
    )
    got = sc.compile(f, X, params=[c]).gradient(x, cv)
    assert np.allclose(got, want)


def test_quadratic_form_in_vec(linear):
    X, _, _ = linear
    M = sp.MatrixSymbol("M", X.shape[0] * X.shape[1], X.shape[0] * X.shape[1])
    f = sc.vec(X).T * M * sc.vec(X)
    kernel = sc.compile(f, X, params=[M])
    x, m = RNG.normal(size=(3, 2)), RNG.normal(size=(6, 6))
    got = kernel.gradient(x, m)
    assert np.allclose(got, _central(lambda z: _vec(z) @ m @ _vec(z), x), atol=1e-6)


def test_batch_of_variables(linear):
    X, c, f = linear
    kernel = sc.compile(f, X, params=[c])
    xs, cv = RNG.normal(size=(4, 2, 3)), RNG.normal(size=6)
    got = kernel.gradient(xs, cv)
    assert got.shape == (4, 2, 3)
    assert np.allclose(got, np.broadcast_to(cv.reshape(2, 3, order="F"), (4, 2, 3)))


def test_composite_size_mismatch_names_the_size(linear):
    X, c, f = linear
    kernel = sc.compile(f, X, params=[c])
    with pytest.raises(ShapeError, match=r"c must have shape .*= 6\), got \(5,\)"):
        kernel.gradient(np.ones((2, 3)), np.ones(5))

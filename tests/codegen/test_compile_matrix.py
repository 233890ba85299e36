"""Matrix-form kernels: arrays of the declared shapes, BLAS calls, checked against
hand-written closed forms and against central differences."""

import inspect
import re

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError, ShapeError
from symcalc.expr.structure import (
    logistic_loss,
    matrix_symbol,
    norm_squared,
    positive_definite,
    quadratic_form,
    softmax_cross_entropy,
    squared_error,
    vector,
)

RNG = np.random.default_rng(7)


def logistic_problem(m=60, n=4):
    X = RNG.normal(size=(m, n))
    w = RNG.normal(size=n)
    y = (RNG.random(m) < 1 / (1 + np.exp(-X @ w))).astype(float)
    return w, X, y


def central(fun, w, h=1e-6):
    g = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        g[i] = (fun(w + e) - fun(w - e)) / (2 * h)
    return g


@pytest.fixture(scope="module")
def logistic_kernel():
    X = matrix_symbol("X", "m", "n")
    w = vector("w", "n")
    y = vector("y", "m")
    return sc.compile(logistic_loss(X, w, y), w, params=[X, y])


def test_logistic_regression_value_gradient_hessian(logistic_kernel):
    k = logistic_kernel
    w, X, y = logistic_problem()
    z = X @ w
    s = 1 / (1 + np.exp(-z))
    assert np.isclose(k.value(w, X, y), np.sum(np.log1p(np.exp(z))) - y @ z, rtol=1e-12)
    np.testing.assert_allclose(k.gradient(w, X, y), X.T @ (s - y), rtol=1e-11)
    np.testing.assert_allclose(k.hessian(w, X, y), X.T @ np.diag(s * (1 - s)) @ X, rtol=1e-11)
    np.testing.assert_allclose(
        k.gradient(w, X, y), central(lambda v: k.value(v, X, y), w), rtol=1e-6
    )
    H = k.hessian(w, X, y)
    for i in range(w.size):
        np.testing.assert_allclose(
            H[i], central(lambda v, i=i: k.gradient(v, X, y)[i], w), rtol=1e-5, atol=1e-7
        )
    v, g, H2 = k.value_gradient_hessian(w, X, y)
    np.testing.assert_allclose(H2, H)
    v1, g1 = k.value_and_gradient(w, X, y)
    assert np.isclose(v1, v) and np.allclose(g1, g)


def test_matrix_kernels_call_blas_not_element_formulas(logistic_kernel):
    src = inspect.getsource(logistic_kernel.module.hessian)
    # X^T diag(d) X with d = s(1 - s) >= 0 as Z^T Z, Z = sqrt(d) X: NumPy's syrk, half a GEMM
    # (the generated code names w, X, y as v0, p0, p1 and imports NumPy as _np)
    assert "_gram(_np.sqrt(" in src and "[:, None] * p0)" in src
    assert "_gram(_np.sqrt(" in inspect.getsource(logistic_kernel.module.value_gradient_hessian)
    assert not re.search(r"p0\[\d", logistic_kernel.source)  # no per-element indexing
    assert "import numpy as _np" in logistic_kernel.source
    vg = inspect.getsource(logistic_kernel.module.value_and_gradient)
    assert vg.count("p0 @ v0") == 1  # X w computed once, shared


def test_float32_in_float32_out(logistic_kernel):
    w, X, y = logistic_problem()
    g = logistic_kernel.gradient(w.astype(np.float32), X.astype(np.float32), y.astype(np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, logistic_kernel.gradient(w, X, y), rtol=1e-4, atol=1e-4)


def test_shape_errors_name_the_argument_and_the_size(logistic_kernel):
    w, X, y = logistic_problem()
    with pytest.raises(ShapeError, match=r"y has 59 along axis 0, but m = 60 from X"):
        logistic_kernel.gradient(w, X, y[:-1])
    with pytest.raises(ShapeError, match=r"X must be a 2-D array of shape \(m, n\)"):
        logistic_kernel.gradient(w, X[0], y)
    with pytest.raises(InputError, match=r"expected 3 arrays \(w, X, y\), got 2"):
        logistic_kernel.gradient(w, X)
    with pytest.raises(InputError, match="float32 or float64"):
        logistic_kernel.gradient(w, X.astype(complex), y)


def test_least_squares_and_quadratic_forms():
    A = matrix_symbol("A", "m", "n")
    x = vector("x", "n")
    b = vector("b", "m")
    k = sc.compile(squared_error(A, x, b), x, params=[A, b])
    Av, xv, bv = RNG.normal(size=(7, 3)), RNG.normal(size=3), RNG.normal(size=7)
    assert np.isclose(k.value(xv, Av, bv), np.sum((Av @ xv - bv) ** 2))
    np.testing.assert_allclose(k.gradient(xv, Av, bv), 2 * Av.T @ (Av @ xv - bv), rtol=1e-12)
    np.testing.assert_allclose(k.hessian(xv, Av, bv), 2 * Av.T @ Av, rtol=1e-12)
    S = positive_definite("S", "n")
    kq = sc.compile(quadratic_form(x, S), x, params=[S])
    M = RNG.normal(size=(3, 3))
    Sv = M @ M.T + 3 * np.eye(3)
    np.testing.assert_allclose(kq.gradient(xv, Sv), 2 * Sv @ xv, rtol=1e-12)
    np.testing.assert_allclose(kq.hessian(xv, Sv), 2 * Sv, rtol=1e-12)


def test_softmax_cross_entropy_gradient_is_softmax_minus_y():
    z = vector("z", "k")
    y = vector("y", "k")
    k = sc.compile(softmax_cross_entropy(z, y), z, params=[y])
    zv = np.array([1000.0, 998.0, -5.0, 0.0])
    yv = np.array([0.0, 1.0, 0.0, 0.0])
    p = np.exp(zv - zv.max())
    p /= p.sum()
    np.testing.assert_allclose(k.gradient(zv, yv), p - yv, rtol=1e-12, atol=1e-300)
    # the Hessian diag(p) - p p^T is lowered as written (exp.(z) / sum): checked at moderate z
    zm = np.array([2.0, -1.0, 0.5, 0.0])
    pm = np.exp(zm) / np.exp(zm).sum()
    H = k.hessian(zm, yv)
    np.testing.assert_allclose(H, np.diag(pm) - np.outer(pm, pm), rtol=1e-10, atol=1e-14)


def test_matrix_gradient_of_a_matrix_variable_and_native_fallback():
    W = matrix_symbol("W", 3, 2)
    with pytest.warns(RuntimeWarning, match="matrix-form kernels use the NumPy backend"):
        k = sc.compile(norm_squared(W), W, backend="native")
    Wv = RNG.normal(size=(3, 2))
    np.testing.assert_allclose(k.gradient(Wv), 2 * Wv)
    with pytest.raises(InputError, match="Hessian with respect to the matrix W"):
        k.hessian(Wv)


def test_unknown_matrix_symbols_are_reported():
    X = matrix_symbol("X", "m", "n")
    w = vector("w", "n")
    y = vector("y", "m")
    with pytest.raises(InputError, match="contains y"):
        sc.compile(logistic_loss(X, w, y), w, params=[X])


def test_syrk_form_only_when_the_diagonal_is_provably_nonnegative():
    X = matrix_symbol("X", "m", "n")
    w = vector("w", "n")
    v = vector("v", "m")
    f = sp.Rational(1, 2) * sp.Trace(w.T * X.T * sp.DiagMatrix(v) * X * w)  # v may be negative
    H = X.T * sp.DiagMatrix(v) * X
    k = sc.compile(f, w, params=[X, v], gradient=X.T * sp.DiagMatrix(v) * X * w, hessian=H)
    assert "_gram" not in k.source and "[:, None] * p0)" in inspect.getsource(
        k.module.hessian
    )  # p0: X
    Xv, wv = RNG.normal(size=(9, 3)), RNG.normal(size=3)
    vv = RNG.normal(size=9)  # mixed signs
    np.testing.assert_allclose(k.hessian(wv, Xv, vv), Xv.T @ np.diag(vv) @ Xv, rtol=1e-12)
    np.testing.assert_allclose(
        k.gradient(wv, Xv, vv), central(lambda u: k.value(u, Xv, vv), wv), rtol=1e-6
    )

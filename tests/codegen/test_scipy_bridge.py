"""kernel.as_scipy() -> (fun, jac, hess) drives scipy.optimize.minimize to the right answer.

The reference solution of the logistic regression comes from a hand-written
Newton / IRLS iteration on the closed-form gradient and Hessian (NumPy only).
"""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.expr.functions import softplus
from symcalc.expr.structure import logistic_loss, matrix_symbol, vector

optimize = pytest.importorskip("scipy.optimize")

RNG = np.random.default_rng(11)
M, N = 80, 3
X = np.column_stack([np.ones(M), RNG.normal(size=(M, N - 1))])
W_TRUE = np.array([0.3, -1.2, 0.8])
Y = (RNG.random(M) < 1 / (1 + np.exp(-X @ W_TRUE))).astype(float)
L2 = 0.1  # a small ridge term keeps the optimum unique


def reference_solution():
    w = np.zeros(N)
    for _ in range(50):
        s = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (s - Y) + L2 * w
        H = X.T @ ((s * (1 - s))[:, None] * X) + L2 * np.eye(N)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-14:
            break
    return w


W_REF = reference_solution()


def explicit_loss():
    w = sp.symbols(f"w0:{N}", real=True)
    f = 0
    for i in range(M):
        z = sum(sp.Float(X[i, j]) * w[j] for j in range(N))
        f += softplus(z) - sp.Float(Y[i]) * z
    f += sp.Rational(1, 2) * sp.Float(L2) * sum(v**2 for v in w)
    return f, list(w)


@pytest.fixture(scope="module")
def explicit_kernel():
    f, w = explicit_loss()
    return sc.compile(f, w)


@pytest.mark.parametrize("method", ["Newton-CG", "trust-exact"])
def test_explicit_kernel_fits_logistic_regression(method, explicit_kernel):
    fun, jac, hess = explicit_kernel.as_scipy()
    res = optimize.minimize(
        fun,
        np.zeros(N),
        jac=jac,
        hess=hess,
        method=method,
        options={"xtol": 1e-12} if method == "Newton-CG" else {"gtol": 1e-10},
    )
    assert res.success, res.message
    np.testing.assert_allclose(res.x, W_REF, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["Newton-CG", "trust-exact"])
def test_matrix_kernel_fits_logistic_regression(method):
    Xs = matrix_symbol("X", "m", "n")
    ws = vector("w", "n")
    ys = vector("y", "m")
    lam = sp.Symbol("lam")
    loss = logistic_loss(Xs, ws, ys) + sp.Rational(1, 20) * sp.Trace(ws.T * ws)  # L2 / 2 = 1/20
    fun, jac, hess = sc.compile(loss, ws, params=[Xs, ys]).as_scipy(X, Y)
    res = optimize.minimize(
        fun,
        np.zeros(N),
        jac=jac,
        hess=hess,
        method=method,
        options={"xtol": 1e-12} if method == "Newton-CG" else {"gtol": 1e-10},
    )
    assert res.success, res.message
    np.testing.assert_allclose(res.x, W_REF, rtol=1e-6, atol=1e-8)
    assert lam not in loss.free_symbols


def test_scipy_functions_return_plain_floats_and_arrays():
    x, y = sp.symbols("x y")
    fun, jac, hess = sc.compile((x - 1) ** 2 + 10 * (y - x**2) ** 2, [x, y]).as_scipy()
    assert isinstance(fun([0.5, 0.5]), float)
    assert jac([0.5, 0.5]).shape == (2,) and hess([0.5, 0.5]).shape == (2, 2)
    res = optimize.minimize(fun, [-1.0, 2.0], jac=jac, hess=hess, method="trust-exact")
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)

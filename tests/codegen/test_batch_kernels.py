"""Batched matrix-form kernels (symcalc.codegen.batch_emitter): one call for a whole batch of the
variable. Checked against the per-point loop (the one-variable functions, called per point),
SymPy's own values at a small size, and central differences of a hand-written NumPy function."""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.expr.structure import logistic_loss, norm_squared, positive_definite

RNG = np.random.default_rng(5)
D = 3


def _gaussian():
    x, mu, S = sc.vector("x", "d"), sc.vector("mu", "d"), positive_definite("S", "d")
    k = sc.compile(sc.gaussian_logpdf(x, mu, S), x, params=[mu, S])
    A = RNG.normal(size=(D, D))
    return k, RNG.normal(size=D), A @ A.T + D * np.eye(D)


def _hand_logpdf(x, mu, S):
    r = x - mu
    return (
        -0.5 * r @ np.linalg.solve(S, r) - 0.5 * np.linalg.slogdet(S)[1] - D / 2 * np.log(2 * np.pi)
    )


def _sympy_logpdf(x, mu, S):
    r = sp.Matrix(x) - sp.Matrix(mu)
    Sm = sp.Matrix(S)
    value = (
        -(r.T * Sm.inv() * r)[0, 0] / 2
        - sp.log(Sm.det()) / 2
        - sp.Rational(D, 2) * sp.log(2 * sp.pi)
    )
    return float(value)


def _central(fn, x, h=1e-6):
    e = np.eye(len(x)) * h
    return np.array([(fn(x + e[i]) - fn(x - e[i])) / (2 * h) for i in range(len(x))])


def _loop(method, k, X, *params):
    """The per-point route: the one-variable function at each point of the batch."""
    return np.array([getattr(k, method)(X[idx], *params) for idx in np.ndindex(*X.shape[:-1])])


@pytest.mark.parametrize("batch", [(7,), (2, 3)])
def test_gaussian_batch_equals_the_loop_sympy_and_central_differences(batch):
    k, mu, S = _gaussian()
    assert hasattr(k.module, "value_batch") and hasattr(k.module, "gradient_batch")
    X = RNG.normal(size=batch + (D,))
    value, grad = k.value(X, mu, S), k.gradient(X, mu, S)
    assert value.shape == batch and grad.shape == batch + (D,)
    flat = X.reshape(-1, D)
    assert np.allclose(value.ravel(), _loop("value", k, flat, mu, S), rtol=1e-12)
    assert np.allclose(grad.reshape(-1, D), _loop("gradient", k, flat, mu, S), rtol=1e-12)
    for x, v, g in zip(flat, value.ravel(), grad.reshape(-1, D)):
        assert np.isclose(v, _sympy_logpdf(x, mu, S), rtol=1e-12)
        assert np.allclose(g, _central(lambda t: _hand_logpdf(t, mu, S), x), atol=1e-6)
    v2, g2 = k.value_and_gradient(X, mu, S)
    assert np.allclose(v2, value) and np.allclose(g2, grad)


def test_the_gaussian_hessian_is_broadcast_read_only_and_right():
    k, mu, S = _gaussian()
    X = RNG.normal(size=(4, 5, D))
    H = k.hessian(X, mu, S)
    assert H.shape == (4, 5, D, D)
    assert not H.flags.writeable
    with pytest.raises(ValueError):
        H[0, 0, 0, 0] = 1.0
    assert np.allclose(H, -np.linalg.inv(S))  # every point: -S^-1
    Hx = sp.hessian(
        -(sp.Matrix(sp.symbols("a:3")) - sp.Matrix(mu)).T
        * sp.Matrix(S).inv()
        * (sp.Matrix(sp.symbols("a:3")) - sp.Matrix(mu))
        / 2,
        sp.symbols("a:3"),
    )
    assert np.allclose(H[1, 2], np.array(Hx.tolist(), dtype=float))
    M = k.hessian(X, mu, S, materialize=True)
    assert M.flags.writeable and not np.shares_memory(M, H) and np.array_equal(M, H)
    v, g, h = k.value_gradient_hessian(X, mu, S)
    assert np.allclose(h, H) and not h.flags.writeable
    assert np.allclose(g, k.gradient(X, mu, S)) and np.allclose(v, k.value(X, mu, S))


def test_logistic_batch_gradient_is_two_gemms_and_the_hessian_loops():
    X, w, y = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
    k = sc.compile(logistic_loss(X, w, y), w, params=[X, y])
    assert "gradient_batch" in k.source and not hasattr(k.module, "hessian_batch")
    Xv, yv = RNG.normal(size=(6, 4)), (RNG.random(6) < 0.5).astype(float)
    W = RNG.normal(size=(5, 4))
    hand = (1 / (1 + np.exp(-(W @ Xv.T))) - yv) @ Xv
    assert np.allclose(k.gradient(W, Xv, yv), hand)
    assert np.allclose(k.gradient(W, Xv, yv), _loop("gradient", k, W, Xv, yv))
    assert np.allclose(k.value(W, Xv, yv), _loop("value", k, W, Xv, yv))
    assert np.allclose(k.hessian(W, Xv, yv), _loop("hessian", k, W, Xv, yv))


def test_a_result_that_is_the_variable_is_a_copy():
    w = sc.vector("w", "n")
    k = sc.compile(norm_squared(w) / 2, w)  # gradient = w, Hessian = I
    W = RNG.normal(size=(3, 4))
    G = k.gradient(W)
    assert np.array_equal(G, W) and not np.shares_memory(G, W)
    assert np.allclose(k.value(W), 0.5 * np.sum(W * W, axis=-1))
    assert np.allclose(k.hessian(W), np.eye(4))


@pytest.mark.parametrize("which", ["product", "log"])
def test_batched_scalars_times_batched_vectors(which):
    x, y = sc.vector("x", "n"), sc.vector("y", "n")
    if which == "product":  # a product of two batched scalars
        f = sp.Trace(x.T * x) * sp.Trace(y.T * x)

        def hand(t):
            return (t @ t) * (yv @ t)
    else:
        f = sp.log(1 + sp.Trace(x.T * x)) + sp.Trace(y.T * x)

        def hand(t):
            return np.log(1 + t @ t) + yv @ t

    k = sc.compile(f, x, params=[y])
    assert hasattr(k.module, "hessian_batch")
    yv = RNG.normal(size=3)
    X = RNG.normal(size=(6, 3))
    assert np.allclose(k.value(X, yv), [hand(t) for t in X])
    G = k.gradient(X, yv)
    assert np.allclose(G, [_central(hand, t) for t in X], atol=1e-6)
    assert np.allclose(G, _loop("gradient", k, X, yv))
    H = k.hessian(X, yv)
    assert H.flags.writeable and H.shape == (6, 3, 3)
    assert np.allclose(H, _loop("hessian", k, X, yv))
    for t, h in zip(X, H):
        assert np.allclose(h, _central(lambda s: k.gradient(s, yv), t).T, atol=1e-5)

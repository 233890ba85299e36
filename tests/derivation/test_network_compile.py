"""The batch constructs compile to NumPy (printing methods on the classes): the compiled value
and gradient agree with hand-written NumPy and with central differences."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symcalc as sc

X = sc.matrix_symbol("X", "m", "n")
W = sc.matrix_symbol("W", "n", "k")
Y = sc.matrix_symbol("Y", "m", "k")
G = sc.matrix_symbol("G", "m", "k")


def np_softmax(z):
    t = np.exp(z - z.max(axis=1, keepdims=True))
    return t / t.sum(axis=1, keepdims=True)


def np_layer_norm(z, eps=0.1):
    c = z - z.mean(axis=1, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=1, keepdims=True) + eps)


def _central(fn, w, h=1e-6):
    g = np.zeros_like(w)
    for idx in np.ndindex(*w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        g[idx] = (fn(w + e) - fn(w - e)) / (2 * h)
    return g


CASES = [
    (
        "softmax regression",
        lambda: sc.softmax_cross_entropy(X * W, Y),
        [X, Y],
        lambda w, x, y: float(np.log(np.exp(x @ w).sum(axis=1)).sum() - (y * (x @ w)).sum()),
    ),
    (
        "layer norm",
        lambda: sp.Trace(G.T * sc.layer_norm(X * W, eps=sp.Rational(1, 10))),
        [X, G],
        lambda w, x, g: float((g * np_layer_norm(x @ w)).sum()),
    ),
    (
        "logsumexp columns",
        lambda: sc.sum_entries(sc.logsumexp(X * W, axis=0)),
        [X],
        lambda w, x: float(np.log(np.exp(x @ w).sum(axis=0)).sum()),
    ),
]


@pytest.mark.parametrize("name, build, params, fn", CASES, ids=[c[0] for c in CASES])
def test_compiled_batch_losses(name, build, params, fn):
    kern = sc.compile(build(), W, params=params)
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(5, 3)), rng.normal(size=(3, 4))
    other = np.eye(4)[rng.integers(0, 4, size=5)] if Y in params else rng.normal(size=(5, 4))
    args = [x] + ([other] if len(params) > 1 else [])
    assert float(kern.value(w, *args)) == pytest.approx(fn(w, *args), rel=1e-10)
    g = kern.gradient(w, *args)
    assert g.shape == w.shape
    np.testing.assert_allclose(g, _central(lambda v: fn(v, *args), w), rtol=1e-6, atol=1e-7)


def test_compiled_softmax_is_stable_for_large_scores():
    kern = sc.compile(sc.softmax_cross_entropy(X * W, Y), W, params=[X, Y])
    x, w = np.full((2, 1), 1000.0), np.array([[1.0, 2.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(kern.gradient(w, x, y), x.T @ (np_softmax(x @ w) - y))

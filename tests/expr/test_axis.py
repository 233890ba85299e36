"""Axis-aware constructors (issue 14): softmax / logsumexp / sum_entries / mean along an axis,
layer norm, broadcast biases, and the gradients of batch losses built from them.

Every closed form is checked at two concrete sizes against SymPy's elementwise derivative
(``as_explicit()`` then ``sp.diff``) and against central differences of a hand-written NumPy
implementation (tests/derivation/matrix_routes.py). Self-checks are off (check=False).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.expr.axis import LayerNorm, LogSumExp, Softmax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "derivation"))
from matrix_routes import (  # noqa: E402
    assert_close,
    central_jacobian,
    check_gradient_routes,
    closed_value,
    random_values,
    sympy_hessian,
    sympy_jacobian,
)

m, n, k, d, e = (sp.Symbol(s, integer=True, positive=True) for s in "mnkde")
SIZES = [{m: 3, n: 2, k: 3, d: 2, e: 2}, {m: 2, n: 3, k: 2, d: 3, e: 3}]
Z = sc.matrix_symbol("Z", "m", "k")
X = sc.matrix_symbol("X", "m", "n")
W = sc.matrix_symbol("W", "n", "k")
Y = sc.matrix_symbol("Y", "m", "k")
G = sc.matrix_symbol("G", "m", "k")
b = sc.vector("b", "k")
EPS = sp.Rational(1, 10)


# ---------------------------------------------------------------------------------------
# Hand-written NumPy (the independent implementations)
# ---------------------------------------------------------------------------------------
def np_softmax(z, axis):
    t = np.exp(z - z.max(axis=axis, keepdims=True))
    return t / t.sum(axis=axis, keepdims=True)


def np_logsumexp(z, axis):
    return np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_layer_norm(z, eps=0.1):
    c = z - z.mean(axis=1, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=1, keepdims=True) + eps)


def one_hot_rows(rng, shape):
    return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]


# ---------------------------------------------------------------------------------------
# The constructors: shapes, values, axis=None unchanged, errors
# ---------------------------------------------------------------------------------------
def test_shapes_and_axis_none_keeps_todays_meaning():
    assert sc.softmax(Z, axis=1).shape == (m, k) and sc.logsumexp(Z, axis=1).shape == (m, 1)
    assert sc.logsumexp(Z, axis=0).shape == (1, k)
    assert sc.sum_entries(Z, axis=1) == Z * sp.OneMatrix(k, 1)
    assert sc.sum_entries(Z, axis=0) == sp.OneMatrix(1, m) * Z
    assert sc.sum_entries(Z) == sp.Trace(sp.OneMatrix(1, m) * Z * sp.OneMatrix(k, 1))
    z = sc.vector("z", "n")
    assert sc.softmax(z) == sc.elementwise(sp.exp, z) / sc.sum_entries(sc.elementwise(sp.exp, z))
    assert sc.mean(Z) == sc.sum_entries(Z) / (m * k)
    assert isinstance(sc.layer_norm(Z, eps=EPS), LayerNorm)


@pytest.mark.parametrize("bad", [2, "1", True, 1.0])
def test_a_bad_axis_is_refused(bad):
    with pytest.raises(sc.InputError, match="axis"):
        sc.softmax(Z, axis=bad)


def test_layer_norm_needs_a_positive_eps():
    with pytest.raises(sc.InputError, match="eps"):
        sc.layer_norm(Z, eps=0)


@pytest.mark.parametrize("which", [0, 1])
def test_values_match_numpy(which):
    sizes = SIZES[which]
    values = random_values([Z], sizes, seed=which)
    z = values[Z]
    for axis in (0, 1):
        S = closed_value(sc.softmax(Z, axis=axis), sizes, values)
        assert_close(S, np_softmax(z, axis), 1e-12)
        assert_close(S.sum(axis=axis), np.ones(z.shape[1 - axis]), 1e-12)
        lse = closed_value(sc.logsumexp(Z, axis=axis), sizes, values)
        assert_close(lse, np_logsumexp(z, axis), 1e-12)
        assert_close(
            closed_value(sc.mean(Z, axis=axis), sizes, values), z.mean(axis, keepdims=True)
        )
    assert_close(closed_value(sc.layer_norm(Z, eps=EPS), sizes, values), np_layer_norm(z), 1e-12)
    # SymPy's own entries (as_explicit) agree with the explicit evaluation
    Ss = Softmax(Z, 1).xreplace({m: sizes[m], k: sizes[k]})
    explicit = Ss.as_explicit().xreplace(
        {Z.xreplace({m: sizes[m], k: sizes[k]}): sp.ImmutableMatrix(z)}
    )
    assert_close(np.array(explicit.evalf(), dtype=float), np_softmax(z, 1), 1e-12)


# ---------------------------------------------------------------------------------------
# Jacobians of the constructors (matrix Jacobians, vec layout)
# ---------------------------------------------------------------------------------------
JACOBIANS = [
    ("softmax rows", sc.softmax(Z, axis=1), lambda z: np_softmax(z, 1)),
    ("softmax columns", sc.softmax(Z, axis=0), lambda z: np_softmax(z, 0)),
    ("logsumexp rows", sc.logsumexp(Z, axis=1), lambda z: np_logsumexp(z, 1)),
    ("logsumexp columns", sc.logsumexp(Z, axis=0), lambda z: np_logsumexp(z, 0)),
    ("layer norm", sc.layer_norm(Z, eps=EPS), np_layer_norm),
    ("mean rows", sc.mean(Z, axis=1), lambda z: z.mean(axis=1, keepdims=True)),
]


@pytest.mark.parametrize("name, F, fn", JACOBIANS, ids=[j[0] for j in JACOBIANS])
@pytest.mark.parametrize("which", [0, 1])
def test_jacobians_of_the_constructors(name, F, fn, which):
    sizes = SIZES[which]
    J = sc.derive(F, Z, check=False).results["jacobian"]
    assert J.shape == (F.rows * F.cols, m * k)
    values = random_values([Z], sizes, seed=10 + which)
    ours = closed_value(J, sizes, values)
    assert_close(ours, sympy_jacobian(F, Z, sizes, values), 1e-9, 1e-9)
    assert_close(ours, central_jacobian(fn, values[Z]))


# ---------------------------------------------------------------------------------------
# Batch losses: softmax regression, biases, layer norm, attention
# ---------------------------------------------------------------------------------------
def np_cross_entropy(z, y):
    return float(np_logsumexp(z, 1).sum() - (y * z).sum())


def test_softmax_regression_gradient_is_the_textbook_form():
    L = sc.softmax_cross_entropy(X * W, Y)
    assert sc.gradient(L, W) == X.T * (sc.softmax(X * W, axis=1) - Y)


@pytest.mark.parametrize("which", [0, 1])
def test_softmax_regression_over_a_batch(which):
    sizes = SIZES[which]
    L = sc.softmax_cross_entropy(X * W, Y)
    values = random_values([L], sizes, seed=20 + which, overrides={Y: one_hot_rows})
    d = sc.derive(L, W, order=2, check=False)
    check_gradient_routes(
        d.results["gradient"],
        L,
        W,
        sizes,
        values,
        lambda w, c: np_cross_entropy(c["X"] @ w, c["Y"]),
    )
    # the Hessian in vec form: sp.diff twice, and central differences of the NumPy gradient
    H = closed_value(d.results["hessian"], sizes, values)
    assert_close(H, sympy_hessian(L, W, sizes, values), 1e-9, 1e-9)
    x, y = values[X], values[Y]
    assert_close(H, central_jacobian(lambda w: x.T @ (np_softmax(x @ w, 1) - y), values[W]))


@pytest.mark.parametrize("which", [0, 1])
def test_broadcast_bias(which):
    sizes = SIZES[which]
    L = sc.softmax_cross_entropy(X * W + sc.ones("m") * b.T, Y)
    values = random_values([L], sizes, seed=30 + which, overrides={Y: one_hot_rows})
    for V in (W, b):
        Gr = sc.derive(L, V, check=False).results["gradient"]
        assert Gr.shape == V.shape

        def fn(v, c, V=V):
            w, bb = (v, c["b"]) if V is W else (c["W"], v)
            return np_cross_entropy(c["X"] @ w + bb.T, c["Y"])

        check_gradient_routes(Gr, L, V, sizes, values, fn)


gamma, beta = sc.vector("gamma", "k"), sc.vector("beta", "k")


def _ln_loss():
    N = sc.layer_norm(X * W, eps=EPS)
    out = sc.hadamard(N, sc.ones("m") * gamma.T) + sc.ones("m") * beta.T
    return sp.Trace(G.T * sc.elementwise(sp.tanh, out))


def _np_ln_loss(V, v, c):
    vals = {"W": c.get("W"), "gamma": c.get("gamma"), "beta": c.get("beta"), V: v}
    out = np_layer_norm(c["X"] @ vals["W"]) * vals["gamma"].T + vals["beta"].T
    return float((c["G"] * np.tanh(out)).sum())


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("V", [W, gamma, beta], ids=["W", "gamma", "beta"])
def test_layer_norm_gradients_wrt_every_weight(V, which):
    sizes = SIZES[which]
    L = _ln_loss()
    Gr = sc.derive(L, V, check=False).results["gradient"]
    values = random_values([L], sizes, seed=40 + which)
    check_gradient_routes(Gr, L, V, sizes, values, lambda v, c: _np_ln_loss(V.name, v, c))


Wq, Wk = sc.matrix_symbol("W_q", "n", "d"), sc.matrix_symbol("W_k", "n", "d")
Wv, Ga = sc.matrix_symbol("W_v", "n", "e"), sc.matrix_symbol("G", "m", "e")


def _attention_loss():
    scores = X * Wq * (X * Wk).T / sp.sqrt(d)
    return sp.Trace(Ga.T * sc.softmax(scores, axis=1) * X * Wv)


def _np_attention(V, v, c):
    w = {"W_q": c.get("W_q"), "W_k": c.get("W_k"), "W_v": c.get("W_v"), V: v}
    x = c["X"]
    s = (x @ w["W_q"]) @ (x @ w["W_k"]).T / np.sqrt(w["W_q"].shape[1])
    return float((c["G"] * (np_softmax(s, 1) @ x @ w["W_v"])).sum())


def test_attention_value_gradient_is_readable():
    L = _attention_loss()
    S = sc.softmax(X * Wq * (X * Wk).T / sp.sqrt(d), axis=1)
    assert sc.gradient(L, Wv) == X.T * S.T * Ga


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("V", [Wq, Wk, Wv], ids=["W_q", "W_k", "W_v"])
def test_attention_gradients_wrt_every_weight(V, which):
    sizes = SIZES[which]
    L = _attention_loss()
    Gr = sc.derive(L, V, check=False).results["gradient"]
    values = random_values([L], sizes, seed=50 + which)
    values[X] = values[X] / 2  # moderate scores
    check_gradient_routes(Gr, L, V, sizes, values, lambda v, c: _np_attention(V.name, v, c))


def test_self_checks_pass_on_the_batch_losses():
    for L, V in [
        (sc.softmax_cross_entropy(X * W, Y), W),
        (_ln_loss(), gamma),
        (_attention_loss(), Wq),
    ]:
        assert sc.derive(L, V).all_checks_passed


def test_printing_of_the_new_constructs():
    S = sc.softmax(X * W, axis=1)
    assert "softmax" in sc.text(S) and "softmax" in sp.latex(S)
    assert "LN" in sp.latex(sc.layer_norm(Z)) and "logsumexp" in sp.latex(LogSumExp(Z, 1))

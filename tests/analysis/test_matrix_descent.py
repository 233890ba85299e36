"""The descent identity dL/dt = -‖∇L‖² for a matrix variable (issue 13: descent_rate refused
a MatrixSymbol). Checked against central differences of hand-written NumPy along the flow."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symcalc as sc

RNG = np.random.default_rng(7)


def _central_gradient(L, X, h=1e-6):
    G = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        E = np.zeros_like(X)
        E[idx] = h
        G[idx] = (L(X + E) - L(X - E)) / (2 * h)
    return G


def _rate_along_flow(L, X, h=1e-6):
    """d/dt L(X(t)) at t = 0 for dX/dt = -∇L, with ∇L itself from central differences."""
    G = _central_gradient(L, X)
    return (L(X - h * G) - L(X + h * G)) / (2 * h), G


def _value(expr, subs):
    return float(sp.sympify(expr, strict=True).xreplace(subs).doit())


def test_quadratic_form_in_a_vector():
    k = 3
    w, A = sc.vector("w", k), sc.matrix_symbol("A", k, k)
    d = sc.descent_rate(sp.Trace(w.T * A * w), w)
    assert d.holds
    wv, Av = RNG.normal(size=(k, 1)), RNG.normal(size=(k, k))
    subs = {w: sp.Matrix(wv), A: sp.Matrix(Av)}
    fd_rate, _ = _rate_along_flow(lambda v: (v.T @ Av @ v).item(), wv)
    assert _value(d.rate, subs) == pytest.approx(fd_rate, rel=1e-6)
    assert _value(d.norm_squared, subs) == pytest.approx(-fd_rate, rel=1e-6)


def test_least_squares_in_a_matrix_at_symbolic_size():
    W, X, Y = (
        sc.matrix_symbol(s, *shape)
        for s, shape in (("W", ("n", "k")), ("X", ("m", "n")), ("Y", ("m", "k")))
    )
    R = X * W - Y
    d = sc.descent_rate(sp.Trace(R.T * R), W)
    assert d.holds
    m, n, k = 4, 3, 2
    Xv, Yv, Wv = RNG.normal(size=(m, n)), RNG.normal(size=(m, k)), RNG.normal(size=(n, k))
    size = {s: v for s, v in zip(sp.symbols("m n k", integer=True, positive=True), (m, n, k))}
    rate_k = sp.sympify(d.rate, strict=True).subs(size)
    subs = {M.subs(size): sp.Matrix(v) for M, v in ((W, Wv), (X, Xv), (Y, Yv))}
    fd_rate, G = _rate_along_flow(lambda V: float(np.sum((Xv @ V - Yv) ** 2)), Wv)
    assert _value(rate_k, subs) == pytest.approx(fd_rate, rel=1e-5)
    assert fd_rate == pytest.approx(-np.sum(G**2), rel=1e-5)  # the identity itself, numerically


def test_steps_name_the_identification_route():
    w = sc.vector("w", 2)
    d = sc.descent_rate(sp.Trace(w.T * w), w)
    assert [s.rule.name for s in d.steps] == [
        "chain_rule_along_path",
        "gradient_flow",
        "descent_identity",
    ]
    assert "proved entry by entry" in d.steps[-1].note

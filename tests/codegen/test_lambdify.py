"""sc.lambdify: any result evaluates numerically, where sympy.lambdify cannot print it
(issue 13). Checked against SymPy's explicit form at concrete sizes (as_explicit, then
SymPy's own lambdify) and against hand-written NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError, InputTypeError

RNG = np.random.default_rng(11)


def _explicit(expr, subs):
    """The value of a closed form by SymPy alone: explicit matrices, then evalf."""
    value = sp.sympify(expr, strict=True).xreplace(subs).doit()
    value = value.as_explicit() if isinstance(value, sp.MatrixExpr) else value
    return np.array(sp.N(value), dtype=float)


@pytest.mark.parametrize("m, n", [(3, 2), (5, 4)])
def test_the_logistic_gradient_and_hessian_evaluate_like_sympy(m, n):
    A, w, y = sc.matrix_symbol("A", m, n), sc.vector("w", n), sc.vector("y", m)
    loss = sc.logistic_loss(A, w, y)
    g, H = sc.gradient(loss, w), sc.hessian(loss, w)
    Av, wv, yv = RNG.normal(size=(m, n)), RNG.normal(size=n), RNG.integers(0, 2, m).astype(float)
    subs = {A: sp.Matrix(Av), w: sp.Matrix(wv), y: sp.Matrix(yv)}
    np.testing.assert_allclose(
        sc.lambdify([A, w, y], g)(Av, wv, yv), _explicit(g, subs).ravel(), rtol=1e-10
    )
    np.testing.assert_allclose(
        sc.lambdify([A, w, y], H)(Av, wv, yv), _explicit(H, subs), rtol=1e-10
    )
    # and against hand NumPy: X^T (sigmoid(Xw) - y), X^T diag(p(1-p)) X
    p = 1 / (1 + np.exp(-(Av @ wv)))
    np.testing.assert_allclose(sc.lambdify([A, w, y], g)(Av, wv, yv), Av.T @ (p - yv), rtol=1e-10)
    np.testing.assert_allclose(
        sc.lambdify([A, w, y], H)(Av, wv, yv), Av.T @ ((p * (1 - p))[:, None] * Av), rtol=1e-10
    )


def test_a_gaussian_log_density_evaluates_like_scipy_would():
    k = 3
    x, mu, S = sc.vector("x", k), sc.vector("mu", k), sc.positive_definite("S", k)
    lp = sc.gaussian_logpdf(x, mu, S)
    M = RNG.normal(size=(k, k))
    Sv, xv, muv = M @ M.T + k * np.eye(k), RNG.normal(size=k), RNG.normal(size=k)
    r = xv - muv
    hand = (
        -0.5 * r @ np.linalg.solve(Sv, r)
        - 0.5 * np.linalg.slogdet(Sv)[1]
        - k / 2 * np.log(2 * np.pi)
    )
    assert sc.lambdify([x, mu, S], lp)(xv, muv, Sv) == pytest.approx(hand, rel=1e-12)
    score = sc.gradient(lp, x)
    np.testing.assert_allclose(
        sc.lambdify([x, mu, S], score)(xv, muv, Sv), -np.linalg.solve(Sv, r), rtol=1e-10
    )


@pytest.mark.parametrize("z", [-1000.0, -100.0, 0.0, 100.0, 1000.0])
def test_softplus_spelled_by_hand_is_stable(z):
    t = sp.Symbol("t")
    assert sc.lambdify([t], sp.log(1 + sp.exp(t)))(z) == pytest.approx(
        np.logaddexp(0, z), rel=1e-12
    )
    assert sc.lambdify([t], sc.softplus(t))(z) == pytest.approx(np.logaddexp(0, z), rel=1e-12)


def test_a_symbol_named_like_a_function_is_only_an_argument():
    s = sp.Symbol("sin")
    assert sc.lambdify([s], sp.sin(s) + s)(0.5) == pytest.approx(np.sin(0.5) + 0.5)


def test_bad_arguments_give_one_clear_error():
    t, u = sp.symbols("t u")
    with pytest.raises(InputError, match="u has no value"):
        sc.lambdify([t], t + u)
    with pytest.raises(InputError, match="undefined function f"):
        sc.lambdify([t], sp.Function("f")(t))
    with pytest.raises(InputTypeError, match="Symbols or MatrixSymbols"):
        sc.lambdify(["t"], t)
    with pytest.raises(InputError, match="takes 1 arguments"):
        sc.lambdify([t], t)(1.0, 2.0)

"""Several parameters at once, the Laplacian, Hessian-vector products and Gauss-Newton
(issue 14), each checked at two concrete sizes against SymPy's elementwise derivatives
(``as_explicit()`` then ``sp.diff``) and central differences of hand-written NumPy."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.derivation.parameters import derive_parameters

sys.path.insert(0, os.path.dirname(__file__))
from matrix_routes import (  # noqa: E402
    assert_close,
    central_gradient,
    central_jacobian,
    check_gradient_routes,
    closed_value,
    random_values,
    sympy_gradient,
    sympy_hessian,
    sympy_jacobian,
    vec,
)

m, n, h, k = (sp.Symbol(s, integer=True, positive=True) for s in "mnhk")
SIZES = [{m: 3, n: 2, h: 3, k: 2}, {m: 2, n: 3, h: 2, k: 3}]
X = sc.matrix_symbol("X", "m", "n")
W1, b1 = sc.matrix_symbol("W_1", "n", "h"), sc.vector("b_1", "h")
W2, b2 = sc.matrix_symbol("W_2", "h", "k"), sc.vector("b_2", "k")
Y = sc.matrix_symbol("Y", "m", "k")
PARAMS = [W1, b1, W2, b2]


def mlp_loss():
    H = sc.elementwise(sp.tanh, X * W1 + sc.ones("m") * b1.T)
    return sc.softmax_cross_entropy(H * W2 + sc.ones("m") * b2.T, Y)


def np_mlp_loss(w, c):
    z = np.tanh(c["X"] @ w["W_1"] + w["b_1"].T) @ w["W_2"] + w["b_2"].T
    lse = np.log(np.exp(z).sum(axis=1))
    return float(lse.sum() - (c["Y"] * z).sum())


def _one_hot(rng, shape):
    return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]


# ---------------------------------------------------------------------------------------
# sc.gradient(L, [W1, b1, W2, b2])
# ---------------------------------------------------------------------------------------
def test_all_parameters_at_once_share_subexpressions():
    grads = sc.gradient(mlp_loss(), PARAMS)
    assert isinstance(grads, tuple) and [g.shape for g in grads] == [p.shape for p in PARAMS]
    # the back-propagated output error softmax(Z) - Y is one subexpression of every gradient
    S = next(iter(grads[3].atoms(sc.softmax(Y, axis=1).func)))
    assert all(g.has(S) for g in grads)
    assert grads[2] == sc.gradient(mlp_loss(), W2)  # the same closed form as one at a time


@pytest.mark.parametrize("which", [0, 1])
def test_two_layer_tanh_mlp_with_biases_over_a_batch(which):
    sizes = SIZES[which]
    L = mlp_loss()
    d = derive_parameters(L, PARAMS, check=False)
    values = random_values([L], sizes, seed=60 + which, overrides={Y: _one_hot})
    for p, G in zip(PARAMS, d.results["gradient"]):

        def fn(v, c, p=p):
            return np_mlp_loss({**c, p.name: v}, c)

        check_gradient_routes(G, L, p, sizes, values, fn)


def test_the_self_checks_cover_every_parameter():
    d = sc.derive(mlp_loss(), PARAMS)
    assert d.all_checks_passed and len(d.checks) == 2 * len(PARAMS)


def test_bad_parameter_lists_are_refused():
    with pytest.raises(sc.InputError, match="twice"):
        sc.gradient(mlp_loss(), [W1, W1])
    with pytest.raises(sc.InputError, match="Hessians"):
        sc.derive(mlp_loss(), PARAMS, order=2)


# ---------------------------------------------------------------------------------------
# The Laplacian (trace of the Hessian) and its gradient: score matching
# ---------------------------------------------------------------------------------------
W = sc.matrix_symbol("W", "h", "n")
b = sc.vector("b", "h")
x = sc.vector("x", "n")
s = sp.Rational(3, 2)


def tanh_energy():
    return sc.sum_entries(sc.elementwise(sp.tanh, W * x + b)) + sc.norm_squared(x) / (2 * s**2)


def np_energy(xv, c):
    return float(np.tanh(c["W"] @ xv + c["b"]).sum() + (xv**2).sum() / (2 * 1.5**2))


def np_laplacian(xv, c, step=1e-4):
    """Sum of second central differences (no derivative formula)."""
    total = 0.0
    for i in range(xv.size):
        e = np.zeros_like(xv)
        e.flat[i] = step
        total += (np_energy(xv + e, c) - 2 * np_energy(xv, c) + np_energy(xv - e, c)) / step**2
    return total


def np_laplacian_formula(Wv, c):
    """The Laplacian written by hand: sum_i tanh''(z_i) sum_j W_ij^2 + n / s^2."""
    t = np.tanh(Wv @ c["x"] + c["b"])
    return float((-2 * t * (1 - t**2)).ravel() @ (Wv**2).sum(axis=1) + Wv.shape[1] / 1.5**2)


@pytest.mark.parametrize("which", [0, 1])
def test_laplacian_of_a_tanh_energy_and_its_gradient(which):
    sizes = SIZES[which]
    E = tanh_energy()
    lap = sc.laplacian(E, x)
    assert not isinstance(lap, sp.MatrixExpr) and not lap.atoms(sp.KroneckerProduct)
    values = random_values([E], sizes, seed=70 + which)
    ours = closed_value(lap, sizes, values)
    assert ours == pytest.approx(float(np.trace(sympy_hessian(E, x, sizes, values))), rel=1e-9)
    consts = {M.name: v for M, v in values.items()}
    assert ours == pytest.approx(np_laplacian(values[x], consts), rel=1e-5)
    # differentiable again: d laplacian / dW (score matching), against both routes
    G = sc.gradient(lap, W)
    assert G.shape == W.shape
    check_gradient_routes(G, lap, W, sizes, values, np_laplacian_formula)


@pytest.mark.parametrize("which", [0, 1])
def test_laplacian_wrt_a_matrix(which):
    sizes = SIZES[which]
    Xm, A = sc.matrix_symbol("X", "n", "k"), sc.matrix_symbol("A", "n", "n")
    f = sp.Trace(Xm.T * A * Xm) + sc.sum_entries(sc.elementwise(sp.exp, Xm))
    lap = sc.laplacian(f, Xm)
    values = random_values([f], sizes, seed=80 + which)
    ref = float(np.trace(sympy_hessian(f, Xm, sizes, values)))
    assert closed_value(lap, sizes, values) == pytest.approx(ref, rel=1e-9)
    xa, aa = values[Xm], values[A]
    assert ref == pytest.approx(2 * xa.shape[1] * np.trace(aa) + np.exp(xa).sum(), rel=1e-9)


# ---------------------------------------------------------------------------------------
# Hessian-vector products and Gauss-Newton
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", [0, 1])
def test_hvp_matches_the_full_hessian(which):
    sizes = SIZES[which]
    E, v = tanh_energy(), sc.vector("v", "n")
    Hv = sc.hvp(E, x, v)
    assert Hv.shape == x.shape
    values = random_values([E, v], sizes, seed=90 + which)
    ours = vec(closed_value(Hv, sizes, values))
    H_closed = closed_value(sc.hessian(E, x), sizes, values)
    assert_close(ours, H_closed @ vec(values[v]), 1e-12)
    assert_close(ours, sympy_hessian(E, x, sizes, values) @ vec(values[v]), 1e-9, 1e-9)


@pytest.mark.parametrize("which", [0, 1])
def test_hvp_wrt_a_matrix_variable(which):
    sizes = SIZES[which]
    Xm, V = sc.matrix_symbol("X", "n", "k"), sc.matrix_symbol("V", "n", "k")
    A = sc.matrix_symbol("A", "n", "n")
    f = sp.Trace(Xm.T * A * Xm) + sc.sum_entries(sc.elementwise(sp.exp, Xm))
    values = random_values([f, V], sizes, seed=95 + which)
    ours = vec(closed_value(sc.hvp(f, Xm, V), sizes, values))
    assert_close(ours, sympy_hessian(f, Xm, sizes, values) @ vec(values[V]), 1e-9, 1e-9)
    xa, aa, va = values[Xm], values[A], values[V]
    grad = lambda z: (aa + aa.T) @ z + np.exp(z)  # noqa: E731 - the gradient by hand
    fd = (grad(xa + 1e-6 * va) - grad(xa - 1e-6 * va)) / 2e-6
    assert_close(ours, vec(fd))


def test_hvp_refuses_a_direction_of_the_wrong_shape():
    with pytest.raises(sc.ShapeError):
        sc.hvp(tanh_energy(), x, sc.vector("v", "h"))


@pytest.mark.parametrize("which", [0, 1])
def test_gauss_newton_of_least_squares(which):
    sizes = SIZES[which]
    Wg, xg, yg = sc.matrix_symbol("W", "h", "n"), sc.vector("x", "n"), sc.vector("y", "h")
    r = sc.elementwise(sp.tanh, Wg * xg) - yg
    GN = sc.gauss_newton(r, Wg)
    values = random_values([r], sizes, seed=99 + which)
    ours = closed_value(GN, sizes, values)
    J = sympy_jacobian(r, Wg, sizes, values)
    assert_close(ours, J.T @ J, 1e-9, 1e-9)
    Jn = central_jacobian(lambda w: np.tanh(w @ values[xg]) - values[yg], values[Wg])
    assert_close(ours, Jn.T @ Jn)


_ = (central_gradient, sympy_gradient)


@pytest.mark.parametrize("which", [0, 1])
def test_hessian_wrt_a_broadcast_bias(which):
    """(... o (C 1^T)) 1 has no m x n reading: the vector Hessian falls back to vec form."""
    sizes = SIZES[which]
    L = sc.norm_squared(sc.elementwise(sp.tanh, X * W1 + sc.ones("m") * b1.T))
    H = sc.hessian(L, b1)
    assert H.shape == (h, h)
    values = random_values([L], sizes, seed=110 + which)
    ours = closed_value(H, sizes, values)
    assert_close(ours, sympy_hessian(L, b1, sizes, values), 1e-9, 1e-9)
    x, w = values[X], values[W1]

    def grad(bv):
        t = np.tanh(x @ w + bv.T)
        return (2 * t * (1 - t**2)).sum(axis=0)[:, None]

    assert_close(ours, central_jacobian(grad, values[b1]))

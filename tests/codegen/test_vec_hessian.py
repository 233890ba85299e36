"""Compiled Hessians in vec form (Vec, Kronecker, commutation lowered to NumPy) and the batched
log-sum-exp Hessian (issues 14 and 15).

Each against SymPy's Hessian of the explicit form at a concrete size and against central
differences of a hand-written NumPy function.
"""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.derivation.vecform import CommutationMatrix, Vec


def _softmax_loss(W, X, Y):
    Z = X @ W
    m = Z.max(axis=1, keepdims=True)
    return np.sum(np.log(np.exp(Z - m).sum(axis=1)) + m[:, 0]) - np.sum(Y * Z)


def _central_hessian(fn, x, h=1e-4):
    """Central differences of central differences, x a flat vector."""

    def grad(v):
        return np.array([(fn(v + h * e) - fn(v - h * e)) / (2 * h) for e in np.eye(v.size)])

    return np.array([(grad(x + h * e) - grad(x - h * e)) / (2 * h) for e in np.eye(x.size)])


@pytest.fixture(scope="module")
def softmax_kernel():
    X, Y = sc.matrix_symbol("X", "m", "n"), sc.matrix_symbol("Y", "m", "k")
    W = sc.matrix_symbol("W", "n", "k")
    L = sc.sum_entries(sc.logsumexp(X * W, axis=1)) - sc.sum_entries(sp.HadamardProduct(Y, X * W))
    return sc.compile(L, W, params=[X, Y], hessian="vec"), (L, W, X, Y)


@pytest.mark.parametrize("sizes", [(5, 3, 2), (7, 2, 3)])
def test_softmax_regression_vec_hessian_matches_central_differences(softmax_kernel, sizes):
    k, _ = softmax_kernel
    m, n, kk = sizes
    rng = np.random.default_rng(m)
    X, W = rng.normal(size=(m, n)), rng.normal(size=(n, kk))
    Y = np.eye(kk)[rng.integers(0, kk, size=m)]
    H = k.hessian(W, X, Y)
    assert H.shape == (n * kk, n * kk)

    def flat(w):  # column-major vec, the layout of sc.vec
        return _softmax_loss(w.reshape(n, kk, order="F"), X, Y)

    np.testing.assert_allclose(H, _central_hessian(flat, W.ravel(order="F")), atol=2e-5)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_softmax_regression_vec_hessian_matches_sympy_explicit(softmax_kernel):
    k, (L, W, X, Y) = softmax_kernel
    m, n, kk = 3, 2, 2
    Xe = sp.Matrix(m, n, lambda i, j: sp.Symbol(f"x{i}{j}"))
    We = sp.Matrix(n, kk, lambda i, j: sp.Symbol(f"w{i}{j}"))
    Ye = sp.Matrix(m, kk, lambda i, j: sp.Symbol(f"y{i}{j}"))
    Z = Xe * We
    loss = sum(sp.log(sum(sp.exp(Z[i, j]) for j in range(kk))) for i in range(m))
    loss -= sum(Ye[i, j] * Z[i, j] for i in range(m) for j in range(kk))
    w_vec = [We[i, j] for j in range(kk) for i in range(n)]  # column-major
    H_sym = sp.hessian(loss, w_vec)
    rng = np.random.default_rng(9)
    Xv, Wv = rng.normal(size=(m, n)), rng.normal(size=(n, kk))
    Yv = np.eye(kk)[rng.integers(0, kk, size=m)]
    subs = {Xe[i, j]: Xv[i, j] for i in range(m) for j in range(n)}
    subs |= {We[i, j]: Wv[i, j] for i in range(n) for j in range(kk)}
    subs |= {Ye[i, j]: Yv[i, j] for i in range(m) for j in range(kk)}
    expected = np.array(H_sym.xreplace(subs).evalf(), dtype=float)
    np.testing.assert_allclose(k.hessian(Wv, Xv, Yv), expected, rtol=1e-10, atol=1e-12)


def test_vec_kron_and_commutation_lowering():
    """The printed nodes, run by NumPy, against their explicit SymPy forms."""
    from symcalc.codegen.kernel_helpers import helper_source
    from symcalc.codegen.multi_kernel import kernel_printer
    from symcalc.derivation.explicit import to_explicit

    A, B = sp.MatrixSymbol("p0", 2, 3), sp.MatrixSymbol("p1", 3, 2)
    v = sp.MatrixSymbol("p2", 3, 1)
    rng = np.random.default_rng(0)
    Av, Bv, vv = rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    values = {A: sp.ImmutableMatrix(Av), B: sp.ImmutableMatrix(Bv), v: sp.ImmutableMatrix(vv)}
    namespace = {"_np": np, "p0": Av, "p1": Bv, "p2": vv[:, 0]}
    exec(helper_source("_commutation", "_np"), namespace)
    cases = [
        CommutationMatrix(2, 3) * Vec(A),  # = vec(A^T)
        sp.KroneckerProduct(sp.Identity(2), v) * Vec(A * v),
        sp.KroneckerProduct(B, v.T),
        sp.Transpose(Vec(B)) * sp.KroneckerProduct(sp.Identity(2), v),
    ]
    for expr in cases:
        got = eval(kernel_printer().doprint(expr), namespace)
        expected = np.array(to_explicit(expr, values).evalf(), dtype=float)
        np.testing.assert_allclose(np.reshape(got, -1), expected.reshape(-1), rtol=1e-12)
    np.testing.assert_allclose(
        eval(kernel_printer().doprint(CommutationMatrix(2, 3) * Vec(A)), namespace),
        Av.T.ravel(order="F"),
    )


@pytest.fixture(scope="module")
def lse_kernel():
    z = sc.vector("z", "n")
    return sc.compile(sc.logsumexp(z), z)


def test_batched_logsumexp_hessian_is_one_call(lse_kernel):
    assert hasattr(lse_kernel.module, "hessian_batch")
    assert hasattr(lse_kernel.module, "value_batch")
    Z = np.random.default_rng(1).normal(size=(4, 6, 5))
    H = lse_kernel.hessian(Z)
    assert H.shape == (4, 6, 5, 5)
    for idx in np.ndindex(4, 6):
        np.testing.assert_allclose(H[idx], lse_kernel.hessian(Z[idx]), rtol=1e-13, atol=1e-16)
    z0 = Z[0, 0]
    lse = lambda x: np.log(np.sum(np.exp(x - x.max()))) + x.max()  # noqa: E731
    np.testing.assert_allclose(H[0, 0], _central_hessian(lse, z0), atol=1e-6)
    zs = sp.symbols("z0:5")
    H_sym = sp.hessian(sp.log(sum(sp.exp(s) for s in zs)), zs)
    expected = np.array(H_sym.xreplace(dict(zip(zs, z0))).evalf(), dtype=float)
    np.testing.assert_allclose(H[0, 0], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lse_kernel.value(Z), [[lse(z) for z in row] for row in Z])


def test_batched_logsumexp_hessian_is_stable_at_large_arguments(lse_kernel):
    rng = np.random.default_rng(2)
    Z = rng.uniform(-1000, 1000, size=(50, 4))
    Z[0] = [1000.0, 999.0, -1000.0, 0.0]
    Z[1] = [1000.0, 1000.0, 1000.0, 1000.0]
    H = lse_kernel.hessian(Z)
    assert np.isfinite(H).all()
    import mpmath

    mpmath.mp.dps = 1000  # p_i ~ 1 - 1e-800: 1 - p_i needs the digits
    for z, h in list(zip(Z, H))[:12]:  # against 1000-digit arithmetic
        e = [mpmath.exp(mpmath.mpf(float(v))) for v in z]
        p = [v / sum(e) for v in e]
        ref = np.array(
            [[float((p[i] if i == j else 0) - p[i] * p[j]) for j in range(4)] for i in range(4)]
        )
        np.testing.assert_allclose(h, ref, rtol=1e-12, atol=0)
    for z, h in zip(Z, H):  # and against the one-point kernel
        np.testing.assert_allclose(h, lse_kernel.hessian(z), rtol=1e-14, atol=0)
    np.testing.assert_allclose(H[1], np.eye(4) / 4 - 1 / 16, rtol=1e-14)
    assert np.isfinite(lse_kernel.gradient(Z)).all() and np.isfinite(lse_kernel.value(Z)).all()

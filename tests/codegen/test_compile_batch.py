"""Matrix-form kernels batched over the variable: w of shape (..., n) with the parameters
unbatched. Checked against a Python loop of single calls, against SymPy elementwise
derivatives at a small size (the parameters as numbers, the variable as symbols), and
against central differences of the batched kernel itself."""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError, ShapeError

RNG = np.random.default_rng(11)
BATCHES = [(5,), (2, 3)]
M, N = 4, 3


# ---------------------------------------------------------------------------
# The three problems: kernel, parameter values, and f written out elementwise
# ---------------------------------------------------------------------------
def _logistic():
    X, w, y = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
    k = sc.compile(sc.logistic_loss(X, w, y), w, params=[X, y])
    Xv = RNG.normal(size=(M, N))
    yv = np.array([1.0, 0.0, 1.0, 1.0])

    def truth(ws):
        z = sp.Matrix(Xv) * sp.Matrix(ws)
        return sum(sp.log(1 + sp.exp(z[i])) - yv[i] * z[i] for i in range(M))

    return k, (Xv, yv), truth


def _least_squares():
    A, x, b = sc.matrix_symbol("A", "m", "n"), sc.vector("x", "n"), sc.vector("b", "m")
    k = sc.compile(sc.squared_error(A, x, b), x, params=[A, b])
    Av, bv = RNG.normal(size=(M, N)), RNG.normal(size=M)

    def truth(xs):
        r = sp.Matrix(Av) * sp.Matrix(xs) - sp.Matrix(bv)
        return sum(r[i] ** 2 for i in range(M))

    return k, (Av, bv), truth


def _gaussian():
    x, mu, S = sc.vector("x", "n"), sc.vector("mu", "n"), sc.positive_definite("Sigma", "n")
    k = sc.compile(sc.gaussian_logpdf(x, mu, S), x, params=[mu, S])
    muv = RNG.normal(size=N)
    B = RNG.normal(size=(N, N))
    Sv = B @ B.T + N * np.eye(N)

    def truth(xs):
        Ss = sp.Matrix(Sv)
        r = sp.Matrix(xs) - sp.Matrix(muv)
        return (
            -(r.T * Ss.inv() * r)[0, 0] / 2
            - sp.log(Ss.det()) / 2
            - sp.Rational(N, 2) * sp.log(2 * sp.pi)
        )

    return k, (muv, Sv), truth


PROBLEMS = {"logistic": _logistic, "least_squares": _least_squares, "gaussian": _gaussian}


@pytest.fixture(scope="module", params=list(PROBLEMS))
def problem(request):
    return PROBLEMS[request.param]()


def _sympy_truth(truth, W):
    """value, gradient, Hessian at every row of W by SymPy elementwise diff, shaped like the batch."""
    ws = sp.symbols(f"w0:{N}")
    f = truth(ws)
    grad = [sp.diff(f, s) for s in ws]
    hess = [[sp.diff(g, s) for s in ws] for g in grad]
    fv, gv, hv = (sp.lambdify([ws], e, modules="numpy") for e in (f, grad, hess))
    flat = W.reshape(-1, N)
    batch = W.shape[:-1]
    return (
        np.array([fv(p) for p in flat], dtype=float).reshape(batch),
        np.array([gv(p) for p in flat], dtype=float).reshape(batch + (N,)),
        np.array([hv(p) for p in flat], dtype=float).reshape(batch + (N, N)),
    )


# ---------------------------------------------------------------------------
# Batched = a loop of single calls = the symbolic truth
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("batch", BATCHES)
def test_batch_equals_a_loop_of_single_calls(problem, batch):
    k, params, _ = problem
    W = RNG.normal(size=batch + (N,))
    v, g, h = k.value(W, *params), k.gradient(W, *params), k.hessian(W, *params)
    assert v.shape == batch and g.shape == batch + (N,) and h.shape == batch + (N, N)
    for idx in np.ndindex(*batch):
        w = W[idx].copy()
        np.testing.assert_allclose(v[idx], k.value(w, *params), rtol=1e-14)
        np.testing.assert_allclose(g[idx], k.gradient(w, *params), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(h[idx], k.hessian(w, *params), rtol=1e-14, atol=1e-15)
    v2, g2 = k.value_and_gradient(W, *params)
    v3, g3, h3 = k.value_gradient_hessian(W, *params)
    for a, b in ((v2, v), (g2, g), (v3, v), (g3, g), (h3, h)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("batch", BATCHES)
def test_batch_equals_sympy_elementwise_derivatives(problem, batch):
    k, params, truth = problem
    W = RNG.normal(size=batch + (N,))
    fv, gv, hv = _sympy_truth(truth, W)
    v, g, h = k.value_gradient_hessian(W, *params)
    np.testing.assert_allclose(v, fv, rtol=1e-11)
    np.testing.assert_allclose(g, gv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, hv, rtol=1e-10, atol=1e-12)


def test_batch_gradient_and_hessian_match_central_differences_of_the_batch(problem):
    k, params, _ = problem
    W, h = RNG.normal(size=(2, 3, N)), 1e-6
    g, H = k.gradient(W, *params), k.hessian(W, *params)
    for i in range(N):
        e = np.zeros(N)
        e[i] = h
        dv = (k.value(W + e, *params) - k.value(W - e, *params)) / (2 * h)
        np.testing.assert_allclose(g[..., i], dv, rtol=1e-6, atol=1e-6)
        dg = (k.gradient(W + e, *params) - k.gradient(W - e, *params)) / (2 * h)
        np.testing.assert_allclose(H[..., :, i], dg, rtol=1e-5, atol=1e-6)


def test_float32_in_float32_out(problem):
    k, params, _ = problem
    W = RNG.normal(size=(2, 3, N))
    p32 = [p.astype(np.float32) for p in params]
    outs = [
        k.value(W.astype(np.float32), *p32),
        k.gradient(W.astype(np.float32), *p32),
        k.hessian(W.astype(np.float32), *p32),
        *k.value_and_gradient(W.astype(np.float32), *p32),
        *k.value_gradient_hessian(W.astype(np.float32), *p32),
    ]
    ref = [
        k.value(W, *params),
        k.gradient(W, *params),
        k.hessian(W, *params),
        *k.value_and_gradient(W, *params),
        *k.value_gradient_hessian(W, *params),
    ]
    for o, r in zip(outs, ref):
        assert o.dtype == np.float32 and o.shape == r.shape
        np.testing.assert_allclose(o, r, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------
# One w: today's behaviour
# ---------------------------------------------------------------------------
def test_one_w_runs_the_generated_function_unchanged():
    k, (Xv, yv), _ = _logistic()
    w = RNG.normal(size=N)
    v = k.value(w, Xv, yv)
    assert isinstance(v, np.floating) and np.ndim(v) == 0
    assert v == k.module.value(w, Xv, yv)
    np.testing.assert_array_equal(k.gradient(w, Xv, yv), k.module.gradient(w, Xv, yv))
    np.testing.assert_array_equal(k.hessian(w, Xv, yv), k.module.hessian(w, Xv, yv))
    # the generated source has no batch loop: one w is X @ w, one BLAS call
    # (arguments under the generator's names: w, X, y are v0, p0, p1)
    assert "ndindex" not in k.source and "def gradient(v0, p0, p1):" in k.source
    # a column vector (n, 1) is still one w; (1, n) is a batch of one
    np.testing.assert_array_equal(k.gradient(w[:, None], Xv, yv), k.gradient(w, Xv, yv))
    assert k.gradient(w[None, :], Xv, yv).shape == (1, N)
    assert k.value(w[None, :], Xv, yv).shape == (1,)


def test_empty_and_non_contiguous_batches():
    k, (Xv, yv), _ = _logistic()
    assert k.value(np.zeros((0, N)), Xv, yv).shape == (0,)
    assert k.hessian(np.zeros((0, 2, N)), Xv, yv).shape == (0, 2, N, N)
    Wt = np.asfortranarray(RNG.normal(size=(7, N)))
    np.testing.assert_allclose(
        k.gradient(Wt, Xv, yv), k.gradient(np.ascontiguousarray(Wt), Xv, yv), rtol=1e-14
    )


# ---------------------------------------------------------------------------
# A matrix variable: W (..., n, p)
# ---------------------------------------------------------------------------
def test_matrix_variable_batch():
    A, W, B = (
        sc.matrix_symbol("A", "m", "n"),
        sc.matrix_symbol("W", "n", "p"),
        sc.matrix_symbol("B", "m", "p"),
    )
    R = A * W - B
    k = sc.compile(sp.Trace(R.T * R), W, params=[A, B])
    Av, Bv = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    Ws = RNG.normal(size=(2, 5, 3, 2))
    v, g = k.value(Ws, Av, Bv), k.gradient(Ws, Av, Bv)
    assert v.shape == (2, 5) and g.shape == (2, 5, 3, 2)
    resid = np.einsum("mn,...np->...mp", Av, Ws) - Bv
    np.testing.assert_allclose(v, np.sum(resid**2, axis=(-2, -1)), rtol=1e-12)
    np.testing.assert_allclose(g, 2 * np.einsum("mn,...mp->...np", Av, resid), rtol=1e-12)
    v2, g2 = k.value_and_gradient(Ws, Av, Bv)
    np.testing.assert_allclose(v2, v, rtol=1e-14)
    np.testing.assert_allclose(g2, g, rtol=1e-14)
    np.testing.assert_allclose(g[1, 2], k.gradient(Ws[1, 2].copy(), Av, Bv), rtol=1e-14)
    with pytest.raises(ShapeError, match=r"W must have shape \(\.\.\., 3, 2\), got \(5, 2, 2\)"):
        k.gradient(np.zeros((5, 2, 2)), Av, Bv)
    with pytest.raises(InputError, match="Hessian with respect to the matrix W"):
        k.hessian(Ws, Av, Bv)


# ---------------------------------------------------------------------------
# Bad shapes name the argument and the expected shape
# ---------------------------------------------------------------------------
def test_bad_shapes_name_the_argument():
    k, (Xv, yv), _ = _logistic()
    with pytest.raises(
        ShapeError, match=r"w must have shape \(\.\.\., 3\), got \(4, 2\) \(n = 3 from X\)"
    ):
        k.gradient(np.zeros((4, 2)), Xv, yv)
    with pytest.raises(ShapeError, match=r"w must have shape \(\.\.\., 3\), got \(\)"):
        k.value(np.float64(1.0), Xv, yv)
    with pytest.raises(
        ShapeError, match=r"X must be a 2-D array of shape \(m, n\), got shape \(2, 4, 3\)"
    ):
        k.gradient(np.zeros((2, N)), np.zeros((2, M, N)), yv)  # parameters are not batched
    with pytest.raises(ShapeError, match=r"y has 3 along axis 0, but m = 4 from X"):
        k.hessian(np.zeros((2, N)), Xv, yv[:3])
    x = sc.vector("x", "n")
    kn = sc.compile(sc.norm_squared(x), x)  # n only from the variable
    assert kn.value(np.ones((2, 5))).shape == (2,)
    with pytest.raises(ShapeError, match=r"x must have shape \(\.\.\., n\), got \(\)"):
        kn.value(np.float64(2.0))

"""Numerically stable lowering: finite, accurate results at |z| = 1000 (and float32).

Reference values come from mpmath at 50 digits, never from the code under test.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.codegen.numpy_printer import StableNumPyPrinter, logsumexp, numpy_code, stabilize
from symcalc.expr.functions import sigmoid, softplus
from symcalc.expr.structure import logsumexp as vec_logsumexp
from symcalc.expr.structure import positive_definite, vector

mpmath.mp.dps = 50
z = sp.Symbol("z")
EXTREMES = np.array([-1000.0, -40.0, -1.0, 0.0, 1e-8, 1.0, 40.0, 1000.0])


def mp_softplus(v):
    return float(mpmath.log(1 + mpmath.exp(mpmath.mpf(v))))


def mp_sigmoid(v):
    return float(1 / (1 + mpmath.exp(-mpmath.mpf(v))))


def mp_sigmoid_exact(v):
    return 1 / (1 + mpmath.exp(-mpmath.mpf(v)))


def assert_accurate(got, want, rtol=1e-13):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("backend", ["numpy", "native"])
@pytest.mark.parametrize("form", ["named", "written out"])
def test_softplus_and_its_derivatives_at_extremes(backend, form):
    f = softplus(z) if form == "named" else sp.log(1 + sp.exp(z))
    k = sc.compile(f, [z], backend=backend)
    pts = EXTREMES[:, None]
    # native: log(1 + exp(-|z|)) without log1p loses the tiny tail of softplus(-1000) -> 0 absolute
    rtol = 1e-13 if backend == "numpy" else 1e-12
    value = k.value(pts)
    if backend == "numpy":
        assert_accurate(value, [mp_softplus(v) for v in EXTREMES], rtol)
    else:
        assert np.all(np.isfinite(value))
        np.testing.assert_allclose(value, [mp_softplus(v) for v in EXTREMES], rtol=rtol, atol=1e-16)
    assert_accurate(k.gradient(pts)[:, 0], [mp_sigmoid(v) for v in EXTREMES], rtol)
    h = k.hessian(pts)[:, 0, 0]
    want = [float(mp_sigmoid_exact(v) * (1 - mp_sigmoid_exact(v))) for v in EXTREMES]
    assert np.all(np.isfinite(h))
    # numpy: sigmoid(z) sigmoid(-z), accurate in the tails; native: s (1 - s), absolute accuracy
    np.testing.assert_allclose(h, want, rtol=1e-9, atol=1e-300 if backend == "numpy" else 1e-16)


@pytest.mark.parametrize("form", ["named", "written out", "exp form"])
def test_sigmoid_at_extremes(form):
    f = {
        "named": sigmoid(z),
        "written out": 1 / (1 + sp.exp(-z)),
        "exp form": sp.exp(z) / (1 + sp.exp(z)),
    }[form]
    k = sc.compile(f, [z])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        v = k.value(EXTREMES[:, None])
    np.testing.assert_allclose(v, [mp_sigmoid(x) for x in EXTREMES], rtol=1e-12, atol=1e-300)


def test_logsumexp_of_three_terms_at_extremes():
    a, b, c = sp.symbols("a b c")
    f = sp.log(sp.exp(a) + sp.exp(b) + sp.exp(c))
    assert isinstance(stabilize(f), logsumexp)
    k = sc.compile(f, [a, b, c])
    pts = np.array([[1000.0, 999.0, -1000.0], [-1000.0, -1000.0, -1001.0], [0.0, 1.0, 2.0]])
    want = [float(mpmath.log(sum(mpmath.exp(mpmath.mpf(t)) for t in row))) for row in pts]
    assert_accurate(k.value(pts), want)
    g = k.gradient(pts)  # the softmax of the row
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g.sum(axis=-1), 1.0, rtol=1e-12)


def test_two_term_log_sum_exp_uses_logaddexp():
    a, b = sp.symbols("a b")
    assert numpy_code(sp.log(sp.exp(a) + sp.exp(b))) == "np.logaddexp(a, b)"
    k = sc.compile(sp.log(sp.exp(a) + sp.exp(b)), [a, b])
    assert_accurate(k.value(np.array([1000.0, 1000.0])), 1000 + np.log(2))


def test_log1p_and_expm1_keep_tiny_arguments():
    k = sc.compile(sp.log(1 + z) + (sp.exp(z) - 1), [z])
    v = k.value(np.array([1e-12]))
    assert_accurate(v, 2e-12, rtol=1e-10)


def test_float32_extremes_stay_finite():
    k = sc.compile(softplus(z) + sigmoid(z), [z])
    out = k.value(EXTREMES[:, None].astype(np.float32))
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    want = [mp_softplus(v) + mp_sigmoid(v) for v in EXTREMES]
    np.testing.assert_allclose(out, want, rtol=1e-6)


# --------------------------------------------------------------------------- matrix form
def test_vector_logsumexp_at_1000():
    w = vector("w", "n")
    k = sc.compile(vec_logsumexp(w), w)
    v = np.array([1000.0, 999.0, 998.0, -1000.0])
    want = float(mpmath.log(sum(mpmath.exp(mpmath.mpf(t)) for t in v)))
    assert_accurate(k.value(v), want)
    g = k.gradient(v)  # softmax, printed with the max shifted out
    assert np.all(np.isfinite(g)) and np.isclose(g.sum(), 1.0)


def test_log_det_through_slogdet_and_cholesky():
    S = positive_definite("S", 200)
    A = sp.MatrixSymbol("A", 200, 200)
    assert StableNumPyPrinter().doprint(sp.log(sp.det(S))) == "_logdet_chol(S)"
    assert "slogdet" in StableNumPyPrinter().doprint(sp.log(sp.det(A)))
    ns = {"np": np}
    printer = StableNumPyPrinter()
    code = printer.doprint(sp.log(sp.det(S)))
    from symcalc.codegen.numpy_printer import HELPERS

    for h in printer.helpers_used:
        exec(HELPERS[h], ns)
    big = np.diag(np.full(200, 1000.0))  # det = 1e600 overflows a float; log det does not
    ns["S"] = big
    assert_accurate(eval(code, ns), 200 * np.log(1000.0), rtol=1e-14)
    ns["A"] = big
    assert_accurate(eval(printer.doprint(sp.log(sp.det(A))), ns), 200 * np.log(1000.0), rtol=1e-14)


def test_solve_is_used_instead_of_the_inverse():
    A = sp.MatrixSymbol("A", 3, 3)
    x = sp.MatrixSymbol("x", 3, 1)
    code = numpy_code(x.T * A.I * x)
    assert "solve" in code and "inv" not in code


# --------------------------------------------------------------------------- softmax / log-sum-exp
# The matrix engine writes the log-sum-exp Hessian as diag(exp.(z))/S - exp.(z) exp.(z)^T/S^2
# (S = 1^T exp.(z)); stabilize_matrix turns each exp.(z)/S into softmax(z) = exp.(z - lse(z)),
# so both backends print diag(p) - p p^T. The references below are mpmath at 50 digits.
LOGITS = {
    "all near +1000": np.array([1000.0, 999.5, 998.0, 990.0, 1000.0]),
    "all near -1000": np.array([-1000.0, -999.5, -1001.0, -1010.0, -1000.25]),
    "mixed +-1000": np.array([1000.0, -1000.0, 999.0, 0.0, -999.5]),
}
TARGETS = np.array([0.0, 1.0, 0.0, 0.0, 0.0]), np.array([0.1, 0.2, 0.3, 0.0, 0.4])


def mp_softmax(v):
    e = [mpmath.exp(mpmath.mpf(t)) for t in v]
    s = sum(e)
    return mpmath.log(s), [x / s for x in e]


def mp_lse_derivatives(v):
    """(lse, gradient, Hessian) of log-sum-exp at v, exactly (50 digits)."""
    lse, p = mp_softmax(v)
    hess = [[p[i] * ((i == j) - p[j]) for j in range(len(v))] for i in range(len(v))]
    return lse, p, hess


def rel_error(got, want):
    """max |got - want| / max |want|: entries of p - t and p(1 - p) near p = 1 cancel, so the
    error is measured against the size of the result, not entry by entry."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape and np.all(np.isfinite(got)), got
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def as_float(values):
    return (
        np.array([[float(x) for x in row] for row in values])
        if isinstance(values[0], list)
        else np.array([float(x) for x in values])
    )


def _compiled(f, wrt, params, backend):
    k = sc.compile(f, wrt, params=params, backend=backend)
    if backend == "numpy":  # the NumPy backend's matrix form (the one that used to overflow)
        assert "np.outer" in k.source or "_softmax_hessian(" in k.source or k.hessian_expr is None
    return k


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
@pytest.mark.parametrize("case", sorted(LOGITS))
def test_logsumexp_value_gradient_hessian_at_1000(case, backend):
    w = vector("w", "k")
    k = _compiled(vec_logsumexp(w), w, [], backend)
    v = LOGITS[case]
    lse, p, hess = mp_lse_derivatives(v)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = k.value_gradient_hessian(v)
        single = (k.value(v), k.gradient(v), k.hessian(v))
    for out in (got, single):
        assert rel_error(out[0], float(lse)) < 1e-12
        assert rel_error(out[1], as_float(p)) < 1e-12
        assert rel_error(out[2], as_float(hess)) < 1e-12


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
@pytest.mark.parametrize("target", [0, 1])
@pytest.mark.parametrize("case", sorted(LOGITS))
def test_softmax_cross_entropy_value_gradient_hessian_at_1000(case, target, backend):
    z, t = vector("z", "k"), vector("t", "k")
    k = _compiled(sc.softmax_cross_entropy(z, t), z, [t], backend)
    v, tv = LOGITS[case], TARGETS[target]
    lse, p, hess = mp_lse_derivatives(v)
    value = lse - sum(mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(tv, v))
    grad = [pi - mpmath.mpf(ti) for pi, ti in zip(p, tv)]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = k.value_gradient_hessian(v, tv)
        single = (k.value(v, tv), k.gradient(v, tv), k.hessian(v, tv))
    for out in (got, single):
        assert rel_error(out[0], float(value)) < 1e-12
        assert rel_error(out[1], as_float(grad)) < 1e-12
        assert rel_error(out[2], as_float(hess)) < 1e-12
    assert np.allclose(got[2], got[2].T, rtol=0, atol=0)  # p p^T: the same temporary twice


def test_softmax_hessian_is_printed_as_diag_p_minus_outer_p():
    z, t = vector("z", "k"), vector("t", "k")
    src = sc.compile(sc.softmax_cross_entropy(z, t), z, params=[t]).source
    hessian = src.split("def hessian(")[1].split("\ndef ")[0]
    # z is v0: no unshifted exp; diag(p) - p p^T as one helper (max shifted out inside it)
    assert "_softmax_hessian(v0)" in hessian and "_np.exp(v0)" not in hessian


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_softmax_regression_gradient_at_large_logits(backend):
    W, x, t = sc.matrix_symbol("W", "k", "n"), vector("x", "n"), vector("t", "k")
    k = _compiled(sc.softmax_cross_entropy(W * x, t), W, [x, t], backend)
    rng = np.random.default_rng(7)
    xv = np.array([1.0, -2.0, 0.5])
    Wv = rng.normal(size=(4, 3))
    Wv *= 1000.0 / np.abs(Wv @ xv).max()  # logits W x up to |1000|, of both signs
    tv = np.array([0.0, 0.0, 1.0, 0.0])
    logits = [mpmath.fsum(mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(row, xv)) for row in Wv]
    _, p = mp_softmax(logits)
    want = np.array([[float((pi - ti) * mpmath.mpf(xj)) for xj in xv] for pi, ti in zip(p, tv)])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = k.gradient(Wv, xv, tv)
        value, grad2 = k.value_and_gradient(Wv, xv, tv)
    assert rel_error(got, want) < 1e-12 and rel_error(grad2, want) < 1e-12
    lse, _ = mp_softmax(logits)
    assert rel_error(value, float(lse - logits[2])) < 1e-12

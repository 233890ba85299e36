"""Numerically stable lowering: finite, accurate results at |z| = 1000 (and float32).

Reference values come from mpmath at 50 digits, never from the code under test.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.functions import sigmoid, softplus
from symcalc.numpy_printer import StableNumPyPrinter, logsumexp, numpy_code, stabilize
from symcalc.structure import elementwise, positive_definite, vector
from symcalc.structure import logsumexp as vec_logsumexp

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
    f = {"named": sigmoid(z), "written out": 1 / (1 + sp.exp(-z)),
         "exp form": sp.exp(z) / (1 + sp.exp(z))}[form]
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
    g = k.gradient(pts)                      # the softmax of the row
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
    g = k.gradient(v)                         # softmax, printed with the max shifted out
    assert np.all(np.isfinite(g)) and np.isclose(g.sum(), 1.0)


def test_log_det_through_slogdet_and_cholesky():
    S = positive_definite("S", 200)
    A = sp.MatrixSymbol("A", 200, 200)
    assert StableNumPyPrinter().doprint(sp.log(sp.det(S))) == "_logdet_chol(S)"
    assert "slogdet" in StableNumPyPrinter().doprint(sp.log(sp.det(A)))
    ns = {"np": np}
    printer = StableNumPyPrinter()
    code = printer.doprint(sp.log(sp.det(S)))
    from symcalc.numpy_printer import HELPERS
    for h in printer.helpers_used:
        exec(HELPERS[h], ns)
    big = np.diag(np.full(200, 1000.0))       # det = 1e600 overflows a float; log det does not
    ns["S"] = big
    assert_accurate(eval(code, ns), 200 * np.log(1000.0), rtol=1e-14)
    ns["A"] = big
    assert_accurate(eval(printer.doprint(sp.log(sp.det(A))), ns), 200 * np.log(1000.0), rtol=1e-14)


def test_solve_is_used_instead_of_the_inverse():
    A = sp.MatrixSymbol("A", 3, 3)
    x = sp.MatrixSymbol("x", 3, 1)
    code = numpy_code(x.T * A.I * x)
    assert "solve" in code and "inv" not in code

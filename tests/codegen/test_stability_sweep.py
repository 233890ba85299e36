"""Stability sweep (issue 13): every hand-written spelling of log-sigmoid, softplus, sigmoid and
log-sum-exp, on every backend, at |z| in {0, 1, 10, 100, 700, 1000}: value, first and second
derivative finite and within 1e-12 (relative) of a 50-digit mpmath reference, and of its sign.

The references are the closed forms written with mpmath at 50 digits (no cancellation at that
precision), themselves checked against mpmath's own numerical differentiation where that
converges (|z| <= 10)."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.codegen.stable_forms import stabilize
from symcalc.expr.registry import canonical

mp.mp.dps = 50
z = sp.Symbol("z")
E = sp.exp
POINTS = [s * v for v in (0.0, 1.0, 10.0, 100.0, 700.0, 1000.0) for s in (1.0, -1.0)][1:]
RTOL = 1e-12


def _sig(x):
    return 1 / (1 + mp.exp(-x))


#: family -> (f, f', f'') at 50 digits
REFERENCES = {
    "log_sigmoid": (
        lambda x: -mp.log1p(mp.exp(-x)),
        lambda x: _sig(-x),
        lambda x: -_sig(x) * _sig(-x),
    ),
    "softplus": (
        lambda x: mp.log1p(mp.exp(x)),
        _sig,
        lambda x: _sig(x) * _sig(-x),
    ),
    "sigmoid": (
        _sig,
        lambda x: _sig(x) * _sig(-x),
        lambda x: _sig(x) * _sig(-x) * (_sig(-x) - _sig(x)),
    ),
    # log(e^z + e^2z) = z + softplus(z)
    "lse_z_2z": (
        lambda x: x + mp.log1p(mp.exp(x)),
        lambda x: 1 + _sig(x),
        lambda x: _sig(x) * _sig(-x),
    ),
    # log(e^z + e^-z) = log 2 + log cosh z
    "lse_z_minus_z": (
        lambda x: abs(x) + mp.log1p(mp.exp(-2 * abs(x))),
        lambda x: mp.tanh(x),
        lambda x: 1 / mp.cosh(x) ** 2,
    ),
}

SPELLINGS = [
    ("log_sigmoid", sp.log(sc.sigmoid(z))),
    ("log_sigmoid", sp.log(1 / (1 + E(-z)))),
    ("log_sigmoid", -sp.log(1 + E(-z))),
    ("log_sigmoid", sc.log_sigmoid(z)),
    ("softplus", sp.log(1 + E(z))),
    ("softplus", sc.softplus(z)),
    ("sigmoid", 1 / (1 + E(-z))),
    ("sigmoid", E(z) / (1 + E(z))),
    ("sigmoid", sc.sigmoid(z)),
    ("lse_z_2z", sp.log(E(z) + E(2 * z))),
    ("lse_z_minus_z", sp.log(E(z) + E(-z))),
]


def _numpy(e):
    k = sc.compile(e, [z])
    return lambda x: (k.value([x]), k.gradient([x])[0], k.hessian([x])[0, 0])


def _native(e):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to NumPy would not test the native backend
        k = sc.compile(e, [z], backend="native")
    return lambda x: (k.value([x]), k.gradient([x])[0], k.hessian([x])[0, 0])


def _array_api(e):
    k = sc.compile_array_api(e, [z], backend="numpy")
    x_ = lambda x: np.array([x])  # noqa: E731
    return lambda x: (k.value(x_(x)), k.gradient(x_(x))[0], k.hessian(x_(x))[0, 0])


def _lambdify(e):
    c = stabilize(e)  # the named functions and the log-sum-exp node a derivative starts from
    fs = [sc.lambdify([z], sp.diff(c, z, k)) for k in range(3)]
    return lambda x: tuple(f(x) for f in fs)


BACKENDS = {"numpy": _numpy, "native": _native, "array_api": _array_api, "lambdify": _lambdify}


@pytest.fixture(scope="module")
def kernels():
    cache = {}

    def get(backend, e):
        if (backend, e) not in cache:
            cache[(backend, e)] = BACKENDS[backend](e)
        return cache[(backend, e)]

    return get


def _close(got, ref):
    """Within RTOL of the double nearest the reference (a value below the smallest double is
    then 0 and must come out 0, or as tiny with the right sign)."""
    want = float(ref)
    got = float(np.asarray(got).reshape(()))
    if not np.isfinite(got):
        return False
    if want == 0.0:
        return abs(got) < 1e-300 and (got == 0 or np.sign(got) == mp.sign(ref))
    return abs(got - want) <= RTOL * abs(want) and np.sign(got) == np.sign(want)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("family,spelling", SPELLINGS, ids=[str(e) for _, e in SPELLINGS])
def test_every_spelling_is_stable_on_every_backend(kernels, backend, family, spelling):
    fn = kernels(backend, spelling)
    refs = REFERENCES[family]
    bad = []
    for x in POINTS:
        got = fn(x)
        for order, (g, ref) in enumerate(zip(got, refs)):
            r = ref(mp.mpf(x))
            if not _close(g, r):
                bad.append(
                    f"z={x}: d^{order} got {float(np.asarray(g).reshape(())):.17g}, want {mp.nstr(r, 17)}"
                )
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("family", list(REFERENCES))
def test_references_agree_with_mpmath_differentiation(family):
    f, d1, d2 = REFERENCES[family]
    for x in (mp.mpf(0), mp.mpf("0.7"), mp.mpf(-3), mp.mpf(10)):
        assert abs(mp.diff(f, x) - d1(x)) < mp.mpf(10) ** -30
        assert abs(mp.diff(f, x, 2) - d2(x)) < mp.mpf(10) ** -30


def test_the_convex_log_sum_exp_keeps_its_sign_at_forty():
    """The issue's case: d2/dz2 log(e^z + e^2z) at z = 40 was -4.2e-18 (cancellation)."""
    k = sc.compile(sp.log(E(z) + E(2 * z)), [z])
    h = k.hessian([40.0])[0, 0]
    want = float(_sig(mp.mpf(40)) * _sig(mp.mpf(-40)))
    assert h > 0 and abs(h - want) <= RTOL * want


def test_log_of_a_sigmoid_is_minus_a_thousand_at_minus_a_thousand():
    k = sc.compile(sp.log(sc.sigmoid(z)), [z])
    assert k.value(np.array([-1000.0])) == -1000.0


def test_spellings_become_the_named_functions():
    t = sp.Symbol("t")
    assert canonical(sp.log(1 + E(t))) == sc.softplus(t)
    assert canonical(1 / (1 + E(-t))) == sc.sigmoid(t)
    assert canonical(E(t) / (1 + E(t))) == sc.sigmoid(t)
    assert canonical(sp.log(sc.sigmoid(t))) == sc.log_sigmoid(t)
    # so the derivative reads sigma(t)(1 - sigma(t)), checked against SymPy's diff
    d = sp.diff(canonical(E(t) / (1 + E(t))), t)
    assert d.has(sc.sigmoid) and not d.has(sp.exp)
    for v in (sp.Integer(-3), sp.Rational(1, 5), sp.Integer(4)):
        want = sp.diff(E(t) / (1 + E(t)), t).subs(t, v).evalf(30)
        assert abs(sp.N(d.subs(t, v), 30) - want) < 1e-25


def test_spellings_inside_elementwise_lambdas():
    x = sc.vector("x", 3)
    u = sc.elementwise(lambda s: sp.log(1 + sp.exp(s)), x)
    c = canonical(u)
    d = sp.Dummy()
    assert c.function(d) == sc.softplus(d)


# --- the vector form: log(1^T exp.(z)), z = s (1, 0, -1) -------------------------------------
def _vector_reference(v):
    zs = [mp.mpf(x) for x in v]
    L = mp.log(sum(mp.exp(x) for x in zs))
    p = [mp.exp(x - L) for x in zs]
    H = [
        [p[i] * sum(p[q] for q in range(3) if q != i) if i == j else -p[i] * p[j] for j in range(3)]
        for i in range(3)
    ]
    return L, p, H


def _vector_kernels():
    zv = sc.vector("z", 3)
    f = sp.log(sc.sum_entries(sc.elementwise(sp.exp, zv)))
    k = sc.compile(f, zv)
    ka = sc.compile_array_api(f, zv, backend="numpy")
    G, H = sc.gradient(f, zv), sc.hessian(f, zv)
    lam = [sc.lambdify([zv], e) for e in (f, G, H)]
    return {
        "numpy": (k.value, k.gradient, k.hessian),
        "array_api": (ka.value, ka.gradient, ka.hessian),
        "lambdify": tuple(lam),
    }


@pytest.mark.parametrize("s", [0.0, 1.0, 10.0, 100.0, 700.0, 1000.0])
def test_the_vector_log_sum_exp_and_its_derivatives_are_accurate(s):
    v = s * np.array([1.0, 0.0, -1.0]) if s else np.array([0.3, 0.0, -0.2])
    L, p, H = _vector_reference(v)
    for backend, (fv, fg, fh) in _vector_kernels().items():
        assert _close(fv(v), L), (backend, "value")
        g = np.asarray(fg(v), dtype=float).reshape(-1)
        assert all(_close(g[i], p[i]) for i in range(3)), (backend, "gradient", g)
        h = np.asarray(fh(v), dtype=float).reshape(3, 3)
        assert all(_close(h[i, j], H[i][j]) for i in range(3) for j in range(3)), (backend, h)

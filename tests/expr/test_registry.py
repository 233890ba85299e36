"""Every record of the construct registry, checked by independent routes (table-driven:
adding a record to symcalc/expr/families adds all of these tests for it, like JAX's
LAX_GRAD_OPS).

For each record:

* its derivative f'(u) against ``sympy.diff`` of its elementary form (exp / log / erf /
  Piecewise, not the record's own derivative) and against central differences of that form
  evaluated with mpmath; its second derivative (the Hessian's) likewise;
* its compiled value and derivative (NumPy, array API, native) against mpmath at
  |z| in {0, 1, 10, 100, 700, 1000} (inside its domain): finite, and accurate relative to
  the value for the records marked ``stable``;
* its elementwise matrix rule against SymPy's ``as_explicit()`` at a concrete size;
* LaTeX and text round trips through the parser;
* the a.e. conventions at kinks (relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = a, heaviside(0) = 0).
"""

from __future__ import annotations

import random
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.expr.registry import REGISTRY, canonical, expand_named
from symcalc.parsing.parser import parse, parse_latex
from symcalc.printing.latex import latex

u = sp.Symbol("u", real=True)
x = sp.Symbol("x")
DIFFERENTIABLE = [s for s in REGISTRY if s.derivative is not None]
NAMES = [s.name for s in REGISTRY]
MAGNITUDES = (0, 1, 10, 100, 700, 1000)
FLOAT_MAX = 1.7976931348623157e308


def _call(spec, arg):
    return spec.cls(arg, *spec.sample_params)


def _elementary(spec, arg):
    return spec.elementary(arg, *spec.sample_params)


def _points_inside(spec, rng, k=4):
    lo, hi = spec.domain
    return [rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo)) for _ in range(k)]


def _away_from_kinks(spec, points):
    return [p for p in points if all(abs(p - k) > 1e-3 for k in spec.kinks)]


def _mp(expr):
    """An mpmath function of u (the record's elementary form: an independent route)."""
    return sp.lambdify(u, expr, modules="mpmath")


# --------------------------------------------------------------------------------------
# Derivatives against sympy.diff of the elementary form and central differences
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [s.name for s in DIFFERENTIABLE])
def test_derivative_matches_sympy_diff_and_central_differences(name):
    spec = REGISTRY[name]
    rng = random.Random(name)
    ours = spec.fprime(u, *spec.sample_params)
    reference = sp.diff(_elementary(spec, u), u)
    value = _mp(_elementary(spec, u))
    for p in _away_from_kinks(spec, _points_inside(spec, rng)):
        at = sp.Float(p, 40)
        a = complex(sp.N(expand_named(ours).subs(u, at), 30))
        b = complex(sp.N(reference.subs(u, at), 30))
        assert abs(a - b) <= 1e-20 * (1 + abs(b)), (name, p, a, b)
        with mpmath.workdps(40):
            h = mpmath.mpf("1e-12")
            fd = (value(mpmath.mpf(p) + h) - value(mpmath.mpf(p) - h)) / (2 * h)
        assert abs(a - complex(fd)) <= 1e-15 * (1 + abs(a)), (name, p, a, fd)


@pytest.mark.parametrize("name", [s.name for s in DIFFERENTIABLE])
def test_second_derivative_matches_sympy_diff(name):
    spec = REGISTRY[name]
    rng = random.Random(name + "2")
    ours = spec.second_derivative(u, *spec.sample_params)
    reference = sp.diff(_elementary(spec, u), u, 2)
    for p in _away_from_kinks(spec, _points_inside(spec, rng)):
        at = sp.Float(p, 40)
        a = complex(sp.N(expand_named(ours).subs(u, at), 30))
        b = complex(sp.N(reference.subs(u, at), 30))
        assert abs(a - b) <= 1e-20 * (1 + abs(b)), (name, p, a, b)


@pytest.mark.parametrize("name", [s.name for s in DIFFERENTIABLE])
def test_fdiff_is_the_record_derivative(name):
    """sympy.diff of the function itself (what the gradient route takes) is the record's f'."""
    spec = REGISTRY[name]
    diff = sp.diff(_call(spec, u), u) - spec.fprime(u, *spec.sample_params)
    if sp.simplify(diff) == 0:
        return
    for p in _away_from_kinks(spec, _points_inside(spec, random.Random(name + "f"))):
        assert abs(complex(sp.N(expand_named(diff).subs(u, sp.Float(p, 30)), 25))) < 1e-20


# --------------------------------------------------------------------------------------
# Lowerings against mpmath, at magnitudes up to 1000
# --------------------------------------------------------------------------------------
def _lowering_points(spec):
    lo, hi = spec.domain
    pts = sorted({s * m for m in MAGNITUDES for s in (1, -1)})
    inside = [float(p) for p in pts if lo < p < hi and (p in (0, 1, -1) or spec.stable)]
    if len(inside) < 3:  # a bounded domain: add interior points
        inside += [lo + (hi - lo) * t for t in (0.1, 0.37, 0.8)]
    return inside


def _reference(expr, p, dps=1200):
    """mpmath value of an expression of u at p (1200 digits: no cancellation at |z| = 1000)."""
    with mpmath.workdps(dps):
        v = _mp(expr)(mpmath.mpf(p))
        return complex(v) if isinstance(v, mpmath.mpc) else mpmath.mpf(v)


def _assert_close(got, ref, stable, what):
    ref_abs = abs(ref)
    if ref_abs > FLOAT_MAX:
        assert np.isinf(got) and np.sign(got) == (1 if ref > 0 else -1), what
        return
    assert np.isfinite(got), what
    ref = float(ref)
    if stable:  # relative to the value (down to the smallest normal double)
        assert abs(got - ref) <= 1e-13 * abs(ref) + 1e-300, (what, got, ref)
    else:
        assert abs(got - ref) <= 1e-12 * max(1.0, abs(ref)), (what, got, ref)


def _compiled(spec, backend):
    f = _call(spec, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # native must not fall back to NumPy
        return sc.compile(f, [x], backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "native", "array_api"])
@pytest.mark.parametrize("name", NAMES)
def test_lowering_matches_mpmath(name, backend):
    spec = REGISTRY[name]
    if backend == "array_api" and spec.array_api is False:
        with pytest.raises(sc.InputError, match=spec.name):
            _compiled(spec, backend)
        return
    k = _compiled(spec, backend)
    points = _lowering_points(spec)
    X = np.array(points)[:, None]
    values = np.asarray(k.value(X), dtype=float).ravel()
    grads = np.asarray(k.gradient(X), dtype=float).reshape(len(points))
    value_ref = _elementary(spec, u)
    deriv_ref = sp.diff(value_ref, u)
    for p, v, g in zip(points, values, grads):
        _assert_close(v, _reference(value_ref, p), spec.stable, f"{name}({p}) [{backend}]")
        if p not in spec.kinks:
            _assert_close(g, _reference(deriv_ref, p), spec.stable, f"{name}'({p}) [{backend}]")


# --------------------------------------------------------------------------------------
# The elementwise matrix rule against SymPy's as_explicit() at a concrete size
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [s.name for s in DIFFERENTIABLE])
def test_elementwise_rule_matches_explicit_differentiation(name):
    spec = REGISTRY[name]
    rng = random.Random(name + "ew")
    lo, hi = spec.domain
    n = 3
    w = sp.MatrixSymbol("w", n, 1)
    A = sp.ImmutableMatrix(n, n, lambda i, j: sp.Rational(rng.randint(1, 9), 10 * n))
    shift = sp.Rational(lo + 0.3 * (hi - lo)).limit_denominator(50)
    Z = A * w + shift * sp.OneMatrix(n, 1)
    t = sp.Dummy("t")
    L = sc.sum_entries(sc.elementwise(sp.Lambda(t, _call(spec, t)), Z))
    grad = sc.gradient(L, w)
    wv = [sp.Rational(rng.randint(-5, 5), 10) for _ in range(n)]
    point = {w: sp.ImmutableMatrix(wv)}
    # reference: the explicit function, entry by entry, in elementary terms
    ws = sp.symbols(f"w0:{n}")
    z = (A * sp.Matrix(ws) + shift * sp.ones(n, 1)).as_explicit()
    explicit = sum(_elementary(spec, zi) for zi in z)
    ref = [sp.diff(explicit, wi).subs(dict(zip(ws, wv))) for wi in ws]
    got = expand_named(grad.subs(point).as_explicit())
    for a, b in zip(got, ref):
        assert abs(complex(sp.N(a, 30)) - complex(sp.N(b, 30))) <= 1e-20 * (
            1 + abs(complex(sp.N(b)))
        ), name


# --------------------------------------------------------------------------------------
# Printing and parsing round trips
# --------------------------------------------------------------------------------------
def _same(a, b) -> bool:
    a, b = canonical(a), canonical(b)
    if a == b:
        return True
    rng = random.Random(3)
    for _ in range(3):
        p = {x: sp.Float(rng.uniform(0.2, 0.6), 30)}
        va, vb = complex(sp.N(expand_named(a).subs(p))), complex(sp.N(expand_named(b).subs(p)))
        if abs(va - vb) > 1e-20 * (1 + abs(vb)):
            return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_text_round_trip(name):
    spec = REGISTRY[name]
    e = _call(spec, x / 3 + sp.Rational(1, 5))
    assert _same(parse(sc.text(e), [x]), e), sc.text(e)


@pytest.mark.parametrize("name", NAMES)
def test_latex_round_trip(name):
    spec = REGISTRY[name]
    e = _call(spec, x / 3 + sp.Rational(1, 5))
    tex = latex(e)
    assert _same(parse_latex(tex, [x]), e), tex


@pytest.mark.parametrize("name", NAMES)
def test_every_parse_name_reads_the_record(name):
    spec = REGISTRY[name]
    for alias in spec.parse_names:
        args = ", ".join(["x", *map(str, spec.sample_params)])
        assert _same(parse(f"{alias}({args})", [x]), _call(spec, x)), alias


def test_records_are_complete():
    for spec in REGISTRY:
        assert spec.latex and spec.rule_latex and spec.name.isidentifier(), spec.name
        lo, hi = spec.domain
        assert lo < hi, spec.name
        if spec.kinks:
            assert spec.kink_note, f"{spec.name}: document the a.e. derivative at its kinks"
        if spec.array_api is not False or spec.helpers:
            assert all(f"def {h}(" in src for h, src in spec.helpers.items()), spec.name


# --------------------------------------------------------------------------------------
# The a.e. conventions at kinks, symbolic and compiled
# --------------------------------------------------------------------------------------
CONVENTIONS = {
    "relu": (sc.relu(x), 0.0),
    "abs": (sp.Abs(x), 0.0),
    "leaky_relu": (sc.leaky_relu(x, sp.Rational(1, 5)), 0.2),
    "sign": (sp.sign(x), 0.0),
    "heaviside": (sc.heaviside(x), 0.0),
    "max": (sp.Max(x, 0), 0.0),
}


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_derivative_at_the_kink(name):
    f, expected = CONVENTIONS[name]
    assert sc.gradient(f, [x])[0].subs(x, 0) == sp.nsimplify(expected)
    assert sc.derive(f, [x], check=False).results["gradient"][0].subs(x, 0) == sp.nsimplify(
        expected
    )
    for backend in ("numpy", "native"):
        k = sc.compile(f, [x], backend=backend)
        assert float(np.asarray(k.gradient(np.zeros((1, 1)))).ravel()[0]) == expected


def test_heaviside_is_zero_at_zero_and_kinked_records_are_listed():
    assert sc.heaviside(0) == 0 and sc.relu(0) == 0
    assert set(REGISTRY.kink_classes()) >= {REGISTRY[n].cls for n in ("relu", "abs", "heaviside")}


def test_leaky_relu_slope_default_and_parameter():
    assert sc.leaky_relu(x) == sc.leaky_relu(x, sp.Rational(1, 100))
    a = sp.Symbol("a")
    d = sc.gradient(sc.leaky_relu(x, a), [x, a])
    assert d[1].subs({x: -2, a: sp.Rational(1, 3)}) == -2
    assert d[0].subs({x: -2, a: sp.Rational(1, 3)}) == sp.Rational(1, 3)


def test_log_sigmoid_is_finite_and_accurate_far_out():
    k = sc.compile(sc.log_sigmoid(x), [x])
    z = np.array([-1000.0, -700.0, -30.0, 0.0, 30.0, 700.0, 1000.0])[:, None]
    v, g = k.value(z), np.asarray(k.gradient(z)).ravel()
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    expected = [
        -1000.0,
        -700.0,
        -30.0 - np.log1p(np.exp(-30.0)),
        -np.log(2.0),
        -np.log1p(np.exp(-30.0)),
        -np.exp(-700.0),
        0,
    ]
    np.testing.assert_allclose(v, expected, rtol=1e-14)
    np.testing.assert_allclose(
        g,
        [
            1.0,
            1.0,
            1 / (1 + np.exp(-30.0)),
            0.5,
            np.exp(-30.0) / (1 + np.exp(-30)),
            np.exp(-700.0),
            0,
        ],
        rtol=1e-14,
    )

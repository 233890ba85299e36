"""Routes agree: one corpus through every route, one answer everywhere (issue 12).

The corpus (explicit symbols and matrix forms; every registry construct; Max, Min, Abs,
sign, Heaviside and Piecewise as a user writes them; an ``sp.ImmutableMatrix``) runs
through ``sc.gradient``, ``sc.derive``, ``sc.compile`` (NumPy and ``backend="native"``),
``sc.verify_gradient`` and the text round trip ``sc.parse(sc.text(e))``; every answer must
agree with the others (symbolically where SymPy can tell, else numerically at random
points) and with central differences of a hand-written NumPy function. A user-defined
``sp.Function("f")`` is a NoRuleError naming it on every route, never a silent Derivative.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import scipy.special as special
import sympy as sp

import symcalc as sc
from symcalc.expr.registry import REGISTRY, expand_named

x, y = sp.symbols("x y")
XY = [x, y]

#: The hand-written NumPy form of every registry record (the independent route): adding a
#: record adds its entry here (test_every_record_is_in_the_corpus).
HAND_NUMPY = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "cot": lambda z: 1 / np.tan(z),
    "sec": lambda z: 1 / np.cos(z),
    "csc": lambda z: 1 / np.sin(z),
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "coth": lambda z: 1 / np.tanh(z),
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "erf": special.erf,
    "erfc": special.erfc,
    "sigmoid": special.expit,
    "softplus": lambda z: np.logaddexp(0, z),
    "log_sigmoid": lambda z: -np.logaddexp(0, -z),
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),  # slope 1/5: the record's sample
    "normal_cdf": special.ndtr,
    "gelu": lambda z: z * special.ndtr(z),
    "abs": np.abs,
    "sign": np.sign,
    "heaviside": lambda z: np.heaviside(z, 0.0),
}


def _record_case(spec):
    """f = spec(c + a (x - y/2)) + x^2 y with the argument inside the record's domain."""
    lo, hi = spec.domain
    c = sp.Rational((lo + hi) / 2).limit_denominator(20)
    a = sp.Rational((hi - lo) / 5).limit_denominator(20)
    arg = c + a * (x - y / 2)
    f = spec.cls(arg, *spec.sample_params) + x**2 * y
    g = HAND_NUMPY[spec.name]
    cf, af = float(c), float(a)
    return f, lambda v: g(cf + af * (v[0] - v[1] / 2)) + v[0] ** 2 * v[1]


EXPLICIT = {f"record-{s.name}": _record_case(s) for s in REGISTRY}
EXPLICIT.update(
    {
        "max0-xy": (sp.Max(0, x * y - 1), lambda v: np.maximum(0, v[0] * v[1] - 1)),
        "max-x0": (sp.Max(x, 0) * y, lambda v: np.maximum(v[0], 0) * v[1]),
        "max-xy": (sp.Max(x, y) + x, lambda v: np.maximum(v[0], v[1]) + v[0]),
        "min-x0": (sp.Min(x, 0) * y, lambda v: np.minimum(v[0], 0) * v[1]),
        "min-3": (sp.Min(x, y, x * y), lambda v: np.minimum(np.minimum(v[0], v[1]), v[0] * v[1])),
        "abs": (sp.Abs(x - y) * x, lambda v: np.abs(v[0] - v[1]) * v[0]),
        "sign": (sp.sign(x) * x**2 + y, lambda v: np.sign(v[0]) * v[0] ** 2 + v[1]),
        "heaviside-sympy": (
            sp.Heaviside(x - y, 0) * x**2,
            lambda v: np.heaviside(v[0] - v[1], 0.0) * v[0] ** 2,
        ),
        "piecewise": (
            sp.Piecewise((x**2 * y, x > y), (x * y, True)),
            lambda v: np.where(v[0] > v[1], v[0] ** 2 * v[1], v[0] * v[1]),
        ),
        "combination": (
            sc.sigmoid(x) * sc.relu(y) + sc.gelu(x * y) - sc.log_sigmoid(x - y),
            lambda v: (
                special.expit(v[0]) * np.maximum(v[1], 0)
                + v[0] * v[1] * special.ndtr(v[0] * v[1])
                + np.logaddexp(0, v[1] - v[0])
            ),
        ),
    }
)


def _points(rng, k=4):
    return [np.array([rng.uniform(-0.9, 0.9), rng.uniform(-0.9, 0.9)]) for _ in range(k)]


def _value(expr, v):
    point = {x: sp.Float(v[0], 30), y: sp.Float(v[1], 30)}
    return complex(sp.N(expand_named(expr).subs(point), 25))


def _central(fn, v, h=1e-6):
    out = []
    for i in range(len(v)):
        e = np.zeros(len(v))
        e[i] = h
        out.append((fn(v + e) - fn(v - e)) / (2 * h))
    return np.array(out)


def _agree(a, b, rng, tol=1e-10):
    """Symbolically equal, else equal at random points."""
    diff = sp.Matrix(a) - sp.Matrix(b)
    if all(sp.simplify(expand_named(d)) == 0 for d in diff):
        return True
    return all(
        abs(_value(d, v)) <= tol * (1 + max(abs(_value(e, v)) for e in sp.Matrix(b)))
        for v in _points(rng)
        for d in diff
    )


@pytest.mark.parametrize("name", sorted(EXPLICIT))
def test_explicit_routes_agree(name):
    f, hand = EXPLICIT[name]
    rng = random.Random(name)
    g = sc.gradient(f, XY)
    d = sc.derive(f, XY)
    assert d.all_checks_passed
    assert _agree(g, d.results["gradient"], rng), (name, g, d.results["gradient"])
    # the independent route: central differences of the hand-written NumPy function
    points = _points(rng)
    for v in points:
        ours = np.array([_value(e, v) for e in g]).real
        np.testing.assert_allclose(ours, _central(hand, v), rtol=1e-6, atol=1e-6, err_msg=name)
    # compiled, NumPy and native
    batch = np.array(points)
    expected = np.array([[_value(e, v).real for e in g] for v in points])
    for backend in ("numpy", "native"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # native compiles every construct but Piecewise
            if backend == "native" and f.has(sp.Piecewise):
                with pytest.warns(RuntimeWarning, match="Piecewise"):
                    k = sc.compile(f, XY, backend=backend)
            else:
                k = sc.compile(f, XY, backend=backend)
        np.testing.assert_allclose(
            np.asarray(k.gradient(batch)), expected, rtol=1e-10, atol=1e-12, err_msg=backend
        )
        np.testing.assert_allclose(
            np.asarray(k.value(batch)), [hand(v) for v in points], rtol=1e-10, atol=1e-12
        )
    # the verifier accepts the gradient and refuses a wrong one
    assert sc.verify_gradient(f, XY, list(g)).holds, name
    assert not sc.verify_gradient(f, XY, [g[0] + 1, g[1]]).holds, name
    # text round trip (the grammar has no Piecewise: a clear ParseError, asserted)
    if f.has(sp.Piecewise):
        with pytest.raises(sc.ParseError):
            sc.parse(sc.text(f), {"x": x, "y": y})
        return
    back = sc.parse(sc.text(f), {"x": x, "y": y})
    assert _agree([back], [f], rng), (name, sc.text(f))
    assert _agree(sc.gradient(back, XY), g, rng)


def test_every_record_is_in_the_corpus():
    assert set(HAND_NUMPY) == {s.name for s in REGISTRY}


# --------------------------------------------------------------------------------------
# Matrix forms
# --------------------------------------------------------------------------------------
M, N = 4, 3
Xm = sc.matrix_symbol("X", M, N)
wm = sc.vector("w", N)

MATRIX = {
    "logistic": (
        sc.sum_entries(sc.elementwise(sc.softplus, Xm * wm)),
        lambda w, X: np.sum(np.logaddexp(0, X @ w)),
    ),
    "sigmoid": (
        sc.sum_entries(sc.elementwise(sc.sigmoid, Xm * wm)),
        lambda w, X: np.sum(special.expit(X @ w)),
    ),
    "relu": (
        sc.sum_entries(sc.elementwise(sc.relu, Xm * wm)),
        lambda w, X: np.sum(np.maximum(X @ w, 0)),
    ),
    "leaky_relu": (
        sc.sum_entries(sc.elementwise(sp.Lambda(x, sc.leaky_relu(x, sp.Rational(1, 5))), Xm * wm)),
        lambda w, X: np.sum(np.where(X @ w > 0, X @ w, 0.2 * (X @ w))),
    ),
    "gelu": (
        sc.sum_entries(sc.elementwise(sc.gelu, Xm * wm)),
        lambda w, X: np.sum((X @ w) * special.ndtr(X @ w)),
    ),
    "log_sigmoid": (
        sc.sum_entries(sc.elementwise(sc.log_sigmoid, Xm * wm)),
        lambda w, X: -np.sum(np.logaddexp(0, -(X @ w))),
    ),
    "tanh-quadratic": (
        sc.sum_entries(sc.elementwise(sp.tanh, Xm * wm)) + sp.Trace(wm.T * wm),
        lambda w, X: np.sum(np.tanh(X @ w)) + w @ w,
    ),
}


def _explicit_env(rng):
    X = np.array([[rng.uniform(-1, 1) for _ in range(N)] for _ in range(M)])
    w = np.array([rng.uniform(-1, 1) for _ in range(N)])
    return w, X


def _matrix_value(expr, w, X):
    env = {Xm: sp.ImmutableMatrix(X.tolist()), wm: sp.ImmutableMatrix(w.tolist())}
    e = expr.subs(env)
    e = e.xreplace({o: sp.ImmutableMatrix(sp.ones(*o.shape)) for o in e.atoms(sp.OneMatrix)}).doit()
    e = e.as_explicit() if isinstance(e, sp.MatrixExpr) else e
    e = expand_named(e)
    if isinstance(e, sp.MatrixBase):
        return np.array(sp.N(e, 20).tolist(), dtype=float).ravel()
    return float(sp.N(e, 20))


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix_routes_agree(name):
    L, hand = MATRIX[name]
    rng = random.Random(name)
    g = sc.gradient(L, wm)
    d = sc.derive(L, wm)
    assert d.all_checks_passed
    assert d.results["gradient"] == g or all(
        np.allclose(_matrix_value(d.results["gradient"], *env), _matrix_value(g, *env))
        for env in [_explicit_env(rng) for _ in range(3)]
    )
    kernels = {"numpy": sc.compile(L, wm, [Xm])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # matrix form: native uses NumPy
        kernels["native"] = sc.compile(L, wm, [Xm], backend="native")
    for _ in range(3):
        w, X = _explicit_env(rng)
        ours = _matrix_value(g, w, X)
        fd = _central(lambda v, X=X: hand(v, X), w)
        np.testing.assert_allclose(ours, fd, rtol=1e-6, atol=1e-6, err_msg=name)
        for backend, k in kernels.items():
            np.testing.assert_allclose(
                np.asarray(k.gradient(w, X)).ravel(), ours, rtol=1e-10, atol=1e-12, err_msg=backend
            )
    assert sc.verify_gradient(L, wm, g).holds
    back = sc.parse(sc.text(L), {"X": Xm, "w": wm})
    w, X = _explicit_env(rng)
    assert np.isclose(_matrix_value(back, w, X), _matrix_value(L, w, X)), sc.text(L)


def test_immutable_matrix_is_an_explicit_jacobian_on_every_route():
    F = sp.ImmutableMatrix([x * y, sp.Max(0, x - y), sc.gelu(y)])
    J = sc.jacobian(F, XY)
    d = sc.derive(F, XY)
    assert d.results["jacobian"] == J == sc.derive(sp.Matrix(F), XY).results["jacobian"]
    rng = random.Random(7)

    def hand(p):
        return np.array([p[0] * p[1], max(0.0, p[0] - p[1]), p[1] * special.ndtr(p[1])])

    for v in _points(rng):
        fd = np.array([_central(lambda p, i=i: hand(p)[i], v) for i in range(3)])
        ours = np.array([[_value(e, v).real for e in row] for row in J.tolist()])
        np.testing.assert_allclose(ours, fd, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------
# An undefined function: a NoRuleError naming it, on every route
# --------------------------------------------------------------------------------------
f_undefined = sp.Function("f")
UNDEFINED = {
    "gradient": lambda e: sc.gradient(e, XY),
    "hessian": lambda e: sc.hessian(e, XY),
    "derive": lambda e: sc.derive(e, XY),
    "compile": lambda e: sc.compile(e, XY),
    "compile-native": lambda e: sc.compile(e, XY, backend="native"),
}


@pytest.mark.parametrize("route", sorted(UNDEFINED))
def test_undefined_function_is_a_no_rule_error_on_every_route(route):
    with pytest.raises(sc.NoRuleError, match=r"\bf\b"):
        UNDEFINED[route](f_undefined(x * y) + x)

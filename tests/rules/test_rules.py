"""Every rule of every table, checked numerically.

Differential rules: d f(X) along V equals (f(X + hV) - f(X - hV)) / 2h.
Canonical-form rules: tr(C^T node) equals the sum of tr(C'^T node') they return.
Theorems: each one is recorded by a derivation whose self-checks pass.
A rule without a sample here fails ``test_every_rule_has_a_sample``: adding a rule
adds its test.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest
import sympy as sp
from sympy import HadamardPower, Identity, KroneckerProduct, MatrixSymbol, Trace
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.derivation.matrix import to_explicit
from symcalc.derivation.vecform import Unvec, Vec
from symcalc.derivation.walker import Canonicalizer, Differentiator, derive
from symcalc.expr.registry import REGISTRY
from symcalc.expr.structure import diagonal, logistic_loss, matrix_symbol, symmetric, vector
from symcalc.records import Rule
from symcalc.rules import all_rules, all_tables
from symcalc.rules.matrix import CANONICAL_RULES, MATRIX_RULES, THEOREMS, elementwise, hadamard
from symcalc.rules.scalar import SCALAR_RULES

x, y = sp.symbols("x y")
t = sp.Symbol("t")
N = 3
X = MatrixSymbol("X", N, N)
A = MatrixSymbol("A", N, N)
B = MatrixSymbol("B", N, N)
X2, A2 = MatrixSymbol("X", 2, 2), MatrixSymbol("A", 2, 2)
v = MatrixSymbol("v", N, 1)
w9 = MatrixSymbol("w", N * N, 1)

SCALAR_SAMPLES = {
    "sum": x + sp.sin(y),
    "constant_multiple": 3 * x**2,
    "quotient": x / y,
    "product": x * sp.sin(y),
    "sqrt": sp.sqrt(x),
    "power": x**3,
    "exponential": 2**x,
    "general_power": x**y,
    "declared_derivative": sp.gamma(x),
    "piecewise": sp.Piecewise((x**2 * y, x > sp.Rational(1, 2)), (sp.sin(x), True)),
}


def _inside(spec, s):
    """An affine image of s (sampled in (0.2, 0.9)) inside the record's domain."""
    lo, hi = (sp.Rational(v).limit_denominator(100) for v in spec.domain)
    return lo + (hi - lo) * (s - sp.Rational(1, 10)) * sp.Rational(5, 4) / 2 + (hi - lo) / 4


# every registry record's chain rule and elementwise rule: adding a record adds its samples
SCALAR_SAMPLES.update(
    {
        s.name: s.cls(_inside(s, x) * (1 + (y - x) / 100), *s.sample_params)
        for s in REGISTRY
        if s.derivative is not None
    }
)

MATRIX_SAMPLES = {
    "matrix_sum": (X + X.T * A, X),
    "transpose": (X.T, X),
    "trace": (Trace(X * A), X),
    "diag_matrix": (DiagMatrix(v), v),
    "matrix_constant_multiple": (A * X * B, X),
    "matrix_product": (X * A * X, X),
    "kronecker": (KroneckerProduct(X2, A2 * X2), X2),
    "hadamard": (hadamard(X, X * A), X),
    "inverse": (X.I, X),
    "matrix_power": (X**3, X),
    "determinant": (sp.det(X), X),
    "log_det": (sp.log(sp.det(X)), X),
    "hadamard_power": (HadamardPower(X, 3), X),
    "ew_power": (elementwise(sp.Lambda(t, t**3), X), X),
    "ew_function": (elementwise(sp.Lambda(t, t * sp.exp(t)), X), X),
    "vec": (Vec(A * X * B), X),
    "unvec": (Unvec(MatrixSymbol("P", N * N, N * N) * w9, N, N), w9),
}


def _matrix_inside(spec, M):
    """a M + b 1 with entries (those of _random_env: 0.1 .. 3.9) inside the record's domain."""
    lo, hi = (sp.Rational(v).limit_denominator(100) for v in spec.domain)
    return (hi - lo) / 8 * M + (lo + (hi - lo) / 20) * sp.OneMatrix(*M.shape)


MATRIX_SAMPLES.update(
    {
        f"ew_{s.name}": (
            elementwise(sp.Lambda(t, s.cls(t, *s.sample_params)), _matrix_inside(s, X)),
            X,
        )
        for s in REGISTRY
        if s.derivative is not None
    }
)

dX = MatrixSymbol("dX", N, N)
CANONICAL_SAMPLES = {
    "trace_linearity": (dX + A * dX, "C"),
    "cyclic_trace": (A * dX * B, "C"),
    "trace_transpose": (dX.T, "C"),
    "trace_hadamard": (hadamard(A, dX), "C"),
    "trace_kronecker": (KroneckerProduct(A2, MatrixSymbol("dX", 2, 2)), "2I"),
    "scalar_sum": (Trace(dX) + Trace(A * dX), "c"),
    "scalar_factor": (5 * Trace(A * dX), "c"),
    "scalar_as_trace": (Trace(A * dX), "c"),
    "trace_vec": (Vec(A * dX), "C"),
    "trace_unvec": (
        Unvec(MatrixSymbol("P", N * N, N * N) * MatrixSymbol("dX", N * N, 1), N, N),
        "C",
    ),
    "scalar_piecewise": (
        sp.Piecewise((Trace(A * dX), x > 0), (Trace(dX), True)),
        "c",
    ),
}

Sg, Dg = symmetric("S", 3), diagonal("D", 3)
xv, Am, bv = vector("x", 3), matrix_symbol("A", 3, 3), vector("b", 3)
Xn, wn, yn = matrix_symbol("X", 4, 3), vector("w", 3), vector("y", 4)
THEOREM_SAMPLES = {
    "one_by_one": (xv.T * Am * xv, xv, 1),
    "identification": (Trace(Am * X), X, 1),
    "scalar_identification": (x**2 * y, [x, y], 1),
    "jacobian_identification": (Am * xv, xv, 1),
    "vec_identification": (Trace(X.T * A * X), X, 2),
    "hadamard_as_diag": (logistic_loss(Xn, wn, yn), wn, 2),
    "collect": (xv.T * Am * xv, xv, 1),
    "symmetric_part": (Trace(Am * Sg), Sg, 1),
    "diagonal_part": (Trace(Am * Dg), Dg, 1),
    "hessian_from_gradient": (xv.T * Am * xv, xv, 2),
    "symmetric_hessian": (Trace(Sg * Am * Sg), Sg, 2),
    "as_written": (sp.log(sp.Abs(sp.det(Am))), Am, 1),
}

SAMPLES = {
    "scalar": SCALAR_SAMPLES,
    "matrix": MATRIX_SAMPLES,
    "canonical": CANONICAL_SAMPLES,
    "theorems": THEOREM_SAMPLES,
}
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "derivation"))  # issue 14's tables
from test_network_rules import NETWORK_CANONICAL_SAMPLES, NETWORK_SAMPLES  # noqa: E402

SAMPLES.update(network=NETWORK_SAMPLES, network_canonical=NETWORK_CANONICAL_SAMPLES)


def _landscape_case():
    """A non-quadratic f, its descent-rate proof and a classified critical point."""
    from symcalc.analysis.landscape import classify, descent_rate

    a, b = sp.symbols("a b", real=True)
    f = (a**2 - 1) ** 2 + (b - a / 2) ** 2 + sp.sin(a * b) / 10
    point = {a: sp.Rational(3, 10), b: sp.Rational(-7, 10)}
    numeric = sp.lambdify([a, b], f, "mpmath")
    return f, (a, b), point, numeric, descent_rate(f, [a, b]), classify


def _central_grad(numeric, p, h=1e-7):
    import mpmath

    mpmath.mp.dps = 30
    return [
        float(
            (
                numeric(*[v + (h if k == i else 0) for k, v in enumerate(p)])
                - numeric(*[v - (h if k == i else 0) for k, v in enumerate(p)])
            )
            / (2 * h)
        )
        for i in range(len(p))
    ]


def _check_chain_rule_along_path():
    f, syms, point, numeric, d, _ = _landscape_case()
    step = next(s for s in d.steps if s.rule.name == "chain_rule_along_path")
    xdot = [sym for sym in step.after.free_symbols if sym.name.startswith(r"\dot")]
    v = {s: sp.Rational(k + 2, 5) for k, s in enumerate(sorted(xdot, key=str))}
    ours = float(step.after.subs(v).subs(point))
    p = [float(point[s]) for s in syms]
    g = _central_grad(numeric, p)
    direction = [float(v[s]) for s in sorted(xdot, key=str)]
    return abs(ours - sum(gi * vi for gi, vi in zip(g, direction))) < 1e-6


def _check_gradient_flow():
    f, syms, point, numeric, d, _ = _landscape_case()
    step = next(s for s in d.steps if s.rule.name == "gradient_flow")
    flow = [float(e.subs(point)) for e in step.after]
    g = _central_grad(numeric, [float(point[s]) for s in syms])
    return max(abs(fl + gi) for fl, gi in zip(flow, g)) < 1e-6


def _check_descent_identity():
    f, syms, point, numeric, d, _ = _landscape_case()
    p = [float(point[s]) for s in syms]
    g = _central_grad(numeric, p)
    h = 1e-7  # d/dt f(x - t g) at t = 0, by central differences
    rate_fd = (
        numeric(*[x - h * gi for x, gi in zip(p, g)])
        - numeric(*[x + h * gi for x, gi in zip(p, g)])
    ) / (2 * h)
    return (
        d.holds
        and abs(float(d.rate.subs(point)) - float(rate_fd)) < 1e-5
        and abs(float(rate_fd) + sum(gi * gi for gi in g)) < 1e-5
    )


def _check_stationarity_and_test(name):
    a, b = sp.symbols("a b", real=True)
    from symcalc.analysis.landscape import classify

    f = a**2 - 3 * b**2 + a * b  # a saddle at the origin
    c = classify(f, [a, b], {a: 0, b: 0})
    step = next(s for s in c.steps if s.rule.name == name)
    if name == "stationarity":
        return all(e == 0 for e in step.after)
    hand = np.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, -6.0]]))
    return np.allclose(sorted(float(e) for e in step.after), hand) and c.kind == "saddle"


LANDSCAPE_SAMPLES = {
    "chain_rule_along_path": _check_chain_rule_along_path,
    "gradient_flow": _check_gradient_flow,
    "descent_identity": _check_descent_identity,
    "stationarity": lambda: _check_stationarity_and_test("stationarity"),
    "second_derivative_test": lambda: _check_stationarity_and_test("second_derivative_test"),
}
SAMPLES.update(landscape=LANDSCAPE_SAMPLES)


@pytest.mark.parametrize("name", sorted(LANDSCAPE_SAMPLES))
def test_landscape_rule_numerically(name):
    """Each landscape rule, as the engine applies it, against central differences / NumPy."""
    assert LANDSCAPE_SAMPLES[name]()


def _rat(rng, lo=-100, hi=100):
    return sp.Rational(rng.randint(lo, hi), 100)


def _random_env(expr, rng):
    env = {}
    for M in expr.atoms(MatrixSymbol):
        r, c = M.shape
        base = sp.Matrix(r, c, lambda i, j: _rat(rng, 10, 90))
        env[M] = sp.ImmutableMatrix(base + (r * sp.eye(r) if r == c else sp.zeros(r, c)))
    return env


def test_every_rule_has_a_sample():
    for table in all_tables():
        missing = [r.name for r in table if r.name not in SAMPLES[table.name]]
        assert not missing, f"rules of table {table.name!r} without a numerical test: {missing}"


def test_rules_are_well_formed():
    kinds = {"linear", "product", "specific", "chain", "canonical", "identification", "theorem"}
    for rule in all_rules():
        assert isinstance(rule, Rule)
        assert rule.kind in kinds, rule
        assert rule.title and rule.latex, rule
    for table in (SCALAR_RULES, MATRIX_RULES, CANONICAL_RULES):
        assert all(callable(r.apply) for r in table)


@pytest.mark.parametrize("name", sorted(SCALAR_SAMPLES))
def test_scalar_rule_numerically(name):
    rule = SCALAR_RULES[name]
    f = SCALAR_SAMPLES[name]
    dx, dy = sp.symbols("dx dy")
    diff = Differentiator({x: dx, y: dy})
    out = rule.apply(f, diff)
    assert out is not None, f"rule {name} does not apply to its sample {f}"
    rng = random.Random(name)
    p = {x: sp.Rational(rng.randint(20, 90), 100), y: sp.Rational(rng.randint(20, 90), 100)}
    vdir = {x: _rat(rng), y: _rat(rng)}
    h = sp.Rational(1, 10**12)
    plus = f.subs({s: p[s] + h * vdir[s] for s in p})
    minus = f.subs({s: p[s] - h * vdir[s] for s in p})
    fd = sp.N((plus - minus) / (2 * h), 30)
    ours = sp.N(out.subs({dx: vdir[x], dy: vdir[y]}).subs(p), 30)
    assert abs(complex(ours) - complex(fd)) < 1e-8 * (1 + abs(complex(fd)))


@pytest.mark.parametrize("name", sorted(MATRIX_SAMPLES))
def test_matrix_rule_numerically(name):
    rule = MATRIX_RULES[name]
    f, var = MATRIX_SAMPLES[name]
    dvar = MatrixSymbol("d" + var.name, *var.shape)
    out = rule.apply(f, Differentiator({var: dvar}))
    assert out is not None, f"rule {name} does not apply to its sample {f}"
    rng = random.Random(name)
    env = _random_env(f, rng)
    V = sp.ImmutableMatrix(var.rows, var.cols, lambda i, j: _rat(rng))
    h = sp.Rational(1, 10**12)

    def at(value, e, extra=None):
        e2 = dict(env)
        e2[var] = value
        if extra:
            e2.update(extra)
        return to_explicit(e, e2)

    fd = (sp.Matrix([at(env[var] + h * V, f)]) - sp.Matrix([at(env[var] - h * V, f)])) / (2 * h)
    ours = sp.Matrix([at(env[var], out, {dvar: V})])
    err = max(abs(complex(sp.N(a - b, 30))) for a, b in zip(ours, fd))
    assert err < 1e-8 * (1 + max(abs(complex(sp.N(b, 30))) for b in fd))


@pytest.mark.parametrize("name", sorted(CANONICAL_SAMPLES))
def test_canonical_rule_numerically(name):
    rule = CANONICAL_RULES[name]
    node, ckind = CANONICAL_SAMPLES[name]
    dsym = next(M for M in node.atoms(MatrixSymbol) if M.name == "dX")
    canon = Canonicalizer([dsym])
    if ckind == "c":
        C = sp.Rational(3, 7)
    elif ckind == "2I":
        C = 2 * Identity(node.rows)
    else:
        C = MatrixSymbol("C", *node.shape)
    out = rule.apply(node, C, canon)
    assert out is not None, f"rule {name} does not apply to its sample"
    rng = random.Random(name)
    before = canon.inner(C, node)
    after = sp.Add(*[canon.inner(c, sub) for sub, c in out])
    env = _random_env(before + after, rng)
    a, b = (to_explicit(e, env).subs(x, sp.Rational(1, 3)) for e in (before, after))
    assert abs(complex(sp.N(a - b, 30))) < 1e-12 * (1 + abs(complex(sp.N(a, 30))))


@pytest.mark.parametrize("name", sorted(THEOREM_SAMPLES))
def test_theorem_is_used_by_a_checked_derivation(name):
    f, wrt, order = THEOREM_SAMPLES[name]
    d = derive(f, wrt, order=order)
    assert name in [s.rule.name for s in d.steps], [s.rule.name for s in d.steps]
    assert d.checks and d.all_checks_passed
    assert THEOREMS[name].apply is None

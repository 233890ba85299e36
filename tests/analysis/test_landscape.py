"""Critical points, their classification, and the descent identity."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from cases_explicit import SCALAR_CASES, rosenbrock
from helpers_numeric import evaluate, numeric_function

import symcalc as sc

x, y, z = sp.symbols("x y z", real=True)


def test_critical_points_of_a_cubic_with_a_minimum_and_a_saddle():
    f = x**3 - 3 * x + y**2
    pts = sc.critical_points(f, [x, y])
    assert pts.complete
    assert sorted((p[x], p[y]) for p in pts) == [(-1, 0), (1, 0)]
    for p in pts:  # independent check: the gradient vanishes there
        assert all(sp.diff(f, s).subs(p) == 0 for s in (x, y))
    kinds = {p[x]: sc.classify(f, [x, y], p).kind for p in pts}
    assert kinds == {1: "minimum", -1: "saddle"}


def test_classification_of_maximum_minimum_saddle_with_exact_eigenvalues():
    cases = {
        "maximum": -(x**2) - 2 * y**2,
        "minimum": (x - 1) ** 2 + 3 * (y + 2) ** 2 + x * y,
        "saddle": x**2 - y**2,
    }
    for kind, f in cases.items():
        (p,) = sc.critical_points(f, [x, y])
        c = sc.classify(f, [x, y], p)
        assert c.kind == kind
        assert c.exact
        ref = np.linalg.eigvalsh(np.array(sp.hessian(f, [x, y]).subs(p), dtype=float))
        np.testing.assert_allclose([float(v) for v in c.eigenvalues], np.sort(ref))


def test_monkey_saddle_is_degenerate():
    f, syms = SCALAR_CASES["monkey_saddle"]
    c = sc.classify(f, syms, {syms[0]: 0, syms[1]: 0})
    assert c.kind == "degenerate"
    assert c.hessian == sp.zeros(2, 2)


def test_rosenbrock_minimum_at_ones():
    f, syms = rosenbrock(4)
    c = sc.classify(f, syms, {s: 1 for s in syms})
    assert c.kind == "minimum"
    assert all(float(v) > 0 for v in c.eigenvalues)


def test_himmelblau_minimum_at_3_2():
    f, syms = SCALAR_CASES["himmelblau"]
    assert sc.classify(f, syms, {syms[0]: 3, syms[1]: 2}).kind == "minimum"


def test_classify_refuses_a_point_that_is_not_critical():
    with pytest.raises(sc.NotCriticalError) as err:
        sc.classify(x**2 + y**2, [x, y], {x: 1, y: 0})
    assert isinstance(err.value, ValueError)
    assert "not critical" in str(err.value)


def test_classify_accepts_names_and_rejects_unknown_variables():
    assert sc.classify(x**2 + y**2, [x, y], {"x": 0, "y": 0}).kind == "minimum"
    with pytest.raises(ValueError, match="not one of the variables"):
        sc.classify(x**2 + y**2, [x, y], {z: 0, y: 0})


def test_critical_points_of_a_flat_valley_are_marked_incomplete():
    pts = sc.critical_points((x - y) ** 2, [x, y])
    assert not pts.complete
    assert pts and all(sp.simplify(p[x] - p[y]) == 0 for p in pts)


@pytest.mark.parametrize("name", ["rosenbrock2", "himmelblau", "trig_mix", "logsumexp"])
def test_descent_identity_is_proved_and_matches_a_flow_step(name):
    f, syms = SCALAR_CASES[name]
    d = sc.descent_rate(f, syms)
    assert d.holds
    assert [s.rule.name for s in d.steps] == [
        "chain_rule_along_path",
        "gradient_flow",
        "descent_identity",
    ]
    # Independent check: a tiny explicit Euler step of the flow changes f at rate -||grad f||^2.
    p = np.random.default_rng(3).uniform(-1, 1, len(syms))
    g = np.array([float(sp.diff(f, s).subs(dict(zip(syms, p)))) for s in syms])
    fn = numeric_function(f, syms)
    h = 1e-7
    rate_fd = (fn(p - h * g) - fn(p + h * g)) / (2 * h)
    assert float(evaluate(d.rate, syms, p)) == pytest.approx(rate_fd, rel=1e-5)
    assert float(evaluate(d.rate, syms, p)) == pytest.approx(-float(g @ g), rel=1e-10)
    assert float(evaluate(d.rate, syms, p)) <= 0

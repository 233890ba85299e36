"""verify never says "holds" for a claim that is wrong somewhere (issue 11, finding 7).

Wrong claims that differ only outside the old sampling box (|x| <= 2.5), only on one
side of a breakpoint, or by a constant far below the 30-digit tolerance must fail
with a counterexample that plain SymPy confirms; right claims must still hold, and a
verdict reached only by probing says so in ``method``. The tests count probe points
(``Verdict.points``), not seconds.
"""

from __future__ import annotations

import importlib

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symcalc as sc

S = importlib.import_module("symcalc.verification.sampling")  # where probe points come from
D = importlib.import_module("symcalc.verification.decision")  # the probing stage

x = sp.Symbol("x")
y = sp.Symbol("y")
p = sp.Symbol("p", positive=True)

WRONG = [
    # (claim, truth): each differs from the truth somewhere on the real line
    ("2x + sign(x - 3) + 1", 2 * x),  # the step at x = 3
    ("2x + e^(-100)", 2 * x),  # the constant below 1e-30
    (2 * x + sp.Heaviside(x - 50), 2 * x),  # a step far outside |x| <= 2.5
    (sp.Piecewise((2 * x, x < 100), (0, True)), 2 * x),  # a branch for x >= 100
    ("2x + 10^(-30)", 2 * x),  # exactly at the old tolerance
    ("2x + 10^(-200)", 2 * x),  # far below it: exact arithmetic sees it
    (sp.Abs(x), x),  # x unrestricted: wrong for x < 0
    ("abs(x - 1/1000)", "abs(x)"),  # a kink moved by 1e-3
    (sp.Max(x, 40), x),  # wrong only for x < 40: Max breakpoint
    (sp.Min(x, -40), x),  # wrong only for x > -40
    ("x + 10^(-40)/x", x),  # invisible at |x| ~ 1, seen near 0
    (2 * p + sp.Heaviside(p - 500), 2 * p),  # positive symbols are scaled too
    (sp.Piecewise((x * y, x + y < 300), (0, True)), x * y),  # two variables, one moves
]

RIGHT = [
    ("sqrt(x^2)", sp.Abs(x)),
    ("2x", 2 * x),
    ("abs(x)", sp.Piecewise((x, x >= 0), (-x, True))),
    (sp.Max(x, 2 * x), sp.Piecewise((2 * x, x >= 0), (x, True))),
    ("sign(x) abs(x)", x),
    (sp.Heaviside(x - 50) * (x - 50) + 50, sp.Max(x, 50)),
    ("sin(x)^2 + cos(x)^2 + x", x + 1),
    ("e^(-100) + x", x + sp.exp(-100)),
    (sp.exp(x) * sp.exp(-x) + 10**-30 - sp.Rational(1, 10**30), sp.Integer(1)),
]


def _exact_difference(claim_text_or_expr, truth, point: dict) -> sp.Expr:
    """claim - truth at the counterexample, by plain SymPy (subs, doit): independent of verify."""
    claim = (
        sc.parse(claim_text_or_expr, {"x": x, "y": y, "p": p})
        if isinstance(claim_text_or_expr, str)
        else claim_text_or_expr
    )
    truth = sc.parse(truth, {"x": x}) if isinstance(truth, str) else truth
    return sp.simplify((claim - truth).subs(point).doit())


@pytest.mark.parametrize("claim, truth", WRONG, ids=[str(c) for c, _ in WRONG])
def test_wrong_claims_fail_with_a_real_counterexample(claim, truth):
    v = sc.verify(claim, truth, budget=20)
    assert v.holds is False, v.describe()
    assert v.exit_code == 1 and v.method == "numeric"
    assert v.counterexample, v.describe()
    point = {k: val for k, val in v.counterexample.items()}
    diff = _exact_difference(claim, truth, point)
    assert diff.is_number and diff != 0, (diff, v.describe())


@pytest.mark.parametrize("claim, truth", RIGHT, ids=[str(c) for c, _ in RIGHT])
def test_right_claims_still_hold(claim, truth):
    v = sc.verify(claim, truth, budget=20)
    assert v.holds is True, v.describe()
    assert v.counterexample is None and v.exit_code == 0
    assert v.method == "symbolic" or v.method == f"numeric: {v.points} probes"


def test_a_numeric_verdict_says_it_is_numeric_and_counts_its_probes():
    v = sc.verify("sqrt(x^2)", sp.Abs(x), budget=20)  # no canonical form proves this one
    assert v.holds is True and v.method.startswith("numeric: ")
    assert v.points >= 10 and v.method == f"numeric: {v.points} probes"
    assert "not a proof" in v.explanation


def test_probes_cover_several_magnitudes_and_both_sides_of_a_breakpoint():
    import random

    rng = random.Random(1)
    objects = [x]
    points = list(
        D._points(
            objects, [], rng, 10, [sp.sign(x - 3)], D._Deadline(float("inf"), use_alarm=False)
        )
    )
    values = [pt.values[x] for pt in points]
    magnitudes = {int(sp.floor(sp.log(abs(v), 10))) for v in values if v != 0}
    assert max(magnitudes) >= 2 and min(magnitudes) <= -2, values
    assert any(3 - sp.Rational(1, 100) < v < 3 for v in values)
    assert any(3 < v < 3 + sp.Rational(1, 100) for v in values)


def test_breakpoints_are_read_from_every_kind_of_branch():
    got = S._kink_arguments(
        sp.sign(x - 1)
        + sp.Abs(x + 2)
        + sp.Heaviside(x - 3)
        + sp.Max(x, 4)
        + sp.Min(x, -5)
        + sp.Piecewise((x, x < 6), (0, True))
    )
    roots = sorted(r for g in got for r in S._roots_near(g, x))
    assert roots == [-5, -2, 1, 3, 4, 6]


def test_a_tiny_difference_needs_no_luck_at_any_point():
    """The exact route decides at the very first probe: one point is enough."""
    v = sc.verify("2x + e^(-100)", 2 * x, budget=20)
    assert v.holds is False and "exact difference" in v.explanation
    assert "3.72" in v.explanation  # e^-100 = 3.72e-44, shown


def test_points_respect_declared_signs_at_every_scale():
    import random

    rng = random.Random(2)
    q = sp.Symbol("q", negative=True)
    for scale in S._SCALES:
        assert S._sample_scalar(p, rng, scale) > 0
        assert S._sample_scalar(q, rng, scale) < 0
    # a breakpoint of a positive variable at a negative value gives no points
    pts = S._breakpoint_points([sp.sign(p + 3)], [p], {}, rng)
    assert pts == []


def test_gradient_claims_are_probed_the_same_way():
    v = sc.verify_gradient(x**2 + y, [x, y], [2 * x + sp.Heaviside(x - 70), 1], budget=20)
    assert v.holds is False and v.wrong_entries == ["d f/d x"], v.describe()


def test_matrix_claims_are_probed_at_several_magnitudes_too():
    v = sc.vector("v", "n")
    sq = sp.Trace(v.T * v)
    wrong = sc.verify(sq + sp.Heaviside(sq - 10**5), sq, budget=20)
    assert wrong.holds is False, wrong.describe()
    assert max(abs(e) for e in wrong.counterexample[v]) > 100  # found at scale 1e3
    right = sc.verify(sq * sp.Heaviside(sq + 1), sq, budget=20)  # v^T v >= 0: H = 1
    assert right.holds is True, right.describe()


# --------------------------------------------------------------------------------------
# Property tests: a step anywhere in [-1000, 1000], a constant down to 1e-250
# --------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.fractions(min_value=-1000, max_value=1000, max_denominator=50),
    st.sampled_from([sp.Heaviside, sp.sign]),
)
def test_a_step_anywhere_is_found(at, step):
    a = sp.Rational(at.numerator, at.denominator)
    v = sc.verify(2 * x + step(x - a) + 1, 2 * x, budget=20, isolate=False)
    assert v.holds is False, v.describe()
    assert _exact_difference(2 * x + step(x - a) + 1, 2 * x, v.counterexample) != 0


@settings(max_examples=25, deadline=None)
@given(st.integers(31, 250), st.sampled_from(["10^(-{k})", "e^(-{k})", "2^(-{k}) x"]))
def test_a_tiny_term_is_found(k, term):
    claim = f"2x + {term.format(k=k)}"
    v = sc.verify(claim, 2 * x, budget=20, isolate=False)
    assert v.holds is False, v.describe()
    assert _exact_difference(claim, 2 * x, v.counterexample) != 0

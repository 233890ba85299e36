"""verify: the Verdict, assumptions and domains, budgets, the text entry point."""

from __future__ import annotations

import time

import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError, ParseError
from symcalc.expr.structure import matrix_symbol, positive_definite, quadratic_form, vector
from symcalc.verification.claims import (
    Verdict,
    declare,
    parse_assumptions,
    verify,
    verify_from_text,
    verify_gradient,
    verify_hessian,
)

x, y = sp.symbols("x y")
k = sp.Symbol("k")
HANG_GUARD = 4.0  # seconds beyond the budget: a hang guard, not a performance test


class Slow(sp.Function):
    """A function whose numeric value takes forever (to exercise the budget)."""

    def _eval_evalf(self, prec):
        time.sleep(60)


# --------------------------------------------------------------------------------------
# The Verdict
# --------------------------------------------------------------------------------------
def test_verdict_fields_when_it_holds():
    v = verify("2x cos(x^2)", sp.diff(sp.sin(x**2), x))
    assert isinstance(v, Verdict)
    assert v.holds is True and v.method == "symbolic" and v.counterexample is None
    assert v.exit_code == 0 and bool(v)
    assert v.describe().startswith("HOLDS")


def test_verdict_fields_when_it_fails():
    v = verify("x cos(x^2)", sp.diff(sp.sin(x**2), x))
    assert v.holds is False and v.method == "numeric" and v.exit_code == 1 and not v
    ((sym, value),) = v.counterexample.items()
    assert sym == x and value.is_Rational
    # both values are reported, and they are the values at the counterexample
    assert abs(float(v.claim_value) - float(value * sp.cos(value**2))) < 1e-12
    assert abs(float(v.truth_value) - float(2 * value * sp.cos(value**2))) < 1e-12
    text = v.describe()
    assert "FAILS" in text and "x = " in text and "claim there" in text and "truth there" in text


def test_sqrt_of_square_needs_positivity():
    no = verify(sp.sqrt(x**2), x)
    assert no.holds is False and no.counterexample[x] < 0
    assert abs(float(no.claim_value) + float(no.truth_value)) < 1e-12  # |x| vs x
    for assumption in (
        "x > 0",
        "x positive",
        {"x": "positive"},
        {x: ["positive"]},
        sp.Q.positive(x),
        ["x>0"],
    ):
        v = verify(sp.sqrt(x**2), x, assumptions=assumption)
        assert v.holds is True, assumption
    xp = sp.Symbol("x", positive=True)
    assert verify(sp.sqrt(xp**2), xp).holds is True
    # the claim and the counterexample are shown in the user's symbols
    assert verify("sqrt(x^2)", x).claim == sp.sqrt(x**2)


def test_integer_assumption():
    assert verify(sp.cos(2 * sp.pi * k), 1).holds is False
    assert verify(sp.cos(2 * sp.pi * k), 1, assumptions="k integer").holds is True


def test_spd_samples_respect_the_domain():
    S = matrix_symbol("S", "n", "n")
    claim = sp.sqrt(sp.Determinant(S) ** 2)  # = det S only where det S > 0
    assert verify(claim, sp.Determinant(S)).holds is False
    assert verify(claim, sp.Determinant(S), assumptions={"S": "spd"}).holds is True
    P = positive_definite("P", "n")
    assert verify(sp.sqrt(sp.Determinant(P) ** 2), sp.Determinant(P)).holds is True


def test_symmetric_assumption_on_a_matrix():
    B = matrix_symbol("B", "n", "n")
    xv = vector("x", "n")
    f = quadratic_form(xv, B)
    assert verify_gradient(f, xv, "2 B x").holds is False
    assert verify_gradient(f, xv, "2 B x", assumptions="B symmetric").holds is True


def test_points_outside_the_truth_domain_are_skipped():
    # the truth is never real: no usable point, so undecided (not a false counterexample)
    v = verify(sp.log(-(x**2) - 1) + x, sp.log(-(x**2) - 1))
    assert v.holds is None and v.exit_code == 2 and "usable" in v.explanation
    # log(x^2)/2 = log x wherever log x is real (x > 0): holds, negative x are skipped
    assert verify(sp.log(x**2) / 2, sp.log(x)).holds is True


def test_high_precision_sees_tiny_real_differences_and_no_fake_ones():
    assert verify(x + sp.Rational(1, 10**20), x).holds is False
    big = sp.Integer(10) ** 30
    assert verify(sp.UnevaluatedExpr(x + big) - big, x).holds is True
    # catastrophic cancellation in floating point, exact here
    v = verify((sp.exp(x) - 1 - x) * 10**22, (sp.exp(x) - 1 - x) * 10**22 + 1)
    assert v.holds is False


def test_trig_identity_holds():
    assert verify("2 sin(x) cos(x)", sp.sin(2 * x)).holds is True
    assert verify("sin(x)^2", 1 - sp.cos(x) ** 2).holds is True


def test_same_seed_same_counterexample():
    a = verify("x^2 + y", x**2 + y**2)
    b = verify("x^2 + y", x**2 + y**2)
    assert a.counterexample == b.counterexample


# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------
def test_shape_mismatch_fails_with_an_explanation():
    v = verify_gradient(x**2 * y, [x, y], "2xy")
    assert v.holds is False and "shapes differ" in v.explanation and v.exit_code == 1


def test_row_written_for_a_column_is_read_as_a_column():
    v = verify_gradient(x**2 * y, [x, y], r"\begin{pmatrix} 2xy & x^2 \end{pmatrix}")
    assert v.holds is True and "row" in v.explanation


def test_ill_formed_matrix_claim_fails_and_points_at_it():
    A = matrix_symbol("A", "m", "n")
    xv, b = vector("x", "n"), vector("b", "m")
    f = sp.Trace((A * xv - b).T * (A * xv - b))
    v = verify_gradient(f, xv, "2 A (A x - b)")
    assert v.holds is False and "not well-formed" in v.explanation
    assert "^" in v.explanation.splitlines()[-1]


def test_hessian_wrong_entries_are_named():
    v = verify_hessian(x**2 * y, [x, y], "[[2y, 2x], [2x, 1]]")
    assert v.holds is False
    assert v.wrong_entries == ["d2 f/(d y d y)"]


# --------------------------------------------------------------------------------------
# Never hangs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("isolate", [None, False])
def test_budget_exhausted_is_undecided(isolate):
    start = time.monotonic()
    v = verify(Slow(x), x, budget=1.0, isolate=isolate)
    elapsed = time.monotonic() - start
    assert v.holds is None and v.exit_code == 2
    assert "budget" in v.explanation
    assert elapsed < 1.0 + HANG_GUARD


def test_costly_canonical_form_leaves_time_for_the_numbers():
    big = (x + y + 1) ** 40
    # expanding is slow, the numbers decide at the first probe point; the budget is only a
    # hang guard, so the test does not depend on the load of the machine
    v = verify(big, big + 1, budget=60.0, points=3)
    assert v.holds is False and v.method == "numeric" and v.counterexample


def test_budget_must_be_positive():
    with pytest.raises(InputError):
        verify("x", x, budget=0)
    with pytest.raises(InputError):
        verify("x", x, budget="soon")


# --------------------------------------------------------------------------------------
# Matrix claims when the matrix engine cannot answer: the entry-by-entry route
# --------------------------------------------------------------------------------------
def test_entry_by_entry_route(monkeypatch):
    import symcalc.derivation.api as calculus

    def unavailable(*args, **kwargs):
        raise NotImplementedError("engine switched off for this test")

    monkeypatch.setattr(calculus, "gradient", unavailable)
    A = matrix_symbol("A", "m", "n")
    xv, b = vector("x", "n"), vector("b", "m")
    f = sp.Trace((A * xv - b).T * (A * xv - b))
    good = verify_gradient(f, xv, r"2A^\top(Ax-b)")
    bad = verify_gradient(f, xv, r"A^\top(Ax-b)")
    assert good.holds is True and "entry by entry" in good.explanation
    assert bad.holds is False and bad.counterexample is not None


# --------------------------------------------------------------------------------------
# Assumptions and declarations
# --------------------------------------------------------------------------------------
def test_parse_assumptions_forms():
    assert parse_assumptions("x > 0, A symmetric; Sigma spd") == [
        ("x", ">0"),
        ("A", "symmetric"),
        ("Sigma", "spd"),
    ]
    assert parse_assumptions({"n": "integer"}) == [("n", "integer")]
    assert parse_assumptions(sp.Q.positive(x) & sp.Q.integer(y)) == [
        ("x", "positive"),
        ("y", "integer"),
    ] or sorted(parse_assumptions(sp.Q.positive(x) & sp.Q.integer(y))) == [
        ("x", "positive"),
        ("y", "integer"),
    ]
    with pytest.raises(InputError):
        parse_assumptions("x is lovely")
    with pytest.raises(InputError, match="unknown name"):
        verify("x", x, assumptions="z > 0")


def test_declare():
    assert declare("x").is_real
    assert declare("x>0").is_positive
    assert declare("b[m]").shape == (sp.Symbol("m", integer=True, positive=True), 1)
    assert declare("Sigma[n,n] spd").structure == "positive_definite"
    with pytest.raises(InputError):
        declare("x[n] spd")
    with pytest.raises(InputError):
        declare("__class__")


# --------------------------------------------------------------------------------------
# verify_from_text: what the CLI calls
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression, variables, claim, kind, holds, kw",
    [
        ("x^2 y", ["x", "y"], "[2xy, x^2]", "gradient", True, {}),
        ("x^2 y", "x, y", "[2xy, x^2 y]", "gradient", False, {}),
        ("x^2 y", ["x", "y"], "[[2y, 2x], [2x, 0]]", "hessian", True, {}),
        ("[x y, x + y]", ["x", "y"], "[[y, x], [1, 1]]", "jacobian", True, {}),
        ("sin(x^2)", ["x"], r"2x\cos(x^2)", "derivative", True, {}),
        ("sin(x^2)", ["x"], r"x\cos(x^2)", "derivative", False, {}),
        ("sqrt(x^2)", ["x"], "x", "equal", False, {}),
        ("sqrt(x^2)", ["x>0"], "x", "equal", True, {}),
        ("sqrt(x^2)", ["x"], "x", "equal", True, {"assumptions": "x > 0"}),
        ("x^T A x", ["x[n]"], "(A + A^T) x", "gradient", True, {"declarations": ["A[n,n]"]}),
        ("x^T A x", ["x[n]"], "2 A x", "gradient", False, {"declarations": ["A[n,n]"]}),
        ("x^T S x", ["x[n]"], "2 S x", "gradient", True, {"declarations": ["S[n,n] symmetric"]}),
        (
            "(A x - b)^T (A x - b)",
            ["x[n]"],
            r"2A^\top(Ax-b)",
            "gradient",
            True,
            {"declarations": ["A[m,n]", "b[m]"]},
        ),
        ("log(det(Sigma))", ["Sigma[n,n] spd"], r"\Sigma^{-1}", "gradient", True, {}),
    ],
)
def test_verify_from_text(expression, variables, claim, kind, holds, kw):
    v = verify_from_text(expression, variables, claim, kind, **kw)
    assert v.holds is holds, v.describe()
    assert v.exit_code == (0 if holds else 1)
    assert v.describe().splitlines()[0].startswith("HOLDS" if holds else "FAILS")


def test_verify_from_text_bad_input():
    with pytest.raises(InputError, match="kind"):
        verify_from_text("x", ["x"], "1", kind="integral")
    with pytest.raises(ParseError) as info:
        verify_from_text("x^2", ["x"], "2x + z")
    assert info.value.position == 5
    with pytest.raises(ParseError) as info:
        verify_from_text("x^2", ["x"], r"2x\foo")
    assert r"\foo" in str(info.value)
    with pytest.raises(ParseError):
        verify_from_text("(x^2", ["x"], "2x")


def test_public_names_are_callable_after_importing_the_modules():
    import symcalc.parsing.parser  # noqa: F401 - binds symcalc.parse to the module
    import symcalc.verification.claims  # noqa: F401

    assert sc.parse("2x", {"x": x}) == 2 * x
    assert sc.verify("2x", 2 * x).holds is True
    assert sc.parse_latex(r"\frac{x}{2}", [x]) == x / 2
    assert sc.Verdict is Verdict


def test_sympy_claims_bind_by_name():
    xr = sp.Symbol("x", real=True)
    assert verify(2 * x, 2 * xr).holds is True  # the claim's plain x is the truth's x
    assert verify(2 * x, 2 * xr).counterexample is None


def test_docstring_examples():
    import doctest
    import importlib

    parse_module = importlib.import_module("symcalc.parsing.parser")
    verify_modules = [
        importlib.import_module(f"symcalc.verification.{name}")
        for name in ("claims", "verdict", "assumptions", "sampling")
    ]
    for module in (parse_module, *verify_modules):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__

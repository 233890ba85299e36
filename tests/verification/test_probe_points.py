"""verify counts probe points: given ``points=``, the answer rests on them, not on the clock."""

from __future__ import annotations

import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError

x, y = sp.symbols("x y")
HANG_GUARD = 300.0  # seconds; only a hang would use them up


@pytest.mark.parametrize("n", [3, 7])
def test_a_numeric_pass_reports_how_many_points_agreed(n):
    v = sc.verify("sign(x) abs(x)", x, budget=HANG_GUARD, points=n)  # no cheap canonical form
    assert v.holds is True and v.points >= n
    assert f"{v.points} probe points" in v.explanation or f"{v.points} random points" in (
        v.explanation
    )


def test_more_points_more_probes():
    few = sc.verify("sign(x) abs(x)", x, budget=HANG_GUARD, points=3).points
    many = sc.verify("sign(x) abs(x)", x, budget=HANG_GUARD, points=9).points
    assert many > few


def test_a_wrong_claim_fails_at_any_count():
    v = sc.verify_gradient(x**2 * y, [x, y], "[2xy, x^2 + 1]", budget=HANG_GUARD, points=3)
    assert v.holds is False and v.wrong_entries == ["d f/d y"]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5"])
def test_points_must_be_a_positive_integer(bad):
    with pytest.raises(InputError, match="points"):
        sc.verify("x", x, points=bad)


def test_verify_gradient_and_verify_hessian_are_one_function():
    assert sc.verify_gradient.__code__ is sc.verify_hessian.__code__
    assert sc.verify_gradient.__name__ == "verify_gradient"
    assert sc.verify_hessian.__name__ == "verify_hessian"
    assert "Hessian" in sc.verify_hessian.__doc__ and "gradient" in sc.verify_gradient.__doc__
    h = sc.verify_hessian(x**3 * y, [x, y], "[[6xy, 3x^2], [3x^2, 0]]", budget=HANG_GUARD)
    assert h.holds is True
    g = sc.verify_gradient(x**3 * y, [x, y], "[3x^2 y, x^3]", budget=HANG_GUARD)
    assert g.holds is True

"""Plain-text printing in symcalc's notation: readable, and read back by symcalc.parse."""

from __future__ import annotations

import pytest
import sympy as sp

import symcalc as sc
from symcalc.printing.text import text

X, w, y = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
z, t = sc.vector("z", "k"), sc.vector("t", "k")
A = sc.matrix_symbol("A", "n", "n")
x = sc.vector("x", "n")
HANG_GUARD = 300.0  # seconds: only a hang would use them up


@pytest.mark.parametrize(
    "expr, shown",
    [
        (lambda: sc.logistic_loss(X, w, y), "sum(softplus(X*w)) - y.T*X*w"),
        (lambda: sc.gradient(sc.logistic_loss(X, w, y), w), "X.T*(sigmoid(X*w) - y)"),
        (
            lambda: sc.hessian(sc.logistic_loss(X, w, y), w),
            "X.T*diag(sigmoid(X*w) .* (1 - sigmoid(X*w)))*X",
        ),
        (lambda: sc.softmax_cross_entropy(z, t), "log(sum(exp(z))) - t.T*z"),
        (lambda: sp.log(sp.det(A)), "log(det(A))"),
        (lambda: sc.quadratic_form(x, A), "x.T*A*x"),
        (
            lambda: sc.hessian(sc.softmax_cross_entropy(z, t), z),
            "diag(exp(z))/sum(exp(z)) - exp(z)*exp(z.T)/sum(exp(z))**2",
        ),
        (lambda: sc.gradient(1 / sc.as_scalar(x.T * x), x), "-2*x/(x.T*x)**2"),
    ],
)
def test_matrix_notation_reads_like_a_person_writes_it(expr, shown):
    e = expr()
    assert text(e) == shown
    assert "Lambda" not in text(e) and "Trace" not in text(e)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sc.gradient(1 / sc.as_scalar(w.T * w), w),
        lambda: sc.gradient(sc.logistic_loss(X, w, y), w),
        lambda: sc.hessian(sc.logistic_loss(X, w, y), w),
        lambda: sc.logistic_loss(X, w, y),
    ],
)
def test_text_is_read_back_to_an_equal_result(make):
    """Round trip through the safe parser, checked by the verifier (an independent route)."""
    e = make()
    symbols = {"X": X, "w": w, "y": y}
    back = sc.parse(text(e), symbols=symbols)
    # the answer rests on a count of probe points, not on the clock (the budget is a hang guard)
    v = sc.verify(back, e, budget=HANG_GUARD, points=6)
    assert v.holds is True, v.describe()
    assert v.method == "symbolic" or v.points >= 6, v.describe()


def test_scalar_text_puts_positive_terms_first():
    a, b = sp.symbols("a b")
    assert text(-(a**2) + 3 * b) == "3*b - a**2"
    assert text(a - 1) == "a - 1"

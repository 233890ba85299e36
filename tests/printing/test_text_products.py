"""sc.text of a product with a Hadamard factor brackets it, so the text reads back (parse) as
the same matrix (checked at random values) and never as (W.T*a) .* b."""

from __future__ import annotations

import sympy as sp

import symcalc as sc
from symcalc.reporting.shorthand import numerically_equal


def test_a_hadamard_factor_of_a_product_is_bracketed_and_reads_back():
    n, k = 3, 2
    x, v, c = sc.vector("x", n), sc.vector("v", n), sc.vector("c", k)
    W = sc.matrix_symbol("W", k, n)
    E = sc.sum_entries(sc.elementwise(sp.tanh, W * x + c)) + sc.norm_squared(x) / 2
    h = sc.hvp(E, x, v)  # v - W^T (2 tanh(z) o (W v) o (1 - tanh(z)^2))
    shown = sc.text(h)
    assert "W.T*((2*tanh(W*x + c)) .* (W*v)" in shown
    back = sc.parse(shown, {"x": x, "v": v, "W": W, "c": c})
    assert numerically_equal(back, h)


def test_a_plain_product_stays_unbracketed():
    A, B = sc.matrix_symbol("A", 2, 2), sc.matrix_symbol("B", 2, 2)
    assert sc.text(A * sp.HadamardProduct(A, B) * B) == "A*(A .* B)*B"
    assert sc.text(A * B) == "A*B"

"""symcalc.printing.latex: ML notation from printer methods, and layouts that fit the page."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from symcalc.expr.functions import sigmoid, softplus
from symcalc.printing.latex import (
    DEFAULT_WIDTH,
    _Names,
    _shared,
    equation,
    escape_text,
    latex,
    matrix_block,
    options,
    visible_width,
)

X = sp.MatrixSymbol("X", 3, 3)
Y = sp.MatrixSymbol("Y", 3, 3)
w = sp.MatrixSymbol("w", 3, 1)


@pytest.mark.parametrize(
    "expr, expected",
    [
        (X.T, r"X^\top"),
        (sp.Transpose(X + Y), r"\left(X + Y\right)^\top"),
        ((X * w - w).T, r"\left(X w - w\right)^\top"),  # SymPy distributes; the printer collects
        (sp.Trace(X), r"\operatorname{tr}\left(X\right)"),
        (sp.Determinant(X), r"\det\left(X\right)"),
        (sp.Inverse(X), r"X^{-1}"),
        (sp.kronecker_product(X, Y), r"X \otimes Y"),
        (sp.hadamard_product(X, Y), r"X \odot Y"),
        (sigmoid(sp.Symbol("z")), r"\sigma\left(z\right)"),
        (softplus(sp.Symbol("z")), r"\operatorname{softplus}\left(z\right)"),
        (sp.matrices.expressions.diagonal.DiagMatrix(w), r"\operatorname{diag}\left(w\right)"),
        (sp.Symbol("Sigma"), r"\Sigma"),
    ],
)
def test_ml_notation(expr, expected):
    assert latex(expr) == expected


def test_bold_vectors_are_optional():
    assert latex(w.T * X * w, bold_vectors=True) == r"\boldsymbol{w}^\top X \boldsymbol{w}"
    assert latex(w.T * X * w) == r"w^\top X w"


def test_matrices_use_brackets():
    assert latex(sp.Matrix([[1, 2]])).startswith(r"\left[\begin{matrix}")


def test_differentials_print_upright_and_last():
    x, dx = sp.symbols("x dx")
    with options(differentials={"dx"}):
        assert latex(3 * x**2 * dx) == r"3 x^{2}\,\mathrm{d}x"
    assert latex(3 * x**2 * dx) == r"3 \mathit{dx} x^{2}"  # outside the block: one symbol


def test_visible_width_counts_fractions_by_their_wider_part():
    assert visible_width(r"\frac{a+b+c}{d}") < visible_width("a+b+c+d")
    assert visible_width(r"\operatorname{tr}\left(X\right)") == len("tr(X)")


def _lines(body: str) -> list[str]:
    return body.split("\\\\\n")


def test_long_sum_is_split_over_aligned_lines_within_the_width():
    x = sp.Symbol("x")
    expr = sum(sp.Symbol(f"a_{i}") * x**i for i in range(40))
    body = equation("f", expr, width=50)
    rows = _lines(body)
    assert len(rows) > 3
    assert all(visible_width(r) <= 50 + 4 for r in rows)
    assert rows[0].startswith("f &= ") and all(r.lstrip().startswith(r"&\quad") for r in rows[1:])
    # nothing lost: every term appears once
    assert all(f"a_{{{i}}}" in body for i in range(40))


def test_shared_subexpressions_get_names_that_rebuild_the_expression():
    x, y = sp.symbols("x y")
    core = sp.exp(-(x**2 + y**2) / 7) * sp.cos(x * y + 3) + sp.log(1 + x**4 + y**4)
    exprs = [core * x, core * y, core**2]
    names = _Names()
    reduced = _shared(exprs, names, width=20)
    assert names.defs  # something was named
    rebuilt = list(reduced)
    for sym, sub in reversed(names.defs):
        rebuilt = [e.xreplace({sym: sub}) for e in rebuilt]
    assert all(sp.simplify(a - b) == 0 for a, b in zip(rebuilt, exprs))


def test_equation_defines_its_names_in_a_where_clause():
    x, y = sp.symbols("x y")
    core = sp.exp(-(x**2 + y**2) / 7) * sp.cos(x * y + 3) / (1 + sp.sqrt(x**2 + y**2 + 1))
    body = equation(r"\nabla L", core * (x + core) * (y - core) + core**3, width=40)
    assert r"\text{where }" in body and "u_{1}" in body
    assert all(visible_width(r) <= 40 + 6 for r in _lines(body))


def test_small_matrix_is_shown_whole_and_big_one_entry_by_entry():
    assert (
        matrix_block("H", sp.Matrix([[2, 0], [0, 6]]))
        == r"H &= \left[\begin{matrix}2 & 0\\0 & 6\end{matrix}\right]"
    )
    xs = sp.symbols("x0:6")
    M = sp.Matrix(6, 6, lambda i, j: sp.sin(xs[i] * xs[j] + i) * sp.exp(xs[i] - xs[j] + j))
    body = matrix_block("H", M)
    rows = _lines(body)
    assert any("H_{" in r for r in rows)  # entries named
    assert all(visible_width(r) <= DEFAULT_WIDTH + 6 for r in rows)


def test_symmetric_matrix_entries_show_the_upper_triangle_once():
    a = sp.symbols("a0:5")
    M = sp.Matrix(
        5,
        5,
        lambda i, j: (
            sp.exp(a[min(i, j)] * a[max(i, j)])
            * sp.sin(a[i] + a[j] + 1)
            * sp.log(2 + a[i] ** 2 + a[j] ** 2)
        ),
    )
    body = matrix_block("H", M)
    assert "H_{12}" in body and "H_{21} &" not in body and r"\text{(symmetric)}" in body


def test_escape_text_neutralises_every_special_character():
    hostile = r"\input{/etc/passwd} 100% & $x_1$ # ^ ~ {}"
    out = escape_text(hostile)
    assert r"\input" not in out.replace(r"\textbackslash{}input", "")
    assert not re.search(
        r"(?<!\\)[%&$#_{}]",
        out.replace(r"\textbackslash{}", "")
        .replace(r"\textasciicircum{}", "")
        .replace(r"\textasciitilde{}", ""),
    )


def test_big_structured_matrices_print_as_one_symbol():
    assert matrix_block("H", 2 * sp.eye(6)) == "H &= 2 I_{6}"
    a = sp.symbols("a0:5")
    assert (
        matrix_block("D", sp.diag(*a))
        == r"D &= \operatorname{diag}\left(a_{0}, a_{1}, a_{2}, a_{3}, a_{4}\right)"
    )
    assert matrix_block("Z", sp.zeros(4, 5)) == r"Z &= 0_{4 \times 5}"
    # small ones stay explicit, and a non-diagonal big one is not abbreviated
    assert r"\begin{matrix}" in matrix_block("I", sp.eye(2))
    K = sp.Matrix(4, 4, lambda i, j: 1 if (i, j) in ((0, 0), (1, 2), (2, 1), (3, 3)) else 0)
    assert r"\begin{matrix}" in matrix_block("K", K)

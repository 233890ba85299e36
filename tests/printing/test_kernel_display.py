"""Rich display of matrix-form kernels: MatrixKernel and ArrayKernel show maths and shapes."""

from __future__ import annotations

import sympy as sp

import symcalc as sc
from symcalc.expr.structure import matrix_symbol, squared_error, vector
from symcalc.printing.display import RichDisplay


def _least_squares():
    A, x, b = matrix_symbol("A", "m", "n"), vector("x", "n"), vector("b", "m")
    return squared_error(A, x, b), x, [A, b]


def _check(k, name):
    assert isinstance(k, RichDisplay)
    page, tex = k._repr_html_(), k._repr_latex_()
    assert page.count("<math") >= 4 and f"<strong>{name}</strong>" in page
    assert "<code>hessian(x, A, b)</code>" in page and "<pre>" not in page
    assert "symcalc " + name not in page  # not the repr
    assert tex.startswith("$$f = ") and tex.endswith("$$")
    assert r"x \in \mathbb{R}^{n}" in tex and r"A \in \mathbb{R}^{m \times n}" in tex


def test_a_matrix_kernel_shows_its_objective_variable_and_parameter_shapes():
    f, x, params = _least_squares()
    k = sc.compile(f, x, params=params)
    assert type(k).__name__ == "MatrixKernel"
    _check(k, "MatrixKernel")


def test_an_array_kernel_shows_its_objective_variable_and_parameter_shapes():
    f, x, params = _least_squares()
    k = sc.compile_array_api(f, x, params=params)
    _check(k, "ArrayKernel")
    assert "backend array_api" in k._repr_html_()


def test_an_explicit_array_kernel_falls_back_to_the_scalar_kernel_display():
    x, y = sp.symbols("x y")
    k = sc.compile_array_api(x**2 + x * y, [x, y])
    page = k._repr_html_()
    assert "<math" in page and "(..., 2, 2)" in page

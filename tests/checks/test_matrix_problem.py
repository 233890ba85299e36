"""The one is_matrix_problem, and every route that uses it agrees on ImmutableMatrix."""

from __future__ import annotations

import pytest
import sympy as sp

import symcalc as sc
from symcalc.inputs import is_matrix_problem

x, y = sp.symbols("x y")
A = sp.MatrixSymbol("A", 3, 3)
v = sp.MatrixSymbol("v", 3, 1)
F = [x**2 * y, sp.sin(x) + y**3]


@pytest.mark.parametrize(
    "f, wrt, expected",
    [
        (sp.ImmutableMatrix(F), [x, y], False),
        (sp.Matrix(F), [x, y], False),
        (sp.ImmutableMatrix(F), sp.ImmutableMatrix([x, y]), False),
        (F, [x, y], False),
        (tuple(F), (x, y), False),
        (x**2 * y, [x, y], False),
        (x**2, x, False),
        ((v.T * A * v)[0, 0], v, True),
        (v.T * A * v, v, True),
        (sp.Trace(A), A, True),
        (sp.Trace(A) * x, [x], True),  # written with a MatrixSymbol
        ([x * y, sp.Trace(A)], [x, y], True),
        (x**2, v, True),  # a MatrixSymbol variable
        (sp.Matrix([x]), v, True),
    ],
)
def test_is_matrix_problem(f, wrt, expected):
    assert is_matrix_problem(f, wrt) is expected


def test_the_copies_are_the_one_test():
    from symcalc.codegen import array_api, kernels
    from symcalc.derivation import api, walker

    cases = [(sp.ImmutableMatrix(F), [x, y]), (sp.Matrix(F), [x, y]), ((v.T * A * v), v)]
    for f, wrt in cases:
        want = is_matrix_problem(f, wrt)
        assert walker._is_matrix_problem(f, wrt) is want
        assert api._is_matrix_problem(f, wrt) is want
        assert kernels._is_matrix_problem(f, wrt, []) is want
        assert array_api._is_matrix_problem(f, wrt) is want


@pytest.mark.parametrize("make", [sp.Matrix, sp.ImmutableMatrix, list])
def test_derive_and_jacobian_take_every_kind_of_explicit_vector(make):
    """sc.derive(ImmutableMatrix) used to raise while Matrix worked: one answer now,
    checked against SymPy's own jacobian."""
    truth = sp.Matrix(F).jacobian([x, y])
    assert sc.derive(make(F), [x, y]).results["jacobian"] == truth
    assert sp.Matrix(sc.jacobian(make(F), [x, y])) == truth


def test_gradient_of_a_scalar_in_a_1x1_immutable_matrix_context():
    f = x**2 * y
    truth = sp.Matrix([sp.diff(f, s) for s in (x, y)])
    assert sc.gradient(f, sp.ImmutableMatrix([x, y])) == truth
    assert sc.derive(f, sp.ImmutableMatrix([x, y])).results["gradient"] == truth

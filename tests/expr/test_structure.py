"""Declared structure and the loss-writing helpers."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy import MatrixSymbol, Trace
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symcalc.errors import InputError, ShapeError
from symcalc.expr.functions import sigmoid
from symcalc.expr.structure import (
    DiagonalMatrixSymbol,
    PositiveDefiniteMatrixSymbol,
    SymmetricMatrixSymbol,
    as_scalar,
    diagonal,
    dim,
    dot,
    elementwise,
    hadamard,
    hadamard_power,
    logsumexp,
    matrix_symbol,
    norm,
    norm_squared,
    ones,
    positive_definite,
    quadratic_form,
    softmax,
    softmax_cross_entropy,
    structure_of,
    sum_entries,
    symmetric,
    vector,
)


def test_symmetric_transposes_to_itself():
    S = symmetric("S", "n")
    assert S.T == S and S.I.T == S.I and (S**2).T == S**2
    assert isinstance(S, MatrixSymbol) and structure_of(S) == "symmetric"


def test_positive_definite_and_diagonal_are_symmetric():
    P, D = positive_definite("P", 3), diagonal("D", 3)
    assert isinstance(P, SymmetricMatrixSymbol) and isinstance(P, PositiveDefiniteMatrixSymbol)
    assert isinstance(D, DiagonalMatrixSymbol) and D.T == D
    assert structure_of(P) == "positive_definite" and structure_of(D) == "diagonal"
    assert structure_of(matrix_symbol("A", 2, 3)) == "general"


def test_structure_survives_substitution():
    n = sp.Symbol("n", integer=True, positive=True)
    S = symmetric("S", "n")
    assert structure_of(S.xreplace({n: 4})) == "symmetric"


def test_shapes_and_dimensions():
    assert vector("x", 4).shape == (4, 1)
    assert matrix_symbol("X", "m", "n").shape == (dim("m"), dim("n"))
    assert dim("n").is_integer and dim("n").is_positive
    for bad in (0, -1, "2n", True, 1.5):
        with pytest.raises(InputError):
            dim(bad)
    with pytest.raises(InputError):
        vector("", 3)


def test_scalar_helpers():
    x, a = vector("x", "n"), vector("a", "n")
    A = matrix_symbol("A", "n", "n")
    assert as_scalar(x.T * x) == Trace(x.T * x)
    assert dot(a, x) == Trace(a.T * x)
    assert quadratic_form(x, A) == Trace(x.T * A * x)
    assert norm_squared(x) == Trace(x.T * x) and norm(x) == sp.sqrt(Trace(x.T * x))
    with pytest.raises(ShapeError):
        as_scalar(x)
    with pytest.raises(ShapeError):
        dot(a, vector("b", "m"))


def test_elementwise_helpers():
    X = matrix_symbol("X", 2, 3)
    e = elementwise(sigmoid, X)
    assert isinstance(e, ElementwiseApplyFunction) and e.shape == (2, 3)
    assert elementwise(sigmoid, X) == elementwise(sigmoid, X)  # one bound variable
    assert elementwise(lambda t: t**2, X).shape == (2, 3)
    assert isinstance(hadamard(X, X), sp.HadamardProduct)
    assert isinstance(hadamard_power(X, 2), sp.HadamardPower)
    with pytest.raises(ShapeError):
        hadamard(X, matrix_symbol("Y", 3, 2))
    with pytest.raises(InputError):
        elementwise(3, X)
    assert ones(3).shape == (3, 1) and ones(2, 3).shape == (2, 3)


def test_sum_entries_softmax_logsumexp():
    z, y = vector("z", 3), vector("y", 3)
    X = matrix_symbol("X", 2, 3)
    assert sum_entries(X) == Trace(sp.OneMatrix(1, 2) * X * sp.OneMatrix(3, 1))
    assert softmax(z).shape == (3, 1)
    assert logsumexp(z).func == sp.log
    assert softmax_cross_entropy(z, y) == logsumexp(z) - Trace(y.T * z)
    with pytest.raises(ShapeError):
        softmax_cross_entropy(z, vector("y", 2))


def test_numeric_values_of_helpers():
    import numpy as np

    from symcalc.derivation.matrix import to_explicit

    z = vector("z", 3)
    zv = np.array([[0.3], [-1.2], [2.0]])
    env = {z: sp.ImmutableMatrix(zv)}
    lse = float(sp.N(to_explicit(logsumexp(z), env)))
    assert abs(lse - np.log(np.exp(zv).sum())) < 1e-12
    sm = np.array(to_explicit(softmax(z), env).evalf(), dtype=float)
    assert np.allclose(sm, np.exp(zv) / np.exp(zv).sum())

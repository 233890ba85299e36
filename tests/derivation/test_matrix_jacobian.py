"""Jacobians of matrix-valued functions: d vec(F) / d vec(X)^T in closed form (issue 14).

Each identity is checked (a) in closed form at symbolic sizes, against the formula a person
writes, (b) at two concrete sizes against SymPy's elementwise derivative (``as_explicit()``
then ``sp.diff``) and (c) against central differences of a hand-written NumPy function.
The engine's self-checks are off (check=False) so the routes stay independent of it.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from sympy import Identity, Inverse, KroneckerProduct
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixElement

import symcalc as sc
from symcalc.derivation.vecform import CommutationMatrix, Vec

sys.path.insert(0, os.path.dirname(__file__))
from matrix_routes import (  # noqa: E402
    assert_close,
    central_jacobian,
    closed_value,
    sympy_jacobian,
    well_conditioned,
)

m, n, p, q = (sp.Symbol(s, integer=True, positive=True) for s in "mnpq")
X = sc.matrix_symbol("X", "m", "n")
Xs = sc.matrix_symbol("X", "n", "n")
A = sc.matrix_symbol("A", "p", "m")
B = sc.matrix_symbol("B", "n", "q")
An = sc.matrix_symbol("A", "n", "n")
W = sc.matrix_symbol("W", "m", "n")
x = sc.vector("x", "n")
b = sc.vector("b", "m")
tanh = lambda M: sc.elementwise(sp.tanh, M)  # noqa: E731
exp = lambda M: sc.elementwise(sp.exp, M)  # noqa: E731
SIZES = [{m: 2, n: 3, p: 4, q: 2}, {m: 3, n: 2, p: 2, q: 3}]
SQUARE_SIZES = [{n: 2}, {n: 3}]

# name, F, variable, expected closed form (None: only the numbers are compared), NumPy F
CASES = [
    ("AXB", A * X * B, X, KroneckerProduct(B.T, A), lambda v, c: c["A"] @ v @ c["B"]),
    (
        "inverse",
        Xs.I,
        Xs,
        -KroneckerProduct(Inverse(Xs.T), Inverse(Xs)),
        lambda v, c: np.linalg.inv(v),
    ),
    (
        "XtX",
        X.T * X,
        X,
        (CommutationMatrix(n, n) + Identity(n * n)) * KroneckerProduct(Identity(n), X.T),
        lambda v, c: v.T @ v,
    ),
    (
        "XXt",
        X * X.T,
        X,
        (CommutationMatrix(m, m) + Identity(m * m)) * KroneckerProduct(X, Identity(m)),
        lambda v, c: v @ v.T,
    ),
    ("transpose", X.T, X, CommutationMatrix(m, n), lambda v, c: v.T),
    (
        "elementwise tanh",
        tanh(X),
        X,
        DiagMatrix(Vec(sp.OneMatrix(m, n) - sp.HadamardPower(tanh(X), 2))),
        lambda v, c: np.tanh(v),
    ),
    ("elementwise exp", exp(X), X, DiagMatrix(Vec(exp(X))), lambda v, c: np.exp(v)),
    (
        "A tanh(X) B",
        A * tanh(X) * B,
        X,
        None,
        lambda v, c: c["A"] @ np.tanh(v) @ c["B"],
    ),
    ("XAX", Xs * An * Xs, Xs, None, lambda v, c: v @ c["A"] @ v),
    ("hadamard square", sc.hadamard(X, X), X, 2 * DiagMatrix(Vec(X)), lambda v, c: v * v),
    ("Wx (vector of a matrix)", W * x, W, KroneckerProduct(x.T, Identity(m)), None),
    ("tanh(Wx + b)", tanh(W * x + b), W, None, None),
    (
        "xx^T (matrix of a vector)",
        x * x.T,
        x,
        (CommutationMatrix(n, n) + Identity(n * n)) * KroneckerProduct(x, Identity(n)),
        lambda v, c: v @ v.T,
    ),
]

NUMPY_VECTOR = {
    "Wx (vector of a matrix)": lambda v, c: v @ c["x"],
    "tanh(Wx + b)": lambda v, c: np.tanh(v @ c["x"] + c["b"]),
}


def _values(F, V, sizes, seed):
    rng = np.random.default_rng(seed)
    values = {}
    for M in F.atoms(sp.MatrixSymbol) | {V}:
        shape = tuple(
            int(s.xreplace({k: sp.Integer(v) for k, v in sizes.items()})) for s in M.shape
        )
        values[M] = well_conditioned(rng, shape)
    return values


def _sizes_for(V):
    return SQUARE_SIZES if V.rows == V.cols and V.rows != 1 and V is not X else SIZES


@pytest.mark.parametrize("name, F, V, expected, fn", CASES, ids=[c[0] for c in CASES])
def test_closed_form_at_symbolic_size(name, F, V, expected, fn):
    J = sc.derive(F, V, check=False).results["jacobian"]
    assert J.shape == (F.rows * F.cols, V.rows * V.cols)
    assert not J.atoms(MatrixElement), "index soup: the result names single entries"
    if expected is not None:
        assert J == expected, f"{J} != {expected}"


@pytest.mark.parametrize("name, F, V, expected, fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("which", [0, 1])
def test_against_sympy_and_central_differences(name, F, V, expected, fn, which):
    sizes = _sizes_for(V)[which]
    J = sc.derive(F, V, check=False).results["jacobian"]
    values = _values(F, V, sizes, seed=which + 7)
    ours = closed_value(J, sizes, values)
    assert_close(ours, sympy_jacobian(F, V, sizes, values), rtol=1e-9, atol=1e-9)
    fn = fn or NUMPY_VECTOR[name]
    consts = {M.name: v for M, v in values.items() if M != V}
    assert_close(ours, central_jacobian(lambda a: fn(a, consts), values[V]))


@pytest.mark.parametrize("which", [0, 1])
def test_XtX_matches_the_two_term_textbook_form(which):
    """(I + K_nn)(I kron X^T) = (X^T kron I) K_mn + (I kron X^T): vec(dX^T X) + vec(X^T dX)."""
    sizes = SIZES[which]
    J = sc.jacobian(X.T * X, X)
    textbook = KroneckerProduct(X.T, Identity(n)) * CommutationMatrix(m, n) + KroneckerProduct(
        Identity(n), X.T
    )
    values = _values(X.T * X, X, sizes, seed=3)
    assert_close(closed_value(J, sizes, values), closed_value(textbook, sizes, values), 1e-12)


def test_public_jacobian_runs_the_self_checks_and_keeps_vector_layout():
    d = sc.derive(A * X * B, X)
    assert d.all_checks_passed and len(d.checks) == 2
    assert "pq x mn" in d.meta["jacobian_convention"]
    Am = sc.matrix_symbol("A", "m", "n")
    assert sc.jacobian(Am * x, x) == Am  # vectors keep the m x n layout
    assert sc.jacobian(A * X * B, X) == KroneckerProduct(B.T, A)


def test_a_hessian_of_a_matrix_function_is_refused_with_a_clear_error():
    with pytest.raises(sc.ShapeError, match="needs a scalar function"):
        sc.derive(A * X * B, X, order=2)

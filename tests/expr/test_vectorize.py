"""vec / vech and the duplication, elimination and commutation matrices."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symcalc as sc

SIZES = [(1, 1), (2, 2), (2, 3), (3, 2), (1, 4), (4, 3)]


def random_int_matrix(m, n, seed):
    rng = np.random.default_rng(seed)
    return sp.Matrix(rng.integers(-9, 10, size=(m, n)).tolist())


def test_vec_of_the_seed_2x3_example():
    a, b, c, d, e, f = sp.symbols("a b c d e f")
    A = sp.Matrix([[a, b, c], [d, e, f]])
    assert list(sc.vec(A)) == [a, d, b, e, c, f]  # column-major
    assert list(sc.vec(A, order="row")) == [a, b, c, d, e, f]  # row-major
    assert sc.vec(A)[-1] == f


@pytest.mark.parametrize("m, n", SIZES)
def test_vec_agrees_with_numpy_fortran_and_c_order(m, n):
    A = random_int_matrix(m, n, m * 10 + n)
    An = np.array(A, dtype=float)
    np.testing.assert_array_equal(np.array(sc.vec(A), dtype=float).ravel(), An.ravel(order="F"))
    np.testing.assert_array_equal(
        np.array(sc.vec(A, "row"), dtype=float).ravel(), An.ravel(order="C")
    )
    np.testing.assert_array_equal(sc.vec(An).ravel(), An.ravel(order="F"))
    # row-major vec of A is column-major vec of A^T
    assert sc.vec(A, "row") == sc.vec(A.T)


@pytest.mark.parametrize("m, n", SIZES)
@pytest.mark.parametrize("order", ["col", "row"])
def test_unvec_inverts_vec(m, n, order):
    A = random_int_matrix(m, n, 7 * m + n)
    assert sc.unvec(sc.vec(A, order), (m, n), order) == A
    An = np.array(A, dtype=float)
    np.testing.assert_array_equal(sc.unvec(sc.vec(An, order), (m, n), order), An)


@pytest.mark.parametrize("m, n", SIZES)
def test_commutation_matrix(m, n):
    A = random_int_matrix(m, n, m + 5 * n)
    K = sc.commutation_matrix(m, n)
    assert K.shape == (m * n, m * n)
    assert K * sc.vec(A) == sc.vec(A.T)
    assert K.T == sc.commutation_matrix(n, m)
    assert K.T * K == sp.eye(m * n)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_duplication_and_elimination(n):
    B = random_int_matrix(n, n, n)
    S = B + B.T
    D, L = sc.duplication_matrix(n), sc.elimination_matrix(n)
    assert D.shape == (n * n, n * (n + 1) // 2)
    assert L.shape == (n * (n + 1) // 2, n * n)
    assert D * sc.vech(S) == sc.vec(S)
    assert L * sc.vec(B) == sc.vech(B)  # any square matrix, symmetric or not
    assert L * D == sp.eye(n * (n + 1) // 2)
    # D^+ = (D^T D)^-1 D^T recovers vech from vec of a symmetric matrix
    Dplus = (D.T * D).inv() * D.T
    assert Dplus * sc.vec(S) == sc.vech(S)
    # K D = D: the commutation matrix leaves symmetric matrices alone
    assert sc.commutation_matrix(n, n) * D == D


def test_vech_shows_symmetry_as_repeated_entries():
    a, b, c = sp.symbols("a b c")
    S = sp.Matrix([[a, b], [b, c]])
    assert list(sc.vec(S)) == [a, b, b, c]
    assert list(sc.vech(S)) == [a, b, c]


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 10**6),
)
def test_vec_AXB_equals_kron_BT_A_vec_X(p, m, n, q, seed):
    A = random_int_matrix(p, m, seed)
    X = random_int_matrix(m, n, seed + 1)
    B = random_int_matrix(n, q, seed + 2)
    assert sc.vec(A * X * B) == sp.kronecker_product(B.T, A) * sc.vec(X)


def test_vec_AXB_symbolically_at_2x2():
    A = sp.Matrix(2, 2, sp.symbols("a0:4"))
    X = sp.Matrix(2, 2, sp.symbols("x0:4"))
    B = sp.Matrix(2, 2, sp.symbols("b0:4"))
    assert (sc.vec(A * X * B) - sp.kronecker_product(B.T, A) * sc.vec(X)).expand() == sp.zeros(4, 1)


def test_matrix_symbol_of_concrete_size_is_vectorized_by_entries():
    X = sp.MatrixSymbol("X", 2, 2)
    assert list(sc.vec(X)) == [X[0, 0], X[1, 0], X[0, 1], X[1, 1]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sc.vec(sp.Matrix([[1, 2]]), order="diagonal"), "order must be"),
        (lambda: sc.vech(sp.Matrix([[1, 2, 3], [4, 5, 6]])), "square"),
        (lambda: sc.unvec(sp.Matrix([1, 2, 3]), (2, 2)), "cannot be rolled"),
        (lambda: sc.duplication_matrix(0), "positive integer"),
        (lambda: sc.commutation_matrix(2.5, 2), "positive integer"),
        (lambda: sc.vech(sp.MatrixSymbol("X", sp.Symbol("n"), sp.Symbol("n"))), "symbolic size"),
        (lambda: sc.vec("A"), "must be a SymPy Matrix"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_symbolic_sizes_give_the_closed_forms():
    """vec and K of symbolic size are Vec(X) and CommutationMatrix(m, n) (issue 13), and
    agree with the explicit ones once the sizes are substituted."""
    from symcalc.expr.structure import dim

    m, n = dim("m"), dim("n")
    X = sp.MatrixSymbol("X", m, n)
    V, K = sc.vec(X), sc.commutation_matrix(m, n)
    assert type(V).__name__ == "Vec" and V.shape == (m * n, 1)
    assert type(K).__name__ == "CommutationMatrix" and K.shape == (m * n, m * n)
    X23 = sp.Matrix(2, 3, sp.symbols("a:6"))
    V23 = sp.Matrix([V._entry(i, 0) for i in range(6)]).subs({m: 2, n: 3})
    assert V23 == sc.vec(sp.MatrixSymbol("X", 2, 3))
    K23 = K.subs({m: 2, n: 3}).as_explicit()
    assert K23 == sc.commutation_matrix(2, 3)
    assert K23 * sc.vec(X23) == sc.vec(X23.T)
    assert sc.vec(X, order="row") == sc.vec(X.T)

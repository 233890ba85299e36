"""Closed-form gradients, Hessians and Jacobians of the ML problems the issue names.

Every result is compared (1) with the formula a person writes, structurally where
the issue fixes the form and numerically otherwise, (2) with sympy.diff of the
explicit-entry expression at a concrete size and (3) with central differences.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from sympy import Identity, KroneckerProduct, MatrixExpr, OneMatrix, Trace
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.derivation.matrix import (
    CommutationMatrix,
    Vec,
    collect,
    matrix_gradient,
    matrix_hessian,
    matrix_jacobian,
    normalize,
    to_explicit,
)
from symcalc.derivation.walker import derive
from symcalc.errors import InputError, NoRuleError, ShapeError
from symcalc.expr.functions import sigmoid, softplus
from symcalc.expr.structure import (
    as_scalar,
    diagonal,
    dot,
    elementwise,
    hadamard,
    logistic_loss,
    matrix_symbol,
    norm_squared,
    ones,
    positive_definite,
    softmax,
    softmax_cross_entropy,
    squared_error,
    sum_entries,
    symmetric,
    vector,
)

sys.path.insert(0, os.path.dirname(__file__))  # the shared identity checker
from test_cookbook import run_identity  # noqa: E402

n, m = sp.Symbol("n", integer=True, positive=True), sp.Symbol("m", integer=True, positive=True)
X = matrix_symbol("X", "m", "n")
A = matrix_symbol("A", "m", "n")
w, x = vector("w", "n"), vector("x", "n")
y, b = vector("y", "m"), vector("b", "m")
lam = sp.Symbol("lambda", positive=True)
SIZES = {n: 3, m: 4}


def s_of(z):
    return elementwise(sigmoid, z)


# --------------------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------------------
def test_logistic_regression_gradient_and_hessian_closed_forms():
    f = logistic_loss(X, w, y)
    d = derive(f, w, order=2)
    s = s_of(X * w)
    assert d.results["gradient"] == X.T * (s - y)
    assert d.results["hessian"] == X.T * DiagMatrix(sp.HadamardProduct(s, OneMatrix(m, 1) - s)) * X
    assert d.all_checks_passed and len(d.checks) == 4


def test_logistic_regression_three_routes():
    f = logistic_loss(X, w, y)
    G = X.T * (s_of(X * w) - y)
    run_identity("logistic-grad", f, w, G, "gradient", None, SIZES)
    s = s_of(X * w)
    H = X.T * DiagMatrix(hadamard(s, ones("m") - s)) * X
    run_identity("logistic-hess", f, w, H, "hessian", None, SIZES)


def test_logistic_loss_value_matches_numpy():
    rng = np.random.default_rng(0)
    Xv, wv, yv = rng.normal(size=(4, 3)), rng.normal(size=(3, 1)), rng.integers(0, 2, (4, 1))
    f = logistic_loss(X, w, y).xreplace(SIZES)
    env = {
        X.xreplace(SIZES): sp.ImmutableMatrix(Xv),
        w.xreplace(SIZES): sp.ImmutableMatrix(wv),
        y.xreplace(SIZES): sp.ImmutableMatrix(yv),
    }
    z = Xv @ wv
    expected = float(np.sum(np.logaddexp(0, z)) - (yv.T @ z)[0, 0])
    assert abs(float(sp.N(to_explicit(f, env))) - expected) < 1e-10


def test_logistic_loss_with_plus_minus_labels():
    """1^T softplus(-y o Xw): gradient -X^T (y o sigma(-y o Xw))."""
    f = sum_entries(elementwise(softplus, -hadamard(y, X * w)))
    z = hadamard(y, X * w)
    G = -X.T * hadamard(y, s_of(-z))
    run_identity("logistic-pm", f, w, G, "gradient", None, SIZES)


# --------------------------------------------------------------------------------------
# Least squares and ridge
# --------------------------------------------------------------------------------------
def test_least_squares_closed_forms():
    f = squared_error(A, x, b)
    d = derive(f, x, order=2)
    assert d.results["gradient"] == 2 * A.T * (A * x - b)
    assert d.results["hessian"] == 2 * A.T * A
    run_identity("lsq", f, x, 2 * A.T * (A * x - b), "gradient", None, SIZES)
    run_identity("lsq-h", f, x, 2 * A.T * A, "hessian", None, SIZES)


def test_ridge_closed_forms():
    f = squared_error(A, x, b) + lam * norm_squared(x)
    d = derive(f, x, order=2)
    G, H = d.results["gradient"], d.results["hessian"]
    assert G == 2 * lam * x + 2 * A.T * (A * x - b)
    assert H == 2 * lam * Identity(n) + 2 * A.T * A
    run_identity("ridge", f, x, 2 * A.T * (A * x - b) + 2 * lam * x, "gradient", None, SIZES)
    run_identity("ridge-h", f, x, 2 * A.T * A + 2 * lam * Identity(n), "hessian", None, SIZES)


def test_least_squares_gradient_wrt_the_matrix():
    f = squared_error(A, x, b)
    run_identity("lsq-A", f, A, 2 * (A * x - b) * x.T, "gradient", None, SIZES)


# --------------------------------------------------------------------------------------
# Softmax cross-entropy
# --------------------------------------------------------------------------------------
def test_softmax_cross_entropy():
    z, t = vector("z", "n"), vector("t", "n")
    f = softmax_cross_entropy(z, t)
    p = softmax(z)
    run_identity("softmax-ce", f, z, p - t, "gradient", None, SIZES)
    run_identity("softmax-ce-h", f, z, DiagMatrix(p) - p * p.T, "hessian", None, SIZES)


def test_softmax_regression_weights():
    W = matrix_symbol("W", "m", "n")
    t = vector("t", "m")
    f = softmax_cross_entropy(W * x, t)
    run_identity("softmax-W", f, W, (softmax(W * x) - t) * x.T, "gradient", None, SIZES)


# --------------------------------------------------------------------------------------
# A two-layer tanh network
# --------------------------------------------------------------------------------------
def test_two_layer_tanh_network_gradients():
    Xd = matrix_symbol("X", "m", "p")
    W1, W2 = matrix_symbol("W1", "p", "h"), matrix_symbol("W2", "h", "k")
    Y = matrix_symbol("Y", "m", "k")
    H = elementwise(sp.tanh, Xd * W1)
    f = norm_squared(H * W2 - Y)
    R = H * W2 - Y
    sizes = {
        sp.Symbol(s, integer=True, positive=True): v
        for s, v in {"m": 3, "p": 2, "h": 3, "k": 2}.items()
    }
    G2 = 2 * H.T * R
    G1 = 2 * Xd.T * hadamard(R * W2.T, ones("m", "h") - sp.HadamardPower(H, 2))
    assert derive(f, W2).results["gradient"] == G2
    run_identity("net-W2", f, W2, G2, "gradient", None, sizes)
    run_identity("net-W1", f, W1, G1, "gradient", None, sizes)


# --------------------------------------------------------------------------------------
# Jacobians and Hessians in vec / Kronecker form
# --------------------------------------------------------------------------------------
def test_jacobian_of_linear_map_and_sigmoid():
    assert matrix_jacobian(A * x, x) == A
    J = derive(s_of(X * w), w).results["jacobian"]
    s = s_of(X * w)
    assert J == DiagMatrix(sp.HadamardProduct(s, OneMatrix(m, 1) - s)) * X
    run_identity("jac-sigmoid", s_of(X * w), w, J, "jacobian", None, SIZES)


def test_jacobian_of_x_times_its_norm():
    f = x * as_scalar(x.T * x)
    run_identity(
        "jac-xnorm", f, x, Trace(x.T * x) * Identity(n) + 2 * x * x.T, "jacobian", None, SIZES
    )


def test_matrix_hessian_in_kronecker_form():
    Xm, Am = matrix_symbol("X", "n", "m"), matrix_symbol("A", "n", "n")
    H = matrix_hessian(Trace(Xm.T * Am * Xm), Xm)
    assert H == KroneckerProduct(Identity(m), Am + Am.T)
    run_identity("kron", Trace(Xm.T * Am * Xm), Xm, H, "hessian", None, SIZES)


def test_matrix_hessian_of_a_weighted_quadratic():
    Xm, Am, Bm = (
        matrix_symbol("X", "n", "m"),
        matrix_symbol("A", "n", "n"),
        matrix_symbol("B", "m", "m"),
    )
    f = Trace(Xm.T * Am * Xm * Bm)
    H = derive(f, Xm, order=2).results["hessian"]
    expected = KroneckerProduct(Bm.T, Am) + KroneckerProduct(Bm, Am.T)
    assert isinstance(H, sp.MatAdd) and all(isinstance(t, KroneckerProduct) for t in H.args)
    run_identity("kron-B", f, Xm, expected, "hessian", None, SIZES)


def test_matrix_hessian_with_transposed_differential_uses_the_commutation_matrix():
    Z, Bm = matrix_symbol("Z", "n", "n"), matrix_symbol("B", "n", "n")
    assert matrix_hessian(Trace(Z * Z), Z) == 2 * CommutationMatrix(n, n)
    run_identity("K", Trace(Z * Z), Z, 2 * CommutationMatrix(n, n), "hessian", None, SIZES)
    H = derive(Trace(Z * Bm * Z), Z, order=2).results["hessian"]
    run_identity("K-B", Trace(Z * Bm * Z), Z, H, "hessian", None, SIZES)
    assert H.has(CommutationMatrix)


def test_commutation_matrix_permutes_vec():
    K = to_explicit(CommutationMatrix(2, 3), {})
    Am = sp.Matrix(2, 3, lambda i, j: 10 * i + j)
    vec = lambda M: sp.Matrix([M[i, j] for j in range(M.cols) for i in range(M.rows)])  # noqa
    assert K * vec(Am) == vec(Am.T)
    assert CommutationMatrix(2, 3).T == CommutationMatrix(3, 2)


def test_hessian_wrt_a_diagonal_matrix_is_an_error_not_a_guess():
    Dg = diagonal("D", "n")
    with pytest.raises(NoRuleError, match="diagonal"):
        derive(Trace(Dg * Dg), Dg, order=2)


# --------------------------------------------------------------------------------------
# Scalar functions of matrix expressions (SymPy's own diff returns zero for some)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,f,wrt,expected",
    [
        (
            "log tr",
            sp.log(Trace(matrix_symbol("S", "n", "n"))),
            matrix_symbol("S", "n", "n"),
            Identity(n) / Trace(matrix_symbol("S", "n", "n")),
        ),
        ("1/(x^T x)", 1 / as_scalar(x.T * x), x, -2 * x / Trace(x.T * x) ** 2),
        ("sqrt tr(X^T X)", sp.sqrt(norm_squared(X)), X, X / sp.sqrt(Trace(X.T * X))),
        ("tr + tr", Trace(A.T * X) + Trace(X.T * X), X, A + 2 * X),
        ("exp(x^T x)", sp.exp(as_scalar(x.T * x)), x, 2 * sp.exp(Trace(x.T * x)) * x),
        ("sum exp", sum_entries(elementwise(sp.exp, X)), X, elementwise(sp.exp, X)),
        ("sum log", sum_entries(elementwise(sp.log, X)), X, sp.HadamardPower(X, -1)),
        ("sum sqrt", sum_entries(elementwise(sp.sqrt, X)), X, sp.HadamardPower(X, -sp.S.Half) / 2),
        (
            "sum x^3",
            sum_entries(elementwise(sp.Lambda(sp.Symbol("t"), sp.Symbol("t") ** 3), X)),
            X,
            3 * sp.HadamardPower(X, 2),
        ),
        ("sum softplus", sum_entries(elementwise(softplus, X)), X, s_of(X)),
        (
            "sum tanh",
            sum_entries(elementwise(sp.tanh, X)),
            X,
            OneMatrix(m, n) - sp.HadamardPower(elementwise(sp.tanh, X), 2),
        ),
        ("hadamard", Trace(A.T * hadamard(X, X)), X, 2 * hadamard(A, X)),
    ],
)
def test_scalar_functions_of_matrices(name, f, wrt, expected):
    run_identity(name, f, wrt, expected, "gradient", None, SIZES)


def test_sympy_zero_cases_are_not_zero_here():
    """SymPy 1.14 returns 0 for these; symcalc returns the right closed form."""
    S = matrix_symbol("S", "n", "n")
    assert matrix_gradient(sp.log(sp.det(S)), S) == S.T.I
    assert matrix_gradient(Trace(S) + Trace(S.T * S), S) == Identity(n) + 2 * S


# --------------------------------------------------------------------------------------
# Structure, simplification, errors
# --------------------------------------------------------------------------------------
def test_symmetry_is_used_in_the_result():
    Ssym = symmetric("S", "n")
    assert matrix_gradient(Trace(x.T * Ssym * x), x) == 2 * Ssym * x
    assert matrix_hessian(Trace(x.T * Ssym * x), x) == 2 * Ssym
    P = positive_definite("P", "n")
    assert matrix_gradient(Trace(x.T * P.I * x), x) == 2 * P.I * x


def test_gradient_wrt_symmetric_matrix_is_symmetric_part():
    Ssym = symmetric("S", "n")
    Bm = matrix_symbol("B", "n", "n")
    G = matrix_gradient(Trace(Bm * Ssym), Ssym)
    assert G == Bm / 2 + Bm.T / 2
    run_identity("sym-part", Trace(Bm * Ssym), Ssym, (Bm + Bm.T) / 2, "gradient", None, SIZES)


def test_collect_pulls_out_common_factors():
    Bm = matrix_symbol("B", "m", "n")
    assert collect(A * x + Bm * x) == (A + Bm) * x
    assert collect(X.T * y - X.T * b) == X.T * (y - b)
    assert collect(A * x) == A * x


def test_normalize_treats_one_by_one_as_scalar():
    assert normalize(x.T * x) == Trace(x.T * x)
    assert normalize(sp.log(x.T * x)) == sp.log(Trace(x.T * x))


def test_bad_inputs_raise_errors_in_user_terms():
    with pytest.raises(InputError, match="MatrixSymbol"):
        derive(Trace(X.T * X), X * w)
    with pytest.raises(ShapeError, match="scalar"):
        derive(sp.log(X), X)
    # a matrix-valued F has a Jacobian in vec form since issue 14 (X does not depend on w)
    assert derive(X, w).results["jacobian"] == sp.ZeroMatrix(m * n, n)
    with pytest.raises(InputError, match="order"):
        derive(Trace(X.T * X), X, order=3)


def test_unknown_construct_raises_no_rule_error_naming_it():
    Z = matrix_symbol("Z", "n", "n")
    with pytest.raises(NoRuleError, match="MatPow"):
        derive(Trace(sp.MatPow(Z, sp.Rational(1, 2))), Z)
    with pytest.raises(NoRuleError, match="floor"):  # Piecewise has a rule now (branchwise)
        derive(sp.floor(Trace(Z)), Z)


def test_gradient_of_a_constant_is_a_zero_matrix_from_the_constant_rule():
    G = matrix_gradient(Trace(A.T * A), X)
    assert G == sp.ZeroMatrix(m, n)


def test_to_explicit_agrees_with_numpy():
    rng = np.random.default_rng(1)
    Av, xv = rng.normal(size=(4, 3)), rng.normal(size=(3, 1))
    env = {A.xreplace(SIZES): sp.ImmutableMatrix(Av), x.xreplace(SIZES): sp.ImmutableMatrix(xv)}
    e = Trace((A * x).T * elementwise(sp.exp, A * x)).xreplace(SIZES)
    v = float(sp.N(to_explicit(e, env)))
    z = Av @ xv
    assert abs(v - float((z.T @ np.exp(z))[0, 0])) < 1e-9
    K = to_explicit(KroneckerProduct(Identity(2), sp.ImmutableMatrix(Av[:2, :2])), {})
    assert np.allclose(np.array(K, dtype=float), np.kron(np.eye(2), Av[:2, :2]))
    Dm = to_explicit(DiagMatrix(x.xreplace(SIZES)), env)
    assert np.allclose(np.array(Dm, dtype=float), np.diag(xv[:, 0]))


def test_results_are_closed_form_at_any_size():
    f = logistic_loss(X, w, y)
    small = derive(f, w, order=2, check=False)
    big = derive(f.xreplace({n: 200, m: 1000}), w.xreplace({n: 200}), order=2, check=False)
    assert big.results["hessian"] == small.results["hessian"].xreplace({n: 200, m: 1000})
    assert isinstance(big.results["hessian"], MatrixExpr)


def test_dot_helper_gradient():
    run_identity("dot", dot(b, A * x), x, A.T * b, "gradient", None, SIZES)


def test_derivatives_with_respect_to_scalar_parameters():
    f = squared_error(A, x, b) + lam * norm_squared(x)
    d = derive(f, lam, order=2)
    assert d.results["gradient"] == sp.Matrix([Trace(x.T * x)])
    assert d.results["hessian"] == sp.Matrix([[0]])
    s = sp.Symbol("s", positive=True)
    S = matrix_symbol("S", "n", "n")
    d = derive(sp.log(sp.det(s * S)) + Trace(s**2 * S), [s], order=2)
    assert sp.simplify(d.results["gradient"][0] - (n / s + 2 * s * Trace(S))) == 0
    assert d.all_checks_passed and len(d.checks) == 3


def test_collect_pulls_out_a_common_hadamard_factor():
    W1, W2 = matrix_symbol("W1", "h", "p"), matrix_symbol("W2", "k", "h")
    xp, t = vector("x", "p"), vector("t", "k")
    H = elementwise(sp.tanh, W1 * xp)
    f = softmax_cross_entropy(W2 * H, t)
    G = derive(f, W1).results["gradient"]
    g = ones("h") - sp.HadamardPower(H, 2)
    expected = hadamard(W2.T * (softmax(W2 * H) - t), g) * xp.T
    assert G.count(sp.HadamardProduct) == 1
    sizes = {
        sp.Symbol(s, integer=True, positive=True): v for s, v in {"h": 3, "p": 2, "k": 3}.items()
    }
    run_identity("net-softmax", f, W1, expected, "gradient", None, sizes)


@pytest.mark.parametrize(
    "name,f,expected",
    [
        (
            "1^T exp(Z) 1",
            sum_entries(elementwise(sp.exp, matrix_symbol("Z", "n", "m"))),
            DiagMatrix(Vec(elementwise(sp.exp, matrix_symbol("Z", "n", "m")))),
        ),
        (
            "tr(Z)^2",
            Trace(matrix_symbol("Z", "n", "n")) ** 2,
            2 * Vec(Identity(n)) * Vec(Identity(n)).T,
        ),
        (
            "log det Z",
            sp.log(sp.det(matrix_symbol("Z", "n", "n"))),
            -CommutationMatrix(n, n)
            * KroneckerProduct(matrix_symbol("Z", "n", "n").T.I, matrix_symbol("Z", "n", "n").I),
        ),
    ],
)
def test_matrix_hessians_with_vec_terms(name, f, expected):
    Z = next(iter(f.atoms(sp.MatrixSymbol)))
    run_identity(name, f, Z, expected, "hessian", None, SIZES)


def test_tanh_network_hessian_wrt_a_weight_matrix_is_checked():
    Xd, W1 = matrix_symbol("X", "m", "p"), matrix_symbol("W1", "p", "h")
    v, yv = vector("v", "h"), vector("y", "m")
    f = norm_squared(elementwise(sp.tanh, Xd * W1) * v - yv)
    d = derive(f, W1, order=2)
    assert d.all_checks_passed and isinstance(d.results["hessian"], MatrixExpr)

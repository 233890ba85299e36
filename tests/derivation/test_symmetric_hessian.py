"""Hessians with respect to a symmetric / positive definite matrix variable.

Convention (docs/matrix-calculus.md, sec. 2): for symmetric S (n x n) the Hessian is the
n^2 x n^2 matrix H_sym = N H N, N = (I + K_nn)/2, so that vec(V)^T H_sym vec(W) = d^2 f[V, W]
for symmetric V, W, and D^T H_sym D (D the duplication matrix) is the Hessian with respect
to the n(n+1)/2 free entries vech(S).

Every closed form is compared with routes that do not go through the engine: sympy.hessian
of the explicit-entry expression (written here by hand with sympy.Matrix) in the vech
entries, and second-order central differences of that explicit expression along random
symmetric directions, at random SPD numbers.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp
from sympy import Trace

import symcalc as sc
from symcalc.derivation.matrix import (
    CommutationMatrix,
    check_symmetric_hessian,
    derive_matrix,
    to_explicit,
)
from symcalc.errors import NoRuleError, SelfCheckError
from symcalc.expr.vectorize import duplication_matrix


# --------------------------------------------------------------------------------------
# Independent helpers (explicit matrices only)
# --------------------------------------------------------------------------------------
def rational(rng, lo=-100, hi=100):
    return sp.Rational(rng.randint(lo, hi), 100)


def random_spd(rng, n):
    B = sp.Matrix(n, n, lambda i, j: rational(rng))
    return sp.ImmutableMatrix(B * B.T + n * sp.eye(n))


def random_matrix(rng, r, c):
    return sp.ImmutableMatrix(r, c, lambda i, j: rational(rng))


def random_symmetric(rng, n):
    B = sp.Matrix(n, n, lambda i, j: rational(rng))
    return sp.ImmutableMatrix((B + B.T) / 2)


def symmetric_of_symbols(n):
    """The symmetric matrix of the vech symbols s_ij (i >= j) and the list in vech order."""
    free = [sp.Symbol(f"s_{i}{j}") for j in range(n) for i in range(j, n)]
    it = iter(free)
    S = sp.zeros(n, n)
    for j in range(n):
        for i in range(j, n):
            S[i, j] = S[j, i] = next(it)
    return sp.ImmutableMatrix(S), free


def vech_values(M):
    n = M.rows
    return [M[i, j] for j in range(n) for i in range(j, n)]


def vec(M):
    return sp.Matrix([M[i, j] for j in range(M.cols) for i in range(M.rows)])


def explicit_symmetrizer(n):
    K = sp.zeros(n * n, n * n)
    for i in range(n):
        for j in range(n):
            K[i * n + j, j * n + i] = 1  # K vec(A) = vec(A^T)
    return (sp.eye(n * n) + K) / 2


def vech_hessian_reference(f_of_S, n, point):
    """sympy.hessian of f(S(s)) in the free entries s = vech(S), at the SPD point."""
    S, free = symmetric_of_symbols(n)
    H = sp.hessian(f_of_S(S), free)
    return H.subs(dict(zip(free, vech_values(point))))


def second_difference(f_of_S, point, V, W, h=sp.Rational(1, 10**10)):
    """(f(S+hV+hW) - f(S+hV-hW) - f(S-hV+hW) + f(S-hV-hW)) / 4h^2, evaluated at 60 digits."""
    vals = [
        sp.N(f_of_S(sp.ImmutableMatrix(point + a * h * V + b * h * W)), 60)
        for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))
    ]
    return (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h * h)


def numbers(M):
    return [complex(sp.N(t, 30)) for t in M]


def assert_close(a, b, tol=1e-10):
    a, b = numbers(a), numbers(b)
    assert len(a) == len(b)
    scale = 1 + max(abs(t) for t in b)
    err = max(abs(u - v) for u, v in zip(a, b))
    assert err <= tol * scale, (err, a, b)


def ours_at(H, env):
    return sp.Matrix(to_explicit(H, env))


# --------------------------------------------------------------------------------------
# The Gaussian log-density with respect to Sigma
# --------------------------------------------------------------------------------------
def gaussian_explicit(xv, muv):
    n = xv.rows

    def f(S):
        r = xv - muv
        return -(r.T * S.inv() * r)[0] / 2 - sp.log(S.det()) / 2 - n * sp.log(2 * sp.pi) / 2

    return f


@pytest.mark.parametrize("n", [2, 3])
def test_gaussian_hessian_in_sigma_matches_sympy_in_the_vech_entries(n):
    rng = random.Random(100 + n)
    x, mu, Sigma = sc.vector("x", n), sc.vector("mu", n), sc.positive_definite("Sigma", n)
    H = sc.hessian(sc.gaussian_logpdf(x, mu, Sigma), Sigma)
    assert H.shape == (n * n, n * n)
    xv, muv, Sv = random_matrix(rng, n, 1), random_matrix(rng, n, 1), random_spd(rng, n)
    env = {x: xv, mu: muv, Sigma: Sv}
    ours = ours_at(H, env)
    D = duplication_matrix(n)
    ref = vech_hessian_reference(gaussian_explicit(xv, muv), n, Sv)
    assert_close(D.T * ours * D, ref)
    # and it is symmetric and lives on symmetric matrices: N H N = H
    N = explicit_symmetrizer(n)
    assert_close(ours, ours.T)
    assert_close(N * ours * N, ours)


@pytest.mark.parametrize("n", [2, 3])
def test_gaussian_hessian_in_sigma_against_central_differences(n):
    rng = random.Random(200 + n)
    x, mu, Sigma = sc.vector("x", n), sc.vector("mu", n), sc.positive_definite("Sigma", n)
    H = sc.hessian(sc.gaussian_logpdf(x, mu, Sigma), Sigma)
    xv, muv, Sv = random_matrix(rng, n, 1), random_matrix(rng, n, 1), random_spd(rng, n)
    ours = ours_at(H, {x: xv, mu: muv, Sigma: Sv})
    f = gaussian_explicit(xv, muv)
    for _ in range(2):
        V, W = random_symmetric(rng, n), random_symmetric(rng, n)
        bilinear = (vec(V).T * ours * vec(W))[0]
        assert_close([bilinear], [second_difference(f, Sv, V, W)], 1e-9)


def test_gaussian_hessian_with_symbolic_n_evaluates_correctly_at_n_3():
    n = sp.Symbol("n", integer=True, positive=True)
    x, mu, Sigma = sc.vector("x", n), sc.vector("mu", n), sc.positive_definite("Sigma", n)
    d = sc.derive(sc.gaussian_logpdf(x, mu, Sigma), Sigma, order=2)
    H = d.results["hessian"]
    assert H.shape == (n**2, n**2)
    rng = random.Random(7)
    xv, muv, Sv = random_matrix(rng, 3, 1), random_matrix(rng, 3, 1), random_spd(rng, 3)
    sizes = {n: 3}
    env = {x.xreplace(sizes): xv, mu.xreplace(sizes): muv, Sigma.xreplace(sizes): Sv}
    ours = ours_at(H.xreplace(sizes), env)
    D = duplication_matrix(3)
    assert_close(D.T * ours * D, vech_hessian_reference(gaussian_explicit(xv, muv), 3, Sv))
    # the gradient is unchanged by asking for the Hessian too
    assert d.results["gradient"] == sc.gradient(sc.gaussian_logpdf(x, mu, Sigma), Sigma)


# --------------------------------------------------------------------------------------
# log det S, tr(A S), tr(S^2), tr(S A S B)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3])
def test_log_det_hessian_is_minus_N_kron_of_inverses_N(n):
    rng = random.Random(300 + n)
    S = sc.positive_definite("S", n)
    H = sc.hessian(sp.log(sp.det(S)), S)
    Sv = random_spd(rng, n)
    ours = ours_at(H, {S: Sv})
    Si = Sv.inv()
    N = explicit_symmetrizer(n)
    by_hand = -N * sp.Matrix(sp.kronecker_product(Si, Si)) * N
    assert_close(ours, by_hand)
    D = duplication_matrix(n)
    assert_close(D.T * ours * D, vech_hessian_reference(lambda M: sp.log(M.det()), n, Sv))


def test_log_det_hessian_closed_form_with_symbolic_n():
    S = sc.symmetric("S", "n")
    H = sc.hessian(sp.log(sp.det(S)), S)
    assert H.has(sp.KroneckerProduct(S.I, S.I)) and H.has(CommutationMatrix(*S.shape))
    n = S.rows
    env = {S.xreplace({n: 3}): random_spd(random.Random(3), 3)}
    Si = env[S.xreplace({n: 3})].inv()
    N = explicit_symmetrizer(3)
    assert_close(ours_at(H.xreplace({n: 3}), env), -N * sp.Matrix(sp.kronecker_product(Si, Si)) * N)


@pytest.mark.parametrize("n", [2, 3, "n"])
def test_trace_of_A_S_has_zero_hessian(n):
    S, A = sc.symmetric("S", n), sc.matrix_symbol("A", n, n)
    d = sc.derive(Trace(A * S), S, order=2)
    H = d.results["hessian"]
    assert isinstance(H, sp.ZeroMatrix) and H.shape == (S.rows**2, S.rows**2)
    assert d.all_checks_passed and any("hessian wrt vech" in c.name for c in d.checks)
    if n != "n":  # the independent route agrees that it is zero
        Av = random_matrix(random.Random(4), n, n)
        ref = vech_hessian_reference(lambda M: (Av * M).trace(), n, random_spd(random.Random(5), n))
        assert ref == sp.zeros(*ref.shape)


@pytest.mark.parametrize("n", [2, 3])
def test_trace_of_S_squared_hessian_is_2N(n):
    S = sc.symmetric("S", n)
    H = sc.hessian(Trace(S * S), S)
    ours = ours_at(H, {S: random_spd(random.Random(6), n)})
    assert ours == 2 * explicit_symmetrizer(n)  # d^2 tr(S^2)[V, W] = 2 tr(VW)
    D = duplication_matrix(n)
    assert D.T * ours * D == vech_hessian_reference(lambda M: (M * M).trace(), n, sp.eye(n))


@pytest.mark.parametrize("n", [2, 3])
def test_trace_of_S_A_S_B_against_sympy_and_differences(n):
    rng = random.Random(400 + n)
    S, A, B = sc.symmetric("S", n), sc.matrix_symbol("A", n, n), sc.matrix_symbol("B", n, n)
    H = sc.hessian(Trace(S * A * S * B), S)
    Av, Bv, Sv = random_matrix(rng, n, n), random_matrix(rng, n, n), random_spd(rng, n)
    ours = ours_at(H, {S: Sv, A: Av, B: Bv})
    f = lambda M: (M * Av * M * Bv).trace()  # noqa: E731
    D = duplication_matrix(n)
    assert_close(D.T * ours * D, vech_hessian_reference(f, n, Sv))
    V, W = random_symmetric(rng, n), random_symmetric(rng, n)
    assert_close([(vec(V).T * ours * vec(W))[0]], [second_difference(f, Sv, V, W)], 1e-9)
    assert_close(ours, ours.T)


def test_antisymmetric_directions_are_annihilated():
    rng = random.Random(11)
    S, A = sc.positive_definite("S", 3), sc.matrix_symbol("A", 3, 3)
    f = sp.log(sp.det(S)) + Trace(S * A * S * A.T)
    H = ours_at(sc.hessian(f, S), {S: random_spd(rng, 3), A: random_matrix(rng, 3, 3)})
    B = random_matrix(rng, 3, 3)
    assert_close(H * vec(B - B.T), [0] * 9)


# --------------------------------------------------------------------------------------
# The Derivation: steps, checks, errors
# --------------------------------------------------------------------------------------
def test_derivation_records_the_rule_and_the_self_checks():
    n = 3
    x, mu, Sigma = sc.vector("x", n), sc.vector("mu", n), sc.positive_definite("Sigma", n)
    d = sc.derive(sc.gaussian_logpdf(x, mu, Sigma), Sigma, order=2)
    names = [c.name for c in d.checks]
    assert any(c.startswith("elementwise sympy.diff (hessian wrt vech") for c in names)
    assert "central differences (hessian, symmetric direction)" in names
    assert d.all_checks_passed
    rules = [s.rule.name for s in d.steps]
    assert "hessian_from_gradient" in rules and rules[-1] == "symmetric_hessian"
    assert d.steps[-1].after == d.results["hessian"]
    assert "N H N" in d.meta["hessian_convention"]


def test_a_wrong_hessian_is_caught_by_the_self_check():
    S = sc.symmetric("S", 3)
    f = sp.log(sp.det(S))
    d = derive_matrix(f, S, order=1)
    G = d.results["gradient"]
    wrong = -sp.KroneckerProduct(S.I, S.I.T * S.I)  # not the Hessian
    with pytest.raises(SelfCheckError, match="symmetric"):
        check_symmetric_hessian(d, f, S, G, wrong)
    assert not d.checks[-1].passed or not d.checks[-2].passed


def test_large_concrete_size_is_checked_at_a_small_size():
    S = sc.positive_definite("S", 6)
    d = sc.derive(sp.log(sp.det(S)), S, order=2)
    assert all("_d6" in c.name or "symmetric direction" in c.name for c in d.checks[2:])
    Sv = random_spd(random.Random(12), 6)
    Si = Sv.inv()
    N = explicit_symmetrizer(6)
    assert_close(
        ours_at(d.results["hessian"], {S: Sv}), -N * sp.Matrix(sp.kronecker_product(Si, Si)) * N
    )


def test_diagonal_matrix_hessian_is_still_a_named_error():
    Dg = sc.diagonal("D", "n")
    with pytest.raises(NoRuleError, match="diagonal"):
        sc.derive(Trace(Dg * Dg), Dg, order=2)


def test_general_matrix_hessian_at_a_concrete_size_of_9_entries():
    # regression: the self-check used to shrink I_9 of a 3 x 3 variable on its own
    X = sc.matrix_symbol("X", 3, 3)
    d = sc.derive(Trace(X.T * X), X, order=2)
    assert d.all_checks_passed
    assert ours_at(d.results["hessian"], {}) == 2 * sp.eye(9)

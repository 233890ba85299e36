"""Gradients, Hessians, Jacobians and field calculus against independent routes."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from cases_explicit import GOOD_POINTS, SCALAR_CASES, lennard_jones, morse, pair_energy
from helpers_numeric import central_gradient, complex_step_gradient, evaluate, numeric_function
from hypothesis import given, settings
from hypothesis import strategies as st

import symcalc as sc
from symcalc.checks.zero import is_zero

x, y, z, w = sp.symbols("x y z w", real=True)


def _point(name, n, seed=0):
    if name in GOOD_POINTS:
        return np.array(GOOD_POINTS[name])
    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_gradient_matches_sympy_diff_elementwise(name):
    f, syms = SCALAR_CASES[name]
    g = sc.gradient(f, syms)
    assert g.shape == (len(syms), 1)
    for gi, s in zip(g, syms):
        assert sp.simplify(gi - sp.diff(f, s)) == 0


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_gradient_matches_complex_step(name):
    f, syms = SCALAR_CASES[name]
    p = _point(name, len(syms))
    got = evaluate(sc.gradient(f, syms), syms, p).ravel()
    ref = complex_step_gradient(numeric_function(f, syms), p)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_hessian_is_symmetric_and_matches_central_differences_of_gradient(name):
    f, syms = SCALAR_CASES[name]
    H = sc.hessian(f, syms)
    assert H.shape == (len(syms), len(syms))
    assert H == H.T
    p = _point(name, len(syms), seed=1)
    grad_fn = sp.lambdify([syms], list(sp.Matrix([sp.diff(f, s) for s in syms])), "numpy")
    ref = np.array(
        [central_gradient(lambda q, i=i: grad_fn(list(q))[i], p, h=1e-5) for i in range(len(syms))]
    )
    np.testing.assert_allclose(evaluate(H, syms, p), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["rosenbrock5", "himmelblau", "trig_mix"])
def test_hessian_equals_sympys_hessian(name):
    f, syms = SCALAR_CASES[name]
    diff = sc.hessian(f, syms) - sp.hessian(f, syms)
    assert diff.applyfunc(sp.simplify) == sp.zeros(len(syms))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_logsumexp_gradient_is_softmax_at_random_points(p):
    f, syms = SCALAR_CASES["logsumexp"]
    g = evaluate(sc.gradient(f, syms), syms, p).ravel()
    e = np.exp(np.array(p) - max(p))
    np.testing.assert_allclose(g, e / e.sum(), rtol=1e-12)
    assert g.sum() == pytest.approx(1.0)


def test_gradient_accepts_a_column_matrix_and_a_single_symbol():
    assert sc.gradient(x**2 * y, sp.Matrix([x, y])) == sp.Matrix([2 * x * y, x**2])
    assert sc.gradient(sp.sin(x), x) == sp.Matrix([sp.cos(x)])


def test_gradient_keeps_the_users_symbol_assumptions():
    g = sc.gradient(x**2 * y, [x, y])
    assert g.free_symbols == {x, y}  # the real=True symbols, not plain look-alikes


def test_jacobian_polar_and_elementwise():
    r, t = sp.symbols("r t", positive=True)
    F = [r * sp.cos(t), r * sp.sin(t), r**2]
    J = sc.jacobian(F, [r, t])
    assert J.shape == (3, 2)
    assert J == sp.Matrix(3, 2, lambda i, j: sp.diff(F[i], [r, t][j]))
    p = np.array([1.3, 0.4])
    for i in range(3):
        ref = central_gradient(numeric_function(F[i], [r, t]), p)
        np.testing.assert_allclose(evaluate(J[i, :], [r, t], p).ravel(), ref, rtol=1e-7, atol=1e-8)


def test_hessian_is_jacobian_of_gradient():
    f, syms = SCALAR_CASES["himmelblau"]
    assert sc.hessian(f, syms) == sc.jacobian(sc.gradient(f, syms), syms)


def test_divergence_and_laplacian():
    assert sc.divergence([x**2, x * y, z], [x, y, z]) == 3 * x + 1
    f = sp.exp(x) * sp.sin(y)
    assert sp.simplify(sc.laplacian(f, [x, y])) == 0
    assert sc.laplacian(x**2 + y**2 + z**2, [x, y, z]) == 6


# --- curl and conservative fields -----------------------------------------------


def test_curl_of_rotational_field_is_2_ez_and_not_conservative():
    F = [-y, x, 0]
    assert sc.curl(F, [x, y, z]) == sp.Matrix([0, 0, 2])
    assert sc.is_conservative(F, [x, y, z]) is False
    with pytest.raises(sc.NotConservativeError) as err:
        sc.potential(F, [x, y, z])
    assert isinstance(err.value, ValueError)
    assert "curl" in str(err.value)


def test_curl_in_4d_is_the_antisymmetric_jacobian_part():
    F = [x * y, z * w, x**2 * w, sp.sin(y)]
    syms = [x, y, z, w]
    C = sc.curl(F, syms)
    assert C.shape == (4, 4)
    assert C == -C.T
    for i in range(4):
        for j in range(4):
            assert sp.simplify(C[i, j] - (sp.diff(F[j], syms[i]) - sp.diff(F[i], syms[j]))) == 0
    assert sc.is_conservative(F, syms) is False


def test_curl_in_3d_matches_the_nd_form():
    F = [y * z**2, x**3, sp.exp(x * y)]
    c3 = sc.curl(F, [x, y, z])
    J = sp.Matrix(3, 3, lambda i, j: sp.diff(F[i], [x, y, z][j]))
    A = J.T - J  # A[i, j] = dF_j/dx_i - dF_i/dx_j
    assert sp.simplify(c3 - sp.Matrix([A[1, 2], A[2, 0], A[0, 1]])) == sp.zeros(3, 1)


def test_potential_where_one_coordinate_is_not_enough():
    F = [y * z + sp.cos(x), x * z, x * y]
    phi = sc.potential(F, [x, y, z])
    assert sp.simplify(phi - (x * y * z + sp.sin(x))) == 0


@pytest.mark.parametrize("pair", [lennard_jones, morse], ids=["lennard_jones", "morse"])
def test_forces_from_a_pair_energy_are_curl_free(pair):
    E, syms = pair_energy(3, pair)
    F = [-g for g in sc.gradient(E, syms)]
    C = sc.curl(F, syms)
    p = GOOD_POINTS["lj_3atoms"]
    np.testing.assert_allclose(evaluate(C, syms, p), 0, atol=1e-9)
    assert sc.is_conservative(F, syms)


def test_lennard_jones_potential_in_cartesian_coordinates_recovers_minus_the_energy():
    E, syms = pair_energy(2, lennard_jones)
    F = [-sp.diff(E, s) for s in syms]  # independent of sc.gradient
    phi = sc.potential(F, syms)
    for s, Fi in zip(syms, F):
        assert is_zero(sp.diff(phi, s) - Fi)
    p = [0.1, 0.2, -0.3, 1.0, 0.9, 0.2]
    p2 = [0.0, 0.4, 0.1, -0.8, 0.3, 1.1]
    # phi = -E + const: the difference between two configurations agrees
    dphi = float(phi.subs(dict(zip(syms, p)))) - float(phi.subs(dict(zip(syms, p2))))
    dE = float(E.subs(dict(zip(syms, p)))) - float(E.subs(dict(zip(syms, p2))))
    assert dphi == pytest.approx(-dE, rel=1e-10)


def test_potential_of_gravity_decays_at_infinity():
    r = sp.sqrt(x**2 + y**2 + z**2)
    phi = sc.potential([-x / r**3, -y / r**3, -z / r**3], [x, y, z])
    assert sp.simplify(phi - 1 / r) == 0


def test_2d_potential_and_curl_matrix():
    F = [2 * x * y + 1, x**2]
    assert sc.curl(F, [x, y]) == sp.zeros(2, 2)
    assert sp.expand(sc.potential(F, [x, y]) - (x**2 * y + x)) == 0


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sc.gradient(sp.Matrix([x, y]), [x, y]), "scalar"),
        (lambda: sc.gradient("x**2", [x]), "never evaluates text"),
        (lambda: sc.gradient(x**2, [x, 2]), "not a Symbol"),
        (lambda: sc.gradient(x**2, [x * y]), "not a Symbol"),
        (lambda: sc.gradient(x**2, [x, x]), "twice"),
        (lambda: sc.gradient(x**2, []), "empty"),
        (lambda: sc.hessian(x**2, ["x"]), "never evaluates text"),
        (lambda: sc.curl([x, y], [x, y, z]), "2 components but there are 3 variables"),
        (lambda: sc.divergence([x, y, z], [x, y]), "3 components but there are 2"),
        (lambda: sc.jacobian(sp.Matrix([[x, y], [y, x]]), [x, y]), "vector"),
        (lambda: sc.jacobian(42, [x]), "sequence"),
    ],
)
def test_bad_input_names_the_problem(call, message):
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert isinstance(err.value, sc.SymcalcError)
    assert message in str(err.value)


def test_morse_potential_is_minus_the_energy_written_in_the_users_distance():
    E, syms = pair_energy(2, morse)
    F = [-sp.diff(E, s) for s in syms]
    phi = sc.potential(F, syms)
    p1 = dict(zip(syms, [0.1, 0.2, -0.3, 1.0, 0.9, 0.2]))
    p2 = dict(zip(syms, [0.0, 0.4, 0.1, -0.8, 0.3, 1.1]))
    assert float((phi + E).subs(p1)) == pytest.approx(float((phi + E).subs(p2)), abs=1e-12)
    assert "q0**2" not in str(phi)  # the distance stays (q0 - q3)**2 + ..., not expanded

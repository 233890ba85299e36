"""The C Hessian of the native backend (symcalc.codegen.c_kernel) against SymPy and differences.

Every kernel here is checked against SymPy's elementwise ``diff`` evaluated at the points and
against central differences of a hand-written NumPy gradient, at batch sizes that are and are
not multiples of the SIMD width, with parameters and with structurally zero Hessian entries.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.codegen import c_kernel

needs_cc = pytest.mark.skipif(c_kernel.compiler() is None, reason="no C compiler on PATH")


def _sympy_hessian(f, wrt, points, params=(), values=()):
    H = sp.hessian(f, wrt)
    fn = sp.lambdify(list(wrt) + list(params), H, "numpy")
    return np.array([np.array(fn(*p, *values), dtype=float) for p in points])


def _central_hessian(grad, x, h=1e-5):
    """Central differences of a hand-written gradient, column by column."""
    n = x.shape[-1]
    cols = []
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        cols.append((grad(x + e) - grad(x - e)) / (2 * h))
    return np.stack(cols, axis=-1)


def _lj(n_atoms):
    q = sp.symbols(f"q0:{3 * n_atoms}", real=True)
    terms = []
    for i, j in itertools.combinations(range(n_atoms), 2):
        r2 = sp.Add(*[(q[3 * i + a] - q[3 * j + a]) ** 2 for a in range(3)])
        terms.append(4 * (r2**-6 - r2**-3))
    return sp.Add(*terms), list(q)


def _lj_gradient(x, n_atoms):
    p = x.reshape(x.shape[:-1] + (n_atoms, 3))
    d = p[..., :, None, :] - p[..., None, :, :]
    r2 = np.sum(d * d, axis=-1)
    np.einsum("...ii->...i", r2)[...] = 1.0  # no self-pair
    coef = 4 * (-12 * r2**-7 + 6 * r2**-4)
    idx = np.arange(n_atoms)
    coef[..., idx, idx] = 0.0
    return np.sum(coef[..., None] * d, axis=-2).reshape(x.shape)


def _cluster(n_atoms, count, seed=0):
    rng = np.random.default_rng(seed)
    grid = np.array(list(itertools.product(range(2), repeat=3))[:n_atoms], dtype=float) * 1.12
    return (grid[None] + rng.uniform(-0.08, 0.08, (count, n_atoms, 3))).reshape(count, -1)


@needs_cc
@pytest.mark.parametrize("count", [1, 3, 4, 7])
def test_lennard_jones_hessian_matches_sympy_and_differences(count):
    f, q = _lj(4)
    k = sc.compile(f, q, backend="native")
    X = _cluster(4, count)
    H = k.hessian(X)
    assert isinstance(k._native._compiled["hessian"], c_kernel.CFunction)
    np.testing.assert_allclose(H, _sympy_hessian(f, q, X), rtol=1e-10, atol=1e-9)
    fd = _central_hessian(lambda y: _lj_gradient(y, 4), X)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-4 * np.abs(H).max())
    assert np.array_equal(H, np.swapaxes(H, -1, -2))


@needs_cc
def test_out_is_filled_and_zero_entries_are_written():
    x = sp.symbols("x0:5", real=True)
    f = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(4))  # tridiagonal
    k = sc.compile(f, list(x), backend="native")
    X = np.random.default_rng(1).normal(size=(6, 5))
    out = np.full((6, 5, 5), np.nan)
    assert k.hessian(X, out=out) is out
    ref = _sympy_hessian(f, x, X)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert np.all(out[:, 0, 2:] == 0)


@needs_cc
def test_parameters_and_batch_shapes():
    x, y, a = sp.symbols("x y a", real=True)
    f = a * x**3 * y**2 + (x - y) ** -2 / a
    k = sc.compile(f, [x, y], [a], backend="native")
    X = np.random.default_rng(2).uniform(1, 2, size=(2, 3, 2)) * np.array([1.0, -1.0])
    A = np.random.default_rng(3).uniform(0.5, 1.5, size=(2, 3))
    H = k.hessian(X, A)
    assert H.shape == (2, 3, 2, 2)
    flat = X.reshape(-1, 2)
    fn = sp.lambdify([x, y, a], sp.hessian(f, [x, y]), "numpy")
    ref = np.array([fn(*p, c) for p, c in zip(flat, A.ravel())], dtype=float).reshape(H.shape)
    np.testing.assert_allclose(H, ref, rtol=1e-12)
    assert isinstance(k._native._compiled["hessian"], c_kernel.CFunction)


def test_a_function_c_does_not_print_goes_to_llvm():
    x, y = sp.symbols("x y", real=True)
    f = sp.exp(x * y) + x**2
    k = sc.compile(f, [x, y], backend="native")
    X = np.random.default_rng(4).normal(size=(5, 2))
    np.testing.assert_allclose(k.hessian(X), _sympy_hessian(f, [x, y], X), rtol=1e-12)
    assert not isinstance(k._native._compiled["hessian"], c_kernel.CFunction)


def test_without_a_compiler_llvm_compiles_the_hessian(monkeypatch):
    monkeypatch.setenv("SYMCALC_CC", "")
    assert c_kernel.compiler() is None
    f, q = _lj(3)
    k = sc.compile(f, q, backend="native")
    X = _cluster(3, 5)
    np.testing.assert_allclose(k.hessian(X), _sympy_hessian(f, q, X), rtol=1e-10, atol=1e-9)
    assert not isinstance(k._native._compiled["hessian"], c_kernel.CFunction)


@needs_cc
def test_split_units_give_the_same_hessian(monkeypatch):
    monkeypatch.setattr(c_kernel, "PARALLEL_STATEMENTS", 10)
    monkeypatch.setattr(c_kernel, "CHUNK", 7)
    f, q = _lj(3)
    k = sc.compile(f, q, backend="native")
    X = _cluster(3, 9)
    H = k.hessian(X)
    fn = k._native._compiled["hessian"]
    assert isinstance(fn, c_kernel.CFunction) and len(fn.units) > 1
    np.testing.assert_allclose(H, _sympy_hessian(f, q, X), rtol=1e-10, atol=1e-9)


def test_c_expression_refuses_what_it_cannot_print():
    import symengine as se

    x = se.Symbol("x")
    with pytest.raises(c_kernel.CUnsupported):
        c_kernel.c_expression(se.sqrt(x), {x: "v0"})
    with pytest.raises(c_kernel.CUnsupported):
        c_kernel.c_expression(x + se.Symbol("y"), {x: "v0"})


@needs_cc
def test_a_compiler_that_fails_leaves_the_hessian_to_llvm(monkeypatch):
    monkeypatch.setattr(c_kernel, "CFLAGS", ("-fno-such-flag-symcalc",))
    monkeypatch.setattr(c_kernel, "PORTABLE_CFLAGS", ("-fno-such-flag-symcalc", "-shared"))
    x, y = sp.symbols("x y", real=True)
    f = x**4 * y**3 + (x + 2 * y) ** -2
    k = sc.compile(f, [x, y], backend="native")
    X = np.random.default_rng(5).uniform(1, 2, size=(6, 2))
    np.testing.assert_allclose(k.hessian(X), _sympy_hessian(f, [x, y], X), rtol=1e-12)
    assert not isinstance(k._native._compiled["hessian"], c_kernel.CFunction)


@needs_cc
def test_a_compiler_that_refuses_gccs_flags_gets_the_portable_ones(monkeypatch):
    monkeypatch.setattr(c_kernel, "CFLAGS", ("-fno-such-flag-symcalc", "-fPIC", "-shared"))
    x, y = sp.symbols("x y", real=True)
    f = x**5 * y - 3 * (x * y - 1) ** -3
    k = sc.compile(f, [x, y], backend="native")
    X = np.random.default_rng(6).uniform(1, 2, size=(5, 2))
    np.testing.assert_allclose(k.hessian(X), _sympy_hessian(f, [x, y], X), rtol=1e-12)
    assert isinstance(k._native._compiled["hessian"], c_kernel.CFunction)

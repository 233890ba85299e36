"""Jacobians and Hessians read off any linear differential (issue 13), and Vec.

Scalar-times-vector differentials d(s x) = (ds) x + s dx, outer products (vᵀdx) u, row
vectors and the quotients of the (generalized) Rayleigh quotient are read as closed-form
matrices (x (∇s)ᵀ + s I, not a Kronecker or index form). Each result is checked (a) in
closed form at symbolic size, (b) at two concrete sizes against SymPy's elementwise
derivative (``as_explicit()`` then ``sp.diff``) and (c) against central differences of a
hand-written NumPy function. The engine's self-checks run too (the public functions).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from sympy import HadamardProduct, Identity, KroneckerProduct, Trace
from sympy.matrices.expressions.matexpr import MatrixElement

import symcalc as sc
from symcalc.derivation.readoff import column_map, row_map
from symcalc.derivation.vecform import CommutationMatrix, Unvec, Vec
from symcalc.errors import NoRuleError
from symcalc.expr.structure import dim

sys.path.insert(0, os.path.dirname(__file__))
from matrix_routes import (  # noqa: E402
    assert_close,
    central_gradient,
    central_jacobian,
    closed_value,
    sympy_gradient,
    sympy_hessian,
    sympy_jacobian,
    well_conditioned,
)

n, m, k, p = dim("n"), dim("m"), dim("k"), dim("p")
SIZES = [{n: 2, m: 3, k: 2, p: 4}, {n: 3, m: 2, k: 3, p: 2}]
x, a, b = sc.vector("x", "n"), sc.vector("a", "n"), sc.vector("b", "n")
A, B, Cm = (sc.matrix_symbol(s, "n", "n") for s in "ABC")
w = sp.MatrixSymbol("w", 1, n)  # a row-vector variable
v = HadamardProduct(A, B) * Cm * x  # the ((A o B) C x)
s_v = Trace(v.T * x)
grad_s = (HadamardProduct(A, B) * Cm + (HadamardProduct(A, B) * Cm).T) * x


def _readable(R):
    """A closed form a person reads: no entries, no Kronecker / commutation / vec forms."""
    assert not R.atoms(MatrixElement), f"index soup: {R}"
    assert not R.atoms(KroneckerProduct, CommutationMatrix, Vec), f"vec form: {R}"


def _values(exprs, V, sizes, seed, spd=()):
    rng = np.random.default_rng(seed)
    values = {}
    syms = set().union(*(e.atoms(sp.MatrixSymbol) for e in exprs)) | {V}
    for M in sorted(syms, key=lambda s: s.name):
        shape = tuple(int(d.xreplace(sizes)) for d in M.shape)
        values[M] = well_conditioned(rng, shape)
        if M.name in spd:
            values[M] = values[M] @ values[M].T + shape[0] * np.eye(shape[0])
    return values


def _names(values, V):
    return {M.name: val for M, val in values.items() if M != V}


# --------------------------------------------------------------------------------------
# Jacobians of vectors: (name, F as the user writes it, F for SymPy, the variable, NumPy)
# --------------------------------------------------------------------------------------
def _np_v(c, xx):
    return (c["A"] * c["B"]) @ c["C"] @ xx


JACOBIANS = [
    (
        "((A o B) C x)^T x * x (product spelling)",
        lambda: (v.T * x) * x,
        s_v * x,
        x,
        lambda xx, c: (_np_v(c, xx).T @ xx).item() * xx,
    ),
    (
        "tr(((A o B) C x)^T x) x",
        lambda: s_v * x,
        s_v * x,
        x,
        lambda xx, c: (_np_v(c, xx).T @ xx).item() * xx,
    ),
    (
        "((A o B) C x)^T x [0, 0] * x",
        lambda: (v.T * x)[0, 0] * x,
        s_v * x,
        x,
        lambda xx, c: (_np_v(c, xx).T @ xx).item() * xx,
    ),
    ("x x^T a", lambda: x * x.T * a, x * x.T * a, x, lambda xx, c: xx @ xx.T @ c["a"]),
    (
        "x / ||x||",
        lambda: x / sp.sqrt((x.T * x)[0, 0]),
        x / sp.sqrt(Trace(x.T * x)),
        x,
        lambda xx, c: xx / np.linalg.norm(xx),
    ),
    (
        "A x / (a^T x)",
        lambda: A * x / (a.T * x),
        A * x / Trace(a.T * x),
        x,
        lambda xx, c: c["A"] @ xx / (c["a"].T @ xx).item(),
    ),
    (
        "exp(x) (a^T x)",
        lambda: sc.elementwise(sp.exp, x) * (a.T * x),
        sc.elementwise(sp.exp, x) * Trace(a.T * x),
        x,
        lambda xx, c: np.exp(xx) * (c["a"].T @ xx).item(),
    ),
    (
        "(a^T x)(b^T x) x",
        lambda: (a.T * x) * (b.T * x) * x,
        Trace(a.T * x) * Trace(b.T * x) * x,
        x,
        lambda xx, c: (c["a"].T @ xx).item() * (c["b"].T @ xx).item() * xx,
    ),
    (
        "A x (x^T x)",
        lambda: A * x * (x.T * x),
        Trace(x.T * x) * A * x,
        x,
        lambda xx, c: c["A"] @ xx * (xx.T @ xx).item(),
    ),
    (
        "row: (x^T x) x^T",
        lambda: (x.T * x) * x.T,
        Trace(x.T * x) * x,
        x,
        lambda xx, c: (xx.T @ xx).item() * xx,
    ),
    (
        "row: x^T (x^T x)",
        lambda: x.T * (x.T * x),
        Trace(x.T * x) * x,
        x,
        lambda xx, c: (xx.T @ xx).item() * xx,
    ),
    ("row: x^T A", lambda: x.T * A, A.T * x, x, lambda xx, c: c["A"].T @ xx),
    ("row variable: A w^T", lambda: A * w.T, A * w.T, w, lambda ww, c: c["A"] @ ww.T),
    (
        "row variable: (w a) w",
        lambda: (w * a) * w,
        Trace(w * a) * w.T,
        w,
        lambda ww, c: (ww @ c["a"]).item() * ww.T,
    ),
]


@pytest.mark.parametrize("name, F, ref, V, fn", JACOBIANS, ids=[c[0] for c in JACOBIANS])
@pytest.mark.parametrize("which", [0, 1])
def test_jacobian_against_sympy_and_central_differences(name, F, ref, V, fn, which):
    sizes = SIZES[which]
    J = sc.jacobian(F(), V)
    _readable(J)
    assert J.shape == (n, n) or J.shape == (n, n * 1)
    values = _values([ref], V, sizes, seed=11 + which)
    ours = closed_value(J, sizes, values)
    assert_close(ours, sympy_jacobian(ref, V, sizes, values), rtol=1e-9, atol=1e-9)
    consts = _names(values, V)
    assert_close(ours, central_jacobian(lambda z: fn(z, consts), values[V]))


def test_scalar_times_vector_is_s_I_plus_x_grad_s_transposed():
    """d(s x) = (ds) x + s dx: J = x (∇s)ᵀ + s I, in every spelling the same matrix."""
    spellings = [(v.T * x) * x, s_v * x, (v.T * x)[0, 0] * x, x * (v.T * x)]
    results = [sc.jacobian(F, x) for F in spellings]
    sizes = SIZES[1]
    values = _values([s_v], x, sizes, seed=5)
    want = closed_value(s_v * Identity(n) + x * grad_s.T, sizes, values)
    for J in results:
        _readable(J)
        assert_close(closed_value(J, sizes, values), want, rtol=1e-12, atol=1e-12)
    assert results[0] == results[2]  # the 1 x 1 product and the [0, 0] entry: one answer
    assert len(sp.MatAdd.make_args(results[0])) == 2  # s I + x (grad s)^T: two terms
    assert sc.jacobian(x * x.T * a, x) == Trace(a.T * x) * Identity(n) + x * a.T


def test_normalized_vector_jacobian_is_the_textbook_projection():
    J = sc.jacobian(x / sp.sqrt((x.T * x)[0, 0]), x)
    r = sp.sqrt(Trace(x.T * x))
    assert J == sp.MatAdd(-1 / r**3 * x * x.T, 1 / r * Identity(n)).doit()


# --------------------------------------------------------------------------------------
# Hessians: (name, f as written, f for SymPy, variable, NumPy f, SPD matrices)
# --------------------------------------------------------------------------------------
def _quad(M, xx):
    return (xx.T @ M @ xx).item()


HESSIANS = [
    (
        "Rayleigh x^T A x / x^T x",
        lambda: (x.T * A * x) / (x.T * x),
        Trace(x.T * A * x) / Trace(x.T * x),
        x,
        lambda xx, c: _quad(c["A"], xx) / (xx.T @ xx).item(),
        (),
    ),
    (
        "Rayleigh with [0, 0] entries",
        lambda: (x.T * A * x)[0, 0] / (x.T * x)[0, 0],
        Trace(x.T * A * x) / Trace(x.T * x),
        x,
        lambda xx, c: _quad(c["A"], xx) / (xx.T @ xx).item(),
        (),
    ),
    (
        "generalized Rayleigh x^T A x / x^T B x",
        lambda: (x.T * A * x) / (x.T * B * x),
        Trace(x.T * A * x) / Trace(x.T * B * x),
        x,
        lambda xx, c: _quad(c["A"], xx) / _quad(c["B"], xx),
        ("B",),
    ),
    (
        "sum(x.^2)^(1/2)",
        lambda: sc.sum_entries(sc.hadamard_power(x, 2)) ** sp.Rational(1, 2),
        sp.sqrt(Trace(x.T * x)),
        x,
        lambda xx, c: np.linalg.norm(xx),
        (),
    ),
    (
        "sqrt((x^T A x)[0, 0])",
        lambda: sp.sqrt((x.T * A * x)[0, 0]),
        sp.sqrt(Trace(x.T * A * x)),
        x,
        lambda xx, c: np.sqrt(_quad(c["A"], xx)),
        ("A",),
    ),
    (
        "(x^T A x)(a^T x)",
        lambda: (x.T * A * x) * (a.T * x),
        Trace(x.T * A * x) * Trace(a.T * x),
        x,
        lambda xx, c: _quad(c["A"], xx) * (c["a"].T @ xx).item(),
        (),
    ),
    (
        "log(x^T x)",
        lambda: sp.log((x.T * x)[0, 0]),
        sp.log(Trace(x.T * x)),
        x,
        lambda xx, c: np.log((xx.T @ xx).item()),
        (),
    ),
    (
        "row variable: w A w^T / w w^T",
        lambda: (w * A * w.T) / (w * w.T),
        Trace(w * A * w.T) / Trace(w * w.T),
        w,
        lambda ww, c: _quad(c["A"], ww.T) / (ww @ ww.T).item(),
        (),
    ),
]


@pytest.mark.parametrize("name, f, ref, V, fn, spd", HESSIANS, ids=[c[0] for c in HESSIANS])
@pytest.mark.parametrize("which", [0, 1])
def test_hessian_against_sympy_and_central_differences(name, f, ref, V, fn, spd, which):
    sizes = SIZES[which]
    H = sc.hessian(f(), V)
    _readable(H)
    values = _values([ref], V, sizes, seed=23 + which, spd=spd)
    ours = closed_value(H, sizes, values)
    assert_close(ours, sympy_hessian(ref, V, sizes, values), rtol=1e-8, atol=1e-8)
    consts = _names(values, V)

    def grad(z):
        return central_gradient(lambda t: fn(t, consts), z, h=1e-5)

    fd = central_jacobian(grad, values[V], h=1e-4)
    assert_close(ours, fd, rtol=1e-5, atol=1e-5)


def test_rayleigh_hessian_reads_as_a_person_writes_it():
    """H = (A + Aᵀ)/q - 2/q² ((A + Aᵀ) x xᵀ + x xᵀ (A + Aᵀ)) + 8 xᵀAx/q³ x xᵀ - 2 xᵀAx/q² I."""
    H = sc.hessian((x.T * A * x) / (x.T * x), x)
    q, r = Trace(x.T * x), Trace(x.T * A * x)
    S = A + A.T
    textbook = S / q - 2 / q**2 * (S * x * x.T + x * x.T * S) + 8 * r / q**3 * x * x.T
    textbook = textbook - 2 * r / q**2 * Identity(n)
    assert len(sp.MatAdd.make_args(H)) == 4  # one term per coefficient, as above
    _readable(H)
    values = _values([H], x, SIZES[0], seed=2)
    assert_close(closed_value(H, SIZES[0], values), closed_value(textbook, SIZES[0], values))


# --------------------------------------------------------------------------------------
# Vec: d vec(F) = vec(dF), at symbolic sizes
# --------------------------------------------------------------------------------------
X = sc.matrix_symbol("X", "n", "k")
Am, Bk = sc.matrix_symbol("A", "m", "n"), sc.matrix_symbol("B", "k", "p")


def test_jacobian_of_vec_AXB_is_B_transpose_kron_A_at_symbolic_sizes():
    J = sc.jacobian(sc.vec(Am * X * Bk), X)
    assert J == KroneckerProduct(Bk.T, Am)
    assert sc.jacobian(sc.vec(X), X) == Identity(n * k)
    assert sc.derive(sc.vec(Am * X * Bk), X).results["jacobian"] == J


@pytest.mark.parametrize("which", [0, 1])
def test_jacobian_of_vec_against_sympy_and_central_differences(which):
    sizes = SIZES[which]
    J = sc.jacobian(sc.vec(Am * X * Bk), X)
    values = _values([Am * X * Bk], X, sizes, seed=31 + which)
    ours = closed_value(J, sizes, values)
    # sympy_jacobian is d vec(F) / d vec(X)^T of F itself: the reference never sees Vec
    assert_close(ours, sympy_jacobian(Am * X * Bk, X, sizes, values), rtol=1e-9, atol=1e-9)
    c = _names(values, X)
    assert_close(ours, central_jacobian(lambda z: c["A"] @ z @ c["B"], values[X]))


@pytest.mark.parametrize("which", [0, 1])
def test_gradient_and_hessian_of_expressions_holding_vec(which):
    sizes = SIZES[which]
    N = X.rows * X.cols
    c, M = sp.MatrixSymbol("c", N, 1), sp.MatrixSymbol("M", N, N)
    f1, f2 = c.T * sc.vec(X), sc.vec(X).T * M * sc.vec(X)
    G1, G2, H2 = sc.gradient(f1, X), sc.gradient(f2, X), sc.hessian(f2, X)
    assert G1 == Unvec(c, n, k)
    assert H2 == M + M.T
    values = _values([f2, c], X, sizes, seed=41 + which)
    consts = _names(values, X)

    def vec_np(z):
        return z.reshape(-1, 1, order="F")

    ref1 = c.T * Vec(X)  # the SymPy route evaluates Vec of explicit entries (Vec.doit)
    for G, f, fn in [
        (G1, ref1, lambda z: (consts["c"].T @ vec_np(z)).item()),
        (G2, f2, lambda z: (vec_np(z).T @ consts["M"] @ vec_np(z)).item()),
    ]:
        ours = np.reshape(closed_value(G, sizes, values), np.shape(values[X]))
        assert_close(ours, sympy_gradient(f, X, sizes, values), rtol=1e-9, atol=1e-9)
        assert_close(ours, central_gradient(fn, values[X]))
    ours = closed_value(H2, sizes, values)
    assert_close(ours, sympy_hessian(f2, X, sizes, values), rtol=1e-9, atol=1e-9)


def test_vec_of_a_column_in_a_vector_jacobian():
    Mn = sc.matrix_symbol("M", "n", "n")
    assert sc.jacobian(Mn * sc.vec(x), x) == Mn
    a_ = sc.vector("a", "k")
    J = sc.jacobian(sc.vec(x * a_.T), x)  # vec(x aᵀ) = (a ⊗ I) x
    values = _values([x * a_.T], x, SIZES[0], seed=3)
    ref = sympy_jacobian(x * a_.T, x, SIZES[0], values)
    assert_close(closed_value(J, SIZES[0], values), ref, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# The read-off itself
# --------------------------------------------------------------------------------------
C = sc.vector("C", "n")


def test_column_map_reads_each_form():
    assert column_map(C, C) == Identity(n)
    assert column_map(Trace(x.T * x) * C, C) == Trace(x.T * x) * Identity(n)
    assert column_map(x * C.T * a, C) == x * a.T  # L C^T R = L R^T C
    assert column_map(Trace(C.T * a) * A * x, C) == A * x * a.T  # s(C) M = M r C
    assert row_map(Trace(x * C.T * A), C) == x.T * A.T


def test_column_map_refuses_what_is_not_linear():
    with pytest.raises(NoRuleError, match="not linear"):
        column_map(Trace(C.T * C) * x, C)
    with pytest.raises(NoRuleError, match="not linear"):
        column_map(C + x, C)

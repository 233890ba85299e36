"""Hessians with respect to a matrix variable: vec (column-major) layout everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symcalc as sc
from symcalc.derivation.matrix import CommutationMatrix, Vec, to_explicit

ROOT = Path(__file__).resolve().parents[2]


def test_vec_and_commutation_entries_agree_with_their_explicit_forms():
    A = sp.MatrixSymbol("A", 2, 3)
    assert [Vec(A)[i, 0] for i in range(6)] == list(sc.vec(A))
    K = CommutationMatrix(2, 3)
    assert sp.Matrix(6, 6, lambda r, c: K[r, c]) == sc.commutation_matrix(2, 3)


def test_softmax_cross_entropy_hessian_in_W_matches_sympy_in_vec_order():
    W, x, y = sc.matrix_symbol("W", 3, 2), sc.vector("x", 2), sc.vector("y", 3)
    H = sc.hessian(sc.softmax_cross_entropy(W * x, y), W)
    Ws = sp.Matrix(3, 2, sp.symbols("w0:6"))
    xv, yv = sp.Matrix([1, -2]), sp.Matrix([0, 1, 0])
    explicit = sp.log(sum(sp.exp(e) for e in Ws * xv)) - (yv.T * Ws * xv)[0]
    vec_w = [Ws[i, j] for j in range(2) for i in range(3)]  # column-major
    point = dict(zip(vec_w, np.random.default_rng(2).normal(size=6)))
    env = {W: sp.ImmutableMatrix(Ws), x: sp.ImmutableMatrix(xv), y: sp.ImmutableMatrix(yv)}
    ours = np.array(sp.Matrix(to_explicit(H, env)).subs(point).evalf(), dtype=float)
    ref = np.array(sp.hessian(explicit, vec_w).subs(point).evalf(), dtype=float)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_report_finite_differences_pass_for_the_matrix_hessian():
    study = sc.load_problem(ROOT / "examples" / "softmax_regression.toml").run()
    checks = {c.name: c for c in study.finite_differences}
    assert "hessian" in checks and checks["hessian"].passed
    assert checks["hessian"].max_abs_error < 1e-6 * (1 + checks["hessian"].max_abs_value)

"""One input, one answer: gradient, derive, hessian and the Jacobian of the gradient agree.

Every public route reads its results through the same input boundary and the same
rewriting of results (``canonical_result``: sign(u) u / |u| = 1), so for each input of the
corpus ``sc.gradient`` equals ``sc.derive(...).results["gradient"]`` and ``sc.hessian``
equals ``sc.derive(..., order=2).results["hessian"]`` and ``sc.jacobian(sc.gradient(...))``
symbolically; and the common answer is checked at a concrete size against SymPy's
elementwise ``sp.diff`` of the explicit expression.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from sympy import Trace

import symcalc as sc
from symcalc.expr.structure import dim

sys.path.insert(0, os.path.dirname(__file__))
from matrix_routes import (  # noqa: E402
    assert_close,
    closed_value,
    sympy_gradient,
    sympy_hessian,
    well_conditioned,
)

n = dim("n")
SIZES = [{n: 2}, {n: 3}]
x, y, a, mu = (sc.vector(s, "n") for s in ("x", "y", "a", "mu"))
A, B, X = (sc.matrix_symbol(s, "n", "n") for s in "ABX")
Sigma = sp.MatrixSymbol("Sigma", n, n)  # a plain covariance: read as SPD on every route
beta = sp.Symbol("beta", real=True)
plain_n = sp.Symbol("n")  # a user's plain size symbol
xp, Ap = sp.MatrixSymbol("x", plain_n, 1), sp.MatrixSymbol("A", plain_n, plain_n)
ones_x = sc.sum_entries(sc.hadamard_power(x, 2))

# name, f as a user writes it, the variable, f for SymPy's route (None: f itself)
CORPUS = [
    ("(x.T*A*x)[0, 0]", (x.T * A * x)[0, 0], x, Trace(x.T * A * x)),
    ("plain size n", (xp.T * Ap * xp)[0, 0], xp, Trace(x.T * A * x)),
    ("Rayleigh", (x.T * A * x) / (x.T * x), x, Trace(x.T * A * x) / Trace(x.T * x)),
    ("generalized Rayleigh", (x.T * A * x) / (x.T * B * x), x, None),
    ("sum(x.^2)^(1/2)", ones_x ** sp.Rational(1, 2), x, sp.sqrt(Trace(x.T * x))),
    ("(x.T*y)**(1/2)", (x.T * y) ** sp.Rational(1, 2), x, sp.sqrt(Trace(x.T * y))),
    ("log|det X|", sp.log(sp.Abs(sp.det(X))), X, sp.log(sp.det(X) ** 2) / 2),
    ("Gaussian, plain Sigma", sc.gaussian_logpdf(x, mu, Sigma), x, None),
    ("softplus(Ax)", sc.sum_entries(sc.elementwise(sc.softplus, A * x)), x, None),
    ("Max(0, a.T x + beta)", sp.Max(0, (a.T * x)[0, 0] + beta), x, None),
    ("tr(X.T A X)", Trace(X.T * A * X), X, None),
    ("log sum exp(Ax)", sp.log(sc.sum_entries(sc.elementwise(sp.exp, A * x))), x, None),
    ("(x.T x)**2", (x.T * x) ** 2, x, Trace(x.T * x) ** 2),
    ("(a.T x)(x.T A x)", (a.T * x) * (x.T * A * x), x, Trace(a.T * x) * Trace(x.T * A * x)),
    ("tr(X) tr(X.T X)", Trace(X) * Trace(X.T * X), X, None),
]


def _routes(f, V):
    return {
        "gradient": sc.gradient(f, V),
        "derive gradient": sc.derive(f, V).results["gradient"],
        "hessian": sc.hessian(f, V),
        "derive hessian": sc.derive(f, V, order=2).results["hessian"],
        "derive order 2 gradient": sc.derive(f, V, order=2).results["gradient"],
    }


@pytest.mark.parametrize("name, f, V, ref", CORPUS, ids=[c[0] for c in CORPUS])
def test_every_route_gives_the_same_answer(name, f, V, ref):
    r = _routes(f, V)
    assert r["gradient"] == r["derive gradient"] == r["derive order 2 gradient"], r
    assert r["hessian"] == r["derive hessian"], r
    if V.cols == 1:  # the Jacobian of the gradient is the Hessian
        assert sc.jacobian(r["gradient"], V) == r["hessian"]
    assert not r["gradient"].has(sp.sign, sp.Abs), "sign(u) u / |u| left in a result"


@pytest.mark.parametrize("name, f, V, ref", CORPUS, ids=[c[0] for c in CORPUS])
def test_the_common_answer_is_right_at_a_concrete_size(name, f, V, ref):
    sizes = SIZES[len(name) % 2]
    r = _routes(f, V)
    ref = f if ref is None else ref
    if V is xp:
        V, G, H = x, r["gradient"].xreplace({xp: x, Ap: A}), r["hessian"].xreplace({xp: x, Ap: A})
    else:
        G, H = r["gradient"], r["hessian"]
    at = {beta: sp.Rational(3, 10)}  # the scalar parameter
    ref, G, H = (e.xreplace(at) for e in (ref, G, H))
    values = _values([ref, G, H], V, sizes)
    ours = np.reshape(closed_value(G, sizes, values), np.shape(values[V]))
    assert_close(ours, sympy_gradient(ref, V, sizes, values), rtol=1e-9, atol=1e-9)
    Hs = closed_value(H, sizes, values)
    assert_close(Hs, sympy_hessian(ref, V, sizes, values), rtol=1e-8, atol=1e-8)


def _values(exprs, V, sizes):
    rng = np.random.default_rng(20261202)
    values = {}
    for M in sorted(set().union(*(e.atoms(sp.MatrixSymbol) for e in exprs)) | {V}, key=str):
        shape = tuple(int(d.xreplace(sizes)) for d in M.shape)
        values[M] = well_conditioned(rng, shape)
        if shape[1] == 1:  # positive vectors: x^T y > 0 under a square root
            values[M] = np.abs(values[M]) + 0.5
        if M.name in ("Sigma", "B"):  # a covariance; x^T B x away from 0
            values[M] = values[M] @ values[M].T + shape[0] * np.eye(shape[0])
    return values


SCALARS = [
    lambda s, t: s**2 * sp.sin(t),
    lambda s, t: sp.log(sp.Abs(s)) + t**3,
    lambda s, t: sp.exp(s * t) / (1 + sp.exp(s * t)),
    lambda s, t: sp.Max(0, s + t) * s,
]


@pytest.mark.parametrize("k", range(len(SCALARS)))
def test_explicit_symbols_every_route_the_same(k):
    s, t = sp.symbols("s t", real=True)
    f = SCALARS[k](s, t)
    g, d1, d2 = sc.gradient(f, [s, t]), sc.derive(f, [s, t]), sc.derive(f, [s, t], order=2)
    assert g == d1.results["gradient"] == d2.results["gradient"]
    H = sc.hessian(f, [s, t])
    assert H == d2.results["hessian"] == sc.jacobian(list(g), [s, t])
    if k == 1:  # d log|s| / ds is 1/s, not sign(s)/|s|
        assert g[0] == 1 / s and H[0, 0] == -1 / s**2

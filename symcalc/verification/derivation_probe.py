"""A quick numeric screen: do two formulas agree at one random point at concrete sizes?

Used to sort out, cheaply, which candidate corrections of a wrong line deserve the full
decision procedure of :func:`symcalc.verify` (which then proves or probes the survivor).
Square matrices are drawn diagonally dominant (invertible, positive determinant, not
symmetric); declared symmetric / positive definite / diagonal matrices keep their structure.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> agree(2 * x * sp.cos(x**2), sp.diff(sp.sin(x**2), x)), agree(x, 2 * x)
(True, False)
"""

from __future__ import annotations

import random

import sympy as sp
from sympy import MatrixBase, MatrixExpr, MatrixSymbol

__all__ = ["agree", "random_point"]

_SIZES = (3, 4, 2, 5)


def _sizes(exprs) -> dict:
    dims = set()
    for e in exprs:
        for M in e.atoms(MatrixSymbol):
            dims |= {d for d in M.shape if isinstance(d, sp.Symbol)}
    return {d: _SIZES[i % len(_SIZES)] for i, d in enumerate(sorted(dims, key=str))}


def _matrix(M, sizes, rng) -> sp.ImmutableMatrix:
    from symcalc.expr.structure import structure_of

    r, c = (int(d.xreplace(sizes)) if isinstance(d, sp.Basic) else int(d) for d in M.shape)
    vals = [[sp.Float(rng.uniform(-1, 1), 20) for _ in range(c)] for _ in range(r)]
    V = sp.Matrix(vals)
    kind = structure_of(M)
    if kind == "diagonal":
        V = sp.diag(*[V[i, i] + 2 for i in range(r)])
    elif kind in ("symmetric", "positive_definite"):
        V = (V + V.T) / 2 + (r * sp.eye(r) if kind == "positive_definite" else sp.zeros(r))
    elif r == c:
        V = V + r * sp.eye(r)
    return sp.ImmutableMatrix(V)


def random_point(exprs, seed: int = 7) -> dict:
    """Values for every symbol and matrix of ``exprs`` (and numbers for the sizes)."""
    rng = random.Random(seed)
    sizes = _sizes(exprs)
    point = dict(sizes)
    for e in exprs:
        for s in sorted(e.free_symbols, key=str):
            if s in point or s in sizes:
                continue
            if isinstance(s, MatrixSymbol):
                point[s] = _matrix(s, sizes, rng)
            elif isinstance(s, sp.Symbol):
                point[s] = sp.Float(rng.uniform(0.3, 1.7), 20)
    return point


def _value(e, point):
    v = e.xreplace(point)
    if isinstance(v, (MatrixExpr, MatrixBase)):
        v = sp.Matrix(v.doit()) if isinstance(v, MatrixExpr) else sp.Matrix(v)
        return v.evalf(20)
    return sp.N(v.doit(), 20)


def _close(a, b) -> bool:
    if isinstance(a, MatrixBase) or isinstance(b, MatrixBase):
        a, b = (x if isinstance(x, MatrixBase) else sp.Matrix([[x]]) for x in (a, b))
        if a.shape != b.shape:
            return False
        return all(_close(p, q) for p, q in zip(a, b))
    try:
        a, b = complex(a), complex(b)
    except TypeError:
        return False
    return abs(a - b) <= 1e-9 * (1 + abs(a) + abs(b))


def agree(a, b, seeds=(7, 11)) -> bool:
    """Whether ``a`` and ``b`` agree at a few random points (False when either is undefined)."""
    try:
        return all(
            _close(_value(a, p), _value(b, p)) for p in (random_point([a, b], s) for s in seeds)
        )
    except Exception:  # noqa: BLE001 - shapes that do not fit, a singular point: not a match
        return False

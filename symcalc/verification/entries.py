"""The independent route of verify_gradient / hessian / jacobian: explicit entries at a
concrete size, differentiated by SymPy's ``diff`` (used when the engine does not answer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy import MatrixBase, MatrixSymbol

from symcalc.verification.reading import _scalarize
from symcalc.verification.sampling import _concrete, _Point, _structure, _values


# --------------------------------------------------------------------------------------
# The independent route: explicit entries at a concrete size
# --------------------------------------------------------------------------------------
def _elementwise_explicit(kind, f, syms):
    if kind == "gradient":
        return sp.ImmutableMatrix([sp.diff(_scalarize(f), s) for s in syms])
    if kind == "hessian":
        g = [sp.diff(_scalarize(f), s) for s in syms]
        return sp.ImmutableMatrix([[sp.diff(gi, s) for s in syms] for gi in g])
    F = list(f) if isinstance(f, MatrixBase) else [f]
    return sp.ImmutableMatrix([[sp.diff(Fi, s) for s in syms] for Fi in F])


def _elementwise_side(kind: str, f, X: MatrixSymbol) -> Callable:
    """The derivative at a point, from SymPy's diff of the explicit-entry expression."""
    return _ElementwiseSide(kind, f, X)


@dataclass(frozen=True)
class _ElementwiseSide:
    """A picklable truth side (the job may run in a forkserver worker)."""

    kind: str
    f: Any
    X: Any

    def __call__(self, point: _Point, dps: int):
        return _values(self.exact(point), _Point({}, {}, {}), dps)

    def exact(self, point: _Point):
        kind, f, X = self.kind, self.f, self.X
        Xc = X.xreplace({d: sp.Integer(k) for d, k in point.sizes.items()})
        r, c = int(Xc.shape[0]), int(Xc.shape[1])
        entries = sp.Matrix(r, c, lambda i, j: sp.Dummy(f"{X.name}_{i}{j}"))
        others = {k: v for k, v in point.values.items() if k != Xc}
        inner = _Point(point.sizes, {**others, Xc: sp.ImmutableMatrix(entries)}, {})
        fx = _scalarize(_concrete(f, inner)) if kind != "jacobian" else _concrete(f, inner)
        vec = [entries[i, j] for j in range(c) for i in range(r)]  # column-major vec
        at = dict(zip(vec, [point.values[Xc][i, j] for j in range(c) for i in range(r)]))
        if kind == "gradient":
            G = sp.Matrix(r, c, lambda i, j: sp.diff(fx, entries[i, j]))
            kind_ = _structure(X)
            if kind_ in ("symmetric", "positive_definite"):
                G = (G + G.T) / 2
            elif kind_ == "diagonal":
                G = sp.diag(*[G[i, i] for i in range(r)])
            result = G
        elif kind == "hessian":
            g = [sp.diff(fx, v) for v in vec]
            result = sp.Matrix(len(vec), len(vec), lambda p, q: sp.diff(g[p], vec[q]))
        else:
            Fm = fx if isinstance(fx, MatrixBase) else sp.Matrix([[fx]])
            comps = [Fm[i, j] for j in range(Fm.cols) for i in range(Fm.rows)]
            result = sp.Matrix(len(comps), len(vec), lambda p, q: sp.diff(comps[p], vec[q]))
        return _scalarize(_concrete(sp.ImmutableMatrix(result).xreplace(at), _Point({}, {}, {})))

"""Independent routes for closed-form matrix derivatives (shared by the tests in tests/derivation
and tests/expr).

Two routes, neither using symcalc's derivation code:
* SymPy's own elementwise derivative: the expression at a concrete size with its variable
  replaced by a matrix of Symbols, ``as_explicit()``, then ``sp.diff`` entry by entry;
* central differences of a hand-written NumPy implementation of the function.

Layout: vec is column-major (``order="F"``); a Jacobian is d vec(F) / d vec(X)^T.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symcalc.derivation.explicit import to_explicit


def vec(a):
    return np.asarray(a, dtype=float).reshape(-1, order="F")


def well_conditioned(rng, shape, square_boost=True):
    """A random matrix; square ones get a diagonal shift (invertible, far from singular)."""
    a = rng.normal(size=shape)
    if square_boost and shape[0] == shape[1] and shape[0] > 1:
        a = a + shape[0] * np.eye(shape[0])
    return a


def sized(e, sizes):
    return e.xreplace({k: sp.Integer(v) for k, v in sizes.items()})


def _env(values, sizes):
    return {sized(M, sizes): sp.ImmutableMatrix(np.atleast_2d(v)) for M, v in values.items()}


def closed_value(expr, sizes, values):
    """A closed-form result (scalar or matrix) evaluated numerically at concrete sizes."""
    out = to_explicit(sized(expr, sizes), _env(values, sizes))
    if isinstance(out, sp.MatrixBase):
        return np.array(out.evalf(30), dtype=float)
    return float(sp.N(out, 30))


def _explicit_in_symbols(f, X, sizes, values):
    """f at concrete sizes with X a matrix of Symbols and every other matrix numeric."""
    Xs = sized(X, sizes)
    r, c = int(Xs.rows), int(Xs.cols)
    entries = sp.Matrix(r, c, lambda i, j: sp.Symbol(f"e_{i}_{j}"))
    env = {k: v for k, v in _env(values, sizes).items() if k != Xs}
    env[Xs] = sp.ImmutableMatrix(entries)
    fx = sized(f, sizes).xreplace(env)
    fx = fx.as_explicit() if isinstance(fx, sp.MatrixExpr) else fx.doit()
    at = {entries[i, j]: sp.Float(values[X][i, j], 30) for i in range(r) for j in range(c)}
    return fx, [entries[i, j] for j in range(c) for i in range(r)], at


def _scalar(e):
    if isinstance(e, sp.MatrixBase):
        assert e.shape == (1, 1)
        return e[0, 0]
    return e.doit() if hasattr(e, "doit") else e


def sympy_gradient(f, X, sizes, values):
    """df/dX_ij by sp.diff, as a matrix of X's shape."""
    fx, syms, at = _explicit_in_symbols(f, X, sizes, values)
    fx = _scalar(fx)
    r, c = np.shape(values[X])
    g = [float(sp.diff(fx, s).xreplace(at).evalf(30)) for s in syms]
    return np.array(g).reshape((r, c), order="F")


def sympy_jacobian(F, X, sizes, values):
    """d vec(F) / d vec(X)^T by sp.diff of F.as_explicit()."""
    Fx, syms, at = _explicit_in_symbols(F, X, sizes, values)
    flat = [Fx[i, j] for j in range(Fx.cols) for i in range(Fx.rows)]
    return np.array([[float(sp.diff(e, s).xreplace(at).evalf(30)) for s in syms] for e in flat])


def sympy_hessian(f, X, sizes, values):
    """d^2 f / d vec(X) d vec(X)^T by sp.diff."""
    fx, syms, at = _explicit_in_symbols(f, X, sizes, values)
    fx = _scalar(fx)
    grads = [sp.diff(fx, s) for s in syms]
    return np.array([[float(sp.diff(g, t).xreplace(at).evalf(30)) for t in syms] for g in grads])


def central_jacobian(fn, x, h=1e-6):
    """d vec(fn(X)) / d vec(X)^T by central differences (fn: NumPy, X a 2-D array)."""
    x = np.asarray(x, dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        E = e.reshape(x.shape, order="F")
        cols.append((vec(fn(x + E)) - vec(fn(x - E))) / (2 * h))
    return np.array(cols).T


def central_gradient(fn, x, h=1e-6):
    """d fn / dX (X's shape) by central differences of a scalar NumPy function."""
    return central_jacobian(lambda a: np.atleast_2d(fn(a)), x, h).reshape(np.shape(x), order="F")


def assert_close(ours, ref, rtol=1e-6, atol=1e-7):
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    scale = 1.0 + np.max(np.abs(ref))
    err = np.max(np.abs(ours - ref)) if ours.size else 0.0
    assert err <= atol * scale + rtol * scale, f"max error {err:.3g} (scale {scale:.3g})"

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


def _explicit_with(f, X, sizes, values, positions):
    """f at concrete sizes, every matrix numeric except the entries of X at ``positions``,
    which are Symbols (one or two at a time keeps SymPy's expressions small).
    Returns (explicit f, the Symbols, their values)."""
    Xs = sized(X, sizes)
    point = np.asarray(values[X], dtype=float)
    entries = sp.Matrix(point.shape[0], point.shape[1], lambda i, j: sp.Float(point[i, j], 30))
    syms = [sp.Symbol(f"e_{i}_{j}") for i, j in positions]
    for (i, j), t in zip(positions, syms):
        entries[i, j] = t
    env = {kk: v for kk, v in _env(values, sizes).items() if kk != Xs}
    env[Xs] = sp.ImmutableMatrix(entries)
    fs = sized(f, sizes)
    for M in fs.atoms(sp.OneMatrix, sp.Identity, sp.ZeroMatrix):
        env[M] = sp.ImmutableMatrix(M.as_explicit())
    fx = fs.xreplace(env).doit()  # products of explicit matrices multiplied out
    if isinstance(fx, sp.MatrixExpr):
        fx = fx.as_explicit()
    else:  # a scalar: every trace by SymPy's explicit matrices
        fx = fx.replace(sp.Trace, lambda M: sp.Matrix(M.as_explicit()).trace())
    at = {t: sp.Float(point[i, j], 30) for (i, j), t in zip(positions, syms)}
    return fx, syms, at


def _positions(X, values):
    r, c = np.shape(values[X])
    return [(i, j) for j in range(c) for i in range(r)]


def _scalar(e):
    if isinstance(e, sp.MatrixBase):
        assert e.shape == (1, 1)
        return e[0, 0]
    return e


def _number(e, at):
    return float(sp.N(e.xreplace(at), 30))


def sympy_gradient(f, X, sizes, values):
    """df/dX_ij by sp.diff of the explicit expression in X_ij, as a matrix of X's shape."""
    g = []
    for pos in _positions(X, values):
        fx, (t,), at = _explicit_with(f, X, sizes, values, [pos])
        g.append(_number(sp.diff(_scalar(fx), t), at))
    return np.array(g).reshape(np.shape(values[X]), order="F")


def sympy_jacobian(F, X, sizes, values):
    """d vec(F) / d vec(X)^T by sp.diff of F.as_explicit(), one entry of X at a time."""
    cols = []
    for pos in _positions(X, values):
        Fx, (t,), at = _explicit_with(F, X, sizes, values, [pos])
        flat = [Fx[i, j] for j in range(Fx.cols) for i in range(Fx.rows)]
        cols.append([_number(sp.diff(e, t), at) for e in flat])
    return np.array(cols).T


def sympy_hessian(f, X, sizes, values):
    """d^2 f / d vec(X) d vec(X)^T by sp.diff, two entries of X at a time."""
    pos = _positions(X, values)
    H = np.zeros((len(pos), len(pos)))
    for a, p in enumerate(pos):
        for b_ in range(a, len(pos)):
            fx, syms, at = _explicit_with(f, X, sizes, values, [p] if a == b_ else [p, pos[b_]])
            t, u = (syms[0], syms[0]) if a == b_ else syms
            H[a, b_] = H[b_, a] = _number(sp.diff(_scalar(fx), t, u), at)
    return H


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


def random_values(exprs, sizes, seed, overrides=None):
    """Random values for every MatrixSymbol of the expressions, at concrete sizes."""
    rng = np.random.default_rng(seed)
    values = {}
    syms = set()
    for e in exprs:
        syms |= e.atoms(sp.MatrixSymbol) | ({e} if isinstance(e, sp.MatrixSymbol) else set())
    for M in sorted(syms, key=lambda s: s.name):
        shape = tuple(int(sized(s, sizes)) for s in M.shape)
        values[M] = well_conditioned(rng, shape)
    for M, make in (overrides or {}).items():
        values[M] = make(rng, tuple(int(sized(s, sizes)) for s in M.shape))
    return values


def check_gradient_routes(G, f, V, sizes, values, numpy_f):
    """The closed-form gradient G of f wrt V against sp.diff and against central differences
    of numpy_f(value of V, {name: value} of the others)."""
    ours = closed_value(G, sizes, values)
    ours = np.reshape(ours, np.shape(values[V]))
    assert_close(ours, sympy_gradient(f, V, sizes, values), rtol=1e-9, atol=1e-9)
    consts = {M.name: v for M, v in values.items() if M != V}
    assert_close(ours, central_gradient(lambda a: numpy_f(a, consts), values[V]))

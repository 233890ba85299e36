"""Self-checks of closed forms: sympy.diff entry by entry and central differences.

Each check is recorded in the Derivation; a mismatch raises SelfCheckError.

>>> import sympy as sp
>>> from symcalc.records import Derivation
>>> x = sp.MatrixSymbol("x", 3, 1)
>>> d = Derivation(expr=sp.Trace(x.T * x), wrt=(x,))
>>> check_gradient(d, sp.Trace(x.T * x), x, 2 * x)
>>> [c.passed for c in d.checks]
[True, True]
"""

from __future__ import annotations

import sympy as sp

from symcalc.checks.differences import central_difference
from symcalc.derivation.explicit import (
    _close,
    _exact_floats,
    _project,
    _random_matrix,
    _vec,
    pick_concrete,
    to_explicit,
)
from symcalc.derivation.vecform import _sandwich
from symcalc.errors import SelfCheckError
from symcalc.expr.structure import structure_of
from symcalc.records import Derivation


def _with_symbols(cc, value, positions, symbols):
    """The explicit f-environment at X = value with some entries replaced by symbols."""
    M = sp.Matrix(value)
    for (i, j), t in zip(positions, symbols):
        M[i, j] = t
    return cc.numeric_env(sp.ImmutableMatrix(M))


def _vec_positions(X):
    return [(i, j) for j in range(int(X.cols)) for i in range(int(X.rows))]


def elementwise_gradient(cc, f, value):
    """df/dX_ij by sympy.diff of the explicit expression, one entry at a time."""
    t = sp.Symbol("t_entry", real=True)  # real entries: d|u|/dt = sign(u) du/dt
    out = sp.zeros(int(cc.X.rows), int(cc.X.cols))
    for i, j in _vec_positions(cc.X):
        f_t = to_explicit(f, _with_symbols(cc, value, [(i, j)], [t]))
        out[i, j] = sp.N(sp.diff(f_t, t).subs(t, value[i, j]), 30)
    return out


def elementwise_second(cc, F, value, kind):
    """d vec(F)/d vec(X) (kind='jacobian') or the Hessian of scalar F, by sympy.diff."""
    pos = _vec_positions(cc.X)
    t, u = sp.symbols("t_entry u_entry", real=True)
    if kind == "jacobian":
        cols = []
        for p in pos:
            F_t = to_explicit(F, _with_symbols(cc, value, [p], [t]))
            cols.append([sp.N(sp.diff(e, t).subs(t, value[p]), 30) for e in _vec(F_t)])
        return sp.Matrix(cols).T
    H = sp.zeros(len(pos), len(pos))
    for a, p in enumerate(pos):
        for b in range(a, len(pos)):
            q = pos[b]
            if a == b:
                f_t = to_explicit(F, _with_symbols(cc, value, [p], [t]))
                v = sp.diff(f_t, t, 2).subs(t, value[p])
            else:
                f_tu = to_explicit(F, _with_symbols(cc, value, [p, q], [t, u]))
                v = sp.diff(f_tu, t, u).subs({t: value[p], u: value[q]})
            H[a, b] = H[b, a] = sp.N(v, 30)
    return H


_CENTRAL_STEP = sp.Rational(1, 10**12)


def _central(cc, phi, V, h=_CENTRAL_STEP):
    """(phi(X + hV) - phi(X - hV)) / 2h, exact numbers evaluated at 30 digits."""
    along = lambda t: cc.point + t * V  # noqa: E731 - the one central difference (symcalc.checks)
    return central_difference(phi, along, h, lambda d: complex(sp.N(d, 30)))


def check_gradient(d: Derivation, f, X, G, seed=20261128):
    f, G = _exact_floats(f, G)
    cc = pick_concrete(f, X, seed)
    structure = structure_of(X)
    ref = _project(elementwise_gradient(cc, cc.f, cc.point), structure)
    ours = cc.evaluate(G, cc.point)
    ok, err = _close(_vec(ours), _vec(ref), 1e-9)
    size = {str(k): int(v) for k, v in cc.sizes.items()}
    d.add_check(
        f"elementwise sympy.diff (gradient, {size or 'fixed size'})",
        ok,
        "closed form vs sympy.diff of the explicit-entry expression at random numbers",
        max_abs_error=err,
        size=size,
    )
    V = _random_matrix(cc.rng, cc.X, structure, positive=False)
    if structure in ("symmetric", "positive_definite"):
        V = sp.ImmutableMatrix((V + V.T) / 2)
    fd = _central(cc, lambda val: [to_explicit(cc.f, cc.numeric_env(val))], V)
    directional = sum(complex(a) * complex(b) for a, b in zip(_vec(ours), _vec(V)))
    ok2, err2 = _close([directional], fd, 1e-7)
    d.add_check(
        "central differences (gradient)",
        ok2,
        "<G, V> vs (f(X+hV) - f(X-hV))/2h",
        max_abs_error=err2,
        step=1e-12,
        size=size,
    )
    if not (ok and ok2):
        raise SelfCheckError(
            f"the derived gradient of {f} with respect to {X} disagrees with "
            f"an independent route (element-wise error {err:.3g}, central "
            f"difference error {err2:.3g}); please report this bug"
        )


def check_second(d: Derivation, f, X, G, H, kind, seed=20261128, swap=False):
    """Check a Hessian (kind='hessian', f scalar, G its gradient) or a Jacobian
    (kind='jacobian', f vector-valued) in vec form against sympy.diff and differences."""
    if swap:  # called as (f, X, J, None): the Jacobian has no gradient
        G, H = H, G
    f, G, H = _exact_floats(f, G, H)
    cc = pick_concrete(f, X, seed, extra=(H,))
    ref = elementwise_second(cc, cc.f, cc.point, kind)
    ours = cc.evaluate(H, cc.point)
    if ours.shape != ref.shape:
        raise SelfCheckError(
            f"the derived {kind} has shape {ours.shape} at sizes {cc.sizes}, expected {ref.shape}"
        )
    ok, err = _close(list(ours), list(ref), 1e-9)
    size = {str(k): int(v) for k, v in cc.sizes.items()}
    d.add_check(
        f"elementwise sympy.diff ({kind}, {size or 'fixed size'})",
        ok,
        "closed form vs sympy.diff of the explicit-entry expression at random numbers",
        max_abs_error=err,
        size=size,
    )
    V = _random_matrix(cc.rng, cc.X, "general", positive=False)
    inner = G if kind == "hessian" else cc.f
    inner = inner.xreplace(cc.sizes).xreplace(cc.scalars)
    fd = _central(cc, lambda val: _vec(to_explicit(inner, cc.numeric_env(val))), V)
    HV = ours * sp.Matrix(_vec(V))
    ok2, err2 = _close(list(HV), fd, 1e-7)
    d.add_check(
        f"central differences ({kind})",
        ok2,
        "H vec(V) vs central difference",
        max_abs_error=err2,
        step=1e-12,
        size=size,
    )
    if not (ok and ok2):
        raise SelfCheckError(
            f"the derived {kind} of {f} with respect to {X} disagrees with an "
            f"independent route (element-wise error {err:.3g}, central "
            f"difference error {err2:.3g}); please report this bug"
        )


def _vech_positions(n):
    """The free entries (i, j), i >= j, of a symmetric n x n matrix in vech order."""
    return [(i, j) for j in range(n) for i in range(j, n)]


def elementwise_vech_hessian(cc, f, value):
    """The Hessian of f with respect to the n(n+1)/2 free entries of a symmetric X, by
    sympy.diff of the explicit expression with X_ij = X_ji = one symbol."""
    n = int(cc.X.rows)
    pos = _vech_positions(n)
    t, u = sp.symbols("t_entry u_entry", real=True)
    H = sp.zeros(len(pos), len(pos))
    for a, (i, j) in enumerate(pos):
        for b in range(a, len(pos)):
            k, l = pos[b]
            if a == b:
                f_t = to_explicit(f, _with_symbols(cc, value, [(i, j), (j, i)], [t, t]))
                v = sp.diff(f_t, t, 2).subs(t, value[i, j])
            else:
                f_tu = to_explicit(
                    f, _with_symbols(cc, value, [(i, j), (j, i), (k, l), (l, k)], [t, t, u, u])
                )
                v = sp.diff(f_tu, t, u).subs({t: value[i, j], u: value[k, l]})
            H[a, b] = H[b, a] = sp.N(v, 30)
    return H


def check_symmetric_hessian(d: Derivation, f, X, G, H_raw, seed=20261128):
    """Check the Hessian N H N with respect to a symmetric X: D^T (N H N) D against
    sympy.diff in the free entries vech(X), and (N H N) vec(V) against a central
    difference of the symmetric gradient along a random symmetric V."""
    from symcalc.expr.vectorize import duplication_matrix

    f, G, H_raw = _exact_floats(f, G, H_raw)
    H = _sandwich(H_raw, X.rows)  # rebuilt at the (possibly shrunk) size
    cc = pick_concrete(f, X, seed, extra=(H,))
    n = int(cc.X.rows)
    ours = cc.evaluate(H, cc.point)
    size = {str(k): int(v) for k, v in cc.sizes.items()}
    if ours.shape != (n * n, n * n):
        raise SelfCheckError(
            f"the derived hessian has shape {ours.shape} at sizes "
            f"{cc.sizes}, expected {(n * n, n * n)}"
        )
    D = duplication_matrix(n)
    ref = elementwise_vech_hessian(cc, cc.f, cc.point)
    ok, err = _close(list(D.T * ours * D), list(ref), 1e-9)
    d.add_check(
        f"elementwise sympy.diff (hessian wrt vech, {size or 'fixed size'})",
        ok,
        "D^T H D vs sympy.diff of the explicit-entry expression in the n(n+1)/2 free "
        "entries of the symmetric matrix, at random numbers",
        max_abs_error=err,
        size=size,
    )
    B = _random_matrix(cc.rng, cc.X, "general", positive=False)
    V = sp.ImmutableMatrix((B + B.T) / 2)
    inner = G.xreplace(cc.sizes).xreplace(cc.scalars)
    fd = _central(cc, lambda val: _vec(to_explicit(inner, cc.numeric_env(val))), V)
    HV = ours * sp.Matrix(_vec(V))
    ok2, err2 = _close(list(HV), fd, 1e-7)
    d.add_check(
        "central differences (hessian, symmetric direction)",
        ok2,
        "H vec(V) vs central difference of the symmetric gradient, V symmetric",
        max_abs_error=err2,
        step=1e-12,
        size=size,
    )
    ok3, err3 = _close(list(ours), list(ours.T), 1e-9)
    if not (ok and ok2 and ok3):
        raise SelfCheckError(
            f"the derived hessian of {f} with respect to the symmetric {X} "
            f"disagrees with an independent route (element-wise error "
            f"{err:.3g}, central difference error {err2:.3g}, asymmetry "
            f"{err3:.3g}); please report this bug"
        )

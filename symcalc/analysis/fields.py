"""Vector-field calculus: divergence, Laplacian, curl, conservative fields and potentials.

>>> import sympy as sp
>>> x, y, z = sp.symbols("x y z")
>>> F = [y*z + sp.cos(x), x*z, x*y]
>>> is_conservative(F, [x, y, z])
True
>>> potential(F, [x, y, z])
x*y*z + sin(x)
>>> curl([-y, x, 0], [x, y, z]).T
Matrix([[0, 0, 2]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from symcalc.budget import budgeted
from symcalc.checks.zero import is_zero
from symcalc.derivation import fastdiff
from symcalc.derivation.api import _is_matrix_problem, _scalar, _square_field, _wrt_symbols
from symcalc.errors import NotConservativeError


@budgeted("divergence")
def divergence(F: Any, wrt: Any) -> sp.Expr:
    """The divergence sum_i dF_i/dx_i.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> divergence([x**2, x*y], [x, y])
    3*x
    """
    comps, syms = _square_field(F, wrt)
    return sp.Add(*[sp.diff(c, s) for c, s in zip(comps, syms)])


@budgeted("laplacian")
def laplacian(f: Any, wrt: Any) -> sp.Expr:
    """The Laplacian, the trace of the Hessian.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> laplacian(x**2 - y**2, [x, y])
    0
    """
    if _is_matrix_problem(f, wrt):  # a MatrixSymbol: the closed-form trace of the Hessian
        from symcalc.derivation.secondorder import hessian_trace

        return hessian_trace(f, wrt)
    f, syms = _scalar(f), _wrt_symbols(wrt)
    return sp.Add(*[sp.diff(f, s, 2) for s in syms])


@budgeted("curl")
def curl(F: Any, wrt: Any) -> sp.Matrix:
    """The curl: 3 x 1 for n = 3; otherwise the n x n antisymmetric matrix
    C[i, j] = dF_j/dx_i - dF_i/dx_j (twice the antisymmetric part of the Jacobian,
    transposed), which is zero exactly when the field is locally conservative.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> curl([-y, x], [x, y])
    Matrix([
    [ 0, 2],
    [-2, 0]])
    """
    comps, syms = _square_field(F, wrt)
    J = fastdiff.jacobian_entries(comps, syms)  # J[i, j] = dF_i/dx_j
    n = len(syms)
    if n == 3:
        return sp.Matrix([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]])
    return sp.Matrix(n, n, lambda i, j: J[j, i] - J[i, j])


# ---------------------------------------------------------------------------
# Conservative fields and potentials
# ---------------------------------------------------------------------------


@budgeted("is_conservative")
def is_conservative(F: Any, wrt: Any) -> bool:
    """True when the field's curl (antisymmetric Jacobian part) vanishes.

    >>> import sympy as sp
    >>> x, y, z = sp.symbols("x y z")
    >>> is_conservative([-y, x, 0], [x, y, z])
    False
    """
    C = curl(F, wrt)
    return all(is_zero(c) for c in C)


def _check_potential(phi: sp.Expr, comps: Sequence[sp.Expr], syms: Sequence[sp.Symbol]) -> bool:
    return all(is_zero(sp.diff(phi, s) - c) for s, c in zip(syms, comps))


def _potential_by_coordinates(comps, syms) -> sp.Expr | None:
    """phi = int F_1 dx_1, then add int (F_k - d phi/dx_k) dx_k for each k."""
    phi = sp.S.Zero
    for s, c in zip(syms, comps):
        rest = sp.cancel(sp.expand(c - sp.diff(phi, s))) if phi != 0 else c
        if rest == 0:
            continue
        part = sp.integrate(rest, s, conds="none")
        if part.has(sp.Integral):
            return None
        phi += part
    return phi


def _degree_in_t(base: sp.Expr, t: sp.Symbol) -> int | None:
    """k when ``base`` is t**k times something free of t (homogeneous in t), else None."""
    try:
        poly = sp.Poly(sp.expand(base), t)
    except sp.PolynomialError:
        return None
    monoms = poly.monoms()
    return monoms[0][0] if len(monoms) == 1 else None


def _pull_out_t(expr: sp.Expr, t: sp.Symbol) -> sp.Expr:
    """Factor the ray parameter t > 0 out of power bases, keeping their form:
    ((t a - t b)^2 + (t c)^2)^p -> t^(2p) ((a - b)^2 + c^2)^p."""
    if expr.is_Pow and expr.base.is_Add and expr.base.has(t):
        k = _degree_in_t(expr.base, t)
        if k is not None:
            return t ** (k * expr.exp) * sp.Pow(expr.base.xreplace({t: 1}), expr.exp)
    if not expr.args or not expr.has(t):
        return expr
    return expr.func(*[_pull_out_t(a, t) for a in expr.args])


def _integrate_in_t(integrand: sp.Expr, t: sp.Symbol, bounds: tuple) -> sp.Expr:
    """Integrate term by term, splitting each term into (part free of t) * (part in t)."""
    cache: dict[sp.Expr, sp.Expr] = {}
    total = sp.S.Zero
    for term in sp.Add.make_args(sp.expand_mul(integrand)):
        coeff, tpart = term.as_independent(t, as_Add=False)
        if tpart not in cache:
            cache[tpart] = sp.integrate(tpart, (t, *bounds), conds="none")
        total += coeff * cache[tpart]
    return total


def _potential_by_radial_homotopy(comps, syms, from_infinity: bool) -> sp.Expr | None:
    """The homotopy (Poincare) operator along rays through the origin:
    phi(x) = int_0^1 F(t x) . x dt, or from infinity phi(x) = -int_1^oo F(t x) . x dt
    (for fields that decay, such as Lennard-Jones or gravity)."""
    t = sp.Dummy("t", positive=True)
    scaled = {s: t * s for s in syms}
    integrand = _pull_out_t(sp.Add(*[c.xreplace(scaled) * s for c, s in zip(comps, syms)]), t)
    value = _integrate_in_t(integrand, t, (1, sp.oo) if from_infinity else (0, 1))
    if value.has(sp.Integral, sp.oo, -sp.oo, sp.zoo, sp.nan):
        return None
    return -value if from_infinity else value


@budgeted("potential")
def potential(F: Any, wrt: Any) -> sp.Expr:
    """A scalar phi with gradient(phi) == F, checked before it is returned.

    Strategies, cheapest first, each verified: coordinate-by-coordinate
    integration; the radial homotopy operator from the origin; the same from
    infinity (fields that decay, e.g. a Lennard-Jones force). For a force
    F = -grad E, ``potential(F)`` is -E up to a constant.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> potential([2*x*y, x**2], [x, y])
    x**2*y

    Raises NotConservativeError (a ValueError) when the curl is not zero.
    """
    comps, syms = _square_field(F, wrt)
    if not is_conservative(comps, syms):
        bad = [c for c in curl(comps, syms) if not is_zero(c)]
        raise NotConservativeError(
            f"the field is not conservative: its curl has a non-zero entry {sp.simplify(bad[0])}, "
            "so no potential phi with grad(phi) = F exists"
        )
    strategies = (
        lambda: _potential_by_radial_homotopy(comps, syms, from_infinity=False),
        lambda: _potential_by_radial_homotopy(comps, syms, from_infinity=True),
        lambda: _potential_by_coordinates(comps, syms),
    )
    for strategy in strategies:
        try:
            phi = strategy()
        except (NotImplementedError, ValueError, TypeError, ZeroDivisionError):
            phi = None
        if phi is not None and _check_potential(phi, comps, syms):
            return _tidy(phi, hints=comps)
    raise NotImplementedError(
        "the field is conservative but SymPy could not integrate it by any strategy "
        "(coordinates, radial homotopy from 0 or from infinity)"
    )


def _fold_into_powers(expr: sp.Expr) -> sp.Expr:
    """Group terms by their powers of sums and fold numerators that are a
    multiple of the base: (4 x^2 - 8 x y + 4 y^2) / ((x - y)^2)^4 -> 4 / ((x - y)^2)^3."""
    groups: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand_mul(expr)):
        powers = [f for f in sp.Mul.make_args(term) if f.is_Pow and f.base.is_Add]
        key = sp.Mul(*powers)
        groups[key] = groups.get(key, sp.S.Zero) + term / key
    out = sp.S.Zero
    for key, numer in groups.items():
        for f in sp.Mul.make_args(key):
            if f.is_Pow and f.base.is_Add and f.exp.is_negative:
                q, r = sp.div(sp.expand(numer), sp.expand(f.base))
                if r == 0 and q != 0:
                    numer, key = q, key * f.base
        out += sp.factor_terms(numer) * key
    return out


def _unify_bases(expr: sp.Expr, hints: Sequence[sp.Expr] = ()) -> sp.Expr:
    """One form per power base: SymPy's integrals return some bases expanded
    (x1**2 - 2*x1*x2 + x2**2) next to the user's factored ones ((x1 - x2)**2); use
    the shorter form everywhere so that equal powers combine and cancel."""
    chosen: dict[sp.Expr, sp.Expr] = {}
    for p in [q for h in hints for q in h.atoms(sp.Pow)] + list(expr.atoms(sp.Pow)):
        if p.base.is_Add:
            key = sp.expand(p.base)
            best = chosen.get(key)
            if best is None or sp.count_ops(p.base) < sp.count_ops(best):
                chosen[key] = p.base
    swap = {
        p: sp.Pow(chosen[sp.expand(p.base)], p.exp)
        for p in expr.atoms(sp.Pow)
        if p.base.is_Add and chosen[sp.expand(p.base)] != p.base
    }
    return expr.xreplace(swap) if swap else expr


def _tidy(expr: sp.Expr, hints: Sequence[sp.Expr] = ()) -> sp.Expr:
    """A short form for display: the shortest of expr, its folded form and its simplification
    (power bases written as in ``hints``, the user's own expressions, where they agree)."""
    expr = _unify_bases(expr, hints)
    candidates = [expr]
    try:
        candidates.append(_fold_into_powers(expr))
    except (sp.PolynomialError, TypeError, ValueError):
        pass
    if sp.count_ops(expr) < 150:
        candidates.append(sp.simplify(expr))
    return min((_unify_bases(c, hints) for c in candidates), key=sp.count_ops)

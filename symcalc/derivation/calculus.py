"""Gradients, Hessians, Jacobians and vector-field calculus on SymPy objects.

Layout convention, kept everywhere: a gradient has the shape of its variable
(a column for a vector of symbols), the Jacobian dF/dx of F in R^m by x in R^n
is m x n, and the Hessian is the Jacobian of the gradient (symmetric).

For explicit symbols the work is element-wise (through :mod:`symcalc.derivation.fastdiff`);
when the variable is a MatrixSymbol, or f is written with MatrixSymbols, the
call goes to the closed-form matrix engine (:mod:`symcalc.derivation.matrix`).

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

import random
from collections.abc import Sequence
from typing import Any

import sympy as sp

from symcalc.budget import budgeted
from symcalc.derivation import fastdiff
from symcalc.errors import NotConservativeError, ShapeError
from symcalc.expr.registry import canonical
from symcalc.inputs import as_expr, as_items, as_scalar_expr, as_symbols, reject_text, safe_lambdify

# ---------------------------------------------------------------------------
# Input checking: every public function goes through symcalc.inputs
# ---------------------------------------------------------------------------
_scalar = as_scalar_expr  # the names landscape.py imports
_wrt_symbols = as_symbols


def _vector_field(F: Any, what: str = "F") -> list[sp.Expr]:
    """``F`` as a list of scalar expressions (a sequence, or a row or column Matrix)."""
    return [_scalar(c, f"{what}[{k}]") for k, c in enumerate(as_items(F, what, "expressions"))]


def _square_field(F: Any, wrt: Any) -> tuple[list[sp.Expr], list[sp.Symbol]]:
    comps, syms = _vector_field(F), _wrt_symbols(wrt)
    if len(comps) != len(syms):
        raise ShapeError(
            f"the field F has {len(comps)} components but there are {len(syms)} variables; "
            "a vector field on R^n needs n components"
        )
    return comps, syms


def _is_matrix_problem(f: Any, wrt: Any) -> bool:
    reject_text(f, "f")
    reject_text(wrt, "wrt")
    if isinstance(f, sp.MatrixBase) and not isinstance(wrt, sp.MatrixSymbol):
        return False  # an explicit Matrix (ImmutableMatrix is also a MatrixExpr)
    if isinstance(wrt, sp.MatrixSymbol) or isinstance(f, sp.MatrixExpr):
        return True
    if isinstance(f, sp.Basic) and not isinstance(f, sp.MatrixBase) and f.atoms(sp.MatrixSymbol):
        return True
    return False


def _matrix_engine():
    from symcalc.derivation import matrix as matrix_calculus

    return matrix_calculus


# ---------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------


@budgeted("gradient")
def gradient(f: Any, wrt: Any) -> sp.Matrix:
    """The gradient of a scalar ``f`` as a column (the shape of ``wrt``).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> gradient((1 - x)**2 + 100*(y - x**2)**2, [x, y]).T
    Matrix([[-400*x*(-x**2 + y) + 2*x - 2, -200*x**2 + 200*y]])

    With a MatrixSymbol variable the closed-form matrix engine answers.
    """
    if _is_matrix_problem(f, wrt):
        return _matrix_engine().matrix_gradient(canonical(f), wrt)  # registry hook
    f, syms = _scalar(f), _wrt_symbols(wrt)
    return sp.Matrix(fastdiff.gradient_entries(f, syms))


@budgeted("hessian")
def hessian(f: Any, wrt: Any) -> sp.Matrix:
    """The symmetric n x n Hessian of a scalar ``f``, taken from its gradient.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> hessian(x**3 - 3*x*y**2, [x, y])
    Matrix([
    [ 6*x, -6*y],
    [-6*y, -6*x]])
    """
    if _is_matrix_problem(f, wrt):
        return _matrix_engine().matrix_hessian(canonical(f), wrt)  # registry hook
    f, syms = _scalar(f), _wrt_symbols(wrt)
    return fastdiff.hessian_from_gradient(fastdiff.gradient_entries(f, syms), syms)


@budgeted("jacobian")
def jacobian(F: Any, wrt: Any) -> sp.Matrix:
    """The m x n Jacobian dF_i/dx_j of a vector-valued ``F``.

    >>> import sympy as sp
    >>> r, t = sp.symbols("r t")
    >>> jacobian([r*sp.cos(t), r*sp.sin(t)], [r, t])
    Matrix([
    [cos(t), -r*sin(t)],
    [sin(t),  r*cos(t)]])
    """
    if _is_matrix_problem(F, wrt):
        return _matrix_engine().matrix_jacobian(F, wrt)
    comps, syms = _vector_field(F), _wrt_symbols(wrt)
    return fastdiff.jacobian_entries(comps, syms)


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
# Zero testing: symbolic first, then high-precision numeric probes
# ---------------------------------------------------------------------------


def _numeric_probe_is_zero(expr: sp.Expr, probes: int = 6, seed: int = 20261128) -> bool | None:
    """Evaluate at random points with 40 digits: False if clearly non-zero,
    True if tiny at every point that evaluated, None if no point evaluated."""
    import mpmath

    syms = sorted(expr.free_symbols, key=str)
    rng = random.Random(seed)
    try:
        fn = safe_lambdify(syms, expr, modules="mpmath")
    except Exception:  # noqa: BLE001 - a construct mpmath cannot print: evaluate with SymPy
        fn = None
    evaluated = 0
    with mpmath.workdps(40):
        for _ in range(probes * 3):
            point = [sp.Rational(rng.randint(-2000, 2000), 997) + sp.Rational(1, 7) for _ in syms]
            point = [
                abs(v) + sp.Rational(1, 3) if s.is_positive else v for s, v in zip(syms, point)
            ]
            try:
                if fn is not None:
                    val = complex(fn(*[mpmath.mpf(v.p) / v.q for v in point]))
                else:
                    val = complex(sp.N(expr.subs(dict(zip(syms, point))), 40))
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                continue
            mag = abs(val)
            if mag != mag or mag == float("inf"):
                continue
            if mag > 1e-25:
                return False
            evaluated += 1
            if evaluated >= probes:
                break
    return True if evaluated else None


def is_zero(expr: Any) -> bool:
    """Whether ``expr`` is identically zero: cheap canonical forms, then
    simplify, then high-precision probes at random points (a non-zero value is
    proof; agreement at every probe is taken as zero).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> is_zero(sp.sin(x)**2 + sp.cos(x)**2 - 1)
    True
    """
    expr = as_expr(expr, "expr")
    if expr == 0:
        return True
    if not expr.free_symbols:
        return bool(abs(sp.N(expr, 40)) < 1e-30)
    if sp.count_ops(expr) < 60 and sp.expand(expr) == 0:
        return True
    probe = _numeric_probe_is_zero(expr)
    if probe is not None:
        return probe
    return sp.simplify(expr) == 0


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

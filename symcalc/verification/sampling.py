"""Probe points that respect the domain, and exact evaluation there at high precision."""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath
import sympy as sp
from sympy import MatrixBase, MatrixExpr, MatrixSymbol
from sympy.core.sympify import _sympify

from symcalc.errors import InputError
from symcalc.expr.registry import REGISTRY
from symcalc.verification.reading import _scalarize

_DPS = 50  # decimal digits of the comparison
_TOL_DIGITS = 30  # values agree when they agree to this many digits
_DEEP_DIGITS = 300  # an exact difference the exact route cannot decide is evaluated this deep
#: magnitudes at which scalars are sampled, in turn (not only |x| <= 2.5: a step at x = 50
#: or a branch for x > 100 is seen at scale 1000, a term like 1e-30 x^-1 near 0 at 1e-3)
_SCALES = (1, 10, 1, 1000, sp.Rational(1, 1000), 1, 10, 1000, 1, sp.Rational(1, 1000), 10, 1)
_MAX_BREAKPOINT_POINTS = 8


# ======================================================================================
# Sampling points that respect the domain
# ======================================================================================
_DENOMS = (7, 11, 13, 17, 19, 23, 29)


def _rational(rng: random.Random, lo: float, hi: float) -> sp.Rational:
    q = rng.choice(_DENOMS)
    p = round(rng.uniform(lo, hi) * q)
    if p == 0:
        p = 1 if hi > 0 else -1
    return sp.Rational(p, q)


def _sample_scalar(s: sp.Symbol, rng: random.Random, scale=1) -> sp.Rational:
    """An exact value in s's domain, of magnitude about ``scale`` (integers: small, always)."""
    if s.is_integer:
        lo, hi = (
            (1, 5)
            if s.is_positive
            else (0, 5)
            if s.is_nonnegative
            else (-5, -1)
            if s.is_negative
            else (-4, 4)
        )
        v = rng.randint(lo, hi)
        if v == 0 and s.is_nonzero:
            v = 1
        return sp.Integer(v)
    if s.is_positive or s.is_nonnegative:
        return abs(_rational(rng, 0.15, 2.5)) * scale
    if s.is_negative or s.is_nonpositive:
        return -abs(_rational(rng, 0.15, 2.5)) * scale
    return _rational(rng, -2.5, 2.5) * scale


def _structure(M) -> str:
    return getattr(M, "structure", "general")


def _sample_matrix(
    M: MatrixSymbol, rows: int, cols: int, rng: random.Random, scale=1
) -> sp.ImmutableMatrix:
    """Exact entries of magnitude about ``scale``, with M's declared structure."""
    entry = lambda: _rational(rng, -2, 2) * scale  # noqa: E731
    B = sp.Matrix(rows, cols, lambda i, j: entry())
    kind = _structure(M)
    if kind == "symmetric":
        B = (B + B.T) / 2
    elif kind == "positive_definite":
        B = B * B.T / rows + sp.eye(rows) * sp.Rational(rng.randint(3, 9), 4) * scale**2
    elif kind == "diagonal":
        B = sp.diag(*[abs(entry()) + sp.Rational(1, 3) * scale for _ in range(rows)])
    return sp.ImmutableMatrix(B)


def _size_symbols(*exprs) -> list[sp.Symbol]:
    dims = set()
    for e in exprs:
        if isinstance(e, sp.Basic):
            for m in e.atoms(MatrixSymbol):
                for d in m.shape:
                    dims |= _sympify(d).free_symbols
            if isinstance(e, MatrixExpr):
                for d in e.shape:
                    dims |= _sympify(d).free_symbols
    return sorted(dims, key=lambda s: s.name)


def _size_configs(dims: list[sp.Symbol]) -> list[dict]:
    if not dims:
        return [{}]
    patterns = [
        lambda j: 2,
        lambda j: 3 if j % 2 == 0 else 2,
        lambda j: 2 if j % 2 == 0 else 4,
        lambda j: 3,
        lambda j: 4 - (j % 3),
    ]
    configs, seen = [], set()
    for p in patterns:
        c = {d: p(j) for j, d in enumerate(dims)}
        key = tuple(c.values())
        if key not in seen:
            seen.add(key)
            configs.append(c)
    return configs


@dataclass
class _Point:
    sizes: dict  # size Symbol -> int
    values: dict  # concrete Symbol / MatrixSymbol -> exact value
    shown: dict  # the user's object -> exact value (for the report)


def _draw_point(objects, sizes: dict, rng: random.Random, scale=1) -> _Point:
    values, shown = {}, {}
    for o in objects:
        if isinstance(o, MatrixSymbol):
            concrete = o.xreplace(sizes) if sizes else o
            r, c = concrete.shape
            if not (_sympify(r).is_Integer and _sympify(c).is_Integer):
                raise InputError(f"cannot give {o.name} a concrete size")
            v = _sample_matrix(o, int(r), int(c), rng, scale)
            values[concrete] = v
            shown[o] = v
        elif isinstance(o, sp.Symbol):
            if o in sizes:
                continue
            v = _sample_scalar(o, rng, scale)
            values[o] = v
            shown[o] = v
    for d, k in sizes.items():
        shown[d] = sp.Integer(k)
    return _Point(sizes, values, shown)


_KINKS = (sp.sign, sp.Abs, sp.Heaviside, sp.Max, sp.Min, sp.Piecewise, sp.floor, sp.ceiling)
_KINKS += REGISTRY.kink_classes()  # registry hook: relu, leaky_relu, abs, sign, heaviside (at 0)


def _kink_arguments(*exprs) -> list[sp.Expr]:
    """The expressions whose sign switches a branch: g of sign(g), |g|, H(g), floor(g),
    a - b of Max(a, b) / Min(a, b), lhs - rhs of a Piecewise condition.

    >>> x = sp.Symbol("x")
    >>> _kink_arguments(sp.sign(x - 3) + sp.Max(x, 2*x + 1))
    [x - 3, -x - 1]
    """
    out: list[sp.Expr] = []
    for e in exprs:
        if not isinstance(e, sp.Basic):
            continue
        for node in sorted(e.atoms(*_KINKS), key=sp.default_sort_key):
            if isinstance(node, (sp.Max, sp.Min)):
                a = node.args
                out.extend(a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a)))
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    rels = (
                        [cond]
                        if isinstance(cond, sp.core.relational.Relational)
                        else sorted(
                            cond.atoms(sp.core.relational.Relational), key=sp.default_sort_key
                        )
                        if isinstance(cond, sp.Basic)
                        else []
                    )
                    out.extend(r.lhs - r.rhs for r in rels)
            else:
                out.append(node.args[0])
    seen, unique = set(), []
    for g in out:
        if (
            isinstance(g, sp.Expr)
            and not isinstance(g, MatrixExpr)
            and g.free_symbols
            and g not in seen
        ):
            seen.add(g)
            unique.append(g)
    return unique


def _roots_near(g: sp.Expr, s: sp.Symbol) -> list[sp.Rational]:
    """Real roots of g(s) = 0 when g is a polynomial of degree 1 or 2 in s (exact or
    rounded to 1e-9), else none: solving costs nothing, so it is only done where cheap."""
    try:
        poly = sp.Poly(g, s)
    except sp.PolynomialError:
        return []
    if poly.degree() not in (1, 2) or not all(c.is_Rational for c in poly.all_coeffs()):
        return []
    if poly.degree() == 1:
        a, b = poly.all_coeffs()
        return [-b / a]
    a, b, c = poly.all_coeffs()
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    roots = [(-b + sgn * sp.sqrt(disc)) / (2 * a) for sgn in (1, -1)]
    return [r if r.is_Rational else sp.Rational(round(float(r) * 10**9), 10**9) for r in roots]


def _breakpoint_points(exprs, objects, sizes: dict, rng: random.Random) -> list[_Point]:
    """Points just either side of the breakpoints of sign, |.|, Heaviside, Max, Min and
    Piecewise: one variable moves to a root of the branch argument (others stay random),
    then a little to each side (1e-3 of its size)."""
    scalars = [
        o for o in objects if isinstance(o, sp.Symbol) and o not in sizes and not o.is_integer
    ]
    points: list[_Point] = []
    for g in _kink_arguments(*exprs):
        for sym in sorted(g.free_symbols & set(scalars), key=lambda t: t.name)[:2]:
            base = _draw_point(objects, sizes, rng)
            others = {k: v for k, v in base.values.items() if k != sym and isinstance(k, sp.Symbol)}
            for r in _roots_near(g.xreplace(others), sym):
                delta = max(abs(r), sp.Integer(1)) / 1000
                for v in (r - delta, r + delta):
                    if (
                        (sym.is_positive and v <= 0)
                        or (sym.is_nonnegative and v < 0)
                        or (sym.is_negative and v >= 0)
                        or (sym.is_nonpositive and v > 0)
                    ):
                        continue
                    values = {**base.values, sym: v}
                    shown = {**base.shown, sym: v}
                    points.append(_Point(sizes, values, shown))
                    if len(points) >= _MAX_BREAKPOINT_POINTS:
                        return points
    return points


# ======================================================================================
# Evaluation at a point, at high precision
# ======================================================================================
class _Singular(Exception):
    """The value is undefined there (division by zero, log of 0, ...)."""


def _concrete(expr, point: _Point):
    """expr with sizes and values substituted and matrix expressions carried out (exact)."""
    if not isinstance(expr, sp.Basic):
        return expr
    e = expr.xreplace({d: sp.Integer(k) for d, k in point.sizes.items()}) if point.sizes else expr
    fast = _explicit(e, point)
    if fast is not None:
        return fast
    specials = e.atoms(sp.OneMatrix, sp.Identity, sp.ZeroMatrix) if isinstance(e, sp.Basic) else ()
    if specials:
        e = e.xreplace({m: sp.ImmutableMatrix(m.as_explicit()) for m in specials})
    e = e.xreplace(point.values)
    for _ in range(3):
        e2 = e.doit()
        if e2 == e:
            break
        e = e2
    if isinstance(e, MatrixExpr) and not isinstance(e, MatrixBase):
        e = e.as_explicit()
    return e


_NEEDS_DOIT = (sp.Derivative, sp.Integral, sp.Sum, sp.Product, sp.Limit)


def _explicit(e, point: _Point):
    """e evaluated bottom-up with explicit matrices (matrix_calculus.to_explicit): much
    faster than SymPy's entry-by-entry ``as_explicit`` of a product of matrix expressions.
    None when e has no matrix variable or holds a construct that route does not know."""
    matrices = {k: v for k, v in point.values.items() if isinstance(k, MatrixSymbol)}
    if not matrices or not e.atoms(MatrixSymbol):
        return None
    from symcalc.derivation.matrix import to_explicit

    scalars = {k: v for k, v in point.values.items() if not isinstance(k, MatrixSymbol)}
    try:
        out = to_explicit(e.xreplace(scalars) if scalars else e, matrices)
    except Exception:  # noqa: BLE001 - an unknown construct: the general route decides
        return None
    if (
        not isinstance(out, sp.Basic)
        or out.atoms(MatrixSymbol)
        or (isinstance(out, MatrixExpr) and not isinstance(out, MatrixBase))
    ):
        return None
    return out.doit() if out.has(*_NEEDS_DOIT) else out


def _number(expr, dps: int):
    """An exact numeric SymPy expression -> an mpmath number with ``dps`` digits."""
    if not isinstance(expr, sp.Basic):
        expr = _sympify(expr)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _Singular()
    if expr.free_symbols:
        names = ", ".join(sorted(map(str, expr.free_symbols)))
        raise InputError(f"the value still depends on {names} after substituting numbers")
    prec = int(dps * 3.33) + 10
    try:
        v = expr._to_mpmath(prec)
    except (ZeroDivisionError, ValueError, TypeError, AttributeError):
        raise _Singular() from None
    if isinstance(v, (mpmath.mpf, mpmath.mpc)) and not mpmath.isfinite(v):
        raise _Singular()
    return v


def _values(expr, point: _Point, dps: int):
    """Value(s) of expr at the point: a list of (index, mpmath number) and the shape."""
    return _numbers(_scalarize(_concrete(expr, point)), dps)


def _numbers(e, dps: int):
    """An exact value (scalar or explicit matrix) as ([(index, mpmath number)], shape)."""
    if isinstance(e, MatrixBase):
        with mpmath.workdps(dps):
            return [
                ((i, j), _number(e[i, j], dps)) for i in range(e.rows) for j in range(e.cols)
            ], e.shape
    return [((0, 0), _number(e, dps))], None


def _close(a, b, digits=_TOL_DIGITS) -> bool:
    scale = max(mpmath.mpf(1), abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-digits)


def _is_real(v, digits=_TOL_DIGITS) -> bool:
    return not isinstance(v, mpmath.mpc) or abs(v.imag) <= max(1, abs(v)) * mpmath.mpf(10) ** (
        -digits
    )

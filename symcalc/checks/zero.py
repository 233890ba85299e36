"""Is an expression identically zero? Cheap canonical forms, then high-precision probes."""

from __future__ import annotations

import random
from typing import Any

import sympy as sp

from symcalc.inputs import as_expr, safe_lambdify

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

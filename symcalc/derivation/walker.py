"""The walker: differentiate by the rule tables, bring to canonical form, identify.

``derive(f, wrt, order)`` returns a :class:`symcalc.records.Derivation` with the
results, the ordered steps (each naming its rule) and the self-checks. The
walker knows no rule by name: it looks a node's class up in the tables of
``symcalc.rules`` and applies the first rule that answers. A construct without
a rule raises :class:`symcalc.errors.NoRuleError` naming it (never a zero).

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> d = derive(x**2 * sp.sin(y), [x, y])
>>> d.results["gradient"].T
Matrix([[2*x*sin(y), x**2*cos(y)]])
>>> [s.rule.name for s in d.steps if s.note == "differential"]
['power', 'sin', 'product']
>>> d.all_checks_passed
True
"""

from __future__ import annotations

import math
import random

import sympy as sp

from symcalc.budget import budgeted
from symcalc.checks.differences import central_difference
from symcalc.checks.explicit import numeric
from symcalc.derivation.phases import (  # noqa: F401 - re-exported: the walker's public names
    DIFFERENTIAL_TABLES,
    Canonicalizer,
    Differentiator,
    differential_symbol,
)
from symcalc.errors import InputError, SelfCheckError
from symcalc.expr.canonical import canonical_result
from symcalc.expr.registry import canonical
from symcalc.inputs import as_expr, as_matrix, as_symbols, is_matrix_problem, reject_text
from symcalc.records import Derivation
from symcalc.rules.matrix import THEOREMS

__all__ = ["derive", "Differentiator", "Canonicalizer", "differential_symbol", "scalar_checks"]


# --------------------------------------------------------------------------------------
# Explicit-symbol expressions
# --------------------------------------------------------------------------------------
def _as_symbol_list(wrt):
    reject_text(wrt, "wrt")
    if isinstance(wrt, sp.Symbol):
        return [wrt]
    if (
        isinstance(wrt, (list, tuple, sp.MatrixBase))
        and len(wrt)
        and all(isinstance(w, sp.Symbol) for w in wrt)
    ):
        return as_symbols(wrt, "wrt")
    raise InputError(
        f"differentiate with respect to a Symbol, a list of Symbols or a MatrixSymbol, not {wrt!r}"
    )


def _read_function(f):
    """f as SymPy: an explicit Matrix stays one, a list becomes a column, text is refused."""
    if isinstance(f, sp.MatrixBase):
        return f
    if isinstance(f, (list, tuple)):
        return sp.Matrix(as_matrix(f, "f"))
    return as_expr(f, "f")


def _scalar_first(f, xs, d: Derivation, note: str):
    taken = f.free_symbols | set(xs)
    dsyms = {x: differential_symbol(x, taken) for x in xs}
    df = Differentiator(dsyms, d, note)(f)
    canon = Canonicalizer(dsyms.values(), None, note)
    canon.pull(df, sp.S.One)
    grad = [canonical_result(sp.Add(*canon.contributions[dsyms[x]])) for x in xs]
    d.add_step(
        THEOREMS["scalar_identification"],
        df,
        sp.Matrix(grad),
        "identify" if note == "differential" else note,
    )
    return grad


def _derive_scalar(f, wrt, order: int, check: bool) -> Derivation:
    xs = _as_symbol_list(wrt)
    d = Derivation(expr=f, wrt=tuple(xs), meta={"layout": "gradient is a column"})
    if isinstance(f, sp.MatrixBase):
        F = list(f)
        rows = [_scalar_first(fi, xs, d, "jacobian") for fi in F]
        d.results["jacobian"] = sp.Matrix(rows)
        if check:
            scalar_checks(d, f, xs, "jacobian")
        return d
    grad = _scalar_first(f, xs, d, "differential")
    d.results["gradient"] = sp.Matrix(grad)
    if order >= 2:
        d.add_step(
            THEOREMS["hessian_from_gradient"],
            d.results["gradient"],
            d.results["gradient"],
            "hessian",
        )
        d.results["hessian"] = sp.Matrix([_scalar_first(g, xs, d, "hessian") for g in grad])
    if check:
        scalar_checks(d, f, xs, "gradient")
        if order >= 2:
            scalar_checks(d, f, xs, "hessian")
    return d


def _numeric(e, point):
    return numeric(e, point, 30)  # symcalc.checks.explicit


def _fd_digits(phi: list, point: dict) -> int:
    """Working digits for a central difference of ``phi`` near ``point``: 30 more than the
    size of its values, so that a large constant (2**63 - 1, 1e308) cancels exactly and
    the tolerance can stay relative to the derivative (issue 13).

    >>> x = sp.Symbol("x")
    >>> _fd_digits([x**2 + 2**63 - 1], {x: sp.Float(1, 30)}), _fd_digits([x], {x: sp.S.One})
    (49, 30)
    """
    try:
        size = max((abs(_numeric(e, point)) for e in phi), default=0.0)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return 30
    if not math.isfinite(size) or size < 10:
        return 30
    return 30 + min(int(math.ceil(math.log10(size))), 400)


def _exact(items: list) -> list:
    """Floats as the exact rationals they stand for (expressions, numbers, or point dicts),
    so that f(x + hv) - f(x - hv) loses nothing to a large constant such as 1e308."""

    def exact(e):
        if isinstance(e, dict):
            return {k: exact(v) for k, v in e.items()}
        if not isinstance(e, sp.Basic):
            return e
        return e.xreplace({fl: sp.Rational(fl) for fl in e.atoms(sp.Float)})

    return [exact(e) for e in items]


def _evaluator(exprs: list, digits: int):
    """point -> the values of ``exprs`` there, at ``digits`` significant digits."""
    return lambda pt: [e.xreplace(pt).evalf(digits) for e in exprs]


def _along(point: dict, xs: list, v: list):
    """t -> the point moved by t along the direction v (for the central difference)."""
    return lambda t: {**point, **{x: point[x] + t * vj for x, vj in zip(xs, v)}}


def scalar_checks(d: Derivation, f, xs, what: str, tries: int = 6):
    """Check d.results[what] against sympy.diff and central differences at random points.

    what: "gradient" (f scalar), "hessian" (f scalar; the finite differences are taken
    of the derived gradient) or "jacobian" (f a Matrix of expressions).
    """
    rng = random.Random(20261128)
    n = len(xs)
    if what == "jacobian":
        ours, ref, phi = d.results["jacobian"], sp.Matrix(list(f)).jacobian(xs), list(f)
    elif what == "gradient":
        ours = d.results["gradient"].T
        ref, phi = sp.Matrix([[sp.diff(f, x) for x in xs]]), [f]
    else:
        ours, ref = d.results["hessian"], sp.hessian(f, xs)
        phi = list(d.results["gradient"])
    # constants and parameters get random values too (in (0.3, 1.3): positive, away from 0)
    others = sorted(
        (set().union(*(e.free_symbols for e in list(ours) + list(ref) + phi)) - set(xs)), key=str
    )
    for _ in range(tries):
        point = {x: sp.Float(rng.uniform(0.3, 1.3), 30) for x in list(xs) + others}
        try:
            a = [_numeric(e, point) for e in ours]
            b = [_numeric(e, point) for e in ref]
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not all(_finite(v) for v in a + b):
            continue
        err = max((abs(u - v) for u, v in zip(a, b)), default=0.0)
        passed = err <= 1e-9 * (1.0 + max((abs(v) for v in b), default=0.0))
        d.add_check(
            f"sympy.diff ({what})",
            passed,
            "closed form vs sympy.diff at a random point",
            max_abs_error=err,
            point={str(k): float(v) for k, v in point.items()},
        )
        h = sp.Float("1e-8", 30)
        v = [sp.Float(rng.uniform(-1, 1), 30) for _ in xs]
        digits = _fd_digits(phi, point)  # f(x) = x**2 + 2**63 - 1: the constant cancels
        exact_phi, exact_point = _exact(phi), _exact([point])[0]  # exact until the quotient
        fd = central_difference(  # the one central difference (symcalc.checks)
            _evaluator(exact_phi, digits),
            _along(exact_point, xs, _exact(v)),
            sp.Rational(1, 10**8),
            lambda q: complex(sp.N(q, 30)),
        )
        av = [sum(a[i * n + j] * complex(v[j]) for j in range(n)) for i in range(len(phi))]
        fd_err = max(abs(p - q) for p, q in zip(fd, av))
        fd_ok = fd_err <= 1e-6 * (1.0 + max(abs(q) for q in av))
        d.add_check(
            f"central differences ({what})",
            fd_ok,
            "directional central difference along a random direction",
            max_abs_error=fd_err,
            step=float(h),
        )
        if not (passed and fd_ok):
            raise SelfCheckError(
                f"the derived {what} of {f} disagrees with an independent "
                f"route (sympy.diff error {err:.3g}, central difference "
                f"error {fd_err:.3g}); please report this bug"
            )
        return
    same = all(sp.simplify(a - b) == 0 for a, b in zip(ours, ref))
    d.add_check(
        f"sympy.diff ({what}, symbolic)",
        same,
        "no random point could be evaluated (undefined functions?); compared "
        "symbolically with sympy.diff instead",
    )
    if not same:
        raise SelfCheckError(
            f"the derived {what} of {f} disagrees with sympy.diff; please report this bug"
        )


def _finite(v: complex) -> bool:
    import math

    return math.isfinite(v.real) and math.isfinite(v.imag) and abs(v.imag) < 1e-12


# --------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------
def _is_matrix_problem(f, wrt) -> bool:
    return is_matrix_problem(f, wrt)  # the one test (symcalc.inputs)


@budgeted("derive")
def derive(f, wrt, order: int = 1, check: bool = True) -> Derivation:
    """Derive the gradient (order=1) and Hessian (order=2) of f, or the Jacobian of a
    vector-valued F, with every step named and self-checked.

    f: a SymPy scalar expression, a 1 x 1 matrix expression or a SymPy Matrix of
    expressions / a column MatrixExpr (then the Jacobian). wrt: a Symbol, a list of
    Symbols, or a MatrixSymbol (vector or matrix). check: run the self-checks
    (element-wise sympy.diff at a concrete size and central differences); a mismatch
    raises SelfCheckError.

    >>> import sympy as sp, symcalc as sc
    >>> A = sc.matrix_symbol("A", "n", "n"); x = sc.vector("x", "n")
    >>> derive(x.T*A*x, x, order=2).results["hessian"]
    A + A.T
    """
    if isinstance(order, bool) or not isinstance(order, int) or order not in (1, 2):
        raise InputError(f"order must be 1 or 2, got {order!r}")
    if not isinstance(check, bool):
        raise InputError(f"check must be True or False, got {check!r}")
    f = canonical(_read_function(f))  # registry hook: Max(0, t) -> relu(t), Abs -> abs
    reject_text(wrt, "wrt")
    if _is_matrix_problem(f, wrt):
        from symcalc.derivation.matrix import derive_matrix
        from symcalc.expr.canonical import as_column, canonical_problem

        # the same boundary as gradient / hessian / jacobian: one answer for one input
        f, wrt = canonical_problem(f, wrt)
        return derive_matrix(as_column(f), wrt, order, check=check)
    return _derive_scalar(f, wrt, order, check)
